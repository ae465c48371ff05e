"""Backoff grows with jitter between the last delay and three times it, stops at the cap, never
shrinks while failures last, and never goes below Azure's Retry-After."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmroll.plan.backoff import Backoff, BackoffPolicy

POLICY = BackoffPolicy(base=5.0, cap=300.0)


@pytest.mark.parametrize(
    ("previous", "retry_after", "draw", "expected"),
    [
        pytest.param(None, None, 0.0, Backoff(1, 5.0), id="first-lowest-draw-is-the-base"),
        pytest.param(None, None, 0.5, Backoff(1, 10.0), id="first-mid-draw"),
        pytest.param(None, None, 0.999, Backoff(1, 14.99), id="first-below-three-bases"),
        pytest.param(Backoff(1, 10.0), None, 0.5, Backoff(2, 20.0), id="grows-from-last"),
        pytest.param(Backoff(2, 40.0), None, 0.999, Backoff(3, 119.92), id="three-times-last"),
        pytest.param(Backoff(2, 40.0), None, 0.0, Backoff(3, 40.0), id="never-shrinks"),
        pytest.param(Backoff(6, 200.0), None, 0.9, Backoff(7, 300.0), id="capped"),
        pytest.param(Backoff(7, 300.0), None, 0.0, Backoff(8, 300.0), id="stays-at-the-cap"),
        pytest.param(None, 17.0, 0.0, Backoff(1, 17.0), id="retry-after-is-a-floor"),
        pytest.param(None, 2.0, 0.5, Backoff(1, 10.0), id="short-retry-after-changes-nothing"),
        pytest.param(Backoff(6, 300.0), 600.0, 0.5, Backoff(7, 600.0), id="floor-above-cap"),
        pytest.param(Backoff(1, 600.0), None, 0.0, Backoff(2, 300.0), id="cap-after-long-floor"),
    ],
)
def test_next_delay(
    previous: Backoff | None, retry_after: float | None, draw: float, expected: Backoff
) -> None:
    result = POLICY.next(previous, retry_after, draw)

    assert result.attempt == expected.attempt
    assert result.delay == pytest.approx(expected.delay, abs=0.01)


@given(
    draws=st.lists(st.floats(min_value=0.0, max_value=1.0, exclude_max=True), max_size=30),
    retry_after=st.none() | st.floats(min_value=0.0, max_value=1000.0),
)
def test_delays_stay_between_base_and_cap_and_never_shrink(
    draws: list[float], retry_after: float | None
) -> None:
    backoff: Backoff | None = None
    for count, draw in enumerate(draws, start=1):
        previous = backoff
        backoff = POLICY.next(backoff, retry_after, draw)
        floor = max(POLICY.base, retry_after or 0.0)
        assert backoff.attempt == count
        assert floor <= backoff.delay <= max(POLICY.cap, floor)
        if previous is not None:
            assert backoff.delay >= min(previous.delay, POLICY.cap)
