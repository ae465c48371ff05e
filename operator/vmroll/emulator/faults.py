"""Injected failures: what makes the emulator a useful adversary for retry and rollback code.

Rules come from the catalog and can be replaced at run time through the admin API. Each rule
matches operation names (aiohttp route names such as `VirtualMachines_Get`, fnmatch patterns) and
fires with a probability drawn from one seeded generator, so a seeded run fails the same requests
every time. Kinds: `error` (an ARM error answer), `reset` (the connection is dropped before the
request is handled), `lostResponse` (the request is handled, the write applied, and then the
connection is dropped instead of answering), `latency` (the answer is delayed), `lroFailed` (the
long-running operation ends Failed).
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Sequence
from typing import Any

from vmroll.emulator.catalog import FaultRule, Faults
from vmroll.emulator.errors import ArmError

_DEFAULT_CODES = {
    429: "OperationNotAllowed",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}

CHAOS_RULES: tuple[dict[str, Any], ...] = (
    {"operation": "*", "kind": "error", "status": 429, "rate": 0.04},
    {"operation": "*", "kind": "error", "status": 500, "rate": 0.03},
    {"operation": "*", "kind": "error", "status": 503, "rate": 0.03},
    {"operation": "*", "kind": "reset", "rate": 0.03},
    {"operation": "VirtualMachines_*", "kind": "lostResponse", "rate": 0.04},
    {
        "operation": "VirtualMachines_*",
        "kind": "lroFailed",
        "rate": 0.05,
        "code": "InternalExecutionError",
    },
)
"""The rules of the chaos suite and benchmark (tests/e2e/test_chaos.py, benchmarks/chaos.py), in
the admin API's form. Drawn in order, each on its own: about 17 % of VM requests and 13 % of the
others fail. Failed operations end `InternalExecutionError`: the default `AllocationFailed` makes
vmroll wait 300 s by design."""


class FaultInjector:
    def __init__(self, faults: Faults) -> None:
        self.replace(faults)

    def replace(self, faults: Faults) -> None:
        self.seed = faults.seed
        self.rules: list[FaultRule] = list(faults.rules)
        self._remaining = [rule.remaining for rule in self.rules]
        self._random = random.Random(faults.seed)
        self.injected = 0

    def describe(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "rules": [rule.model_dump(by_alias=True) for rule in self.rules],
            "remaining": list(self._remaining),
            "injected": self.injected,
        }

    def draw(self, operation: str, kinds: Sequence[str]) -> FaultRule | None:
        """The first matching rule of the given kinds that fires for this request, if any."""
        for index, rule in enumerate(self.rules):
            if rule.kind not in kinds or not fnmatch.fnmatchcase(operation, rule.operation):
                continue
            left = self._remaining[index]
            if left == 0:
                continue
            if self._random.random() >= rule.rate:
                continue
            if left is not None:
                self._remaining[index] = left - 1
            self.injected += 1
            return rule
        return None


def injected_error(rule: FaultRule) -> ArmError:
    """The ARM answer for an `error` rule, shaped as Compute answers that status."""
    code = rule.code or _DEFAULT_CODES.get(rule.status, "InjectedFault")
    if rule.status == 429:
        return ArmError(
            429,
            code,
            "The server rejected the request because too many requests have been received for "
            "this subscription.",
            details=[
                {
                    "code": "TooManyRequests",
                    "target": "HighCostGet",
                    "message": '{"operationGroup":"HighCostGet","allowedRequestCount":300}',
                }
            ],
            headers={
                "Retry-After": "1",
                "x-ms-ratelimit-remaining-resource": "Microsoft.Compute/HighCostGet;0",
            },
        )
    if rule.status == 503:
        return ArmError(
            503,
            code,
            "The service is temporarily unavailable. Please retry later.",
            headers={"Retry-After": "1"},
        )
    if rule.status >= 500:
        return ArmError(
            rule.status, code, "An internal execution error occurred. Please retry later."
        )
    return ArmError(rule.status, code, f"Injected fault for this operation ({rule.status}).")


def allocation_failed() -> dict[str, str]:
    return {
        "code": "AllocationFailed",
        "message": "Allocation failed. We do not have sufficient capacity for the requested VM "
        "size in this region. Read more about improving likelihood of allocation success at "
        "http://aka.ms/allocation-guidance",
    }
