"""The committed CRDs are what the models generate, and Kubernetes can accept them as structural."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from vmroll.api import cli
from vmroll.api.crd import RESOURCES, build_crd, render_crds
from vmroll.api.schema import SchemaError, structural_schema

CRDS = Path(__file__).resolve().parents[2] / "crds"
CRD_FILES = sorted(render_crds())


def schema_of(filename: str) -> dict[str, Any]:
    document = yaml.safe_load(render_crds()[filename])
    schema: dict[str, Any] = document["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path, properties and items and map values included."""
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


@pytest.mark.parametrize("filename", CRD_FILES)
def test_committed_crd_matches_the_models(filename: str) -> None:
    committed = CRDS / filename
    assert committed.exists(), f"{committed} is missing: run `vmroll crds`"
    assert committed.read_text() == render_crds()[filename], (
        f"{committed} differs from what operator/vmroll/api generates: run `vmroll crds`"
    )


def test_no_stray_files_in_crds_directory() -> None:
    assert sorted(p.name for p in CRDS.glob("*.yaml")) == CRD_FILES


@pytest.mark.parametrize("filename", CRD_FILES)
def test_schema_has_no_references_left(filename: str) -> None:
    text = render_crds()[filename]
    for leftover in ("$ref", "$defs", "definitions", "title:", "null"):
        assert leftover not in text, f"{filename} still contains {leftover!r}"


@pytest.mark.parametrize("filename", CRD_FILES)
def test_every_node_has_a_type(filename: str) -> None:
    untyped = [
        path
        for path, node in walk(schema_of(filename))
        if "type" not in node and not node.get("x-kubernetes-int-or-string")
    ]
    assert untyped == []


@pytest.mark.parametrize("filename", CRD_FILES)
def test_every_property_has_a_description(filename: str) -> None:
    # The API server refuses anything but name and generateName under metadata.
    undocumented = [
        path
        for path, node in walk(schema_of(filename))
        if path and not path.endswith("[]") and path != ".metadata" and not path.endswith("{}")
        if not node.get("description")
    ]
    assert undocumented == []


@pytest.mark.parametrize("filename", CRD_FILES)
def test_any_of_only_for_int_or_string(filename: str) -> None:
    for path, node in walk(schema_of(filename)):
        if "anyOf" in node:
            assert node.get("x-kubernetes-int-or-string") is True, path
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], path
            assert "type" not in node, path


@pytest.mark.parametrize("filename", CRD_FILES)
def test_objects_do_not_mix_properties_and_additional_properties(filename: str) -> None:
    for path, node in walk(schema_of(filename)):
        assert not ("properties" in node and "additionalProperties" in node), path
        if node.get("type") == "object":
            assert "maxLength" not in node, path
            assert "minLength" not in node, path


def test_surge_and_unavailable_are_int_or_string() -> None:
    schema = schema_of("vmroll.io_virtualmachinepools.yaml")
    rolling = schema["properties"]["spec"]["properties"]["strategy"]["properties"]
    fields = rolling["rollingUpdate"]["properties"]
    assert fields["maxSurge"]["x-kubernetes-int-or-string"] is True
    assert fields["maxUnavailable"]["x-kubernetes-int-or-string"] is True


def test_image_requires_exactly_one_source_in_cel() -> None:
    schema = schema_of("vmroll.io_virtualmachinepools.yaml")
    image = schema["properties"]["spec"]["properties"]["image"]
    messages = [rule["message"] for rule in image["x-kubernetes-validations"]]
    assert messages == ["set exactly one of marketplace, gallery or managedImageId"]


def test_pool_printer_columns() -> None:
    crd = build_crd(RESOURCES[0])
    version = crd["spec"]["versions"][0]
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns == {
        "Image": ".status.image.resolvedVersion",
        "Desired": ".spec.replicas",
        "Ready": ".status.readyReplicas",
        "Up-to-date": ".status.updatedReplicas",
        "Status": '.status.conditions[?(@.type=="Ready")].reason',
        "Policy": '.status.conditions[?(@.type=="PolicyCompliant")].reason',
        "Age": ".metadata.creationTimestamp",
    }
    assert version["subresources"]["status"] == {}


@pytest.mark.parametrize(
    ("kind", "scope", "short_name"),
    [
        pytest.param("VirtualMachinePool", "Namespaced", "vmpool", id="pool"),
        pytest.param("AzureAccount", "Cluster", "azacct", id="account"),
        pytest.param("ImagePolicy", "Cluster", "imgpol", id="policy"),
        pytest.param("ImageCapture", "Namespaced", "imgcap", id="capture"),
    ],
)
def test_names_scope_and_category(kind: str, scope: str, short_name: str) -> None:
    crd = next(build_crd(r) for r in RESOURCES if r.kind == kind)
    assert crd["spec"]["scope"] == scope
    assert crd["spec"]["group"] == "vmroll.io"
    assert crd["spec"]["names"]["shortNames"] == [short_name]
    assert crd["spec"]["names"]["categories"] == ["vmroll"]
    assert [v["name"] for v in crd["spec"]["versions"]] == ["v1alpha1"]


def test_cli_writes_the_same_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="vmroll")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["crds", "--output-dir", str(tmp_path / "out")])
    assert args.run(args) == 0
    written = {p.name: p.read_text() for p in (tmp_path / "out").iterdir()}
    assert written == render_crds()
    assert "vmroll.io_azureaccounts.yaml" in capsys.readouterr().out


class _Union(BaseModel):
    value: int | str = Field(description="Not int-or-string: a plain union.")


class _Untyped(BaseModel):
    value: Any = Field(description="Anything at all.")


@pytest.mark.parametrize(
    ("model", "complaint"),
    [
        pytest.param(_Union, "anyOf is only structural", id="union"),
        pytest.param(_Untyped, "needs a type", id="any"),
    ],
)
def test_non_structural_models_are_refused(model: type[BaseModel], complaint: str) -> None:
    with pytest.raises(SchemaError, match=complaint):
        structural_schema(model)


@pytest.mark.parametrize("seed", ["0", "4242"])
def test_rendering_does_not_depend_on_hash_seed(seed: str) -> None:
    script = (
        "import json, sys; from vmroll.api.crd import render_crds; "
        "json.dump(render_crds(), sys.stdout)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONHASHSEED": seed},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(completed.stdout) == render_crds()


class _Checked(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"x-kubernetes-validations": [{"rule": "model", "message": "m"}]}
    )

    value: int = Field(default=0, description="A value.")


class _Holder(BaseModel):
    checked: _Checked | None = Field(
        default=None,
        description="The field's own words.",
        json_schema_extra={"x-kubernetes-validations": [{"rule": "field", "message": "f"}]},
    )


def test_field_and_model_rules_add_up_and_field_description_wins() -> None:
    checked = structural_schema(_Holder)["properties"]["checked"]
    assert checked["description"] == "The field's own words."
    assert [r["rule"] for r in checked["x-kubernetes-validations"]] == ["model", "field"]
    assert "default" not in checked
