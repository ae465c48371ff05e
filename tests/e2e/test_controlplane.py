"""The local control plane serves the Kubernetes API for real: CRDs, validation, RBAC, watches.

Driven with the built kubectl and with the `kubernetes` client, as users and operators do.
"""

from __future__ import annotations

import json

import pytest
from e2e_harness import Kubectl, create_namespace, delete_namespace, unique_namespace
from kubernetes import client, watch

pytestmark = pytest.mark.e2e

GROUP, VERSION, PLURAL = "tests.vmroll.io", "v1", "widgets"


def widget(name: str, message: str, **spec: object) -> dict[str, object]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"message": message, **spec},
    }


def test_server_answers_kubectl_version(kubectl: Kubectl) -> None:
    version = kubectl.json("version")
    assert version["serverVersion"]["major"] == "1"
    assert version["serverVersion"]["gitVersion"].startswith("v1.")


def test_widget_created_patched_and_listed_with_kubectl(
    kubectl: Kubectl, namespace: str, widget_crd: str
) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(widget("w1", "hello")))
    kubectl("patch", "-n", namespace, "widget", "w1", "--type=merge", "-p", '{"spec":{"size":3}}')
    kubectl(
        "patch", "-n", namespace, "widget", "w1", "--subresource=status", "--type=merge",
        "-p", '{"status":{"seenMessage":"hello"}}',
    )  # fmt: skip

    stored = kubectl.json("get", "-n", namespace, "widget", "w1")
    assert stored["spec"] == {"message": "hello", "size": 3}
    assert stored["status"] == {"seenMessage": "hello"}
    assert stored["metadata"]["generation"] == 2  # the status write did not bump it
    table = kubectl("get", "-n", namespace, "widgets").stdout
    assert table.split("\n")[1].split()[:3] == ["w1", "hello", "hello"]


def test_schema_violations_are_rejected_by_the_apiserver(
    kubectl: Kubectl, namespace: str, widget_crd: str
) -> None:
    invalid = widget("bad", "hello", size=-1)
    rejected = kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(invalid), check=False)
    assert rejected.returncode != 0
    assert (
        "spec.size: Invalid value: -1: spec.size in body should be greater than or equal to 0"
        in (rejected.stderr)
    )
    missing = {**widget("bad", "x"), "spec": {}}
    rejected = kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(missing), check=False)
    assert "spec.message: Required value" in rejected.stderr


def test_rbac_denies_users_without_bindings(kubectl: Kubectl, namespace: str) -> None:
    assert kubectl("auth", "can-i", "create", "configmaps", "-n", namespace).stdout.strip() == "yes"
    denied = kubectl(
        "auth", "can-i", "create", "configmaps", "-n", namespace, "--as=nobody", check=False
    )
    assert denied.stdout.strip() == "no"
    forbidden = kubectl("get", "configmaps", "-n", namespace, "--as=nobody", check=False)
    assert 'User "nobody" cannot list resource "configmaps"' in forbidden.stderr


def test_kubernetes_client_creates_patches_and_watches(
    k8s_client: client.ApiClient, namespace: str, widget_crd: str
) -> None:
    custom = client.CustomObjectsApi(k8s_client)
    created = custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, widget("w2", "first")
    )
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "w2", {"spec": {"message": "second"}}
    )

    seen: list[tuple[str, str]] = []
    stream = watch.Watch().stream(
        custom.list_namespaced_custom_object,
        GROUP, VERSION, namespace, PLURAL,
        resource_version=created["metadata"]["resourceVersion"],
        timeout_seconds=30,
    )  # fmt: skip
    for event in stream:
        seen.append((event["type"], event["object"]["spec"]["message"]))
        if seen[-1] == ("MODIFIED", "second"):
            break
    assert seen == [("MODIFIED", "second")]


def test_namespace_cleanup_removes_what_tests_leave_behind(
    k8s_client: client.ApiClient, widget_crd: str
) -> None:
    name = unique_namespace("cleanup")
    create_namespace(k8s_client, name)
    core = client.CoreV1Api(k8s_client)
    custom = client.CustomObjectsApi(k8s_client)
    blocked = widget("blocked", "stays until its finalizer goes")
    blocked["metadata"] = {"name": "blocked", "finalizers": ["tests.vmroll.io/hold"]}
    custom.create_namespaced_custom_object(GROUP, VERSION, name, PLURAL, blocked)
    core.create_namespaced_config_map(name, {"metadata": {"name": "cm"}})
    core.create_namespaced_secret(name, {"metadata": {"name": "s"}})
    core.create_namespaced_event(
        name,
        {
            "metadata": {"name": "ev"},
            "involvedObject": {"kind": "Widget", "name": "blocked", "namespace": name},
            "reason": "Test",
            "message": "an event",
        },
    )

    delete_namespace(k8s_client, name)

    assert custom.list_namespaced_custom_object(GROUP, VERSION, name, PLURAL)["items"] == []
    assert core.list_namespaced_config_map(name).items == []
    assert core.list_namespaced_secret(name).items == []
    assert core.list_namespaced_event(name).items == []
    phase = core.read_namespace(name).status.phase if _exists(core, name) else "gone"
    assert phase in ("Terminating", "gone")


def _exists(core: client.CoreV1Api, name: str) -> bool:
    return any(item.metadata.name == name for item in core.list_namespace().items)
