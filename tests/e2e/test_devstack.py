"""The README's first command, `vmroll dev`, run as a new user runs it.

It starts its own control plane (in a throwaway state directory), the emulator and the operator;
the example pool from its printed instructions becomes Ready with its VMs in the emulator; on
SIGTERM everything it started stops and its state is gone. Its operator serves the admission
webhook, registered with the stack's own CA: a version Azure cannot hold is refused.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from dev_session import REPO, running_dev

pytestmark = pytest.mark.e2e

EXAMPLE = REPO / "examples" / "local" / "pool.yaml"
READY_TIMEOUT = "180s"


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
    with running_dev(tmp_path) as dev:
        kubectl = dev.kubectl

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
    assert dev.process.returncode == 0, "".join(dev.seen)
    assert "the local stack is down" in "".join(dev.seen)
    assert not _own_processes(str(dev.state)), "processes of the local stack outlived `vmroll dev`"
    assert not (dev.state / "dev").exists()
