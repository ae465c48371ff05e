"""vmroll recognises its VMs by the pool-UID tag alone, and spots the ones that only look alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from vmroll.api.template import FORBIDDEN_TAG_CHARACTERS
from vmroll.plan.naming import vm_name
from vmroll.plan.ownership import (
    CAPTURE_NAMESPACE_TAG,
    CAPTURE_TAG,
    CAPTURE_UID_TAG,
    OWNERSHIP_TAGS,
    Ownership,
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
