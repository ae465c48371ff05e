"""Helpers of the VirtualMachinePool e2e tests: the emulator and operator processes, pool
manifests, and waits on conditions and on the emulator's VMs (fixtures: pool_fixtures.py).

Everything runs as a user would run it: the emulator is `vmroll emulator serve` in its own
process (HTTPS, its own CA), the operator is `vmroll run --namespace <test namespace>` in its
own process (allowed to use the emulator's custom endpoints, and taking its accounts' Secrets
from the test namespace, as an installed operator takes them from its own), and objects are
applied with kubectl. The emulator's catalog is the built-in one made fast (`timeScale` 0.01: a
180 s create takes 1.8 s) with a small quota in eastus, and Azure's throttling limits except one
(`fast_catalog_data`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient
from e2e_harness import Cluster, Kubectl, wait_for

from vmroll.emulator.catalog import default_catalog_data

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
CRD_NAMES = (
    "virtualmachinepools.vmroll.io",
    "azureaccounts.vmroll.io",
    "imagepolicies.vmroll.io",
    "imagecaptures.vmroll.io",
)
EASTUS_CORES = 4
"""eastus quota of the test catalog: one Standard_NC6s_v3 (6 vCPUs) already exceeds it."""
POOL_NAMESPACE_TAG = "vmroll.io_pool-namespace"
OPERATOR_FLAGS = (
    "--resync-interval", "2", "--stalled-interval", "30", "--progress-interval", "0.5",
    "--polling-interval", "0.2", "--retry-base-interval", "1", "--retry-max-interval", "10",
)  # fmt: skip

ADMIN = "admin"
CHART_SERVICE_ACCOUNT = "chart-serviceaccount"
BY_CREDENTIAL = pytest.mark.parametrize(
    "operator_credential", [ADMIN, CHART_SERVICE_ACCOUNT], indirect=True
)
"""A module's scenarios run twice: the operator as the cluster's admin, then as the chart's
ServiceAccount (see `operator_credential` in pool_fixtures.py)."""


def fast_catalog_data() -> dict[str, Any]:
    """The built-in catalog, fast, under Azure's own throttling limits (ARM's and Compute's)."""
    data = default_catalog_data()
    data["timeScale"] = 0.01
    data["lroRetryAfterSeconds"] = 0
    for subscription in data["subscriptions"]:
        subscription["quotas"]["eastus"] = {"totalRegionalCores": EASTUS_CORES}
    return data


@dataclass(frozen=True)
class EmulatorProcess:
    """A running `vmroll emulator serve` and its admin API."""

    process: subprocess.Popen[bytes]
    credentials: dict[str, Any]
    log: Path

    @property
    def base_url(self) -> str:
        return str(self.credentials["resourceManagerEndpoint"])

    @property
    def ca_pem(self) -> str:
        return Path(self.credentials["caBundle"]).read_text()

    def subnet_id(self, location: str = "westeurope") -> str:
        if location == "westeurope":
            return str(self.credentials["subnetId"])
        subscription = self.credentials["subscriptionId"]
        return (
            f"/subscriptions/{subscription}/resourceGroups/rg-vmroll-eastus/providers/"
            "Microsoft.Network/virtualNetworks/vnet-eastus/subnets/default"
        )

    def gallery_image(self, name: str = "ubuntu-web") -> str:
        """An image definition of the built-in catalog's gallery (in rg-vmroll, westeurope)."""
        return (
            f"/subscriptions/{self.credentials['subscriptionId']}/resourceGroups/rg-vmroll/"
            f"providers/Microsoft.Compute/galleries/vmrollGallery/images/{name}"
        )

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        context = ssl.create_default_context(cafile=self.credentials["caBundle"])
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}/_emulator/{path}", data=data, method=method,
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self.credentials['adminToken']}"},
        )  # fmt: skip
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return json.loads(response.read())

    def vms(self, namespace: str) -> list[dict[str, Any]]:
        """The VMs vmroll tagged as belonging to a pool of `namespace`."""
        listed = self.admin("GET", "vms")["value"]
        return [vm for vm in listed if vm["tags"].get(POOL_NAMESPACE_TAG) == namespace]

    def all_vms(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "vms")["value"])


def account_manifest(
    name: str, emulator: EmulatorProcess, secret_namespace: str, namespaces: list[str]
) -> dict[str, Any]:
    creds = emulator.credentials
    return {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "AzureAccount",
        "metadata": {"name": name},
        "spec": {
            "subscriptionId": creds["subscriptionId"],
            "tenantId": creds["tenantId"],
            "auth": {
                "clientSecret": {
                    "clientId": creds["clientId"],
                    "secretRef": {"name": "azure", "namespace": secret_namespace, "key": "secret"},
                }
            },
            "allowedNamespaces": {"names": namespaces},
            "allowedResourceGroups": ["rg-vmroll", "rg-vmroll-eastus"],
            "endpoints": {
                "resourceManager": creds["resourceManagerEndpoint"],
                "authorityHost": creds["authorityHost"],
                "caBundle": {"pem": emulator.ca_pem},
            },
        },
    }


class Operator:
    """`vmroll run` for the test namespace, as a process that tests may kill and restart."""

    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        log: Path,
        kubeconfig: Path | None = None,
        *,
        allow_custom_endpoints: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        """`kubeconfig`: whom the operator authenticates as; the cluster's admin when None."""
        self._env = {**cluster.env(), **(env or {})}
        if kubeconfig is not None:
            self._env["KUBECONFIG"] = str(kubeconfig)
        self._namespace = namespace
        self._trust = ("--allow-custom-endpoints",) if allow_custom_endpoints else ()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> None:
        argv = [sys.executable, "-m", "vmroll.cli", "run", "--namespace", self._namespace,
                "--cluster-resource-namespace", self._namespace, *self._trust, *OPERATOR_FLAGS,
                *extra]  # fmt: skip
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                argv, env=self._env, stdin=subprocess.DEVNULL, stdout=sink,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: no cleanup, no chance to record anything more."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> int:
        """SIGTERM, as Kubernetes stops a pod; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def healthy(url: str) -> bool | None:
    """True when `url` (an operator's liveness endpoint) answers 200, else None (for wait_for)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return True if response.status == 200 else None
    except OSError:
        return None


def pool_manifest(
    name: str,
    account: str,
    emulator: EmulatorProcess,
    *,
    replicas: int = 3,
    location: str = "westeurope",
    resource_group: str | None = None,
    image: dict[str, Any] | None = None,
    vm_size: str = "Standard_D2s_v5",
    deletion_policy: str = "Delete",
) -> dict[str, Any]:
    marketplace = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server",
                   "version": "latest"}  # fmt: skip
    group = resource_group or ("rg-vmroll" if location == "westeurope" else "rg-vmroll-eastus")
    return {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "VirtualMachinePool",
        "metadata": {"name": name},
        "spec": {
            "accountRef": {"name": account},
            "resourceGroup": group,
            "location": location,
            "replicas": replicas,
            "image": image or {"marketplace": marketplace},
            "template": {
                "vmSize": vm_size,
                "zones": ["1", "2", "3"],
                "subnetId": emulator.subnet_id(location),
                "sshPublicKeys": [{"keyData": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwXr7qJ8U"
                                   "e6bS2dGf0a9bT4XqvD2Fh1nQj7k3mPz5Lc e2e@vmroll"}],
                "tags": {"team": "e2e"},
            },
            "strategy": {"type": "RollingReplace",
                         "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "deletionPolicy": deletion_policy,
        },
    }  # fmt: skip


def apply(kubectl: Kubectl, namespace: str, manifest: dict[str, Any]) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))


def get_pool(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    pool: dict[str, Any] = kubectl.json("get", "-n", namespace, "vmpool", name)
    return pool


def condition(pool: dict[str, Any], type_: str) -> dict[str, Any] | None:
    conditions = pool.get("status", {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == type_), None)


def current(pool: dict[str, Any]) -> bool:
    """The status was written for the spec as it is now."""
    return pool.get("status", {}).get("observedGeneration") == pool["metadata"]["generation"]


def wait_condition(
    kubectl: Kubectl,
    namespace: str,
    name: str,
    type_: str,
    operator: Operator,
    *,
    reason: str | None = None,
    timeout: float = 90,
) -> dict[str, Any]:
    """Wait until condition `type_` is True (with `reason`) for the current generation."""

    def probe() -> dict[str, Any] | None:
        pool = get_pool(kubectl, namespace, name)
        found = condition(pool, type_)
        if not current(pool) or found is None or found["status"] != "True":
            return None
        return pool if reason is None or found["reason"] == reason else None

    def describe() -> str:
        pool = get_pool(kubectl, namespace, name)
        return f"status: {json.dumps(pool.get('status'), indent=1)}\noperator:\n{operator.output()}"

    return wait_for(f"{type_} on pool {name}", probe, timeout=timeout, describe=describe)


def wait_vm_count(emulator: EmulatorProcess, namespace: str, count: int) -> list[dict[str, Any]]:
    def probe() -> list[dict[str, Any]] | None:
        vms = emulator.vms(namespace)
        return vms if len(vms) == count else None

    return wait_for(f"{count} VMs in the emulator", probe, timeout=60,
                    describe=lambda: json.dumps(emulator.vms(namespace), indent=1))  # fmt: skip


def available_in_emulator(vm: dict[str, Any]) -> bool:
    """Provisioned, running and healthy: a VM being created, reimaged or deleted is not."""
    return vm["provisioningState"] == "Succeeded" and bool(vm["healthy"])


@dataclass
class RolloutBounds:
    """A rollout's bounds, checked against the emulator's VMs of a namespace at every `poll`:
    never more than `replicas + surge` VMs, never fewer than `replicas - unavailable` available.
    Only for pools whose VMs nobody else deletes, and only once the pool has been Ready."""

    emulator: EmulatorProcess
    namespace: str
    replicas: int
    surge: int
    unavailable: int

    def poll(self) -> list[dict[str, Any]]:
        vms = self.emulator.vms(self.namespace)
        available = [vm["name"] for vm in vms if available_in_emulator(vm)]
        summary = json.dumps(vms, indent=1)
        assert len(vms) <= self.replicas + self.surge, f"above the surge ceiling:\n{summary}"
        assert len(available) >= self.replicas - self.unavailable, (
            f"below the availability floor:\n{summary}"
        )
        return vms


VM_WRITES = (
    "VirtualMachines_CreateOrUpdate", "VirtualMachines_Update", "VirtualMachines_Delete",
    "VirtualMachines_Reimage", "VirtualMachines_Start", "VirtualMachines_PowerOff",
    "VirtualMachines_Deallocate", "VirtualMachines_Restart",
)  # fmt: skip


def vm_writes(emulator: EmulatorProcess) -> int:
    """Writes to VMs the emulator has served, refused ones included: any attempt counts."""
    operations = emulator.admin("GET", "requests")["operations"]
    return sum(int(operations.get(name, {}).get("total", 0)) for name in VM_WRITES)


def publish_marketplace_version(
    emulator: EmulatorProcess, version: str, *, boots_unhealthy: bool = False
) -> None:
    """Publish a Canonical ubuntu-24_04-lts/server version in westeurope (see pool_manifest)."""
    emulator.admin("POST", "images/marketplace/versions", {
        "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server",
        "version": version, "locations": ["westeurope"], "bootsUnhealthy": boots_unhealthy,
    })  # fmt: skip


def warnings(kubectl: Kubectl, namespace: str, reason: str) -> int:
    """Warning events of `reason` in the namespace, counting a repeated event's repeats."""
    events = kubectl.json("get", "events", "-n", namespace)["items"]
    return sum(
        int(e.get("count") or 1) for e in events if e["type"] == "Warning" and e["reason"] == reason
    )


ROLLOUT_REASONS = (
    "RolloutStarted",
    "WaitingForMaintenanceWindow",
    "RolloutBatch",
    "RolloutComplete",
    "RollingBack",
)


def pool_events(kubectl: Kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    """The pool's events in the order they were posted (eventTime has microseconds)."""
    selector = f"involvedObject.name={name},involvedObject.kind=VirtualMachinePool"
    items = kubectl.json("get", "events", "-n", namespace, "--field-selector", selector)["items"]
    return sorted(items, key=lambda e: e.get("eventTime") or e["firstTimestamp"])


def story(kubectl: Kubectl, namespace: str, name: str) -> list[tuple[str, str]]:
    """The pool's rollout events (reason, message) in order: what `kubectl describe` tells."""
    return [
        (e["reason"], e["message"])
        for e in pool_events(kubectl, namespace, name)
        if e["reason"] in ROLLOUT_REASONS
    ]


def list_requests(emulator: EmulatorProcess) -> int:
    """VM listings the emulator has served: one per operator pass over a pool."""
    operations = emulator.admin("GET", "requests")["operations"]
    return int(operations.get("VirtualMachines_List", {}).get("total", 0))


def emulator_credential(emulator: EmulatorProcess) -> ClientSecretCredential:
    """The emulator principal's credential, trusting its CA, as an admin's SDK client holds it."""
    creds = emulator.credentials
    return ClientSecretCredential(
        creds["tenantId"], creds["clientId"], creds["clientSecret"],
        authority=creds["authorityHost"], disable_instance_discovery=True,
        connection_verify=creds["caBundle"],
    )  # fmt: skip


def _compute(emulator: EmulatorProcess) -> tuple[ComputeManagementClient, ClientSecretCredential]:
    creds = emulator.credentials
    credential = emulator_credential(emulator)
    compute = ComputeManagementClient(
        credential, creds["subscriptionId"], base_url=emulator.base_url,
        credential_scopes=[f"{emulator.base_url}/.default"], connection_verify=creds["caBundle"],
        polling_interval=0.1,
    )  # fmt: skip
    return compute, credential


def delete_vm_out_of_band(emulator: EmulatorProcess, resource_group: str, name: str) -> None:
    """Delete a VM behind vmroll's back, through ARM with the real SDK, as an admin would."""
    compute, credential = _compute(emulator)
    with compute, credential:
        compute.virtual_machines.begin_delete(resource_group, name).result()


def create_vm_out_of_band(
    emulator: EmulatorProcess, resource_group: str, name: str, tags: dict[str, str]
) -> None:
    """Create a VM that vmroll did not create, through ARM with the real SDK."""
    compute, credential = _compute(emulator)
    with compute, credential:
        body = _vm_body(emulator, name, tags)
        compute.virtual_machines.begin_create_or_update(resource_group, name, body).result()


def start_vms_out_of_band(
    emulator: EmulatorProcess, resource_group: str, names: list[str], tags: dict[str, str]
) -> None:
    """Start creating VMs that vmroll did not create, through ARM with the real SDK, sixteen
    requests at a time; the creates run on once accepted."""
    compute, credential = _compute(emulator)

    def start(name: str) -> None:
        body = _vm_body(emulator, name, tags)
        compute.virtual_machines.begin_create_or_update(resource_group, name, body, polling=False)

    with compute, credential, ThreadPoolExecutor(16) as senders:
        list(senders.map(start, names))


def _vm_body(emulator: EmulatorProcess, name: str, tags: dict[str, str]) -> dict[str, Any]:
    image = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server",
             "version": "latest"}  # fmt: skip
    linux = {"disablePasswordAuthentication": True, "ssh": {"publicKeys": []}}
    ip = {"name": "ipconfig1", "properties": {"subnet": {"id": emulator.subnet_id()}}}
    nic = {"name": f"{name}-nic", "properties": {"primary": True, "ipConfigurations": [ip]}}
    return {
        "location": "westeurope",
        "tags": tags,
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
            "storageProfile": {
                "imageReference": image,
                "osDisk": {"createOption": "FromImage", "deleteOption": "Delete"},
            },
            "osProfile": {
                "computerName": name,
                "adminUsername": "azureuser",
                "linuxConfiguration": linux,
            },
            "networkProfile": {
                "networkApiVersion": "2020-11-01",
                "networkInterfaceConfigurations": [nic],
            },
        },
    }
