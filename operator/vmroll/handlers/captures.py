"""ImageCapture handlers: one loop per capture, a pass at a time, until the version is out.

Thin: parse the object, find its account and check that the account admits the capture's
namespace and every resource group it touches (its own, the source VM's and the gallery's, as
pools are checked), read a builder template's Secret and ConfigMap values while the builder is
not yet built, borrow the account's capture gateway for the pass, and hand over to
reconcile/capture_pass.py. A daemon, as for pools, so that two passes never overlap (two would
both send the capture). An object that does not parse ends in a Stalled condition and an event.
Deletion is a kopf delete handler behind vmroll's finalizer (plan/capture_deletion.py): a builder
VM nothing else owns is deleted first. kopf stops the daemon in parallel with it, so a per-capture
lock keeps a pass that may be sending the builder's create apart from the handler reading it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import kopf
from pydantic import ValidationError

from vmroll.api.base import GROUP, VERSION
from vmroll.api.capture import PLURAL, BuilderDisposal, ImageCapture
from vmroll.api.capture_status import CapturePhase
from vmroll.api.pool import RELEASE_ANNOTATION
from vmroll.azure.capture_gateway import borrow_captures
from vmroll.azure.captures import definition_parts, group_and_name
from vmroll.azure.settings import AccountConnection
from vmroll.handlers.pool_inputs import connect_account, template_values
from vmroll.handlers.pruning import forget_lock
from vmroll.handlers.state import OperatorState
from vmroll.handlers.wakeups import first_of
from vmroll.plan.access import check_access
from vmroll.plan.capture_deletion import CleanupKind, DeletedCapture, cleanup_on_deletion
from vmroll.plan.conditions import Assessment, State
from vmroll.plan.reasons import Reason
from vmroll.reconcile.capture_deletion import STALLED_SECONDS, CaptureDeletion, Cleanup
from vmroll.reconcile.capture_pass import CapturePass, PassResult, Problem, report_unpassed
from vmroll.reconcile.failures import describe_error
from vmroll.reconcile.inputs import AccountProblem, TemplateInputs

ACCOUNT_INDEX = "accounts_by_name"


class CaptureStatusSink:
    def __init__(self, state: OperatorState, namespace: str, name: str) -> None:
        self._state, self._namespace, self._name = state, namespace, name

    async def patch_status(self, patch: Mapping[str, Any]) -> None:
        await self._state.kube.patch_status(PLURAL, self._namespace, self._name, patch)


class CaptureEventSink:
    def __init__(self, body: kopf.Body) -> None:
        self._body = body

    def event(self, type_: str, reason: str, message: str) -> None:
        kopf.event(self._body, type=type_, reason=reason, message=message)


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def capture_loop(
    stopped: kopf.DaemonStopped,
    body: kopf.Body,
    memo: kopf.Memo,
    logger: kopf.Logger,
    **kwargs: Any,
) -> None:
    state: OperatorState = memo.state
    uid = body.metadata.uid or ""
    try:
        while not stopped and not body.metadata.get("deletionTimestamp"):
            try:
                async with state.lock(uid):
                    result = await _one_pass(state, body, kwargs[ACCOUNT_INDEX])
            except Exception as error:
                message = f"image capture pass failed; retrying: {describe_error(error)}"
                logger.error(message)
                failed = Assessment(State.RECONCILING, Reason.UNEXPECTED_ERROR.value, message)
                await _report_unpassed(state, body, failed, logger)
                result = PassResult(settled=False, delay=state.config.progress_seconds * 5)
            await _pause(stopped, state, uid, result.delay)
    finally:
        state.wakeups.ended(uid)


async def _pause(
    stopped: kopf.DaemonStopped, state: OperatorState, uid: str, seconds: float
) -> None:
    """Until `seconds` have passed, the daemon is stopped, or the write budget set a token aside
    for the capture: a write it refused had its turn. A refused retention delete would otherwise
    wait for the next resync, minutes after its token went back (handlers/wakeups.py)."""
    nudged = state.wakeups.pausing(uid, None, None)
    deadline = state.monotonic() + seconds
    while not stopped:
        nudged.clear()
        left = deadline - state.monotonic()
        if left <= 0 or state.wakeups.take_due(uid):
            return
        await first_of(stopped, nudged, left)


async def _one_pass(state: OperatorState, body: kopf.Body, index: Mapping[Any, Any]) -> PassResult:
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    sink, events = CaptureStatusSink(state, namespace, name), CaptureEventSink(body)
    try:
        capture = ImageCapture.model_validate(dict(body))
    except ValidationError as error:
        message = f"the ImageCapture is not valid: {error.errors()[0]['msg']}"
        invalid = Assessment(State.STALLED, Reason.INVALID_SPEC.value, message)
        await report_unpassed(body, sink, events, state.clock(), invalid)
        return PassResult(settled=False, delay=state.config.stalled_seconds)
    progress, stalled = state.config.progress_seconds, state.config.stalled_seconds
    found = await _access(state, index, capture)
    if isinstance(found, Problem):
        failed = CapturePass(
            capture, found, sink, events, state.clock(), progress_seconds=progress,
            stalled_seconds=stalled, pools=state.kube,
        )  # fmt: skip
        return await failed.run()
    builder = capture.spec.source.builder
    async with borrow_captures(
        state.azure,
        found,
        location=builder.location if builder is not None else "",
        owner=capture.metadata.uid or "",
    ) as gateway:
        one = CapturePass(
            capture, gateway, sink, events, state.clock(), progress_seconds=progress,
            stalled_seconds=stalled, builder_inputs=await _builder_inputs(state, capture),
            pools=state.kube,
        )  # fmt: skip
        return await one.run()


async def _builder_inputs(state: OperatorState, capture: ImageCapture) -> TemplateInputs | None:
    """The builder template's Secret and ConfigMap values; read only until it is built (the
    Secret may go once the builder has its cloud-init)."""
    builder = capture.spec.source.builder
    if builder is None or (capture.status is not None and capture.status.built_at is not None):
        return None
    namespace = capture.metadata.namespace or ""
    field = "spec.source.builder.template"
    return await template_values(state.kube, builder.template, namespace, field)


async def _report_unpassed(
    state: OperatorState, body: kopf.Body, assessment: Assessment, logger: kopf.Logger
) -> None:
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    sink, events = CaptureStatusSink(state, namespace, name), CaptureEventSink(body)
    try:
        await report_unpassed(body, sink, events, state.clock(), assessment)
    except Exception as error:
        logger.error(f"cannot write the image capture's status: {describe_error(error)}")


async def _access(
    state: OperatorState, index: Mapping[Any, Any], capture: ImageCapture
) -> AccountConnection | Problem:
    """The account's connection, once it admits the namespace and every resource group."""
    name = capture.spec.account_ref.name
    found = await connect_account(state, index, name)
    if isinstance(found, AccountProblem):
        return Problem(Reason(found.reason), found.message)
    account, connection = found
    namespace = capture.metadata.namespace or ""
    allowed = account.spec.allowed_namespaces
    labels: Mapping[str, str] = {}
    if allowed.selector is not None and namespace not in allowed.names:
        labels = await state.kube.namespace_labels(namespace) or {}
    for group in _resource_groups(capture):
        decision = check_access(name, account.spec, namespace, labels, group)
        if not decision.allowed:
            assert decision.reason is not None  # a refusal names its reason
            return Problem(decision.reason, decision.message)
    return connection


def _resource_groups(capture: ImageCapture) -> list[str]:
    spec = capture.spec
    groups = [spec.resource_group, definition_parts(spec.target.image_id)[0]]
    if spec.source.virtual_machine_id is not None:
        groups.append(group_and_name(spec.source.virtual_machine_id)[0])
    return list(dict.fromkeys(groups))


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def capture_deleted(
    body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **kwargs: Any
) -> None:
    state: OperatorState = memo.state
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    try:
        capture = ImageCapture.model_validate(dict(body))
    except ValidationError as error:
        # Never a permanent failure: that would drop the finalizer and orphan a builder.
        message = f"the ImageCapture is not valid: {error.errors()[0]['msg']}"
        invalid = Assessment(State.STALLED, Reason.INVALID_SPEC.value, message)
        await _report_unpassed(state, body, invalid, logger)
        raise kopf.TemporaryError(
            "the capture does not validate; fix it to let it be deleted", delay=STALLED_SECONDS
        ) from None
    uid = capture.metadata.uid or ""
    async with state.lock(uid):
        cleanup = await _clean_up(state, body, capture, kwargs[ACCOUNT_INDEX], logger)
    if not cleanup.done:
        raise kopf.TemporaryError(cleanup.message, delay=cleanup.delay)
    forget_lock(state, uid)
    logger.info(f"image capture {namespace}/{name} released")


async def _clean_up(
    state: OperatorState,
    body: kopf.Body,
    capture: ImageCapture,
    index: Mapping[Any, Any],
    logger: kopf.Logger,
) -> Cleanup:
    builder = capture.spec.source.builder
    status = capture.status
    seen = DeletedCapture(
        builder=builder is not None,
        retain=builder is not None and builder.disposal is BuilderDisposal.RETAIN,
        recorded=status is not None and status.source_vm_id is not None,
        disposed=status is not None and status.phase is CapturePhase.SUCCEEDED,
        reachable=True,
        released=capture.metadata.annotations.get(RELEASE_ANNOTATION) == "true",
    )
    kind = cleanup_on_deletion(seen)
    found: AccountConnection | Problem | None = None
    if kind is CleanupKind.DISPOSE:
        found = await _access(state, index, capture)
        kind = cleanup_on_deletion(replace(seen, reachable=not isinstance(found, Problem)))
    if kind is CleanupKind.RETAIN:
        logger.info("disposal Retain: the builder VM, if any, stays in Azure")
    if kind in (CleanupKind.RELEASE, CleanupKind.RETAIN):
        return Cleanup(done=True, delay=0.0)
    namespace, name = capture.metadata.namespace or "", capture.metadata.name
    deletion = CaptureDeletion(
        capture, CaptureStatusSink(state, namespace, name), CaptureEventSink(body), state.clock()
    )
    if isinstance(found, Problem):
        return await deletion.unreachable(found)  # STALL or ABANDON: it knows the annotation
    # DISPOSE: a builder, and an account that admits the capture.
    assert found is not None
    assert builder is not None
    async with borrow_captures(
        state.azure, found, location=builder.location, owner=capture.metadata.uid or ""
    ) as gateway:
        return await deletion.dispose(gateway)
