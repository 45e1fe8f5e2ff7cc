"""A character's feelings at run time, at two levels:

* toward each person and in each channel (bot/alive/regard.py), read from the database at each exchange
  (database/feelings.py): a person's messages move only the character's feeling toward that person, what
  is said in a channel moves only that channel's mood, so one hostile person in a channel leaves everyone
  else's DMs as they were. Each reply is told one state line (:func:`bot.alive.regard.state_line`): the
  recent feeling toward the person leads, how the character has come to feel about them over the days
  (the relationship, memory/relationships.py) tempers it, in the same sentence; the room, the day's mood
  and, where the card keeps a daily rhythm, the night in the character's own time zone only colour it.
* the character as a whole: the hormone model (bot/alive/emotions.py), kept in memory and persisted in
  global state (``emotions.<character>``, visible in /state) after each exchange, so a restart keeps it; it
  is what /status and the log channel show (loneliness builds there). It is moved by everyone, DMs
  included, so what the character says to a whole server (its custom status, speaking first) never goes
  by it: those go by the day's mood and the place's own room (bot/alive/status.py,
  bot/features/proactive/rounds.py).

What a message carries is judged by the reply's own model, from its meaning in any language: the reply
request asks it to begin with a tag for Kindred (bot/reply/felt.py), taken out of everything shown or
kept, and that judgement moves the stored feeling once, after the reply (:meth:`Feelings.exchange`): a
reply that fails or is dropped leaves nothing kept, and no call is added for it. Where no model reads the
message (an emote reaction to an unanswered one) or the model gave no judgement (its tag missing or
malformed), only the signals that mean the same in every language count (bot/alive/appraisal.py: emoji,
emoticons, "?!").

The state line a reply is asked with is the feeling as kept through the messages before, with the local
signals of the message being answered applied ("😭" leads to concern in that very reply); the meaning of
that message is the model's to weigh as it answers: the request says that the state is how the character
felt before it, and to let the message move the answer as judged. The message's id is kept with what it
moved (``Regard.through``), so a reply to a message already kept (a swipe, a reroll) does not count it
twice. Writes happen after the reply; the global state's are coalesced (one in flight at a time; the
newest state wins).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot.alive.appraisal import appraise
from bot.alive.emotions import BY_NAME, EmotionState, advance, describe, stimulate
from bot.alive.felt import Pending, Reacted, cue_line, is_correction, stimuli
from bot.alive.regard import Regard, lasting_since, room_line, state_line
from bot.core.localtime import Clock, LocalTime, utc_now
from bot.core.persona.model import Persona
from bot.core.stages import Incoming, ReplyResult
from bot.core.text import clean_name
from database.feelings import FeelingRows
from database.records import PromptData, RelationshipRecord
from database.state import State
from database.visibility import Audience
from memory.relationships import Lasting, lasting

log = logging.getLogger(__name__)

STATE_PREFIX = "emotions."
NIGHT_MELATONIN = 0.45  # the resting melatonin level from which it is night for the character (about 23-5)


def state_key(character_key: str) -> str:
    return STATE_PREFIX + character_key


class Feelings:
    def __init__(self, state: State, character_key: str, time: LocalTime, clock: Clock = utc_now, *,
                 shared: Callable[[str, str], None] | None = None, rows: FeelingRows | None = None,
                 remembers: Callable[[bool | None], bool] = lambda consent: consent is not False) -> None:
        """``shared``: told of each saved state (key, JSON), so a cluster's other processes adopt it
        (bot/runtime/cluster.py); ``rows``: where the feelings toward each person and in each channel are
        kept (None: the character's own only); ``remembers``: whether a person's stored consent lets a
        feeling toward them be kept."""
        self.kept = state  # where the character's own feelings are kept (one global state key per character)
        self.character = character_key
        self.rows = rows
        self.remembers = remembers
        self.key = state_key(character_key)
        self.time = time
        self.clock = clock
        self.state = EmotionState.at_rest(clock(), time)
        self._writer: asyncio.Task[None] | None = None
        self._dirty = False
        self._shared = shared
        self._dropped: set[int] = set()  # people whose kept feeling their next exchange deletes
        self._cued: set[int] = set()  # people whose reply was told of their correction: cleared after it

    def adopt(self, raw: str) -> bool:
        """Take a state another process saved (no write: it is stored already)."""
        try:
            self.state = EmotionState.from_json(raw)
        except ValueError:
            return False
        return True

    async def load(self) -> EmotionState:
        """The stored state (advanced to now), or a resting one when none is stored or it is unreadable."""
        raw = await self.kept.get(self.key)
        now = self.clock()
        try:
            self.state = EmotionState.from_json(raw) if raw else EmotionState.at_rest(now, self.time)
        except ValueError:
            log.warning("the stored %s is unreadable; starting from rest", self.key)
            self.state = EmotionState.at_rest(now, self.time)
        return advance(self.state, now, self.time)

    def current(self) -> EmotionState:
        return advance(self.state, self.clock(), self.time)

    @property
    def label(self) -> str:
        return self.current().label

    def describe(self, language: str | None = None) -> str:
        return describe(self.current(), language)

    # -- engine hooks

    def night(self, persona: Persona, when: datetime) -> bool:
        """Whether it is night for the character at ``when``, in its own time zone (never, for a card
        without a daily rhythm)."""
        return persona.circadian and BY_NAME["melatonin"].rest(self.time.hour(when), 0.0) >= NIGHT_MELATONIN

    async def system_part(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        """The reply's one feeling line: the recent feeling toward the person leads, the relationship
        tempers it (see bot/alive/regard.py), as read with the prompt data and moved by the local signals of
        the message being answered (kept only after the reply, as the model judged it: :meth:`exchange`)."""
        now = self.clock()
        toward, here = data.feelings if self.rows is not None else ("", "")
        if toward and not self.remembers(data.memory_consent):
            self._dropped.add(msg.author_id)  # kept of someone who opted out since: gone at this exchange
        answering = () if msg.author_is_bot else appraise(msg.content)
        # Nothing kept toward them: calm, whoever reads the reply (no visibility question to ask).
        kept = Regard.from_json(toward, now) if toward else Regard.calm(now)
        # the message answered is read where the reply is: its effect shows on the track shown there
        audience = msg.audience()
        person = self._answering(kept.seen_by(msg.author_id, audience), kept, msg, answering, now)
        room = None
        if not msg.is_dm:
            place = Regard.from_json(here, now)
            room = self._answering(place, place, msg, answering, now)
        name = clean_name(msg.author_name)
        line = self._line(persona, name, data.mood, person, room, now, quiet=True,
                          lasting=lasting(data.relationship), answering=answering,
                          since=(lasting_since(msg.author_id, audience, data.relationship_since)
                                 if any(data.relationship_since) else None))  # no time kept: none to tell
        # a correction they reacted with here (never one from another place) is told once, in this reply
        cue = cue_line(name, kept.reacted, msg.author_id, audience) if kept.reacted else ""
        if cue:
            self._cued.add(msg.author_id)
        return "\n".join(part for part in (line, cue) if part)

    @staticmethod
    def _answering(shown: Regard, kept: Regard, msg: Incoming, found: tuple[str, ...],
                   now: datetime) -> Regard:
        """``shown`` as the message being answered leaves it (as it was, when ``kept`` holds it already).
        Its signs move the levels but are no judgement: the line still follows the newest judged message,
        whose line this reply was owed, unless the signs are distress (:func:`leading`)."""
        return shown if not found or kept.holds(msg.message_id) else shown.moved(found, now, judged=False)

    async def line(self, persona: Persona, user_id: int, name: str, mood: str,
                   channel_id: int | None = None, *, quiet: bool = False,
                   relationship: RelationshipRecord | None = None, since: datetime | None = None) -> str:
        """The state line toward a person (``channel_id``: where, when it is a channel), as of now, on the
        ground of their ``relationship`` (``since``: since when it says what it says, as the place may tell
        it); ``quiet``: only what stands out (a reply's, see :func:`state_line`). What the character says
        unprompted (a check-in, a reminder) answers no message: the line is as kept."""
        person, room = await self.read(user_id, channel_id)
        if channel_id is not None:  # a place's line: what they confided elsewhere stays out of it
            person = person.seen_by(user_id, Audience.place(private=True, guild=None, channel=channel_id))
        return self._line(persona, name, mood, person, room, self.clock(), quiet=quiet,
                          lasting=lasting(relationship), since=since)

    def _line(self, persona: Persona, name: str, mood: str, person: Regard, room: Regard | None,
              now: datetime, *, quiet: bool, lasting: Lasting | None = None,
              since: datetime | None = None, answering: tuple[str, ...] = ()) -> str:
        return state_line(name, person.advanced(now), room=None if room is None else room.advanced(now),
                          mood=mood, night=self.night(persona, now), quiet=quiet, lasting=lasting,
                          zone=self.time.zone, lasting_since=since, answering=answering)

    async def room(self, channel_id: int) -> str:
        """How a channel feels, from what was said there only, for what the character says there unprompted
        ("" when it is calm)."""
        _, here = await self.read(0, channel_id)
        return room_line(here.advanced(self.clock())) if here is not None else ""

    async def read(self, user_id: int, channel_id: int | None = None) -> tuple[Regard, Regard | None]:
        """How the character feels toward a person and in a channel (None without one), as stored."""
        now = self.clock()
        if self.rows is None:
            return Regard.calm(now), None if channel_id is None else Regard.calm(now)
        person, place = await self.rows.read(self.character, user_id, channel_id)
        return Regard.from_json(person, now), None if channel_id is None else Regard.from_json(place, now)

    async def on_turn(self, msg: Incoming, result: ReplyResult) -> None:
        await self.exchange(msg, result.felt)

    async def exchange(self, msg: Incoming, felt: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """One exchange with ``msg``: what it carries moves the feeling toward its author, the mood of its
        channel and the character's own state (saved). ``felt``: what the reply's model judged it carries
        (bot/reply/felt.py), which stands for it; None (no reply, no judgement): its local signals alone. A
        message that carries nothing leaves the stored feelings as they are (time alone fades them as they
        are read), and is no write, unless a feeling kept of its author must go (their consent no longer
        allows it)."""
        found = self.feel(felt if felt is not None else appraise(msg.content))
        dropped = msg.author_id in self._dropped
        self._dropped.discard(msg.author_id)
        cued = msg.author_id in self._cued
        self._cued.discard(msg.author_id)
        if self.rows is not None and not msg.author_is_bot and (found or dropped or cued):
            now = self.clock()

            def person(old: str, consent: bool | None) -> str | None:
                if not self.remembers(consent):
                    return None
                regard = Regard.from_json(old, now).moved(found, now, person=True, public=public,
                                                          message=msg.message_id)
                if cued:  # told of their correction: the next reply is not told again
                    regard.with_reacted(told=msg.audience(), person=msg.author_id)
                return regard.to_json()

            public = not msg.is_dm and not msg.private

            def place(old: str) -> str:
                return Regard.from_json(old, now).moved(found, now, message=msg.message_id).to_json()

            try:
                await self.rows.move(self.character, msg.author_id, person,
                                     None if msg.is_dm else msg.channel_id, place)
            except Exception:
                log.exception("could not keep the feelings of an exchange with user %s", msg.author_id)
        await self.save()
        return found

    async def reacted(self, user_id: int, entries: list[Pending], corrections: frozenset[str]) -> None:
        """A person's reactions on the character's messages since the last pass (bot/alive/felt.py): what
        each emoji carries moves the feeling toward them as their words would there (a DM's only their
        own track, a public channel's the public one too), each is kept with it (a correction as a cue for
        the next reply there), a taken-back correction withdraws its cue. One write; nothing kept of
        someone who opted out or was never stored."""
        if self.rows is None:
            return
        now = self.clock()

        def person(old: str, consent: bool | None) -> str | None:
            if not self.remembers(consent):
                return None
            regard = Regard.from_json(old, now)
            added: list[Reacted] = []
            withdrawn: set[int] = set()
            for entry in entries:
                first = entry.first
                found: list[str] = []
                for emoji, on in entry.emoji.items():
                    correction = is_correction(first, emoji, corrections)
                    if not on:
                        if correction:
                            withdrawn.add(first.message_id)
                        continue
                    found.extend(k for k in stimuli(emoji) if k not in found)
                    added.append(Reacted.of(first, emoji, correction))
                if found:
                    public = not first.is_dm and not first.private
                    regard = regard.moved(tuple(found), now, person=True, public=public)
            return regard.with_reacted(tuple(added), withdrawn=frozenset(withdrawn)).to_json()

        try:
            await self.rows.move(self.character, user_id, person)
        except Exception:
            log.exception("could not keep the reactions of user %s", user_id)

    async def told(self, user_id: int, audience: Audience) -> None:
        """The person's corrections in the place ``audience`` reads were answered already (an answer of its
        own, bot/features/corrections/answering.py): the next reply there is not told of them again."""
        if self.rows is None:
            return
        now = self.clock()

        def person(old: str, consent: bool | None) -> str | None:
            if not old or not self.remembers(consent):
                return None  # nothing kept (none stored, or no longer allowed): nothing to mark
            return Regard.from_json(old, now).with_reacted(told=audience, person=user_id).to_json()

        try:
            await self.rows.move(self.character, user_id, person)
        except Exception:
            log.exception("could not mark the corrections of user %s told", user_id)

    def feel(self, found: tuple[str, ...]) -> tuple[str, ...]:
        """What a message carries (``found``: its kinds) moves the character's own state (in memory; save()
        persists)."""
        stimulate(self.state, found, self.clock(), self.time)
        self._dirty = True
        return found

    # -- persistence

    async def save(self) -> None:
        """Persist the newest state; a save asked for while one is writing is folded into the next write."""
        self._dirty = True
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name=f"save-{self.key}")
        await asyncio.shield(self._writer)

    async def _write(self) -> None:
        while self._dirty:
            self._dirty = False
            raw = self.state.to_json()
            try:
                await self.kept.set(self.key, raw)
            except Exception:
                log.exception("could not save %s", self.key)
                return
            if self._shared is not None:
                self._shared(self.key, raw)
