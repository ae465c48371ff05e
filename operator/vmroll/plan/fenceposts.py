"""Surge and unavailability fenceposts of a rolling update, resolved to VM counts.

`maxSurge` and `maxUnavailable` are "int or percent" like a Deployment's, and must resolve
exactly as the Deployment controller resolves them (`ResolveFenceposts` in
`pkg/controller/deployment/util`) so that users who know Deployments predict vmroll's batches:
a percentage of `replicas` rounds UP for surge (surge never blocks progress by rounding to 0) and
DOWN for unavailable (unavailability never exceeds what was asked); when both resolve to 0 the
rollout could never move, so unavailable becomes 1 (surge may fail on quota; one VM down cannot).

    replicas  maxSurge  maxUnavailable  ->  surge  unavailable  why
    10        25%       25%                 3      2            2.5 rounds up / down
    10        0         0                   0      1            both zero: unavailable forced
    3         0         10%                 0      1            10% of 3 rounds down to 0
    3         10%       0                   1      0            10% of 3 rounds up to 1
    1         0         50%                 0      1            0.5 rounds down: forced to 1
    0         25%       25%                 0      1            nothing to roll, still >= 1
    5         200%      0                   10     0            surge may exceed 100%
    5         0         100%                0      5            the whole pool at once
    4         1         10                  1      10           ints are not clamped here
"""

from __future__ import annotations

import re

_PERCENT = re.compile(r"(?P<value>[0-9]+)%")


def resolve_fenceposts(
    max_surge: int | str, max_unavailable: int | str, replicas: int
) -> tuple[int, int]:
    """Return `(surge, unavailable)` as VM counts for a pool of `replicas`.

    Raises ValueError for negative numbers, malformed percentages (`"120%%"`, `"1.5%"`,
    `"10"`), a `maxUnavailable` above 100%, or a negative `replicas`.
    """
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise ValueError(f"replicas must be a non-negative integer, got {replicas!r}")
    surge = _scaled(max_surge, replicas, round_up=True, field="maxSurge", at_most_100=False)
    unavailable = _scaled(
        max_unavailable, replicas, round_up=False, field="maxUnavailable", at_most_100=True
    )
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _scaled(
    value: int | str, replicas: int, *, round_up: bool, field: str, at_most_100: bool
) -> int:
    # bool is an int subclass; `maxSurge: true` in YAML is a mistake, not 1.
    if isinstance(value, bool):
        raise ValueError(f"{field} must be an integer or a percentage like '25%', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{field} must not be negative, got {value}")
        return value
    if isinstance(value, str):
        if value.startswith("-"):
            raise ValueError(f"{field} must not be negative, got {value!r}")
        match = _PERCENT.fullmatch(value)
        if match is None:
            raise ValueError(
                f"{field} must be an integer or a whole percentage like '25%', got {value!r}"
            )
        percent = int(match["value"])
        if at_most_100 and percent > 100:
            raise ValueError(f"{field} must not exceed 100%, got {value!r}")
        # Integer ceil/floor: float arithmetic would turn 29% of 100 into 28.999....
        scaled = percent * replicas
        return -(-scaled // 100) if round_up else scaled // 100
    raise ValueError(f"{field} must be an integer or a percentage like '25%', got {value!r}")
