"""The POLICY column of `kubectl vmroll images`: rows become the subjects a pool would be, and
verdicts become cells; every policy is judged by plan/policy.py itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from vmroll.api.image import PurchasePlan
from vmroll.api.policy import ImagePolicySpec
from vmroll.azure.images import MarketplacePlan
from vmroll.kubectl.cluster import PluginError
from vmroll.kubectl.image_policy import judged, subject_of
from vmroll.kubectl.image_rows import Listing, Output, gallery_row, render, version_row
from vmroll.kubectl.policy_reads import parse_labels
from vmroll.plan.policy import NamedPolicy, VersionFact

NOW = datetime(2026, 11, 28, tzinfo=UTC)
GALLERY_IMAGE = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.Compute/galleries/g/images/web"
)
RABBIT = MarketplacePlan(name="rabbitmq", publisher="bitnami", product="rabbitmq")


def _canonical(version: str, newest: bool = False) -> dict[str, Any]:
    return version_row("Canonical", "ubuntu-24_04-lts", "server", version, newest=newest,
                       plan=None, terms_accepted=None)  # fmt: skip


ROWS = [
    _canonical("24.04.202609010"),
    _canonical("24.04.202610010"),
    _canonical("24.04.202611010", newest=True),
    version_row("bitnami", "rabbitmq", "rabbitmq", "4.0.18", newest=True, plan=RABBIT,
                terms_accepted=True),
]  # fmt: skip


def _policy(name: str, enforcement: str, rules: dict[str, Any]) -> NamedPolicy:
    spec = ImagePolicySpec.model_validate({"enforcement": enforcement, "rules": rules})
    return NamedPolicy(name, spec)


POLICIES = [
    _policy("no-bad", "Deny", {"deniedVersions": [{
        "image": {"marketplace": {"publisher": "Canonical"}}, "version": "24.04.202610010",
        "reason": "broken cloud-init"}]}),
    _policy("fresh", "Audit", {"freshness": {"maxVersionsBehind": 1}}),
    _policy("sources", "Remediate", {"allowedSources": {"marketplace": [
        {"publisher": "Canonical"}]}}),
    _policy("free", "Audit", {"licensing": {"allowPurchasePlans": False}}),
]  # fmt: skip


def test_a_version_row_is_judged_against_its_sku_siblings() -> None:
    subject = subject_of(Listing.VERSIONS, ROWS[0], "westeurope", ROWS)
    assert subject is not None
    assert subject.version == "24.04.202609010"
    assert subject.image.marketplace is not None
    assert subject.image.marketplace.sku == "server"
    assert subject.image.requested_version == "24.04.202609010"
    assert subject.location == "westeurope"
    assert subject.plan is None
    assert [f.version for f in subject.available] == [r["version"] for r in ROWS[:3]]


def test_a_paid_row_carries_its_plan() -> None:
    subject = subject_of(Listing.VERSIONS, ROWS[3], "westeurope", ROWS)
    assert subject is not None
    assert subject.plan == PurchasePlan(name="rabbitmq", product="rabbitmq", publisher="bitnami")
    assert subject.available == (VersionFact("4.0.18"),)


def test_a_sku_row_has_no_version_and_publishers_are_not_judged() -> None:
    sku = {"publisher": "bitnami", "offer": "rabbitmq", "sku": "rabbitmq"}
    subject = subject_of(Listing.SKUS, sku, "westeurope", [sku])
    assert subject is not None
    assert subject.version is None
    assert subject.image.requested_version == "latest"  # a pool on the sku tracks latest
    assert subject_of(Listing.PUBLISHERS, {"publisher": "x"}, "westeurope", []) is None
    assert judged(Listing.OFFERS, [{"publisher": "x", "offer": "y"}], POLICIES, "w", NOW) == [
        {"publisher": "x", "offer": "y"}
    ]


def _gallery(version: str, *, available: bool, published: datetime) -> dict[str, Any]:
    return gallery_row(
        "web", GALLERY_IMAGE, version, newest=False, available=available,
        regions=["West Europe"], exclude_from_latest=False, end_of_life=None,
        published=published, plan=None, terms_accepted=None,
    )  # fmt: skip


def test_a_gallery_row_carries_its_id_date_and_the_versions_in_the_region() -> None:
    old = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        _gallery("1.0.0", available=True, published=old),
        _gallery("1.1.0", available=False, published=NOW),
        _gallery("1.2.0", available=True, published=NOW),
    ]
    subject = subject_of(Listing.GALLERY, rows[0], "westeurope", rows)
    assert subject is not None
    assert subject.image.gallery is not None
    assert subject.image.gallery.image_id == GALLERY_IMAGE
    assert subject.published == old
    assert subject.available == (VersionFact("1.0.0", old), VersionFact("1.2.0", NOW))
    aged = _policy("young", "Deny", {"freshness": {"maxAge": "720h"}})
    (first, _, last) = judged(Listing.GALLERY, rows, [aged], "westeurope", NOW)
    assert first["policy"]["decision"] == "denied"
    assert first["policy"]["violations"][0]["rule"] == "ImageTooOld"
    assert last["policy"]["decision"] == "allowed"


def test_cells_show_the_strictest_decision_and_json_the_whole_verdict() -> None:
    rows = judged(Listing.VERSIONS, ROWS, POLICIES, "westeurope", NOW)
    lines = render(Listing.VERSIONS, rows, Output.TABLE).splitlines()
    assert [re.split(r" {2,}", line.strip())[-1] for line in lines] == [
        "POLICY",
        "audit: fresh/TooManyVersionsBehind",
        "denied: no-bad/VersionDenied",
        "allowed",
        "remediate: sources/ImageSourceNotAllowed (+1)",
    ]
    denied = rows[1]["policy"]
    assert denied["decision"] == "denied"
    assert [(v["policy"], v["enforcement"], v["rule"]) for v in denied["violations"]] == [
        ("no-bad", "Deny", "VersionDenied"),
    ]
    assert "broken cloud-init" in denied["violations"][0]["message"]
    assert denied["newestCompliantVersion"] == "24.04.202611010"
    paid = rows[3]["policy"]["violations"]
    assert [(v["policy"], v["rule"]) for v in paid] == [
        ("sources", "ImageSourceNotAllowed"),
        ("free", "PurchasePlanNotAllowed"),
    ]


def test_policies_that_cannot_be_read_leave_unknown() -> None:
    rows = judged(Listing.VERSIONS, ROWS[:1], None, "westeurope", NOW)
    assert rows[0]["policy"] == {"decision": "unknown"}
    assert render(Listing.VERSIONS, rows, Output.TABLE).splitlines()[1].endswith("unknown")


def test_no_policy_allows_everything() -> None:
    rows = judged(Listing.VERSIONS, ROWS, [], "westeurope", NOW)
    assert {row["policy"]["decision"] for row in rows} == {"allowed"}


def test_pool_labels_parse_as_kubectl_takes_them() -> None:
    assert parse_labels("app=web, tier=front,") == {"app": "web", "tier": "front"}
    assert parse_labels(None) == {}
    with pytest.raises(PluginError, match="'app' is not key=value"):
        parse_labels("app")
