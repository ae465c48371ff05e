"""Loopback ports for the control plane: free ones found by the kernel, or one asked for."""

from __future__ import annotations

import errno
import socket

from vmroll.devcluster.errors import PortInUse
from vmroll.devcluster.flags import LOOPBACK


def free_port() -> int:
    """A port free right now; another process may take it before we do (callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def require_free(port: int, option: str) -> None:
    """Fail clearly when an explicitly requested port is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise PortInUse(port_in_use_message(port, option)) from None


def port_in_use_message(port: int, option: str) -> str:
    return (
        f"port {port} on {LOOPBACK} is already in use by another process: "
        f"stop that process, pass another {option}, or leave {option} out to use a free port"
    )
