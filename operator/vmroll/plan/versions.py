"""Image versions: parse them, order them, and choose "latest" from a listing.

Azure image versions are Major.Minor.Build in decimal numbers, and the number of digits per
component varies ("1.0.9" and "1.0.18", "22.04.202405140"), so text order is wrong: versions
are ordered numerically, component by component, which is the documented gallery rule and the
safe reading of marketplace `orderby=name desc`. vmroll resolves "latest" itself, once per
check, so that every VM of a revision runs the same exact version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

LATEST = "latest"
_VERSION = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)")


class InvalidImageVersion(ValueError):
    """A string that is not Major.Minor.Build in decimal numbers."""


@dataclass(frozen=True, order=True)
class ImageVersion:
    """A parsed image version; ordered numerically, then by text so the order is total."""

    components: tuple[int, int, int]
    text: str

    def __str__(self) -> str:
        return self.text


def parse_image_version(text: str) -> ImageVersion:
    """Parse "Major.Minor.Build"; `InvalidImageVersion` says what was wrong."""
    match = _VERSION.fullmatch(text)
    if match is None:
        raise InvalidImageVersion(
            f"image version {text!r} is not Major.Minor.Build in decimal numbers, "
            "such as 22.04.202405140"
        )
    major, minor, build = (int(part) for part in match.groups())
    return ImageVersion((major, minor, build), text)


def is_image_version(text: str) -> bool:
    """Whether `text` is an exact version (not `latest`, not malformed)."""
    return _VERSION.fullmatch(text) is not None


def is_latest(text: str) -> bool:
    """Whether a requested version means "the newest available"."""
    return text.lower() == LATEST


def newest_version(names: Iterable[str]) -> str | None:
    """The newest exact version among `names`, or None when there is none."""
    versions = [parse_image_version(name) for name in names if is_image_version(name)]
    return str(max(versions)) if versions else None


def normalize_location(location: str) -> str:
    """ARM treats "West Europe" and "westeurope" as the same region."""
    return location.replace(" ", "").lower()


@dataclass(frozen=True)
class GalleryRegion:
    """One target region of a gallery image version, as listed."""

    name: str
    exclude_from_latest: bool = False
    replicated: bool = True
    """Replication to this region has completed."""


@dataclass(frozen=True)
class GalleryVersion:
    """A gallery image version, as listed: what decides whether "latest" may pick it."""

    name: str
    regions: tuple[GalleryRegion, ...]
    exclude_from_latest: bool = False
    provisioned: bool = True
    """Its provisioning state is Succeeded."""


def usable_in(version: GalleryVersion, location: str) -> bool:
    """Whether a VM in `location` can be created from `version` (named explicitly)."""
    wanted = normalize_location(location)
    return version.provisioned and any(
        normalize_location(region.name) == wanted and region.replicated
        for region in version.regions
    )


def eligible_for_latest(version: GalleryVersion, location: str) -> bool:
    """Whether "latest" may pick `version` in `location`.

    It must be usable there and not excluded from latest, neither for the whole version nor
    for that region: a version its publisher hid anywhere that matters is never picked.
    """
    if not usable_in(version, location) or version.exclude_from_latest:
        return False
    if not is_image_version(version.name):
        return False
    wanted = normalize_location(location)
    return not any(
        region.exclude_from_latest
        for region in version.regions
        if normalize_location(region.name) == wanted
    )


def resolve_gallery_latest(versions: Iterable[GalleryVersion], location: str) -> str | None:
    """Gallery "latest" in `location`: the highest eligible version, or None."""
    return newest_version(v.name for v in versions if eligible_for_latest(v, location))
