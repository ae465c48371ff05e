"""Maintenance windows: when a rollout may start a new batch.

Teams that patch fleets do it at agreed hours, so `updatePolicy.maintenanceWindows` restricts
when vmroll disrupts VMs (scaling and repairs are not held back). The format is deliberately
smaller than cron or RFC 5545, one window per string, always in UTC:

    "<days> <HH:MM> <duration>"

    days      `*` (every day), a day `Sat`, a range `Mon-Fri`, or a list `Sat,Sun` / `Mon-Wed,Fri`
              (three-letter English names; a range wraps: `Fri-Mon` is Fri, Sat, Sun, Mon)
    HH:MM     the UTC time the window opens on each of those days
    duration  `90m`, `3h`, `1h30m`; more than 0 and at most 7 days (`168h`)

A window may run past midnight: `Sat 22:00 4h` is open from Saturday 22:00 to Sunday 02:00, and
belongs to Saturday. It is open at its start instant and closed at its end instant. No windows at
all means "always open".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MAX_DURATION = timedelta(days=7)
_TEXT = re.compile(r"(?P<days>\S+)\s+(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})\s+(?P<duration>\S+)")
_DURATION = re.compile(r"(?:(?P<hours>[0-9]+)h)?(?:(?P<minutes>[0-9]+)m)?")


@dataclass(frozen=True)
class MaintenanceWindow:
    """Open for `duration` from `start` (UTC) on each weekday in `weekdays` (0 = Monday)."""

    weekdays: frozenset[int]
    start: time
    duration: timedelta

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError(f"weekdays must be a non-empty subset of 0..6, got {self.weekdays}")
        if not timedelta(0) < self.duration <= _MAX_DURATION:
            raise ValueError(f"duration must be more than 0 and at most 7 days: {self.duration}")

    def openings_around(self, now: datetime) -> Iterable[datetime]:
        """Start instants of this window from 7 days before `now` to 7 days after."""
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in range(-7, 8):
            day = midnight + timedelta(days=offset)
            if day.weekday() in self.weekdays:
                yield day.replace(hour=self.start.hour, minute=self.start.minute)

    def contains(self, now: datetime) -> bool:
        return any(
            start <= now < start + self.duration for start in self.openings_around(_utc(now))
        )


def parse_window(text: str) -> MaintenanceWindow:
    """Parse `"<days> <HH:MM> <duration>"`; ValueError says which part is wrong."""
    match = _TEXT.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"maintenance window must read '<days> <HH:MM> <duration>', got {text!r}")
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise ValueError(f"maintenance window start must be a time from 00:00 to 23:59: {text!r}")
    return MaintenanceWindow(
        weekdays=_parse_days(match["days"]),
        start=time(hour, minute),
        duration=_parse_duration(match["duration"]),
    )


def in_maintenance_window(windows: Iterable[MaintenanceWindow], now: datetime) -> bool:
    """True when `now` is inside any window, or when there are no windows at all."""
    windows = tuple(windows)
    return not windows or any(window.contains(now) for window in windows)


def next_window_opening(windows: Iterable[MaintenanceWindow], now: datetime) -> datetime | None:
    """The first window start strictly after `now` (for requeueing), None without windows."""
    upcoming = [
        start
        for window in windows
        for start in window.openings_around(_utc(now))
        if start > _utc(now)
    ]
    return min(upcoming, default=None)


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _parse_days(text: str) -> frozenset[int]:
    if text == "*":
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        start = _day_index(first, text)
        end = _day_index(last, text) if last else start
        days.update((start + step) % 7 for step in range((end - start) % 7 + 1))
    return frozenset(days)


def _day_index(name: str, text: str) -> int:
    if name not in _DAY_NAMES:
        raise ValueError(
            f"maintenance window days must be '*' or names among {', '.join(_DAY_NAMES)}, "
            f"got {name!r} in {text!r}"
        )
    return _DAY_NAMES.index(name)


def _parse_duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text)
    if match is None or not text:
        raise ValueError(
            f"maintenance window duration must read like '90m', '3h' or '1h30m': {text!r}"
        )
    duration = timedelta(hours=int(match["hours"] or 0), minutes=int(match["minutes"] or 0))
    if not timedelta(0) < duration <= _MAX_DURATION:
        raise ValueError(
            f"maintenance window duration must be more than 0 and at most 168h: {text!r}"
        )
    return duration
