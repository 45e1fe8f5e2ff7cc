"""Proactive talk: now and then the character speaks first in a channel where it is on (``/bot proactive
on|off|default [scope]``, or a server's ``/settings proactive``: one setting), a comment on the talk there or
a passing thought, in character and only where the one rule lets it speak.

* :mod:`.rounds`: the round run every ``proactive_interval_minutes`` over the channels the Discord side
  offers (``ProactiveRound``: whether each speaks, and what it says).
* :class:`ProactiveTalk`: what the tests and the log channel's ``status`` read of it: its round, made once
  the character's initiative is.
* Its settings: its own section (:mod:`.config` ``ProactiveSettings``), and the alive section's
  ``quiet_hours``; its switch's default is
  ``proactive_talk``. In a cluster each process runs the round of its own shards' channels (its key names
  them). Tests: tests/test_alive_proactive.py.

Its registration (bot/operator/registration.py): ``FEATURE`` below.
"""

from __future__ import annotations

from datetime import timedelta

from bot.core.i18n import N_, t
from bot.core.numbers import date_time, number
from bot.core.timers import Recurring
from bot.features.proactive.config import ProactiveSettings
from bot.features.proactive.rounds import ProactiveRound
from bot.operator.registration import Contribution, Feature, Parts, PlaceSwitch, Running, Switch
from database.timers import TimerRows


class ProactiveTalk:
    """The feature's running part: its round's key (one per shard set in a cluster) and the round, made
    with the character's initiative (which is built after the features)."""

    def __init__(self, settings: ProactiveSettings, rows: TimerRows, character: str, shards: str,
                 switched_on: PlaceSwitch) -> None:
        self.settings = settings
        self.switched_on = switched_on
        self.rows = rows
        self.key = f"proactive:{character}" + (f":shards {shards}" if shards else "")
        self._round: ProactiveRound | None = None

    @property
    def round(self) -> ProactiveRound:
        if self._round is None:
            raise LookupError("the proactive round is made with the character's initiative")
        return self._round

    def recurring(self, running: Running) -> tuple[Recurring, ...]:
        side = running.side
        # what it says to a whole server goes by the day's mood and the place's own room, never by the
        # character-wide feeling that anyone's DMs move
        self._round = ProactiveRound(running.speaker, running.time, places=side.places,
                                     outlet_for=side.outlet_for, place_of=side.place_of,
                                     status=running.status, feeling=running.room,
                                     mirror=running.mirror, switched_on=self.switched_on)
        return (Recurring(self.key, timedelta(minutes=self.settings.proactive_interval_minutes),
                          self._round.run),)

    async def status_lines(self, language: str | None = None) -> str:
        """The log channel's ``status`` line, in ``language``: its default, pace and the round's next run
        (the last round's result as it was kept)."""
        row = await self.rows.get(self.key)
        rounds = (t(language, "next round {due} UTC, last: {last}", due=date_time(row.due, language),
                    last=row.last_result or t(language, "none yet")) if row else t(language, "no round yet"))
        s = self.settings
        return t(language, "Proactive talk") + ": " + t(
            language, "default {state} · every {minutes} min · chance {chance} · {rounds}",
            state=t(language, "on") if s.proactive_talk else t(language, "off"),
            minutes=number(s.proactive_interval_minutes, language),
            chance=number(s.proactive_chance, language), rounds=rounds)


# /bot proactive and /settings proactive set one setting (database/servers.py)
SPOKEN = Switch("proactive", "Let me speak first now and then here (or not).",
                N_("I speak first now and then (when it has been quiet a while)"),
                section=ProactiveSettings, key="proactive_talk")


def build(parts: Parts) -> Contribution:
    talk = ProactiveTalk(parts.holder.follow(ProactiveSettings), parts.store.timers, parts.character,
                         parts.shards, parts.switch(SPOKEN))
    return Contribution(parts=(talk,), recurring=talk.recurring, status_lines=(talk.status_lines,))


FEATURE = Feature(
    name="proactive", settings=ProactiveSettings,
    switches=(SPOKEN,),
    unprompted=frozenset({"proactive"}),
    build=build)
