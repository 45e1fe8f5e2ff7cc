"""A recurring reminder's rule: an RFC 5545 RRULE ("FREQ=WEEKLY;BYDAY=FR"), read by python-dateutil's
``rrulestr`` in the person's local wall-clock time, each occurrence then converted with their IANA zone. So
18:00 stays 18:00 local across a daylight-saving change: the instant moves, the wall clock does not. A local
time the clocks skip is read with the offset before the gap (RFC 5545: 01:30 on the spring-forward night is
02:30 summer time), one they pass twice as its first.

The next occurrence is read from the one before it (its local wall-clock time kept beside the instant), so
working it out costs one step of the rule however old the reminder is, and never looks further than
``HORIZON`` ahead: a rule that names an impossible date ends instead of searching the calendar for ever
(and an hourly or minutely rule may not name dates at all: dateutil would step through every minute). A
rule that never matches makes dateutil search up to the year 9999 all the same (its UNTIL is only checked
against a match), so rules are worked out in a worker thread, never on the event loop, and a new rule that
takes longer than ``THINKING`` is refused.
``COUNT`` is turned into the ``UNTIL`` of its last occurrence when the reminder is set, for the same reason.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import HOURLY, MINUTELY, SECONDLY, rrule, rrulestr

from bot.core.i18n import N_, Explained, t, tn

HORIZON = timedelta(days=366)  # the next occurrence is at most this far after the one before
CHECKED = 200  # occurrences compared for the minimum gap when a rule is set
MAX_RULE_CHARS = 300  # as the column holds it
MAX_COUNT = 1000
THINKING = 2.0  # seconds a new rule may take to check
COUNTED = timedelta(days=5 * 366)  # how far a rule's COUNT is followed when it is set


class RuleRefused(Explained):
    """A rule that cannot be kept as given: ``str()`` says why in English, in one line, for the character
    (with the parser's own words, ``detail``, where it gave some); :meth:`said` says it in a person's
    language (an admin's ``/bot tasks add``), a span among its values in that language's minutes."""

    def __init__(self, message: str, /, *, detail: str = "", **values: object) -> None:
        super().__init__(message, **values)
        english = self.said("en")
        self.args = (f"{english} ({detail})" if detail else english,)

    def said(self, language: str | None) -> str:
        return t(language, self.msgid, **{key: _minutes(value, language) if isinstance(value, timedelta)
                                           else value for key, value in self.values.items()})


@dataclass(frozen=True)
class Occurrence:
    """A reminder's time, a one-off or one occurrence of a rule: its instant (UTC) and the local wall-clock
    time it stands for."""

    due: datetime
    local: datetime


def _parse(rule: str, start: datetime) -> rrule:
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text or "\n" in text or len(text) > MAX_RULE_CHARS:
        raise RuleRefused(N_("repeat must be one RRULE of at most {limit} characters, e.g. "
                             "FREQ=WEEKLY;BYDAY=FR"), limit=MAX_RULE_CHARS)
    try:
        # ignoretz: an UNTIL is read as local wall-clock time, as everything else in the rule
        parsed = rrulestr(text, dtstart=start, ignoretz=True)
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise RuleRefused(N_("repeat {rule} is not a valid RRULE"), rule=repr(text),
                          detail=str(error)) from None
    if not isinstance(parsed, rrule):
        raise RuleRefused(N_("repeat takes one RRULE, not a set of rules"))
    return parsed


def _text(parsed: rrule) -> str:
    """The rule as stored: its RRULE line without DTSTART (the occurrence it is read from is kept apart)."""
    lines = [line for line in str(parsed).splitlines() if not line.startswith("DTSTART")]
    return lines[0].removeprefix("RRULE:") if lines else ""


def to_instant(local: datetime, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as an instant: fold 0, which takes a skipped time at the offset before the
    gap and a doubled one as its first."""
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def next_after(rule: str, local: datetime, zone: ZoneInfo, *, inclusive: bool = False,
               anchor: datetime | None = None) -> Occurrence | None:
    """The occurrence of ``rule`` after the local wall-clock time ``local`` (itself when ``inclusive`` and it
    is one), within ``HORIZON``; None when the rule has ended (its UNTIL passed) or has none so soon. The rule
    is read from ``anchor``, one of its occurrences (``local`` itself when not given): the time of day, the
    weekday and the phase of an INTERVAL that the rule leaves unsaid are the anchor's."""
    parsed = _bounded(_parse(rule, anchor or local), local + HORIZON)
    found = _first_between(parsed, local, local + HORIZON, inclusive)
    return None if found is None else Occurrence(to_instant(found, zone), found)


def _bounded(parsed: rrule, end: datetime) -> rrule:
    """The rule ending by ``end`` at the latest: its iteration stops there whatever it names."""
    until = parsed._until  # noqa: SLF001 (dateutil keeps its parts private)
    if parsed._count is not None:  # noqa: SLF001
        return parsed.replace(count=None, until=end) if until is None else parsed
    return parsed.replace(until=end if until is None else min(until, end))


def _first_between(parsed: rrule, start: datetime, end: datetime, inclusive: bool) -> datetime | None:
    for when in parsed:
        if not isinstance(when, datetime) or when > end:
            return None
        if when > start or (inclusive and when == start):
            return when
    return None


@dataclass(frozen=True)
class Plan:
    """A rule accepted: its stored text and its first occurrence."""

    rule: str
    first: Occurrence


def plan(rule: str, first_local: datetime, zone: ZoneInfo, min_gap: timedelta) -> Plan:
    """Check ``rule`` read from ``first_local`` (the first occurrence the person meant, local): occurrences at
    least ``min_gap`` apart, at most a year apart, and one at all. ``COUNT`` becomes the ``UNTIL`` of its
    last occurrence. Raises :class:`RuleRefused` with the reason."""
    parsed = _parse(rule, first_local)
    if parsed._freq == SECONDLY:  # noqa: SLF001 (dateutil keeps its parts private)
        raise RuleRefused(N_("that repeats every few seconds: occurrences must be at least {minimum} apart"),
                          minimum=min_gap)
    narrowed = [part for part in ("bymonth", "bymonthday", "byyearday", "byweekno", "bynmonthday")
                if getattr(parsed, f"_{part}")]
    if parsed._freq in (HOURLY, MINUTELY) and narrowed:  # noqa: SLF001
        # dateutil would step through every minute of the calendar to find such dates: a daily or
        # slower rule with BYHOUR and BYMINUTE says the same
        raise RuleRefused(N_("an HOURLY or MINUTELY rule may not name months or days of the month or year; "
                             "use FREQ=DAILY with BYHOUR and BYMINUTE"))
    count = parsed._count  # noqa: SLF001
    if count is not None:
        if count > MAX_COUNT:
            raise RuleRefused(N_("COUNT may be at most {limit}"), limit=MAX_COUNT)
        last = None
        for n, when in enumerate(_bounded(parsed, first_local + COUNTED), 1):
            last = when
            if n >= count:
                break
        if last is None:
            raise RuleRefused(N_("that rule has no occurrence"))
        parsed = parsed.replace(count=None, until=last)
    seen: list[datetime] = []
    for when in _bounded(parsed, first_local + COUNTED):
        if seen and when - seen[-1] > HORIZON:
            break
        if not seen and when - first_local > HORIZON:
            break
        seen.append(when)
        if len(seen) >= CHECKED:
            break
    if not seen:
        raise RuleRefused(N_("that rule has no occurrence within a year of its start"))
    gaps = [b - a for a, b in zip(seen, seen[1:], strict=False)]
    if gaps and min(gaps) < min_gap:
        raise RuleRefused(N_("occurrences {gap} apart are too close: at least {minimum} apart"),
                          gap=min(gaps), minimum=min_gap)
    text = _text(parsed)
    first = seen[0]
    return Plan(text, Occurrence(to_instant(first, zone), first))


def _minutes(span: timedelta, language: str | None) -> str:
    return tn(language, "{count} minute", "{count} minutes", round(span.total_seconds() / 60))


def local_text(local: datetime) -> str:
    """A naive local wall-clock time as stored (``YYYY-MM-DDTHH:MM:SS``)."""
    return local.replace(microsecond=0).isoformat()


def from_text(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


async def plan_off_loop(rule: str, first_local: datetime, zone: ZoneInfo, min_gap: timedelta) -> Plan:
    """:func:`plan` in a worker thread, refused when it takes longer than ``THINKING`` (the thread then
    finishes on its own)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(plan, rule, first_local, zone, min_gap), THINKING)
    except TimeoutError:
        raise RuleRefused(N_("that rule has no occurrence soon enough to find")) from None


async def next_off_loop(rule: str, local: datetime, zone: ZoneInfo,
                        anchor: datetime | None = None) -> Occurrence | None:
    """:func:`next_after` in a worker thread."""
    return await asyncio.to_thread(lambda: next_after(rule, local, zone, anchor=anchor))


@dataclass(frozen=True)
class Due:
    """Where a recurring reminder stands at a time: the latest occurrence due by then, how many earlier
    ones went by undelivered (the bot was down), and the next one to come (None: the rule ended)."""

    latest: Occurrence
    passed: int
    next: Occurrence | None


CAUGHT = 10_000  # occurrences stepped over at most, in one look (a month of a five-minute rule)


def due_by(rule: str, current: Occurrence, zone: ZoneInfo, now: datetime) -> Due:
    """From ``current`` (the occurrence a timer fired for) on: the latest due by ``now`` and the next."""
    latest, passed = current, 0
    following = next_after(rule, current.local, zone)
    while following is not None and following.due <= now and passed < CAUGHT:
        latest, passed = following, passed + 1
        following = next_after(rule, following.local, zone)
    return Due(latest, passed, following)


async def due_off_loop(rule: str, current: Occurrence, zone: ZoneInfo, now: datetime) -> Due:
    """:func:`due_by` in a worker thread."""
    return await asyncio.to_thread(due_by, rule, current, zone, now)
