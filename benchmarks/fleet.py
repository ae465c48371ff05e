"""Issue 12's fleet figures: P pools x R VMs created at once, a version bump across all of them,
then a steady window, on the emulator with ARM's and Compute's throttling on.

Starts the stack as users run it (`DevStack`, `vmroll run` with its default flags) with the
built-in catalog changed in one way only: the quotas are raised so that every VM and its surge
fit (throttling, latencies and `timeScale` stay the built-in ones: ARM's per-principal buckets
and Compute's per-policy buckets are on). Phases:
- create: P pools from examples/local/pool.yaml, pinned to OLD, `replicas` R, RollingReplace
  with `maxSurge` R (the whole pool at once, so that Azure's buckets, not the strategy, bound
  the rollout), created through the Kubernetes API, `SENDERS` requests in flight at once; done
  when every pool is Ready=True for its generation and the emulator holds P x R Succeeded VMs.
- rollout (unless `--no-rollout`): after the write buckets had the time to fill again (the
  create phase spends Put VM's: a rollout measured right after it would start ~1,500 creates
  short of Azure's yardstick, which is a rollout long after the create), every pool patched to
  NEW at once; done when every pool is Ready for its new generation with `updatedReplicas` R
  and the emulator holds P x R Succeeded VMs, all on NEW.
- steady: `--steady-seconds` with nothing changed (0: no steady window).
Pools are followed by one watch (`PoolStates`), not listed: a list of 1,000 pools is 7.5 MB of
JSON, which cost the API server ~0.4 s and this process a parse every 2 s on the 2 cores the
fleet under test runs on.

Per phase it prints the wall time; the ideal set by the buckets (N operations of one kind need
(N - capacity) / refill seconds of each bucket they draw from — ARM's writes or deletes per
principal, Compute's Put VM or Delete VM per subscription and region — plus, after the slowest
bucket, the latencies that remain on one pool's path: create + minReadySeconds for the create
phase (a pool is Ready once its last VM is available), create + minReadySeconds + delete for the
rollout); creates and deletes started per 15 s against what their buckets allow (where writes
fell behind Azure's pace, where deletes lagged creates); the emulator's requests
(`/_emulator/requests`, by operation and status) and 429s by throttling policy
(`throttledByPolicy`); the pools' status writes the API server answered (its
`apiserver_request_total`), per VM and per second; the operator's CPU (utime + stime from
/proc/<pid>/stat, as % of one core over the phase) and RSS (VmRSS at the end, VmHWM the peak so
far); and the CPU of the emulator, kube-apiserver and etcd the same way, so that a machine at
its limit shows (2 cores = 200 %).
For the rollout, the delete lag: how long after a new VM became available its pool's next old
VM was deleted (`delete_lag`). For the steady window: ARM requests per pass (one pass of every
pool: requests x resync interval / window) and per pool.

    .venv/bin/python benchmarks/fleet.py [--pools 50] [--replicas 10] [--steady-seconds 180]
        [--no-rollout] [--timeout 3600] [--resync-interval SECONDS] [--invariants]
        [--metrics] [--py-spy BINARY] [--concurrent-passes N]

`--metrics` serves the operator's metrics (`vmroll run --metrics`) and prints, per phase, its
reconcile passes by how they ended with the median and 90th percentile of their duration (the
histogram's bucket bounds), the passes' waits for a turn by line and how long they held one, each
with its mean. `--concurrent-passes` is the operator's flag of that name (default 50).

`--invariants` registers an emulator invariant watch per pool before the rollout (at most
replicas + maxSurge VMs, none below replicas available, at most replicas live VMs of one
revision) and prints, after it, the creates and deletes per pool and every excursion.

`--py-spy BINARY` samples the operator with py-spy through the steady window (benchmarks/
_sampling.py) and prints the frames that hold the most of its CPU; the collapsed stacks are
kept in /tmp/vmroll-fleet-<pid>.collapsed.
"""

from __future__ import annotations

import argparse
import bisect
import copy
import math
import os
import statistics
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import _sampling
import yaml
from _stack import (
    NAMESPACE,
    Emulator,
    Pools,
    Requests,
    bench_stack,
    count_states,
    cpu_seconds,
    is_ready,
    load_average,
    memory_mib,
    operator_pid,
    pool_manifest,
    source_version,
    wait_operator_up,
)
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.watch import Watch
from prometheus_client.parser import text_string_to_metric_families

import vmroll
from vmroll.api.base import GROUP, VERSION
from vmroll.api.pool import PLURAL
from vmroll.devcluster.ports import free_port
from vmroll.devcluster.versions import ETCD, KUBE_APISERVER
from vmroll.devstack import stack
from vmroll.devstack.stack import DevStack
from vmroll.emulator.catalog import default_catalog_data, parse_catalog
from vmroll.handlers.run_config import RunConfig

OLD, NEW = "24.04.202609160", "24.04.202610220"
RAISED_QUOTA_VCPUS = 10_000_000
POLL_SECONDS = 2.0
"""How often the pools' states (kept by the watch) are looked at."""
OPERATIONS_READ_SECONDS = 60.0
STEADY_STEP_SECONDS = 60.0
SENDERS = 16
MIN_READY_SECONDS = 5
TICKS = os.sysconf("SC_CLK_TCK")
STARTUP_SECONDS = 300.0
"""How long the operator may take to serve its webhook: on a loaded 2-core machine it can take
more than the stack's default."""


def bench_catalog(directory: Path) -> tuple[Path, dict[str, Any]]:
    """The built-in catalog with quotas that fit the fleet; nothing else changed."""
    data = default_catalog_data()
    for subscription in data["subscriptions"]:
        for quota in subscription.get("quotas", {}).values():
            quota["totalRegionalCores"] = RAISED_QUOTA_VCPUS
            quota["families"] = {family: RAISED_QUOTA_VCPUS for family in quota.get("families", {})}
    path = directory / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, data


def emulator_pid(catalog: Path) -> int:
    """The `vmroll emulator serve` given this benchmark's catalog."""
    state = str(catalog)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [word.decode(errors="replace") for word in argv]
        if "serve" in words and "emulator" in words and state in words:
            return int(entry.name)
    raise SystemExit("the emulator's process was not found")


def watched_processes(dev: DevStack, catalog: Path) -> dict[str, int]:
    assert dev.control_plane is not None, "the stack runs its own control plane"
    files = dev.control_plane.files
    return {
        "operator": operator_pid(dev),
        "emulator": emulator_pid(catalog),
        KUBE_APISERVER: int(files.pid_file(KUBE_APISERVER).read_text()),
        ETCD: int(files.pid_file(ETCD).read_text()),
    }


@dataclass(frozen=True)
class Snapshot:
    at: float
    cpu: dict[str, float]
    requests: Requests
    throttled: dict[str, int]
    status_writes: int


def snapshot(processes: dict[str, int], emulator: Emulator, fleet: Fleet) -> Snapshot:
    return Snapshot(
        time.monotonic(),
        {name: cpu_seconds(pid) for name, pid in processes.items()},
        emulator.requests(),
        emulator.throttled_by_policy(),
        fleet.status_writes(),
    )


@dataclass(frozen=True)
class Phase:
    name: str
    seconds: float
    requests: Requests
    throttled: dict[str, int]
    cpu_percent: dict[str, float]
    rss: dict[str, float]
    done: bool
    status_writes: int


def phase(name: str, before: Snapshot, after: Snapshot, operator: int, done: bool) -> Phase:
    seconds = after.at - before.at
    throttled = {
        policy: count - before.throttled.get(policy, 0)
        for policy, count in after.throttled.items()
        if count != before.throttled.get(policy, 0)
    }
    cpu = {p: 100 * (after.cpu[p] - before.cpu[p]) / seconds for p in after.cpu}
    return Phase(
        name,
        seconds,
        after.requests - before.requests,
        throttled,
        cpu,
        memory_mib(operator),
        done,
        after.status_writes - before.status_writes,
    )


class PoolStates:
    """Whether each of the benchmark's pools is Ready for its generation and fully updated,
    kept by one watch of the namespace's pools on a thread of its own (listed again only when
    the watch's resourceVersion is gone)."""

    def __init__(self, api: client.CustomObjectsApi, names: Collection[str], replicas: int) -> None:
        self._api = api
        self._names = frozenset(names)
        self._replicas = replicas
        self._lock = threading.Lock()
        self._states: dict[str, tuple[bool, bool]] = {}
        self._watch = Watch()  # type: ignore[no-untyped-call]
        self._stopped = threading.Event()
        self._failure: BaseException | None = None
        threading.Thread(target=self._follow, name="pool-states", daemon=True).start()

    def counts(self, rolled: bool) -> int:
        """Pools Ready for their generation (and fully updated, when `rolled`)."""
        if self._failure is not None:
            raise RuntimeError("the watch of the pools failed") from self._failure
        with self._lock:
            return sum(
                ready and (updated or not rolled) for ready, updated in self._states.values()
            )

    def stop(self) -> None:
        self._stopped.set()
        self._watch.stop()  # type: ignore[no-untyped-call]

    def _follow(self) -> None:
        try:
            while not self._stopped.is_set():
                self._list_then_watch()
        except BaseException as error:
            if not self._stopped.is_set():
                self._failure = error

    def _list_then_watch(self) -> None:
        listed = cast(
            dict[str, Any],
            self._api.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL),
        )
        with self._lock:
            self._states = {}
            for pool in listed["items"]:
                self._keep(pool)
        events = self._watch.stream(  # type: ignore[no-untyped-call]
            self._api.list_namespaced_custom_object,
            GROUP,
            VERSION,
            NAMESPACE,
            PLURAL,
            resource_version=listed["metadata"]["resourceVersion"],
            allow_watch_bookmarks=True,
        )
        try:
            for event in events:
                if event["type"] == "BOOKMARK":
                    continue
                with self._lock:
                    if event["type"] == "DELETED":
                        self._states.pop(event["object"]["metadata"]["name"], None)
                    else:
                        self._keep(event["object"])
        except ApiException as error:
            if error.status != 410:  # Gone: the watch's resourceVersion is too old; list again
                raise

    def _keep(self, pool: dict[str, Any]) -> None:
        name = pool["metadata"]["name"]
        if name in self._names:
            status = pool.get("status") or {}
            updated = status.get("updatedReplicas") == self._replicas
            self._states[name] = (is_ready(pool), updated)


class Fleet:
    """The benchmark's pools, followed by one watch."""

    def __init__(self, dev: DevStack, emulator: Emulator, count: int, replicas: int) -> None:
        api_client = config.new_client_from_config(config_file=str(dev.kubeconfig))  # type: ignore[no-untyped-call]
        self._api = client.CustomObjectsApi(api_client)
        self._client = api_client
        self._emulator = emulator
        self.names = [f"fleet-{index:04d}" for index in range(count)]
        self.replicas = replicas
        self.webhook_timeouts = 0
        self.states = PoolStates(self._api, self.names, replicas)

    def create(self) -> None:
        strategy = {
            "type": "RollingReplace",
            "rollingUpdate": {"maxSurge": max(self.replicas, 1), "maxUnavailable": 0},
            "minReadySeconds": MIN_READY_SECONDS,
            "progressDeadlineSeconds": 3600,
        }
        template = pool_manifest("template", self.replicas, version=OLD, strategy=strategy)
        manifests = []
        for name in self.names:
            manifest = copy.deepcopy(template)
            manifest["metadata"]["name"] = name
            manifests.append(manifest)
        create = self._api.create_namespaced_custom_object
        self._all(partial(create, GROUP, VERSION, NAMESPACE, PLURAL, m) for m in manifests)

    def status_writes(self) -> int:
        """The pools' status writes the API server has answered so far (its own count,
        `apiserver_request_total`, every code): the load a fleet's passes put on it."""
        request = self._client.param_serialize(
            method="GET", resource_path="/metrics", auth_settings=["BearerToken"]
        )
        answer = self._client.call_api(*request)
        answer.read()
        text = answer.data.decode()
        return sum(
            int(float(line.rsplit(" ", 1)[1]))
            for line in text.splitlines()
            if line.startswith("apiserver_request_total{")
            and f'resource="{PLURAL}"' in line
            and 'subresource="status"' in line
            and 'verb="PATCH"' in line
        )

    def bump(self) -> None:
        patch = {"spec": {"image": {"marketplace": {"version": NEW}}}}
        change = self._api.patch_namespaced_custom_object
        self._all(partial(change, GROUP, VERSION, NAMESPACE, PLURAL, n, patch) for n in self.names)

    def _all(self, calls: Iterable[Callable[[], object]]) -> None:
        """`SENDERS` requests in flight at once, as many clients applying a fleet would."""
        with ThreadPoolExecutor(SENDERS) as senders:
            for _ in senders.map(self._admitted, calls):
                pass

    def _admitted(self, call: Callable[[], object]) -> None:
        """The admission webhook is served by the operator under test: when it does not answer
        within the API server's timeout, the request is sent again (and counted)."""
        while True:
            try:
                call()
                return
            except ApiException as error:
                if error.status != 500 or "failed calling webhook" not in str(error.body):
                    raise
                self.webhook_timeouts += 1
                time.sleep(1.0)

    def settled(self, rolled: bool) -> tuple[int, str]:
        """How many pools are Ready for their generation (and fully updated, when `rolled`)."""
        ready = self.states.counts(rolled)
        return ready, f"{ready}/{len(self.names)} pools"

    def uids(self) -> dict[str, str]:
        listed = cast(
            dict[str, Any],
            self._api.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL),
        )
        return {
            p["metadata"]["name"]: p["metadata"]["uid"]
            for p in listed["items"]
            if p["metadata"]["name"] in self.names
        }

    def watch(self) -> None:
        """An invariant watch per pool: at most replicas + maxSurge VMs, none below replicas
        available (maxUnavailable 0), at most replicas live VMs of one revision."""
        for name, uid in self.uids().items():
            self._emulator.watch(
                {
                    "name": name,
                    "selector": {"vmroll.io_pool-uid": uid},
                    "maxOwned": self.replicas + max(self.replicas, 1),
                    "minAvailable": self.replicas,
                    "replicas": self.replicas,
                }
            )

    def vms_on(self, version: str) -> tuple[bool, str]:
        vms = self._emulator.vms()
        states = count_states(vms)
        expected = len(self.names) * self.replicas
        done = states.get(f"Succeeded/{version}", 0) == expected and len(vms) == expected
        return done, f"emulator {dict(states)}"


class OperationLog:
    """Every long-running operation the emulator started, kept here as it answered them: the
    emulator keeps only its last 10,000 (`vmroll.emulator.lro.KEPT_OPERATIONS`), fewer than a
    1,000 x 10 rollout starts, so a phase's timeline read at its end alone would begin half-way
    through it. Read once a minute (16 writes a second at most: well within what it keeps), and
    once more when asked."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._seen: dict[str, dict[str, Any]] = {}
        self._read_at = -math.inf

    def __call__(self) -> list[dict[str, Any]]:
        self.read()
        return list(self._seen.values())

    def read(self) -> None:
        for operation in self._emulator.operations():
            self._seen[operation["operation_id"]] = operation
        self._read_at = time.monotonic()

    def read_if_due(self) -> None:
        if time.monotonic() - self._read_at >= OPERATIONS_READ_SECONDS:
            self.read()


def wait_settled(
    fleet: Fleet,
    rolled: bool,
    version: str,
    deadline: float,
    progress: Callable[[str], None],
    operations: OperationLog,
) -> bool:
    last = ""
    while time.monotonic() < deadline:
        operations.read_if_due()
        ready, line = fleet.settled(rolled)
        if ready == len(fleet.names):
            done, vms = fleet.vms_on(version)
            if done:
                return True
            line = f"{line}; {vms}"
        if line != last:
            progress(line)
            last = line
        time.sleep(POLL_SECONDS)
    return False


def steady(
    processes: dict[str, int],
    emulator: Emulator,
    operator: int,
    before: Snapshot,
    seconds: float,
    progress: Callable[[str], None],
    fleet: Fleet,
) -> Snapshot:
    """The steady window, with a line a minute: the operator's CPU and the instance views and
    list pages in that minute, which show when pools' passes are full ones (views refreshed)."""
    end = before.at + seconds
    last = before
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(STEADY_STEP_SECONDS, left))
        now = snapshot(processes, emulator, fleet)
        minute = phase("steady", last, now, operator, True)
        progress(
            f"steady: operator {minute.cpu_percent['operator']:.1f}%, "
            f"instance views {minute.requests.total('VirtualMachines_InstanceView')}, "
            f"list pages {minute.requests.total('VirtualMachines_List')}"
        )
        last = now
    return last


def steady_window(
    processes: dict[str, int],
    emulator: Emulator,
    fleet: Fleet,
    resync: float,
    args: argparse.Namespace,
    progress: Callable[[str], None],
) -> None:
    """The steady window and its report, sampled with py-spy when asked; only for a window of
    some length (`--steady-seconds 0` skips it: its figures are per second)."""
    operator = processes["operator"]
    before = snapshot(processes, emulator, fleet)
    stacks = Path(f"/tmp/vmroll-fleet-{os.getpid()}.collapsed")
    sampler = None
    if args.py_spy:
        sampler = _sampling.sample(args.py_spy, operator, args.steady_seconds, stacks)
    after = steady(processes, emulator, operator, before, args.steady_seconds, progress, fleet)
    report(phase("steady", before, after, operator, True), fleet, resync, None)
    if sampler is not None:
        sampler.wait()
        lines = stacks.read_text().splitlines() if stacks.exists() else []
        _sampling.print_summary(_sampling.summary(lines), args.steady_seconds)
        print(f"  collapsed stacks: {stacks}")


def bucket_seconds(operations: int, bucket: dict[str, Any]) -> float:
    """How long `operations` take from a full bucket: (N - capacity) / refill."""
    return max(0.0, (operations - float(bucket["capacity"])) / refill_per_second(bucket))


def ideal(catalog: dict[str, Any], creates: int, deletes: int, tail: float) -> tuple[float, str]:
    throttling = catalog["throttling"]
    compute = throttling["compute"]
    bounds = {
        "ARM writes": bucket_seconds(creates, throttling["writes"]),
        "ARM deletes": bucket_seconds(deletes, throttling["deletes"]),
        "Compute PutVM": bucket_seconds(creates, compute["PutVM"]["subscription"]),
        "Compute DeleteVM": bucket_seconds(deletes, compute["DeleteVM"]["subscription"]),
    }
    slowest = max(bounds, key=lambda name: bounds[name])
    formula = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in bounds.items())
    binding = f"{slowest} bucket" if bounds[slowest] else "no bucket (bursts cover it)"
    return bounds[slowest] + tail, f"{binding} + {tail:.1f}s of latency ({formula})"


def report(
    result: Phase, fleet: Fleet, resync: float, ideal_line: tuple[float, str] | None
) -> None:
    state = "" if result.done else " (NOT DONE: timed out)"
    print(f"\n== {result.name}: {result.seconds:.1f}s{state}", flush=True)
    if ideal_line is not None:
        seconds, formula = ideal_line
        print(f"  ideal {seconds:.1f}s = {formula}; ratio {result.seconds / seconds:.2f}")
    arm = result.requests.arm_total()
    writes = result.requests.writes().arm_total()
    vms = len(fleet.names) * fleet.replicas
    print(f"  ARM requests {arm} (writes {writes}, {writes / max(vms, 1):.2f} per VM)")
    if result.name == "steady":
        per_pass = arm * resync / result.seconds
        print(
            f"  ARM requests per pass (every pool once, resync {resync:.0f}s) {per_pass:.0f}; "
            f"per pool {per_pass / len(fleet.names):.2f}"
        )
    print(f"  429s by policy {result.throttled or 'none'}")
    written = result.status_writes
    print(
        f"  pool status writes {written} ({written / max(vms, 1):.2f} per VM, "
        f"{written / result.seconds:.1f} a second)"
    )
    cpu = ", ".join(f"{name} {percent:.1f}%" for name, percent in result.cpu_percent.items())
    print(f"  CPU (% of one core) {cpu}")
    print(f"  operator VmRSS {result.rss['VmRSS']:.0f} MiB, VmHWM {result.rss['VmHWM']:.0f} MiB")
    print("  requests (operation, total, by status):")
    for line in result.requests.lines():
        print(f"  {line}")


def refill_per_second(bucket: dict[str, Any]) -> float:
    return float(bucket.get("refillPerSecond") or bucket["refillPerMinute"] / 60)


def write_buckets(catalog: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The buckets each kind of emulator operation draws on: ARM's writes or deletes, and
    Compute's Put VM or Delete VM per subscription and region."""
    throttling = catalog["throttling"]
    compute = throttling["compute"]
    return {
        "vm.create": [throttling["writes"], compute["PutVM"]["subscription"]],
        "vm.delete": [throttling["deletes"], compute["DeleteVM"]["subscription"]],
    }


def refill_seconds(catalog: dict[str, Any]) -> float:
    """How long the write buckets take to fill from empty: a rollout measured from there is
    measured as one started long after the fleet was created."""
    buckets = [b for kind in write_buckets(catalog).values() for b in kind]
    return max(float(b["capacity"]) / refill_per_second(b) for b in buckets)


def timeline(
    operations: OperationLog, catalog: dict[str, Any], since: float, window: float = 15.0
) -> None:
    """Creates and deletes the emulator started per `window` seconds after `since` (its clock),
    each against what its buckets allow by then (capacity, then refill; the smaller binds):
    where the writes fell behind the buckets, where deletes lagged creates, and the tail."""
    kinds = write_buckets(catalog)
    started = [o for o in operations() if o["started"] > since]
    starts = {kind: sorted(o["started"] for o in started if o["kind"] == kind) for kind in kinds}
    shown = [kind for kind in kinds if starts[kind]]
    if not shown:
        return
    first = min(starts[kind][0] for kind in shown)

    def allowed(kind: str, seconds: float) -> float:
        return min(float(b["capacity"]) + seconds * refill_per_second(b) for b in kinds[kind])

    names = "; ".join(f"{kind.removeprefix('vm.')}s" for kind in shown)
    print(f"  {names} started per {window:g}s (cumulative; what the buckets allow by then):")
    edge = window
    last = max(starts[kind][-1] for kind in shown) - first
    while edge < last + window:
        cells = []
        for kind in shown:
            upto = bisect.bisect_left(starts[kind], first + edge)
            before = bisect.bisect_left(starts[kind], first + edge - window)
            cells.append(f"{upto - before:5d} ({upto:5d}; {allowed(kind, edge):6.0f})")
        print(f"    {edge:6.0f}s " + "   ".join(cells))
        edge += window
    for kind in shown:
        name = kind.removeprefix("vm.")
        print(f"  last {name} started {starts[kind][-1] - first:.1f}s after the first write")


def per_pool(fleet: Fleet, emulator: Emulator, operations: OperationLog, since: float) -> None:
    """Creates and deletes per pool (operations the emulator started after `since`, its clock)
    and each pool's invariant record: which pools made VMs beyond the plan, and whether any
    exceeded replicas + maxSurge or made a second live VM of one revision."""
    made: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    for operation in operations():
        if operation["started"] <= since:
            continue
        pool = operation["target"].rsplit("/", 1)[-1].rsplit("-", 2)[0]
        if operation["kind"] == "vm.create":
            made[pool] += 1
        elif operation["kind"] == "vm.delete":
            removed[pool] += 1
    extra = {pool: n for pool, n in sorted(made.items()) if n != fleet.replicas}
    print(f"  creates per pool other than {fleet.replicas}: {extra or 'none'}")
    print(f"  deletes per pool: {dict(Counter(removed.values()))} (count of pools by deletes)")
    for watch in emulator.invariants():
        kinds = Counter(v["kind"] for v in watch["violations"])
        if kinds or watch["peakOwned"] > fleet.replicas * 2:
            print(f"  {watch['name']}: peakOwned {watch['peakOwned']}, violations {dict(kinds)}")
            for violation in watch["violations"][:4]:
                print(f"    {violation}")
    peaks = [w["peakOwned"] for w in emulator.invariants()]
    print(f"  peakOwned over pools: max {max(peaks, default=0)}; by peak {dict(Counter(peaks))}")


def delete_lag(operations: OperationLog, since: float, min_ready: float) -> None:
    """How long each pool left an old VM standing once a new one allowed its delete: per pool,
    the k-th delete started (emulator's clock) less the k-th create's end plus minReadySeconds
    (with maxUnavailable 0, each new VM available lets one old VM go). Seconds over every
    delete of the rollout: where the passes, not the buckets, held deletes back."""
    ended: defaultdict[str, list[float]] = defaultdict(list)
    deletes: defaultdict[str, list[float]] = defaultdict(list)
    for operation in operations():
        if operation["started"] <= since:
            continue
        pool = operation["target"].rsplit("/", 1)[-1].rsplit("-", 2)[0]
        if operation["kind"] == "vm.create" and operation["ended"] is not None:
            ended[pool].append(operation["ended"] + min_ready)
        elif operation["kind"] == "vm.delete":
            deletes[pool].append(operation["started"])
    lags = sorted(
        start - available
        for pool, starts in deletes.items()
        for start, available in zip(sorted(starts), sorted(ended[pool]), strict=False)
    )
    if not lags:
        return
    quantiles = statistics.quantiles(lags, n=10) if len(lags) > 1 else lags * 9
    print(
        f"  delete lag (delete started - its new VM available), {len(lags)} deletes: "
        f"median {statistics.median(lags):.1f}s, p90 {quantiles[-1]:.1f}s, max {lags[-1]:.1f}s"
    )


@dataclass
class Histogram:
    """One series of a Prometheus histogram: cumulative counts by upper bound (`le`, seconds)
    and the sum of what was observed."""

    buckets: dict[float, float]
    total: float = 0.0

    def since(self, before: Histogram | None) -> Histogram:
        if before is None:
            return self
        buckets = {le: n - before.buckets.get(le, 0.0) for le, n in sorted(self.buckets.items())}
        return Histogram(buckets, self.total - before.total)


Passes = dict[str, Histogram]
"""The operator's histograms of passes and their turns, by what they measure: `passes <result>`
(vmroll_reconcile_duration_seconds), `turn waits <line>` (vmroll_pass_turn_wait_seconds) and
`turns held` (vmroll_pass_turn_held_seconds)."""

SERIES = {
    "vmroll_reconcile_duration_seconds": ("passes", "result"),
    "vmroll_pass_turn_wait_seconds": ("turn waits", "line"),
    "vmroll_pass_turn_held_seconds": ("turns held", None),
}


def scrape_passes(url: str | None) -> Passes:
    """The operator's histograms of passes and turns, served by `--metrics`."""
    if url is None:
        return {}
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    passes: Passes = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            base, _, part = sample.name.rpartition("_")
            if base not in SERIES or part not in ("bucket", "sum"):
                continue
            what, label = SERIES[base]
            key = what if label is None else f"{what} {sample.labels[label]}"
            series = passes.setdefault(key, Histogram({}))
            if part == "sum":
                series.total = sample.value
            else:
                series.buckets[float(sample.labels["le"])] = sample.value
    return passes


def pass_figures(before: Passes, after: Passes) -> None:
    """Passes in the phase by how they ended, with the bucket bounds their median and 90th
    percentile of duration fall in (from the turn taken to the pass's end, its lent waits
    included); then the waits for a turn, by line, and how long a turn was held, up to the pass's
    end or a lend, with their mean."""
    for key, series in sorted(after.items()):
        counts = series.since(before.get(key))
        total = counts.buckets.get(math.inf, 0.0)
        if total <= 0:
            continue

        def quantile(q: float, counts: Histogram = counts, total: float = total) -> str:
            bound = next(le for le, n in counts.buckets.items() if n >= q * total)
            return f"<= {bound:g}s" if bound != math.inf else "> 120s"

        print(
            f"  {key}: {total:.0f}, median {quantile(0.5)}, p90 {quantile(0.9)}, "
            f"mean {counts.total / total:.2f}s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=50)
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--steady-seconds", type=float, default=180.0)
    parser.add_argument("--no-rollout", action="store_true", help="create, then steady")
    parser.add_argument("--timeout", type=float, default=3600.0, help="per phase, seconds")
    parser.add_argument(
        "--resync-interval",
        type=float,
        help="the operator's `--resync-interval` (seconds); a long one leaves only the loop's "
        "own cost in the steady window",
    )
    parser.add_argument(
        "--py-spy",
        metavar="BINARY",
        help="sample the operator with this py-spy through the steady window and print where "
        "its CPU goes",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="serve the operator's metrics and print its passes per phase, by how they ended, "
        "with their duration's median and 90th percentile, and their waits for turns",
    )
    parser.add_argument(
        "--concurrent-passes",
        type=int,
        help="the operator's `--concurrent-passes` (how many pools pass at once)",
    )
    parser.add_argument(
        "--invariants",
        action="store_true",
        help="watch each pool's VMs in the emulator during the rollout (replicas + maxSurge, "
        "one live VM per slot) and print creates, deletes and violations per pool",
    )
    args = parser.parse_args()
    stack.WEBHOOK_READY_TIMEOUT_SECONDS = max(stack.WEBHOOK_READY_TIMEOUT_SECONDS, STARTUP_SECONDS)
    resync = args.resync_interval or RunConfig().resync_seconds
    operator_args = [] if args.resync_interval is None else ["--resync-interval", str(resync)]
    if args.concurrent_passes is not None:
        operator_args += ["--concurrent-passes", str(args.concurrent_passes)]
    metrics = None
    if args.metrics:
        port = free_port()
        operator_args += ["--metrics", f"127.0.0.1:{port}"]
        metrics = f"http://127.0.0.1:{port}/metrics"
    vms = args.pools * args.replicas

    print(f"{source_version()}; operator source {Path(vmroll.__file__).parent}; {load_average()}")
    print(f"{args.pools} pools x {args.replicas} VMs = {vms} VMs; resync {resync:g}s", flush=True)
    with tempfile.TemporaryDirectory() as temporary:
        catalog_path, catalog = bench_catalog(Path(temporary))
        with bench_stack(catalog_path, operator_args=operator_args) as dev:
            emulator = Emulator(dev.credentials)
            wait_operator_up(Pools(dev.kubeconfig))
            processes = watched_processes(dev, catalog_path)
            operator = processes["operator"]
            print(f"processes {processes}; operator {memory_mib(operator)}", flush=True)
            fleet = Fleet(dev, emulator, args.pools, args.replicas)
            parsed = parse_catalog(catalog, str(catalog_path))
            create = parsed.latencies.create * parsed.time_scale
            delete = parsed.latencies.delete * parsed.time_scale
            started = time.monotonic()
            operations = OperationLog(emulator)

            def progress(line: str) -> None:
                print(f"  {time.monotonic() - started:7.1f}s {line}", flush=True)

            before = snapshot(processes, emulator, fleet)
            at_start = scrape_passes(metrics)
            fleet.create()
            progress(f"{args.pools} pools created ({fleet.webhook_timeouts} webhook timeouts)")
            done = wait_settled(
                fleet, False, OLD, time.monotonic() + args.timeout, progress, operations
            )
            after = snapshot(processes, emulator, fleet)
            report(
                phase("create", before, after, operator, done),
                fleet,
                resync,
                ideal(catalog, vms, 0, create + MIN_READY_SECONDS),
            )
            timeline(operations, catalog, since=float("-inf"))
            at_created = scrape_passes(metrics)
            pass_figures(at_start, at_created)
            if not args.no_rollout and done:
                rest = refill_seconds(catalog)
                progress(f"resting {rest:.0f}s: the write buckets fill again before the rollout")
                time.sleep(rest)
                started = time.monotonic()
                before = snapshot(processes, emulator, fleet)
                at_bump = scrape_passes(metrics)
                if args.invariants:
                    fleet.watch()
                since = max((o["started"] for o in operations()), default=0.0)
                fleet.bump()
                progress(f"patched to {NEW} ({fleet.webhook_timeouts} webhook timeouts in all)")
                done = wait_settled(
                    fleet, True, NEW, time.monotonic() + args.timeout, progress, operations
                )
                after = snapshot(processes, emulator, fleet)
                tail = create + MIN_READY_SECONDS + delete
                result = phase("rollout", before, after, operator, done)
                report(result, fleet, resync, ideal(catalog, vms, vms, tail))
                timeline(operations, catalog, since)
                delete_lag(operations, since, MIN_READY_SECONDS)
                pass_figures(at_bump, scrape_passes(metrics))
                if args.invariants:
                    per_pool(fleet, emulator, operations, since)
            if args.steady_seconds > 0:
                steady_window(processes, emulator, fleet, resync, args, progress)
            fleet.states.stop()
            print(f"\n{load_average()}")


if __name__ == "__main__":
    main()
