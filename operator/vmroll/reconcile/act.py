"""Apply a plan's actions to Azure, recording each one in status before waiting on it.

Order per batch, so that a process killed at any point leaves nothing untracked:
1. the VM names and operations are recorded (`record`) and written to `status.pendingOperations`
   by the caller's next status write, before anything is sent: a pool's pass writes them with
   its progress (one status write per sending pass, not one for the record and one for the
   progress: a status write is what bounds a fleet's passes), deletion's cleanup with its
   `Deleting` condition;
2. the requests are sent (`send`), with bounded concurrency;
3. their resume tokens are written with the status that follows, not in a write of their own:
   the next pass's, or deletion's at once. An operator killed in between finds the operations
   as if killed while sending them (below), which for a create or a delete a list settles. A
   pass writes the record again at once after sending when a send was refused (the status
   must not go on claiming an operation that left the record) or when it sent a reimage, whose
   end no list can prove (following.py): its token follows it after a restart;
4. (`follow`) the operations the group's list does not follow (reconcile/following.py) are
   polled for a bounded time, the pass holding no turn among pools by then (handlers/turns.py);
   finished ones leave the record. The others are settled by the next passes' lists
   (observe.settle_pending).
A restarted operator finds the record: named VMs that Azure lists are the pool's (their tags say
so), names Azure never saw are forgotten, tokens are resumed. A create stays recorded after a
transient error (its answer may be what was lost) and after it succeeds, until a list shows
the VM: lists lag writes, and a name given up too soon would be created again (listing.py). A
create vmroll's own write budget refused was never sent, and leaves the record at once.
Creates are sent with `If-None-Match: *` (azure/vms.py): one whose earlier send made the VM
(`AlreadyCreated`) stays recorded without a token, followed by listing as any sent create; one
refused because another VM holds the name (`NameTaken`, a VM the list missed) leaves the record,
and the name is refused to the allocator until a list shows that VM, or for a bounded time
(`PoolMemory.refused_names`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from vmroll.api.pool_status import OperationKind, PendingOperation
from vmroll.azure.errors import AzureGatewayError, TransientAzureError, WriteBudgetExhausted
from vmroll.azure.lro import LroKind, OperationRecord, OperationState
from vmroll.azure.protocol import ComputeGateway
from vmroll.azure.vm_body import VmSpec
from vmroll.azure.vms import AlreadyCreated, NameTaken, PoolVm, vm_resource_id
from vmroll.plan.rollout_model import ReimageVM
from vmroll.reconcile.following import to_poll
from vmroll.reconcile.memory import NORMAL, EventSink, PendingRecorder, PoolMemory

T = TypeVar("T")


@dataclass(frozen=True)
class Batch:
    """The operations one pass recorded, to send once the record is written."""

    creates: tuple[VmSpec, ...]
    deletes: tuple[PoolVm, ...]
    reimages: tuple[tuple[PoolVm, ReimageVM], ...]
    now: datetime

    def __bool__(self) -> bool:
        return bool(self.creates or self.deletes or self.reimages)


@dataclass(frozen=True)
class Started:
    name: str
    kind: OperationKind


@dataclass(frozen=True)
class BatchResult:
    """What the batch changed, and the first error that stopped part of it."""

    finished: tuple[Started, ...]
    errors: tuple[AzureGatewayError, ...]


@dataclass(frozen=True)
class Actor:
    """Everything one batch needs; built per pass by the pool pass."""

    gateway: ComputeGateway
    pool_uid: str
    subscription_id: str
    memory: PoolMemory
    recorder: PendingRecorder
    events: EventSink
    resource_group: str
    concurrency: int
    operation_wait: float
    poll_after: float
    """Seconds after which an operation no list settled is polled (following.py)."""

    def record(
        self,
        creates: Sequence[VmSpec],
        deletes: Sequence[PoolVm],
        now: datetime,
        reimages: Sequence[tuple[PoolVm, ReimageVM]] = (),
    ) -> Batch:
        """Record the operations in `memory.pending`; the caller writes them before `send`."""
        for spec in creates:
            self.memory.pending[spec.name] = PendingOperation(
                vm_name=spec.name,
                kind=OperationKind.CREATE,
                revision=spec.revision,
                started_at=now,
            )
        for vm in deletes:
            self.memory.pending[vm.name] = PendingOperation(
                vm_name=vm.name, kind=OperationKind.DELETE, revision=vm.revision, started_at=now
            )
        for vm, action in reimages:
            retag = self.memory.retags.get(vm.name)
            self.memory.pending[vm.name] = PendingOperation(
                vm_name=vm.name, kind=OperationKind.REIMAGE, revision=action.revision,
                started_at=now, retag_restart=None if retag is None else retag.restart or "",
            )  # fmt: skip
        return Batch(tuple(creates), tuple(deletes), tuple(reimages), now)

    async def send(self, batch: Batch) -> tuple[AzureGatewayError, ...]:
        """Send what `record` recorded; the errors of the requests Azure refused. The answers'
        tokens are in `memory.pending`, for the caller's next status write."""
        calls: list[Callable[[], Awaitable[tuple[str, OperationRecord | AlreadyCreated]]]] = [
            *(self._begin_create(spec, batch.now) for spec in batch.creates),
            *(self._begin_delete(vm) for vm in batch.deletes),
            *(self._begin_reimage(vm, action) for vm, action in batch.reimages),
        ]
        begun = await self._bounded(calls)
        errors: list[AzureGatewayError] = []
        for outcome in begun:
            if isinstance(outcome, AzureGatewayError):
                errors.append(outcome)
                continue
            name, record = outcome
            if isinstance(record, AlreadyCreated):
                continue  # recorded, no token: followed by listing (observe.settle_pending)
            self.memory.pending[name] = self.memory.pending[name].model_copy(
                update={"resume_token": record.token}
            )
        return tuple(errors)

    async def follow(self, listed: Mapping[str, PoolVm], now: datetime) -> BatchResult:
        """Wait (bounded) on the recorded operations the group's list does not follow
        (following.py); `listed`: the pool's VMs as this pass's list showed them."""
        waiting = to_poll(self.memory.pending.values(), listed, now, self.poll_after)
        if not waiting:
            return BatchResult((), ())
        results = await self._bounded([self._wait(op) for op in waiting])
        finished: list[Started] = []
        errors: list[AzureGatewayError] = []
        for op, result in zip(waiting, results, strict=True):
            if isinstance(result, AzureGatewayError):
                self.memory.pending.pop(op.vm_name, None)
                errors.append(result)
            elif result is OperationState.SUCCEEDED and op.kind is OperationKind.CREATE:
                # Kept, without its token, until a list shows the VM (lists lag writes): the
                # next pass settles it and reports it created (observe.settle_pending).
                self.memory.pending[op.vm_name] = op.model_copy(update={"resume_token": None})
                finished.append(Started(op.vm_name, op.kind))
            elif result is OperationState.SUCCEEDED:
                self.memory.pending.pop(op.vm_name, None)
                self.memory.operation_ended(op.vm_name)
                if op.kind is OperationKind.DELETE:
                    self.memory.deleted(op.vm_name)
                finished.append(Started(op.vm_name, op.kind))
                verb = f"{op.kind.value}d"
                self.events.event(NORMAL, verb, f"{verb.lower()} VM {op.vm_name}")
        if finished or errors:
            await self.recorder.record_pending()
        return BatchResult(tuple(finished), tuple(errors))

    def _begin_create(
        self, spec: VmSpec, now: datetime
    ) -> Callable[[], Awaitable[tuple[str, OperationRecord | AlreadyCreated]]]:
        async def call() -> tuple[str, OperationRecord | AlreadyCreated]:
            try:
                return spec.name, await self.gateway.create_vm(self.resource_group, spec)
            except NameTaken as error:
                # Nothing was sent to that VM; the next pass chooses another name.
                self.memory.pending.pop(spec.name, None)
                if error.holder is not None:
                    self.memory.refused(spec.name, now)
                raise
            except AzureGatewayError as error:
                # After a transient error the record stays: the answer may be what was lost (a
                # reset after Azure took the PUT); the next pass reads the VM by name first.
                # vmroll's own budget refuses before sending: nothing reached Azure, nothing
                # to read back (a GET answered 404 per refused create and pass, else).
                if not isinstance(error, TransientAzureError) or isinstance(
                    error, WriteBudgetExhausted
                ):
                    self.memory.pending.pop(spec.name, None)
                raise

        return call

    def _begin_delete(self, vm: PoolVm) -> Callable[[], Awaitable[tuple[str, OperationRecord]]]:
        async def call() -> tuple[str, OperationRecord]:
            try:
                return vm.name, await self.gateway.delete_vm(vm, self.pool_uid)
            except AzureGatewayError:
                self.memory.pending.pop(vm.name, None)
                raise

        return call

    def _begin_reimage(
        self, vm: PoolVm, action: ReimageVM
    ) -> Callable[[], Awaitable[tuple[str, OperationRecord]]]:
        async def call() -> tuple[str, OperationRecord]:
            try:
                record = await self.gateway.reimage_vm(vm, self.pool_uid, action.image_version)
            except AzureGatewayError:
                self.memory.pending.pop(vm.name, None)
                raise
            return vm.name, record

        return call

    def _wait(self, op: PendingOperation) -> Callable[[], Awaitable[OperationState]]:
        assert op.resume_token is not None
        record = OperationRecord(
            LroKind(op.kind.value),
            vm_resource_id(self.subscription_id, self.resource_group, op.vm_name),
            op.resume_token,
        )

        async def call() -> OperationState:
            return await self.gateway.wait_operation(record, max_wait=self.operation_wait)

        return call

    async def _bounded(
        self, calls: Sequence[Callable[[], Awaitable[T]]]
    ) -> list[T | AzureGatewayError]:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(call: Callable[[], Awaitable[T]]) -> T | AzureGatewayError:
            async with gate:
                try:
                    return await call()
                except AzureGatewayError as error:
                    return error

        return list(await asyncio.gather(*(one(call) for call in calls)))
