"""Turn a pydantic model's JSON schema into a Kubernetes structural OpenAPI v3 schema.

Kubernetes accepts only "structural" schemas: every node typed, no `$ref`, no `anyOf` standing
in for a type, no `additionalProperties` beside `properties`. Pydantic emits all of those, so
this module rewrites its output: references are inlined, `Optional[X]` becomes X (absence,
not null, means unset), titles are dropped, and the field description wins over the model's
docstring.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_DROPPED_KEYS = frozenset({"title", "$defs", "examples", "propertyNames"})
_NULL = {"type": "null"}
_RULES = "x-kubernetes-validations"
_OBJECT_BOUNDS = {"minLength": "minProperties", "maxLength": "maxProperties"}

JsonSchema = dict[str, Any]


class SchemaError(ValueError):
    """The model uses a construct a structural schema cannot express."""


def structural_schema(model: type[BaseModel]) -> JsonSchema:
    """The structural schema of `model`, with aliases (the wire names) as property names."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    definitions: dict[str, JsonSchema] = raw.get("$defs", {})
    return _convert(raw, definitions, path=model.__name__)


def _resolve(node: JsonSchema, definitions: dict[str, JsonSchema], path: str) -> JsonSchema:
    """Inline a `$ref` and collapse `Optional[X]`, keeping the referring node's own keys."""
    node = dict(node)
    ref = node.pop("$ref", None)
    if ref is not None:
        node = _merge(definitions[ref.removeprefix("#/$defs/")], node)
    any_of = node.get("anyOf")
    if any_of is not None and _NULL in any_of:
        rest = [branch for branch in any_of if branch != _NULL]
        if len(rest) != 1:
            raise SchemaError(f"{path}: a union other than Optional[X] is not structural")
        del node["anyOf"]
        if node.get("default", ...) is None:
            del node["default"]
        node = _merge(_resolve(rest[0], definitions, path), node)
    if "$ref" in node or ("anyOf" in node and _NULL in node["anyOf"]):
        return _resolve(node, definitions, path)
    return node


def _merge(referred: JsonSchema, referring: JsonSchema) -> JsonSchema:
    """The referring node's keys win (a field's description over a model's docstring), except
    validation rules, which add up."""
    merged = {**referred, **referring}
    rules = [*referred.get(_RULES, []), *referring.get(_RULES, [])]
    if rules:
        merged[_RULES] = rules
    return merged


def _convert(node: JsonSchema, definitions: dict[str, JsonSchema], path: str) -> JsonSchema:
    node = _resolve(node, definitions, path)
    out: JsonSchema = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "properties":
            out[key] = {
                name: _convert(child, definitions, f"{path}.{name}")
                for name, child in value.items()
            }
        elif key == "items":
            out[key] = _convert(value, definitions, f"{path}[]")
        elif key == "additionalProperties":
            if isinstance(value, dict):
                out[key] = _convert(value, definitions, f"{path}{{}}")
        elif key == "const":
            out["enum"] = [value]
        else:
            out[key] = value
    if "properties" in out or ("type" not in out and "additionalProperties" in out):
        out["type"] = "object"
    if out.get("type") == "object":
        for length, count in _OBJECT_BOUNDS.items():
            if length in out:
                out[count] = out.pop(length)
    if "anyOf" in out and not out.get("x-kubernetes-int-or-string"):
        raise SchemaError(f"{path}: anyOf is only structural for int-or-string")
    if "type" not in out and not out.get("x-kubernetes-int-or-string"):
        raise SchemaError(f"{path}: every node needs a type")
    return out
