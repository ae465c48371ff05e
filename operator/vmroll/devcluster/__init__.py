"""A local Kubernetes control plane (real etcd and kube-apiserver) for development and tests.

The public surface: `LocalControlPlane` to start and stop one, `ensure_binaries` to build (or
find) the cached binaries, the pinned versions, and the error types whose messages say what to do.
"""

from vmroll.devcluster.build import ensure_binaries
from vmroll.devcluster.controlplane import LocalControlPlane
from vmroll.devcluster.errors import (
    BuildFailed,
    DevclusterError,
    GoToolchainMissing,
    InstanceNotFound,
    PortInUse,
    SourceTreeMissing,
    StartFailed,
)
from vmroll.devcluster.paths import KUBECONFIG_VARIABLE, existing_cluster_kubeconfig
from vmroll.devcluster.versions import ETCD_VERSION, KUBERNETES_VERSION

__all__ = [
    "ETCD_VERSION",
    "KUBECONFIG_VARIABLE",
    "KUBERNETES_VERSION",
    "BuildFailed",
    "DevclusterError",
    "GoToolchainMissing",
    "InstanceNotFound",
    "LocalControlPlane",
    "PortInUse",
    "SourceTreeMissing",
    "StartFailed",
    "ensure_binaries",
    "existing_cluster_kubeconfig",
]
