"""Version parsing and ordering, the versions list's $orderby/$top, and the gallery latest rule."""

from __future__ import annotations

import pytest

from vmroll.emulator.errors import ArmError
from vmroll.emulator.images.regions import display_name, normalize_location
from vmroll.emulator.images.versions import (
    GalleryCandidate,
    SortOrder,
    VersionQuery,
    is_latest,
    newest,
    parse_version,
    parse_version_query,
    select_gallery_latest,
    version_key,
)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("24.04.202611100", (24, 4, 202611100)),
        ("1.0.18", (1, 0, 18)),
        ("0.0.0", (0, 0, 0)),
        ("17763.3124.2111130129", (17763, 3124, 2111130129)),
        ("2147483647.0.0", (2147483647, 0, 0)),
        ("2147483648.0.0", None),
        ("1.0", None),
        ("1.0.0.0", None),
        ("latest", None),
        ("1.0.x", None),
        ("1..0", None),
        ("-1.0.0", None),
        ("1.0.٣", None),
        ("", None),
    ],
)
def test_parse_version(text: str, key: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == key


def test_version_key_refuses_what_is_not_a_version() -> None:
    with pytest.raises(ValueError, match=r"Major\.Minor\.Build"):
        version_key("latest")


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        (["1.0.9", "1.0.18"], "1.0.18"),
        (["24.04.202609160", "24.04.202611100", "24.04.202610220"], "24.04.202611100"),
        (["9.0.0", "10.0.0"], "10.0.0"),
        (["1.2.0", "1.10.0"], "1.10.0"),
        (["22.04.202410150", "24.04.202401010"], "24.04.202401010"),
        ([], None),
    ],
    ids=["build", "ubuntu", "major", "minor", "major-before-build", "empty"],
)
def test_newest_is_numeric_per_component(versions: list[str], expected: str | None) -> None:
    assert newest(versions) == expected


@pytest.mark.parametrize("text", ["latest", "Latest", "LATEST"])
def test_latest_is_case_insensitive(text: str) -> None:
    assert is_latest(text)


@pytest.mark.parametrize(
    ("orderby", "top", "expected"),
    [
        (None, None, VersionQuery(SortOrder.ASCENDING, None)),
        ("name desc", "1", VersionQuery(SortOrder.DESCENDING, 1)),
        ("Name DESC", None, VersionQuery(SortOrder.DESCENDING, None)),
        ("name", "3", VersionQuery(SortOrder.ASCENDING, 3)),
        ("name asc", "0", VersionQuery(SortOrder.ASCENDING, 0)),
        ("  name   desc ", None, VersionQuery(SortOrder.DESCENDING, None)),
    ],
)
def test_parse_version_query(orderby: str | None, top: str | None, expected: VersionQuery) -> None:
    assert parse_version_query(orderby, top) == expected


@pytest.mark.parametrize(
    ("orderby", "top", "target"),
    [
        ("location desc", None, "$orderby"),
        ("name sideways", None, "$orderby"),
        ("name desc extra", None, "$orderby"),
        ("", None, "$orderby"),
        (None, "one", "$top"),
        (None, "-1", "$top"),
    ],
)
def test_parse_version_query_refuses(orderby: str | None, top: str | None, target: str) -> None:
    with pytest.raises(ArmError) as caught:
        parse_version_query(orderby, top)
    assert (caught.value.status, caught.value.code, caught.value.target) == (
        400,
        "InvalidParameter",
        target,
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (VersionQuery(), ["1.0.5", "1.0.9", "1.0.18", "1.1.0"]),
        (VersionQuery(SortOrder.DESCENDING), ["1.1.0", "1.0.18", "1.0.9", "1.0.5"]),
        (VersionQuery(SortOrder.DESCENDING, 1), ["1.1.0"]),
        (VersionQuery(SortOrder.ASCENDING, 2), ["1.0.5", "1.0.9"]),
        (VersionQuery(SortOrder.DESCENDING, 10), ["1.1.0", "1.0.18", "1.0.9", "1.0.5"]),
        (VersionQuery(SortOrder.DESCENDING, 0), []),
    ],
)
def test_version_query_apply(query: VersionQuery, expected: list[str]) -> None:
    assert query.apply(["1.0.9", "1.1.0", "1.0.18", "1.0.5"]) == expected


def _candidate(
    name: str,
    regions: str = "westeurope eastus",
    excluded: bool = False,
    excluded_in: str = "",
) -> GalleryCandidate:
    return GalleryCandidate(
        name=name,
        exclude_from_latest=excluded,
        replicated_regions=frozenset(regions.split()),
        regions_excluded_from_latest=frozenset(excluded_in.split()),
    )


@pytest.mark.parametrize(
    ("candidates", "location", "expected"),
    [
        ([_candidate("1.0.0"), _candidate("1.1.0")], "eastus", "1.1.0"),
        ([_candidate("1.0.0"), _candidate("1.1.0", excluded=True)], "eastus", "1.0.0"),
        ([_candidate("1.0.0"), _candidate("1.1.0", regions="westeurope")], "eastus", "1.0.0"),
        ([_candidate("1.0.0"), _candidate("1.1.0", regions="westeurope")], "westeurope", "1.1.0"),
        ([_candidate("1.0.0"), _candidate("1.1.0", excluded_in="eastus")], "eastus", "1.0.0"),
        ([_candidate("1.0.0"), _candidate("1.1.0", excluded_in="eastus")], "westeurope", "1.1.0"),
        ([_candidate("1.9.0"), _candidate("1.10.0")], "eastus", "1.10.0"),
        ([_candidate("0.1.0", excluded=True)], "eastus", None),
        ([_candidate("1.0.0", regions="westeurope")], "eastus", None),
        ([], "eastus", None),
    ],
    ids=[
        "highest",
        "skips-excluded",
        "skips-not-replicated-here",
        "replicated-here",
        "skips-excluded-in-region",
        "excluded-elsewhere-only",
        "numeric-minor",
        "only-excluded",
        "only-elsewhere",
        "no-versions",
    ],
)
def test_select_gallery_latest(
    candidates: list[GalleryCandidate], location: str, expected: str | None
) -> None:
    assert select_gallery_latest(candidates, location) == expected


@pytest.mark.parametrize(
    ("name", "short", "display"),
    [
        ("West Europe", "westeurope", "West Europe"),
        ("westeurope", "westeurope", "West Europe"),
        ("EastUS", "eastus", "East US"),
        ("East US 2", "eastus2", "East US 2"),
        ("mars1", "mars1", "mars1"),
    ],
)
def test_region_names(name: str, short: str, display: str) -> None:
    assert (normalize_location(name), display_name(name)) == (short, display)
