"""A revision changes exactly when a VM must change; reimage only for a new marketplace version."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from vmroll.api.template import VmTemplate
from vmroll.plan.revision import (
    Change,
    ImageIdentity,
    RevisionInputs,
    VmShape,
    change_for,
    changed_fields,
    revision_of,
)
from vmroll.plan.rollout_model import is_restart

SUBNET = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/"
    "Microsoft.Network/virtualNetworks/vnet/subnets/default"
)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwXr7qJ8Ue6bS2dGf0a9bT4XqvD2Fh1nQj7k3mPz5Lc me@host"
TEMPLATE: dict[str, Any] = {
    "vmSize": "Standard_D2s_v5",
    "zones": ["1", "2"],
    "subnetId": SUBNET,
    "sshPublicKeys": [{"keyData": KEY}],
    "tags": {"team": "web"},
}
GALLERY = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
    "Microsoft.Compute/galleries/g/images/web"
)
UBUNTU = ImageIdentity.marketplace("Canonical", "ubuntu-24_04-lts", "server", "24.04.202411010")


def shape(**changes: Any) -> VmShape:
    template = copy.deepcopy(TEMPLATE)
    template.update(changes)
    return VmShape.of(VmTemplate.model_validate(template))


BASE = RevisionInputs(UBUNTU, shape())


def test_revision_is_short_stable_hex() -> None:
    revision = revision_of(BASE)
    assert len(revision) == 10
    assert int(revision, 16) >= 0
    assert revision == revision_of(RevisionInputs(UBUNTU, shape()))
    # Pinned: a change here re-rolls every pool in the field.
    assert revision == "2fa6dfbcf2"


def test_a_revision_is_hashed_once_per_inputs() -> None:
    """Every pass asks again for its target's revision: equal inputs find the one kept, which
    is the hash itself."""
    revision_of.cache_clear()
    first = revision_of(RevisionInputs(UBUNTU, shape()))
    again = revision_of(RevisionInputs(UBUNTU, shape()))

    assert first == again == revision_of.__wrapped__(BASE)
    assert (revision_of.cache_info().hits, revision_of.cache_info().misses) == (1, 1)


@pytest.mark.parametrize(
    ("changes", "same"),
    [
        pytest.param({"tags": {"team": "api"}}, True, id="tags-change-in-place"),
        pytest.param({"zones": ["2", "1"]}, True, id="zone-order"),
        pytest.param({"vmSize": "Standard_D2S_V5"}, True, id="size-case"),
        pytest.param({"subnetId": SUBNET.upper()}, True, id="subnet-id-case"),
        pytest.param({"vmSize": "Standard_D4s_v5"}, False, id="size"),
        pytest.param({"zones": ["1"]}, False, id="zones"),
        pytest.param({"adminUsername": "ops"}, False, id="admin-user"),
        pytest.param({"osDisk": {"sizeGB": 128}}, False, id="disk-size"),
        pytest.param({"osDisk": {"ephemeral": True}}, False, id="ephemeral"),
        pytest.param(
            {"sshPublicKeys": [{"secretRef": {"name": "keys", "key": "pub"}}]}, False, id="ssh-key"
        ),
        pytest.param(
            {"customData": {"configMapRef": {"name": "init", "key": "user-data"}}},
            False,
            id="cloud-init",
        ),
    ],
)
def test_what_makes_a_new_revision(changes: dict[str, Any], same: bool) -> None:
    changed = RevisionInputs(UBUNTU, shape(**changes))
    assert (revision_of(changed) == revision_of(BASE)) is same


def image(**kwargs: str) -> ImageIdentity:
    values = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}
    values.update(kwargs)
    return ImageIdentity.marketplace(
        values["publisher"], values["offer"], values["sku"], values.get("version", "24.04.1")
    )


@pytest.mark.parametrize(
    ("vm_inputs", "target", "expected"),
    [
        pytest.param(BASE, BASE, Change.NONE, id="up-to-date"),
        pytest.param(
            RevisionInputs(image(version="24.04.1"), shape()),
            RevisionInputs(image(version="24.04.2"), shape()),
            Change.REIMAGE,
            id="new-marketplace-version",
        ),
        pytest.param(
            RevisionInputs(image(version="24.04.1"), shape()),
            RevisionInputs(image(version="24.04.2"), shape(vmSize="Standard_D4s_v5")),
            Change.REPLACE,
            id="version-and-size",
        ),
        pytest.param(
            RevisionInputs(image(sku="server-gen1"), shape()),
            RevisionInputs(image(), shape()),
            Change.REPLACE,
            id="other-sku",
        ),
        pytest.param(
            RevisionInputs(ImageIdentity.gallery(GALLERY, "1.0.0"), shape()),
            RevisionInputs(ImageIdentity.gallery(GALLERY, "1.0.1"), shape()),
            Change.REPLACE,
            id="gallery-version",
        ),
        pytest.param(
            RevisionInputs(ImageIdentity.gallery(GALLERY, "1.0.0"), shape()),
            RevisionInputs(image(), shape()),
            Change.REPLACE,
            id="gallery-to-marketplace",
        ),
        pytest.param(
            RevisionInputs(ImageIdentity.managed(GALLERY + "x"), shape()),
            RevisionInputs(ImageIdentity.managed(GALLERY + "y"), shape()),
            Change.REPLACE,
            id="other-managed-image",
        ),
    ],
)
def test_change_for(vm_inputs: RevisionInputs, target: RevisionInputs, expected: Change) -> None:
    vm_revision = revision_of(vm_inputs)
    assert change_for(vm_revision, vm_inputs.image.version, target) is expected


def test_untagged_vm_is_replaced() -> None:
    assert change_for(None, None, BASE) is Change.REPLACE


def test_ids_compare_case_insensitively() -> None:
    assert ImageIdentity.gallery(GALLERY, "1.0.0") == ImageIdentity.gallery(
        GALLERY.upper() + "/", "1.0.0"
    )


STAMP = "2026-11-28T21:00:00Z"


def test_an_unset_restart_stamp_keeps_the_revision_and_a_set_one_changes_it() -> None:
    assert revision_of(RevisionInputs(UBUNTU, shape(), None)) == revision_of(BASE) == "2fa6dfbcf2"
    restarted = RevisionInputs(UBUNTU, shape(), STAMP)
    again = RevisionInputs(UBUNTU, shape(), "2026-11-28T22:00:00Z")
    assert len({revision_of(BASE), revision_of(restarted), revision_of(again)}) == 3


@pytest.mark.parametrize(
    ("vm_inputs", "target", "expected"),
    [
        pytest.param(BASE, RevisionInputs(UBUNTU, shape(), STAMP), Change.REIMAGE,
                     id="first-restart-reimages"),
        pytest.param(RevisionInputs(UBUNTU, shape(), STAMP),
                     RevisionInputs(UBUNTU, shape(), "2026-11-29T08:00:00Z"), Change.REIMAGE,
                     id="second-restart-reimages"),
        pytest.param(RevisionInputs(UBUNTU, shape(), STAMP),
                     RevisionInputs(UBUNTU, shape(), STAMP), Change.NONE,
                     id="same-stamp-nothing"),
        pytest.param(BASE, RevisionInputs(UBUNTU, shape(), STAMP).with_image_version("24.04.9"),
                     Change.REIMAGE, id="restart-and-new-version-reimage"),
        pytest.param(BASE, RevisionInputs(UBUNTU, shape(vmSize="Standard_D4s_v5"), STAMP),
                     Change.REPLACE, id="restart-and-new-size-replace"),
        pytest.param(RevisionInputs(ImageIdentity.gallery(GALLERY, "1.0.0"), shape()),
                     RevisionInputs(ImageIdentity.gallery(GALLERY, "1.0.0"), shape(), STAMP),
                     Change.REPLACE, id="gallery-restart-replaces"),
    ],
)  # fmt: skip
def test_change_for_a_restart(
    vm_inputs: RevisionInputs, target: RevisionInputs, expected: Change
) -> None:
    vm_revision = revision_of(vm_inputs)
    assert change_for(vm_revision, vm_inputs.image.version, target, vm_inputs.restart) is expected


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [(None, None, False), (None, STAMP, True), (STAMP, STAMP, False),
     (STAMP, "2026-11-29T08:00:00Z", True), (STAMP, None, False)],
)  # fmt: skip
def test_is_restart(before: str | None, after: str | None, expected: bool) -> None:
    assert is_restart(before, after) is expected


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param(BASE, BASE, (), id="same"),
        pytest.param(BASE, BASE.with_image_version("24.04.9"),
                     ("image version 24.04.202411010 -> 24.04.9",), id="version"),
        pytest.param(BASE, RevisionInputs(UBUNTU, shape(vmSize="Standard_D4s_v5", zones=["1"])),
                     ("spec.template.vmSize", "spec.template.zones"), id="fixed-shape"),
        pytest.param(BASE, RevisionInputs(ImageIdentity.gallery(GALLERY, "1.0.0"), shape()),
                     (f"spec.image: another image ({UBUNTU.name} -> {GALLERY.lower()})",),
                     id="image-source"),
        pytest.param(BASE, RevisionInputs(UBUNTU, shape(), STAMP),
                     (f"spec.template.restartedAt - -> {STAMP}",), id="restart"),
    ],
)  # fmt: skip
def test_changed_fields(
    before: RevisionInputs, after: RevisionInputs, expected: tuple[str, ...]
) -> None:
    assert changed_fields(before, after) == expected
