"""The node's configuration files, command lines, layout and pause image archive."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
import yaml

from vmroll.devcluster.certs import Pki
from vmroll.devcluster.flags import Ports, apiserver_args
from vmroll.devcluster.node import config, host, support
from vmroll.devcluster.node.image_archive import ImageFile, write_oci_archive
from vmroll.devcluster.node.layout import NodeLayout
from vmroll.devcluster.toolsets import NODE, tool_set

LAYOUT = NodeLayout(Path("/state/demo"))


def test_containerd_keeps_everything_under_the_instance_and_restricts_oom_score_adj() -> None:
    rendered = config.containerd_config(LAYOUT)
    assert 'root = "/state/demo/node/containerd-root"' in rendered
    assert 'state = "/state/demo/node/containerd-state"' in rendered
    assert 'address = "/state/demo/node/containerd.sock"' in rendered
    assert "restrict_oom_score_adj = true" in rendered
    assert "netns_mounts_under_state_dir = true" in rendered
    assert 'sandbox_image = "localhost/vmroll/pause:3.10.2"' in rendered
    assert "SystemdCgroup = false" in rendered
    assert 'conf_dir = "/state/demo/node/cni"' in rendered


def test_kubelet_config_carries_the_settings_these_hosts_need() -> None:
    kubelet = yaml.safe_load(config.kubelet_config(LAYOUT, port=10250, healthz_port=10248))
    assert kubelet["cgroupDriver"] == "cgroupfs"
    assert kubelet["failCgroupV1"] is False
    assert kubelet["failSwapOn"] is False
    assert kubelet["address"] == "127.0.0.1"
    assert kubelet["staticPodPath"] == "/state/demo/node/static-pods"
    assert kubelet["cgroupRoot"] == LAYOUT.cgroup_parent
    assert kubelet["containerRuntimeEndpoint"] == "unix:///state/demo/node/containerd.sock"
    assert kubelet["makeIPTablesUtilChains"] is False
    args = config.kubelet_args(Path("/bin/kubelet"), LAYOUT)
    assert "--hostname-override=localhost" in args
    assert "--root-dir=/state/demo/node/kubelet" in args


def test_the_cni_bridge_programs_no_iptables_and_keeps_its_state_in_the_instance() -> None:
    network = json.loads(config.cni_config(LAYOUT))
    bridge = network["plugins"][0]
    assert bridge["bridge"] == LAYOUT.bridge
    assert bridge["ipMasq"] is False
    assert bridge["ipam"]["dataDir"] == "/state/demo/node/cni-ipam"
    assert [plugin["type"] for plugin in network["plugins"]] == ["bridge", "loopback"]


@pytest.mark.parametrize("instance", ["/a", "/root/.cache/vmroll/devcluster/" + "x" * 40])
def test_host_wide_names_fit_the_kernel_and_differ_between_instances(instance: str) -> None:
    layout = NodeLayout(Path(instance))
    assert len(layout.bridge) <= 15
    assert layout.bridge != LAYOUT.bridge
    assert layout.pod_subnet != LAYOUT.pod_subnet
    assert layout.cgroup_parent != LAYOUT.cgroup_parent


def test_controller_manager_signs_tokens_and_publishes_the_root_ca() -> None:
    args = config.controller_manager_args(
        Path("/bin/kcm"), LAYOUT, root_ca=Path("/pki/ca.crt"), service_account_key=Path("/k")
    )
    assert "--root-ca-file=/pki/ca.crt" in args
    assert "--service-account-private-key-file=/k" in args
    assert "--controllers=*,-nodeipam" in args


@pytest.mark.parametrize(
    ("with_node", "expected", "absent"),
    [
        (
            False,
            ["--disable-admission-plugins=ServiceAccount", "--authorization-mode=RBAC"],
            ["--enable-aggregator-routing=true"],
        ),
        (
            True,
            [
                "--enable-admission-plugins=NodeRestriction",
                "--authorization-mode=Node,RBAC",
                "--enable-aggregator-routing=true",
            ],
            ["--disable-admission-plugins=ServiceAccount"],
        ),
    ],
)
def test_the_apiserver_admits_service_accounts_and_routes_to_endpoints_only_with_a_node(
    with_node: bool, expected: list[str], absent: list[str]
) -> None:
    args = apiserver_args(
        Path("/bin/kube-apiserver"),
        Ports(1, 2, 3),
        Pki(Path("/pki")),
        Path("/certs"),
        with_node=with_node,
    )
    for flag in expected:
        assert flag in args
    for flag in absent:
        assert flag not in args


def test_the_node_tool_set_builds_three_stamped_binaries_in_its_own_module() -> None:
    assert tool_set("node") is NODE
    assert NODE.binaries == ("kube-scheduler", "kube-controller-manager", "kubelet")
    assert NODE.modules == ("node",)
    for build in NODE.builds:
        assert "-X k8s.io/component-base/version.gitVersion=v1.36.3" in build.ldflags


def test_the_oci_archive_is_a_valid_layout_with_one_named_image(tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    write_oci_archive(
        archive, "localhost/x:1", [ImageFile("/bin/x", b"binary")], ["/bin/x"], "65535:65535"
    )
    with tarfile.open(archive) as tar:
        blobs = {
            member.name: tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
        }
    for name, blob in blobs.items():
        if name.startswith("blobs/sha256/"):
            assert name.rsplit("/", 1)[1] == hashlib.sha256(blob).hexdigest()
    (entry,) = json.loads(blobs["index.json"])["manifests"]
    assert entry["annotations"]["io.containerd.image.name"] == "localhost/x:1"
    manifest = json.loads(blobs[f"blobs/sha256/{entry['digest'].split(':')[1]}"])
    image_config = json.loads(blobs[f"blobs/sha256/{manifest['config']['digest'][7:]}"])
    assert image_config["config"] == {"Entrypoint": ["/bin/x"], "User": "65535:65535"}
    layer = blobs[f"blobs/sha256/{manifest['layers'][0]['digest'][7:]}"]
    with tarfile.open(fileobj=io.BytesIO(layer)) as rootfs:
        member = rootfs.getmember("bin/x")
        assert member.mode == 0o755
        assert rootfs.extractfile(member).read() == b"binary"  # type: ignore[union-attr]


def test_cgroup_hierarchies_are_the_root_on_v2_and_its_controllers_on_v1(tmp_path: Path) -> None:
    v1 = tmp_path / "v1"
    for controller in ("cpu", "memory"):
        (v1 / controller).mkdir(parents=True)
        (v1 / controller / "cgroup.procs").write_text("")
    (v1 / "not-a-hierarchy").mkdir()
    assert host.cgroup_hierarchies(v1) == [v1 / "cpu", v1 / "memory"]
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cgroup.procs").write_text("")
    assert host.cgroup_hierarchies(v2) == [v2]


def test_shim_sockets_are_read_from_the_task_bundles(tmp_path: Path) -> None:
    for sandbox, socket in (("a", "/run/containerd/s/1"), ("b", "/run/containerd/s/1"),
                            ("c", "/run/containerd/s/2")):  # fmt: skip
        bundle = tmp_path / "io.containerd.runtime.v2.task" / "k8s.io" / sandbox
        bundle.mkdir(parents=True)
        (bundle / "address").write_text(f"unix://{socket}")
    assert host.shim_sockets(tmp_path) == [Path("/run/containerd/s/1"), Path("/run/containerd/s/2")]
    assert host.shim_sockets(tmp_path / "absent") == []


def test_without_root_the_node_refuses_and_says_how_tests_opt_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(support.os, "geteuid", lambda: 1000)
    with pytest.raises(support.NodeUnsupported, match=r"must run as root.*SKIP_NODE_TESTS=1"):
        support.require_node_support()
