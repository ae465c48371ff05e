"""`kubectl vmroll plan` run as a user runs it, against the real local stack; nothing written.

One RollingReimage pool of three VMs, Ready at a pinned version: a plan of the same spec is a
no-op, a new VM size replaces every VM, bad input fails with the reason (including the API
server's own dry-run verdict), and a version bump reimages one VM per batch. Then the bump is
applied for real: the operator reaches the revision the plan printed, reimaging each VM once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_harness import Cluster, Kubectl
from pool_helpers import EmulatorProcess, Operator, apply, get_pool, pool_manifest, wait_condition
from test_kubectl_plugin import Plugin, ok

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

OLD, NEW = "24.04.202609160", "24.04.202610220"


def refused(result: Any) -> str:
    assert result.returncode == 1, f"{result.args}: {result.returncode}\n{result.stdout}"
    assert result.stderr.startswith("error: "), result.stderr
    assert result.stdout == ""
    return str(result.stderr)


def reimages(emulator: EmulatorProcess) -> int:
    counted = emulator.admin("GET", "requests")["operations"].get("VirtualMachines_Reimage", {})
    return int(counted.get("total", 0))


def test_plan_no_op_replace_bad_input_and_a_version_bump_the_operator_then_follows(
    cluster: Cluster, kubectl: Kubectl, namespace: str, account: str,
    emulator: EmulatorProcess, operator: Operator, tmp_path: Path,
) -> None:  # fmt: skip
    plugin = Plugin(cluster, namespace)
    manifest = pool_manifest("web", account, emulator, replicas=3)
    manifest["spec"]["image"]["marketplace"]["version"] = OLD
    rolling = {"maxSurge": 0, "maxUnavailable": 1}
    manifest["spec"]["strategy"] = {"type": "RollingReimage", "rollingUpdate": rolling}
    apply(kubectl, namespace, manifest)
    ready = wait_condition(kubectl, namespace, "web", "Ready", operator)
    revision = ready["status"]["updateRevision"]
    names = sorted(i["name"] for i in ready["status"]["instances"])
    pool_file = tmp_path / "web.yaml"
    pool_file.write_text(yaml.safe_dump(manifest))

    same = ok(plugin("plan", "-f", str(pool_file)))
    print(same)
    lines = same.splitlines()
    assert f"Revision:    {revision} -> {revision} (unchanged)" in lines
    assert f"Image:       canonical:ubuntu-24_04-lts:server {OLD} (unchanged)" in lines
    assert "Server:      accepted (dryRun=All, nothing stored)" in lines
    assert lines[lines.index("Spec diff (live -> planned):") + 1] == "  none"
    assert [line.split()[3] for line in lines if line.startswith("  web-")] == ["keep"] * 3
    assert "Estimated duration: nothing to roll" in lines
    assert "Policy:      compliant: no ImagePolicy selects this pool" in lines

    bigger = ok(plugin("plan", "web", "--set", "template.vmSize=Standard_D4s_v5"))
    print(bigger)
    vms = [line for line in bigger.splitlines() if line.startswith("  web-")]
    assert len(vms) == 3
    for line in vms:
        assert line.split()[3] == "replace", line
        assert line.endswith("spec.template.vmSize; Azure cannot change these on an existing VM")
    assert "  -  vmSize: Standard_D2s_v5" in bigger
    assert "  +  vmSize: Standard_D4s_v5" in bigger
    assert [line for line in bigger.splitlines() if line.startswith("  1. ")] == [
        f"  1. replace {names[0]}"
    ]

    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": "web"}}))  # fmt: skip
    assert refused(plugin("plan", "-f", str(other))) == (
        f"error: {other} is a v1 ConfigMap, not a vmroll.io/v1alpha1 VirtualMachinePool\n"
    )
    assert refused(plugin("plan", "api", "-f", str(pool_file))) == (
        'error: the file describes pool "web", not "api"\n'
    )
    error = refused(plugin("plan", "web", "--set", "replicas=-1"))
    assert error.startswith('error: pool "web" cannot be planned:\nvmroll: the spec does not')
    assert "spec.replicas: Input should be greater than or equal to 0" in error
    assert "the API server refused it (dryRun=All): " in error
    assert "spec.replicas: Invalid value: -1" in error

    before = get_pool(kubectl, namespace, "web")
    manifest["spec"]["image"]["marketplace"]["version"] = NEW
    pool_file.write_text(yaml.safe_dump(manifest))
    bump = ok(plugin("plan", "-f", str(pool_file)))
    print(bump)
    lines = bump.splitlines()
    assert f"  -    version: {OLD}" in lines
    assert f"  +    version: {NEW}" in lines
    assert f"Image:       canonical:ubuntu-24_04-lts:server {OLD} -> {NEW}" in lines
    for line in (line for line in lines if line.startswith("  web-")):
        assert line.split()[3:] == ["reimage", "image", "version", OLD, "->", NEW], line
    assert [line for line in lines if line[2:4] in ("1.", "2.", "3.", "4.")] == [
        f"  {n}. reimage {name}" for n, name in enumerate(names, 1)
    ]
    assert any(line.startswith("Estimated duration: about ") for line in lines), bump
    as_json = json.loads(ok(plugin("plan", "web", "--set", f"version={NEW}", "-o", "json")))
    planned = as_json["revision"]["planned"]
    assert f"Revision:    {revision} -> {planned}" in lines
    assert [b["reimage"] for b in as_json["batches"]] == [[name] for name in names]
    assert {vm["action"] for vm in as_json["vms"]} == {"reimage"}
    assert yaml.safe_load(ok(plugin("plan", "-f", str(pool_file), "-o", "yaml"))) == as_json | {
        "estimate": as_json["estimate"]
    }

    after = get_pool(kubectl, namespace, "web")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"]["image"]["marketplace"]["version"] == OLD

    count = reimages(emulator)
    apply(kubectl, namespace, manifest)
    ok(plugin("rollout", "status", "web", "--timeout", "3m", timeout=200))
    assert get_pool(kubectl, namespace, "web")["status"]["updateRevision"] == planned
    assert reimages(emulator) == count + 3
