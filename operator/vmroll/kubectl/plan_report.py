"""What `kubectl vmroll plan` reports: a planned spec against the live pool, decided by the
operator's own code.

Nothing here guesses: the revision a spec makes is `plan.revision.revision_of` of the inputs the
operator hashes, whether a VM is reimaged, replaced or kept is `change_for` and the planner
(`plan.preview.preview_rollout`, which runs `plan_rollout` forward) over the same `RolloutSpec`
the operator maps from the spec (`reconcile.spec_map.rollout_spec`), and the reasons are
`changed_fields` between the VM's revision inputs and the target's. The image version is the one
the spec pins, or for `latest` the one the operator last resolved (status.image): the plugin
makes no Azure call. Pure: the live object and the planned spec in, a JSON-ready dict out.
"""

from __future__ import annotations

import difflib
import statistics
from datetime import datetime, timedelta
from typing import Any

import yaml

from vmroll.api.image import LATEST, ImageSource
from vmroll.api.pool import VirtualMachinePoolSpec
from vmroll.plan.fenceposts import resolve_fenceposts
from vmroll.plan.preview import PreviewVm, preview_rollout
from vmroll.plan.revision import (
    Change,
    ImageIdentity,
    RevisionInputs,
    VmShape,
    change_for,
    changed_fields,
    revision_of,
)
from vmroll.plan.rollout_events import format_duration
from vmroll.plan.rollout_model import ReimagePairs, Target
from vmroll.reconcile.spec_map import restart_stamp, rollout_spec

JsonDict = dict[str, Any]


def image_identity(image: ImageSource, version: str) -> ImageIdentity:
    if image.marketplace is not None:
        m = image.marketplace
        return ImageIdentity.marketplace(m.publisher, m.offer, m.sku, version)
    if image.gallery is not None:
        return ImageIdentity.gallery(image.gallery.image_id, version)
    assert image.managed_image_id is not None  # the model guarantees exactly one source
    return ImageIdentity.managed(image.managed_image_id)


def _version(
    spec: VirtualMachinePoolSpec, resolved: str | None, same_image: bool
) -> tuple[str, str]:
    """The exact version a spec targets, and how it was found."""
    requested = spec.image.requested_version
    if requested is None:
        return "", "a managed image has no versions"
    if requested != LATEST:
        return requested, "pinned by the spec (not checked against Azure)"
    if resolved and same_image:
        return resolved, (
            f"latest: the version the operator last resolved (status.image.resolvedVersion "
            f"{resolved}); a newer one published since would be rolled to as well"
        )
    return LATEST, "latest of another image: the operator resolves it at its next pass"


def _inputs(spec: VirtualMachinePoolSpec, version: str) -> RevisionInputs:
    return RevisionInputs(
        image_identity(spec.image, version), VmShape.of(spec.template), restart_stamp(spec.template)
    )


def spec_diff(live: JsonDict, planned: JsonDict) -> list[str]:
    """A unified diff of the two specs as YAML (keys sorted), empty when equal."""

    def lines(spec: JsonDict) -> list[str]:
        return yaml.safe_dump(spec, sort_keys=True, default_flow_style=False).splitlines()

    return list(difflib.unified_diff(lines(live), lines(planned), "live", "planned", lineterm=""))


def estimate(status: JsonDict, replicas: int, vms_changed: int) -> JsonDict:
    """The median seconds per VM of the pool's past successful rollouts, times the VMs to move."""
    per_vm: list[float] = []
    for entry in status.get("history", []):
        if entry.get("outcome") != "Succeeded" or not entry.get("finishedAt"):
            continue
        started = datetime.fromisoformat(str(entry["startedAt"]).replace("Z", "+00:00"))
        finished = datetime.fromisoformat(str(entry["finishedAt"]).replace("Z", "+00:00"))
        per_vm.append((finished - started).total_seconds() / max(replicas, 1))
    if not per_vm:
        return {"seconds": None, "text": "no history"}
    if not vms_changed:
        return {"seconds": 0, "text": "nothing to roll"}
    median = statistics.median(per_vm)
    seconds = round(median * vms_changed)
    return {
        "seconds": seconds,
        "text": (
            f"about {format_duration(timedelta(seconds=seconds))} ({vms_changed} VMs at the median "
            f"{median:.1f}s per VM of {len(per_vm)} past rollout{'s' * (len(per_vm) != 1)})"
        ),
    }


def _vm_row(
    vm: JsonDict, live: RevisionInputs, target: RevisionInputs
) -> tuple[PreviewVm, Change, tuple[str, ...] | None]:
    """The VM, how `change_for` says it reaches the target, and why (None: its revision is not
    the live spec's at any version, so which fields differ is unknown)."""
    name, revision = str(vm.get("name")), str(vm.get("revision", ""))
    version = str(vm.get("imageVersion") or "")
    own = live.as_vm(version or None, live.restart)
    known = revision_of(own) == revision
    restart = live.restart if known else None
    change = change_for(revision, version or None, target, restart)
    why = changed_fields(own, target) if known else None
    return PreviewVm(name, revision, version, vm.get("zone"), restart), change, why


def build_report(
    live: JsonDict, planned_spec: JsonDict, planned: VirtualMachinePoolSpec, now: datetime
) -> JsonDict:
    """The whole plan, JSON-ready; `planned` is `planned_spec` validated."""
    current = VirtualMachinePoolSpec.model_validate(live["spec"])
    status: JsonDict = live.get("status") or {}
    resolved = (status.get("image") or {}).get("resolvedVersion")
    live_version, _ = _version(current, resolved, same_image=True)
    live_inputs = _inputs(current, live_version)
    same_image = live_inputs.image.name == image_identity(planned.image, "").name
    version, version_note = _version(planned, resolved, same_image)
    target_inputs = _inputs(planned, version)
    target = Target(revision_of(target_inputs), version)

    rows = [_vm_row(vm, live_inputs, target_inputs) for vm in status.get("instances", [])]
    pairs = ReimagePairs(
        frozenset(
            (vm.revision, target.revision) for vm, change, _ in rows if change is Change.REIMAGE
        )
    )
    rollout = rollout_spec(planned, target)
    versions = {
        str(e.get("revision")): str(e.get("imageVersion") or "") for e in status.get("history", [])
    }
    good = status.get("currentRevision")
    previous_good = Target(str(good), versions.get(str(good), "")) if good else None
    preview = preview_rollout(rollout, [vm for vm, _, _ in rows], previous_good, now, pairs)

    taken: dict[str, str] = {}
    for batch in preview.batches:
        taken |= {n: "reimage" for n in batch.reimaged}
        taken |= {n: "replace" for n in batch.replaced}
        taken |= {n: "remove" for n in batch.removed}
    vms = []
    for vm, change, why in rows:
        action = taken.get(vm.name) or ("keep" if change is Change.NONE else "replace when deleted")
        vms.append({
            "name": vm.name, "imageVersion": vm.image_version, "revision": vm.revision,
            "action": action, "why": _why(action, change, why, planned),
        })  # fmt: skip
    surge, unavailable = resolve_fenceposts(
        rollout.max_surge, rollout.max_unavailable, rollout.replicas
    )
    moved = sum(len(b.reimaged) + len(b.replaced) for b in preview.batches)
    return {
        "pool": {"name": live["metadata"]["name"], "namespace": live["metadata"].get("namespace")},
        "image": {
            "live": {"image": live_inputs.image.name, "version": live_version},
            "planned": {"image": target_inputs.image.name, "version": version},
            "versionFrom": version_note,
        },
        "revision": {
            "live": status.get("updateRevision"),
            "planned": target.revision,
            "liveReproduced": revision_of(live_inputs) == status.get("updateRevision"),
        },
        "diff": spec_diff(live["spec"], planned_spec),
        "strategy": {
            "type": planned.strategy.type.value,
            "maxSurge": surge,
            "maxUnavailable": unavailable,
            "paused": planned.strategy.paused,
            "maintenanceWindows": len(planned.update_policy.maintenance_windows),
        },
        "vms": vms,
        "batches": [
            {"reimage": list(b.reimaged), "replace": list(b.replaced), "remove": list(b.removed)}
            for b in preview.batches
        ],
        "created": preview.created,
        "complete": preview.complete,
        "estimate": estimate(status, planned.replicas, moved),
    }


def _why(
    action: str, change: Change, why: tuple[str, ...] | None, planned: VirtualMachinePoolSpec
) -> list[str]:
    if change is Change.NONE and action == "keep":
        return ["at the planned revision"]
    if action == "remove":
        return [f"spec.replicas {planned.replicas}: the pool scales down"]
    reasons = (
        list(why)
        if why is not None
        else ["its revision is not the live spec's at any version (an older template): replaced"]
    )
    if action == "replace" and change is Change.REIMAGE:
        reasons.append(f"strategy {planned.strategy.type.value} replaces")
    elif action == "replace" and any(
        r.startswith(("spec.template.", "spec.image:")) for r in reasons
    ):
        reasons.append("Azure cannot change these on an existing VM")
    elif action == "replace when deleted":
        reasons.append("strategy OnDelete: the operator recreates it once you delete it")
    return reasons
