"""A kopf operator, run as its own process, reacts to objects on the local control plane.

This is the shape of every later e2e test of vmroll's operator: a real apiserver, the operator
as a process with KUBECONFIG, objects written with kubectl or the client, status read back.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_harness import BackgroundProcess, Cluster, Kubectl, background_process, wait_for
from kubernetes import client

pytestmark = pytest.mark.e2e

OPERATOR = Path(__file__).parent / "widget_operator.py"
GROUP, VERSION, PLURAL = "tests.vmroll.io", "v1", "widgets"


@pytest.fixture
def widget_operator(
    cluster: Cluster, namespace: str, widget_crd: str, tmp_path: Path
) -> Iterator[BackgroundProcess]:
    argv = [sys.executable, "-m", "kopf", "run", str(OPERATOR)]
    argv += ["--standalone", "--namespace", namespace]
    with background_process(argv, cluster.env(), tmp_path / "operator.log") as operator:
        yield operator


def wait_for_status(
    kubectl: Kubectl, namespace: str, name: str, field: str, value: str, operator: BackgroundProcess
) -> None:
    waited = kubectl(
        "wait", "-n", namespace, f"widget/{name}",
        f"--for=jsonpath={{.status.{field}}}={value}", "--timeout=60s",
        check=False, timeout=90,
    )  # fmt: skip
    assert waited.returncode == 0, f"{waited.stderr}\noperator log:\n{operator.output()}"


def test_operator_writes_status_on_create_and_update_and_releases_on_delete(
    kubectl: Kubectl,
    k8s_client: client.ApiClient,
    namespace: str,
    widget_operator: BackgroundProcess,
) -> None:
    manifest = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"message": "hello"},
    }
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))
    wait_for_status(kubectl, namespace, "w", "seenMessage", "hello", widget_operator)

    custom = client.CustomObjectsApi(k8s_client)
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "w", {"spec": {"message": "again"}}
    )
    wait_for_status(kubectl, namespace, "w", "seenMessage", "again", widget_operator)
    current = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "w")
    assert current["status"]["seenGeneration"] == current["metadata"]["generation"] == 2
    assert current["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]

    def echoed_event() -> str | None:
        events = client.CoreV1Api(k8s_client).list_namespaced_event(
            namespace, field_selector="involvedObject.name=w"
        )
        messages = [event.message for event in events.items if event.reason == "Echoed"]
        return next((message for message in messages if "generation 2" in message), None)

    wait_for("the operator's event on the widget", echoed_event, 30, widget_operator.output)

    # The finalizer lets the object go only once the operator has run its delete handler.
    kubectl("delete", "-n", namespace, "widget", "w", "--timeout=60s", timeout=90)
    assert "widget w deleted" in widget_operator.output()
    assert widget_operator.process.poll() is None, widget_operator.output()
