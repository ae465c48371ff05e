"""How far a pool's image is behind the newest available, from versions the status holds.

vmroll resolves "latest" with one small read (the newest version only), so it does not know every
version published in between; the count is of the versions the pool has seen (the newest
available, the versions of its rollout history and of its VMs) newer than its target, a lower
bound that is exact in the common case of one new release. Time behind comes from the release
date most image publishers write into the version (Canonical `24.04.202610220`, Debian
`0.20241004.1890`): the first component whose first eight digits are a calendar date. Versions
that carry no date give no time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from vmroll.plan.versions import is_image_version, parse_image_version

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Staleness:
    versions_behind: int
    seconds_behind: float | None
    """None when either version carries no release date."""


def release_date(version: str) -> date | None:
    """The date written into an image version, if one of its components starts with YYYYMMDD."""
    for component in version.split("."):
        if len(component) < 8 or not component.isdigit():
            continue
        year, month, day = int(component[:4]), int(component[4:6]), int(component[6:8])
        if not 2000 <= year < 2100:
            continue
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return None


def image_staleness(
    target: str | None, newest: str | None, seen: Iterable[str | None] = ()
) -> Staleness | None:
    """`target` against `newest`; None when either is unknown or not an exact version (a
    managed image has no versions, and "latest" may not have been resolved yet)."""
    if target is None or newest is None:
        return None
    if not (is_image_version(target) and is_image_version(newest)):
        return None
    low, high = parse_image_version(target), parse_image_version(newest)
    if high <= low:
        return Staleness(versions_behind=0, seconds_behind=0.0)
    between = {
        parse_image_version(v) for v in (*seen, newest) if v is not None and is_image_version(v)
    }
    behind = sum(1 for v in between if low < v <= high)
    released, newest_released = release_date(target), release_date(newest)
    seconds = None
    if released is not None and newest_released is not None:
        seconds = float(max(0, (newest_released - released).days) * SECONDS_PER_DAY)
    return Staleness(versions_behind=behind, seconds_behind=seconds)
