"""Image versions order numerically per component; "latest" honours gallery exclusions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmroll.plan.versions import (
    GalleryRegion,
    GalleryVersion,
    InvalidImageVersion,
    eligible_for_latest,
    is_image_version,
    is_latest,
    newest_version,
    parse_image_version,
    resolve_gallery_latest,
    usable_in,
)

versions = st.builds(
    lambda parts: ".".join(str(p) for p in parts),
    st.tuples(*(st.integers(min_value=0, max_value=10**10) for _ in range(3))),
)


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        pytest.param("1.0.9", "1.0.18", id="more-digits-is-newer"),
        pytest.param("22.04.202403080", "22.04.202405010", id="ubuntu-builds"),
        pytest.param("18.04.202101290", "22.04.202403080", id="major"),
        pytest.param("9.9.9", "10.0.0", id="major-digits"),
        pytest.param("17763.3124.2111130129", "17763.3125.0", id="windows-minor"),
    ],
)
def test_numeric_order_per_component(older: str, newer: str) -> None:
    assert parse_image_version(older) < parse_image_version(newer)
    assert parse_image_version(newer).components > parse_image_version(older).components


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("latest", id="latest"),
        pytest.param("1.2", id="two-parts"),
        pytest.param("1.2.3.4", id="four-parts"),
        pytest.param("1.2.x", id="letters"),
        pytest.param("", id="empty"),
        pytest.param("-1.2.3", id="negative"),
        pytest.param(" 1.2.3", id="space"),
    ],
)
def test_malformed_versions_are_refused(text: str) -> None:
    assert not is_image_version(text)
    with pytest.raises(InvalidImageVersion, match=r"Major\.Minor\.Build"):
        parse_image_version(text)


@pytest.mark.parametrize(
    ("text", "latest"),
    [("latest", True), ("LATEST", True), ("1.2.3", False), ("", False)],
)
def test_is_latest(text: str, latest: bool) -> None:
    assert is_latest(text) is latest


@pytest.mark.parametrize(
    ("listed", "latest"),
    [
        pytest.param(["1.0.9", "1.0.18", "1.0.10"], "1.0.18", id="numeric-not-text"),
        pytest.param(["22.04.202405140"], "22.04.202405140", id="single"),
        pytest.param([], None, id="empty"),
        pytest.param(["latest", "preview"], None, id="no-versions"),
    ],
)
def test_newest_version(listed: list[str], latest: str | None) -> None:
    assert newest_version(listed) == latest


@given(st.lists(versions, min_size=1))
def test_newest_is_not_older_than_any(listed: list[str]) -> None:
    newest = newest_version(listed)
    assert newest is not None
    assert all(parse_image_version(v) <= parse_image_version(newest) for v in listed)


@given(versions, versions, versions)
def test_order_is_total_and_transitive(a: str, b: str, c: str) -> None:
    x, y, z = (parse_image_version(v) for v in (a, b, c))
    assert (x < y) + (x == y) + (x > y) == 1
    if x <= y and y <= z:
        assert x <= z


def gallery(
    name: str,
    *regions: GalleryRegion,
    exclude: bool = False,
    provisioned: bool = True,
) -> GalleryVersion:
    return GalleryVersion(name, regions, exclude_from_latest=exclude, provisioned=provisioned)


WEST = GalleryRegion("West Europe")
NORTH = GalleryRegion("northeurope")
WEST_REPLICATING = GalleryRegion("westeurope", replicated=False)


@pytest.mark.parametrize(
    ("listed", "latest"),
    [
        pytest.param(
            [gallery("1.0.9", WEST), gallery("1.0.10", WEST)], "1.0.10", id="highest-numeric"
        ),
        pytest.param(
            [gallery("1.0.0", WEST), gallery("2.0.0", WEST, exclude=True)],
            "1.0.0",
            id="version-excluded",
        ),
        pytest.param(
            [
                gallery("1.0.0", WEST),
                gallery("2.0.0", GalleryRegion("westeurope", exclude_from_latest=True), NORTH),
            ],
            "1.0.0",
            id="excluded-in-this-region",
        ),
        pytest.param(
            [gallery("1.0.0", WEST), gallery("2.0.0", NORTH)], "1.0.0", id="not-in-region"
        ),
        pytest.param(
            [gallery("1.0.0", WEST), gallery("2.0.0", WEST_REPLICATING)],
            "1.0.0",
            id="still-replicating",
        ),
        pytest.param(
            [gallery("1.0.0", WEST), gallery("2.0.0", WEST, provisioned=False)],
            "1.0.0",
            id="not-provisioned",
        ),
        pytest.param(
            [gallery("1.0.0", NORTH, GalleryRegion("westeurope", exclude_from_latest=True))],
            None,
            id="nothing-eligible",
        ),
        pytest.param(
            [gallery("2.0.0", GalleryRegion("northeurope", exclude_from_latest=True), WEST)],
            "2.0.0",
            id="excluded-elsewhere-only",
        ),
    ],
)
def test_gallery_latest_in_westeurope(listed: list[GalleryVersion], latest: str | None) -> None:
    assert resolve_gallery_latest(listed, "westeurope") == latest


def test_excluded_version_is_still_usable_by_name() -> None:
    pinned = gallery("2.0.0", WEST, exclude=True)
    assert usable_in(pinned, "westeurope")
    assert not eligible_for_latest(pinned, "westeurope")
