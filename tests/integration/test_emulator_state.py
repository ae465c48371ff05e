"""`--state`: a restarted emulator keeps its VMs, its trust chain and the tokens it issued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from emulator_clients import make_compute_client, make_credential

from vmroll.emulator.catalog import Catalog
from vmroll.emulator.server import running_emulator
from vmroll.emulator.state import StateError

pytestmark = pytest.mark.integration


async def test_vms_survive_a_restart(
    tmp_path: Path, emulator_catalog: Catalog, vm_body: Any
) -> None:
    data_dir, state_file = tmp_path / "data", tmp_path / "state.json"
    async with running_emulator(data_dir, catalog=emulator_catalog, state_file=state_file) as first:
        group = first.credentials.resource_group
        async with (
            make_credential(first.credentials) as credential,
            make_compute_client(first.credentials, credential) as client,
        ):
            poller = await client.virtual_machines.begin_create_or_update(
                group, "web-0", vm_body(tags={"keep": "me"})
            )
            created = await poller.result()
        token = first.issue_token("vmroll-operator")
        implied = first.implied_resources()

    async with running_emulator(
        data_dir, catalog=emulator_catalog, state_file=state_file
    ) as second:
        async with (
            make_credential(second.credentials) as credential,
            make_compute_client(second.credentials, credential) as client,
        ):
            found = await client.virtual_machines.get(group, "web-0", expand="instanceView")
        still_valid = second.context.identity.verify(f"Bearer {token}")

    assert found.vm_id == created.vm_id
    assert found.tags == {"keep": "me"}
    assert found.instance_view.statuses[1].code == "PowerState/running"
    assert still_valid.name == "vmroll-operator"
    assert second.implied_resources() == implied


async def test_an_unreadable_state_file_says_what_to_do(
    tmp_path: Path, emulator_catalog: Catalog
) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text("{not json")

    with pytest.raises(StateError, match="delete it to start empty"):
        async with running_emulator(
            tmp_path / "data", catalog=emulator_catalog, state_file=state_file
        ):
            pass


async def test_an_operation_in_flight_resumes_from_its_continuation_token_after_a_restart(
    tmp_path: Path, emulator_catalog: Catalog, vm_body: Any, manual_clock: Any
) -> None:
    data_dir, state_file = tmp_path / "data", tmp_path / "state.json"
    async with running_emulator(
        data_dir, catalog=emulator_catalog, state_file=state_file, clock=manual_clock
    ) as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        async with (
            make_credential(first.credentials) as credential,
            make_compute_client(first.credentials, credential) as client,
        ):
            poller = await client.virtual_machines.begin_create_or_update(
                first.credentials.resource_group, "web-0", vm_body()
            )
            token = poller.continuation_token()

    async with running_emulator(
        data_dir, catalog=emulator_catalog, state_file=state_file, clock=manual_clock, port=port
    ) as second:
        manual_clock.advance(60)
        async with (
            make_credential(second.credentials) as credential,
            make_compute_client(second.credentials, credential) as client,
        ):
            resumed = await client.virtual_machines.begin_create_or_update(
                second.credentials.resource_group, "web-0", None, continuation_token=token
            )
            created = await resumed.result()

    assert created.provisioning_state == "Succeeded"
    assert created.name == "web-0"


async def test_a_capture_in_flight_resumes_after_a_restart(
    tmp_path: Path, emulator_catalog: Catalog, vm_body: Any, manual_clock: Any
) -> None:
    """The generalized VM, the version being created and its replication steps all persist."""
    data_dir, state_file = tmp_path / "data", tmp_path / "state.json"
    gallery = ("rg-vmroll", "vmrollGallery", "ubuntu-web", "2.0.0")
    async with running_emulator(
        data_dir, catalog=emulator_catalog, state_file=state_file, clock=manual_clock
    ) as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        group = first.credentials.resource_group
        async with (
            make_credential(first.credentials) as credential,
            make_compute_client(first.credentials, credential) as client,
        ):
            vms = client.virtual_machines
            creating = await vms.begin_create_or_update(group, "builder", vm_body())
            manual_clock.advance(1)
            vm = await creating.result()
            deallocating = await vms.begin_deallocate(group, "builder")
            manual_clock.advance(1)
            await deallocating.result()
            await vms.generalize(group, "builder")
            body = {
                "location": "westeurope",
                "properties": {
                    "publishingProfile": {
                        "targetRegions": [{"name": "westeurope"}, {"name": "eastus"}]
                    },
                    "storageProfile": {"source": {"virtualMachineId": vm.id}},
                },
            }
            poller = await client.gallery_image_versions.begin_create_or_update(*gallery, body)
            token = poller.continuation_token()

    async with (
        running_emulator(
            data_dir, catalog=emulator_catalog, state_file=state_file, clock=manual_clock, port=port
        ) as second,
        make_credential(second.credentials) as credential,
        make_compute_client(second.credentials, credential) as client,
    ):
        creating_after = await client.gallery_image_versions.get(*gallery)
        manual_clock.advance(60)
        resumed = await client.gallery_image_versions.begin_create_or_update(
            *gallery, None, continuation_token=token
        )
        done = await resumed.result()
        status = await client.gallery_image_versions.get(*gallery, expand="ReplicationStatus")
        view = await client.virtual_machines.instance_view(group, "builder")

    assert creating_after.provisioning_state == "Creating"
    assert done.provisioning_state == "Succeeded"
    assert [(s.region, s.state) for s in status.replication_status.summary] == [
        ("West Europe", "Completed"),
        ("East US", "Completed"),
    ]
    assert "OSState/generalized" in [s.code for s in view.statuses]
