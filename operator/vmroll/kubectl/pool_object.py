"""Reading a VirtualMachinePool object as the API server returns it, tolerantly.

The plugin may be older or newer than the operator that wrote the status, so it reads the
JSON object field by field (a missing field is an empty one) instead of validating it against
this version's models, which would refuse an unknown field.
"""

from __future__ import annotations

from typing import Any

Pool = dict[str, Any]


def name(pool: Pool) -> str:
    return str(pool.get("metadata", {}).get("name", ""))


def status(pool: Pool) -> dict[str, Any]:
    found: dict[str, Any] = pool.get("status") or {}
    return found


def condition(pool: Pool, type_: str) -> dict[str, Any] | None:
    return next((c for c in status(pool).get("conditions", []) if c.get("type") == type_), None)


def is_true(pool: Pool, type_: str) -> bool:
    found = condition(pool, type_)
    return found is not None and str(found.get("status")) == "True"


def observed(pool: Pool) -> bool:
    """The status was written for the spec as it is now (the generation the operator saw)."""
    generation = pool.get("metadata", {}).get("generation")
    return generation is not None and bool(status(pool).get("observedGeneration") == generation)


def paused(pool: Pool) -> bool:
    return bool(pool.get("spec", {}).get("strategy", {}).get("paused", False))


def desired_replicas(pool: Pool) -> int:
    return int(pool.get("spec", {}).get("replicas", 0))


def requested_version(pool: Pool) -> str:
    """The image version the spec asks for (`latest` or a number); `-` for a managed image."""
    image = pool.get("spec", {}).get("image", {})
    for source in ("marketplace", "gallery"):
        if source in image:
            return str(image[source].get("version", "latest"))
    return "-"
