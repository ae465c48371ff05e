"""AzureAccount handlers: index accounts for the pools, and report whether a token can be had.

`Ready` is True when vmroll obtained an ARM token with the account's credential; otherwise it is
False and `Stalled` True, both naming what to change (the Secret, the client ID, the tenant, the
endpoints): kstatus readers (Flux) take an object with only `Ready` False for InProgress and
wait for it until they time out, where Stalled fails them at once. The check runs on every
change and every `CHECK_INTERVAL_SECONDS`; a failure gets one Warning event when the condition
changes, not one more from every check that finds it unchanged. Token failures are summarised
by type and Entra's own message, which never contains the secret. A deleted account's
connection and clients are dropped (closed once no pass borrows them). Every event of an
account wakes the paused pools that use it (handlers/wakeups.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf
from azure.core.exceptions import AzureError, ClientAuthenticationError

from vmroll.api.account import PLURAL, AzureAccount, AzureAccountStatus
from vmroll.api.base import GROUP, VERSION
from vmroll.azure.credentials import build_credential
from vmroll.handlers.connections import AccountConfigError, connection_for
from vmroll.handlers.pruning import forget_account
from vmroll.handlers.state import OperatorState
from vmroll.plan.conditions import Assessment, ConditionUpdate, State
from vmroll.plan.reasons import Reason

CHECK_INTERVAL_SECONDS = 600.0
TOKEN_TIMEOUT_SECONDS = 30.0


@kopf.index(GROUP, VERSION, PLURAL)
def accounts_by_name(name: str | None, body: kopf.Body, **_: Any) -> dict[str | None, Any]:
    """The account objects by name: pools look theirs up here, not in the API server."""
    return {name: {"metadata": dict(body.metadata), "spec": dict(body.spec)}}


@kopf.on.event(GROUP, VERSION, PLURAL)
async def account_event(name: str | None, memo: kopf.Memo, **_: Any) -> None:
    """After the index took the change (or the deletion): the pools using the account compare."""
    memo.state.wakeups.account(name)


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
@kopf.timer(GROUP, VERSION, PLURAL, interval=CHECK_INTERVAL_SECONDS, initial_delay=60.0)
async def check_account(body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch, **_: Any) -> None:
    state: OperatorState = memo.state
    account = AzureAccount.model_validate(dict(body))
    reason, message = await token_check(state, account)
    ready = reason == Reason.AUTHENTICATED
    status = account.status or AzureAccountStatus()
    generation = account.metadata.generation
    update = ConditionUpdate.of(status.conditions).assess(
        account_assessment(reason, message), observed_generation=generation, now=state.clock()
    )
    if update.changed or status.observed_generation != generation:
        new = AzureAccountStatus(conditions=list(update.conditions), observed_generation=generation)
        patch.status.update(new.to_wire())
    if not ready and update.changed:
        kopf.warn(body, reason=reason, message=message)


@kopf.on.delete(GROUP, VERSION, PLURAL, optional=True)
async def account_deleted(name: str | None, memo: kopf.Memo, **_: Any) -> None:
    await forget_account(memo.state, name or "")


def account_assessment(reason: str, message: str) -> Assessment:
    """Ready once authenticated; else Stalled: every other outcome needs the account changed."""
    state = State.READY if reason == Reason.AUTHENTICATED else State.STALLED
    return Assessment(state, reason, message)


async def token_check(state: OperatorState, account: AzureAccount) -> tuple[str, str]:
    try:
        connection = await connection_for(state, account)
    except AccountConfigError as error:
        return error.reason, error.message
    credential = build_credential(connection)
    try:
        await asyncio.wait_for(
            credential.get_token(connection.endpoint.arm_scope), TOKEN_TIMEOUT_SECONDS
        )
    except TimeoutError:
        return Reason.AUTHENTICATION_FAILED, (
            f"no answer from {connection.endpoint.authority_host} within "
            f"{TOKEN_TIMEOUT_SECONDS:.0f}s; check spec.endpoints.authorityHost"
        )
    except ClientAuthenticationError as error:
        return Reason.AUTHENTICATION_FAILED, (
            f"no token for client {_client_id(account)} in tenant {account.spec.tenant_id}: "
            f"{_first_line(error.message)}; check the client ID, the secret and the tenant"
        )
    except AzureError as error:
        return Reason.AUTHENTICATION_FAILED, (
            f"could not reach {connection.endpoint.authority_host}: {_first_line(error.message)}"
            "; check spec.endpoints"
        )
    finally:
        await credential.close()
    return Reason.AUTHENTICATED, (f"obtained a token for subscription {connection.subscription_id}")


def _client_id(account: AzureAccount) -> str:
    auth = account.spec.auth
    if auth.client_secret is not None:
        return auth.client_secret.client_id
    if auth.workload_identity is not None:
        return auth.workload_identity.client_id
    return "(default chain)"


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else "no detail"
