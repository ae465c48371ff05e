"""Whether a region can hold a VM: its size offered there, and the subscription's cores quota.

Azure refuses both synchronously, with 409s whose wording users search for: `SkuNotAvailable`
for a size the region does not offer, `OperationNotAllowed` for a create or resize beyond the
regional (Total Regional Cores) or per-family vCPU quota. Pure functions over the catalog and the
VMs that already count towards the quota (allocated or deallocated, as in Azure).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vmroll.emulator.catalog import Catalog, VmSize
from vmroll.emulator.errors import ArmError
from vmroll.emulator.vm_model import VmRecord

QUOTA_PORTAL = (
    "https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView/"
    "Parameters/%7B%22subscriptionId%22:%22{subscription}%22%7D"
)


def offered_size(
    catalog: Catalog,
    resource_id: str,
    subscription_id: str,
    location: str,
    size_name: str,
    zones: Sequence[str] = (),
) -> VmSize:
    region = catalog.location(location)
    size = region.size(size_name) if region is not None else None
    if size is None:
        raise ArmError(
            409,
            "SkuNotAvailable",
            f"The requested size for resource '{resource_id}' is currently not available in "
            f"location '{location}' zones '{','.join(zones)}' for subscription "
            f"'{subscription_id}'. Please try another size or deploy to a different location "
            "or zones. See https://aka.ms/azureskunotavailable for details.",
        )
    return size


def check_cores_quota(
    catalog: Catalog,
    subscription_id: str,
    location: str,
    size: VmSize,
    counted: Iterable[VmRecord],
) -> None:
    """Raise Compute's quota error when `size` does not fit beside the `counted` VMs."""
    subscription = catalog.subscription(subscription_id)
    limits = subscription.quotas.get(location) if subscription is not None else None
    if limits is None:
        return
    in_region = [r for r in counted if r.location == location]
    checks = [("Total Regional Cores", limits.total_regional_cores, in_region)]
    if size.family in limits.families:
        same_family = [r for r in in_region if r.family == size.family]
        checks.append((size.family, limits.families[size.family], same_family))
    for label, limit, records in checks:
        usage = sum(r.vcpus for r in records)
        if usage + size.vcpus > limit:
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Operation could not be completed as it results in exceeding approved {label} "
                f"quota. Additional details - Deployment Model: Resource Manager, Location: "
                f"{location}, Current Limit: {limit}, Current Usage: {usage}, Additional "
                f"Required: {size.vcpus}, (Minimum) New Limit Required: {usage + size.vcpus}. "
                f"Submit a request for Quota increase at "
                f"{QUOTA_PORTAL.format(subscription=subscription_id)} by specifying parameters "
                "listed in the 'Details' section for deployment to succeed. Please read more "
                "about quota limits at "
                "https://docs.microsoft.com/en-us/azure/azure-supportability/per-vm-quota-requests",
            )
