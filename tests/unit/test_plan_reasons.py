"""Every reason is a CamelCase constant with a one-line description."""

from __future__ import annotations

import re

import pytest

from vmroll.plan.reasons import DESCRIPTIONS, Reason

# The metav1.Condition reason pattern, and CamelCase on top of it.
CAMEL_CASE = re.compile(r"[A-Z][A-Za-z0-9]*")


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_reason_is_camel_case_and_documented(reason: Reason) -> None:
    assert CAMEL_CASE.fullmatch(reason.value)
    description = DESCRIPTIONS.get(reason, "")
    assert description.endswith(".")
    assert "\n" not in description


def test_no_description_for_an_unknown_reason() -> None:
    assert set(DESCRIPTIONS) == set(Reason)


@pytest.mark.parametrize(
    "required",
    [
        "AccessDenied",
        "ImageNotAvailable",
        "TermsNotAccepted",
        "QuotaExceeded",
        "SkuNotAvailable",
        "InvalidParameter",
        "ProgressDeadlineExceeded",
        "RolledBack",
        "Reconciling",
        "Creating",
        "Scaling",
        "Deleting",
        "RollingOut",
        "Ready",
        "AllReplicasReady",
    ],
)
def test_documented_reasons_exist(required: str) -> None:
    assert Reason(required).value == required
