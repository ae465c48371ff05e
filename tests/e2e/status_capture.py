"""Status objects captured from real runs, for the Argo CD and kstatus health tests.

`capture` reads an object from the API server as `kubectl get -o json` shows it. With
`VMROLL_WRITE_STATUS_FIXTURES=1` (`make status-fixtures`) it writes it to
`tests/fixtures/status/<Kind>/<name>.yaml` (managedFields dropped: they are the API server's
bookkeeping, not status). Otherwise it compares the live object with the committed one on what
health checks read: the conditions' types, statuses and reasons, whether `observedGeneration`
lags and whether the object is being deleted. So a change of the operator that would make a
fixture stale fails the e2e run instead of leaving the health tests checking a past behaviour.
After rewriting, the expected verdicts beside the fixtures (`health_test.yaml`,
`kstatus_test.yaml`) may name new messages (namespaces, revisions): tests/unit/test_gitops_health.py
shows each difference; review and update them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from e2e_harness import Kubectl

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "status"
WRITE = os.environ.get("VMROLL_WRITE_STATUS_FIXTURES") == "1"


def fixture_path(kind: str, name: str) -> Path:
    return FIXTURES / kind / f"{name}.yaml"


def health_inputs(obj: dict[str, Any]) -> dict[str, Any]:
    """What Argo CD's and kstatus's health checks read of an object, minus times and texts."""
    status = obj.get("status") or {}
    conditions = sorted(
        (c["type"], c["status"], c.get("reason", "")) for c in status.get("conditions", [])
    )
    return {
        "conditions": conditions,
        "generationObserved": status.get("observedGeneration") == obj["metadata"]["generation"],
        "deleting": "deletionTimestamp" in obj["metadata"],
    }


def capture(
    kubectl: Kubectl, kind: str, name: str, fixture: str, namespace: str | None = None
) -> dict[str, Any]:
    where = ("-n", namespace) if namespace else ()
    obj: dict[str, Any] = kubectl.json("get", *where, kind, name)
    obj["metadata"].pop("managedFields", None)
    path = fixture_path(obj["kind"], fixture)
    if WRITE:
        path.write_text(yaml.safe_dump(obj, sort_keys=False, width=100))
        return obj
    assert path.exists(), f"{path} is missing: run `make status-fixtures`"
    committed = yaml.safe_load(path.read_text())
    assert health_inputs(obj) == health_inputs(committed), (
        f"{path} no longer matches what the operator writes: run `make status-fixtures`"
    )
    return obj
