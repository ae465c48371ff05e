"""`vmroll dev` started as a new user starts it, for the tests that follow its printed
instructions: the README's quickstart (test_devstack.py) and its golden-image walkthrough
(test_golden_walkthrough.py).

The stack lives in a throwaway state directory; `running_dev` yields the kubectl command line
and the environment the printed `export` lines set up, and stops the stack with SIGTERM
(everything it started stops, its state is gone).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 120.0


@dataclass
class DevSession:
    process: subprocess.Popen[str]
    state: Path
    seen: list[str] = field(default_factory=list)
    kubectl: list[str] = field(default_factory=list)
    """kubectl with the stack's kubeconfig."""
    env: dict[str, str] = field(default_factory=dict)
    """The environment after the printed `export` lines."""


def wait_for_line(process: subprocess.Popen[str], marker: str, seen: list[str]) -> None:
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


def printed(seen: list[str], prefix: str) -> str:
    for line in seen:
        if line.strip().startswith(prefix):
            return line.strip().removeprefix(prefix)
    raise AssertionError(f"`vmroll dev` printed no {prefix!r} line:\n{''.join(seen)}")


@contextmanager
def running_dev(tmp_path: Path) -> Iterator[DevSession]:
    """`vmroll dev` until the block ends; its output (all of it, once stopped) in `seen`."""
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
    session = DevSession(process, state)
    try:
        wait_for_line(process, "Press Ctrl-C", session.seen)
        kubeconfig = printed(session.seen, "export KUBECONFIG=")
        kubectl_dir = printed(session.seen, "export PATH=").removesuffix(":$PATH")
        session.kubectl = [str(Path(kubectl_dir) / "kubectl"), "--kubeconfig", kubeconfig]
        session.env = {
            **os.environ,
            "KUBECONFIG": kubeconfig,
            "PATH": f"{kubectl_dir}:{os.environ['PATH']}",
        }
        yield session
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
        session.seen.append(out)
