"""`--state FILE`: what a restarted emulator must remember so clients see the same Azure.

VMs, their implied disks and NICs, long-running operations (an operation in flight at shutdown
finishes after restart, as it would in Azure), the images side's snapshot, and the invariant
watches with what they recorded (a chaos run restarts the emulator and keeps checking). Written
atomically after every accepted write and at shutdown; read once at start.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vmroll.emulator.context import EmulatorContext
from vmroll.emulator.vm_model import VmRecord

FORMAT_VERSION = 1


class StateError(ValueError):
    """A state file that cannot be used; the message says which file and why."""


def snapshot(context: EmulatorContext) -> dict[str, Any]:
    return {
        "formatVersion": FORMAT_VERSION,
        "vms": [asdict(record) for record in context.vms.records.values()],
        "resources": list(context.vms.resources.values()),
        "operations": context.operations.snapshot(),
        "images": context.images.snapshot(),
        "invariants": context.vms.invariants.snapshot(),
    }


def save(context: EmulatorContext, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(snapshot(context), indent=1, sort_keys=True))
    os.replace(temporary, path)


def load(context: EmulatorContext, path: Path) -> None:
    """Restore a saved state into a fresh context; a missing file means a first start."""
    if not path.exists():
        return
    try:
        data = json.loads(path.read_text())
        if data.get("formatVersion") != FORMAT_VERSION:
            raise StateError(
                f"state file {path} has format {data.get('formatVersion')!r}, this emulator "
                f"reads {FORMAT_VERSION}; delete the file to start empty"
            )
        records = [VmRecord(**item) for item in data["vms"]]
        context.operations.restore(data["operations"])
        context.images.restore(data["images"])
        context.vms.invariants.restore(data.get("invariants", []), records)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, StateError):
            raise
        raise StateError(
            f"state file {path} cannot be read ({exc}); delete it to start empty"
        ) from None
    context.vms.restore(records)
    context.vms.resources = {item["id"].lower(): item for item in data["resources"]}
