"""An ImageCapture loop's pause between passes (handlers/captures.py): it ends when the write
budget sets a token aside for the capture (a write it refused had its turn), and not for the
nudges meant for pools; an ended loop leaves no wakeup behind."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import kopf
import pytest
from test_handlers_pool_loop import Clock, Stopped, state

from vmroll.handlers import captures
from vmroll.handlers.captures import ACCOUNT_INDEX, _pause, capture_loop
from vmroll.handlers.state import OperatorState
from vmroll.reconcile.capture_pass import PassResult


async def settled(task: asyncio.Task[None]) -> bool:
    """Whether the pause has ended once every ready task has run."""
    for _ in range(10):
        await asyncio.sleep(0)
    return task.done()


def paused(operator: OperatorState, stopped: Stopped, uid: str) -> asyncio.Task[None]:
    """A capture paused for an hour, on a clock that never moves."""
    return asyncio.create_task(_pause(cast(kopf.DaemonStopped, stopped), operator, uid, 3600))


async def test_a_token_set_aside_for_the_capture_ends_its_pause() -> None:
    operator, stopped = state(Clock()), Stopped()
    capture, other = paused(operator, stopped, "capture"), paused(operator, stopped, "other")
    assert not await settled(capture)
    operator.wakeups.every_pool()  # an ImagePolicy changed: no concern of a capture's
    assert not await settled(capture)
    operator.token_set_aside("capture")
    assert await settled(capture)
    assert not await settled(other)
    stopped.stop()
    await other


async def test_a_stopped_daemon_ends_the_captures_pause() -> None:
    operator, stopped = state(Clock()), Stopped()
    capture = paused(operator, stopped, "capture")
    assert not await settled(capture)
    stopped.stop()
    assert await settled(capture)


async def test_an_ended_capture_loop_leaves_no_wakeup_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    operator = state(Clock())
    raw: dict[str, Any] = {"metadata": {"name": "golden", "uid": "capture"}}

    async def one_pass(*args: object) -> PassResult:
        return PassResult(settled=False, delay=0.0)

    async def pause_then_delete(
        stopped: kopf.DaemonStopped, state: OperatorState, uid: str, seconds: float
    ) -> None:
        state.wakeups.pausing(uid, None, None)
        raw["metadata"]["deletionTimestamp"] = "2026-11-30T12:00:00Z"

    monkeypatch.setattr(captures, "_one_pass", one_pass)
    monkeypatch.setattr(captures, "_pause", pause_then_delete)
    await capture_loop(
        stopped=cast(kopf.DaemonStopped, Stopped()),
        body=kopf.Body(raw),
        memo=kopf.Memo(state=operator),
        logger=cast(kopf.Logger, None),
        **{ACCOUNT_INDEX: {}},
    )
    assert len(operator.wakeups) == 0
