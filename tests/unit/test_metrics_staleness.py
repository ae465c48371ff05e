"""Image staleness from versions: how many versions and how many days a pool's target is behind
the newest available."""

from __future__ import annotations

from datetime import date

import pytest

from vmroll.metrics.staleness import SECONDS_PER_DAY, Staleness, image_staleness, release_date


@pytest.mark.parametrize(
    ("version", "released"),
    [
        pytest.param("24.04.202610220", date(2026, 10, 22), id="canonical-build"),
        pytest.param("0.20241004.1890", date(2024, 10, 4), id="debian-minor"),
        pytest.param("22.04.202402290", date(2024, 2, 29), id="leap-day"),
        pytest.param("1.0.18", None, id="gallery-semver"),
        pytest.param("1.0.20231301", None, id="month-13"),
        pytest.param("1.0.18991231", None, id="before-2000"),
        pytest.param("26100.2314.241107", None, id="six-digit-dates-are-not-read"),
    ],
)
def test_release_date_is_read_from_an_eight_digit_date(version: str, released: date | None) -> None:
    assert release_date(version) == released


@pytest.mark.parametrize(
    ("target", "newest", "seen", "expected"),
    [
        pytest.param("24.04.202610220", "24.04.202610220", (), Staleness(0, 0.0), id="on-newest"),
        pytest.param("24.04.202609160", "24.04.202610220", (),
                     Staleness(1, 36 * SECONDS_PER_DAY), id="one-release-behind"),
        pytest.param("24.04.202609160", "24.04.202610220",
                     ("24.04.202609160", "24.04.202610010", "24.04.202610010", None),
                     Staleness(2, 36 * SECONDS_PER_DAY), id="versions-seen-in-between"),
        pytest.param("24.04.202609160", "24.04.202610220", ("24.04.202611010", "24.04.202601010"),
                     Staleness(1, 36 * SECONDS_PER_DAY), id="outside-the-range-not-counted"),
        pytest.param("1.0.9", "1.0.18", ("1.0.10",), Staleness(2, None),
                     id="numeric-order-no-dates"),
        pytest.param("24.04.202610220", "24.04.202609160", (), Staleness(0, 0.0),
                     id="pinned-past-latest"),
        pytest.param("24.04.202610220.1", "24.04.202610220", (), None, id="not-a-version"),
        pytest.param(None, "1.0.0", (), None, id="managed-image"),
        pytest.param("1.0.0", None, (), None, id="latest-not-resolved-yet"),
    ],
)  # fmt: skip
def test_staleness(
    target: str | None, newest: str | None, seen: tuple[str | None, ...], expected: Staleness | None
) -> None:
    assert image_staleness(target, newest, seen) == expected
