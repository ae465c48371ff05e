"""Operation polls paced per VM by `Retry-After` and Compute's Get Operation budget (45, then 15
a minute), driven by a hand-moved clock; `lro.wait` sends nothing when it could not poll in time.
"""

from __future__ import annotations

import base64
import json

import pytest
from fake_time import FakeTime

from vmroll.azure.headroom import CallScope, Headroom
from vmroll.azure.lro import LroKind, OperationRecord, OperationState, Poller, wait
from vmroll.azure.poll_pacing import PollPacer

ARM = "https://management.example.test"
VM = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-0"


def pacer(time: FakeTime) -> PollPacer:
    return PollPacer(clock=time.clock, sleep=time.sleep)


async def test_a_fresh_vm_polls_at_once() -> None:
    time = FakeTime()
    polls = pacer(time)
    assert polls.delay(VM) == 0
    await polls.before_poll(VM)
    assert time.slept == []


async def test_retry_after_of_the_last_answer_is_honoured() -> None:
    time = FakeTime()
    polls = pacer(time)
    polls.answered(VM, retry_after=10, remaining=None)
    assert polls.delay(VM) == 10
    time.now += 4
    await polls.before_poll(VM)
    assert time.slept == [6.0]
    assert polls.delay(VM.upper()) == 0  # resource IDs are case-insensitive


async def test_a_vm_polled_every_second_slows_to_its_get_operation_budget() -> None:
    time = FakeTime()
    polls = pacer(time)
    sent: list[float] = []
    for _ in range(200):
        polls.answered(VM, retry_after=1, remaining=None)
        await polls.before_poll(VM)
        sent.append(time.now)
    # 42 polls of the 45 (3 left to others) a second apart, then one every 4 s (15 a minute).
    assert time.slept[:41] == [1.0] * 41
    assert time.slept[-1] == pytest.approx(4.0)
    # Compute's own bucket for the VM never runs dry.
    tokens, last = 45.0, sent[0]
    for at in sent:
        tokens = min(45.0, tokens + (at - last) * 15 / 60)
        last = at
        assert tokens >= 1
        tokens -= 1


async def test_the_count_compute_reports_lowers_the_vms_budget() -> None:
    time = FakeTime()
    polls = pacer(time)
    polls.answered(VM, retry_after=None, remaining=3)
    assert polls.delay(VM) == pytest.approx(4.0)  # 3 left, 3 kept for others: one in 4 s


async def test_a_scope_feeds_retry_after_and_the_vms_own_get_operation_count() -> None:
    time = FakeTime()
    polls = pacer(time)
    scope = CallScope(polls, resource_id=VM)
    headroom = Headroom(
        subscription={"GetOperation": 14000}, resource={"GetOperation": 2}, retry_after=5
    )
    scope.answered("GET", 200, headroom)
    assert polls.delay(VM) == pytest.approx(8.0)  # 2 left: the bucket's wait beats Retry-After
    other = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1"
    CallScope(polls, resource_id=other).answered("GET", 200, Headroom(retry_after=5))
    assert polls.delay(other) == 5


async def test_idle_vms_are_forgotten() -> None:
    time = FakeTime()
    polls = pacer(time)
    await polls.before_poll(VM)
    polls.answered(VM, retry_after=10, remaining=None)
    polls.forget_idle()
    assert len(polls) == 1
    time.now += 10
    polls.forget_idle()
    assert len(polls) == 0


def token() -> str:
    data = {
        "request": {"method": "PUT", "url": f"{ARM}{VM}"},
        "response": {"status_code": 201, "headers": {}, "content": ""},
        "context": {"deserialized_data": None},
    }
    return base64.b64encode(json.dumps({"version": 1, "data": data}).encode()).decode()


async def test_wait_sends_nothing_when_no_poll_fits_in_its_time() -> None:
    time = FakeTime()
    polls = pacer(time)
    polls.answered(VM, retry_after=30, remaining=None)
    resumed: list[str] = []

    async def resume(token: str) -> Poller:
        resumed.append(token)
        raise AssertionError("resumed an operation it may not poll yet")

    record = OperationRecord(LroKind.CREATE, VM, token())
    state = await wait(record, resume, resource_manager=ARM, max_wait=10, polls=polls)
    assert state is OperationState.RUNNING
    assert resumed == []
    assert time.slept == []
