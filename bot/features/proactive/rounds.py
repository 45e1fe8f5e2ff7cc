"""Proactive engagement: every ``proactive_interval_minutes`` each channel where proactive talk is on gets
one ``proactive_chance`` roll to speak first (a recurring round of the durable timers, bot/core/timers.py).

A channel is skipped when the place is deactivated, when the last message there is the character's own,
when it has been silent longer than ``proactive_max_silence_hours`` (no talking into an empty room) or
busy in the last minute (no talking over people), and during ``quiet_hours``. When it speaks, it is half
the time a comment on the channel's recent messages, half the time a thought that expands its current
status; either way in character, in the day's mood and the channel's own room (what was said there, never
what one person stirred elsewhere), through the typing and splitting path of a reply. Its message comes back
from Discord like any of its messages and is logged, so it is in the next reply's channel context: people
can answer it and the conversation goes on. A Claude failure posts nothing (never the fallback line into a
quiet channel); every decision is mirrored to the log channel in verbose mode. Before a word is written, the
one rule (bot/operator/reach.py) gives its permit for the channel: the place active, the server's and the
bot's spend caps not reached; what it costs is that server's.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.alive.initiative import Venue, initiative_prompt, place_incoming, self_portrait, speak, split
from bot.alive.speaker import Speaker
from bot.alive.style import place_line
from bot.core.claude import ClaudeUnavailable
from bot.core.i18n import N_
from bot.core.lines import Figure, Line
from bot.core.localtime import LocalTime
from bot.core.persona.macros import Moment
from bot.core.persona.register import in_place
from bot.core.place import Place
from bot.core.reach import Permit, Refusal, Way, Where
from bot.core.stages import Outlet
from bot.core.text import clean_name
from bot.features.proactive.config import ProactiveSettings
from bot.operator.registration import PlaceSwitch
from bot.reply.prompting import channel_chat
from database.boundary import JsonObject
from database.records import SeenMessage
from database.visibility import Audience, line_origin, may_enter

log = logging.getLogger(__name__)

BUSY = timedelta(minutes=1)
RECENT = 15  # channel messages read (and shown to Claude for a comment)


class Roller(Protocol):
    def random(self) -> float: ...


@dataclass(frozen=True)
class Verdict:
    place: Venue
    speak: bool
    reason: Line  # the round's own wording, rendered where it is read (a model's error its value)
    kind: str = ""  # comment | thought, when it spoke

    def describe(self) -> str:
        return self.line().english()

    def line(self) -> Line:
        """The verdict for the log channel, its reason rendered in the same language."""
        if not self.speak:
            return Line(N_("Proactive round · {place}: stayed quiet ({reason})"), place=self.place.label,
                        reason=self.reason)
        if self.kind == "comment":
            return Line(N_("Proactive round · {place}: spoke (comment) ({reason})"), place=self.place.label,
                        reason=self.reason)
        return Line(N_("Proactive round · {place}: spoke (thought) ({reason})"), place=self.place.label,
                    reason=self.reason)


def judge(now: datetime, recent: Sequence[SeenMessage], own_ids: Collection[int], *, active: bool,
          max_silence: timedelta, chance: float, roll: Callable[[], float]) -> tuple[bool, Line]:
    """Whether to speak in one channel, and why (``roll`` is drawn only when every check passed)."""
    if not active:
        return False, Line(N_("deactivated here"))
    if not recent:
        return False, Line(N_("no messages seen here"))
    last = max(recent, key=lambda m: m.message_id)
    if last.author_id in own_ids:
        return False, Line(N_("the last message is mine"))
    silent = now - last.created_at
    if silent > max_silence:
        return False, Line(N_("silent for {hours} h, longer than {most} h"),
                           hours=Figure(silent.total_seconds() / 3600, 1),
                           most=Figure(max_silence.total_seconds() / 3600))
    if silent < BUSY:
        return False, Line(N_("busy: someone spoke in the last minute"))
    drawn = roll()
    if drawn >= chance:
        return False, Line(N_("roll {drawn} missed the chance {chance}"), drawn=Figure(drawn, 2),
                           chance=Figure(chance))
    return True, Line(N_("roll {drawn} within the chance {chance}"), drawn=Figure(drawn, 2),
                      chance=Figure(chance))


COMMENT = ("Nobody asked you anything: you decide to speak up on your own. Write one short message "
           "commenting on the recent conversation above, as you naturally would, in character. Do not greet "
           "everyone or announce yourself; just say it.")
THOUGHT = ("Nobody asked you anything: you decide to speak up on your own. Your status currently reads: "
           "\u201c{status}\u201d. Share one short passing thought that expands on it, in character, as if "
           "thinking aloud to the channel.")
THOUGHT_NO_STATUS = ("Nobody asked you anything: you decide to speak up on your own. Share one short passing "
                     "thought about what you are up to, in character, as if thinking aloud to the channel.")


class ProactiveRound:
    """One round over every channel offered by ``places`` (the Discord side knows which exist)."""

    def __init__(self, speaker: Speaker, time: LocalTime, *, places: Callable[[], Sequence[Venue]],
                 outlet_for: Callable[[Venue, Permit], Outlet],
                 place_of: Callable[[int, int | None], Place], status: Callable[[], Awaitable[str]],
                 feeling: Callable[[int], Awaitable[str]], mirror: Callable[[Line], None],
                 switched_on: PlaceSwitch, rng: Roller | None = None) -> None:
        """``switched_on``: the /bot proactive switch (the places it may speak first in)."""
        self.speaker = speaker
        self.switched_on = switched_on
        self.time = time
        self.places = places
        self.outlet_for = outlet_for
        self.place_of = place_of  # what a channel is, derived as every reply's place (bot/discord/places.py)
        self.status = status
        self.feeling = feeling  # how a channel feels, from what was said there
        self.mirror = mirror
        self.rng: Roller = rng or random.Random()
        self.last: list[Verdict] = []  # the latest round's decisions (admins, tests)

    async def run(self, now: datetime) -> str:
        settings, store = self.speaker.settings, self.speaker.store
        own = settings.section(ProactiveSettings)
        if self.time.is_quiet(now):
            where = f"{settings.alive.quiet_hours}, {self.time.zone.key}"
            self.mirror(Line(N_("Proactive round skipped: quiet hours ({where})."), where=where))
            self.last = []
            return "quiet hours"
        verdicts: list[Verdict] = []
        for place in self.places():
            # /bot proactive and /settings proactive set one setting (database/servers.py)
            on = await self.switched_on.at(place.channel_id, place.guild_id)
            if not on:
                continue
            active = await store.places.is_active(place.channel_id, place.guild_id)
            here = Audience.place(private=False, guild=place.guild_id, channel=place.channel_id)
            recent = [m for m in await store.log.recent_messages(place.channel_id, limit=RECENT)
                      if may_enter(line_origin(m), here)]  # the place's own lines (database/visibility.py)
            go, reason = judge(now, recent, self.speaker.own_author_ids, active=active,
                               max_silence=timedelta(hours=own.proactive_max_silence_hours),
                               chance=own.proactive_chance, roll=self.rng.random)
            kind = ""
            if go:
                kind = "comment" if self.rng.random() < 0.5 else "thought"
                failure = await self.speak(place, kind, recent, now)
                if failure is not None:
                    go, reason = False, failure
            verdict = Verdict(place, go, reason, kind if go else "")
            verdicts.append(verdict)
            log.info("%s", verdict.describe())
            self.mirror(verdict.line())
        self.last = verdicts
        spoke = sum(v.speak for v in verdicts)
        return f"spoke in {spoke} of {len(verdicts)} channel(s)"

    async def speak(self, place: Venue, kind: str, recent: Sequence[SeenMessage],
                    now: datetime) -> Line | None:
        """Say something in ``place``; returns why nothing was posted (None when it spoke)."""
        speaker, settings = self.speaker, self.speaker.settings
        permit = await speaker.reach.permit(Way.PROACTIVE, None, Where(place.guild_id, place.channel_id))
        if isinstance(permit, Refusal):
            return Line(N_("{reason}; nothing posted"), reason=permit.reason)
        here = place_incoming(self.place_of(place.channel_id, place.guild_id), now)
        persona = in_place(speaker.persona, here.age_restricted)  # a mature one's register for the place
        portrait = await self_portrait(speaker.store.identity, speaker.store.state, speaker.character_key)
        # Channel and server names are text people chose: cleaned as every prompt shows names.
        server = f" on the server {clean_name(place.guild_name)}" if place.guild_name else ""
        moment = Moment(self.time.local(now))
        chat: list[JsonObject] = []
        header = ""
        if kind == "comment":
            # the channel's lines as a reply's request shows them: each person's quoted, with its time and
            # whom it replies to; its own lines its turns
            lines = [m for m in recent if m.content and not m.content.isspace()]
            chat = channel_chat(f"{clean_name(place.label)}{server}", lines, speaker.own_author_ids,
                                persona.name, moment.now.tzinfo)
            header = chat[0]["content"][0]["text"]
            context = f"[{COMMENT}]"
        else:
            status = await self.status()
            ask = THOUGHT.format(status=status) if status else THOUGHT_NO_STATUS
            context = f"[Where: {clean_name(place.label)}{server}]\n\n[{ask}]"
        # the server's language, as a reply's; else the one its people write in
        people = [m.content for m in recent if m.author_id not in speaker.own_author_ids]
        if hint := await speaker.language(place.guild_id) or place_line(people):
            context = f"{context}\n\n{hint}"
        request = initiative_prompt(persona, portrait, context, feeling=await self.feeling(place.channel_id),
                                    moment=moment, chat=chat, where=header)
        try:
            said = await speaker.line(request, user_id=None, guild_id=place.guild_id, purpose="proactive")
        except ClaudeUnavailable as exc:
            log.warning("proactive message in %s skipped: Claude failed (%s)", place.label, exc)
            # the error's own words, as they are
            return Line(N_("Claude failed ({error}); nothing posted"), error=str(exc))
        if not said:
            return Line(N_("Claude answered nothing; nothing posted"))
        parts = split(settings.discord, speaker.finish_text(here, said))
        await speak(settings.typing, self.outlet_for(place, permit), parts)
        return None
