"""What kopf keeps of a pool's body: everything vmroll or kopf reads, without managedFields, and
without the status once the pool's memory holds one."""

from __future__ import annotations

import copy
from typing import Any

import kopf

from vmroll.handlers.kept_bodies import drop_unread

RAW: dict[str, Any] = {
    "apiVersion": "vmroll.io/v1alpha1",
    "kind": "VirtualMachinePool",
    "metadata": {
        "name": "web",
        "namespace": "team-a",
        "uid": "0b4c",
        "resourceVersion": "42",
        "generation": 3,
        "annotations": {"vmroll.io/last-handled-configuration": "{}"},
        "finalizers": ["vmroll.io/finalizer"],
        "managedFields": [
            {"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
        ],
    },
    "spec": {"replicas": 10},
    "status": {"observedGeneration": 3},
}


def test_the_body_kopf_keeps_loses_managed_fields_and_keeps_the_rest() -> None:
    raw = copy.deepcopy(RAW)
    body = kopf.Body(raw)
    drop_unread(body)
    assert "managedFields" not in raw["metadata"]
    assert "managedFields" not in body.metadata
    expected = copy.deepcopy(RAW)
    del expected["metadata"]["managedFields"]
    assert raw == expected
    assert body.metadata.annotations == RAW["metadata"]["annotations"]


def test_a_body_without_managed_fields_is_left_as_it_is() -> None:
    raw = copy.deepcopy(RAW)
    del raw["metadata"]["managedFields"]
    before = copy.deepcopy(raw)
    drop_unread(kopf.Body(raw))
    assert raw == before


def test_a_known_status_is_dropped_with_managed_fields() -> None:
    raw = copy.deepcopy(RAW)
    drop_unread(kopf.Body(raw), status_known=True)
    expected = copy.deepcopy(RAW)
    del expected["metadata"]["managedFields"]
    del expected["status"]
    assert raw == expected
