"""The errors of the local control plane: each one carries a message that says what to do.

The CLI prints the message and exits non-zero; test fixtures let it fail the session with it.
"""

from __future__ import annotations


class DevclusterError(Exception):
    """A failure of `vmroll devcluster` that the user can act on; the message says how."""


class SourceTreeMissing(DevclusterError):
    """vmroll runs from an installed package without the `hack/controlplane` Go modules."""


class GoToolchainMissing(DevclusterError):
    """No usable Go toolchain, so the control-plane binaries cannot be built."""


class BuildFailed(DevclusterError):
    """`go build` of one of the binaries failed."""


class PortInUse(DevclusterError):
    """A port asked for explicitly is already taken by another process."""


class StartFailed(DevclusterError):
    """etcd or kube-apiserver exited or never became ready."""


class InstanceNotFound(DevclusterError):
    """No local control plane of that name is running."""
