"""`kubectl vmroll images`: what can be deployed in a region, seen through an AzureAccount.

Like `az vm image list-publishers / list-offers / list-skus / list --all`, and a gallery's image
versions, with what matters to a pool: the version `latest` resolves to (marked newest, decided
as the operator decides it), the purchase plan and whether the subscription accepted its terms,
and for gallery versions where they are replicated, whether they are excluded from latest and
when they reach end of life. When ImagePolicy is served, a POLICY column says what the
policies would decide of a pool on each image (kubectl/image_policy.py). Reads only: nothing is
accepted, created or changed.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from vmroll.api.base import GROUP
from vmroll.handlers.run_config import DEFAULT_CLUSTER_RESOURCE_NAMESPACE
from vmroll.kubectl import image_policy, image_rows, policy_reads
from vmroll.kubectl.cluster import ClusterTarget, PluginError, api_client_for
from vmroll.kubectl.image_rows import Listing, Output
from vmroll.plan.account_trust import (
    ALLOW_CUSTOM_ENDPOINTS_FLAG,
    CLUSTER_RESOURCE_NAMESPACE_FLAG,
    TrustPolicy,
)

POLICY_KIND = "ImagePolicy"
READS_MODULE = "vmroll.kubectl.image_reads"
"""Imported only when `images` runs: the Azure SDKs take longer to load than the other
commands take to run."""


def add_parser(commands: Any, flags: argparse.ArgumentParser) -> None:
    """`images` and its flags, on the plugin's subcommands."""
    images = commands.add_parser(
        "images", parents=[flags],
        help="browse the images an AzureAccount can deploy in a region (marketplace, gallery)",
    )  # fmt: skip
    images.add_argument(
        "listing", nargs="?", choices=[str(item) for item in Listing if item != Listing.GALLERY],
        help="what to list (default: versions with --publisher, else publishers)",
    )  # fmt: skip
    images.add_argument("--account", required=True, help="the AzureAccount to read Azure as")
    images.add_argument("-l", "--location", required=True, help="the Azure region")
    images.add_argument("--publisher", help="marketplace publisher (needed below publishers)")
    images.add_argument("--offer", help="marketplace offer (needed for skus)")
    images.add_argument("--sku", help="marketplace sku")
    images.add_argument("--all", action="store_true",
                        help="every version, not only the newest of each sku")  # fmt: skip
    images.add_argument("--gallery", help="a gallery's resource ID, or its name with "
                                          "--resource-group: list its image versions")  # fmt: skip
    images.add_argument("--resource-group", "-g", help="the gallery's resource group")
    images.add_argument("--image", help="only this gallery image definition")
    images.add_argument(
        "--for-namespace", metavar="NS",
        help="judge by the ImagePolicies that select a pool in NS (by its labels and "
        "--pool-labels); default: every ImagePolicy's rules, selectors ignored",
    )  # fmt: skip
    images.add_argument("--pool-labels", metavar="K=V,...",
                        help="with --for-namespace: the labels of the pool judged for")  # fmt: skip
    images.add_argument("-o", "--output", choices=[str(item) for item in Output],
                        default=str(Output.TABLE))  # fmt: skip
    images.add_argument(
        ALLOW_CUSTOM_ENDPOINTS_FLAG, action="store_true",
        help="use the account's endpoints beyond the public, China and US Government clouds, "
        "and its CA bundle, as the operator does with the same flag",
    )  # fmt: skip
    images.add_argument(
        CLUSTER_RESOURCE_NAMESPACE_FLAG, metavar="NS", default=DEFAULT_CLUSTER_RESOURCE_NAMESPACE,
        help="the operator's namespace, where the account's Secrets are "
        f"(default {DEFAULT_CLUSTER_RESOURCE_NAMESPACE})",
    )  # fmt: skip


def listing_of(args: argparse.Namespace) -> Listing:
    if args.gallery:
        return Listing.GALLERY
    if args.listing:
        return Listing(args.listing)
    return Listing.VERSIONS if args.publisher else Listing.PUBLISHERS


def run(args: argparse.Namespace, target: ClusterTarget) -> int:
    # azure-identity logs a failed token request as a warning; the error below says it once.
    logging.getLogger("azure").addHandler(logging.NullHandler())
    logging.getLogger("azure").propagate = False
    listing = listing_of(args)
    _check_flags(args, listing)
    labels = policy_reads.parse_labels(args.pool_labels)
    reads = importlib.import_module(READS_MODULE)
    api_client = api_client_for(target)
    trust = TrustPolicy(args.allow_custom_endpoints, args.cluster_resource_namespace)
    rows: list[image_rows.Row] = reads.read_rows(api_client, args.account, trust, listing, args)
    if listing in image_policy.JUDGED and policy_served(api_client):
        policies = policy_reads.read_policies(api_client, args.for_namespace, labels)
        now = datetime.now(UTC)
        rows = image_policy.judged(listing, rows, policies, args.location, now)
    if not rows and args.output == Output.TABLE:
        # As kubectl says "No resources found": on stderr, and not an error.
        print(f"No {listing} found in {args.location}.", file=sys.stderr)
    print(image_rows.render(listing, rows, Output(args.output)), end="")
    return 0


def _check_flags(args: argparse.Namespace, listing: Listing) -> None:
    needed = {Listing.OFFERS: ("publisher",), Listing.SKUS: ("publisher", "offer"),
              Listing.VERSIONS: ("publisher",)}.get(listing, ())  # fmt: skip
    missing = [f"--{name}" for name in needed if not getattr(args, name)]
    if args.pool_labels and not args.for_namespace:
        raise PluginError("--pool-labels needs --for-namespace: policies select pools by both")
    if missing:
        raise PluginError(f"listing {listing} needs {' and '.join(missing)}")


def policy_served(api_client: Any) -> bool:
    """Whether the API server serves ImagePolicy in vmroll's group, in any version."""
    apis = client.ApisApi(api_client)
    try:
        groups = apis.get_api_versions().groups
    except ApiException as error:
        raise PluginError(f"API discovery failed: {error.status} {error.reason}") from None
    group = next((g for g in groups if g.name == GROUP), None)
    if group is None:
        return False
    custom = client.CustomObjectsApi(api_client)
    for version in group.versions:
        resources = custom.get_api_resources(GROUP, version.version).resources
        if any(resource.kind == POLICY_KIND for resource in resources):
            return True
    return False
