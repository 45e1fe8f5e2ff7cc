"""Reminders: "remind me Friday at 6 to call mum" becomes a durable reminder, delivered in character at the
person's local time, in the place it was asked (bot/features/reminders/delivery.py delivers it).

The model never does time arithmetic: the ``set_reminder`` tool takes the person's local wall-clock time as
they said it (ISO 8601 without an offset) or a number of minutes from now, and Kindred converts the local
time with the person's IANA zone (``/timezone``). A local time the clocks skip (a spring-forward gap) or
pass twice (the autumn fold) is refused and its result says so, for the character to ask back, never
guessed. Without a zone only a relative time is taken; ``suggest_timezone`` lets the character propose a
zone from what the person said ("it's 9pm here"), which ``/timezone`` then offers them first to confirm.

Offered in DMs (``reminders_in_dms``) and in servers' channels where an admin switched them on (``/bot
reminders``; the ``reminders`` setting is the default), at most ``reminders_max_open`` waiting and
``reminders_per_day`` set in 24 hours per person.

A reminder may repeat: ``repeat`` is an RFC 5545 RRULE, read in the person's zone from its first local time
(bot/features/reminders/recurrence.py); at most ``reminders_recurring_max`` run per person and
``reminders_recurring_per_server`` per server, their occurrences at least ``reminders_recurring_min_minutes``
apart, checked when it is set. ``/reminders`` pauses, resumes, skips the next occurrence of and cancels one.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from bot.core.i18n import N_, t
from bot.core.locales import spoken
from bot.core.localtime import Clock, load_zone, utc_now
from bot.core.models.tools import Lent, ToolOutput, client_tool
from bot.core.numbers import date_time
from bot.core.stages import Incoming
from bot.core.text import clean_name
from bot.core.timers import Timers
from bot.features.reminders.config import ReminderSettings
from bot.features.reminders.recurrence import (
    Occurrence,
    RuleRefused,
    from_text,
    local_text,
    next_off_loop,
    plan_off_loop,
    to_instant,
)
from bot.operator.registration import PlaceSwitch, Switch
from database.boundary import JsonObject
from database.privacy import Privacy
from database.reminders import TIMER, NewReminder, ReminderRow, Reminders, reminder_key
from database.threads import Threads
from memory.threads import close_served

# the place switch (/bot reminders on|off); in a DM the reminders_in_dms setting decides
ASKED = Switch("reminders", "Let people ask me for reminders here (or not).",
               N_("people can ask me to remind them of something here"),
               section=ReminderSettings, key="reminders")
# How the character speaks of the tools (their family's sentence in the system prompt, ``Lent.voice``).
VOICE = (
    "You can set reminders for people here (set_reminder) and note their time zone when they say where "
    "they live (suggest_timezone), when they ask; tell them what you did, or what you need from them, "
    "in your own words, as a favour you do them."
)
FURTHEST = timedelta(days=366)  # a reminder further away than this is refused
NAMELESS = "the person"  # who asks, in the tools' results to the model, when the bot knows no name for them
LATE = timedelta(minutes=1)  # a local time this far in the past is refused (a minute's slack: "now")
FORGOTTEN = "not set: they asked to be forgotten (/forget_me) since this message came"
CLOSE_ENOUGH = timedelta(minutes=20)  # a stated local time matches a proposed zone within this
PROPOSALS_KEPT = 1024  # proposed zones waiting for their person's /timezone (oldest out)
# A local date and time as the tool takes it, with an offset only to choose one of an ambiguous time's two.
_LOCAL = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?([+-]\d{2}:\d{2}|Z)?")
_CLOCK = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*([ap]\.?m\.?)?", re.IGNORECASE)

SET_REMINDER = client_tool(
    "set_reminder",
    "Set a reminder for the person you are answering, delivered to them here at the time they want. Give "
    "either local_time (their local wall-clock date and time as they mean it, ISO 8601 without an offset, "
    "e.g. 2026-11-27T18:00; work the date out from <now>) or in_minutes (for \"in 20 minutes\"), the other "
    "null. Never convert between time zones yourself. The result says when it is set for (confirm it to them "
    "in your own words; its Discord timestamp shows each reader their own time), or why not: then ask them "
    "what you need (where they live when their time zone is unknown, then suggest_timezone, or have them "
    "run /timezone; which of a time the clocks pass twice they mean). For a reminder that repeats (\"every "
    "weekday at 8\", \"every other Friday\", \"on the 1st of each month\") give repeat, an RFC 5545 RRULE "
    "without DTSTART (FREQ=WEEKLY;BYDAY=FR, FREQ=WEEKLY;INTERVAL=2;BYDAY=FR, FREQ=MONTHLY;BYMONTHDAY=1), "
    "with local_time its first time (its time of day is every occurrence's); else repeat null.",
    {"text": {"type": "string", "description": "What to remind them of, in a few words."},
     "local_time": {"type": ["string", "null"]},
     "in_minutes": {"type": ["integer", "null"]},
     "repeat": {"type": ["string", "null"]}},
    ("text", "local_time", "in_minutes", "repeat"))
SUGGEST_TIMEZONE = client_tool(
    "suggest_timezone",
    "Propose the IANA time zone the person you are answering lives in, when what they said tells you (their "
    "city, or \"it's 9pm here\": give that local time too, 24-hour HH:MM). It is not set until they "
    "confirm with /timezone (which then offers it first); ask them to. When the result says it is not their "
    "zone, ask them where they are.",
    {"zone": {"type": "string", "description": "An IANA name, e.g. Europe/London"},
     "their_local_time": {"type": ["string", "null"]}},
    ("zone", "their_local_time"))


class TimeRefused(ValueError):
    """A local time that cannot be converted as given; the message says why, for the character to ask."""


def local_to_utc(text: str, zone: ZoneInfo) -> Occurrence:
    """``text`` (``YYYY-MM-DDTHH:MM``, local to ``zone``) as an instant. A time the clocks skip or pass twice
    raises :class:`TimeRefused`; an offset after it chooses one of an ambiguous time's two (and must be one
    of them)."""
    match = _LOCAL.fullmatch(text.strip())
    if match is None:
        raise TimeRefused(f"{text!r} is not a local date and time like 2026-11-27T18:00")
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    try:
        wall = datetime(year, month, day, hour, minute)
    except ValueError as error:
        raise TimeRefused(f"{text!r} is not a real date and time ({error})") from None
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    shown = f"{wall:%Y-%m-%d %H:%M}"
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        raise TimeRefused(f"{shown} does not exist in {zone.key}: the clocks skip it (daylight saving time "
                          "starts)")
    offset = match.group(7)
    if first.utcoffset() != second.utcoffset():
        options = {_offset(first): first, _offset(second): second}
        if offset in options:
            chosen = options[offset]
            return Occurrence(chosen.astimezone(UTC), chosen)
        earlier, later = options
        raise TimeRefused(f"{shown} happens twice in {zone.key} (the clocks go back): the first "
                          f"({first.tzname()}) or the second ({second.tzname()}), as local_time with its "
                          f"offset: {shown[11:]}{earlier} or {shown[11:]}{later}")
    if offset is not None and offset != _offset(first):
        raise TimeRefused(f"local_time takes no offset: their time zone ({zone.key}) is known")
    return Occurrence(first.astimezone(UTC), first)


def _offset(when: datetime) -> str:
    seconds = int((when.utcoffset() or timedelta()).total_seconds())
    sign = "-" if seconds < 0 else "+"
    return f"{sign}{abs(seconds) // 3600:02d}:{abs(seconds) % 3600 // 60:02d}"


def clock_minutes(text: str) -> int | None:
    """``"21:00"``, ``"9pm"``, ``"9:30 am"`` as minutes after midnight; None when it is no time of day."""
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        return None
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), (match.group(3) or "").lower()
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.startswith("p") else 0)
    return hour * 60 + minute if hour < 24 and minute < 60 else None


def stamp(when: datetime) -> str:
    """A time as Discord shows it to each reader in their own zone: the date and time, and how far off."""
    unix = int(when.timestamp())
    return f"<t:{unix}:F> (<t:{unix}:R>)"


def local_time(when: datetime, zone_name: str, language: str | None) -> str:
    """``when`` in the zone ``zone_name`` (UTC when empty or unknown) as ``language`` writes a date and a time
    (Babel's medium date and short time: "27.11.2026, 18:00", "2026/11/27 18:00", "Nov 27, 2026, 6:00 PM"),
    where a line cannot hold a Discord timestamp (an autocomplete's choice)."""
    try:
        zone = load_zone(zone_name or "UTC")
    except ValueError:
        zone = ZoneInfo("UTC")
    local = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(zone)
    return date_time(local, spoken(language))


class ReminderBook:
    """Setting, listing and cancelling reminders (the tools' and the commands' one place), and the zones
    proposed from what people said."""

    def __init__(self, settings: ReminderSettings, reminders: Reminders, asked: PlaceSwitch,
                 timers: Timers, *, clock: Clock = utc_now, threads: Threads | None = None,
                 privacy: Privacy | None = None, zone: str = "") -> None:
        """``privacy``: a reminder set while a reply is written is a write about its person, as the exchange's
        storing is (database/privacy.py ``writing_about``; None: unguarded, for tests of the book alone).
        ``zone``: the character's time zone (``timezone``), a place task's where its server set none."""
        self.settings = settings  # the feature's section, following reloads
        self.privacy = privacy
        self.zone = zone
        self.reminders = reminders
        self.threads = threads  # the open threads a cancelled reminder stood for close with it
        self.asked = asked  # the /bot reminders switch (a DM: the reminders_in_dms setting instead)
        self.timers = timers
        self.clock = clock
        self._proposed: OrderedDict[int, str] = OrderedDict()  # user id -> a zone waiting for /timezone

    async def __call__(self, msg: Incoming) -> Sequence[Lent]:
        """The tools lent to ``msg``'s reply (bot/core/stages.py ``ReplyTools``): none for another bot,
        nor where reminders are off."""
        if msg.author_is_bot or msg.webhook_id is not None:
            return ()
        on = self.settings.reminders_in_dms if msg.is_dm else await self.asked.on(msg.place)
        if not on:
            return ()
        return (Lent(SET_REMINDER, SetReminder(self, msg), voice=VOICE),
                Lent(SUGGEST_TIMEZONE, SuggestTimezone(self, msg), voice=VOICE))

    async def set(self, msg: Incoming, text: str, local_time: str | None,
                  in_minutes: int | None, repeat: str | None = None) -> ToolOutput:
        """A reminder for ``msg``'s author in ``msg``'s place, or the reason why not (for the model)."""
        name = clean_name(msg.author_name) or NAMELESS
        what = " ".join(text.split())
        if not what:
            return ToolOutput("not set: no text of what to remind them of", error=True)
        now = self.clock()
        waiting, made = await self.reminders.counts(msg.author_id, now - timedelta(days=1))
        if waiting >= self.settings.reminders_max_open:
            return ToolOutput(f"not set: {name} already has {waiting} reminders waiting, the most one may "
                              "have (/reminders cancels one)", error=True)
        if made >= self.settings.reminders_per_day:
            return ToolOutput(f"not set: {name} has set {made} reminders in the last 24 hours, the most "
                              "allowed (more may be set tomorrow)", error=True)
        zone = ""
        if (local_time is None) == (in_minutes is None):
            return ToolOutput("not set: it takes either local_time or in_minutes (the other null)",
                              error=True)
        if repeat is not None and repeat.strip():
            return await self._set_recurring(msg, what, local_time, in_minutes, repeat, now)
        if in_minutes is not None:
            if in_minutes < 1:
                return ToolOutput("in_minutes must be at least 1", error=True)
            due = now + timedelta(minutes=min(in_minutes, int(FURTHEST / timedelta(minutes=1)) + 1))
        else:
            zone = await self.reminders.zone_of(msg.author_id)
            if not zone:
                return ToolOutput(f"not set: {name}'s time zone is unknown, so a local time cannot be "
                                  "converted (a relative time, in_minutes, needs no zone)", error=True)
            try:
                due = local_to_utc(str(local_time), load_zone(zone)).due
            except (TimeRefused, ValueError) as refused:
                return ToolOutput(str(refused), error=True)
            if due < now - LATE:
                return ToolOutput(f"not set: {local_time} in {zone} has already passed", error=True)
        if due > now + FURTHEST:
            return ToolOutput("that is more than a year away: too far for a reminder", error=True)
        reminder_id = await self._add(msg, NewReminder(
            msg.author_id, msg.author_name, msg.channel_id, msg.guild_id, msg.is_dm, what, due, zone), now)
        if reminder_id is None:
            return ToolOutput(FORGOTTEN, error=True)
        local = f"{due.astimezone(load_zone(zone)):%A %d %B %Y, %H:%M} {zone}" if zone else \
            f"in {humane(due - now)}"
        where = "in this DM" if msg.is_dm else "in this channel"
        return ToolOutput(f"Reminder #{reminder_id} set for {local} ({due:%Y-%m-%d %H:%M} UTC), delivered "
                          f"{where}; as a Discord timestamp: {stamp(due)}.")

    async def _add(self, msg: Incoming, reminder: NewReminder, now: datetime) -> int | None:
        """``reminder`` written and its timer armed (its id); None when its person ran /forget_me since
        ``msg`` came. A forget that begins meanwhile waits for it, then deletes it with the rest."""
        privacy = self.privacy
        guard = (privacy.writing_about(msg.author_id, privacy.mark_of(msg.message_id)) if privacy is not None
                 else contextlib.nullcontext(True))
        async with guard as allowed:
            if not allowed:
                return None
            reminder_id = await self.reminders.add(reminder, now)
            await self.timers.at(TIMER, reminder_key(reminder_id), reminder.due_at, {"reminder": reminder_id})
            return reminder_id

    async def _set_recurring(self, msg: Incoming, what: str, local_time: str | None, in_minutes: int | None,
                             repeat: str, now: datetime) -> ToolOutput:
        """A recurring reminder, read in the person's zone from its first local time, or why not."""
        name = clean_name(msg.author_name) or NAMELESS
        settings = self.settings
        theirs, server = await self.reminders.recurring_counts(msg.author_id, None if msg.is_dm
                                                               else msg.guild_id)
        if theirs >= settings.reminders_recurring_max:
            return ToolOutput(f"not set: {name} already has {theirs} recurring reminders, the most one may "
                              "have (/reminders cancels one)", error=True)
        if server >= settings.reminders_recurring_per_server:
            return ToolOutput(f"not set: this server already has {server} recurring reminders, the most it "
                              "may have", error=True)
        zone_name = await self.reminders.zone_of(msg.author_id)
        if not zone_name:
            return ToolOutput(f"not set: {name}'s time zone is unknown, and a repeating reminder keeps to "
                              "their local time", error=True)
        zone = load_zone(zone_name)
        here = now.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
        if in_minutes is not None:
            first = here + timedelta(minutes=max(1, in_minutes))
        else:
            match = _LOCAL.fullmatch(str(local_time or "").strip())
            if match is None:
                return ToolOutput(f"not set: {local_time!r} is not a local date and time like "
                                  "2026-11-27T18:00", error=True)
            try:
                year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
                first = datetime(year, month, day, hour, minute)
            except ValueError as error:
                return ToolOutput(f"not set: {local_time!r} is not a real date and time ({error})",
                                  error=True)
        if first > here + FURTHEST:
            return ToolOutput("not set: its first time is more than a year away", error=True)
        try:
            planned = await plan_off_loop(repeat, first, zone,
                                          timedelta(minutes=settings.reminders_recurring_min_minutes))
            start: Occurrence | None = planned.first
            if planned.first.due < now - LATE:  # its first time has passed: the next one to come
                start = await next_off_loop(planned.rule, here, zone, anchor=planned.first.local)
        except RuleRefused as refused:
            return ToolOutput(f"not set: {refused}", error=True)
        if start is None:
            return ToolOutput("not set: that rule has no occurrence still to come", error=True)
        reminder_id = await self._add(msg, NewReminder(
            msg.author_id, msg.author_name, msg.channel_id, msg.guild_id, msg.is_dm, what, start.due,
            zone.key, planned.rule, local_text(start.local)), now)
        if reminder_id is None:
            return ToolOutput(FORGOTTEN, error=True)
        coming = [start]
        while len(coming) < 3 and (after := await next_off_loop(planned.rule, coming[-1].local, zone)):
            coming.append(after)
        where = "in this DM" if msg.is_dm else "in this channel"
        return ToolOutput(f"Recurring reminder #{reminder_id} set ({planned.rule} in {zone.key}), delivered "
                          f"{where}; its next times: " + "; ".join(
                              f"{c.local:%A %d %B %Y, %H:%M} ({stamp(c.due)})" for c in coming) + ".")

    async def pause(self, user_id: int, reminder_id: int, paused: bool, language: str = "en") -> str:
        """Pause or resume one of the person's recurring reminders: what happened, in a line for them (in
        ``language``). A paused one's timer finds it paused and goes; resuming it arms the next occurrence
        after now."""
        now, number = self.clock(), reminder_id
        if not await self.reminders.pause(user_id, reminder_id, paused, now):
            return (t(language, "You have no running recurring reminder #{number}: nothing changed.",
                      number=number) if paused else
                    t(language, "You have no paused recurring reminder #{number}: nothing changed.",
                      number=number))
        if paused:
            return t(language, "Paused reminder #{number}; `/reminders resume:{number}` starts it again.",
                     number=number)
        row = await self.reminders.get(reminder_id)
        upcoming = None if row is None else await self.upcoming(row, now)
        if row is None or upcoming is None:
            return t(language, "Reminder #{number} has no time still to come.", number=number)
        await self.move(row, upcoming)
        return t(language, "Resumed reminder #{number}: next {next}.", number=number,
                 next=stamp(upcoming.due))

    async def skip(self, user_id: int, reminder_id: int, language: str = "en") -> str:
        """Skip the next occurrence of one of the person's recurring reminders: a line for them (in
        ``language``)."""
        row, number = await self.reminders.get(reminder_id), reminder_id
        if row is None or row.user_id != user_id or row.task or row.delivered or row.cancelled:
            return t(language, "You have no reminder #{number} waiting: nothing was skipped.", number=number)
        if not row.rule:
            return t(language, "Reminder #{number} happens only once: `/reminders cancel:{number}` cancels "
                               "it.", number=number)
        if row.paused:
            return t(language, "Reminder #{number} is paused: `/reminders resume:{number}` first.",
                     number=number)
        zone, local = load_zone(row.zone or "UTC"), from_text(row.local_at)
        after = await next_off_loop(row.rule, local, zone) if local is not None else None
        if after is None:
            return t(language, "Reminder #{number} has no later time: `/reminders cancel:{number}` ends "
                               "it.", number=number)
        if not await self.move(row, after):
            return t(language, "Reminder #{number} was just delivered or changed: look at `/reminders` "
                               "again.", number=number)
        return t(language, "Skipped reminder #{number} on {day}; next {next}.", number=number,
                 day=stamp(row.due_at), next=stamp(after.due))

    async def upcoming(self, row: ReminderRow, now: datetime) -> Occurrence | None:
        """A recurring reminder's first occurrence from now on (its own time when still to come)."""
        zone, local = load_zone(row.zone or "UTC"), from_text(row.local_at)
        if local is None:
            return None
        if row.due_at >= now:
            return Occurrence(to_instant(local, zone), local)
        here = now.astimezone(zone).replace(tzinfo=None)
        return await next_off_loop(row.rule, here, zone, anchor=local)

    async def move(self, row: ReminderRow, to: Occurrence) -> bool:
        key, payload = reminder_key(row.id), {"reminder": row.id}
        if not await self.reminders.advance(row.id, row.due_at, to.due, local_text(to.local), key, payload):
            return False
        await self.timers.at(TIMER, key, to.due, payload)  # the loop woken when it comes sooner
        return True

    def propose(self, msg: Incoming, zone_name: str, their_local_time: str | None) -> ToolOutput:
        """A zone proposed from what the person said, kept for ``/timezone`` to offer them first."""
        try:
            zone = load_zone(zone_name) if zone_name.strip() else None
        except ValueError as error:
            return ToolOutput(str(error), error=True)
        if zone is None:
            return ToolOutput("name an IANA time zone, e.g. Europe/London", error=True)
        there = self.clock().astimezone(zone)
        if their_local_time:
            said = clock_minutes(their_local_time)
            if said is None:
                return ToolOutput(f"{their_local_time!r} is not a time of day like 21:00", error=True)
            apart = abs(there.hour * 60 + there.minute - said)
            if timedelta(minutes=min(apart, 24 * 60 - apart)) > CLOSE_ENOUGH:
                return ToolOutput(f"it is {there:%H:%M} in {zone.key} now, not {their_local_time}: that is "
                                  "not their zone", error=True)
        self._proposed[msg.author_id] = zone.key
        self._proposed.move_to_end(msg.author_id)
        while len(self._proposed) > PROPOSALS_KEPT:
            self._proposed.popitem(last=False)
        name = clean_name(msg.author_name) or NAMELESS
        return ToolOutput(f"Proposed {zone.key} (it is {there:%H:%M} there now); not set until {name} "
                          "confirms it with /timezone.")

    def proposed(self, user_id: int) -> str:
        """The zone proposed to this person and not yet confirmed ("" when none)."""
        return self._proposed.get(user_id, "")

    def confirmed(self, user_id: int) -> None:
        self._proposed.pop(user_id, None)

    async def waiting(self, user_id: int) -> list[ReminderRow]:
        return await self.reminders.open_for(user_id)

    async def cancel(self, user_id: int, reminder_id: int) -> bool:
        """Cancel one of the person's waiting reminders (its timer finds it cancelled; it still counts
        towards the day's cap), and the open threads it stood for (memory/threads.py ``served``); whether
        there was one."""
        reminder = await self.reminders.get(reminder_id) if self.threads is not None else None
        if not await self.reminders.cancel(user_id, reminder_id, self.clock()):
            return False
        if self.threads is not None and reminder is not None and reminder.user_id == user_id:
            await close_served(self.threads, user_id, reminder.text, reminder.due_at)
        return True


@functools.cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone this machine knows, sorted (read once: it lists the zone files)."""
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def zone_choices(typed: str, proposed: str = "", limit: int = 25) -> list[str]:
    """IANA names for ``/timezone``'s autocomplete: the one proposed to the person first, then those whose
    city starts with what they typed, then any containing it (``new york`` finds America/New_York)."""
    wanted = typed.strip().casefold().replace(" ", "_")
    names = zone_names()
    city = [z for z in names if z.rsplit("/", 1)[-1].casefold().startswith(wanted)]
    rest = [z for z in names if wanted in z.casefold() and z not in city]
    first = [proposed] if proposed and wanted in proposed.casefold() else []
    return list(dict.fromkeys([*first, *city, *rest]))[:limit]


def humane(span: timedelta) -> str:
    minutes = max(1, round(span.total_seconds() / 60))
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = minutes / 60
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.0f} days"


class SetReminder:
    """``set_reminder`` for one message's reply."""

    name = "set_reminder"

    def __init__(self, book: ReminderBook, msg: Incoming) -> None:
        self.book, self.msg = book, msg

    async def run(self, arguments: JsonObject) -> ToolOutput:
        text, local, minutes = arguments.get("text"), arguments.get("local_time"), arguments.get("in_minutes")
        repeat = arguments.get("repeat")
        return await self.book.set(self.msg, str(text or ""), str(local) if local is not None else None,
                                   minutes if isinstance(minutes, int) and not isinstance(minutes, bool)
                                   else None, str(repeat) if repeat else None)


class SuggestTimezone:
    """``suggest_timezone`` for one message's reply."""

    name = "suggest_timezone"

    def __init__(self, book: ReminderBook, msg: Incoming) -> None:
        self.book, self.msg = book, msg

    async def run(self, arguments: JsonObject) -> ToolOutput:
        said = arguments.get("their_local_time")
        return self.book.propose(self.msg, str(arguments.get("zone") or ""), str(said) if said else None)
