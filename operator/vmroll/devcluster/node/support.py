"""Whether a node can run here, and the one explicit way to do without it.

A node needs Linux and root (cgroups, mounts, network links, containerd). Where it cannot run,
starting one fails with a message that says why; the node's tests fail the same way, unless the
user sets VMROLL_SKIP_NODE_TESTS=1 to deselect them on purpose. CI never sets it.
"""

from __future__ import annotations

import os
import sys

from vmroll.devcluster.errors import DevclusterError

SKIP_NODE_TESTS_VARIABLE = "VMROLL_SKIP_NODE_TESTS"


class NodeUnsupported(DevclusterError):
    """The local node cannot run on this machine or as this user."""


def node_unsupported_reason() -> str | None:
    if not sys.platform.startswith("linux"):
        return f"the local node runs on Linux only (this is {sys.platform})"
    if os.geteuid() != 0:
        return (
            "the local node must run as root (it manages cgroups, mounts, network links and "
            "containerd); run as root"
        )
    return None


def require_node_support() -> None:
    reason = node_unsupported_reason()
    if reason is not None:
        raise NodeUnsupported(
            f"{reason}, or use a control plane without a node (no --with-node); tests that need "
            f"the node are deselected only with {SKIP_NODE_TESTS_VARIABLE}=1"
        )
