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

from bot.core.localtime import load_zone
from bot.core.text import clip
from bot.features.reminders.book import LATE, ReminderBook, clock_minutes, stamp
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


def task_line(task: ReminderRow) -> str:
    """One task as ``/bot tasks list`` shows it."""
    paused = " · **paused**" if task.paused else ""
    return (f"**#{task.id}** <#{task.channel_id}> · next {stamp(task.due_at)} · `{task.rule}` "
            f"({task.zone}){paused} · {clip(task.text, 120)}")


class PlaceTasks:
    """Setting, listing and changing a server's place tasks (``/bot tasks``), over the reminders' book."""

    def __init__(self, book: ReminderBook) -> None:
        self.book = book

    async def add(self, guild_id: int, channel_id: int, admin_id: int, admin_name: str, what: str,
                  time: str, repeat: str = "", zone_name: str = "") -> str:
        """A task for the channel, at ``time`` (a time of day: 09:00, 9am) by ``repeat`` (an RRULE, daily
        when empty) in ``zone_name`` (the character's zone when empty); a line for the admin."""
        book = self.book
        settings = book.settings
        instruction = " ".join(what.split())
        if not instruction:
            return "Not set: say what I should do here, e.g. `post a question of the day`."
        running = await book.reminders.tasks_of(guild_id)
        if len(running) >= settings.place_tasks_per_server:
            return (f"Not set: this server already has {len(running)} place tasks, the most it may have "
                    "(`/bot tasks cancel` ends one).")
        try:
            zone = load_zone(zone_name or book.zone or "UTC")
        except ValueError as error:
            return f"Not set: {error}."
        minutes = clock_minutes(time)
        if minutes is None:
            return f"Not set: {clip(time, 40)!r} is not a time of day like 09:00 or 9am."
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
            return f"Not set: {refused}."
        if start is None:
            return "Not set: that rule has no time still to come."
        task_id = await book.reminders.add(NewReminder(
            admin_id, admin_name, channel_id, guild_id, False, instruction, start.due, zone.key, planned.rule,
            local_text(start.local), task=True), now)
        await book.timers.at(TIMER, reminder_key(task_id), start.due, {"reminder": task_id})
        return (f"Place task #{task_id} set for <#{channel_id}>: `{planned.rule}` at {start.local:%H:%M} "
                f"{zone.key}, first {stamp(start.due)}. I'll do it in my own words each time: "
                f"{clip(instruction, 200)}")

    async def listed(self, guild_id: int) -> list[ReminderRow]:
        return await self.book.reminders.tasks_of(guild_id)

    async def _task(self, guild_id: int, task_id: int) -> ReminderRow | None:
        row = await self.book.reminders.get(task_id)
        if row is None or not row.task or row.guild_id != guild_id or row.delivered or row.cancelled:
            return None
        return row

    async def pause(self, guild_id: int, task_id: int, paused: bool) -> str:
        """Pause or resume one of the server's tasks (resumed: from its next time after now)."""
        book = self.book
        if not await book.reminders.pause(0, task_id, paused, book.clock(), guild_id=guild_id):
            state = "running" if paused else "paused"
            return f"This server has no {state} place task #{task_id}: nothing changed."
        if paused:
            return f"Paused place task #{task_id}; `/bot tasks resume` starts it again."
        row = await self._task(guild_id, task_id)
        upcoming = None if row is None else await book.upcoming(row, book.clock())
        if row is None or upcoming is None:
            return f"Place task #{task_id} has no time still to come."
        await book.move(row, upcoming)
        return f"Resumed place task #{task_id}: next {stamp(upcoming.due)}."

    async def skip(self, guild_id: int, task_id: int) -> str:
        """Skip the next time of one of the server's tasks."""
        row = await self._task(guild_id, task_id)
        if row is None:
            return f"This server has no place task #{task_id}: nothing was skipped."
        if row.paused:
            return f"Place task #{task_id} is paused: `/bot tasks resume` first."
        zone = load_zone(row.zone or "UTC")
        local = from_text(row.local_at) or row.due_at.astimezone(zone).replace(tzinfo=None)
        after = await next_off_loop(row.rule, local, zone)
        if after is None:
            return f"Place task #{task_id} has no later time: `/bot tasks cancel` ends it."
        if not await self.book.move(row, after):
            return f"Place task #{task_id} was just done or changed: look at `/bot tasks list` again."
        return f"Skipped place task #{task_id} on {stamp(row.due_at)}; next {stamp(after.due)}."

    async def cancel(self, guild_id: int, task_id: int) -> str:
        """End one of the server's tasks (its timer finds it cancelled)."""
        if await self.book.reminders.cancel(0, task_id, self.book.clock(), guild_id=guild_id):
            return f"Cancelled place task #{task_id}."
        return f"This server has no place task #{task_id}: nothing was cancelled."
