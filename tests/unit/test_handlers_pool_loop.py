"""The pool loop's own pacing (handlers/pools.py): what wakes a pause early, how long a pause
lasts, and when the loop ends without a pass. The pass itself is tested in test_reconcile_*;
what needs kopf's event posting or the API server is tested in tests/e2e."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import kopf
import pytest

from vmroll.handlers import pools
from vmroll.handlers.kube import KubeApi
from vmroll.handlers.policies import POLICY_INDEX
from vmroll.handlers.pools import _pause, _wake_key, pool_loop
from vmroll.handlers.run_config import RunConfig
from vmroll.handlers.state import OperatorState


def pool_body(**metadata: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "generation": 1, "annotations": {}, **metadata},
        "spec": {"accountRef": {"name": "prod"}, "replicas": 3},
        "status": {"readyReplicas": 1},
    }


def accounts(generation: int = 1, uid: str = "uid-1") -> dict[str, list[dict[str, Any]]]:
    return {
        "prod": [{"metadata": {"generation": generation, "uid": uid}}],
        "other": [{"metadata": {"generation": 1, "uid": "uid-other"}}],
    }


def changed_generation(raw: dict[str, Any], index: dict[str, Any]) -> None:
    raw["metadata"]["generation"] = 2


def changed_annotation(raw: dict[str, Any], index: dict[str, Any]) -> None:
    raw["metadata"]["annotations"]["vmroll.io/restartedAt"] = "now"


def changed_account_spec(raw: dict[str, Any], index: dict[str, Any]) -> None:
    index["prod"] = accounts(generation=2)["prod"]


def replaced_account(raw: dict[str, Any], index: dict[str, Any]) -> None:
    index["prod"] = accounts(uid="uid-2")["prod"]


def deleted_account(raw: dict[str, Any], index: dict[str, Any]) -> None:
    del index["prod"]


def changed_status(raw: dict[str, Any], index: dict[str, Any]) -> None:
    raw["status"]["readyReplicas"] = 3


def changed_label(raw: dict[str, Any], index: dict[str, Any]) -> None:
    raw["metadata"]["labels"] = {"team": "a"}


def changed_other_account(raw: dict[str, Any], index: dict[str, Any]) -> None:
    index["other"] = [{"metadata": {"generation": 5, "uid": "uid-other"}}]


Change = Callable[[dict[str, Any], dict[str, Any]], None]


@pytest.mark.parametrize(
    ("change", "wakes"),
    [
        pytest.param(changed_generation, True, id="spec"),
        pytest.param(changed_annotation, True, id="annotation"),
        pytest.param(changed_account_spec, True, id="account-spec"),
        pytest.param(replaced_account, True, id="account-replaced"),
        pytest.param(deleted_account, True, id="account-deleted"),
        pytest.param(changed_status, False, id="status"),
        pytest.param(changed_label, True, id="label-selects-policies"),
        pytest.param(changed_other_account, False, id="another-account"),
    ],
)
def test_what_wakes_a_paused_pool(change: Change, wakes: bool) -> None:
    raw, index = pool_body(), accounts()
    before = _wake_key(kopf.Body(raw), index, {})
    change(raw, index)
    assert (_wake_key(kopf.Body(raw), index, {}) != before) is wakes


@pytest.mark.parametrize(
    ("after", "wakes"),
    [
        pytest.param({"p": [{"metadata": {"generation": 1}}]}, False, id="unchanged"),
        pytest.param({"p": [{"metadata": {"generation": 2}}]}, True, id="policy-changed"),
        pytest.param({}, True, id="policy-deleted"),
        pytest.param(
            {"p": [{"metadata": {"generation": 1}}], "q": [{"metadata": {"generation": 1}}]},
            True,
            id="policy-added",
        ),
    ],
)
def test_an_image_policy_change_wakes_a_paused_pool(after: dict[str, Any], wakes: bool) -> None:
    raw, index = pool_body(), accounts()
    before = _wake_key(kopf.Body(raw), index, {"p": [{"metadata": {"generation": 1}}]})
    assert (_wake_key(kopf.Body(raw), index, after) != before) is wakes


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Stopped:
    """kopf's stop flag as `_pause` uses it; each wait moves the clock by its timeout and then
    lets the test change the world (a watch event arriving meanwhile)."""

    def __init__(self, clock: Clock, on_wait: Callable[[int], None] = lambda n: None) -> None:
        self.clock, self.on_wait = clock, on_wait
        self.waits: list[float] = []
        self.stopped = False

    def __bool__(self) -> bool:
        return self.stopped

    async def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.now += seconds
        self.on_wait(len(self.waits))


def state(clock: Clock) -> OperatorState:
    return OperatorState(config=RunConfig(), kube=cast(KubeApi, object()), monotonic=clock)


async def test_a_pause_lasts_its_seconds_when_nothing_changes() -> None:
    clock = Clock()
    raw, index = pool_body(), accounts()
    stopped = Stopped(clock)
    wake = _wake_key(kopf.Body(raw), index, {})
    await _pause(
        cast(kopf.DaemonStopped, stopped), kopf.Body(raw), (index, {}), wake, 1.2, state(clock)
    )
    assert stopped.waits == pytest.approx([0.5, 0.5, 0.2])
    assert clock.now == pytest.approx(101.2)


async def test_a_change_ends_the_pause_at_the_next_look() -> None:
    clock = Clock()
    raw, index = pool_body(), accounts()

    def spec_changes(waits: int) -> None:
        if waits == 2:
            raw["metadata"]["generation"] = 2

    stopped = Stopped(clock, spec_changes)
    wake = _wake_key(kopf.Body(raw), index, {})
    await _pause(
        cast(kopf.DaemonStopped, stopped), kopf.Body(raw), (index, {}), wake, 600, state(clock)
    )
    assert len(stopped.waits) == 2
    assert clock.now == pytest.approx(101.0)


async def test_a_stopped_daemon_does_not_pause() -> None:
    clock = Clock()
    raw, index = pool_body(), accounts()
    stopped = Stopped(clock)
    stopped.stopped = True
    wake = _wake_key(kopf.Body(raw), index, {})
    await _pause(
        cast(kopf.DaemonStopped, stopped), kopf.Body(raw), (index, {}), wake, 600, state(clock)
    )
    assert stopped.waits == []


async def test_a_pool_being_deleted_ends_the_loop_without_a_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    passes: list[object] = []

    async def no_pass(*args: object) -> float:
        passes.append(args)
        return 0.0

    monkeypatch.setattr(pools, "_one_pass", no_pass)
    clock = Clock()
    raw = pool_body(deletionTimestamp="2026-11-28T12:00:00Z")
    await pool_loop(
        stopped=cast(kopf.DaemonStopped, Stopped(clock)),
        body=kopf.Body(raw),
        memo=kopf.Memo(state=state(clock)),
        logger=cast(kopf.Logger, None),
        **{pools.ACCOUNT_INDEX: accounts(), pools.POOL_INDEX: {}, POLICY_INDEX: {}},
    )
    assert passes == []
