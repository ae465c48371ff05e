"""What `kubectl vmroll images` prints: rows of plain data, as a table, JSON or YAML.

Pure: rows are JSON-ready dicts (camelCase keys, as the API's own objects), built from what
Azure answered; the table view formats them as kubectl would (`*` marks the newest version,
`-` an empty cell). The policy column appears only when the rows carry a verdict
(kubectl/image_policy.py): ImagePolicy is served and the listing names images.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import yaml

from vmroll.kubectl.view import table

if TYPE_CHECKING:
    from vmroll.azure.images import MarketplacePlan

Row = dict[str, Any]


class Listing(StrEnum):
    """What `images` lists: the marketplace's levels, or a gallery's versions."""

    PUBLISHERS = "publishers"
    OFFERS = "offers"
    SKUS = "skus"
    VERSIONS = "versions"
    GALLERY = "gallery"


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def plan_text(plan: MarketplacePlan | None) -> str | None:
    """`publisher/product/plan`, the order `az vm image terms show` takes them in."""
    return None if plan is None else f"{plan.publisher}/{plan.product}/{plan.name}"


def version_row(
    publisher: str,
    offer: str,
    sku: str,
    version: str,
    *,
    newest: bool,
    plan: MarketplacePlan | None,
    terms_accepted: bool | None,
) -> Row:
    return {
        "publisher": publisher, "offer": offer, "sku": sku, "version": version,
        "newest": newest, "plan": plan_text(plan), "termsAccepted": terms_accepted,
    }  # fmt: skip


def gallery_row(
    image: str,
    image_id: str,
    version: str,
    *,
    newest: bool,
    available: bool,
    regions: Sequence[str],
    exclude_from_latest: bool,
    end_of_life: datetime | None,
    published: datetime | None,
    plan: MarketplacePlan | None,
    terms_accepted: bool | None,
) -> Row:
    return {
        "image": image, "imageId": image_id, "version": version, "newest": newest,
        "availableInLocation": available,
        "targetRegions": list(regions), "excludeFromLatest": exclude_from_latest,
        "endOfLife": None if end_of_life is None else end_of_life.isoformat(),
        "published": None if published is None else published.isoformat(),
        "plan": plan_text(plan), "termsAccepted": terms_accepted,
    }  # fmt: skip


def _mark(value: Any) -> str:
    return "*" if value else ""


def _yes_no(value: Any) -> str:
    return "yes" if value else "no"


def _terms(value: Any) -> str:
    return "-" if value is None else ("accepted" if value else "not accepted")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(item) for item in value) or "-"
    return str(value)


def policy_cell(view: Any) -> str:
    """`allowed`, `unknown`, or the strictest decision and the rule that decides it:
    `denied: POLICY/RULE`, with how many more violations follow."""
    if not isinstance(view, dict):
        return "-"
    violations = view.get("violations") or []
    if not violations:
        return str(view["decision"])
    first = violations[0]
    more = f" (+{len(violations) - 1})" if len(violations) > 1 else ""
    return f"{view['decision']}: {first['policy']}/{first['rule']}{more}"


Column = tuple[str, str, Callable[[Any], str]]
_COLUMNS: Mapping[Listing, Sequence[Column]] = {
    Listing.PUBLISHERS: [("PUBLISHER", "publisher", _cell)],
    Listing.OFFERS: [("PUBLISHER", "publisher", _cell), ("OFFER", "offer", _cell)],
    Listing.SKUS: [("PUBLISHER", "publisher", _cell), ("OFFER", "offer", _cell),
                   ("SKU", "sku", _cell)],
    Listing.VERSIONS: [("PUBLISHER", "publisher", _cell), ("OFFER", "offer", _cell),
                       ("SKU", "sku", _cell), ("VERSION", "version", _cell),
                       ("NEWEST", "newest", _mark), ("PLAN", "plan", _cell),
                       ("TERMS", "termsAccepted", _terms)],
    Listing.GALLERY: [("IMAGE", "image", _cell), ("VERSION", "version", _cell),
                      ("NEWEST", "newest", _mark), ("IN REGION", "availableInLocation", _yes_no),
                      ("TARGET REGIONS", "targetRegions", _cell),
                      ("EXCLUDED FROM LATEST", "excludeFromLatest", _yes_no),
                      ("END OF LIFE", "endOfLife", _cell), ("PLAN", "plan", _cell),
                      ("TERMS", "termsAccepted", _terms)],
}  # fmt: skip
_POLICY: Column = ("POLICY", "policy", policy_cell)


def render(listing: Listing, rows: Sequence[Row], output: Output) -> str:
    if output is Output.JSON:
        return json.dumps(rows, indent=2) + "\n"
    if output is Output.YAML:
        return yaml.safe_dump(rows, sort_keys=False)
    if not rows:
        return ""
    columns = [*_COLUMNS[listing], *([_POLICY] if "policy" in rows[0] else [])]
    header = [title for title, _, _ in columns]
    cells = [[shown(row.get(key)) for _, key, shown in columns] for row in rows]
    return "\n".join(table(header, cells)) + "\n"
