"""ImagePolicy: which OS images, versions, publishers and regions pools may use, and what
vmroll does about a pool that falls outside them.

Cluster-scoped, because a platform team sets it once for many namespaces. Several policies may
match one pool: all of them apply, and the strictest enforcement among those violated decides
(Deny > Remediate > Audit). Every pattern, version and duration is checked by the API server, so
that a policy it accepts is one vmroll can evaluate.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import ConfigDict, Field, model_validator

from vmroll.api.account import LabelSelector
from vmroll.api.base import API_VERSION, ApiModel, cel, validations
from vmroll.api.image import GALLERY_IMAGE_ID_PATTERN
from vmroll.api.pool import LOCATION_PATTERN
from vmroll.api.types import (
    CONDITIONS_SCHEMA_EXTRA,
    MAX_CONDITIONS,
    Condition,
    Duration,
    ObjectMeta,
)

KIND: Final = "ImagePolicy"
PLURAL = "imagepolicies"
SINGULAR = "imagepolicy"
SHORT_NAMES = ("imgpol",)
MAX_LISTED_VIOLATIONS = 20

NAME_GLOB_PATTERN = r"^[A-Za-z0-9*][-A-Za-z0-9_.*]*$"
EXACT_VERSION_PATTERN = r"^[0-9]+\.[0-9]+\.[0-9]+$"
GALLERY_ID_PATTERN = (
    r"(?i)^/subscriptions/[^/\s]+/resourceGroups/[^/\s]+/providers/"
    r"Microsoft\.Compute/galleries/[^/\s]+(/images/[^/\s]+)?$"
)
MIN_MAX_AGE_RULE = "duration(self) >= duration('1h')"

NameGlob = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=NAME_GLOB_PATTERN,
        description="A name, or a pattern where `*` stands for any characters; "
        "compared case-insensitively, as Azure compares image names.",
    ),
]
ExactVersion = Annotated[
    str,
    Field(
        max_length=64,
        pattern=EXACT_VERSION_PATTERN,
        description="An exact Major.Minor.Build version, such as 24.04.202607010.",
    ),
]
GalleryId = Annotated[str, Field(min_length=1, max_length=1024, pattern=GALLERY_ID_PATTERN)]
LocationName = Annotated[str, Field(min_length=1, max_length=64, pattern=LOCATION_PATTERN)]


class Enforcement(StrEnum):
    """What vmroll does about a pool that violates the policy. Strictest first."""

    DENY = "Deny"
    REMEDIATE = "Remediate"
    AUDIT = "Audit"


class MarketplacePattern(ApiModel):
    """Marketplace images by publisher, offer and SKU; `*` matches any characters."""

    publisher: NameGlob
    offer: NameGlob = "*"
    sku: NameGlob = "*"


class ImageMatch(ApiModel):
    """Which images a rule concerns: marketplace images matching a pattern, or one gallery image
    definition. Set at most one; empty matches every image."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!(has(self.marketplace) && has(self.galleryImageId))",
                "set at most one of marketplace or galleryImageId",
            )
        )
    )

    marketplace: MarketplacePattern | None = Field(
        default=None, description="Marketplace images matching this pattern."
    )
    gallery_image_id: str | None = Field(
        default=None,
        max_length=1024,
        pattern=GALLERY_IMAGE_ID_PATTERN,
        description="Resource ID of a gallery image definition, without /versions.",
    )

    @model_validator(mode="after")
    def _at_most_one(self) -> ImageMatch:
        if self.marketplace is not None and self.gallery_image_id is not None:
            raise ValueError("set at most one of marketplace or galleryImageId")
        return self


class AllowedSources(ApiModel):
    """An allow list of image sources: a pool's image must be listed here."""

    marketplace: list[MarketplacePattern] = Field(
        default_factory=list,
        max_length=64,
        description="Marketplace images allowed; none when empty.",
    )
    galleries: list[GalleryId] = Field(
        default_factory=list,
        max_length=64,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="Galleries (/subscriptions/{s}/resourceGroups/{rg}/providers/"
        "Microsoft.Compute/galleries/{g}) or single gallery images (.../images/{i}) "
        "whose images are allowed; none when empty. Compared case-insensitively.",
    )
    managed_images: bool = Field(
        default=False, description="Whether managed images (which have no versions) are allowed."
    )


class Freshness(ApiModel):
    """How recent the image version a pool runs must be."""

    max_age: Duration | None = Field(
        default=None,
        json_schema_extra=validations(cel(MIN_MAX_AGE_RULE, "maxAge must be at least 1h")),
        description="Oldest a version may be, such as 720h (30 days): a marketplace version's "
        "build date as its version encodes it (24.04.202607010 was built on 2026-07-01), a "
        "gallery version's publishedDate. A version whose date is unknown does not comply. "
        "Admission judges a pinned marketplace version (its date is in the spec); a gallery "
        "version's publishedDate and the version `latest` resolves to are read from Azure, so "
        "they are judged after admission (see enforcement).",
    )
    max_versions_behind: int | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="How many newer versions may exist in the pool's region; 0 means only the "
        "newest complies. Judged after admission only (see enforcement): it needs the region's "
        "versions from Azure, and a version complies today and falls behind when another is "
        "published.",
    )


class MinimumVersion(ApiModel):
    """The oldest version of some images that may run."""

    image: ImageMatch = Field(
        default_factory=ImageMatch, description="The images concerned; every image when empty."
    )
    version: ExactVersion


class DeniedVersion(ApiModel):
    """A version that must never run, with the reason users are shown."""

    image: ImageMatch = Field(
        default_factory=ImageMatch, description="The images concerned; every image when empty."
    )
    version: ExactVersion
    reason: str = Field(
        min_length=1,
        max_length=256,
        description="Why the version is denied, such as a CVE identifier; shown to users.",
    )


class Licensing(ApiModel):
    """Paid marketplace images: whether pools may run them, and whose terms vmroll may accept."""

    allow_purchase_plans: bool = Field(
        default=False, description="Whether images with a purchase plan (paid images) are allowed."
    )
    plan_publishers: list[NameGlob] = Field(
        default_factory=list,
        max_length=64,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="Publishers whose paid images are allowed when allowPurchasePlans is true; "
        "any publisher when empty.",
    )
    terms_publishers: list[NameGlob] = Field(
        default_factory=list,
        max_length=64,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="Publishers whose marketplace terms vmroll may accept on a pool's behalf "
        "(image.acceptTerms); none when empty.",
    )


class PolicyRules(ApiModel):
    """What a pool's image must satisfy. An omitted rule does not constrain."""

    allowed_sources: AllowedSources | None = Field(
        default=None, description="An allow list of image sources; any source when omitted."
    )
    freshness: Freshness | None = Field(default=None, description="How recent the version must be.")
    minimum_versions: list[MinimumVersion] = Field(
        default_factory=list, max_length=64, description="The oldest versions that may run."
    )
    denied_versions: list[DeniedVersion] = Field(
        default_factory=list, max_length=256, description="Versions that must never run."
    )
    licensing: Licensing | None = Field(
        default=None, description="Paid images and their terms; unconstrained when omitted."
    )
    allowed_locations: list[LocationName] = Field(
        default_factory=list,
        max_length=128,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="Azure regions pools may run in; any region when empty.",
    )


class ImagePolicySpec(ApiModel):
    """Desired state of an ImagePolicy."""

    namespace_selector: LabelSelector | None = Field(
        default=None,
        description="Namespaces whose pools the policy applies to, by label; all when omitted.",
    )
    pool_selector: LabelSelector | None = Field(
        default=None, description="Pools the policy applies to, by label; all when omitted."
    )
    rules: PolicyRules = Field(description="What a matching pool's image must satisfy.")
    enforcement: Enforcement = Field(
        default=Enforcement.AUDIT,
        description="Deny: admission refuses a pool that violates the policy. Audit: the pool "
        "reports it (condition PolicyCompliant, events) and nothing else. Remediate: vmroll moves "
        "the pool to the newest compliant version through its own strategy. When several "
        "policies match a pool all apply, and the strictest among those violated wins: "
        "Deny > Remediate > Audit. Admission reads no Azure: Deny refuses what the spec itself "
        "shows (source, region, licensing, and a pinned version's deniedVersions, "
        "minimumVersions and marketplace build date). What needs Azure (the version `latest` "
        "resolves to, maxVersionsBehind, a gallery version's publishedDate, a purchase plan "
        "looked up from the image) is judged after admission. There, Deny keeps a pool following "
        "`latest` off a version it violates: when `latest` resolves to a version the pool would "
        "roll or create VMs onto, vmroll targets the newest compliant version in the region "
        "instead (PolicyCompliant True, reason LatestVersionDenied), or stalls the pool with "
        "NoCompliantVersion touching no VM. Deny does not move VMs already running a version "
        "that fell out of policy, nor a pinned version (admission judged it): those are reported "
        "as Audit reports them; pair Deny with a Remediate policy to have vmroll move them.",
    )


class PolicyViolationRef(ApiModel):
    """One pool that does not comply, and why."""

    namespace: str = Field(description="Namespace of the pool.")
    name: str = Field(description="Name of the pool.")
    rule: str = Field(description="The first rule the pool violates, such as MaxAge.")
    message: str = Field(default="", max_length=1024, description="What is wrong.")


class ImagePolicyStatus(ApiModel):
    """Observed state of an ImagePolicy."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation this status reflects."
    )
    matched_pools: int = Field(default=0, ge=0, description="Pools the policy applies to.")
    matched_vms: int = Field(default=0, ge=0, description="VMs of the pools it applies to.")
    non_compliant_pools: int = Field(
        default=0, ge=0, description="Matched pools that violate the policy."
    )
    non_compliant: list[PolicyViolationRef] = Field(
        default_factory=list,
        max_length=MAX_LISTED_VIOLATIONS,
        description=f"Up to {MAX_LISTED_VIOLATIONS} of the non-compliant pools, sorted by "
        "namespace and name.",
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=MAX_CONDITIONS,
        json_schema_extra=CONDITIONS_SCHEMA_EXTRA,
        description="Ready: True when vmroll evaluated the policy against every matching pool.",
    )


class ImagePolicy(ApiModel):
    """A whole ImagePolicy object, as read from the API server."""

    api_version: Literal["vmroll.io/v1alpha1"] = Field(
        default=API_VERSION, description="API version."
    )
    kind: Literal["ImagePolicy"] = Field(default=KIND, description="Kind.")
    metadata: ObjectMeta = Field(description="Standard object metadata.")
    spec: ImagePolicySpec = Field(description="Desired state.")
    status: ImagePolicyStatus | None = Field(default=None, description="Observed state.")
