"""The POLICY column of `kubectl vmroll images`: each row judged as a pool naming it would be.

Pure, so that the row → subject mapping is tested alone: a row becomes the `PolicySubject` the
operator would build for a pool on that image (plan/policy.py judges it, the same code the
operator and the admission webhook run). A version row is judged by every rule; a sku row
(no version) only by the rules that need none (allowed sources, locations); publishers and
offers name no image and are not judged. The versions a row is measured against for
maxVersionsBehind are the other rows of the same image in the listing: with `--all`, every
version in the region; without, only the newest (which no version is behind).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from vmroll.api.image import GalleryImage, ImageSource, MarketplaceImage, PurchasePlan
from vmroll.api.policy import Enforcement
from vmroll.kubectl.image_rows import Listing, Row
from vmroll.plan.policy import NamedPolicy, PolicySubject, Verdict, VersionFact, evaluate

JUDGED = frozenset({Listing.SKUS, Listing.VERSIONS, Listing.GALLERY})
"""The listings that name an image, and so get a POLICY column."""
UNKNOWN = "unknown"
"""The decision when the caller may not list the ImagePolicies."""
ALLOWED = "allowed"
_DECISION = {
    Enforcement.DENY: "denied",
    Enforcement.REMEDIATE: "remediate",
    Enforcement.AUDIT: "audit",
}


def _plan(text: Any) -> PurchasePlan | None:
    """The row's `publisher/product/plan` (image_rows.plan_text) back as the API's plan."""
    if not isinstance(text, str) or text.count("/") != 2:
        return None
    publisher, product, name = text.split("/")
    return PurchasePlan(name=name, product=product, publisher=publisher)


def _published(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def _same_image(listing: Listing, a: Row, b: Row) -> bool:
    keys = ("imageId",) if listing is Listing.GALLERY else ("publisher", "offer", "sku")
    return all(a.get(key) == b.get(key) for key in keys)


def _in_region(listing: Listing, row: Row) -> bool:
    return listing is not Listing.GALLERY or bool(row.get("availableInLocation"))


def subject_of(
    listing: Listing, row: Row, location: str, rows: Sequence[Row]
) -> PolicySubject | None:
    """What a pool on this row's image would be judged as; None when the row names no image
    (or names it in a way a pool could not)."""
    version = row.get("version") if listing is not Listing.SKUS else None
    try:
        if listing is Listing.GALLERY:
            image = ImageSource(gallery=GalleryImage(image_id=row["imageId"], version=version))
        elif listing in (Listing.SKUS, Listing.VERSIONS):
            image = ImageSource(
                marketplace=MarketplaceImage(
                    publisher=row["publisher"], offer=row["offer"], sku=row["sku"],
                    **({"version": version} if version else {}),
                )
            )  # fmt: skip
        else:
            return None
    except ValidationError:
        return None
    siblings = [r for r in rows if _same_image(listing, r, row) and _in_region(listing, r)]
    return PolicySubject(
        image=image,
        location=location,
        version=version,
        plan=_plan(row.get("plan")),
        published=_published(row.get("published")),
        available=tuple(VersionFact(r["version"], _published(r.get("published")))
                        for r in siblings if r.get("version")),
    )  # fmt: skip


def verdict_view(verdict: Verdict) -> dict[str, Any]:
    """The full verdict as `-o json|yaml` shows it: the decision, every violation."""
    enforcement = verdict.enforcement
    return {
        "decision": ALLOWED if enforcement is None else _DECISION[enforcement],
        "violations": [
            {"policy": v.policy, "enforcement": str(v.enforcement), "rule": str(v.rule),
             "message": v.message}
            for v in verdict.violations
        ],
        "newestCompliantVersion": verdict.alternative,
    }  # fmt: skip


def judged(
    listing: Listing,
    rows: Sequence[Row],
    policies: Sequence[NamedPolicy] | None,
    location: str,
    now: datetime,
) -> list[Row]:
    """The rows with their `policy`: the verdict, `unknown` when `policies` could not be read,
    None when the row names no image."""
    if listing not in JUDGED:
        return list(rows)
    found = []
    for row in rows:
        subject = subject_of(listing, row, location, rows)
        if subject is None:
            view: dict[str, Any] | None = None
        elif policies is None:
            view = {"decision": UNKNOWN}
        else:
            view = verdict_view(evaluate(policies, subject, now))
        found.append({**row, "policy": view})
    return found
