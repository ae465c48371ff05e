"""The pool loop's own pacing (handlers/pools.py, handlers/wakeups.py): what wakes a pause early
(a nudge from the watch or the write budget's, handlers/state.py; never a poll), and when the
loop ends without a pass. The pass itself is tested in test_reconcile_*; what needs kopf's
event posting or the API server is tested in tests/e2e."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import kopf
import pytest
from test_reconcile_fakes import pool_object

from vmroll.api.pool import VirtualMachinePool
from vmroll.handlers import pools
from vmroll.handlers.accounts import account_event
from vmroll.handlers.kube import KubeApi
from vmroll.handlers.namespaces import NAMESPACE_INDEX, namespace_event
from vmroll.handlers.policies import POLICY_INDEX, policy_event
from vmroll.handlers.pools import _pause, _wake_key, pool_loop, pool_wakeups
from vmroll.handlers.run_config import RunConfig
from vmroll.handlers.state import OperatorState
from vmroll.metrics.registry import PassResult
from vmroll.plan.ownership import PoolIdentity
from vmroll.reconcile.inputs import Next, Outcome
from vmroll.reconcile.memory import AtRest, PoolMemory
from vmroll.reconcile.resting_pools import RestingPools


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


@pytest.mark.parametrize(
    ("after", "wakes"),
    [
        pytest.param({"team": [{"vmroll": "on"}]}, False, id="unchanged"),
        pytest.param({"team": [{"vmroll": "off"}]}, True, id="label-changed"),
        pytest.param({"team": [{}]}, True, id="label-removed"),
        pytest.param({"team": [{"vmroll": "on"}], "other": [{"a": "b"}]}, False, id="another"),
    ],
)
def test_a_change_of_its_namespaces_labels_wakes_a_paused_pool(
    after: dict[str, Any], wakes: bool
) -> None:
    raw, index = pool_body(namespace="team"), accounts()
    before = _wake_key(kopf.Body(raw), index, {}, {"team": [{"vmroll": "on"}]})
    assert (_wake_key(kopf.Body(raw), index, {}, after) != before) is wakes


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Stopped:
    """kopf's stop flag as `_pause` uses it: `wait()` returns once the daemon is stopped."""

    def __init__(self) -> None:
        self.flag = asyncio.Event()

    def __bool__(self) -> bool:
        return self.flag.is_set()

    async def wait(self) -> None:
        await self.flag.wait()

    def stop(self) -> None:
        self.flag.set()


def state(clock: Clock) -> OperatorState:
    return OperatorState(config=RunConfig(), kube=cast(KubeApi, object()), monotonic=clock)


class Looks:
    """Counts how often paused pools compare their wake key: a poll would compare again and
    again while nothing happens."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        monkeypatch.setattr(pools, "_wake_key", self)

    def __call__(
        self, body: kopf.Body, index: Any, policies: Any, namespaces: Any = None
    ) -> tuple[Any, ...]:
        self.count += 1
        return _wake_key(body, index, policies, namespaces)


class Paused:
    """A pool paused for an hour (on a clock that never moves) in a task of its own."""

    def __init__(
        self,
        operator: OperatorState,
        raw: dict[str, Any],
        index: dict[str, Any],
        policies: dict[str, Any],
        namespaces: dict[str, Any] | None = None,
    ) -> None:
        self.stopped = Stopped()
        body = kopf.Body(raw)
        wake = _wake_key(body, index, policies, namespaces)
        stopped = cast(kopf.DaemonStopped, self.stopped)
        self.task = asyncio.create_task(
            _pause(stopped, body, (index, policies, namespaces), wake, 3600, operator)
        )

    async def settled(self) -> bool:
        """Whether the pause has ended once every ready task has run."""
        for _ in range(10):
            await asyncio.sleep(0)
        return self.task.done()

    async def stop(self) -> None:
        self.stopped.stop()
        await self.task


def pool(uid: str, account: str = "prod", namespace: str = "default") -> dict[str, Any]:
    raw = pool_body(uid=uid, namespace=namespace)
    raw["spec"]["accountRef"]["name"] = account
    return raw


async def test_a_pause_with_nothing_to_wait_for_ends_without_waiting() -> None:
    clock = Clock()
    raw, index = pool_body(uid="a"), accounts()
    stopped = Stopped()
    wake = _wake_key(kopf.Body(raw), index, {})
    await _pause(
        cast(kopf.DaemonStopped, stopped), kopf.Body(raw), (index, {}), wake, 0, state(clock)
    )


async def test_a_paused_pool_does_not_look_until_nudged(monkeypatch: pytest.MonkeyPatch) -> None:
    looks = Looks(monkeypatch)
    paused = Paused(state(Clock()), pool("a"), accounts(), {})
    assert not await paused.settled()
    assert looks.count == 1
    await paused.stop()


async def test_a_spec_change_ends_the_pause_at_once_without_polling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    operator, raw = state(Clock()), pool("a")
    looks = Looks(monkeypatch)
    paused = Paused(operator, raw, accounts(), {})
    assert not await paused.settled()
    raw["metadata"]["generation"] = 2
    await pool_wakeups(uid="a", body=kopf.Body(raw), memo=kopf.Memo(state=operator))
    assert await paused.settled()
    assert looks.count == 2


async def test_a_change_made_during_the_pass_ends_the_pause_at_its_first_look() -> None:
    raw, index = pool_body(uid="a"), accounts()
    wake = _wake_key(kopf.Body(raw), index, {})
    raw["metadata"]["annotations"]["vmroll.io/restartedAt"] = "now"
    stopped = cast(kopf.DaemonStopped, Stopped())
    await _pause(stopped, kopf.Body(raw), (index, {}), wake, 3600, state(Clock()))


async def test_a_nudge_that_changes_nothing_keeps_the_pool_paused() -> None:
    operator, raw = state(Clock()), pool("a")
    paused = Paused(operator, raw, accounts(), {})
    raw["status"]["readyReplicas"] = 3
    await pool_wakeups(uid="a", body=kopf.Body(raw), memo=kopf.Memo(state=operator))
    assert not await paused.settled()
    await paused.stop()


async def test_a_pass_made_due_ends_the_pause_though_nothing_it_compares_changed() -> None:
    operator, index = state(Clock()), accounts()
    due, other = Paused(operator, pool("a"), index, {}), Paused(operator, pool("b"), index, {})
    assert not await due.settled()
    operator.wakeups.due("a")  # the write budget's queue ran dry after refusing a's writes
    assert await due.settled()
    assert not await other.settled()
    assert not operator.wakeups.take_due("a")  # taken by the pause it ended
    await other.stop()


async def test_a_token_set_aside_ends_the_pools_pause_and_lets_its_held_creates_go() -> None:
    operator, index = state(Clock()), accounts()
    held = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    operator.memories = {uid: PoolMemory(creates_paced_until=held) for uid in ("a", "b")}
    due, other = Paused(operator, pool("a"), index, {}), Paused(operator, pool("b"), index, {})
    assert not await due.settled()
    operator.token_set_aside("a")  # the write budget: a's ticket had its turn
    assert await due.settled()
    assert operator.memories["a"].creates_paced_until is None
    assert not await other.settled()
    assert operator.memories["b"].creates_paced_until == held
    operator.token_set_aside("gone")  # a pool deleted since its write was refused
    assert not await other.settled()
    await other.stop()


async def test_a_token_set_aside_puts_the_pools_next_pass_before_passes_not_yet_started() -> None:
    operator = state(Clock())
    operator.memories = {"a": PoolMemory(), "gone": PoolMemory()}  # gone: its daemon ended
    busy = [operator.turns.taken(f"busy-{n}") for n in range(operator.config.concurrent_passes)]
    for turn in busy:
        await turn.__aenter__()
    started: list[str] = []

    async def one_pass(uid: str) -> None:
        async with operator.turns.taken(uid):
            started.append(uid)

    waiting = asyncio.create_task(one_pass("b"))
    await asyncio.sleep(0)
    operator.wakeups.pausing("a", "prod", None)  # a's daemon, paused
    operator.token_set_aside("a")  # the write budget: a's ticket had its turn
    hurried = asyncio.create_task(one_pass("a"))
    await asyncio.sleep(0)
    await busy[0].__aexit__(None, None, None)  # one turn free: a's, then b's when a ends
    await asyncio.gather(hurried, waiting)
    assert started == ["a", "b"]

    operator.token_set_aside("gone")  # no daemon of it runs: nothing to hurry
    last = asyncio.create_task(one_pass("c"))
    gone = asyncio.create_task(one_pass("gone"))
    await asyncio.sleep(0)
    for turn in busy[1:]:
        await turn.__aexit__(None, None, None)
    await asyncio.gather(last, gone)
    assert started == ["a", "b", "c", "gone"]


async def test_an_account_change_wakes_the_pools_that_use_it() -> None:
    operator, index = state(Clock()), accounts()
    using = Paused(operator, pool("a", "prod"), index, {})
    other = Paused(operator, pool("b", "other"), index, {})
    assert not await using.settled()
    index["prod"] = accounts(generation=2)["prod"]
    await account_event(name="prod", memo=kopf.Memo(state=operator))
    assert await using.settled()
    assert not await other.settled()
    await other.stop()


async def test_a_deleted_account_wakes_the_pools_that_use_it() -> None:
    operator, index = state(Clock()), accounts()
    using = Paused(operator, pool("a", "prod"), index, {})
    assert not await using.settled()
    del index["prod"]
    await account_event(name="prod", memo=kopf.Memo(state=operator))
    assert await using.settled()


async def test_a_policy_change_wakes_the_pools() -> None:
    operator, index = state(Clock()), accounts()
    policies: dict[str, Any] = {"p": [{"metadata": {"generation": 1}}]}
    first = Paused(operator, pool("a", "prod"), index, policies)
    second = Paused(operator, pool("b", "other"), index, policies)
    assert not await first.settled()
    policies["q"] = [{"metadata": {"generation": 1}}]
    await policy_event(memo=kopf.Memo(state=operator))
    assert await first.settled()
    assert await second.settled()


async def test_a_stopped_daemon_ends_its_pause() -> None:
    paused = Paused(state(Clock()), pool("a"), accounts(), {})
    assert not await paused.settled()
    paused.stopped.stop()
    assert await paused.settled()


async def test_a_stopped_daemon_does_not_pause() -> None:
    raw, index = pool_body(uid="a"), accounts()
    stopped = Stopped()
    stopped.stop()
    wake = _wake_key(kopf.Body(raw), index, {})
    await _pause(
        cast(kopf.DaemonStopped, stopped), kopf.Body(raw), (index, {}), wake, 600, state(Clock())
    )


async def test_an_ended_loop_leaves_no_wakeup_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    async def one_pass(*args: object) -> float:
        return 0.0

    async def nothing_to_prune(*args: object) -> None:
        return None

    monkeypatch.setattr(pools, "_one_pass", one_pass)
    monkeypatch.setattr(pools, "prune_if_due", nothing_to_prune)
    operator, raw = state(Clock()), pool_body(uid="a")
    seen: list[int] = []

    async def pause_then_delete(*args: object) -> None:
        seen.append(len(operator.wakeups))
        operator.wakeups.pausing("a", "prod", None)
        raw["metadata"]["deletionTimestamp"] = "2026-11-28T12:00:00Z"

    monkeypatch.setattr(pools, "_pause", pause_then_delete)
    await pool_loop(
        stopped=cast(kopf.DaemonStopped, Stopped()),
        body=kopf.Body(raw),
        memo=kopf.Memo(state=operator),
        logger=cast(kopf.Logger, None),
        **indexes(),
    )
    assert seen == [0]
    assert len(operator.wakeups) == 0


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
        stopped=cast(kopf.DaemonStopped, Stopped()),
        body=kopf.Body(raw),
        memo=kopf.Memo(state=state(clock)),
        logger=cast(kopf.Logger, None),
        **indexes(),
    )
    assert passes == []


class Passes:
    """Passes that each wait until the test lets them end, recording who passed and how many
    were in flight at once."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, delay: float = 0.0) -> None:
        self.started: list[str] = []
        self.most = 0
        self._running = 0
        self._ends: dict[str, asyncio.Event] = {}
        self._delay = delay

        async def nothing_to_prune(*args: object) -> None:
            return None

        monkeypatch.setattr(pools, "_one_pass", self._one_pass)
        monkeypatch.setattr(pools, "prune_if_due", nothing_to_prune)

    async def _one_pass(self, state: OperatorState, body: kopf.Body, *args: object) -> float:
        uid = body.metadata.uid or ""
        self.started.append(uid)
        self._running += 1
        self.most = max(self.most, self._running)
        end = self._ends[uid] = asyncio.Event()
        try:
            await end.wait()
        finally:
            self._running -= 1
        return self._delay

    def end(self, uid: str) -> None:
        self._ends.pop(uid).set()


def indexes() -> dict[str, Any]:
    """The kopf indexes a pool's daemon is called with: one account, no pools, policies or
    namespaces."""
    return {
        pools.ACCOUNT_INDEX: accounts(),
        pools.POOL_INDEX: {},
        POLICY_INDEX: {},
        NAMESPACE_INDEX: {},
    }


def loop(operator: OperatorState, raw: dict[str, Any]) -> tuple[Stopped, asyncio.Task[None]]:
    stopped = Stopped()
    task = asyncio.create_task(
        pool_loop(
            stopped=cast(kopf.DaemonStopped, stopped),
            body=kopf.Body(raw),
            memo=kopf.Memo(state=operator),
            logger=cast(kopf.Logger, None),
            **indexes(),
        )
    )
    return stopped, task


async def ready() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def bounded(clock: Clock, passes: int) -> OperatorState:
    config = RunConfig(concurrent_passes=passes)
    return OperatorState(config=config, kube=cast(KubeApi, object()), monotonic=clock)


async def test_pools_pass_a_bounded_number_at_once_in_their_order_of_arrival(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    passes = Passes(monkeypatch)
    operator = bounded(Clock(), 2)
    loops = [loop(operator, pool(uid)) for uid in "abcde"]
    await ready()
    assert passes.started == ["a", "b"]
    for uid in "abcde":
        passes.end(uid)
        await ready()
    # a's second pass queued behind e, which was waiting first: no pool starves.
    assert passes.started == ["a", "b", "c", "d", "e", "a", "b"]
    assert passes.most == 2
    for stopped, _ in loops:
        stopped.stop()
    passes.end("a")
    passes.end("b")
    await asyncio.gather(*(task for _, task in loops))


async def test_a_cancelled_pass_gives_its_turn_to_the_next_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    passes = Passes(monkeypatch)
    operator = bounded(Clock(), 1)
    (_, first), (stopped, second) = loop(operator, pool("a")), loop(operator, pool("b"))
    await ready()
    assert passes.started == ["a"]
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await ready()
    assert passes.started == ["a", "b"]
    stopped.stop()
    passes.end("b")
    await second


async def test_a_stopped_pool_waiting_its_turn_ends_without_a_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    passes = Passes(monkeypatch)
    operator = bounded(Clock(), 1)
    (stopped_a, first), (stopped_b, second) = loop(operator, pool("a")), loop(operator, pool("b"))
    await ready()
    stopped_b.stop()
    stopped_a.stop()
    passes.end("a")
    await asyncio.gather(first, second)
    assert passes.started == ["a"]


async def test_a_paused_pool_holds_no_turn_and_a_spec_change_wakes_it_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    passes = Passes(monkeypatch, delay=3600)
    operator, raw = bounded(Clock(), 1), pool("a")
    stopped_a, paused = loop(operator, raw)
    await ready()
    passes.end("a")
    await ready()
    stopped_b, other = loop(operator, pool("b"))
    await ready()
    assert passes.started == ["a", "b"]
    passes.end("b")
    await ready()
    raw["metadata"]["generation"] = 2
    await pool_wakeups(uid="a", body=kopf.Body(raw), memo=kopf.Memo(state=operator))
    await ready()
    assert passes.started == ["a", "b", "a"]
    stopped_a.stop()
    stopped_b.stop()
    passes.end("a")
    await asyncio.gather(paused, other)


async def test_a_namespace_change_wakes_the_pools_in_it() -> None:
    operator, index = state(Clock()), accounts()
    namespaces: dict[str, Any] = {"team": [{}], "other": [{}]}
    inside = Paused(operator, pool("a", namespace="team"), index, {}, namespaces)
    outside = Paused(operator, pool("b", namespace="other"), index, {}, namespaces)
    assert not await inside.settled()
    namespaces["team"] = [{"vmroll": "on"}]
    await namespace_event(name="team", memo=kopf.Memo(state=operator))
    assert await inside.settled()
    assert not await outside.settled()
    await outside.stop()


async def test_a_pool_at_rest_behind_its_groups_sentinel_pauses_until_its_views_are_due(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    operator = OperatorState(
        config=RunConfig(), kube=cast(KubeApi, object()), monotonic=Clock(), clock=lambda: now
    )
    woken: list[str] = []
    monkeypatch.setattr(operator.wakeups, "due", woken.append)
    resting = operator.listings.resting = RestingPools(operator.wakeups.due)
    group = ("connection", "rg")
    rest = AtRest((), ((), ()), (), now + timedelta(seconds=900), Outcome(Next.SETTLED))
    operator.memories["uid-1"] = PoolMemory(at_rest=rest)
    model = VirtualMachinePool.model_validate(pool_object())
    web, db = PoolIdentity("team", "web", "uid-1"), PoolIdentity("team", "db", "uid-0")
    resting.rest(group, "ubuntu", "uid-1", web, ((), ()))
    assert pools._settled_pause(operator, model) == RunConfig().resync_seconds  # the sentinel

    resting.rest(group, "ubuntu", "uid-0", db, ((), ()))
    resting.leave("uid-1")
    resting.rest(group, "ubuntu", "uid-1", web, ((), ()))
    assert woken == ["uid-0"]
    assert pools._settled_pause(operator, model) == 900

    async def full_pass(*args: object) -> tuple[PassResult, float]:
        operator.memories["uid-0"].at_rest = None
        return PassResult.SETTLED, 60.0

    operator.memories["uid-0"] = PoolMemory(at_rest=rest)
    monkeypatch.setattr(pools, "_run_pass", full_pass)
    await pools._one_pass(operator, kopf.Body(pool_body(uid="uid-0")), {}, None, {}, {})
    assert woken == ["uid-0", "uid-1"]  # the sentinel left the rest: the next one takes over
    assert resting.sentinel("uid-1")
