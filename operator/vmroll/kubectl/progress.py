"""When `kubectl vmroll rollout status` stops, and what it says meanwhile.

Like kubectl's Deployment status viewer, one pure function looks at one pool object and returns
either "still rolling" with a progress line, or a final verdict:

| the pool object                                      | verdict                      |
|------------------------------------------------------|------------------------------|
| being deleted                                        | failed (`Deleting`)          |
| status.observedGeneration behind metadata.generation | waiting: spec not yet seen   |
| `Stalled` True (deadline, rolled back, access ...)   | failed, with its reason      |
| `Ready` True                                         | done (exit 0)                |
| spec.strategy.paused                                 | failed (`Paused`)            |
| anything else                                        | waiting: n of m VMs updated  |

A paused pool ends the wait, unlike `kubectl rollout status` on a paused Deployment (which
waits until its timeout): a paused rollout waits for a person, and a CI job should say so at
once rather than hold its runner until the timeout. A pool paused after it finished is `Ready`,
hence done.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vmroll.kubectl import pool_object
from vmroll.kubectl.pool_object import Pool


class Phase(StrEnum):
    WAITING = "Waiting"
    DONE = "Done"
    FAILED = "Failed"


@dataclass(frozen=True)
class RolloutVerdict:
    phase: Phase
    reason: str
    message: str

    @property
    def final(self) -> bool:
        return self.phase != Phase.WAITING


def rollout_verdict(pool: Pool) -> RolloutVerdict:
    name = pool_object.name(pool)
    status = pool_object.status(pool)
    if pool.get("metadata", {}).get("deletionTimestamp"):
        return RolloutVerdict(Phase.FAILED, "Deleting", f'pool "{name}" is being deleted')
    if not pool_object.observed(pool):
        return RolloutVerdict(
            Phase.WAITING,
            "NotObserved",
            f'Waiting for pool "{name}" spec update to be observed...',
        )
    stalled = pool_object.condition(pool, "Stalled")
    if stalled is not None and stalled.get("status") == "True":
        reason = str(stalled.get("reason", "Stalled"))
        return RolloutVerdict(
            Phase.FAILED, reason, f'pool "{name}" rollout stalled ({reason}): {stalled["message"]}'
        )
    revision = status.get("updateRevision", "-")
    version = status.get("image", {}).get("resolvedVersion", "-")
    desired = pool_object.desired_replicas(pool)
    if pool_object.is_true(pool, "Ready"):
        return RolloutVerdict(
            Phase.DONE,
            "Ready",
            f'pool "{name}" successfully rolled out: {desired} VMs at revision {revision} '
            f"(image {version})",
        )
    updated = status.get("updatedReplicas", 0)
    if pool_object.paused(pool):
        return RolloutVerdict(
            Phase.FAILED,
            "Paused",
            f'pool "{name}" rollout is paused with {updated} of {desired} VMs at revision '
            f"{revision}: run `kubectl vmroll resume {name}` to continue",
        )
    if updated < desired:
        detail = f"{updated} of {desired} VMs updated"
        if revision != "-":
            detail += f" to revision {revision} (image {version})"
    else:
        old = max(status.get("replicas", 0) - updated, 0)
        available = status.get("availableReplicas", 0)
        detail = f"{updated} of {desired} VMs updated, {available} available, {old} old to remove"
    up_next = status.get("upNext") or []
    after = f"; next: {', '.join(up_next)}" if up_next else ""
    return RolloutVerdict(
        Phase.WAITING,
        "Progressing",
        f'Waiting for pool "{name}" rollout to finish: {detail}{after}...',
    )
