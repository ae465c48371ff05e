"""Retention's choice of versions to delete: never one in use, its own or not vmroll's."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmroll.plan.retention import (
    CAPTURE_UID_TAG,
    KeptBecause,
    PoolUse,
    StoredVersion,
    latest_version,
    plan_retention,
)
from vmroll.plan.versions import GalleryRegion

TAGGED = {CAPTURE_UID_TAG: "uid-1"}


def ours(name: str, state: str = "Succeeded", *, excluded: bool = False) -> StoredVersion:
    return StoredVersion(name, state, exclude_from_latest=excluded, tags=TAGGED)


def theirs(name: str) -> StoredVersion:
    return StoredVersion(name, "Succeeded", tags={"team": "images"})


FIVE = [ours(f"1.0.{n}") for n in range(5)]


@pytest.mark.parametrize(
    ("case", "versions", "keep", "own", "uses", "deleted", "kept"),
    [
        ("keeps the newest N by number", FIVE, 2, "1.0.4", [], ["1.0.0", "1.0.1", "1.0.2"], []),
        ("N covers every version", FIVE, 5, "1.0.4", [], [], []),
        ("N above the count", FIVE, 9, "1.0.4", [], [], []),
        (
            "numeric, not text, order",
            [ours("1.0.9"), ours("1.0.10"), ours("1.0.11")],
            2,
            "1.0.11",
            [],
            ["1.0.9"],
            [],
        ),
        (
            "own version survives beyond N",
            FIVE,
            1,
            "1.0.2",
            [],
            ["1.0.0", "1.0.1", "1.0.3"],
            [("1.0.2", KeptBecause.OWN)],
        ),
        (
            "a version pool VMs run survives",
            FIVE,
            1,
            "1.0.4",
            [PoolUse("apps/web", runs=frozenset({"1.0.1"}))],
            ["1.0.0", "1.0.2", "1.0.3"],
            [("1.0.1", KeptBecause.IN_USE)],
        ),
        (
            "a version a pool pins survives",
            FIVE,
            2,
            "1.0.4",
            [PoolUse("apps/api", targets=frozenset({"1.0.0"}))],
            ["1.0.1", "1.0.2"],
            [("1.0.0", KeptBecause.IN_USE)],
        ),
        (
            "latest of a following pool survives when newer ones are excluded",
            [*FIVE[:3], ours("1.0.3", excluded=True), ours("1.0.4", excluded=True)],
            2,
            "1.0.4",
            [PoolUse("apps/web", follows_latest=True)],
            ["1.0.0", "1.0.1"],
            [("1.0.2", KeptBecause.IN_USE)],
        ),
        (
            "latest skips a version still being created",
            [*FIVE[:4], ours("1.0.4", "Creating")],
            1,
            "1.0.4",
            [PoolUse("apps/web", follows_latest=True)],
            ["1.0.0", "1.0.1", "1.0.2"],
            [("1.0.3", KeptBecause.IN_USE)],
        ),
        (
            "untagged versions are never deleted but count towards N",
            [theirs("1.0.0"), ours("1.0.1"), theirs("1.0.2"), ours("1.0.3")],
            1,
            "1.0.3",
            [],
            ["1.0.1"],
            [("1.0.0", KeptBecause.NOT_CAPTURED), ("1.0.2", KeptBecause.NOT_CAPTURED)],
        ),
        (
            "a version Azure is still writing survives",
            [ours("1.0.0", "Updating"), ours("1.0.1", "Failed"), ours("1.0.2")],
            1,
            "1.0.2",
            [],
            ["1.0.1"],
            [("1.0.0", KeptBecause.IN_PROGRESS)],
        ),
        (
            "a name that does not parse is neither ranked nor deleted",
            [ours("nightly"), *FIVE[:2]],
            1,
            "1.0.1",
            [],
            ["1.0.0"],
            [],
        ),
        (
            "no own version yet (still named)",
            FIVE[:3],
            2,
            None,
            [],
            ["1.0.0"],
            [],
        ),
    ],
)
def test_plan_retention(
    case: str,
    versions: list[StoredVersion],
    keep: int,
    own: str | None,
    uses: list[PoolUse],
    deleted: list[str],
    kept: list[tuple[str, KeptBecause]],
) -> None:
    plan = plan_retention(versions, keep, own, uses)
    assert list(plan.delete) == deleted, case
    assert [(k.name, k.because) for k in plan.kept] == kept, case


def test_kept_in_use_names_the_pools() -> None:
    uses = [
        PoolUse("apps/web", runs=frozenset({"1.0.0"})),
        PoolUse("ops/batch", targets=frozenset({"1.0.0"})),
    ]
    (kept,) = plan_retention(FIVE, 4, "1.0.4", uses).kept
    assert kept.detail == "used by pool apps/web, ops/batch"


@pytest.mark.parametrize("keep", [0, -1])
def test_keep_newest_below_one_is_refused(keep: int) -> None:
    with pytest.raises(ValueError, match="keepNewest must be at least 1"):
        plan_retention(FIVE, keep, "1.0.4", [])


def everywhere(name: str, *regions: GalleryRegion) -> StoredVersion:
    return StoredVersion(name, "Succeeded", tags=TAGGED, regions=regions)


WEST, EAST = GalleryRegion("West Europe"), GalleryRegion("East US")
HIDDEN_IN_EAST = GalleryRegion("East US", exclude_from_latest=True)
REGIONAL = [
    everywhere("1.0.0", WEST, EAST),
    everywhere("1.0.1", WEST, EAST),
    everywhere("1.0.2", WEST, HIDDEN_IN_EAST),
    everywhere("1.0.3", WEST),
    everywhere("1.0.4", WEST),
]


@pytest.mark.parametrize(
    ("location", "kept"),
    [
        ("eastus", "1.0.1"),
        ("westeurope", None),
        (None, None),
    ],
    ids=["newer-ones-not-in-or-hidden-in-the-region", "newest-is-the-regions", "unknown-region"],
)
def test_latest_is_resolved_in_the_pools_region(location: str | None, kept: str | None) -> None:
    use = PoolUse("apps/web", follows_latest=True, location=location)
    plan = plan_retention(REGIONAL, 1, "1.0.4", [use])
    assert [k.name for k in plan.kept] == ([kept] if kept else [])
    assert kept not in plan.delete


def test_latest_version() -> None:
    assert latest_version([ours("1.0.2", excluded=True), ours("1.0.1"), theirs("1.0.0")]) == "1.0.1"
    assert latest_version([ours("1.0.0", "Creating")]) is None


_names = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)), unique=True, max_size=12
).map(lambda parts: [f"{a}.{b}.{c}" for a, b, c in parts])


@given(
    names=_names,
    keep=st.integers(1, 6),
    data=st.data(),
)
def test_retention_invariants(names: list[str], keep: int, data: st.DataObject) -> None:
    tagged = data.draw(st.lists(st.booleans(), min_size=len(names), max_size=len(names)))
    versions = [ours(n) if t else theirs(n) for n, t in zip(names, tagged, strict=True)]
    own = data.draw(st.sampled_from(names)) if names else None
    used = set(data.draw(st.lists(st.sampled_from(names))) if names else [])
    plan = plan_retention(versions, keep, own, [PoolUse("ns/p", runs=frozenset(used))])
    deleted = set(plan.delete)
    ranked = sorted(names, key=lambda n: tuple(int(p) for p in n.split(".")), reverse=True)
    assert deleted.isdisjoint(ranked[:keep])
    assert own not in deleted
    assert deleted.isdisjoint(used)
    assert all(v.captured_by_vmroll() for v in versions if v.name in deleted)
    assert deleted | {k.name for k in plan.kept} == set(ranked[keep:])
