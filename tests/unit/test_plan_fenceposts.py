"""Fenceposts resolve exactly as the Deployment controller's ResolveFenceposts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmroll.plan.fenceposts import resolve_fenceposts


@pytest.mark.parametrize(
    ("replicas", "max_surge", "max_unavailable", "expected"),
    [
        pytest.param(10, "25%", "25%", (3, 2), id="deployment-default-25pct-of-10"),
        pytest.param(4, "25%", "25%", (1, 1), id="25pct-of-4-exact"),
        pytest.param(10, 0, 0, (0, 1), id="both-zero-forces-unavailable-1"),
        pytest.param(3, 0, "10%", (0, 1), id="unavailable-rounds-down-to-zero-then-forced"),
        pytest.param(3, "10%", 0, (1, 0), id="surge-rounds-up"),
        pytest.param(3, "10%", "10%", (1, 0), id="surge-up-unavailable-down-no-force"),
        pytest.param(1, 0, "50%", (0, 1), id="half-of-one-rounds-down-forced"),
        pytest.param(0, "25%", "25%", (0, 1), id="zero-replicas"),
        pytest.param(5, "200%", 0, (10, 0), id="surge-above-100pct-allowed"),
        pytest.param(5, 0, "100%", (0, 5), id="unavailable-100pct"),
        pytest.param(4, 1, 10, (1, 10), id="ints-not-clamped"),
        pytest.param(3, 1, 0, (1, 0), id="design-default-surge-1"),
        pytest.param(100, "29%", "29%", (29, 29), id="no-float-error-at-29pct"),
        pytest.param(7, "0%", "0%", (0, 1), id="zero-percents-forced"),
    ],
)
def test_resolves_like_deployment(
    replicas: int, max_surge: int | str, max_unavailable: int | str, expected: tuple[int, int]
) -> None:
    assert resolve_fenceposts(max_surge, max_unavailable, replicas) == expected


@pytest.mark.parametrize(
    ("max_surge", "max_unavailable", "replicas", "message"),
    [
        pytest.param("120%%", 0, 3, "maxSurge", id="double-percent"),
        pytest.param(1, "120%", 3, "exceed 100%", id="unavailable-above-100pct"),
        pytest.param(-1, 0, 3, "negative", id="negative-surge-int"),
        pytest.param(0, -2, 3, "negative", id="negative-unavailable-int"),
        pytest.param("-10%", 0, 3, "negative", id="negative-percent"),
        pytest.param("ten", 0, 3, "maxSurge", id="non-numeric"),
        pytest.param("10", 0, 3, "percentage", id="numeric-string-without-percent"),
        pytest.param("1.5%", 0, 3, "whole percentage", id="fractional-percent"),
        pytest.param(" 10%", 0, 3, "maxSurge", id="whitespace"),
        pytest.param(True, 0, 3, "maxSurge", id="bool-is-not-an-int"),
        pytest.param(1, 0, -1, "replicas", id="negative-replicas"),
    ],
)
def test_rejects_bad_values(
    max_surge: int | str, max_unavailable: int | str, replicas: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_fenceposts(max_surge, max_unavailable, replicas)


@settings(max_examples=200, deadline=None)
@given(
    replicas=st.integers(0, 500),
    surge_pct=st.integers(0, 300),
    unavailable_pct=st.integers(0, 100),
)
def test_percentages_round_surge_up_unavailable_down(
    replicas: int, surge_pct: int, unavailable_pct: int
) -> None:
    surge, unavailable = resolve_fenceposts(f"{surge_pct}%", f"{unavailable_pct}%", replicas)
    assert surge * 100 >= surge_pct * replicas > (surge - 1) * 100
    if surge > 0 or unavailable_pct * replicas >= 100:
        assert unavailable * 100 <= unavailable_pct * replicas < (unavailable + 1) * 100
    else:
        assert unavailable == 1
    assert surge + unavailable >= 1
