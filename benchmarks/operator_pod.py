"""issue 8 item 8: vmroll as a pod on the local node, from `up` to a Ready pool, and teardown.

Starts the local stack as `vmroll dev` does, but with a node and without the operator process
(`DevStack(with_node=True, run_operator=False)`: control plane, node, emulator, CRDs, the
`emulator` AzureAccount), in a throwaway `VMROLL_STATE_DIR`. Then imports the image archive
(`vmroll image build`, from its cache when nothing changed), `helm install`s the chart with host
networking (see the devcluster README), and times each step: stack up (the node's own Ready
time is in the children's log), image import, `helm install` -> operator pod Ready,
`kubectl apply` of `examples/local/pool.yaml` -> pool Ready, and the stack's teardown.

    .venv/bin/python benchmarks/operator_pod.py
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml
from _stack import EXAMPLE_POOL, NAMESPACE, bench_stack

from vmroll.chart.helm import ensure_helm
from vmroll.devcluster.ports import free_port
from vmroll.devstack.stack import DevStack
from vmroll.imagebuild.build import build_image

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "charts" / "vmroll"
RELEASE, RELEASE_NAMESPACE = "vmroll", "vmroll-system"
TIMEOUT_SECONDS = 300.0


def _wait(what: str, done: Callable[[], bool]) -> float:
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > TIMEOUT_SECONDS:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)
    return time.monotonic() - started


def _pod_ready(dev: DevStack) -> bool:
    pods = json.loads(dev.kubectl_run("get", "pods", "-n", RELEASE_NAMESPACE, "-o", "json"))
    return any(
        condition["type"] == "Ready" and condition["status"] == "True"
        for pod in pods["items"]
        for condition in pod.get("status", {}).get("conditions", [])
    )


def _pool_ready(dev: DevStack, name: str) -> bool:
    pool: dict[str, Any] = json.loads(
        dev.kubectl_run("get", "vmpool", "-n", NAMESPACE, name, "-o", "json")
    )
    status = pool.get("status", {})
    ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
    current = status.get("observedGeneration") == pool["metadata"]["generation"]
    return current and bool(ready) and ready[0]["status"] == "True"


def _values(dev: DevStack, path: Path) -> Path:
    assert dev.control_plane is not None
    path.write_text(yaml.safe_dump({
        # The stack applied the CRDs (and the namespace) already, as `vmroll dev` does.
        "crds": {"install": False},
        "hostNetwork": True,
        # The emulator is a custom endpoint; the stack put the account's Secret in vmroll-system.
        "azure": {"allowCustomEndpoints": True},
        "health": {"port": free_port()},
        "metrics": {"port": free_port()},
        "extraEnv": [
            {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
            {"name": "KUBERNETES_SERVICE_PORT", "value": str(dev.control_plane.ports.apiserver)},
        ],
    }))  # fmt: skip
    return path


def main() -> None:
    figures: dict[str, float] = {}
    started = time.monotonic()
    image = build_image(report=lambda _line: None)
    figures["image archive (cached)" if image.cached else "image archive (built)"] = (
        time.monotonic() - started
    )
    helm = str(ensure_helm(report=lambda _line: None))
    with ExitStack() as stack, tempfile.TemporaryDirectory() as work:
        started = time.monotonic()
        dev = stack.enter_context(bench_stack(run_operator=False, with_node=True))
        figures["stack up with the node (control plane, node, emulator, CRDs)"] = (
            time.monotonic() - started
        )
        assert dev.control_plane is not None
        started = time.monotonic()
        dev.control_plane.node.import_image(image.archive)
        figures["image import into containerd"] = time.monotonic() - started
        kube = ["--kubeconfig", str(dev.kubeconfig)]
        started = time.monotonic()
        installed = subprocess.run(
            [helm, *kube, "install", RELEASE, str(CHART), "-n", RELEASE_NAMESPACE,
             "--values", str(_values(dev, Path(work) / "values.yaml"))],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if installed.returncode != 0:
            raise SystemExit(f"helm install failed:\n{installed.stderr}")
        _wait("the operator pod", lambda: _pod_ready(dev))
        figures["helm install -> operator pod Ready"] = time.monotonic() - started
        pool: dict[str, Any] = yaml.safe_load(EXAMPLE_POOL.read_text())
        name = pool["metadata"]["name"]
        pool_file = Path(work) / "pool.yaml"
        pool_file.write_text(yaml.safe_dump({**pool, "metadata": {"name": name}}))
        started = time.monotonic()
        dev.kubectl_run("apply", "-n", NAMESPACE, "-f", str(pool_file))
        _wait("the pool", lambda: _pool_ready(dev, name))
        figures[f"kubectl apply {EXAMPLE_POOL.name} -> pool Ready"] = time.monotonic() - started
        dev.kubectl_run("delete", "vmpool", "-n", NAMESPACE, name, "--timeout=240s")
        started = time.monotonic()
    figures["teardown (operator, node, emulator, control plane)"] = time.monotonic() - started
    width = max(map(len, figures))
    for label, seconds in figures.items():
        print(f"{label:<{width}}  {seconds:6.1f} s")


if __name__ == "__main__":
    main()
