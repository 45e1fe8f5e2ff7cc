"""Alive between messages: the pieces that make the character more than a responder, wired to the reply
engine and to the Discord side (made by bot/runtime/composition.py, given Discord by bot/discord/presence.py).

* feelings (feelings.py) and style mirroring (style.py): prompt parts and turn observers
  of every character's replies (:class:`AliveParts`, declared in each engine's stages by the composition
  root);
* server emotes (bot/alive/emotes.py): named in the stable prompt, made valid in everything the character
  sends (a reply filter);
* emote reactions: a feature of their own (bot/features/reactions/), reacting with what this gathers (the
  emotes, the feelings, the clock, the Discord side);
* people's reactions on its messages (bot/alive/felt.py, bot/alive/reacting.py): felt like words, gathered
  and kept off the gateway's path, never a model call; a correction answered on its own only where a place
  asks for it: a feature of its own (bot/features/corrections/), handed each correction kept;
* the custom status (bot/alive/status.py).

Everything reads time from ``clock`` (tests inject theirs). Discord is reached only through
:class:`DiscordSide`, so this module runs, and is tested, the same with any transport.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import Protocol

from bot.alive.emotes import EMPTY, Emote, EmoteSet, render
from bot.alive.emotions import mood_word
from bot.alive.feelings import Feelings
from bot.alive.initiative import Venue
from bot.alive.mood import ensure_daily_mood
from bot.alive.reacting import Answers, FeltReactions
from bot.alive.regard import Regard, lasting_since, state_line
from bot.alive.speaker import Speaker
from bot.alive.status import StatusKeeper
from bot.alive.style import StyleMirror
from bot.core.config import AliveSettings
from bot.core.i18n import t
from bot.core.lines import Line
from bot.core.localtime import Clock, LocalTime, utc_now
from bot.core.persona.model import Persona
from bot.core.place import Place
from bot.core.reach import Permit
from bot.core.stages import Incoming, Outlet, PromptPart, ReplyResult, TurnListener
from bot.core.text import clean_name
from bot.reply.felt import INSTRUCTION
from database.records import PromptData
from database.store import Store
from memory.consent import Consent
from memory.relationships import lasting

log = logging.getLogger(__name__)


class DiscordSide(Protocol):
    """What the behaviours here, and the features' rounds and timers, need of Discord
    (bot/discord/presence.py)."""

    def places(self) -> Sequence[Venue]: ...
    # ``nonce``: posts that must go out once (a reminder's): Discord returns a post sent again with it
    # Where the character speaks of its own accord: only with the one rule's permit (bot/operator/reach.py)
    # ``reply_to``: a message of that place the first post replies to
    def outlet_for(self, place: Venue, permit: Permit, *, nonce: str | None = None,
                   reply_to: int | None = None) -> Outlet: ...
    async def open_dm(self, permit: Permit, *, nonce: str | None = None,
                      reply_to: int | None = None) -> Outlet | None: ...
    def roles_of(self, guild_id: int, user_id: int) -> Collection[int]: ...  # a member's, as cached
    # what a place is (bot/discord/places.py ``place_of``), as the cache knows its channel; ``guild_id``:
    # the server a row names (None: a DM)
    def place_of(self, channel_id: int, guild_id: int | None) -> Place: ...
    def emotes_for(self, guild_id: int | None) -> EmoteSet: ...
    async def react(self, channel_id: int, message_id: int, emote: Emote | str) -> None: ...
    async def show_status(self, text: str) -> None: ...  # on this process's shards


class AliveParts:
    """What being alive adds to each character's replies, built before the pipelines and declared by the
    composition root in their stages (bot/core/stages.py ``Features``): the character's feelings and the
    person's writing style (prompt parts and turn observers, each when switched on at start-up), the server's
    emotes (a prompt part, and a reply filter that makes every :emote: valid, whatever ``server_emotes``
    says: nothing invalid may reach Discord); the emote reactions (bot/features/reactions/) react with
    them."""

    def __init__(self, store: Store, settings: AliveSettings, consent: Consent, keys: Sequence[str],
                 side: DiscordSide, accounts: Collection[int], *,
                 mirror: Callable[[Line], None] = lambda _: None, clock: Clock = utc_now,
                 share_feelings: Callable[[str, str], None] | None = None) -> None:
        """``keys``: every character's, the main one first; ``accounts``: the main character's own;
        ``share_feelings``: told of each saved feelings state (a cluster's other processes adopt it)."""
        self.store = store
        self.settings = settings
        self.side = side
        self.accounts = accounts
        self.mirror = mirror
        self.time = LocalTime.of(settings.timezone, settings.quiet_hours)
        self.main_key = keys[0]
        self.feelings = {key: Feelings(store.state, key, self.time, clock, shared=share_feelings,
                                       rows=store.feelings, remembers=consent.allows)
                         for key in keys}
        self._clock = clock
        self.style = StyleMirror(store.style, consent)
        self._learnt: deque[int] = deque(maxlen=256)  # messages already learnt from (several characters)

    @property
    def clock(self) -> Clock:
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:  # tests move time: the feelings follow (each holds the clock)
        self._clock = clock
        for feelings in self.feelings.values():
            feelings.clock = clock

    def now(self) -> datetime:
        return self.clock()

    def prompt_parts(self, key: str) -> tuple[PromptPart, ...]:
        """The character's feelings, the person's style, the server's emotes: each when switched on."""
        s = self.settings
        return ((FeelingsPart(self.feelings[key]) if s.emotions else RelationshipPart()),
                *((JUDGING,) if s.emotions else ()),
                *((StylePart(self.style),) if s.style_mirroring else ()),
                *((EmotesPart(self),) if s.server_emotes else ()))

    def turn_observers(self, key: str) -> tuple[TurnListener, ...]:
        """The character's feelings and the person's style, learnt from each exchange (when switched on)."""
        s = self.settings
        return (*((self.feelings[key].on_turn,) if s.emotions else ()),
                *((self.learn,) if s.style_mirroring else ()))

    @property
    def main_feelings(self) -> Feelings:
        return self.feelings[self.main_key]

    # -- style

    async def learn(self, msg: Incoming, result: ReplyResult) -> None:
        if msg.message_id in self._learnt:  # several characters answered it: one lesson
            return
        self._learnt.append(msg.message_id)
        await self.style.on_turn(msg, result)

    # -- emotes

    def emotes(self, msg: Incoming) -> EmoteSet:
        on = self.settings.server_emotes and not msg.is_dm
        return self.side.emotes_for(msg.guild_id) if on else EMPTY

    def render(self, msg: Incoming, text: str) -> str:
        if ":" not in text:  # no emote written: nothing to check, not even the place's set is needed
            return text
        return render(text, self.emotes(msg))


class FeelingsPart:
    """How the character feels right now, toward the person first (bot/alive/feelings.py), in the prompt's
    ``feelings`` slot."""

    slot = "feelings"
    in_dms = True

    def __init__(self, feelings: Feelings) -> None:
        self._feelings = feelings

    async def supply(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        return await self._feelings.system_part(persona, msg, data)


class JudgingPart:
    """The request that the reply's model judge what the message it answers moves in the character, as a
    tag (bot/reply/felt.py), in the prompt's ``felt`` slot: the same words in every reply (cached)."""

    slot = "felt"
    in_dms = True

    async def supply(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        return INSTRUCTION


JUDGING = JudgingPart()


class RelationshipPart:
    """With the feelings switched off, how the character has come to feel about the person over the days
    (memory/relationships.py) is still said, in the same slot and words as the feelings' line."""

    slot = "feelings"
    in_dms = True

    async def supply(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        name = clean_name(msg.author_name)
        return state_line(name, Regard.calm(msg.created_at), quiet=True,
                          lasting=lasting(data.relationship),
                          lasting_since=lasting_since(msg.author_id, msg.audience(), data.relationship_since))


class StylePart:
    """How the person writes (bot/alive/style.py), in the prompt's ``style`` slot."""

    slot = "style"
    in_dms = True

    def __init__(self, style: StyleMirror) -> None:
        self._style = style

    async def supply(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        return self._style.system_part(persona, msg, data)


class EmotesPart:
    """The server's custom emotes (bot/alive/emotes.py), in the prompt's ``emotes`` slot."""

    slot = "emotes"
    in_dms = False  # a server's custom emotes: none in DMs

    def __init__(self, parts: AliveParts) -> None:
        self._parts = parts

    async def supply(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        return self._parts.emotes(msg).prompt_block


def showing_status(side: DiscordSide, share: Callable[[str], None] | None = None
                   ) -> Callable[[str], Awaitable[None]]:
    """How a custom status is shown: told to ``share`` (a cluster's other processes show it on their
    shards), then on this process's."""
    async def show(text: str) -> None:
        if share is not None:
            share(text)
        await side.show_status(text)

    return show


class SaidFeelings:
    """How the main character feels, as it says so of its own accord (a DM it starts, a reminder, a word in
    a channel): what the features' rounds and timers are given (``Running``), built before :class:`Alive`
    so that what they build (the corrections' answers) is handed to it as it is made."""

    def __init__(self, speaker: Speaker, parts: AliveParts, settings: AliveSettings) -> None:
        self.speaker = speaker
        self.parts = parts
        self.settings = settings

    async def room(self, channel_id: int) -> str:
        """How a channel feels, from what was said there (what it says there unasked)."""
        return await self.parts.main_feelings.room(channel_id) if self.settings.emotions else ""

    async def toward(self, user_id: int, name: str, mood: str, channel_id: int | None = None) -> str:
        """How the main character feels toward one person, said unprompted (a DM it starts, a reminder): the
        state line of a reply; in their DM (``channel_id`` None) all of it, in a channel only what public
        talk moved."""
        if not self.settings.emotions:
            return ""
        speaker = self.speaker
        relationship = await speaker.store.people.relationship(speaker.character_key, user_id)
        since = await speaker.store.people.felt_since(speaker.character_key, user_id,
                                                      public=channel_id is not None)
        return await self.parts.main_feelings.line(speaker.persona, user_id, name, mood, channel_id,
                                                   relationship=relationship, since=since)


class Alive:
    def __init__(self, speaker: Speaker, parts: AliveParts, settings: AliveSettings, consent: Consent,
                 status: StatusKeeper, *, corrections: Answers | None = None) -> None:
        """``speaker``: the main character as its own initiative speaks; ``parts``: what being alive adds to
        the replies (its feelings are the ones shown and changed here); ``settings``: the alive section (a
        reload reaches it); ``consent``: the bot's one memory consent (whose writing style may be learnt);
        ``status``: its custom status; ``corrections``: what answers a correction kept among the reactions
        it feels (a feature's, bot/features/corrections/; None: none is answered)."""
        self.speaker = speaker
        self.parts = parts
        self.settings = settings
        self.time = parts.time
        self.consent = consent
        self.feelings = parts.feelings
        self.status = status
        # reactions on its messages, felt like words (bot/alive/reacting.py)
        self.felt = FeltReactions(lambda: self.main_feelings,
                                  lambda: self.settings.felt_reactions and self.settings.emotions,
                                  lambda: self.settings.correction_reactions, corrections)

    @property
    def clock(self) -> Clock:
        return self.parts.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:  # tests move time: the feelings and reactions follow
        self.parts.clock = clock

    def now(self) -> datetime:
        return self.clock()

    async def start(self) -> None:
        for feelings in self.feelings.values():
            await feelings.load()

    async def close(self) -> None:
        await self.felt.flush()
        if self.felt.answers is not None:
            await self.felt.answers.settled()
        for feelings in self.feelings.values():
            await feelings.save()

    async def new_day(self, now: datetime) -> str:
        """The daily mood round (bot/runtime/jobs.py): the day's mood (unless set today already), then the
        day's custom status, which reads it; a one-line result."""
        speaker = self.speaker
        mood = await ensure_daily_mood(speaker.store.state, speaker.claude, speaker.persona,
                                       self.clock().date())
        if self.settings.custom_status:
            await self.status.refresh(self.clock())
        return "mood set" if mood is not None else "mood already set today"

    # -- feelings

    @property
    def main_feelings(self) -> Feelings:
        return self.parts.main_feelings

    def feeling_line(self, language: str | None = None) -> str:
        """How the character feels, for /status and the log channel (its mood word in ``language``)."""
        if not self.settings.emotions:
            return t(language, "off (emotions=false)")
        return self.main_feelings.describe(language)

    async def status_lines(self, language: str | None = None) -> str:
        """The log channel's ``status`` lines about feelings and the custom status (the character's own words,
        as written), in ``language``."""
        status = await self.status.current() if self.settings.custom_status else ""
        unset = t(language, "(none yet)") if self.settings.custom_status else t(language, "off")
        return "\n".join([
            t(language, "Feeling") + f": {self.feeling_line(language)}",
            t(language, "Custom status") + f": {status or unset}",
        ])

    async def refresh_status_answer(self, language: str | None = None) -> str:
        """``/bot status-refresh`` and the log channel's ``refresh status``: the answer to show the admin, in
        ``language`` (the status itself is the character's own words)."""
        if not self.settings.custom_status:
            return t(language, "The custom status is switched off (custom_status=false).")
        status = await self.status.refresh(self.clock())
        if status is None:
            return t(language, "Claude could not write a new status just now; the old one stays (see the "
                               "bot's log).")
        return t(language, "New custom status: {status}", status=status)

    async def state_changed(self, key: str, language: str | None = None) -> str:
        """An admin edited global state: a feelings key takes effect at once (AdminTools.state_listeners);
        the note for the answer in ``language``."""
        for feelings in self.feelings.values():
            if key == feelings.key:
                state = await feelings.load()
                return "\n-# " + t(language, "Feelings reloaded: {mood}.",
                                    mood=mood_word(state.label, language))
        return ""
