"""The character's local time: the ``timezone`` setting, ``quiet_hours``, and the injectable clock that
every scheduled behaviour (proactive talk, check-ins, the emotion model's rhythm) reads.

A leaf module (nothing of Kindred imported), so the configuration can validate with it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Clock = Callable[[], datetime]  # aware UTC datetimes; tests inject their own to fast-forward


def utc_now() -> datetime:
    return datetime.now(UTC)


DISCORD_EPOCH_MS = 1_420_070_400_000  # 2015-01-01


def snowflake_time(snowflake: int) -> datetime:
    """When a Discord id was made (a message's id holds the time it was sent)."""
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


_HOURS = re.compile(r"\s*(\d{1,2})\s*-\s*(\d{1,2})\s*")


def parse_quiet_hours(text: str) -> tuple[int, int] | None:
    """``"23-7"`` as (23, 7): from 23:00 up to 07:00 local time; ``""`` as None (no quiet hours).
    Raises ValueError with a one-line reason for anything else."""
    if not text.strip():
        return None
    match = _HOURS.fullmatch(text)
    if match is None:
        raise ValueError(f"expected two whole hours like 23-7, got {text!r}")
    start, end = int(match.group(1)), int(match.group(2))
    if not (0 <= start <= 23 and 0 <= end <= 23):
        raise ValueError(f"hours must be between 0 and 23, got {text!r}")
    if start == end:
        raise ValueError(f"start and end are the same hour, got {text!r}")
    return start, end


def machine_zone() -> ZoneInfo:
    """The machine's own time zone: ``TZ`` when it names one, else the zone /etc/localtime links to (or
    /etc/timezone names); UTC when none of those says (a container without zone data, say)."""
    names = [os.environ.get("TZ", "").lstrip(":")]
    try:
        names.append(str(Path("/etc/localtime").resolve()).partition("/zoneinfo/")[2])
    except OSError:
        pass
    try:
        names.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    for name in names:
        if name and not name.startswith("/"):
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def load_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (empty: the machine's own, :func:`machine_zone`); ValueError with a
    one-line reason when there is no such zone (English, for the configuration's check: a person is told in
    their language by the caller, which quotes :func:`typed_zone`)."""
    if not name.strip():
        return machine_zone()
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"not a known IANA time zone (like Europe/Paris or UTC): {name!r}") from None


def typed_zone(name: str) -> str:
    """A zone name someone typed, fit to quote in a line that refuses it: trimmed, at most 60 characters, no
    backticks (the line quotes it in code)."""
    return name.strip().replace("`", "")[:60]


def hour_in(hour: float, start: int, end: int) -> bool:
    """Whether ``hour`` (local, fractional) lies in [start, end), the span wrapping past midnight."""
    return start <= hour < end if start < end else hour >= start or hour < end


@dataclass(frozen=True)
class LocalTime:
    """Where the character lives in time: its zone and quiet hours."""

    zone: ZoneInfo
    quiet: tuple[int, int] | None = None

    @classmethod
    def of(cls, timezone: str, quiet_hours: str) -> LocalTime:
        return cls(load_zone(timezone), parse_quiet_hours(quiet_hours))

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.zone)

    def hour(self, when: datetime) -> float:
        """The local hour of the day as a fraction (14.5 is half past two in the afternoon)."""
        local = self.local(when)
        return local.hour + local.minute / 60 + local.second / 3600

    def hour_at(self, timestamp: float) -> float:
        """hour() of a POSIX timestamp (the emotion model integrates in those)."""
        local = datetime.fromtimestamp(timestamp, self.zone)
        return local.hour + local.minute / 60 + local.second / 3600

    def is_quiet(self, when: datetime) -> bool:
        return self.quiet is not None and hour_in(self.hour(when), *self.quiet)
