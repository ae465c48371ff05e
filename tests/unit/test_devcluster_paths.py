"""Where the local control plane keeps its cache and state, and which versions it pins."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vmroll.devcluster.errors import DevclusterError, SourceTreeMissing
from vmroll.devcluster.paths import (
    HACK_ROOT,
    existing_cluster_kubeconfig,
    instance_dir,
    state_root,
    tools_root,
    wrapper_module,
)
from vmroll.devcluster.toolsets import CONTROLPLANE
from vmroll.devcluster.versions import (
    CLI_UTILS_VERSION,
    ETCD_VERSION,
    GO_CONTAINERREGISTRY_VERSION,
    HELM_KUBERNETES_MINOR,
    HELM_VERSION,
    KUBERNETES_VERSION,
    MINIMUM_GO_VERSION,
)


@pytest.mark.parametrize(
    ("environ", "binaries", "state"),
    [
        ({"HOME": "/h"}, "/h/.cache/vmroll/controlplane", "/h/.cache/vmroll/devcluster"),
        ({"XDG_CACHE_HOME": "/x"}, "/x/vmroll/controlplane", "/x/vmroll/devcluster"),
        ({"VMROLL_CACHE_DIR": "/c"}, "/c/controlplane", "/c/devcluster"),
        ({"VMROLL_CACHE_DIR": "/c", "VMROLL_STATE_DIR": "/s"}, "/c/controlplane", "/s"),
    ],
)
def test_roots(
    environ: dict[str, str], binaries: str, state: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", environ.get("HOME", "/h"))
    assert tools_root("controlplane", environ) == Path(binaries)
    assert state_root(environ) == Path(state)


@pytest.mark.parametrize("name", ["default", "e2e", "a", "team-1-dev"])
def test_valid_instance_names(name: str) -> None:
    assert instance_dir(name, {"VMROLL_STATE_DIR": "/s"}) == Path("/s") / name


@pytest.mark.parametrize("name", ["", "-a", "a-", "Dev", "../x", "a/b", "x" * 41])
def test_invalid_instance_names_are_refused(name: str) -> None:
    with pytest.raises(DevclusterError, match="invalid instance name"):
        instance_dir(name, {"VMROLL_STATE_DIR": "/s"})


def test_a_missing_source_tree_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(SourceTreeMissing, match=r"source checkout.*VMROLL_KUBECONFIG"):
        wrapper_module("kube", tmp_path)


def test_the_go_modules_pin_the_versions_in_versions_py() -> None:
    kube = (wrapper_module("kube", CONTROLPLANE.modules_root) / "go.mod").read_text()
    etcd = (wrapper_module("etcd", CONTROLPLANE.modules_root) / "go.mod").read_text()
    helm = (wrapper_module("helm", HACK_ROOT) / "go.mod").read_text()
    imagetool = (wrapper_module("imagetool", HACK_ROOT) / "go.mod").read_text()
    kstatus = (wrapper_module("kstatus", HACK_ROOT) / "go.mod").read_text()
    assert f"require k8s.io/kubernetes {KUBERNETES_VERSION}\n" in kube
    staging = "v0." + KUBERNETES_VERSION.removeprefix("v1.")
    replaced = re.findall(r"^\s*(k8s\.io/\S+) => \1 (\S+)$", kube, re.MULTILINE)
    assert len(replaced) == 33
    assert {version for _, version in replaced} == {staging}
    assert f"require go.etcd.io/etcd/server/v3 {ETCD_VERSION}\n" in etcd
    assert f"require helm.sh/helm/v3 {HELM_VERSION}\n" in helm
    assert f"require github.com/google/go-containerregistry {GO_CONTAINERREGISTRY_VERSION}\n" in (
        imagetool
    )
    assert f"\tsigs.k8s.io/cli-utils {CLI_UTILS_VERSION}\n" in kstatus
    for go_mod in (kube, etcd, helm, imagetool, kstatus):
        directive = re.search(r"^go (\d+)\.(\d+)", go_mod, re.MULTILINE)
        assert directive is not None
        assert (int(directive.group(1)), int(directive.group(2))) == MINIMUM_GO_VERSION


def test_an_existing_cluster_is_used_only_when_vmroll_kubeconfig_is_set(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kind.yaml"
    kubeconfig.write_text("apiVersion: v1\n")
    assert existing_cluster_kubeconfig({"KUBECONFIG": str(kubeconfig)}) is None
    assert existing_cluster_kubeconfig({"VMROLL_KUBECONFIG": str(kubeconfig)}) == kubeconfig
    with pytest.raises(DevclusterError, match="VMROLL_KUBECONFIG=/nowhere is not a file"):
        existing_cluster_kubeconfig({"VMROLL_KUBECONFIG": "/nowhere"})


def test_helm_assumes_the_kubernetes_of_the_client_go_it_is_built_with() -> None:
    helm = (wrapper_module("helm", HACK_ROOT) / "go.mod").read_text()
    client_go = re.search(r"^\s*k8s\.io/client-go v0\.(\d+)\.", helm, re.MULTILINE)
    assert client_go is not None
    assert client_go.group(1) == HELM_KUBERNETES_MINOR
