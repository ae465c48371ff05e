"""vmroll recognises its VMs by the pool-UID tag alone, and spots the ones that only look alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmroll.api.template import FORBIDDEN_TAG_CHARACTERS
from vmroll.plan import ownership
from vmroll.plan.naming import vm_name
from vmroll.plan.ownership import (
    CAPTURE_NAMESPACE_TAG,
    CAPTURE_TAG,
    CAPTURE_UID_TAG,
    OWNERSHIP_TAGS,
    POOL_NAMESPACE_TAG,
    POOL_TAG,
    POOL_UID_TAG,
    Ownership,
    OwnershipIndex,
    PoolIdentity,
    captured_by,
    classify,
    ownership_tags,
    partition,
    vm_tags,
)

POOL = PoolIdentity(namespace="team-a", name="web", uid="uid-1")
OURS = ownership_tags(POOL, "abc123", "1.2.3")


@dataclass(frozen=True)
class Vm:
    name: str | None
    tags: Mapping[str, str] | None


def test_ownership_tag_names_are_valid_azure_tag_names() -> None:
    for tag in OWNERSHIP_TAGS:
        assert not FORBIDDEN_TAG_CHARACTERS & set(tag), tag
        assert tag.startswith("vmroll.io_")


def test_ownership_tags() -> None:
    assert ownership_tags(POOL, "abc123", "1.2.3") == {
        "vmroll.io_pool-uid": "uid-1",
        "vmroll.io_pool": "web",
        "vmroll.io_pool-namespace": "team-a",
        "vmroll.io_revision": "abc123",
        "vmroll.io_image-version": "1.2.3",
    }
    assert "vmroll.io_image-version" not in ownership_tags(POOL, "abc123", None)


def test_vm_tags_keep_user_tags_and_refuse_reserved_ones() -> None:
    assert vm_tags({"team": "web"}, POOL, "r", None)["team"] == "web"
    with pytest.raises(ValueError, match="reserved"):
        vm_tags({"vmroll.io_pool-uid": "forged"}, POOL, "r", None)
    with pytest.raises(ValueError, match="50 tags"):
        vm_tags({f"t{i}": "x" for i in range(47)}, POOL, "r", "1.0.0")


@pytest.mark.parametrize(
    ("name", "tags", "expected"),
    [
        pytest.param("anything", OURS, Ownership.OWNED, id="our-uid"),
        pytest.param(
            "x", {**OURS, "vmroll.io_pool-uid": "uid-old"}, Ownership.LOOK_ALIKE, id="old-uid"
        ),
        pytest.param(
            "x",
            {"vmroll.io_pool": "web", "vmroll.io_pool-namespace": "team-a"},
            Ownership.LOOK_ALIKE,
            id="pool-tags-no-uid",
        ),
        pytest.param(vm_name("web", "uid-1", 3), None, Ownership.LOOK_ALIKE, id="our-name-no-tags"),
        pytest.param(
            "x",
            {"vmroll.io_pool": "web", "vmroll.io_pool-namespace": "team-b"},
            Ownership.UNRELATED,
            id="same-name-other-namespace",
        ),
        pytest.param("x", {"team": "web"}, Ownership.UNRELATED, id="user-vm"),
        pytest.param(None, None, Ownership.UNRELATED, id="nothing-known"),
    ],
)
def test_classify(name: str | None, tags: Mapping[str, str] | None, expected: Ownership) -> None:
    assert classify(name, tags, POOL) is expected


def test_partition_keeps_listing_order() -> None:
    listing = [
        Vm("a", OURS),
        Vm("b", None),
        Vm(vm_name("web", "uid-1", 0), None),
        Vm("c", OURS),
    ]
    split = partition(listing, POOL)
    assert [vm.name for vm in split.owned] == ["a", "c"]
    assert [vm.name for vm in split.look_alikes] == [vm_name("web", "uid-1", 0)]
    assert [vm.name for vm in split.unrelated] == ["b"]


POOLS = [
    PoolIdentity(namespace=namespace, name=name, uid=f"uid-{n}")
    for n, (namespace, name) in enumerate(
        [("team-a", "web"), ("team-a", "web"), ("team-b", "web"), ("team-a", "db"), ("a", "Web")]
    )
]
"""Pools a listing could hold: two of one name and namespace (one deleted and created again),
one of that name elsewhere, one other, and one whose name only differs in case."""


@st.composite
def listed_vms(draw: st.DrawFn) -> Vm:
    """A VM as any pool, look-alike or stranger may have left it in a shared group."""
    pool = draw(st.sampled_from(POOLS))
    index = draw(st.integers(min_value=0, max_value=12))
    name = draw(
        st.one_of(
            st.just(vm_name(pool.name, pool.uid, index)),
            st.just(vm_name(pool.name, pool.uid, index).upper()),
            st.just(f"{vm_name(pool.name, pool.uid, index)}-x"),
            st.just(f"{pool.name}-{index}"),
            st.none(),
        )
    )
    tags = draw(
        st.one_of(
            st.just(ownership_tags(pool, "r", None)),
            st.just({POOL_UID_TAG: pool.uid}),
            st.just({POOL_TAG: pool.name, POOL_NAMESPACE_TAG: pool.namespace}),
            st.just({"team": pool.name}),
            st.none(),
        )
    )
    return Vm(name, tags)


@given(st.lists(listed_vms(), max_size=30))
def test_an_index_gives_each_pool_what_partition_gives_it(listing: list[Vm]) -> None:
    index = OwnershipIndex(listing)
    for pool in POOLS:
        split = partition(listing, pool)
        share = index.share(pool)
        assert share.owned == split.owned
        assert share.look_alikes == split.look_alikes


def test_an_index_reads_only_a_pools_own_vms_and_look_alikes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    classified: list[str | None] = []
    real = ownership.classify

    def counting(name: str | None, tags: Mapping[str, str] | None, pool: PoolIdentity) -> Ownership:
        classified.append(name)
        return real(name, tags, pool)

    monkeypatch.setattr(ownership, "classify", counting)
    look_alike = vm_name("web", "uid-1", 7)
    strangers = [Vm(f"other-{n}", {"team": "x", POOL_UID_TAG: f"u{n}"}) for n in range(500)]
    index = OwnershipIndex([*strangers, Vm("a", OURS), Vm(look_alike, None), Vm("c", OURS)])

    share = index.share(POOL)

    assert [vm.name for vm in share.owned] == ["a", "c"]
    assert [vm.name for vm in share.look_alikes] == [look_alike]
    assert sorted(classified) == sorted(["a", "c", look_alike])


@pytest.mark.parametrize(
    ("tags", "named"),
    [
        pytest.param(
            {CAPTURE_TAG: "golden", CAPTURE_NAMESPACE_TAG: "images", CAPTURE_UID_TAG: "u"},
            "images/golden",
            id="namespaced",
        ),
        pytest.param({CAPTURE_TAG: "golden"}, "golden", id="without-namespace"),
        pytest.param({CAPTURE_UID_TAG: "u"}, None, id="without-name"),
        pytest.param({"team": "web"}, None, id="not-captured"),
    ],
)
def test_a_version_names_the_capture_that_made_it(tags: dict[str, str], named: str | None) -> None:
    assert captured_by(tags) == named
