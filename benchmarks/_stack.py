"""What the pool benchmarks share: the local stack as users run it, and ways to read it.

`bench_stack` starts `vmroll.devstack.stack.DevStack` (control plane, `vmroll emulator serve`,
CRDs, the `emulator` AzureAccount, `vmroll run`) in a throwaway `VMROLL_STATE_DIR`, with the
children's output in a log file so that the benchmark's table stays readable. `Emulator` reads
the emulator's admin API (`/_emulator/...`, HTTPS with the emulator's CA and its admin token);
`Pools` reads VirtualMachinePools through the Kubernetes API without a kubectl process per poll,
which on a 2-core machine would take CPU from the operator being measured.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from vmroll.api.account import PLURAL as ACCOUNT_PLURAL
from vmroll.api.base import GROUP, VERSION
from vmroll.api.pool import PLURAL
from vmroll.devcluster.paths import STATE_DIR_VARIABLE
from vmroll.devstack.stack import DevStack, DevStackError

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_POOL = REPO / "examples" / "local" / "pool.yaml"
NAMESPACE = "default"
WRITE_SUFFIXES = (
    "_CreateOrUpdate", "_Create", "_Update", "_Delete", "_Reimage",
    "_Start", "_PowerOff", "_Deallocate", "_Restart",
)  # fmt: skip
"""ARM operation names (the emulator counts by operationId) that change something."""


@contextmanager
def _children_output_to(log: Path) -> Iterator[None]:
    """Point fds 1 and 2 at `log` while children are spawned; they keep it, we get ours back."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with log.open("ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


@contextmanager
def bench_stack(
    catalog: Path | None = None,
    run_operator: bool = True,
    operator_args: Sequence[str] = (),
    *,
    with_node: bool = False,
) -> Iterator[DevStack]:
    """The local stack in a throwaway state directory; the operator's log goes to a file.
    Without `run_operator`, the benchmark starts its own operators (`spawn_vmroll`) or installs
    one as a pod; `operator_args` are added to the operator's `vmroll run`; `with_node`: a node
    runs too, so that pods do."""
    # A benchmark run in the background ignores SIGINT; SIGTERM must still stop the stack.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with ExitStack() as stack:
        state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vmroll-bench-")))
        previous = os.environ.get(STATE_DIR_VARIABLE)
        os.environ[STATE_DIR_VARIABLE] = str(state)
        stack.callback(_restore_env, STATE_DIR_VARIABLE, previous)
        log = bench_log()
        print(f"starting the local stack (children's output: {log})", flush=True)
        started = time.monotonic()
        with _children_output_to(log):
            dev = stack.enter_context(
                DevStack(
                    catalog=catalog,
                    run_operator=run_operator,
                    operator_args=operator_args,
                    with_node=with_node,
                    report=lambda _line: None,
                )
            )
        print(f"stack up in {time.monotonic() - started:.1f}s", flush=True)
        yield dev


def bench_log() -> Path:
    return Path(tempfile.gettempdir()) / f"vmroll-bench-{os.getpid()}.log"


def spawn_vmroll(dev: DevStack, *args: str) -> subprocess.Popen[bytes]:
    """`vmroll ARGS` against the stack's cluster, its output appended to the benchmark's log."""
    with bench_log().open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "vmroll.cli", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "KUBECONFIG": str(dev.kubeconfig)},
        )


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def operator_pid(dev: DevStack) -> int:
    assert dev.operator is not None, "the stack runs the operator"
    return dev.operator.pid


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in MiB."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found


@dataclass(frozen=True)
class Requests:
    """One snapshot of the emulator's request counters: operation -> status -> count."""

    by_operation: Mapping[str, Mapping[str, int]]

    def total(self, operation: str) -> int:
        return sum(self.by_operation.get(operation, {}).values())

    def __sub__(self, earlier: Requests) -> Requests:
        delta: dict[str, dict[str, int]] = {}
        for operation, statuses in self.by_operation.items():
            before = earlier.by_operation.get(operation, {})
            changed = {s: n - before.get(s, 0) for s, n in statuses.items() if n != before.get(s)}
            if changed:
                delta[operation] = changed
        return Requests(delta)

    def arm_total(self) -> int:
        """ARM requests, without the token endpoint (which is Entra's, not ARM's)."""
        return sum(self.total(op) for op in self.by_operation if op != "Identity_Token")

    def writes(self) -> Requests:
        """Only the operations that change something."""
        return Requests(
            {op: st for op, st in self.by_operation.items() if op.endswith(WRITE_SUFFIXES)}
        )

    def lines(self) -> list[str]:
        return [
            f"  {op:<40} {self.total(op):>5}  {dict(sorted(statuses.items()))}"
            for op, statuses in sorted(self.by_operation.items())
        ]


class Emulator:
    """The emulator's admin API, over HTTPS with the emulator's own CA."""

    def __init__(self, credentials: Mapping[str, Any]) -> None:
        self._base = str(credentials["resourceManagerEndpoint"]).rstrip("/")
        self._tls = ssl.create_default_context(cafile=str(credentials["caBundle"]))
        self._authorization = f"Bearer {credentials['adminToken']}"

    def _call(self, method: str, path: str, body: object = None) -> Any:
        headers = {"Authorization": self._authorization}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            f"{self._base}/_emulator/{path}", data=data, method=method, headers=headers
        )
        with urllib.request.urlopen(request, context=self._tls, timeout=30) as response:
            return json.load(response)

    def requests(self) -> Requests:
        snapshot = self._call("GET", "requests")
        return Requests({op: dict(body["byStatus"]) for op, body in snapshot["operations"].items()})

    def throttled_by_policy(self) -> dict[str, int]:
        """429s served since the counters were reset, per throttling policy (ARM's per-principal
        buckets as `ARM/subscription-reads|writes|deletes`, Compute's as
        `Microsoft.Compute/<policy>`)."""
        return dict(self._call("GET", "requests")["throttledByPolicy"])

    def vms(self) -> list[dict[str, Any]]:
        vms: list[dict[str, Any]] = self._call("GET", "vms")["value"]
        return vms

    def operations(self) -> list[dict[str, Any]]:
        """Every long-running operation the emulator started: kind, target VM, status."""
        operations: list[dict[str, Any]] = self._call("GET", "operations")["value"]
        return operations

    def watch(self, spec: Mapping[str, Any]) -> None:
        """Register an invariant watch (vmroll.emulator.invariants) on one pool's VMs."""
        self._call("POST", "invariants", spec)

    def invariants(self) -> list[dict[str, Any]]:
        watches: list[dict[str, Any]] = self._call("GET", "invariants")["watches"]
        return watches


def pool_vms(vms: list[dict[str, Any]], uid: str) -> list[dict[str, Any]]:
    """The VMs carrying the pool's UID tag."""
    return [vm for vm in vms if vm["tags"].get("vmroll.io_pool-uid") == uid]


def pool_manifest(
    name: str,
    replicas: int,
    *,
    version: str | None = None,
    strategy: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """examples/local/pool.yaml, renamed and resized; a pinned version when one is given."""
    manifest: dict[str, Any] = yaml.safe_load(EXAMPLE_POOL.read_text())
    manifest["metadata"] = {"name": name, "namespace": NAMESPACE}
    spec = manifest["spec"]
    spec["replicas"] = replicas
    if version is not None:
        spec["image"]["marketplace"]["version"] = version
        spec["updatePolicy"]["track"] = "Pinned"
    if strategy is not None:
        spec["strategy"].update(strategy)
    return manifest


def manifest_file(manifest: Mapping[str, Any], workdir: Path) -> Path:
    path = workdir / f"{manifest['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(dict(manifest), sort_keys=False))
    return path


def apply(dev: DevStack, manifest: Mapping[str, Any], workdir: Path) -> None:
    dev.kubectl_run("apply", "-f", str(manifest_file(manifest, workdir)))


def apply_until_admitted(dev: DevStack, path: Path, *, seconds: float) -> None:
    """`kubectl apply -f path`, again while some of it is refused: on a loaded machine the
    operator's admission webhook can miss its 5 s (the refused objects are not created)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            dev.kubectl_run("apply", "-f", str(path))
            return
        except DevStackError as error:
            if time.monotonic() > deadline:
                raise SystemExit(f"still refused: {error}") from None
            print(f"  refused, applying again: ...{str(error)[-160:]}", flush=True)
            time.sleep(2.0)


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Pools:
    """VirtualMachinePools read through the Kubernetes API from this process."""

    def __init__(self, kubeconfig: Path) -> None:
        api_client = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        self._api = client.CustomObjectsApi(api_client)

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            pool = self._api.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return _as_object(pool)

    def delete(self, name: str) -> None:
        self._api.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)

    def account(self, name: str) -> dict[str, Any]:
        return _as_object(self._api.get_cluster_custom_object(GROUP, VERSION, ACCOUNT_PLURAL, name))


def _as_object(value: object) -> dict[str, Any]:
    """The client returns custom objects as untyped JSON."""
    assert isinstance(value, dict)
    return value


def is_ready(resource: Mapping[str, Any] | None) -> bool:
    """Ready=True for the resource's current generation."""
    if resource is None:
        return False
    generation = resource["metadata"].get("generation")
    status = resource.get("status") or {}
    ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)
    return (
        ready is not None
        and ready["status"] == "True"
        and ready.get("observedGeneration", status.get("observedGeneration")) == generation
    )


def wait_until(what: str, done: Callable[[], bool], timeout: float, interval: float = 0.2) -> float:
    """Poll `done` until true; the monotonic instant it first was. Raises after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        if done():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done after {timeout:.0f}s")
        time.sleep(interval)


def delete_and_wait(pools: Pools, emulator: Emulator, name: str, timeout: float = 180.0) -> None:
    """Delete the pool and wait until it and its VMs are gone."""
    pool = pools.get(name)
    assert pool is not None
    uid = pool["metadata"]["uid"]
    pools.delete(name)
    wait_until(
        f"pool {name} and its VMs gone",
        lambda: pools.get(name) is None and not pool_vms(emulator.vms(), uid),
        timeout,
        interval=0.5,
    )


def conditions_line(pool: Mapping[str, Any] | None) -> str:
    """The pool's conditions, one line, for reporting a pool that did not converge."""
    if pool is None:
        return "pool not found"
    status = pool.get("status") or {}
    return "; ".join(
        f"{c['type']}={c['status']} {c.get('reason', '')}: {c.get('message', '')}"
        for c in status.get("conditions", [])
    )


def count_states(vms: list[dict[str, Any]]) -> Counter[str]:
    return Counter(f"{vm['provisioningState']}/{vm['exactVersion']}" for vm in vms)


def wait_operator_up(pools: Pools) -> None:
    """The operator has started and checked the `emulator` account's credentials."""
    wait_until("the emulator AzureAccount Ready", lambda: is_ready(pools.account("emulator")), 120)


def source_version() -> str:
    """The commit measured, and whether the operator's source differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--", "operator")
    return f"commit {git('rev-parse', '--short', 'HEAD')}" + (
        " (operator/ has uncommitted changes)" if dirty else ""
    )


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} CPUs"
