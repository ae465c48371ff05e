"""The README's first command, `vmroll dev`, run as a new user runs it.

It starts its own control plane (in a throwaway state directory), the emulator and the operator;
the example pool from its printed instructions becomes Ready with its VMs in the emulator; on
SIGTERM everything it started stops and its state is gone. Its operator serves the admission
webhook, registered with the stack's own CA: a version Azure cannot hold is refused.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "local" / "pool.yaml"
START_TIMEOUT_SECONDS = 120.0
READY_TIMEOUT = "180s"


def _wait_for_line(process: subprocess.Popen[str], marker: str, seen: list[str]) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return
    raise AssertionError(f"`vmroll dev` never printed {marker!r}:\n{''.join(seen)}")


def _printed(seen: list[str], prefix: str) -> str:
    for line in seen:
        if line.strip().startswith(prefix):
            return line.strip().removeprefix(prefix)
    raise AssertionError(f"`vmroll dev` printed no {prefix!r} line:\n{''.join(seen)}")


def _own_processes(marker: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in text:
            found.append(text)
    return found


def test_vmroll_dev_runs_the_example_pool_and_cleans_up(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {**os.environ, "VMROLL_STATE_DIR": str(state), "PYTHONUNBUFFERED": "1"}
    env.pop("VMROLL_KUBECONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "vmroll.cli", "dev"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=REPO,
    )
    seen: list[str] = []
    try:
        _wait_for_line(process, "Press Ctrl-C", seen)
        kubeconfig = _printed(seen, "export KUBECONFIG=")
        kubectl_dir = _printed(seen, "export PATH=").removesuffix(":$PATH")
        kubectl = [str(Path(kubectl_dir) / "kubectl"), "--kubeconfig", kubeconfig]

        subprocess.run([*kubectl, "apply", "-f", str(EXAMPLE)], check=True)
        waited = subprocess.run(
            [*kubectl, "wait", "--for=condition=Ready", "vmpool/web", f"--timeout={READY_TIMEOUT}"],
            capture_output=True,
            text=True,
            check=False,
        )
        pool = json.loads(
            subprocess.run(
                [*kubectl, "get", "vmpool/web", "-o", "json"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        assert waited.returncode == 0, (waited.stderr, pool.get("status"))
        status = pool["status"]
        assert status["readyReplicas"] == 3
        assert len(status["instances"]) == 3
        assert status["image"]["resolvedVersion"]

        beyond_azure = EXAMPLE.read_text().replace("version: latest", "version: 1.0.2147483648")
        assert beyond_azure != EXAMPLE.read_text()
        refused = subprocess.run(
            [*kubectl, "apply", "-f", "-"], input=beyond_azure, capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        assert refused.returncode != 0
        assert 'admission webhook "pools.vmroll.io" denied the request' in refused.stderr
        assert "spec.image.marketplace.version" in refused.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
        seen.append(out)
    assert process.returncode == 0, "".join(seen)
    assert "the local stack is down" in "".join(seen)
    assert not _own_processes(str(state)), "processes of the local stack outlived `vmroll dev`"
    assert not (state / "dev").exists()
