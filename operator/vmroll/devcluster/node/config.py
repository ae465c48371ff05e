"""The configuration files and command lines of the node's parts, as pure functions of paths.

What had to be set here, and why (measured on these machines, see the devcluster README):
- containerd `restrict_oom_score_adj`: root lacks CAP_SYS_RESOURCE, and without it every pod
  sandbox fails in runc with "can't get final child's PID from pipe".
- kubelet `cgroupDriver: cgroupfs` and `failCgroupV1: false`: the hosts are cgroup v1 without
  systemd, which kubelet 1.35+ refuses unless told otherwise; `failSwapOn: false`.
- kubelet on 127.0.0.1 with anonymous authentication (loopback only) and the node name
  `localhost`, which is what the apiserver dials for `logs` and `exec`.
- Eviction and image garbage collection thresholds near zero: the disk is shared and the
  images are imported, not pullable, so the node must neither taint itself nor delete them.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from vmroll.devcluster.node.layout import NODE_NAME, NodeLayout
from vmroll.devcluster.node.packages import CNI_BIN_DIR
from vmroll.devcluster.node.pause import PAUSE_IMAGE

LOOPBACK = "127.0.0.1"
_DISABLED_SNAPSHOTTERS = ("aufs", "btrfs", "devmapper", "zfs")


def _toml(value: str) -> str:
    return json.dumps(value)


def containerd_config(layout: NodeLayout) -> str:
    cri = '[plugins."io.containerd.grpc.v1.cri"'
    disabled = ", ".join(
        _toml(f"io.containerd.snapshotter.v1.{name}") for name in _DISABLED_SNAPSHOTTERS
    )
    return "\n".join(
        [
            "version = 2",
            f"root = {_toml(str(layout.containerd_root))}",
            f"state = {_toml(str(layout.containerd_state))}",
            f"disabled_plugins = [{disabled}]",
            "",
            "[grpc]",
            f"  address = {_toml(str(layout.containerd_socket))}",
            "",
            '[plugins."io.containerd.internal.v1.opt"]',
            f"  path = {_toml(str(layout.directory / 'containerd-opt'))}",
            "",
            f"{cri}]",
            f"  sandbox_image = {_toml(PAUSE_IMAGE)}",
            "  restrict_oom_score_adj = true",
            # Under the instance's directory, where `down` unmounts whatever is left.
            "  netns_mounts_under_state_dir = true",
            f"  stream_server_address = {_toml(LOOPBACK)}",
            '  stream_server_port = "0"',
            "",
            f"{cri}.containerd]",
            '  snapshotter = "overlayfs"',
            '  default_runtime_name = "runc"',
            "",
            f"{cri}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            "",
            f"{cri}.containerd.runtimes.runc.options]",
            "  SystemdCgroup = false",
            f"  Root = {_toml(str(layout.directory / 'runc'))}",
            "",
            f"{cri}.cni]",
            f"  bin_dir = {_toml(str(CNI_BIN_DIR))}",
            f"  conf_dir = {_toml(str(layout.cni_config_dir))}",
            "",
        ]
    )


def cni_config(layout: NodeLayout) -> str:
    """A bridge network without masquerading or port maps, so it programs no iptables rules."""
    return json.dumps(
        {
            "cniVersion": "0.4.0",
            "name": layout.cni_network,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": layout.bridge,
                    "isGateway": True,
                    "ipMasq": False,
                    "ipam": {
                        "type": "host-local",
                        "dataDir": str(layout.cni_state_dir),
                        "ranges": [[{"subnet": layout.pod_subnet}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                    },
                },
                {"type": "loopback"},
            ],
        },
        indent=2,
    )


def kubelet_config(layout: NodeLayout, port: int, healthz_port: int) -> str:
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": LOOPBACK,
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": LOOPBACK,
        "healthzPort": healthz_port,
        "authentication": {
            "anonymous": {"enabled": True},
            "webhook": {"enabled": False},
            "x509": {},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": layout.cgroup_parent,
        "failCgroupV1": False,
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "staticPodPath": str(layout.static_pods),
        "volumePluginDir": str(layout.volume_plugins),
        "makeIPTablesUtilChains": False,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "registerNode": True,
        "syncFrequency": "5s",
        "fileCheckFrequency": "5s",
        "nodeStatusUpdateFrequency": "5s",
    }
    return yaml.safe_dump(config, sort_keys=False)


def kubelet_args(binary: Path, layout: NodeLayout) -> list[str]:
    return [
        str(binary),
        f"--config={layout.kubelet_config}",
        f"--kubeconfig={layout.kubeconfig('kubelet')}",
        f"--root-dir={layout.kubelet_root}",
        f"--hostname-override={NODE_NAME}",
        "--v=1",
    ]


def containerd_args(layout: NodeLayout) -> list[str]:
    return ["containerd", f"--config={layout.containerd_config}"]


def scheduler_args(binary: Path, layout: NodeLayout) -> list[str]:
    kubeconfig = layout.kubeconfig("kube-scheduler")
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--leader-elect=false",
        f"--bind-address={LOOPBACK}",
        "--secure-port=0",
    ]


def controller_manager_args(
    binary: Path, layout: NodeLayout, root_ca: Path, service_account_key: Path
) -> list[str]:
    kubeconfig = layout.kubeconfig("kube-controller-manager")
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--root-ca-file={root_ca}",
        f"--service-account-private-key-file={service_account_key}",
        "--use-service-account-credentials=true",
        # No pod CIDRs are allocated: the CNI bridge hands out the node's fixed subnet.
        "--controllers=*,-nodeipam",
        "--leader-elect=false",
        f"--bind-address={LOOPBACK}",
        "--secure-port=0",
    ]
