"""The Go tools the local stack builds, grouped in sets that are cached apart from each other.

Each set is a few binaries built from wrapper modules under `hack/` at pinned versions. A set has
a cache directory of its own (see `cache.py`), so adding a tool never invalidates another set's
binaries, and a command builds only the sets it runs: `make dev` needs the control plane, the
chart's tests need helm too, the GitOps health tests kstatus.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vmroll.devcluster.errors import DevclusterError
from vmroll.devcluster.gobuild import GoBuild, kubernetes_ldflags
from vmroll.devcluster.paths import HACK_ROOT
from vmroll.devcluster.versions import (
    CLI_UTILS_VERSION,
    ETCD,
    ETCD_VERSION,
    GO_CONTAINERREGISTRY_VERSION,
    HELM,
    HELM_KUBERNETES_MINOR,
    HELM_VERSION,
    IMAGETOOL,
    KSTATUS,
    KUBE_APISERVER,
    KUBECTL,
    KUBERNETES_VERSION,
)


@dataclass(frozen=True)
class ToolSet:
    """Binaries built together: `modules` are wrapper module directories under `modules_root`.

    `sources` names the Go files of a module that holds its own program (paths under
    `modules_root`): they are part of the cache key like go.mod and go.sum.
    """

    name: str
    label: str
    modules_root: Path
    modules: tuple[str, ...]
    builds: tuple[GoBuild, ...]
    sources: tuple[str, ...] = ()

    @property
    def binaries(self) -> tuple[str, ...]:
        return tuple(build.binary for build in self.builds)


_KUBE_TAGS = ("selinux", "notest")

CONTROLPLANE = ToolSet(
    name="controlplane",
    label=f"k8s-{KUBERNETES_VERSION}-etcd-{ETCD_VERSION}",
    modules_root=HACK_ROOT / "controlplane",
    modules=("kube", "etcd"),
    builds=(
        GoBuild(ETCD, "etcd", "go.etcd.io/etcd/server/v3"),
        GoBuild(
            KUBE_APISERVER,
            "kube",
            "k8s.io/kubernetes/cmd/kube-apiserver",
            kubernetes_ldflags(),
            _KUBE_TAGS,
        ),
        GoBuild(KUBECTL, "kube", "k8s.io/kubernetes/cmd/kubectl", kubernetes_ldflags(), _KUBE_TAGS),
    ),
)


def helm_ldflags() -> str:
    """Stamped as upstream's Makefile does: its version, and the Kubernetes it assumes offline."""
    flags = ["-s", "-w", "-buildid=", f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}"]
    for package in ("helm.sh/helm/v3/pkg/chartutil", "helm.sh/helm/v3/pkg/lint/rules"):
        flags += [
            f"-X {package}.k8sVersionMajor=1",
            f"-X {package}.k8sVersionMinor={HELM_KUBERNETES_MINOR}",
        ]
    return " ".join(flags)


HELM_SET = ToolSet(
    name="helm",
    label=f"helm-{HELM_VERSION}",
    modules_root=HACK_ROOT,
    modules=("helm",),
    builds=(GoBuild(HELM, "helm", "helm.sh/helm/v3/cmd/helm", helm_ldflags()),),
)

# The image assembler of `make image`: a program of vmroll's own over go-containerregistry.
IMAGETOOL_SET = ToolSet(
    name="imagetool",
    label=f"imagetool-ggcr-{GO_CONTAINERREGISTRY_VERSION}",
    modules_root=HACK_ROOT,
    modules=("imagetool",),
    builds=(GoBuild(IMAGETOOL, "imagetool", "vmroll.io/hack/imagetool"),),
    sources=("imagetool/main.go",),
)

KSTATUS_SET = ToolSet(
    name="kstatus",
    label=f"kstatus-cli-utils-{CLI_UTILS_VERSION}",
    modules_root=HACK_ROOT,
    modules=("kstatus",),
    builds=(GoBuild(KSTATUS, "kstatus", "vmroll.io/hack/kstatus"),),
    sources=("kstatus/main.go",),
)
"""`kstatus FILE...`: what sigs.k8s.io/cli-utils' status.Compute says of each object, as JSON."""

TOOL_SETS = {tools.name: tools for tools in (CONTROLPLANE, HELM_SET, IMAGETOOL_SET, KSTATUS_SET)}


def tool_set(name: str) -> ToolSet:
    """The set called `name`, or an error listing the sets there are."""
    try:
        return TOOL_SETS[name]
    except KeyError:
        raise DevclusterError(
            f"no tool set named {name!r}: choose one of {', '.join(TOOL_SETS)}"
        ) from None
