"""What a pool pass is given and what it returns: the account as the handler found it, the
template's Secret values, tuning, and how soon the loop should come back."""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from vmroll.api.account import AzureAccountSpec
from vmroll.azure.protocol import ComputeGateway
from vmroll.plan.backoff import BackoffPolicy
from vmroll.plan.reasons import Reason


class Next(enum.Enum):
    SETTLED = "Settled"
    PROGRESSING = "Progressing"
    RETRY = "Retry"
    STALLED = "Stalled"


@dataclass(frozen=True)
class Outcome:
    """`after`: seconds until the next pass, when the pass knows better than the loop's default
    (Azure's Retry-After; 0 when operations just finished; when a VM becomes available)."""

    next: Next
    after: float | None = None
    failed: bool = False
    """The pass raised something that is not an Azure error (a Kubernetes API error, a bug)."""


@dataclass(frozen=True)
class AccountView:
    """The pool's account as the handler found it, with a gateway to its subscription."""

    name: str
    spec: AzureAccountSpec
    gateway: ComputeGateway


@dataclass(frozen=True)
class AccountProblem:
    """The pool's account cannot be used: missing, not ready, its Secret gone."""

    reason: str
    message: str


@dataclass(frozen=True)
class TemplateInputs:
    """Values the template takes from Secrets and ConfigMaps, read by the handler."""

    ssh_public_keys: tuple[str, ...] = ()
    custom_data: bytes | None = field(default=None, repr=False)
    problem: str | None = None
    problem_reason: str = Reason.INVALID_SPEC
    """The Stalled reason for `problem`: InvalidSpec, or InvalidSecret for an unusable value."""


@dataclass(frozen=True)
class PassSettings:
    concurrency: int = 10
    operation_wait: float = 30.0
    poll_after: float = 300.0
    """An operation the group's list has not settled this long after it started is polled
    (reconcile/following.py)."""
    progress_interval: float = 2.0
    """Seconds between passes while operations are in flight (`RunConfig.progress_seconds`)."""
    runtime_refresh: float = 600.0
    """Seconds between two reads of a healthy VM's view, at least: a fleet too large for ARM's
    reads refill at this period is refreshed less often (plan/view_refresh.py)."""
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    draw: Callable[[], float] = random.random
    """The backoff's jitter: uniform in [0, 1); tests fix it."""
