"""Detached server processes: start them in their own session, find them again, stop them.

The CLI starts etcd and kube-apiserver and exits, so a later `down` finds them only through pid
files. A pid is trusted only while /proc shows a live (not zombie) process whose command line
names the instance's directory, so a stale pid file reused by an unrelated process is never
signalled. Linux only, like the rest of the local control plane.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

STOP_GRACE_SECONDS = 10.0


def start_detached(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=log_path.parent,
        )


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def is_ours(pid: int, marker: str) -> bool:
    """Whether `pid` is a live process whose command line contains `marker`."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and marker in cmdline


def stop(pid: int, marker: str, process: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM, then SIGKILL after a grace period; a no-op when the process is not ours."""
    if not is_ours(pid, marker):
        if process is not None:
            process.wait()
        return
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, STOP_GRACE_SECONDS)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        if _wait_gone(pid, marker, process, wait):
            return


def _wait_gone(
    pid: int, marker: str, process: subprocess.Popen[bytes] | None, seconds: float
) -> bool:
    if process is not None:
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not is_ours(pid, marker):
            return True
        time.sleep(0.05)
    return False
