"""The spec `kubectl vmroll plan` plans: a file, `--set` overrides, and the checks it must pass.

The file must be one vmroll.io VirtualMachinePool naming the pool planned against (and its
namespace, when it names one). `--set version=V` sets the image's version whatever its source;
`--set PATH=VALUE` sets any spec field by its dotted path (`replicas=4`,
`template.vmSize=Standard_D4s_v5`, `strategy.type=RollingReimage`), the value read as a YAML
scalar. The result is validated with the same pydantic models the operator reads pools with.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from vmroll.api.base import GROUP, VERSION
from vmroll.api.pool import VirtualMachinePoolSpec

KIND = "VirtualMachinePool"
API_VERSION = f"{GROUP}/{VERSION}"


class BadInput(ValueError):
    """The file or an override cannot be planned; the message says what to change."""


def read_manifest(path: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except (OSError, yaml.YAMLError) as error:
        raise BadInput(f"cannot read {path}: {error}") from error
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise BadInput(f"{path} must hold exactly one {KIND} object, not {len(documents)}")
    manifest: dict[str, Any] = documents[0]
    kind, api_version = manifest.get("kind"), manifest.get("apiVersion")
    if (kind, api_version) != (KIND, API_VERSION):
        raise BadInput(f"{path} is a {api_version} {kind}, not a {API_VERSION} {KIND}")
    return manifest


def check_identity(manifest: dict[str, Any], pool: str | None, namespace: str) -> str:
    """The pool name planned against; the file may not name another pool or namespace."""
    metadata = manifest.get("metadata") or {}
    named = metadata.get("name")
    if not named:
        raise BadInput("the file's metadata.name is missing")
    if pool is not None and pool != named:
        raise BadInput(f'the file describes pool "{named}", not "{pool}"')
    if metadata.get("namespace") not in (None, namespace):
        raise BadInput(
            f'the file is for namespace "{metadata["namespace"]}", not "{namespace}" (use -n)'
        )
    return str(named)


def apply_overrides(spec: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """The spec with each `PATH=VALUE` set (see the module docstring)."""
    result = copy.deepcopy(spec)
    for override in overrides:
        path, sep, value = override.partition("=")
        if not sep or not path:
            raise BadInput(f"--set {override!r}: use KEY=VALUE, e.g. version=24.04.202611100")
        if path == "version":
            image = result.get("image") or {}
            source = next((s for s in ("marketplace", "gallery") if s in image), None)
            if source is None:
                raise BadInput("--set version: the pool's image (a managed image) has no version")
            image[source]["version"] = value
            continue
        keys = path.removeprefix("spec.").split(".")
        node = result
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise BadInput(f"--set {path}: spec.{key} is not an object")
            node = child
        node[keys[-1]] = yaml.safe_load(value) if value else value
    return result


def validate(spec: dict[str, Any]) -> VirtualMachinePoolSpec:
    """The spec as the operator reads it, or every problem pydantic finds, by field path."""
    try:
        return VirtualMachinePoolSpec.model_validate(spec)
    except ValidationError as error:
        problems = [
            f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"]
            for e in error.errors()
        ]
        raise BadInput("the spec does not validate:\n  " + "\n  ".join(problems)) from error
