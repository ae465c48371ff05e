"""Gather what one pass of a pool needs from Kubernetes: its account, the account's connection
and gateway, the namespace's labels when the account selects namespaces by label, and the
template's Secret and ConfigMap values. The gateway is borrowed into the pass's `leases`, which
the pass closes when it ends, and lists through the resource groups' lists that pools share,
paced per subscription and region (the pool's), whichever account lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any

from pydantic import ValidationError

from vmroll.api.account import AzureAccount
from vmroll.api.pool import VirtualMachinePool
from vmroll.api.template import VmTemplate
from vmroll.api.types import KeyReference
from vmroll.azure.list_headroom import high_cost_key
from vmroll.azure.settings import AccountConnection
from vmroll.handlers.connections import AccountConfigError, connection_for
from vmroll.handlers.kube import KubeApi, SecretNotText
from vmroll.handlers.namespaces import labels_of
from vmroll.handlers.state import OperatorState
from vmroll.plan.reasons import Reason
from vmroll.reconcile.inputs import AccountProblem, AccountView, TemplateInputs


def account_from_index(
    state: OperatorState, index: Mapping[Any, Any], name: str
) -> AzureAccount | None:
    """The account as the index holds it, validated once per version of it: every pool's pass
    asks, and 1,000 pools validating one account each pass was a sixth of a pass's CPU."""
    for stored in index.get(name, ()):
        metadata = stored.get("metadata") or {}
        version = (metadata.get("uid"), metadata.get("resourceVersion"))
        cached = state.parsed_accounts.get(name)
        if cached is not None and version[1] is not None and cached[0] == version:
            return cached[1]
        try:
            account: AzureAccount | None = AzureAccount.model_validate(stored)
        except ValidationError:
            account = None
        state.parsed_accounts[name] = (version, account)
        return account
    return None


async def connect_account(
    state: OperatorState, index: Mapping[Any, Any], name: str
) -> tuple[AzureAccount, AccountConnection] | AccountProblem:
    """The account `spec.accountRef.name` names and its connection, or why there is none."""
    account = account_from_index(state, index, name)
    if account is None:
        return AccountProblem(
            Reason.ACCOUNT_NOT_FOUND,
            f"AzureAccount {name} does not exist; create it or fix spec.accountRef.name",
        )
    try:
        connection = await connection_for(state, account)
    except AccountConfigError as error:
        return AccountProblem(error.reason, f"AzureAccount {name} is not usable: {error.message}")
    return account, connection


async def account_view(
    state: OperatorState,
    index: Mapping[Any, Any],
    pool: VirtualMachinePool,
    leases: AsyncExitStack,
) -> AccountView | AccountProblem:
    name = pool.spec.account_ref.name
    found = await connect_account(state, index, name)
    if isinstance(found, AccountProblem):
        return found
    account, connection = found
    lease = state.azure.borrow(connection, location=pool.spec.location)
    borrowed = await leases.enter_async_context(lease)
    uid = pool.metadata.uid or ""
    pace = high_cost_key(connection.subscription_id, pool.spec.location)
    gateway = state.listings.for_pool(borrowed, connection, uid, state.turns.lender(uid), pace)
    return AccountView(name, account.spec, gateway)


async def namespace_labels(
    kube: KubeApi,
    view: AccountView | AccountProblem,
    namespace: str,
    index: Mapping[Any, Any] | None = None,
) -> dict[str, str]:
    """Needed only when the account admits namespaces by label and not already by name; taken
    from the namespaces' index (handlers/namespaces.py) when it holds them, else read."""
    if isinstance(view, AccountProblem):
        return {}
    allowed = view.spec.allowed_namespaces
    if allowed.selector is None or namespace in allowed.names:
        return {}
    return await labels_of(kube, index, namespace)


async def template_inputs(kube: KubeApi, pool: VirtualMachinePool) -> TemplateInputs:
    namespace = pool.metadata.namespace or ""
    return await template_values(kube, pool.spec.template, namespace, "spec.template")


async def template_values(
    kube: KubeApi, template: VmTemplate, namespace: str, field: str
) -> TemplateInputs:
    """The Secret and ConfigMap values of a template at `field` (a pool's, or an image capture's
    builder's); a problem names the field."""
    try:
        return await _template_inputs(kube, template, namespace, field)
    except SecretNotText as error:
        where = _field_of(template, field, error.name, error.key)
        return TemplateInputs(
            problem=f"Secret {error.name} key {error.key} ({where}) holds binary data, not "
            "UTF-8 text; store the text in it or fix the reference",
            problem_reason=Reason.INVALID_SECRET,
        )


async def _template_inputs(
    kube: KubeApi, template: VmTemplate, namespace: str, field: str
) -> TemplateInputs:
    keys: list[str] = []
    for index, key in enumerate(template.ssh_public_keys):
        if key.key_data is not None:
            keys.append(key.key_data)
            continue
        assert key.secret_ref is not None  # the model guarantees exactly one
        value = await kube.secret_value(namespace, key.secret_ref.name, key.secret_ref.key)
        if value is None:
            return TemplateInputs(problem=_missing("Secret", key.secret_ref, field, index))
        keys.append(value.strip())
    custom = template.custom_data
    data: bytes | None = None
    if custom is not None and custom.secret_ref is not None:
        # Bytes as they are: Azure takes any customData, and cloud-init reads gzip'd user data.
        data = await kube.secret_bytes(namespace, custom.secret_ref.name, custom.secret_ref.key)
        if data is None:
            return TemplateInputs(problem=_missing("Secret", custom.secret_ref, field, None))
    elif custom is not None and custom.config_map_ref is not None:
        ref = custom.config_map_ref
        text = await kube.config_map_value(namespace, ref.name, ref.key)
        if text is None:
            return TemplateInputs(problem=_missing("ConfigMap", ref, field, None))
        data = text.encode()
    return TemplateInputs(tuple(keys), data)


def _field_of(template: VmTemplate, field: str, name: str, key: str) -> str:
    """The SSH key entry that names the Secret: the only template text read from a Secret."""
    for index, ssh in enumerate(template.ssh_public_keys):
        ref = ssh.secret_ref
        if ref is not None and (ref.name, ref.key) == (name, key):
            return f"{field}.sshPublicKeys[{index}]"
    return f"{field}.sshPublicKeys"


def _missing(kind: str, ref: KeyReference, field: str, index: int | None) -> str:
    where = f"{field}.customData" if index is None else f"{field}.sshPublicKeys[{index}]"
    return f"{kind} {ref.name} has no key {ref.key} ({where}); create it or fix the reference"
