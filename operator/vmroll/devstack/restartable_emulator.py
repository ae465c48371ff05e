"""`vmroll emulator serve --state` as a child process that can be stopped and started again on
the same port, data directory (CA, admin token) and state, as a restarted Azure front end looks.

The chaos test (tests/e2e/test_chaos.py) and the chaos benchmark (benchmarks/chaos.py) both
restart the emulator in the middle of a rollout and set faults that must survive the restart;
this is their one copy of how. Each run of the emulator counts injected faults from zero, so the
count of the runs before a restart is kept here.
"""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

READY_TIMEOUT_SECONDS = 60.0
STOP_GRACE_SECONDS = 15.0


class EmulatorNotReady(RuntimeError):
    """The emulator exited, or wrote no credentials.json in time; the message ends its log."""


class RestartableEmulator:
    """One emulator, started at once; `restart()` keeps its port, data directory and state."""

    def __init__(self, directory: Path, catalog: Mapping[str, Any], log: Path) -> None:
        self.data_dir = directory / "emulator"
        self.state = directory / "emulator-state.json"
        self.catalog = directory / "catalog.yaml"
        self.catalog.write_text(yaml.safe_dump(dict(catalog)))
        self.log = log
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.credentials: dict[str, Any] = {}
        self._injected_before_restarts = 0
        self.start()

    def start(self) -> None:
        credentials_file = self.data_dir / "credentials.json"
        credentials_file.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "vmroll.cli", "emulator", "serve", "--port", str(self.port),
                "--data-dir", str(self.data_dir), "--catalog", str(self.catalog),
                "--state", str(self.state)]  # fmt: skip
        with self.log.open("ab") as sink:
            process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
        self.process = process
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not credentials_file.exists():
            if process.poll() is not None:
                raise EmulatorNotReady(f"exited with {process.returncode}: {self._log_tail()}")
            if time.monotonic() > deadline:
                raise EmulatorNotReady(f"no credentials.json in time: {self._log_tail()}")
            time.sleep(0.1)
        self.credentials = json.loads(credentials_file.read_text())
        self.port = urlparse(self.credentials["resourceManagerEndpoint"]).port or 0

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """A call to the /_emulator/ admin API, with the admin token."""
        tls = ssl.create_default_context(cafile=self.credentials["caBundle"])
        request = urllib.request.Request(
            f"{self.credentials['resourceManagerEndpoint']}/_emulator/{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.credentials['adminToken']}",
                     "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, context=tls, timeout=30) as response:
            return json.load(response)

    def with_faults(self, faults: dict[str, Any]) -> None:
        """Now, and from the first request after a restart (the catalog is read at start)."""
        catalog = yaml.safe_load(self.catalog.read_text())
        catalog["faults"] = faults
        self.catalog.write_text(yaml.safe_dump(catalog))
        self.admin("PUT", "faults", faults)

    def injected(self) -> int:
        """Faults injected by every run of the emulator."""
        return self._injected_before_restarts + int(self.admin("GET", "faults")["injected"])

    def stop(self) -> None:
        """SIGTERM (the emulator saves its state), SIGKILL if it is not gone in 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self._injected_before_restarts = self.injected()
        self.stop()
        self.start()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def _log_tail(self) -> str:
        return "the emulator's log ends:\n" + self.output()[-2000:]
