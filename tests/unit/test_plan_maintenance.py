"""Maintenance windows: `<days> <HH:MM> <duration>` in UTC, possibly past midnight."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from vmroll.plan.maintenance import (
    MaintenanceWindow,
    in_maintenance_window,
    next_window_opening,
    parse_window,
)

# 2026-01-03 is a Saturday.
SAT = datetime(2026, 1, 3, tzinfo=UTC)


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return SAT + timedelta(days=day_offset, hours=hour, minutes=minute)


@pytest.mark.parametrize(
    ("text", "weekdays", "start", "duration"),
    [
        pytest.param("* 02:00 1h", set(range(7)), time(2), timedelta(hours=1), id="every-day"),
        pytest.param("Sat 22:00 4h", {5}, time(22), timedelta(hours=4), id="one-day"),
        pytest.param(
            "Mon-Fri 01:30 90m", {0, 1, 2, 3, 4}, time(1, 30), timedelta(minutes=90), id="range"
        ),
        pytest.param(
            "Fri-Mon 00:00 1h30m", {4, 5, 6, 0}, time(0), timedelta(minutes=90), id="wrapping-range"
        ),
        pytest.param(
            "Sat,Sun 23:59 168h", {5, 6}, time(23, 59), timedelta(days=7), id="list-max-duration"
        ),
        pytest.param(
            "Mon-Tue,Thu 12:00 5m", {0, 1, 3}, time(12), timedelta(minutes=5), id="range-and-day"
        ),
    ],
)
def test_parse(text: str, weekdays: set[int], start: time, duration: timedelta) -> None:
    assert parse_window(text) == MaintenanceWindow(frozenset(weekdays), start, duration)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("Sat 22:00", "must read", id="missing-duration"),
        pytest.param("Sat 24:00 1h", "00:00 to 23:59", id="hour-out-of-range"),
        pytest.param("Sat 2:00 1h", "must read", id="one-digit-hour"),
        pytest.param("Caturday 02:00 1h", "days must be", id="unknown-day"),
        pytest.param("sat 02:00 1h", "days must be", id="lowercase-day"),
        pytest.param("Sat 02:00 0h", "more than 0", id="zero-duration"),
        pytest.param("Sat 02:00 169h", "at most 168h", id="too-long"),
        pytest.param("Sat 02:00 1d", "like '90m'", id="days-unit"),
        pytest.param("Sat 02:00 h", "like '90m'", id="unit-without-number"),
    ],
)
def test_parse_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_window(text)


@pytest.mark.parametrize(
    ("windows", "now", "inside"),
    [
        pytest.param([], at(0, 12), True, id="no-windows-always-open"),
        pytest.param(["Sat 22:00 4h"], at(0, 22), True, id="at-start-instant"),
        pytest.param(["Sat 22:00 4h"], at(0, 21, 59), False, id="just-before"),
        pytest.param(["Sat 22:00 4h"], at(1, 1, 59), True, id="past-midnight-next-day"),
        pytest.param(["Sat 22:00 4h"], at(1, 2), False, id="end-instant-closed"),
        pytest.param(["Sun 22:00 4h"], at(2, 1), True, id="sunday-window-into-monday"),
        pytest.param(["Mon-Fri 01:00 1h"], at(0, 1, 30), False, id="weekend-excluded"),
        pytest.param(["Mon-Fri 01:00 1h"], at(2, 1, 30), True, id="monday"),
        pytest.param(["Sat 00:00 168h"], at(6, 23, 59), True, id="week-long"),
        pytest.param(["Tue 03:00 1h", "Sat 12:00 1h"], at(0, 12, 30), True, id="second-window"),
    ],
)
def test_in_maintenance_window(windows: list[str], now: datetime, inside: bool) -> None:
    assert in_maintenance_window([parse_window(w) for w in windows], now) is inside


def test_other_timezones_are_converted_to_utc() -> None:
    window = parse_window("Sat 22:00 1h")
    plus_two = timezone(timedelta(hours=2))
    assert in_maintenance_window([window], datetime(2026, 1, 4, 0, 30, tzinfo=plus_two))
    assert not in_maintenance_window([window], datetime(2026, 1, 3, 22, 30, tzinfo=plus_two))


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        in_maintenance_window([parse_window("* 00:00 1h")], datetime(2026, 1, 3))


@pytest.mark.parametrize(
    ("windows", "now", "expected"),
    [
        pytest.param([], at(0, 0), None, id="no-windows"),
        pytest.param(["Sat 22:00 4h"], at(0, 12), at(0, 22), id="later-today"),
        pytest.param(["Sat 22:00 4h"], at(0, 22), at(7, 22), id="strictly-after"),
        pytest.param(["Mon 01:00 1h", "Sun 05:00 1h"], at(0, 23), at(1, 5), id="earliest-of-two"),
    ],
)
def test_next_window_opening(windows: list[str], now: datetime, expected: datetime | None) -> None:
    assert next_window_opening([parse_window(w) for w in windows], now) == expected


@pytest.mark.parametrize(
    ("weekdays", "duration"),
    [
        pytest.param(frozenset(), timedelta(hours=1), id="no-days"),
        pytest.param(frozenset({7}), timedelta(hours=1), id="day-out-of-range"),
        pytest.param(frozenset({1}), timedelta(0), id="zero-duration"),
    ],
)
def test_window_validates(weekdays: frozenset[int], duration: timedelta) -> None:
    with pytest.raises(ValueError, match="must be"):
        MaintenanceWindow(weekdays, time(0), duration)
