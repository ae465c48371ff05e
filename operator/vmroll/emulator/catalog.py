"""The emulator's world in YAML: subscriptions, networks, sizes, quotas, identities, timing.

One typed model is the single source of what the emulator knows; everything it answers derives
from it. The built-in default catalog is `default_catalog.yaml` beside this module merged with the
images package's `images/default.yaml` fragment, so `vmroll emulator serve` works with no flags.
A bad catalog file fails at load with the field path and what to change, never mid-request.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from vmroll.emulator.images.catalog import ImageCatalog


class CatalogError(ValueError):
    """A catalog that cannot be used, with a message that says where and what to change."""


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class VmSize(_Model):
    name: str
    vcpus: int = Field(alias="vCPUs", gt=0)
    memory_gb: float = Field(default=4.0, alias="memoryGB", gt=0)
    family: str = "standardDSv5Family"


class Location(_Model):
    name: str
    display_name: str = ""
    vm_sizes: list[VmSize] = Field(min_length=1)

    def size(self, name: str) -> VmSize | None:
        return next((s for s in self.vm_sizes if s.name.lower() == name.lower()), None)


class Quota(_Model):
    total_regional_cores: int = Field(ge=0)
    families: dict[str, int] = Field(default_factory=dict)


class VirtualNetwork(_Model):
    name: str
    location: str
    address_prefix: str = "10.0.0.0/16"
    subnets: list[str] = Field(min_length=1)


class ResourceGroup(_Model):
    name: str
    location: str
    virtual_networks: list[VirtualNetwork] = Field(default_factory=list)


class Subscription(_Model):
    subscription_id: str = Field(alias="id")
    display_name: str = "vmroll emulator"
    quotas: dict[str, Quota] = Field(default_factory=dict)
    resource_groups: list[ResourceGroup] = Field(default_factory=list)

    def resource_group(self, name: str) -> ResourceGroup | None:
        return next((g for g in self.resource_groups if g.name.lower() == name.lower()), None)


class Principal(_Model):
    """A service principal: a client secret, federated subjects (workload identity), or both."""

    name: str
    client_id: str
    object_id: str
    client_secret: str | None = None
    federated_subjects: list[str] = Field(default_factory=list)


Role = Literal["Owner", "Contributor", "Reader", "Virtual Machine Contributor"]


class RoleAssignment(_Model):
    principal: str = Field(description="the principal's name or clientId")
    role: Role
    scope: str = Field(pattern=r"^/subscriptions/[^/]+(/resourceGroups/[^/]+)?/?$")


class Bucket(_Model):
    capacity: int = Field(gt=0)
    refill_per_second: float = Field(gt=0)


class MinuteBucket(_Model):
    """A Compute token bucket: `capacity` tokens, `refillPerMinute` back every minute."""

    capacity: int = Field(gt=0)
    refill_per_minute: float = Field(gt=0)


class ComputePolicy(_Model):
    """One Compute throttling policy: a bucket per VM (None: none) and per subscription-region."""

    resource: MinuteBucket | None
    subscription: MinuteBucket


def _policy(resource: tuple[int, float] | None, subscription: tuple[int, float]) -> ComputePolicy:
    return ComputePolicy(
        resource=MinuteBucket(capacity=resource[0], refill_per_minute=resource[1])
        if resource is not None
        else None,
        subscription=MinuteBucket(capacity=subscription[0], refill_per_minute=subscription[1]),
    )


class ComputeThrottling(_Model):
    """Microsoft.Compute's own policies for virtual machines, keyed by the names its
    `x-ms-ratelimit-remaining-resource` header uses; defaults are Microsoft's published limits
    (tests/integration/azure_examples/compute_throttling.md)."""

    enabled: bool = True
    put_vm: ComputePolicy = Field(default=_policy((12, 4), (1500, 500)), alias="PutVM")
    update_vm: ComputePolicy = Field(default=_policy((12, 4), (1500, 500)), alias="UpdateVM")
    delete_vm: ComputePolicy = Field(default=_policy((12, 4), (1500, 500)), alias="DeleteVM")
    low_cost_get: ComputePolicy = Field(
        default=_policy((36, 12), (24000, 8000)), alias="LowCostGet"
    )
    high_cost_get: ComputePolicy = Field(default=_policy(None, (900, 300)), alias="HighCostGet")
    get_operation: ComputePolicy = Field(
        default=_policy((45, 15), (15000, 5000)), alias="GetOperation"
    )

    def policy(self, name: str) -> ComputePolicy:
        """The settings of a policy by its header name (`PutVM`, `LowCostGet`, ...)."""
        field = next(f for f, info in type(self).model_fields.items() if info.alias == name)
        settings: ComputePolicy = getattr(self, field)
        return settings


class Throttling(_Model):
    """ARM's per-principal buckets (`reads`, `writes`, `deletes`) and Compute's policies;
    `enabled: false` turns both off, `compute.enabled: false` only Compute's."""

    enabled: bool = True
    reads: Bucket = Bucket(capacity=250, refill_per_second=25)
    writes: Bucket = Bucket(capacity=200, refill_per_second=10)
    deletes: Bucket = Bucket(capacity=200, refill_per_second=10)
    compute: ComputeThrottling = ComputeThrottling()


class FaultRule(_Model):
    """Injected failure for requests whose operation name matches `operation` (fnmatch)."""

    operation: str = "*"
    rate: float = Field(default=1.0, ge=0, le=1)
    kind: Literal["error", "reset", "lostResponse", "lroFailed", "latency"] = "error"
    status: int = Field(default=500, ge=400, le=599)
    code: str | None = None
    latency_seconds: float = Field(default=0.0, ge=0)
    remaining: int | None = Field(default=None, ge=0, description="stop after this many hits")


class Faults(_Model):
    seed: int | None = None
    rules: list[FaultRule] = Field(default_factory=list)


class Latencies(_Model):
    """How long each operation takes in Azure, in seconds, before `timeScale` applies.

    `capture` is a gallery image version's copy of its source VM; `replicate` each target
    region's replica after it, one region after another in the order the version lists them.
    """

    create: float = 180.0
    update: float = 30.0
    delete: float = 90.0
    reimage: float = 120.0
    start: float = 40.0
    power_off: float = 30.0
    deallocate: float = 60.0
    restart: float = 45.0
    capture: float = 180.0
    replicate: float = 300.0
    request: float = 0.0


class Catalog(_Model):
    tenant_id: str
    subscriptions: list[Subscription] = Field(min_length=1)
    locations: list[Location] = Field(min_length=1)
    principals: list[Principal] = Field(min_length=1)
    role_assignments: list[RoleAssignment] = Field(default_factory=list)
    latencies: Latencies = Latencies()
    time_scale: float = Field(default=1.0, gt=0)
    lro_retry_after_seconds: int = Field(default=10, ge=0)
    page_size: int = Field(default=50, gt=0)
    list_lag_seconds: float = Field(
        default=0.0,
        ge=0,
        description="how long VM lists lag writes: a VM created (deleted) within this many "
        "seconds is not yet listed (still listed); a GET by name sees the truth at once",
    )
    token_lifetime_seconds: int = Field(default=3600, gt=0)
    throttling: Throttling = Throttling()
    faults: Faults = Faults()
    images: ImageCatalog

    @model_validator(mode="after")
    def _references_resolve(self) -> Catalog:
        known_locations = {loc.name for loc in self.locations}
        names = {p.name for p in self.principals} | {p.client_id for p in self.principals}
        for sub in self.subscriptions:
            for where, loc in [(f"quota {q}", q) for q in sub.quotas] + [
                (f"resource group {g.name}", g.location) for g in sub.resource_groups
            ]:
                if loc not in known_locations:
                    raise ValueError(
                        f"subscription {sub.subscription_id}: {where} names location {loc!r}, "
                        f"which is not under `locations` ({sorted(known_locations)})"
                    )
        first = self.subscriptions[0]
        if not any(g.virtual_networks for g in first.resource_groups):
            raise ValueError(
                f"subscription {first.subscription_id} (the first) needs a resource group with "
                "a virtual network: credentials.json names a subnet of it where VMs can be created"
            )
        for assignment in self.role_assignments:
            if assignment.principal not in names:
                raise ValueError(
                    f"role assignment names principal {assignment.principal!r}; "
                    f"add it under `principals` or use one of {sorted(names)}"
                )
        return self

    def subscription(self, subscription_id: str) -> Subscription | None:
        wanted = subscription_id.lower()
        return next((s for s in self.subscriptions if s.subscription_id.lower() == wanted), None)

    def location(self, name: str) -> Location | None:
        wanted = name.replace(" ", "").lower()
        return next((loc for loc in self.locations if loc.name.lower() == wanted), None)

    def principal(self, client_id: str) -> Principal | None:
        return next((p for p in self.principals if p.client_id == client_id), None)


def default_catalog_data() -> dict[str, Any]:
    """The built-in catalog as plain data: this package's file plus the images fragment."""
    package = resources.files("vmroll.emulator")
    data = yaml.safe_load(package.joinpath("default_catalog.yaml").read_text())
    images = yaml.safe_load(package.joinpath("images", "default.yaml").read_text())
    data["images"] = images.get("images", images)
    return dict(data)


def parse_catalog(data: Any, source: str) -> Catalog:
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        problems = "\n".join(
            f"  - {'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise CatalogError(
            f"catalog {source} is not valid:\n{problems}\n"
            "Fields are camelCase; vmroll/emulator/README.md lists them and "
            "vmroll/emulator/default_catalog.yaml is a complete example."
        ) from None


def load_catalog(path: Path | None = None) -> Catalog:
    """Load a catalog file; a file without `images:` takes the default images."""
    if path is None:
        return parse_catalog(default_catalog_data(), "(built-in default)")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"catalog {path} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"catalog {path} must be a YAML mapping at the top level")
    if "images" not in data:
        data["images"] = default_catalog_data()["images"]
    return parse_catalog(data, str(path))
