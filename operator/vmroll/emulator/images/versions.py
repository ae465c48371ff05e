"""Image version arithmetic: parsing, numeric ordering, `latest`, the versions list's options.

Marketplace and gallery versions are `Major.Minor.Build`, three decimal numbers that each fit a
32-bit integer. Azure orders them numerically per component (`1.0.18` is newer than `1.0.9`;
see the reference's image_versions.md), which is the order every caller here relies on: the
operator resolves a marketplace `latest` with `$top=1&$orderby=name desc`, and a VM asking for
`latest` gets the same answer. Nothing here does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from vmroll.emulator.errors import ArmError

VersionKey = tuple[int, int, int]

LATEST = "latest"
_INT32_MAX = 2**31 - 1


def parse_version(text: str) -> VersionKey | None:
    """The numeric key of `Major.Minor.Build`, or None when `text` is not such a version."""
    parts = text.split(".")
    if len(parts) != 3 or not all(part.isascii() and part.isdigit() for part in parts):
        return None
    major, minor, build = (int(part) for part in parts)
    if max(major, minor, build) > _INT32_MAX:
        return None
    return (major, minor, build)


def version_key(text: str) -> VersionKey:
    """The numeric key of a version already known to be valid."""
    key = parse_version(text)
    if key is None:
        raise ValueError(
            f"{text!r} is not an image version: use Major.Minor.Build, three decimal numbers"
        )
    return key


def is_latest(text: str) -> bool:
    return text.lower() == LATEST


def newest(versions: Iterable[str]) -> str | None:
    """The numerically highest version, or None when there is none."""
    return max(versions, key=version_key, default=None)


class SortOrder(enum.Enum):
    ASCENDING = "asc"
    DESCENDING = "desc"


@dataclass(frozen=True)
class VersionQuery:
    """What `$orderby` and `$top` ask of a versions list."""

    order: SortOrder = SortOrder.ASCENDING
    top: int | None = None

    def apply(self, versions: Iterable[str]) -> list[str]:
        ordered = sorted(versions, key=version_key, reverse=self.order is SortOrder.DESCENDING)
        return ordered if self.top is None else ordered[: self.top]


def parse_version_query(orderby: str | None, top: str | None) -> VersionQuery:
    """Read `$orderby` (`name`, `name asc`, `name desc`) and `$top` (a count, 0 or more).

    Without `$orderby` the list is in ascending version order, as `az vm image list --all` shows.
    """
    order = SortOrder.ASCENDING
    if orderby is not None:
        words = orderby.lower().split()
        if not words or words[0] != "name" or len(words) > 2:
            raise _invalid_option("$orderby", orderby)
        if len(words) == 2:
            try:
                order = SortOrder(words[1])
            except ValueError:
                raise _invalid_option("$orderby", orderby) from None
    count: int | None = None
    if top is not None:
        try:
            count = int(top)
        except ValueError:
            raise _invalid_option("$top", top) from None
        if count < 0:
            raise _invalid_option("$top", top)
    return VersionQuery(order=order, top=count)


def _invalid_option(option: str, value: str) -> ArmError:
    return ArmError(
        400,
        "InvalidParameter",
        f"The value '{value}' of parameter {option} is invalid. "
        "Supported: $orderby=name [asc|desc], $top=<non-negative integer>.",
        target=option,
    )


@dataclass(frozen=True)
class GalleryCandidate:
    """What the gallery `latest` rule needs to know of one image version."""

    name: str
    exclude_from_latest: bool
    replicated_regions: frozenset[str]
    regions_excluded_from_latest: frozenset[str] = frozenset()


def select_gallery_latest(candidates: Iterable[GalleryCandidate], location: str) -> str | None:
    """The gallery image version a VM in `location` gets for `latest`, or None.

    Azure picks the highest Major, then Minor, then Patch among the versions that are not
    excluded from latest (for the whole version or for that region) and that have finished
    replicating to the VM's region.
    """
    eligible = (
        c.name
        for c in candidates
        if not c.exclude_from_latest
        and location in c.replicated_regions
        and location not in c.regions_excluded_from_latest
    )
    return newest(eligible)
