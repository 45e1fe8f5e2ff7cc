"""Check-ins: someone who ran ``/checkin on`` and has gone silent gets one DM asking how they are, in
character, at a sensible local hour; never a second before they have answered.

* :mod:`.rounds`: the round run every hour for the whole cluster (``CheckInRound``: who is due, what is
  written to them) and what ``/checkin on|off`` changes (``CheckInChoice``).
* ``build`` below: its round, made once the character's initiative is, run by the timer loop (one key for
  the cluster: a check-in reaches anyone by DM, so the round's claim lets one process run it).
* Its slash commands: cogs/checkins.py; its rows: database/checkins.py; its settings: its own section
  (:mod:`.config` ``CheckinSettings``), and the alive section's ``timezone`` and ``quiet_hours``. Tests:
  tests/test_alive_feelings.py, tests/test_reach_ways.py.

Its registration (bot/operator/registration.py): ``FEATURE`` below.
"""

from __future__ import annotations

from collections.abc import Awaitable

from bot.core.timers import Recurring
from bot.features.checkins.config import CheckinSettings
from bot.features.checkins.rounds import INTERVAL, CheckInChoice, CheckInRound
from bot.operator.registration import Contribution, Feature, Parts, Running
from database.checkins import forget_person


def build(parts: Parts) -> Contribution:
    key = f"checkins:{parts.character}"

    def recurring(running: Running) -> tuple[Recurring, ...]:
        def toward(user_id: int, name: str, mood: str) -> Awaitable[str]:
            return running.feeling(user_id, name, mood, None)  # in their DM: all of it

        checkins = CheckInRound(running.speaker, running.time, feeling=toward, open_dm=running.side.open_dm,
                                remembers=running.remembers, mirror=running.mirror)
        return (Recurring(key, INTERVAL, checkins.run),)

    return Contribution(parts=(CheckInChoice(parts.store.checkins),), recurring=recurring)


FEATURE = Feature(
    name="checkins", settings=CheckinSettings, cogs=("cogs.checkins",), forget=forget_person,
    unprompted=frozenset({"checkin"}),  # a check-in DM
    build=build)
