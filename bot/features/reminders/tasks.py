"""Place tasks: an admin sets the character a recurring task for a server's channel ("post a question of the
day here", every day at 9), and at each of its times the character carries it out there, in character.

A place task is a recurring reminder (database/reminders.py ``task``): the same RRULE read in local wall-clock
time (bot/features/reminders/recurrence.py), the same durable timer delivering each occurrence once across
restarts and processes, the same pause, resume, skip and cancel; only its owner is the server (any of the
bot's admins there manages it with ``/bot tasks``), not the admin who set it, and its zone is the one given
or the character's own (``timezone``). Its text is an instruction for the character, never a text to
echo: the delivery (bot/features/reminders/delivery.py) asks the model to do it, showing it the task's
latest posts so that it says something new each time, and posts through the same gates as anything the
character says unprompted: the place active, the one rule of reach (bot/operator/reach.py) and the spending
limits (bot/operator/limits.py), the bot still allowed to send there. A time that finds a gate shut is
skipped, with one log line. At most ``place_tasks_per_server`` run per server, their times at least
``place_tasks_min_minutes`` apart.
"""

from __future__ import annotations

from datetime import timedelta

from bot.core.i18n import t, tn
from bot.core.localtime import load_zone, typed_zone
from bot.core.text import clip
from bot.features.reminders.book import LATE, ReminderBook, clock_minutes, stamp
from bot.features.reminders.described import describe
from bot.features.reminders.recurrence import (
    Occurrence,
    RuleRefused,
    from_text,
    local_text,
    next_off_loop,
    plan_off_loop,
)
from database.reminders import TIMER, NewReminder, ReminderRow, reminder_key

DAILY = "FREQ=DAILY"
# What the character is asked at each of a task's times (bot/features/reminders/delivery.py).
ASK = ("[{name}, an admin of this server, set you a task for this channel, repeating: what is quoted above. "
       "It is now time. Carry it out, in character, as your own message to the channel, to everyone there "
       "and no one in particular: do what it says, do not repeat or announce its words.{before} Only the "
       "message.]")
BEFORE = (" Your posts for it the last times are quoted too: say something new, never one of those again "
          "nor one close to it.")


def task_line(task: ReminderRow, language: str = "en") -> str:
    """One task as ``/bot tasks list`` shows it."""
    paused = " · **" + t(language, "paused") + "**" if task.paused else ""
    return (f"**#{task.id}** <#{task.channel_id}> · " + t(language, "next {when}", when=stamp(task.due_at))
            + f" · {describe(task.rule, language)} ({task.zone}){paused} · {clip(task.text, 120)}")


class PlaceTasks:
    """Setting, listing and changing a server's place tasks (``/bot tasks``), over the reminders' book."""

    def __init__(self, book: ReminderBook) -> None:
        self.book = book

    async def add(self, guild_id: int, channel_id: int, admin_id: int, admin_name: str, what: str,
                  time: str, repeat: str = "", zone_name: str = "",
                  language: str = "en") -> tuple[str, bool]:
        """A task for the channel, at ``time`` (a time of day: 09:00, 9am) by ``repeat`` (an RRULE, daily
        when empty) in ``zone_name`` (the character's zone when empty); a line for the admin (in
        ``language``; what the rules refuse is said as they say it) and whether the task was set."""
        book = self.book
        settings = book.settings
        instruction = " ".join(what.split())
        if not instruction:
            return t(language, "Not set: say what I should do here, e.g. `post a question of the "
                               "day`."), False
        running = await book.reminders.tasks_of(guild_id)
        if len(running) >= settings.place_tasks_per_server:
            return tn(language, "Not set: this server already has {count} place task, the most it may have "
                                "(`/bot tasks cancel` ends one).",
                      "Not set: this server already has {count} place tasks, the most it may have "
                      "(`/bot tasks cancel` ends one).", len(running)), False
        try:
            zone = load_zone(zone_name or book.zone or "UTC")
        except ValueError:
            return t(language, "Not set: I don't know the time zone `{zone}` (give an IANA one, like "
                               "Europe/Paris or UTC).", zone=typed_zone(zone_name)), False
        minutes = clock_minutes(time)
        if minutes is None:
            return t(language, "Not set: {time} is not a time of day like 09:00 or 9am.",
                     time=repr(clip(time, 40))), False
        now = book.clock()
        here = now.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
        first = here.replace(hour=minutes // 60, minute=minutes % 60)
        try:
            planned = await plan_off_loop(repeat.strip() or DAILY, first, zone,
                                          timedelta(minutes=settings.place_tasks_min_minutes))
            start: Occurrence | None = planned.first
            if planned.first.due < now - LATE:  # today's time has passed: its next one
                start = await next_off_loop(planned.rule, here, zone, anchor=planned.first.local)
        except RuleRefused as refused:
            return t(language, "Not set: {error}.", error=refused.said(language)), False
        if start is None:
            return t(language, "Not set: that rule has no time still to come."), False
        task_id = await book.reminders.add(NewReminder(
            admin_id, admin_name, channel_id, guild_id, False, instruction, start.due, zone.key, planned.rule,
            local_text(start.local), task=True), now)
        await book.timers.at(TIMER, reminder_key(task_id), start.due, {"reminder": task_id})
        return t(language, "Place task #{number} set for {channel}: {rule} at {time} {zone}, first {when}. "
                           "I'll do it in my own words each time: {task}", number=task_id,
                 channel=f"<#{channel_id}>", rule=describe(planned.rule, language),
                 time=f"{start.local:%H:%M}",
                 zone=zone.key, when=stamp(start.due), task=clip(instruction, 200)), True

    async def listed(self, guild_id: int) -> list[ReminderRow]:
        return await self.book.reminders.tasks_of(guild_id)

    async def _task(self, guild_id: int, task_id: int) -> ReminderRow | None:
        row = await self.book.reminders.get(task_id)
        if row is None or not row.task or row.guild_id != guild_id or row.delivered or row.cancelled:
            return None
        return row

    async def pause(self, guild_id: int, task_id: int, paused: bool, language: str = "en") -> str:
        """Pause or resume one of the server's tasks (resumed: from its next time after now)."""
        book = self.book
        if not await book.reminders.pause(0, task_id, paused, book.clock(), guild_id=guild_id):
            if paused:
                return t(language, "This server has no running place task #{number}: nothing changed.",
                         number=task_id)
            return t(language, "This server has no paused place task #{number}: nothing changed.",
                     number=task_id)
        if paused:
            return t(language, "Paused place task #{number}; `/bot tasks resume` starts it again.",
                     number=task_id)
        row = await self._task(guild_id, task_id)
        upcoming = None if row is None else await book.upcoming(row, book.clock())
        if row is None or upcoming is None:
            return t(language, "Place task #{number} has no time still to come.", number=task_id)
        await book.move(row, upcoming)
        return t(language, "Resumed place task #{number}: next {when}.", number=task_id,
                 when=stamp(upcoming.due))

    async def skip(self, guild_id: int, task_id: int, language: str = "en") -> str:
        """Skip the next time of one of the server's tasks."""
        row = await self._task(guild_id, task_id)
        if row is None:
            return t(language, "This server has no place task #{number}: nothing was skipped.",
                     number=task_id)
        if row.paused:
            return t(language, "Place task #{number} is paused: `/bot tasks resume` first.", number=task_id)
        zone = load_zone(row.zone or "UTC")
        local = from_text(row.local_at) or row.due_at.astimezone(zone).replace(tzinfo=None)
        after = await next_off_loop(row.rule, local, zone)
        if after is None:
            return t(language, "Place task #{number} has no later time: `/bot tasks cancel` ends it.",
                     number=task_id)
        if not await self.book.move(row, after):
            return t(language, "Place task #{number} was just done or changed: look at `/bot tasks list` "
                               "again.", number=task_id)
        return t(language, "Skipped place task #{number} on {when}; next {next}.", number=task_id,
                 when=stamp(row.due_at), next=stamp(after.due))

    async def cancel(self, guild_id: int, task_id: int, language: str = "en") -> str:
        """End one of the server's tasks (its timer finds it cancelled)."""
        if await self.book.reminders.cancel(0, task_id, self.book.clock(), guild_id=guild_id):
            return t(language, "Cancelled place task #{number}.", number=task_id)
        return t(language, "This server has no place task #{number}: nothing was cancelled.",
                 number=task_id)
