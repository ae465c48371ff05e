"""What Argo CD and Flux make of vmroll's status, checked with their own code on real objects.

The objects are the fixtures under tests/fixtures/status/, captured from real e2e runs
(`make status-fixtures`, see tests/e2e/status_capture.py). For each kind, the expectations are
in Argo CD's own test format, `health_test.yaml` (so the script could go upstream as it is),
and in `kstatus_test.yaml`, the same shape with kstatus's verdicts:

- Argo CD: charts/vmroll/files/argocd/health.lua runs in a real Lua 5.1 VM (lupa's), stripped to
  what Argo CD's gopher-lua sandbox offers (base and table functions, no string library, no
  string methods).
- Flux: the `kstatus` tool (hack/kstatus) runs sigs.k8s.io/cli-utils' status.Compute, the
  library Flux's health checks and `wait: true` use, over the same files.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import lupa.lua51
import pytest
import yaml

from vmroll.api.account import AzureAccount
from vmroll.api.pool import VirtualMachinePool
from vmroll.devcluster.build import ensure_tools
from vmroll.devcluster.toolsets import KSTATUS_SET
from vmroll.devcluster.versions import KSTATUS

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "status"
SCRIPT = ROOT / "charts" / "vmroll" / "files" / "argocd" / "health.lua"
MODELS: dict[str, type[VirtualMachinePool] | type[AzureAccount]] = {
    "VirtualMachinePool": VirtualMachinePool,
    "AzureAccount": AzureAccount,
}
# Argo CD opens only the base, table and package libraries (and a safe `os` module on require).
SANDBOX = """
string, math, io, os, debug, coroutine = nil, nil, nil, nil, nil, nil
getmetatable("").__index = nil
"""


def _tests(kind: str, name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load((FIXTURES / kind / name).read_text())["tests"]
    return cases


def _cases(name: str) -> list[Any]:
    return [
        pytest.param(kind, case, id=f"{kind}/{case['inputPath']}")
        for kind in MODELS
        for case in _tests(kind, name)
    ]


def _fixtures() -> list[Path]:
    return sorted(path for kind in MODELS for path in (FIXTURES / kind).glob("*.yaml")
                  if not path.name.endswith("_test.yaml"))  # fmt: skip


def _load(kind: str, input_path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((FIXTURES / kind / input_path).read_text())
    return loaded


def argocd_health(obj: dict[str, Any]) -> dict[str, str]:
    """What Argo CD's health check returns for `obj`: the script's `hs`, as a dict."""
    lua = lupa.lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.execute(SANDBOX)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(SCRIPT.read_text())
    return dict(result.items())


@pytest.mark.parametrize("path", _fixtures(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_fixture_parses_with_the_operators_models_and_has_expectations(path: Path) -> None:
    kind = path.parent.name
    MODELS[kind].model_validate(yaml.safe_load(path.read_text()))
    for expectations in ("health_test.yaml", "kstatus_test.yaml"):
        assert path.name in {case["inputPath"] for case in _tests(kind, expectations)}, expectations


@pytest.mark.parametrize(("kind", "case"), _cases("health_test.yaml"))
def test_argocd_health(kind: str, case: dict[str, Any]) -> None:
    assert argocd_health(_load(kind, case["inputPath"])) == case["healthStatus"]


def test_the_sandbox_refuses_the_string_library() -> None:
    lua = lupa.lua51.LuaRuntime()
    lua.execute(SANDBOX)
    with pytest.raises(lupa.lua51.LuaError):
        lua.execute('return ("vmroll"):upper()')
    with pytest.raises(lupa.lua51.LuaError):
        lua.execute('return string.upper("vmroll")')


@pytest.fixture(scope="module")
def kstatus() -> Path:
    return ensure_tools(KSTATUS_SET).binary(KSTATUS)


@pytest.mark.parametrize(("kind", "case"), _cases("kstatus_test.yaml"))
def test_kstatus(kstatus: Path, kind: str, case: dict[str, Any]) -> None:
    completed = subprocess.run(
        [str(kstatus), str(FIXTURES / kind / case["inputPath"])],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    verdict = json.loads(completed.stdout)
    assert {"status": verdict["status"], "message": verdict["message"]} == case["result"]


def test_the_readmes_argocd_cm_carries_the_script_as_it_is_for_both_kinds() -> None:
    blocks = re.findall(r"^```yaml\n(.*?)^```$", (ROOT / "README.md").read_text(), re.S | re.M)
    documents = [yaml.safe_load(block) for block in blocks]
    (config_map,) = [d for d in documents if d.get("metadata", {}).get("name") == "argocd-cm"]
    keys = {f"resource.customizations.health.vmroll.io_{kind}" for kind in MODELS}
    assert {key: config_map["data"][key] for key in keys} == dict.fromkeys(keys, SCRIPT.read_text())
