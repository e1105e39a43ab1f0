"""Service hours: opening windows per weekday in a local time zone, parsed once from the
configuration; whether the channel is open at an instant, when it next opens, and the day's
windows in words."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidServiceConfig

# Monday first, as datetime.weekday(); the configuration's and the settings' day names.
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW_RE: Final = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*$")
_OFFSET_RE: Final = re.compile(r"^(?:UTC)?([+-])(\d{2}):?(\d{2})$")


@dataclass(frozen=True)
class ServiceHours:
    """Opening windows per weekday (Monday first) as minutes of the local day, end exclusive.

    Windows do not cross midnight: a night service is two windows on two days.
    """

    zone: tzinfo
    weekly: tuple[tuple[tuple[int, int], ...], ...]

    @classmethod
    def every_day(cls, opens: str, closes: str, zone: tzinfo) -> ServiceHours:
        window = _parse_window(f"{opens}-{closes}", "every_day")
        return cls(zone, tuple((window,) for _ in WEEKDAYS))

    @classmethod
    def from_config(cls, raw: object) -> ServiceHours:
        """``{"timezone": "Asia/Shanghai", "default": "07:00-19:00", "sat": [], "sun":
        ["09:00-12:00", "13:00-17:00"]}``; a weekday without an entry gets ``default``, a
        configuration without ``default`` is closed on the days it does not name."""
        if not isinstance(raw, Mapping):
            raise InvalidServiceConfig("service hours must be an object", path="hours")
        unknown = set(raw) - {"timezone", "default", *WEEKDAYS}
        if unknown:
            raise InvalidServiceConfig(
                f"unknown keys in service hours: {', '.join(sorted(map(str, unknown)))}",
                path="hours",
            )
        zone = _parse_zone(raw.get("timezone"))
        default = _parse_windows(raw.get("default", []), "hours.default")
        weekly = tuple(
            _parse_windows(raw[day], f"hours.{day}") if day in raw else default for day in WEEKDAYS
        )
        return cls(zone, weekly)

    def is_open(self, at: datetime) -> bool:
        local = _local(at, self.zone)
        second = local.hour * 3600 + local.minute * 60 + local.second
        return any(start * 60 <= second < end * 60 for start, end in self.weekly[local.weekday()])

    def next_opening(self, at: datetime) -> datetime | None:
        """``at`` itself when open, else the start of the next window (``None``: never)."""
        if self.is_open(at):
            return at
        local = _local(at, self.zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            for start, _end in self.weekly[day.weekday()]:
                opening = datetime.combine(day, _clock(start), tzinfo=self.zone)
                if opening > local:
                    return opening
        return None

    def describe(self, at: datetime) -> str:
        """The windows of ``at``'s local day, for messages ("07:00–19:00", "closed")."""
        windows = self.weekly[_local(at, self.zone).weekday()]
        if not windows:
            return "closed"
        return ", ".join(f"{_hhmm(start)}–{_hhmm(end)}" for start, end in windows)


def _local(at: datetime, zone: tzinfo) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("times must be timezone-aware")
    return at.astimezone(zone)


def _clock(minute: int) -> time:
    return time(minute // 60, minute % 60)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _parse_zone(raw: object) -> tzinfo:
    if not isinstance(raw, str) or not raw:
        raise InvalidServiceConfig(
            "service hours need a timezone, e.g. Asia/Shanghai or +08:00", path="hours.timezone"
        )
    # A fixed offset works without a time-zone database (and China has no daylight saving).
    offset = _OFFSET_RE.match(raw)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        hours, minutes = int(offset.group(2)), int(offset.group(3))
        if hours > 14 or minutes >= 60:
            raise InvalidServiceConfig(f"bad UTC offset {raw!r}", path="hours.timezone")
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidServiceConfig(f"unknown time zone {raw!r}", path="hours.timezone") from None


def _parse_windows(raw: object, path: str) -> tuple[tuple[int, int], ...]:
    items: Sequence[object]
    if isinstance(raw, str):
        items = [raw]
    elif isinstance(raw, list):
        items = raw
    else:
        raise InvalidServiceConfig(
            'opening hours must be "HH:MM-HH:MM" or a list of them', path=path
        )
    windows = sorted(_parse_window(item, f"{path}[{i}]") for i, item in enumerate(items))
    for (_s1, end1), (start2, _e2) in itertools.pairwise(windows):
        if start2 < end1:
            raise InvalidServiceConfig("opening windows overlap", path=path)
    return tuple(windows)


def _parse_window(raw: object, path: str) -> tuple[int, int]:
    match = _WINDOW_RE.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise InvalidServiceConfig(f'expected "HH:MM-HH:MM", got {raw!r}', path=path)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 >= 60 or m2 >= 60 or start >= 24 * 60 or end > 24 * 60:
        raise InvalidServiceConfig(f"no such time of day in {raw!r}", path=path)
    if end <= start:
        raise InvalidServiceConfig(
            f"{raw!r} ends before it starts; split a night service at midnight", path=path
        )
    return start, end
