"""The operator's loop timing, concurrency, endpoints and trust, apart from the state using them.

Kept free of heavy imports: the `vmroll` command line reads these defaults for its `run` flags,
and every other subcommand (`vmroll emulator serve`, `vmroll devcluster ...`) would otherwise
pay for importing kopf and the Azure SDK at start.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CLUSTER_RESOURCE_NAMESPACE = "vmroll-system"


@dataclass(frozen=True)
class ListenAddress:
    """Where an endpoint listens: `HOST:PORT`, `[IPv6]:PORT`, or `:PORT` for every address."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> ListenAddress:
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{text!r} is not HOST:PORT, such as 0.0.0.0:8080")
        host = host.removeprefix("[").removesuffix("]")
        return cls(host or "0.0.0.0", int(port))


@dataclass(frozen=True)
class RunConfig:
    """Loop timing, concurrency and trust; `vmroll run` flags, defaults for production."""

    resync_seconds: float = 60.0
    """How often a settled pool is observed again (finds VMs deleted out of band): pools at
    rest through their group's lists, which their sentinel takes at this interval
    (reconcile/resting_pools.py)."""
    stalled_seconds: float = 600.0
    """How long a Stalled pool waits before trying again when nothing changes."""
    progress_seconds: float = 2.0
    """Pause between passes while operations progress."""
    retry_base_seconds: float = 5.0
    """First delay after a transient failure; each retry draws up to three times the last."""
    retry_max_seconds: float = 300.0
    """The longest delay between retries (Azure's Retry-After may ask for longer)."""
    concurrency: int = 10
    concurrent_passes: int = 50
    """How many pools run a pass at once; the others wait their turn (handlers/turns.py).
    Bounds the operator's memory when every pool has work (1,000 first passes at start), while
    keeping enough passes in flight to use Azure's write buckets."""
    operation_wait: float = 30.0
    polling_interval: float = 15.0
    metrics: ListenAddress | None = None
    """Where to serve Prometheus `/metrics`; None serves nothing."""
    allow_custom_endpoints: bool = False
    """Whether AzureAccounts may name endpoints outside the known Azure clouds, or a CA bundle."""
    cluster_resource_namespace: str = DEFAULT_CLUSTER_RESOURCE_NAMESPACE
    """The only namespace whose Secrets and ConfigMaps AzureAccounts may reference."""
