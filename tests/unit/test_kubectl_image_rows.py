"""`kubectl vmroll images` output: columns per listing, marks, the policy column only when asked."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import yaml

from vmroll.azure.images import MarketplacePlan
from vmroll.kubectl.image_rows import Listing, Output, gallery_row, render, version_row

RABBIT = MarketplacePlan(name="rabbitmq", publisher="bitnami", product="rabbitmq")


def _versions() -> list[dict[str, object]]:
    return [
        version_row("bitnami", "rabbitmq", "rabbitmq", "4.0.9", newest=False, plan=RABBIT,
                    terms_accepted=False),
        version_row("bitnami", "rabbitmq", "rabbitmq", "4.0.18", newest=True, plan=RABBIT,
                    terms_accepted=True),
        version_row("Canonical", "ubuntu-24_04-lts", "server", "24.04.202611100", newest=True,
                    plan=None, terms_accepted=None),
    ]  # fmt: skip


def _cells(text: str) -> list[list[str]]:
    """Table rows as cells: columns are 3 spaces apart at least, cells hold single spaces."""
    return [re.split(r" {2,}", line.strip()) for line in text.splitlines()]


def test_versions_table_marks_the_newest_and_the_terms() -> None:
    text = render(Listing.VERSIONS, _versions(), Output.TABLE)
    assert _cells(text) == [
        ["PUBLISHER", "OFFER", "SKU", "VERSION", "NEWEST", "PLAN", "TERMS"],
        ["bitnami", "rabbitmq", "rabbitmq", "4.0.9", "bitnami/rabbitmq/rabbitmq", "not accepted"],
        ["bitnami", "rabbitmq", "rabbitmq", "4.0.18", "*", "bitnami/rabbitmq/rabbitmq", "accepted"],
        ["Canonical", "ubuntu-24_04-lts", "server", "24.04.202611100", "*", "-", "-"],
    ]
    widths = {line.index("VERSION") for line in text.splitlines()[:1]}
    assert {line.index("4.0") for line in text.splitlines()[1:3]} == widths


def test_the_policy_column_appears_only_with_policy_rows() -> None:
    judged = [{**row, "policy": {"decision": "allowed", "violations": []}} for row in _versions()]
    header = render(Listing.VERSIONS, judged, Output.TABLE).splitlines()[0]
    assert header.split()[-1] == "POLICY"
    assert "POLICY" not in render(Listing.VERSIONS, _versions(), Output.TABLE)


def test_json_and_yaml_carry_the_same_rows() -> None:
    rows = _versions()
    assert json.loads(render(Listing.VERSIONS, rows, Output.JSON)) == rows
    assert yaml.safe_load(render(Listing.VERSIONS, rows, Output.YAML)) == rows
    assert rows[0]["plan"] == "bitnami/rabbitmq/rabbitmq"


def test_gallery_row_shows_regions_exclusion_and_end_of_life() -> None:
    row = gallery_row(
        "ubuntu-web", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/"
        "g/images/ubuntu-web", "1.2.0", newest=False, available=True,
        regions=["West Europe", "East US"], exclude_from_latest=True,
        end_of_life=datetime(2027, 1, 1, tzinfo=UTC), published=None, plan=None,
        terms_accepted=None,
    )  # fmt: skip
    assert _cells(render(Listing.GALLERY, [row], Output.TABLE))[1] == [
        "ubuntu-web", "1.2.0", "yes", "West Europe,East US", "yes", "2027-01-01T00:00:00+00:00",
        "-", "-",
    ]  # fmt: skip
    assert render(Listing.GALLERY, [], Output.TABLE) == ""
