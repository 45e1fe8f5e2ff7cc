"""Reminders: a person asks the character, in a reply, to remind them of something at a time; it is
delivered in character where it was asked, at that time, once, across restarts and the cluster's
processes.

* :mod:`.book`: the ``set_reminder`` and ``suggest_timezone`` tools lent to a reply (bot/core/stages.py
  ``ReplyTools``), in DMs and where a place switched them on, and what /reminders and /timezone read and
  change (``ReminderBook``). A reminder set by a reply's tool is a write about its person: none after
  their /forget_me since the message came, and one that begins meanwhile waits for it
  (database/privacy.py ``writing_about``).
* :mod:`.recurrence`: a recurring reminder's RFC 5545 RRULE, read in the person's local time with
  python-dateutil (its next occurrence, the caps checked when it is set).
* :mod:`.delivery`: a due reminder's ``reminder`` timer (bot/core/timers.py), said in character
  (``ReminderDelivery``), and a place task's time carried out in its channel.
* :mod:`.tasks`: place tasks, recurring reminders an admin sets for a channel whose text is an instruction
  for the character ("post a question of the day"), managed with ``/bot tasks`` (``PlaceTasks``).
* Its slash commands: cogs/reminders.py (thin Discord glue over the book); its rows: database/reminders.py;
  its settings: its own section (:mod:`.config` ``ReminderSettings``); what it is for people:
  docs/features.md.
  Tests: tests/test_reminders.py, tests/test_reminders_recurring.py, tests/test_place_tasks.py.

Its registration (bot/operator/registration.py): ``FEATURE`` below.
"""

from __future__ import annotations

from bot.features.reminders.book import ASKED, ReminderBook
from bot.features.reminders.config import ReminderSettings
from bot.features.reminders.delivery import ReminderDelivery
from bot.features.reminders.tasks import PlaceTasks
from bot.operator.registration import Contribution, Feature, Parts, Running, TimerHandler
from database.reminders import TIMER, forget_person


def build(parts: Parts) -> Contribution:
    book = ReminderBook(parts.holder.follow(ReminderSettings), parts.store.reminders, parts.switch(ASKED),
                        parts.timers, threads=parts.store.threads, privacy=parts.store.privacy,
                        zone=parts.holder.current.alive.timezone)  # restart-only: read once

    def timers(running: Running) -> dict[str, TimerHandler]:
        delivery = ReminderDelivery(running.speaker, running.side, running.time, running.place_lock,
                                    parts.switch(ASKED), mirror=running.mirror, feeling=running.feeling)
        return {TIMER: delivery.deliver}

    # a zone proposed and not yet confirmed is forgotten with the person
    return Contribution(tools=(book,), parts=(book, PlaceTasks(book)), forget_held=(book.confirmed,),
                        timers=timers)


FEATURE = Feature(
    name="reminders", settings=ReminderSettings,
    switches=(ASKED,),
    cogs=("cogs.reminders", "cogs.place_tasks"), forget=forget_person,
    unprompted=frozenset({"reminder", "task"}),  # a reminder said in character, a place task's time
    build=build)
