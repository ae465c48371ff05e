"""Azure's name, tag and required-field rules for VM writes."""

from __future__ import annotations

from typing import Any

import pytest

from vmroll.emulator.errors import ArmError
from vmroll.emulator.validation import (
    check_create_request,
    check_tags,
    check_vm_name,
    vm_name_problem,
)


@pytest.mark.parametrize(
    ("name", "os_type", "problem"),
    [
        ("web-0", "Linux", None),
        ("web.0_a", "Linux", None),
        ("a" * 64, "Linux", None),
        ("a" * 65, "Linux", "1 to 64 characters"),
        ("a" * 15, "Windows", None),
        ("a" * 16, "Windows", "1 to 15 characters"),
        ("", "Linux", "1 to 64 characters"),
        ("-web", "Linux", "must start with a letter or digit"),
        ("_web", "Linux", "must start with a letter or digit"),
        ("web 0", "Linux", "may contain only"),
        ("web/0", "Linux", "may contain only"),
        ("web-", "Linux", "must not end with a period or a hyphen"),
        ("web.", "Linux", "must not end with a period or a hyphen"),
        ("web.0", "Windows", "must not contain a period"),
    ],
)
def test_vm_names(name: str, os_type: str, problem: str | None) -> None:
    found = vm_name_problem(name, os_type)

    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_an_invalid_name_is_an_invalid_parameter_on_vm_name() -> None:
    with pytest.raises(ArmError) as raised:
        check_vm_name("web-")

    assert (raised.value.status, raised.value.code, raised.value.target) == (
        400,
        "InvalidParameter",
        "vmName",
    )


@pytest.mark.parametrize("character", [*"<>%&\\?/", "\x07"])
def test_tag_names_with_reserved_characters_are_refused(character: str) -> None:
    with pytest.raises(ArmError) as raised:
        check_tags({f"a{character}b": "v", "fine": "v"})

    assert raised.value.code == "InvalidTagNameCharacters"
    assert f"'a{character}b'" in raised.value.message


@pytest.mark.parametrize(
    ("tags", "code"),
    [
        ({f"t{i}": "v" for i in range(51)}, "InvalidTagCount"),
        ({"n" * 513: "v"}, "InvalidTagNameLength"),
        ({"n": "v" * 257}, "InvalidTagValueLength"),
        ({"n": 1}, "InvalidRequestContent"),
        (["n"], "InvalidRequestContent"),
    ],
    ids=["count", "name-length", "value-length", "non-string", "not-an-object"],
)
def test_tag_limits(tags: Any, code: str) -> None:
    with pytest.raises(ArmError) as raised:
        check_tags(tags)

    assert raised.value.code == code


@pytest.mark.parametrize(
    "tags",
    [None, {}, {"vmroll.io_pool-uid": "x", "a:b": "c=d", "n" * 512: "v" * 256}],
    ids=["none", "empty", "allowed-characters-and-limits"],
)
def test_acceptable_tags(tags: Any) -> None:
    check_tags(tags)


def _body() -> dict[str, Any]:
    return {
        "location": "westeurope",
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
            "storageProfile": {"imageReference": {"id": "/x"}},
            "osProfile": {"adminUsername": "azureuser"},
            "networkProfile": {"networkInterfaces": [{"id": "/nic"}]},
        },
    }


@pytest.mark.parametrize(
    ("remove", "code", "target"),
    [
        (("location",), "LocationRequired", None),
        (("properties",), "InvalidParameter", "properties"),
        (("properties", "hardwareProfile"), "InvalidParameter", "hardwareProfile.vmSize"),
        (("properties", "storageProfile"), "InvalidParameter", "storageProfile.imageReference"),
        (("properties", "osProfile"), "InvalidParameter", "osProfile.adminUsername"),
        (("properties", "networkProfile"), "InvalidParameter", "networkProfile"),
        (
            ("properties", "networkProfile", "networkInterfaces"),
            "InvalidParameter",
            "networkProfile.networkInterfaces",
        ),
    ],
)
def test_required_fields(remove: tuple[str, ...], code: str, target: str | None) -> None:
    body = _body()
    node = body
    for step in remove[:-1]:
        node = node[step]
    del node[remove[-1]]

    with pytest.raises(ArmError) as raised:
        check_create_request(body)

    assert (raised.value.code, raised.value.target) == (code, target)


def test_an_attached_os_disk_needs_no_image_or_admin() -> None:
    body = _body()
    del body["properties"]["osProfile"]
    body["properties"]["storageProfile"] = {"osDisk": {"createOption": "Attach"}}

    check_create_request(body)


def test_nic_configurations_need_a_network_api_version() -> None:
    body = _body()
    body["properties"]["networkProfile"] = {"networkInterfaceConfigurations": [{"name": "n"}]}

    with pytest.raises(ArmError) as raised:
        check_create_request(body)

    assert raised.value.target == "networkProfile.networkApiVersion"
