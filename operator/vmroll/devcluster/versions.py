"""The pinned versions of the local stack's tools: the one place to change when moving on.

`hack/controlplane/{kube,etcd}/go.mod`, `hack/helm/go.mod`, `hack/imagetool/go.mod` and
`hack/kstatus/go.mod` require the same versions; a unit test keeps them in step, so bumping a
version means editing it here and re-resolving the wrapper modules there.
"""

from __future__ import annotations

KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.8"
HELM_VERSION = "v3.22.0"
# The Kubernetes version helm assumes without a cluster (`helm template`, `helm lint`): upstream
# stamps the minor of the client-go it is built with; a unit test reads it from hack/helm/go.mod.
HELM_KUBERNETES_MINOR = "37"
# The library hack/imagetool writes vmroll's container image with.
GO_CONTAINERREGISTRY_VERSION = "v0.22.1"
# kstatus, the status library Flux and kpt wait with: the tests check vmroll's status against it.
CLI_UTILS_VERSION = "v0.37.2"

# The wrapper modules' `go` directive; an older toolchain cannot build them offline.
MINIMUM_GO_VERSION = (1, 26)

ETCD = "etcd"
KUBE_APISERVER = "kube-apiserver"
KUBECTL = "kubectl"
HELM = "helm"
IMAGETOOL = "imagetool"
KSTATUS = "kstatus"
