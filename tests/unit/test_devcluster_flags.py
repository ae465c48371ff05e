"""The command lines of etcd, kube-apiserver and `go build`, and the kubeconfig they lead to."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from vmroll.devcluster.certs import Pki
from vmroll.devcluster.errors import DevclusterError
from vmroll.devcluster.flags import Ports, apiserver_args, etcd_args
from vmroll.devcluster.gobuild import kubernetes_ldflags, parse_go_version
from vmroll.devcluster.kubeconfig import render_kubeconfig
from vmroll.devcluster.toolsets import CONTROLPLANE, HELM_SET, tool_set

PORTS = Ports(etcd_client=2379, etcd_peer=2380, apiserver=6443)
PKI = Pki(Path("/state/pki"))


def test_etcd_listens_on_loopback_only_and_skips_fsync() -> None:
    args = etcd_args(Path("/bin/etcd"), PORTS, Path("/state/etcd-data"))
    assert args[0] == "/bin/etcd"
    assert "--listen-client-urls=http://127.0.0.1:2379" in args
    assert "--advertise-client-urls=http://127.0.0.1:2379" in args
    assert "--listen-peer-urls=http://127.0.0.1:2380" in args
    assert "--data-dir=/state/etcd-data" in args
    assert "--unsafe-no-fsync=true" in args


@pytest.mark.parametrize(
    "flag",
    [
        "--etcd-servers=http://127.0.0.1:2379",
        "--secure-port=6443",
        "--bind-address=127.0.0.1",
        "--authorization-mode=RBAC",
        "--disable-admission-plugins=ServiceAccount",
        "--client-ca-file=/state/pki/client-ca.crt",
        "--tls-cert-file=/state/pki/apiserver.crt",
        "--tls-private-key-file=/state/pki/apiserver.key",
        "--service-account-issuer=https://127.0.0.1:6443/",
        "--service-account-key-file=/state/pki/sa.pub",
        "--service-account-signing-key-file=/state/pki/sa.key",
        "--cert-dir=/state/certs",
    ],
)
def test_apiserver_flags(flag: str) -> None:
    assert flag in apiserver_args(Path("/bin/kube-apiserver"), PORTS, PKI, Path("/state/certs"))


def test_kubernetes_builds_are_stamped_with_the_pinned_version() -> None:
    ldflags = kubernetes_ldflags("v1.36.3").split(" ")
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"{package}.gitVersion=v1.36.3" in ldflags
        assert f"{package}.gitMajor=1" in ldflags
        assert f"{package}.gitMinor=36" in ldflags
    assert ldflags[:3] == ["-s", "-w", "-buildid="]


def test_go_builds_write_each_binary_into_the_output_directory() -> None:
    builds = {build.binary: build for build in CONTROLPLANE.builds}
    assert sorted(builds) == ["etcd", "kube-apiserver", "kubectl"]
    assert builds["etcd"].module == "etcd"
    etcd = builds["etcd"].argv("/go/bin/go", Path("/out"))
    assert etcd[-3:] == ("-o", "/out/etcd", "go.etcd.io/etcd/server/v3")
    assert "-tags" not in etcd
    apiserver = builds["kube-apiserver"].argv("/go/bin/go", Path("/out"))
    assert apiserver[:5] == ("/go/bin/go", "build", "-v", "-trimpath", "-buildvcs=false")
    assert apiserver[-1] == "k8s.io/kubernetes/cmd/kube-apiserver"
    assert apiserver[5:7] == ("-tags", "selinux,notest")
    assert builds["kubectl"].argv("go", Path("/out"))[-1] == "k8s.io/kubernetes/cmd/kubectl"


def test_helm_is_stamped_with_its_pinned_version() -> None:
    (helm,) = HELM_SET.builds
    argv = helm.argv("go", Path("/out"))
    assert argv[-3:] == ("-o", "/out/helm", "helm.sh/helm/v3/cmd/helm")
    assert "-X helm.sh/helm/v3/internal/version.version=v3.22.0" in helm.ldflags


def test_an_unknown_tool_set_names_the_ones_there_are() -> None:
    assert tool_set("helm") is HELM_SET
    with pytest.raises(DevclusterError, match="no tool set named 'kind': choose one of"):
        tool_set("kind")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("go1.26.8\n", (1, 26)), ("go1.25", (1, 25)), ("go1.27rc1", (1, 27)), ("devel", None)],
)
def test_parse_go_version(text: str, expected: tuple[int, int] | None) -> None:
    assert parse_go_version(text) == expected


def test_kubeconfig_inlines_the_certificates(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    for path in (pki.serving_ca, pki.admin_cert, pki.admin_key):
        path.write_text(f"PEM of {path.name}")
    config = yaml.safe_load(render_kubeconfig("dev", "https://127.0.0.1:6443", pki))
    assert config["current-context"] == "vmroll-dev"
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"PEM of serving-ca.crt"
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-key-data"]) == b"PEM of admin.key"
