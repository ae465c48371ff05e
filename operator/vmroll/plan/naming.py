"""VM names and computer names for a pool's VMs.

A name reads `<pool>-<uid5>-<index>`: the pool's name for people, five characters derived
from the pool's UID so that two pools of the same name (other namespace, or deleted and
created again) never produce the same names in one resource group, and an index that the
allocator picks as the lowest one not taken. Same inputs, same names.

Azure rules (Linux VMs): a VM name has 1 to 64 characters from letters, digits, `_`, `.` and
`-`, starts with a letter or digit and does not end with `.` or `-`; names are compared
case-insensitively. A Linux computer name (host name) has 1 to 64 characters from letters,
digits and `-`, does not start or end with `-`, and is not only digits.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterator

MAX_VM_NAME_LENGTH = 64
MAX_COMPUTER_NAME_LENGTH = 64
UID_TAG_LENGTH = 5
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def uid_tag(pool_uid: str) -> str:
    """Five lowercase base-36 characters derived from the pool's UID."""
    number = int.from_bytes(hashlib.sha256(pool_uid.encode()).digest()[:8], "big")
    chars = []
    for _ in range(UID_TAG_LENGTH):
        number, digit = divmod(number, 36)
        chars.append(_BASE36[digit])
    return "".join(chars)


def vm_name(pool_name: str, pool_uid: str, index: int) -> str:
    """The name of the pool's VM number `index`; the pool name is shortened to fit 64."""
    if index < 0:
        raise ValueError(f"index must not be negative, got {index}")
    suffix = f"-{uid_tag(pool_uid)}-{index}"
    prefix = re.sub(r"[^a-z0-9-]", "-", pool_name.lower())
    prefix = prefix[: MAX_VM_NAME_LENGTH - len(suffix)].strip("-") or "vm"
    return prefix + suffix


def vm_index(name: str, pool_name: str, pool_uid: str) -> int | None:
    """The index of `name` if it is one of this pool's names, else None."""
    _, _, index = name.rpartition("-")
    if not index.isdigit() or index != str(int(index)):
        return None
    return int(index) if vm_name(pool_name, pool_uid, int(index)) == name.lower() else None


def allocate_vm_names(
    pool_name: str, pool_uid: str, taken: Collection[str], count: int
) -> tuple[str, ...]:
    """`count` new names for the pool: the lowest indexes whose names are not taken.

    Pass as `taken` every name in the resource group that could collide: the pool's own VMs,
    its look-alikes (`ownership.partition`: other VMs whose names are of this pool's form) and
    the names of operations still in flight. A name of any other form can never equal one
    of these, so a new name never collides with any VM there, whoever owns it.
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    in_use = {name.lower() for name in taken}
    names: list[str] = []
    candidates = _names(pool_name, pool_uid)
    while len(names) < count:
        candidate = next(candidates)
        if candidate not in in_use:
            names.append(candidate)
    return tuple(names)


def _names(pool_name: str, pool_uid: str) -> Iterator[str]:
    index = 0
    while True:
        yield vm_name(pool_name, pool_uid, index)
        index += 1


def computer_name(vm_name: str) -> str:
    """The Linux host name for a VM: its name, with what a host name forbids replaced."""
    name = re.sub(r"[^a-z0-9-]", "-", vm_name.lower())[:MAX_COMPUTER_NAME_LENGTH].strip("-")
    if not name or name.isdigit():
        name = f"vm-{name}"[:MAX_COMPUTER_NAME_LENGTH].rstrip("-")
    return name
