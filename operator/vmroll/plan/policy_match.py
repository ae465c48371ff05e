"""Which pools an ImagePolicy selects, and which images its patterns name.

Apart from the verdict (plan/policy.py) because the admission webhook and the kubectl plugin
need the same matching: names compare case-insensitively, as Azure compares them, and `*` in a
pattern stands for any characters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

from vmroll.api.image import ImageSource
from vmroll.api.policy import AllowedSources, ImageMatch, ImagePolicySpec, MarketplacePattern
from vmroll.plan.access import selector_matches


def policy_applies(
    spec: ImagePolicySpec, namespace_labels: Mapping[str, str], pool_labels: Mapping[str, str]
) -> bool:
    """Whether a policy selects a pool: both selectors match (an omitted one matches all)."""
    namespaces = spec.namespace_selector
    pools = spec.pool_selector
    return (namespaces is None or selector_matches(namespaces, namespace_labels)) and (
        pools is None or selector_matches(pools, pool_labels)
    )


def describe_image(image: ImageSource) -> str:
    """The image as a user names it."""
    if image.marketplace is not None:
        m = image.marketplace
        return f"{m.publisher}:{m.offer}:{m.sku}"
    if image.gallery is not None:
        return image.gallery.image_id
    return image.managed_image_id or ""


def _glob(pattern: str, value: str) -> bool:
    return fnmatchcase(value.lower(), pattern.lower())


def any_glob(patterns: Iterable[str], value: str) -> bool:
    """Whether any of the patterns names `value`."""
    return any(_glob(p, value) for p in patterns)


def _marketplace_matches(pattern: MarketplacePattern, image: ImageSource) -> bool:
    m = image.marketplace
    return (
        m is not None
        and _glob(pattern.publisher, m.publisher)
        and _glob(pattern.offer, m.offer)
        and _glob(pattern.sku, m.sku)
    )


def image_matches(match: ImageMatch, image: ImageSource) -> bool:
    """Whether a rule's image match names `image`; an empty match names every image."""
    if match.marketplace is not None:
        return _marketplace_matches(match.marketplace, image)
    if match.gallery_image_id is not None:
        return image.gallery is not None and _same_id(
            match.gallery_image_id, image.gallery.image_id
        )
    return True


def source_allowed(allowed: AllowedSources, image: ImageSource) -> bool:
    """Whether the allow list admits `image`: a marketplace pattern, its gallery (or its own
    gallery image ID), or managed images as a whole."""
    if image.marketplace is not None:
        return any(_marketplace_matches(p, image) for p in allowed.marketplace)
    if image.gallery is not None:
        image_id = image.gallery.image_id.rstrip("/").lower()
        return any(
            _same_id(g, image_id) or image_id.startswith(g.rstrip("/").lower() + "/images/")
            for g in allowed.galleries
        )
    return allowed.managed_images


def _same_id(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()
