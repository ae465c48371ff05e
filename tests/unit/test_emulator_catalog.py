"""The catalog: the built-in one loads, and a bad file says which field and what to change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from vmroll.emulator.catalog import CatalogError, FaultRule, Faults, load_catalog
from vmroll.emulator.faults import FaultInjector


def test_the_built_in_catalog_has_two_regions_and_a_usable_network() -> None:
    catalog = load_catalog()

    assert {loc.name for loc in catalog.locations} >= {"westeurope", "eastus"}
    assert catalog.subscriptions[0].resource_groups[0].virtual_networks
    assert catalog.images.marketplace


def _minimal() -> dict[str, Any]:
    return {
        "tenantId": "t",
        "locations": [{"name": "westeurope", "vmSizes": [{"name": "S", "vCPUs": 2}]}],
        "subscriptions": [
            {
                "id": "s",
                "resourceGroups": [
                    {
                        "name": "rg",
                        "location": "westeurope",
                        "virtualNetworks": [
                            {"name": "v", "location": "westeurope", "subnets": ["default"]}
                        ],
                    }
                ],
            }
        ],
        "principals": [{"name": "p", "clientId": "c", "objectId": "o", "clientSecret": "x"}],
    }


def _without_vnet(data: dict[str, Any]) -> None:
    data["subscriptions"][0]["resourceGroups"][0]["virtualNetworks"] = []


def _zero_cpus(data: dict[str, Any]) -> None:
    data["locations"][0]["vmSizes"][0]["vCPUs"] = 0


def _group_on_mars(data: dict[str, Any]) -> None:
    data["subscriptions"][0]["resourceGroups"][0]["location"] = "mars"


def _ghost_assignment(data: dict[str, Any]) -> None:
    data["roleAssignments"] = [
        {"principal": "ghost", "role": "Reader", "scope": "/subscriptions/s"}
    ]


def _misspelt(data: dict[str, Any]) -> None:
    data["timescale"] = 2


def _no_principal(data: dict[str, Any]) -> None:
    data["principals"] = []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_zero_cpus, "locations.0.vmSizes.0.vCPUs: Input should be greater than 0"),
        (_group_on_mars, "resource group rg names location 'mars', which is not under `locations`"),
        (_ghost_assignment, "role assignment names principal 'ghost'"),
        (_misspelt, "timescale: Extra inputs are not permitted"),
        (_no_principal, "principals: List should have at least 1 item"),
        (_without_vnet, "needs a resource group with a virtual network"),
    ],
    ids=[
        "zero-cpus",
        "unknown-region",
        "unknown-principal",
        "misspelt-field",
        "no-principal",
        "no-network",
    ],
)
def test_a_bad_catalog_names_the_problem(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    data = _minimal()
    mutate(data)
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))

    with pytest.raises(CatalogError) as raised:
        load_catalog(path)

    assert expected in str(raised.value)
    assert str(path) in str(raised.value)
    assert "README.md" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a list\n", "must be a YAML mapping"),
        ("tenantId: [unclosed\n", "cannot be read"),
    ],
    ids=["not-a-mapping", "bad-yaml"],
)
def test_an_unreadable_catalog_names_the_file(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)

    with pytest.raises(CatalogError) as raised:
        load_catalog(path)

    assert expected in str(raised.value)
    assert str(path) in str(raised.value)


def test_a_catalog_file_without_images_gets_the_default_images(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(_minimal()))

    assert load_catalog(path).images == load_catalog().images


def test_seeded_faults_repeat_and_rules_run_out() -> None:
    faults = Faults(
        seed=3,
        rules=[
            FaultRule(operation="VirtualMachines_*", rate=0.5),
            FaultRule(operation="VirtualMachines_Get", kind="reset", remaining=1),
        ],
    )
    runs = []
    for _ in range(2):
        injector = FaultInjector(faults)
        runs.append(
            [injector.draw("VirtualMachines_List", ("error",)) is not None for _ in range(20)]
        )
    resets = FaultInjector(faults)

    assert runs[0] == runs[1]
    assert set(runs[0]) == {True, False}
    assert [resets.draw("VirtualMachines_Get", ("reset",)) is not None for _ in range(3)] == [
        True,
        False,
        False,
    ]
    assert resets.draw("Images_Get", ("error", "reset")) is None
