"""What `kubectl vmroll status` and `kubectl vmroll history` print, from one pool object.

Pure: the same object always renders the same text, so the tests render the status objects
captured from real runs (tests/fixtures/status/) and read the result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from vmroll.kubectl import pool_object
from vmroll.kubectl.pool_object import Pool

BAR_WIDTH = 20
HISTORY_IN_STATUS = 3


def table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Columns padded to their widest cell, as kubectl prints them."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [
        indent
        + "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def progress_bar(done: int, total: int) -> str:
    share = min(done / total, 1.0) if total else 1.0
    filled = round(share * BAR_WIDTH)
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}"


def _current_versions(instances: Sequence[dict[str, Any]]) -> str:
    counts = Counter(str(i.get("imageVersion", "?")) for i in instances)
    shares = [f"{n} VM{'s' * (n != 1)} on {v}" for v, n in sorted(counts.items())]
    return ", ".join(shares) or "no VMs"


def _rollout_line(pool: Pool) -> str:
    status = pool_object.status(pool)
    desired = pool_object.desired_replicas(pool)
    updated = int(status.get("updatedReplicas", 0))
    strategy = pool.get("spec", {}).get("strategy", {}).get("type", "?")
    if pool_object.paused(pool):
        state = "paused"
    elif pool_object.is_true(pool, "Stalled"):
        state = "stalled"
    elif pool_object.is_true(pool, "Ready") and pool_object.observed(pool):
        state = "complete"
    else:
        state = "in progress"
    return f"{progress_bar(updated, desired)} VMs updated, {strategy}, {state}"


def _instance_rows(pool: Pool, update_revision: str) -> list[list[str]]:
    return [
        [
            str(i.get("name", "?")),
            str(i.get("zone", "-")),
            str(i.get("imageVersion", "?")),
            str(i.get("revision", "?")) + (" *" if i.get("revision") == update_revision else ""),
            str(i.get("health", "?")),
            str(i.get("provisioningState", "?")),
        ]
        for i in pool_object.status(pool).get("instances", [])
    ]


def history_rows(pool: Pool, limit: int | None = None) -> list[list[str]]:
    entries = pool_object.status(pool).get("history", [])[:limit]
    return [
        [
            str(e.get("revision", "?")),
            str(e.get("imageVersion", "?")),
            str(e.get("outcome", "?")),
            str(e.get("startedAt", "-")),
            str(e.get("finishedAt", "-")),
        ]
        for e in entries
    ]


HISTORY_HEADER = ("REVISION", "VERSION", "OUTCOME", "STARTED", "FINISHED")


def _section(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["", title, *(table(header, rows, "  ") if rows else ["  none"])]


def render_status(pool: Pool) -> str:
    status = pool_object.status(pool)
    image = status.get("image", {})
    update_revision = str(status.get("updateRevision", "-"))
    namespace = pool.get("metadata", {}).get("namespace", "")
    lines = [
        f"Pool:        {pool_object.name(pool)} (namespace {namespace})",
        f"Requested:   {image.get('requested', pool_object.requested_version(pool))}",
        f"Target:      {image.get('resolvedVersion', 'not resolved yet')} at revision "
        f"{update_revision}"
        + (f" (latest available {image['latestAvailable']})" if "latestAvailable" in image else ""),
        f"Current:     {_current_versions(status.get('instances', []))}"
        f" (current revision {status.get('currentRevision', '-')})",
        f"Rollout:     {_rollout_line(pool)}",
    ]
    if not pool_object.observed(pool):
        lines.append(
            f"             generation {pool['metadata'].get('generation')} not yet observed "
            f"(status is for generation {status.get('observedGeneration', '-')})"
        )
    lines.append(f"Up next:     {', '.join(status.get('upNext') or []) or '-'}")
    conditions = [
        [str(c.get(key, "")) for key in ("type", "status", "reason", "message")]
        for c in status.get("conditions", [])
    ]
    lines += _section(
        "VMs (* = at the target revision):",
        ("NAME", "ZONE", "VERSION", "REVISION", "HEALTH", "STATE"),
        _instance_rows(pool, update_revision),
    )
    lines += _section("Conditions:", ("TYPE", "STATUS", "REASON", "MESSAGE"), conditions)
    lines += _section("Last rollouts:", HISTORY_HEADER, history_rows(pool, HISTORY_IN_STATUS))
    return "\n".join(lines) + "\n"


def render_history(pool: Pool) -> str:
    """Newest first, as the operator records it in status.history; REASON says `Restart` for
    a rollout a new restart stamp started."""
    entries = pool_object.status(pool).get("history", [])
    if not entries:
        return f'pool "{pool_object.name(pool)}" has no rollout history yet\n'
    rows = [
        [*row, str(entry.get("reason") or "-")]
        for row, entry in zip(history_rows(pool), entries, strict=True)
    ]
    return "\n".join(table((*HISTORY_HEADER, "REASON"), rows)) + "\n"
