"""The command lines of etcd and kube-apiserver, as pure functions of ports and paths.

The flags follow controller-runtime's envtest: a single-member etcd that skips fsync (its data
is thrown away), and a kube-apiserver with RBAC, client-certificate authentication and no
ServiceAccount admission (no controller-manager creates the default ServiceAccounts). With a
node, the apiserver is set up as a cluster's: ServiceAccount admission on (the controller-manager
creates the accounts and `kube-root-ca.crt`), and the Node authorizer with NodeRestriction, which
is what grants the kubelet's `system:node:localhost` identity its rights; and aggregator routing,
so that the apiserver calls a webhook (or an aggregated API) behind a Service at the Service's
ready endpoints rather than at its cluster IP: the node runs no kube-proxy, so no cluster IP
answers on the host, while the endpoints (host-network pods at the node's address, bridge pods
on the node's subnet) are routable from it. Clusters whose control plane is not on the service
network set the same flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vmroll.devcluster.certs import Pki

LOOPBACK = "127.0.0.1"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int


def etcd_url(ports: Ports) -> str:
    return f"http://{LOOPBACK}:{ports.etcd_client}"


def apiserver_url(ports: Ports) -> str:
    return f"https://{LOOPBACK}:{ports.apiserver}"


def etcd_args(binary: Path, ports: Ports, data_dir: Path) -> list[str]:
    client = etcd_url(ports)
    peer = f"http://{LOOPBACK}:{ports.etcd_peer}"
    return [
        str(binary),
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


def apiserver_args(
    binary: Path, ports: Ports, pki: Pki, cert_dir: Path, *, with_node: bool = False
) -> list[str]:
    if with_node:
        admission = ["--enable-admission-plugins=NodeRestriction"]
        authorization = "Node,RBAC"
        routing = ["--enable-aggregator-routing=true"]
    else:
        admission = ["--disable-admission-plugins=ServiceAccount"]
        authorization = "RBAC"
        routing = []
    return [
        str(binary),
        f"--etcd-servers={etcd_url(ports)}",
        f"--cert-dir={cert_dir}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.client_ca}",
        f"--secure-port={ports.apiserver}",
        f"--bind-address={LOOPBACK}",
        f"--advertise-address={LOOPBACK}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--allow-privileged=true",
        *admission,
        f"--authorization-mode={authorization}",
        *routing,
        f"--service-account-issuer={apiserver_url(ports)}/",
        f"--service-account-key-file={pki.service_account_public_key}",
        f"--service-account-signing-key-file={pki.service_account_key}",
    ]
