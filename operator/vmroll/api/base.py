"""The building blocks every vmroll model shares, so that all of them read the same way.

Models are frozen (state is replaced, never mutated), camelCase on the wire and snake_case in
Python, and reject unknown fields so that a typo in an example fails loudly. The helpers here
carry what the CRD schema needs beyond plain types: API-server validation rules (CEL) and
defaults for nested objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

GROUP = "vmroll.io"
VERSION = "v1alpha1"
API_VERSION: Final = "vmroll.io/v1alpha1"

M = TypeVar("M", bound=BaseModel)


class ApiModel(BaseModel):
    """Base of every vmroll API object: frozen, camelCase aliases, unknown fields rejected."""

    model_config = ConfigDict(
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
    )

    def model_post_init(self, context: Any, /) -> None:
        # pydantic gives each instance a set of the fields it was given, 728 bytes once it holds
        # five names: half of a pool status's model (kept per pool, reconcile/memory.py). A frozen
        # model never changes its set in place (`model_copy` copies it), so alike ones share one.
        fields = self.__pydantic_fields_set__
        shared = _FIELDS_SETS.setdefault(frozenset(fields), fields)
        object.__setattr__(self, "__pydantic_fields_set__", shared)

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready form the Kubernetes API expects: camelCase, unset optionals omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


_FIELDS_SETS: dict[frozenset[str], set[str]] = {}
"""One set of field names per combination models were given (`ApiModel.model_post_init`):
bounded by the models' fields, not by how many instances exist."""


def cel(rule: str, message: str, field_path: str | None = None) -> JsonDict:
    """One `x-kubernetes-validations` entry; the API server reports `message` on failure."""
    entry: JsonDict = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    return entry


def validations(*rules: JsonDict) -> JsonDict:
    """JSON-schema extras that attach CEL rules to a model or a field."""
    return {"x-kubernetes-validations": list(rules)}


def nested(model: type[M], description: str) -> Any:
    """A field holding a nested object that defaults to that object's own defaults.

    The CRD gets `default: {}`, which the API server fills with the nested defaults, so a
    stored object shows the effective values in `kubectl get -o yaml`.
    """
    factory: Callable[[], M] = model
    return Field(
        default_factory=factory, description=description, json_schema_extra={"default": {}}
    )
