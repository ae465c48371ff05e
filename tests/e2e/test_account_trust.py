"""Whoever can write an AzureAccount cannot turn the operator's own credentials against it.

The attack, as reproduced on the local stack before the fix: an account naming the operator's
federated token (or any file) and an `authorityHost` plus `caBundle` of a listener the attacker
runs; the operator posted the file's contents there as `client_assertion` within seconds. Here
the listener is an HTTPS server of the test with its own CA, and the token file is a canary that
the operator's environment names as AZURE_FEDERATED_TOKEN_FILE, as the workload identity webhook
does in a pod. Also: the API server refuses `tokenFile` by name, the operator refuses a Secret
outside its own namespace, and the emulator's admin API refuses a caller without its token.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from e2e_harness import (
    Cluster,
    Kubectl,
    create_namespace,
    delete_namespace,
    unique_namespace,
    wait_for,
)
from kubernetes import client
from pool_helpers import (
    EmulatorProcess,
    Operator,
    account_manifest,
    apply,
    condition,
    wait_condition,
)

from vmroll.pki import (
    distinguished_name,
    issue_ca,
    issue_leaf,
    write_certificates,
    write_private_key,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CLIENT_ID = "22222222-2222-2222-2222-222222222222"
OBSERVATION_SECONDS = 70.0
"""How long the listener must stay silent: past the account check's first periodic run (60 s
after start), so that neither the first check nor a periodic one sends anything or warns again."""


class Listener:
    """An HTTPS server with its own CA that records every request, as an attacker's would."""

    def __init__(self, directory: Path) -> None:
        validity = datetime.timedelta(hours=1)
        ca = issue_ca("attacker CA", valid_for=validity, key_identifiers=True)
        leaf = issue_leaf(
            ca,
            distinguished_name("attacker"),
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            names=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
            valid_for=validity,
            key_identifiers=True,
        )
        directory.mkdir(parents=True, exist_ok=True)
        write_certificates(directory / "server.crt", leaf.certificate, ca.certificate)
        write_private_key(directory / "server.key", leaf.key)
        write_certificates(directory / "ca.crt", ca.certificate)
        self.ca_pem = (directory / "ca.crt").read_text()
        self.received: list[str] = []
        received = self.received

        class Record(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode(errors="replace")
                received.append(f"{self.command} {self.path} {body}")
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"error": "invalid_request"}')

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Record)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(directory / "server.crt", directory / "server.key")
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    running = Listener(tmp_path / "listener")
    yield running
    running.close()


@pytest.fixture
def canary(tmp_path: Path) -> tuple[Path, str]:
    """A file standing for the operator's projected token, holding a value seen nowhere else."""
    value = f"canary-{secrets.token_hex(16)}"
    path = tmp_path / "azure-identity-token"
    path.write_text(value)
    return path, value


def attack_account(name: str, namespace: str, listener: Listener) -> dict[str, Any]:
    return {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "AzureAccount",
        "metadata": {"name": name},
        "spec": {
            "subscriptionId": "00000000-0000-4000-8000-00000000a001",
            "tenantId": "11111111-1111-1111-1111-111111111111",
            "auth": {"workloadIdentity": {"clientId": CLIENT_ID}},
            "allowedNamespaces": {"names": [namespace]},
            "allowedResourceGroups": ["*"],
            "endpoints": {"authorityHost": listener.url, "caBundle": {"pem": listener.ca_pem}},
        },
    }


def example_pool(account: str) -> dict[str, Any]:
    pool: dict[str, Any] = yaml.safe_load((EXAMPLES / "pool-marketplace.yaml").read_text())
    pool["spec"]["accountRef"] = {"name": account}
    pool["spec"]["resourceGroup"] = "rg-web"
    return pool


def account_ready(kubectl: Kubectl, name: str) -> dict[str, Any] | None:
    account = kubectl.json("get", "azureaccount", name)
    found = condition(account, "Ready")
    current = (
        account.get("status", {}).get("observedGeneration") == account["metadata"]["generation"]
    )
    return found if current else None


def account_warnings(kubectl: Kubectl, name: str) -> list[dict[str, Any]]:
    events = kubectl.json(
        "get", "events", "-A", "--field-selector",
        f"involvedObject.kind=AzureAccount,involvedObject.name={name},type=Warning",
    )["items"]  # fmt: skip
    return list(events)


@pytest.fixture
def cluster_account(kubectl: Kubectl, namespace: str) -> Iterator[str]:
    """The name of the test's own (cluster-scoped) account, deleted at the end."""
    name = f"acct-{namespace}"
    yield name
    kubectl("delete", "azureaccount", name, "--ignore-not-found", "--wait=false")


def test_custom_endpoints_without_the_flag_receive_nothing(
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    pool_crds: tuple[str, ...],
    listener: Listener,
    canary: tuple[Path, str],
    cluster_account: str,
    tmp_path: Path,
) -> None:
    token_file, _ = canary
    operator = Operator(
        cluster, namespace, tmp_path / "operator.log", allow_custom_endpoints=False,
        env={"AZURE_FEDERATED_TOKEN_FILE": str(token_file)},
    )  # fmt: skip
    operator.start()
    try:
        kubectl("apply", "-f", "-", input=json.dumps(
            attack_account(cluster_account, namespace, listener)
        ))  # fmt: skip
        apply(kubectl, namespace, example_pool(cluster_account))
        started = time.monotonic()
        ready = wait_for(
            "the account's Ready condition", lambda: account_ready(kubectl, cluster_account),
            timeout=90, describe=operator.output,
        )  # fmt: skip
        pool = wait_condition(
            kubectl, namespace, "web", "Stalled", operator, reason="CustomEndpointsNotAllowed"
        )
        time.sleep(max(0.0, OBSERVATION_SECONDS - (time.monotonic() - started)))
        warnings = account_warnings(kubectl, cluster_account)
        output = operator.output()
    finally:
        operator.stop()

    assert listener.received == []
    assert (ready["status"], ready["reason"]) == ("False", "CustomEndpointsNotAllowed")
    for named in ("spec.endpoints.authorityHost", "spec.endpoints.caBundle",
                  "--allow-custom-endpoints"):  # fmt: skip
        assert named in ready["message"]
    assert [(e["reason"], e.get("count", 1)) for e in warnings] == [
        ("CustomEndpointsNotAllowed", 1)
    ], output
    stalled = condition(pool, "Stalled")
    assert stalled is not None
    assert "--allow-custom-endpoints" in stalled["message"]


def test_with_the_flag_the_same_account_does_reach_its_host(
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    pool_crds: tuple[str, ...],
    listener: Listener,
    canary: tuple[Path, str],
    cluster_account: str,
    tmp_path: Path,
) -> None:
    """The control: the flag alone stands between the account and the listener, so the test
    above would see the attack if the operator still let it through."""
    token_file, value = canary
    operator = Operator(
        cluster, namespace, tmp_path / "operator.log", allow_custom_endpoints=True,
        env={"AZURE_FEDERATED_TOKEN_FILE": str(token_file)},
    )  # fmt: skip
    operator.start()
    try:
        kubectl("apply", "-f", "-", input=json.dumps(
            attack_account(cluster_account, namespace, listener)
        ))  # fmt: skip
        wait_for(
            "the listener to receive the token file", lambda: listener.received or None,
            timeout=90, describe=operator.output,
        )  # fmt: skip
    finally:
        operator.stop()

    assert any(value in request for request in listener.received)


def test_the_api_server_refuses_token_file_by_name(
    kubectl: Kubectl, namespace: str, pool_crds: tuple[str, ...], listener: Listener
) -> None:
    account = attack_account(f"acct-{namespace}", namespace, listener)
    account["spec"]["auth"]["workloadIdentity"]["tokenFile"] = "/etc/shadow"

    refused = kubectl(
        "apply", "--dry-run=server", "--validate=strict", "-f", "-",
        input=json.dumps(account), check=False,
    )  # fmt: skip
    del account["spec"]["auth"]["workloadIdentity"]["tokenFile"]
    accepted = kubectl(
        "apply", "--dry-run=server", "--validate=strict", "-f", "-", input=json.dumps(account)
    )

    assert refused.returncode != 0
    assert 'unknown field "spec.auth.workloadIdentity.tokenFile"' in refused.stderr
    assert "created (server dry run)" in accepted.stdout


@pytest.fixture
def other_namespace(k8s_client: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    name = unique_namespace(f"other-{request.node.name}")
    create_namespace(k8s_client, name)
    yield name
    delete_namespace(k8s_client, name)


def test_a_secret_outside_the_operators_namespace_is_refused_unread(
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    other_namespace: str,
    pool_crds: tuple[str, ...],
    emulator: EmulatorProcess,
    cluster_account: str,
    tmp_path: Path,
) -> None:
    """The operator runs with --cluster-resource-namespace <test namespace> and the emulator's
    endpoints allowed; the account's Secret, right in every other way, is in another namespace.
    Read, it would authenticate: the emulator would count a token request."""
    secret = base64.b64encode(emulator.credentials["clientSecret"].encode()).decode()
    kubectl("apply", "-n", other_namespace, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "azure"},
        "data": {"secret": secret},
    }))  # fmt: skip
    operator = Operator(cluster, namespace, tmp_path / "operator.log")
    operator.start()
    try:
        kubectl("apply", "-f", "-", input=json.dumps(
            account_manifest(cluster_account, emulator, other_namespace, [namespace])
        ))  # fmt: skip
        ready = wait_for(
            "the account's Ready condition", lambda: account_ready(kubectl, cluster_account),
            timeout=90, describe=operator.output,
        )  # fmt: skip
        assert (ready["status"], ready["reason"]) == ("False", "ReferenceNamespaceNotAllowed")
        warnings = wait_for(
            "the account's Warning event",
            lambda: account_warnings(kubectl, cluster_account) or None,
        )
    finally:
        operator.stop()

    for named in ("spec.auth.clientSecret.secretRef", other_namespace, f"to {namespace}",
                  "--cluster-resource-namespace"):  # fmt: skip
        assert named in ready["message"]
    assert [e["reason"] for e in warnings] == ["ReferenceNamespaceNotAllowed"]
    assert "Identity_Token" not in emulator.admin("GET", "requests")["operations"]


def test_the_emulators_admin_api_refuses_a_caller_without_its_token(
    emulator: EmulatorProcess,
) -> None:
    context = ssl.create_default_context(cafile=emulator.credentials["caBundle"])
    request = urllib.request.Request(
        f"{emulator.base_url}/_emulator/faults", method="PUT", data=b'{"rules": []}',
        headers={"Content-Type": "application/json"},
    )  # fmt: skip

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, context=context, timeout=30)

    refused.value.close()
    assert refused.value.code == 401
    assert emulator.admin("GET", "vms") == {"value": []}
