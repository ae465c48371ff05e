"""VM names fit Azure's rules, are deterministic, and never collide."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmroll.plan.naming import (
    allocate_vm_names,
    computer_name,
    uid_tag,
    vm_index,
    vm_name,
)

UID = "6f1c2a0e-8d7b-4a51-9d3e-0c6a7b1e2f3d"
TAG = uid_tag(UID)

# Azure's rules for Linux VMs (plan/naming.py's docstring), as the tests check them.
_VM_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?")
_COMPUTER_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?")


def is_valid_vm_name(name: str) -> bool:
    """Whether Azure accepts `name` for a Linux VM."""
    return _VM_NAME.fullmatch(name) is not None


def is_valid_computer_name(name: str) -> bool:
    """Whether Azure accepts `name` as a Linux computer name."""
    return _COMPUTER_NAME.fullmatch(name) is not None and not name.isdigit()


k8s_names = st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", fullmatch=True)


@pytest.mark.parametrize(
    ("pool", "index", "expected"),
    [
        pytest.param("web", 0, f"web-{TAG}-0", id="short"),
        pytest.param("web.prod", 7, f"web-prod-{TAG}-7", id="dots-become-hyphens"),
        pytest.param("a" * 100, 12, "a" * 55 + f"-{TAG}-12", id="long-name-shortened"),
        pytest.param("a" * 55 + "-b", 3, "a" * 55 + f"-{TAG}-3", id="no-double-hyphen-cut"),
    ],
)
def test_vm_name(pool: str, index: int, expected: str) -> None:
    assert vm_name(pool, UID, index) == expected
    assert len(expected) <= 64


def test_uid_tag_differs_between_pools_of_the_same_name() -> None:
    assert vm_name("web", UID, 0) != vm_name("web", "another-uid", 0)
    assert len(TAG) == 5


def test_negative_index_is_refused() -> None:
    with pytest.raises(ValueError, match="index"):
        vm_name("web", UID, -1)


@pytest.mark.parametrize(
    ("taken", "count", "expected"),
    [
        pytest.param([], 2, (0, 1), id="empty-group"),
        pytest.param([f"web-{TAG}-0", f"web-{TAG}-2"], 3, (1, 3, 4), id="fills-gaps"),
        pytest.param([f"WEB-{TAG.upper()}-0"], 1, (1,), id="case-insensitive"),
        pytest.param(["unrelated"], 0, (), id="none-wanted"),
    ],
)
def test_allocate_lowest_free_names(
    taken: list[str], count: int, expected: tuple[int, ...]
) -> None:
    assert allocate_vm_names("web", UID, taken, count) == tuple(
        vm_name("web", UID, i) for i in expected
    )


@given(
    k8s_names,
    st.lists(st.integers(min_value=0, max_value=30), max_size=20),
    st.integers(0, 10),
)
def test_allocated_names_are_valid_distinct_and_free(
    pool: str, taken_indexes: list[int], count: int
) -> None:
    taken = [vm_name(pool, UID, i) for i in taken_indexes]
    names = allocate_vm_names(pool, UID, taken, count)
    assert len(set(names)) == count
    assert not set(names) & set(taken)
    assert names == allocate_vm_names(pool, UID, list(reversed(taken)), count)
    for name in names:
        assert is_valid_vm_name(name), name
        assert is_valid_computer_name(computer_name(name)), name
        assert vm_index(name, pool, UID) is not None


@pytest.mark.parametrize(
    ("name", "index"),
    [
        pytest.param(f"web-{TAG}-4", 4, id="ours"),
        pytest.param(f"web-{TAG}-04", None, id="leading-zero"),
        pytest.param("web-zzzzz-4", None, id="other-uid"),
        pytest.param(f"api-{TAG}-4", None, id="other-pool"),
        pytest.param("web", None, id="no-suffix"),
    ],
)
def test_vm_index(name: str, index: int | None) -> None:
    assert vm_index(name, "web", UID) == index


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("web-1", True),
        ("a", True),
        ("Web_1", True),
        ("web.", False),
        ("web-", False),
        ("-web", False),
        ("a" * 64, True),
        ("a" * 65, False),
        ("web 1", False),
    ],
)
def test_vm_name_rules(name: str, valid: bool) -> None:
    assert is_valid_vm_name(name) is valid


@pytest.mark.parametrize(
    ("vm", "expected"),
    [
        pytest.param("web-abcde-1", "web-abcde-1", id="already-valid"),
        pytest.param("Web_Server.1", "web-server-1", id="underscores-and-dots"),
        pytest.param("123", "vm-123", id="all-digits"),
        pytest.param("_x_", "x", id="trimmed"),
    ],
)
def test_computer_name(vm: str, expected: str) -> None:
    assert computer_name(vm) == expected
    assert is_valid_computer_name(expected)
