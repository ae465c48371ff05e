"""VM writes, resumable operations and failures through vmroll's Azure boundary, against the
emulator over HTTPS with the real SDKs.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from emulator_clients import POLLING_INTERVAL, Lend, connection_of

from vmroll.azure import (
    AccountConnection,
    AlreadyCreated,
    AzureAccessError,
    AzureEndpoint,
    AzureGateways,
    CaBundlePem,
    ComputeGateway,
    ImageRef,
    LroKind,
    MarketplaceRef,
    NotOwnedError,
    OperationLost,
    OperationRecord,
    OperationState,
    TerminalAzureError,
    TransientAzureError,
    VmSpec,
    WorkloadIdentityToken,
)
from vmroll.azure.budget import BudgetSettings
from vmroll.azure.clients import ClientOptions
from vmroll.azure.errors import WriteBudgetExhausted
from vmroll.emulator.catalog import FaultRule, Faults
from vmroll.emulator.server import Emulator
from vmroll.plan.ownership import POOL_UID_TAG, RELEASED_TAG, REVISION_TAG, PoolIdentity
from vmroll.plan.reasons import Reason

pytestmark = pytest.mark.integration

HOUR = 3600.0
FAST = ClientOptions(polling_interval=POLLING_INTERVAL)
UBUNTU = MarketplaceRef("Canonical", "ubuntu-24_04-lts", "server")
WEB = PoolIdentity(namespace="team", name="web", uid="uid-web")
OTHER = PoolIdentity(namespace="team", name="other", uid="uid-other")


async def vm_spec(
    emulator: Emulator,
    gateway: ComputeGateway,
    name: str,
    owner: PoolIdentity = WEB,
    image: ImageRef = UBUNTU,
) -> VmSpec:
    creds = emulator.credentials
    return VmSpec(
        name=name,
        location=creds.location,
        size="Standard_D2s_v5",
        image=await gateway.resolve_image(creds.location, image, max_age=HOUR),
        subnet_id=creds.subnet_id,
        admin_username="azureuser",
        owner=owner,
        revision="r1",
        ssh_public_keys=("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIVmroll",),
        zone="1",
        custom_data=b"#cloud-config\n",
    )


async def created(
    emulator: Emulator, gateway: ComputeGateway, name: str, owner: PoolIdentity = WEB
) -> OperationRecord:
    record = await gateway.create_vm(
        emulator.credentials.resource_group, await vm_spec(emulator, gateway, name, owner)
    )
    assert isinstance(record, OperationRecord)
    assert await gateway.wait_operation(record, max_wait=30) is OperationState.SUCCEEDED
    return record


async def test_create_list_reimage_delete(emulator: Emulator, gateway: ComputeGateway) -> None:
    group = emulator.credentials.resource_group
    record = await created(emulator, gateway, "web-0")
    await created(emulator, gateway, "other-0", OTHER)
    assert record.kind is LroKind.CREATE
    assert record.resource_id.endswith("/virtualMachines/web-0")

    [vm] = (await gateway.list_pool_vms(group, WEB)).owned
    assert (vm.name, vm.pool_uid, vm.revision, vm.zone) == ("web-0", WEB.uid, "r1", "1")
    assert (vm.provisioning_state, vm.image_version) == ("Succeeded", "24.04.202611100")
    assert vm.tags[REVISION_TAG] == "r1"
    runtime = await gateway.get_vm_runtime(vm)
    assert runtime is not None
    assert (runtime.power_state, runtime.health) == ("running", "healthy")

    reimage = await gateway.reimage_vm(vm, WEB.uid, "24.04.202610220")
    assert reimage.kind is LroKind.REIMAGE
    assert await gateway.wait_operation(reimage, max_wait=30) is OperationState.SUCCEEDED
    [vm] = (await gateway.list_pool_vms(group, WEB)).owned
    assert vm.image_version == "24.04.202610220"

    delete = await gateway.delete_vm(vm, WEB.uid, force=True)
    assert await gateway.wait_operation(delete, max_wait=30) is OperationState.SUCCEEDED
    assert (await gateway.list_pool_vms(group, WEB)).owned == ()
    assert [v.name for v in (await gateway.list_pool_vms(group, OTHER)).owned] == ["other-0"]
    assert await gateway.get_vm_runtime(vm) is None
    assert not any("web-0" in str(resource) for resource in emulator.implied_resources())


async def test_list_follows_pages(emulator: Emulator, gateway: ComputeGateway) -> None:
    emulator.context.catalog = emulator.context.catalog.model_copy(update={"page_size": 2})
    for index in range(5):
        await created(emulator, gateway, f"web-{index}")
    emulator.reset_counters()
    listing = await gateway.list_pool_vms(emulator.credentials.resource_group, WEB)
    assert sorted(vm.name for vm in listing.owned) == [f"web-{i}" for i in range(5)]
    assert emulator.request_counts()["operations"]["VirtualMachines_List"]["total"] == 3


async def test_a_list_refused_says_arms_code(emulator: Emulator, gateway: ComputeGateway) -> None:
    """The pages are read as JSON through the SDK's pipeline: ARM's refusals still arrive as
    the SDK would raise them, with ARM's code in the message."""
    with pytest.raises(TerminalAzureError, match="ResourceGroupNotFound"):
        await gateway.list_group_vms("rg-that-does-not-exist")


async def test_a_vm_of_a_former_pool_of_the_same_name_is_a_look_alike(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    former = PoolIdentity(namespace=WEB.namespace, name=WEB.name, uid="uid-deleted-retained")
    await created(emulator, gateway, "web-old", former)
    listing = await gateway.list_pool_vms(emulator.credentials.resource_group, WEB)
    assert listing.owned == ()
    assert [vm.name for vm in listing.look_alikes] == ["web-old"]


async def test_a_vm_of_another_pool_is_never_touched(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    await created(emulator, gateway, "other-0", OTHER)
    [vm] = (await gateway.list_pool_vms(emulator.credentials.resource_group, OTHER)).owned
    emulator.reset_counters()
    with pytest.raises(NotOwnedError):
        await gateway.delete_vm(vm, WEB.uid)
    with pytest.raises(NotOwnedError):
        await gateway.reimage_vm(vm, WEB.uid, None)
    assert emulator.request_counts()["total"] == 0


async def test_a_restarted_operator_resumes_a_recorded_operation(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    spec = await vm_spec(emulator, gateway, "web-0")
    record = await gateway.create_vm(emulator.credentials.resource_group, spec)
    stored = record.token  # what status.pendingOperations keeps, beside the VM's name and kind

    restarted = AzureGateways(client_options=FAST)
    try:
        resumed = OperationRecord(record.kind, record.resource_id, stored)
        async with restarted.borrow(
            connection_of(emulator.credentials), location=emulator.credentials.location
        ) as again:
            assert await again.wait_operation(resumed, max_wait=30) is OperationState.SUCCEEDED
    finally:
        await restarted.close()
    assert [vm["name"] for vm in emulator.vms()] == ["web-0"]
    counts = emulator.request_counts()["operations"]
    assert counts["VirtualMachines_CreateOrUpdate"]["total"] == 1


async def test_a_record_pointing_away_from_arm_is_not_followed(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    spec = await vm_spec(emulator, gateway, "web-0")
    record = await gateway.create_vm(emulator.credentials.resource_group, spec)
    state = json.loads(base64.b64decode(record.token))
    state["data"]["response"]["headers"]["Azure-AsyncOperation"] = "https://collector.invalid/op"
    forged = OperationRecord(
        record.kind, record.resource_id, base64.b64encode(json.dumps(state).encode()).decode()
    )
    emulator.reset_counters()
    with pytest.raises(OperationLost):
        await gateway.wait_operation(forged, max_wait=30)
    assert emulator.request_counts()["total"] == 0


async def test_waiting_no_time_reports_running(emulator: Emulator, gateway: ComputeGateway) -> None:
    spec = await vm_spec(emulator, gateway, "web-0")
    record = await gateway.create_vm(emulator.credentials.resource_group, spec)
    assert await gateway.wait_operation(record, max_wait=0) is OperationState.RUNNING
    assert await gateway.wait_operation(record, max_wait=30) is OperationState.SUCCEEDED


async def test_throttled_read_is_retried_after_retry_after(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    emulator.set_faults(
        Faults(rules=[FaultRule(operation="VirtualMachines_List", status=429, remaining=1)])
    )
    assert (await gateway.list_pool_vms(emulator.credentials.resource_group, WEB)).owned == ()
    by_status = emulator.request_counts()["operations"]["VirtualMachines_List"]["byStatus"]
    assert by_status == {"429": 1, "200": 1}


async def test_retry_after_beyond_the_bound_surfaces_as_transient(emulator: Emulator) -> None:
    gateways = AzureGateways(
        client_options=ClientOptions(polling_interval=POLLING_INTERVAL, max_retry_wait=0.5)
    )
    emulator.set_faults(
        Faults(rules=[FaultRule(operation="VirtualMachines_List", status=429, remaining=1)])
    )
    try:
        async with gateways.borrow(
            connection_of(emulator.credentials), location=emulator.credentials.location
        ) as gateway:
            with pytest.raises(TransientAzureError) as raised:
                await gateway.list_pool_vms(emulator.credentials.resource_group, WEB)
    finally:
        await gateways.close()
    assert raised.value.retry_after == 1.0


async def test_a_throttled_write_holds_back_the_subscriptions_writes(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    gateways = AzureGateways(
        client_options=ClientOptions(polling_interval=POLLING_INTERVAL, max_retry_wait=0.5),
        budget_settings=BudgetSettings(max_wait=0.1),
        clock=lambda: 1000.0,
    )
    spec = await vm_spec(emulator, gateway, "web-0")
    group = emulator.credentials.resource_group
    emulator.set_faults(
        Faults(
            rules=[FaultRule(operation="VirtualMachines_CreateOrUpdate", status=429, remaining=1)]
        )
    )
    try:
        async with gateways.borrow(
            connection_of(emulator.credentials), location=emulator.credentials.location
        ) as throttled:
            with pytest.raises(TransientAzureError) as first:
                await throttled.create_vm(group, spec)
            emulator.reset_counters()
            with pytest.raises(WriteBudgetExhausted) as second:
                await throttled.create_vm(group, spec)
    finally:
        await gateways.close()
    assert first.value.retry_after == 1.0
    assert second.value.retry_after is not None
    assert emulator.request_counts()["total"] == 0


async def test_a_released_vm_keeps_its_tags_and_a_throttled_release_holds_back_writes(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    group = emulator.credentials.resource_group
    await created(emulator, gateway, "web-0")
    [vm] = (await gateway.list_pool_vms(group, WEB)).owned
    gateways = AzureGateways(
        client_options=ClientOptions(polling_interval=POLLING_INTERVAL, max_retry_wait=0.5),
        budget_settings=BudgetSettings(max_wait=0.1),
        clock=lambda: 1000.0,
    )
    emulator.set_faults(
        Faults(rules=[FaultRule(operation="VirtualMachines_Update", status=429, remaining=1)])
    )
    try:
        async with gateways.borrow(
            connection_of(emulator.credentials), location=emulator.credentials.location
        ) as throttled:
            with pytest.raises(TransientAzureError) as first:
                await throttled.release_vm(vm, "2026-01-01T00:00:00Z")
            emulator.reset_counters()
            with pytest.raises(WriteBudgetExhausted):
                await throttled.release_vm(vm, "2026-01-01T00:00:00Z")
    finally:
        await gateways.close()
    assert first.value.retry_after == 1.0
    assert emulator.request_counts()["total"] == 0

    await gateway.release_vm(vm, "2026-01-01T00:00:00Z")
    [tags] = [v["tags"] for v in emulator.vms()]
    assert tags[RELEASED_TAG] == "2026-01-01T00:00:00Z"
    assert tags[POOL_UID_TAG] == WEB.uid


async def test_principal_without_a_role_is_denied(emulator: Emulator, lend: Lend) -> None:
    nobody = await lend(connection_of(emulator.credentials_for("vmroll-nobody")))
    with pytest.raises(AzureAccessError) as raised:
        await nobody.list_pool_vms(emulator.credentials.resource_group, WEB)
    assert raised.value.reason == "AccessDenied"


async def test_reader_can_list_but_not_create(
    emulator: Emulator, gateway: ComputeGateway, lend: Lend
) -> None:
    reader = await lend(connection_of(emulator.credentials_for("vmroll-reader")))
    group = emulator.credentials.resource_group
    assert (await reader.list_pool_vms(group, WEB)).owned == ()
    with pytest.raises(AzureAccessError):
        await reader.create_vm(group, await vm_spec(emulator, gateway, "web-0"))


async def test_wrong_secret_is_denied_and_not_shown(emulator: Emulator, lend: Lend) -> None:
    wrong = await lend(connection_of(emulator.credentials, secret="wrong-secret-value"))
    with pytest.raises(AzureAccessError) as raised:
        await wrong.list_pool_vms(emulator.credentials.resource_group, WEB)
    assert "wrong-secret-value" not in str(raised.value)


async def test_create_from_a_plan_image_without_terms_is_terminal(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    rabbitmq = MarketplaceRef("bitnami", "rabbitmq", "rabbitmq")
    spec = await vm_spec(emulator, gateway, "mq-0", image=rabbitmq)

    async def create_and_wait() -> OperationState:
        record = await gateway.create_vm(emulator.credentials.resource_group, spec)
        return await gateway.wait_operation(record, max_wait=30)

    with pytest.raises(TerminalAzureError) as raised:
        await create_and_wait()
    assert raised.value.reason == Reason.TERMS_NOT_ACCEPTED


@pytest.fixture
def ca_pem(emulator: Emulator) -> str:
    return Path(emulator.credentials.ca_bundle).read_text()


async def test_inline_pem_ca_bundle(emulator: Emulator, lend: Lend, ca_pem: str) -> None:
    creds = emulator.credentials
    base = connection_of(creds)
    pem = ca_pem
    inline = AccountConnection(
        base.subscription_id,
        base.tenant_id,
        base.auth,
        AzureEndpoint(
            base.endpoint.resource_manager, base.endpoint.authority_host, CaBundlePem(pem)
        ),
    )
    assert (await (await lend(inline)).list_pool_vms(creds.resource_group, WEB)).owned == ()


async def test_created_vm_carries_ownership_tags(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    await created(emulator, gateway, "web-0")
    [vm] = emulator.vms()
    assert vm["tags"][POOL_UID_TAG] == WEB.uid


def service_account_token(subject: str) -> str:
    """A projected service-account token as the emulator reads it: claims count, not signature."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims = {
        "iss": "https://kubernetes.default.svc",
        "aud": ["api://AzureADTokenExchange"],
        "sub": subject,
        "exp": int(time.time()) + 3600,
    }
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


@pytest.fixture
def federated(
    emulator: Emulator, lend: Lend, tmp_path: Path
) -> Callable[[str], Awaitable[ComputeGateway]]:
    """A gateway authenticating with workload identity as the given service account."""

    def gateway_for(subject: str) -> Awaitable[ComputeGateway]:
        token_file = tmp_path / f"token-{len(list(tmp_path.iterdir()))}"
        token_file.write_text(service_account_token(subject))
        base = connection_of(emulator.credentials)
        auth = WorkloadIdentityToken(emulator.credentials.client_id, str(token_file))
        return lend(AccountConnection(base.subscription_id, base.tenant_id, auth, base.endpoint))

    return gateway_for


async def test_workload_identity_of_the_federated_service_account(
    emulator: Emulator, federated: Callable[[str], Awaitable[ComputeGateway]]
) -> None:
    gateway = await federated("system:serviceaccount:vmroll-system:vmroll-operator")
    assert (await gateway.list_pool_vms(emulator.credentials.resource_group, WEB)).owned == ()


async def test_workload_identity_of_another_service_account_is_denied(
    emulator: Emulator, federated: Callable[[str], Awaitable[ComputeGateway]]
) -> None:
    gateway = await federated("system:serviceaccount:default:someone-else")
    with pytest.raises(AzureAccessError):
        await gateway.list_pool_vms(emulator.credentials.resource_group, WEB)


async def test_a_vm_the_list_does_not_show_yet_is_read_by_name(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    emulator.set_list_lag(HOUR)
    group = emulator.credentials.resource_group
    await created(emulator, gateway, "web-0")

    listing = await gateway.list_pool_vms(group, WEB)
    before = emulator.request_counts()["operations"]
    found = await gateway.read_vm(group, "web-0")
    missing = await gateway.read_vm(group, "web-1")
    after = emulator.request_counts()["operations"]

    assert listing.owned == ()
    assert found is not None
    read = found.vm
    assert (read.name, read.pool_uid, read.provisioning_state) == ("web-0", WEB.uid, "Succeeded")
    assert read.revision == "r1"
    # Its health came with it, in the same read: no instance view was asked for.
    assert (found.runtime.power_state, found.runtime.health) == ("running", "healthy")
    assert missing is None
    assert after.get("VirtualMachines_InstanceView") == before.get("VirtualMachines_InstanceView")


async def test_a_create_whose_answer_is_lost_makes_one_vm_through_the_gateway(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    emulator.set_faults(
        Faults(rules=[FaultRule(operation="VirtualMachines_CreateOrUpdate", kind="lostResponse",
                                remaining=1)])
    )  # fmt: skip
    spec = await vm_spec(emulator, gateway, "web-0")

    # The SDK sends the create again after the reset; If-None-Match refuses it with 412, and
    # the VM read by name carries this create's tags: the create was sent, once.
    found = await gateway.create_vm(emulator.credentials.resource_group, spec)

    assert isinstance(found, AlreadyCreated)
    assert (found.vm.name, found.vm.pool_uid, found.vm.revision) == ("web-0", WEB.uid, "r1")
    assert [vm["name"] for vm in emulator.vms()] == ["web-0"]
    assert emulator.tag_peaks()[POOL_UID_TAG] == {WEB.uid: 1}
