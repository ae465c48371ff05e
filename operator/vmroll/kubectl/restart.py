"""`kubectl vmroll restart POOL`: roll every VM again at the same image version.

As `kubectl rollout restart` stamps a Deployment's pod template, this stamps the pool's VM
template, `spec.template.restartedAt`, with the current time (one merge patch, with the user's
own RBAC). The operator hashes the stamp into the revision, so a new stamp is a new revision at
the same image, rolled through the pool's strategy; the same stamp again changes nothing.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from vmroll.kubectl import pool_object
from vmroll.kubectl.cluster import RESOURCE, Pools
from vmroll.kubectl.pool_object import Pool


def stamp(now: datetime) -> str:
    """RFC 3339 in UTC to the second, as kubectl's `restartedAt` and the operator write it."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def restart_patch(restarted_at: str) -> dict[str, Any]:
    return {"spec": {"template": {"restartedAt": restarted_at}}}


def restart_message(pool: Pool, restarted_at: str, resource: str = RESOURCE) -> str:
    """What `restart` prints: what it wrote, and what the pool will do with it."""
    name = pool_object.name(pool)
    strategy = pool.get("spec", {}).get("strategy", {}).get("type", "RollingReplace")
    what = {
        "RollingReimage": "every VM is reimaged",
        "RollingReplace": "every VM is replaced",
        "OnDelete": "VMs are recreated as you delete them",
    }.get(strategy, "every VM is rolled")
    lines = [
        f"{resource}/{name} restarted (spec.template.restartedAt={restarted_at}): {what} "
        f"at the same image version ({strategy})"
    ]
    if pool_object.paused(pool):
        lines.append(f"the pool is paused: the restart waits for `kubectl vmroll resume {name}`")
    return "\n".join(lines) + "\n"


def add_parser(commands: Any, flags: argparse.ArgumentParser) -> None:
    """Register `restart POOL` on the plugin's subcommands."""
    command = commands.add_parser(
        "restart", parents=[flags],
        help="roll every VM again at the same image version (spec.template.restartedAt)",
    )  # fmt: skip
    command.add_argument("pool")


def run(pools: Pools, name: str, now: datetime) -> int:
    restarted_at = stamp(now)
    pool = pools.patch(name, restart_patch(restarted_at))
    print(restart_message(pool, restarted_at), end="")
    return 0
