"""The catalog: the built-in one loads, and a bad file says which field and what to change."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmroll.emulator.catalog import CatalogError, FaultRule, Faults, load_catalog
from vmroll.emulator.faults import FaultInjector


def test_the_built_in_catalog_has_two_regions_and_a_usable_network() -> None:
    catalog = load_catalog()

    assert {loc.name for loc in catalog.locations} >= {"westeurope", "eastus"}
    assert catalog.subscriptions[0].resource_groups[0].virtual_networks
    assert catalog.images.marketplace


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a list\n", "must be a YAML mapping"),
        ("tenantId: [unclosed\n", "cannot be read"),
        ("tenantId: t\nsubscriptions: []\nlocations: []\n", "subscriptions: List should have"),
        (
            "tenantId: t\nlocations: [{name: westeurope, vmSizes: [{name: S, vCPUs: 0}]}]\n"
            "subscriptions: [{id: s}]\n",
            "locations.0.vmSizes.0.vCPUs: Input should be greater than 0",
        ),
        (
            "tenantId: t\nlocations: [{name: westeurope, vmSizes: [{name: S, vCPUs: 2}]}]\n"
            "subscriptions: [{id: s, resourceGroups: [{name: rg, location: mars}]}]\n",
            "resource group rg names location 'mars', which is not under `locations`",
        ),
        (
            "tenantId: t\nlocations: [{name: westeurope, vmSizes: [{name: S, vCPUs: 2}]}]\n"
            "subscriptions: [{id: s}]\nroleAssignments: [{principal: ghost, role: Reader, "
            "scope: /subscriptions/s}]\n",
            "role assignment names principal 'ghost'",
        ),
        (
            "tenantId: t\nlocations: [{name: westeurope, vmSizes: [{name: S, vCPUs: 2}]}]\n"
            "subscriptions: [{id: s}]\ntimescale: 2\n",
            "timescale: Extra inputs are not permitted",
        ),
    ],
    ids=[
        "not-a-mapping",
        "bad-yaml",
        "no-subscription",
        "zero-cpus",
        "unknown-region",
        "unknown-principal",
        "misspelt-field",
    ],
)
def test_a_bad_catalog_names_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)

    with pytest.raises(CatalogError) as raised:
        load_catalog(path)

    assert expected in str(raised.value)
    assert str(path) in str(raised.value)


def test_a_catalog_file_without_images_gets_the_default_images(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(
        "tenantId: t\nlocations: [{name: westeurope, vmSizes: [{name: S, vCPUs: 2}]}]\n"
        "subscriptions: [{id: s}]\n"
    )

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
