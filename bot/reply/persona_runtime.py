"""Persona features on the reply path: lorebook, framework blend, evolution, greeting.

:class:`PersonaRuntime` supplies one character's pipeline with data for the prompt layout
(bot/reply/prompting.py), computed from the prompt data the reply already read (no database trip of its own
on the hot path): the lore the recent messages activate, the message's time, the framework blend for this
message's kind of conversation and the evolution stage reached; and, as a turn observer, counts each
answered interaction and stores the stage when a milestone is crossed.

Greetings, as SillyTavern opens a chat with ``first_mes``: :func:`opening_greeting` is the one a person's
first DM with the character opens with (posted before the answer, bot/reply/writer.py); a server channel
opens with one of a V3 card's ``group_only_greetings`` (:func:`channel_greeting`) the first time the
character speaks there, and with none when the card has none. Either is marked in the global state under
:func:`greeted_key` when posted (its text as shown), so a restart, a declined consent (no history kept) or a
crash before the exchange is stored never greets twice: the shown text opens the prompt instead.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from bot.core.localtime import DISCORD_EPOCH_MS, snowflake_time
from bot.core.persona.blend import blend_instructions, current_stage, detect_context, stage_instructions
from bot.core.persona.lorebook import PlacedLore, persona_world, placed_lore
from bot.core.persona.lorekeys import needs_thread
from bot.core.persona.macros import Moment, now_note
from bot.core.persona.model import Persona
from bot.core.text import clean_name, discord_name
from database.boundary import JsonObject
from database.characters import Characters
from database.records import PromptData

if TYPE_CHECKING:
    from bot.core.stages import Incoming, ReplyResult

log = logging.getLogger(__name__)

DISCORD_EPOCH = datetime.fromtimestamp(DISCORD_EPOCH_MS / 1000, UTC)  # 2015-01-01
MILLISECOND = timedelta(milliseconds=1)


def scanned_messages(msg: Incoming, data: PromptData) -> list[str]:
    """The messages a lorebook scans, oldest first, ending with ``msg``: the channel's recent messages in a
    server (everyone's, as the character saw them), else the conversation's own turns (a DM)."""
    if data.recent:
        earlier = [m.content for m in data.recent if m.message_id != msg.message_id]
    else:
        earlier = [t.content for t in data.history.turns]
    return [*earlier, msg.content]


def greetings(persona: Persona) -> list[str]:
    return [g for g in (persona.first_message, *persona.alternate_greetings) if g.strip()]


def person_name(msg: Incoming, data: PromptData) -> str:
    """What ``{{user}}`` is for the person answered: the name they set with /me, else their display name."""
    return data.profile.name or msg.author_name


def greeting_for(persona: Persona, user_id: int, scope: str) -> str:
    """The greeting a conversation opens with: ``first_mes``, or one of the alternates, picked by a stable
    hash so one conversation always gets the same one and different people meet different openings."""
    options = greetings(persona)
    if not options:
        return ""
    return options[zlib.crc32(f"{user_id}:{scope}".encode()) % len(options)]


def opening_greeting(persona: Persona, data: PromptData, msg: Incoming, moment: Moment | None = None,
                     greeting: str | None = None) -> str:
    """The greeting a conversation opens with ("" for none) when it has nothing yet (no turns, no summary),
    and the place has not been talking either: a channel's transcript is the shared opening of everyone's
    prompts there (bot/reply/transcript.py), which a greeting before it would take apart. ``greeting``: the
    text to open with, where not the card's own (one in the person's language, bot/reply/greetings.py)."""
    if data.history.turns or data.history.summary:
        return ""
    if not msg.is_dm and any(m.message_id != msg.message_id for m in data.recent):
        return ""
    if greeting is None:
        greeting = greeting_for(persona, msg.author_id, msg.scope)
    if not greeting:
        return ""
    # ``moment``: the greeting is posted, so the time macros are rendered as their values; so is the name,
    # written as Discord text
    return persona.render(greeting, discord_name(person_name(msg, data)), moment, seed=msg.message_id)


def channel_greeting(persona: Persona, msg: Incoming, moment: Moment | None = None) -> str:
    """The greeting a server channel opens with ("" when the card has no group-only greetings), picked per
    channel, macros expanded for the person the character first answers there."""
    options = [g for g in persona.group_greetings if g.strip()]
    if not options:
        return ""
    greeting = options[zlib.crc32(f"channel:{msg.channel_id}".encode()) % len(options)]
    # posted: the first person's display name is written as Discord text, not markdown (a masked link)
    return persona.render(greeting, discord_name(msg.author_name), moment, seed=msg.message_id)


def greeted_key(character: str, msg: Incoming) -> str:
    """Where the greeting shown in ``msg``'s conversation (a DM's, or a whole channel's) is marked."""
    if msg.is_dm:
        return dm_greeted_key(character, msg.author_id, msg.scope)
    return f"greeted:{character}:{msg.scope}"


def dm_greeted_key(character: str, user_id: int, scope: str) -> str:
    """:func:`greeted_key` of a person's conversation by its parts (/reset_conversation forgets it)."""
    return f"greeted:{character}:{user_id}:{scope}"


def stage_name(persona: Persona, interactions: int) -> str:
    stage = current_stage(persona, interactions)
    return stage.name if stage else ""


@dataclass(frozen=True)
class StageStatus:
    """A character's evolution as /status shows it."""

    name: str
    interactions: int
    next_name: str = ""
    next_at: int = 0


def stage_status(persona: Persona, interactions: int, stored: str) -> StageStatus | None:
    """None for a character without evolution stages (and nothing stored from when it had some)."""
    if not persona.evolution and not stored:
        return None
    name = stored or stage_name(persona, interactions)
    upcoming = next((s for s in persona.evolution if s.min_interactions > interactions), None)
    if upcoming is None:
        return StageStatus(name, interactions)
    return StageStatus(name, interactions, upcoming.name, upcoming.min_interactions)


def last_spoke(msg: Incoming, data: PromptData) -> datetime | None:
    """When the author last wrote before ``msg``: in the channel's recent messages, or in the conversation's
    history (its user turns carry their Discord message ids, which hold their time)."""
    latest: datetime | None = None
    for m in data.recent:
        if (m.author_id == msg.author_id and m.message_id != msg.message_id and m.created_at <= msg.created_at
                and (latest is None or m.created_at > latest)):
            latest = m.created_at
    # A snowflake's time grows with it, so the latest turn is the largest id up to the message's millisecond:
    # compared as integers, one time built at the end (a long history is walked at every reply).
    first_after = ((msg.created_at - DISCORD_EPOCH) // MILLISECOND + 1) << 22
    turn = max((t.discord_message_id for t in data.history.turns
                if t.role == "user" and t.discord_message_id and t.discord_message_id < first_after
                and t.discord_message_id != msg.message_id), default=0)
    if turn:
        spoke = snowflake_time(turn)
        if latest is None or spoke > latest:
            latest = spoke
    return latest


def moment_of(msg: Incoming, data: PromptData, zone: tzinfo, *, idle: bool = True) -> Moment:
    """The time macros' values for the reply to ``msg``: its time in the character's zone, and (``idle``) how
    long its author had been silent."""
    before = last_spoke(msg, data) if idle else None
    return Moment(msg.created_at.astimezone(zone), msg.created_at - before if before is not None else None)


class PersonaRuntime:
    def __init__(self, characters: Characters, character_key: str, persona: Callable[[], Persona],
                 zone: tzinfo = UTC) -> None:
        self.characters = characters  # each character's interaction count and evolution stage
        self.zone = zone  # the character's time zone: {{time}} and {{date}} are its local time
        self.character_key = character_key
        self.persona = persona  # read live: character files may change while the bot runs
        self._stored_stage: str | None = None  # as last read or written; None until known
        self._counting = asyncio.Lock()

    def moment(self, msg: Incoming, data: PromptData) -> Moment:
        """The message's time in the character's zone, and how long its author had been silent."""
        return moment_of(msg, data, self.zone)

    def macro_note(self, persona: Persona, msg: Incoming, data: PromptData, moment: Moment) -> str:
        """What the time macros of the character's texts stand for at this reply ("" when it uses none): the
        stable prompt holds references to them (bot/core/persona/macros.py)."""
        names = persona.time_macros()
        return now_note(names, moment, clean_name(person_name(msg, data))) if names else ""

    def world(self, persona: Persona, *, after: bool = False,
              user: str = "the person you are answering") -> str:
        """The lorebook's always-on entries placed before (``after``: after) the character; ``user``: the
        person in a DM, else no one (a channel's cached character block is shared by everyone there)."""
        return persona_world(persona, user, after=after)

    async def lore(self, persona: Persona, msg: Incoming, data: PromptData) -> PlacedLore:
        """The lore the recent messages activate, by where it is placed, as data (the layout fences it)."""
        scanned, name = scanned_messages(msg, data), clean_name(person_name(msg, data))
        if persona.lorebook is not None and needs_thread(persona.lorebook):
            # A card's own patterns (each searched with a time limit), a large book's one pass over the text,
            # or a book's first use (its keys are prepared): in a worker thread, never on the loop.
            return await asyncio.to_thread(placed_lore, persona, scanned, name)
        return placed_lore(persona, scanned, name)

    async def lore_extras(self, persona: Persona, msg: Incoming, data: PromptData) -> JsonObject:
        """The world and the lore of a reply, as ReplyExtras fields (bot/reply/prompting.py)."""
        lore = await self.lore(persona, msg, data)
        user = clean_name(person_name(msg, data)) if msg.is_dm else "the person you are answering"
        return {"world": self.world(persona, user=user),
                "world_after": self.world(persona, after=True, user=user),
                "lore": lore.beside_char, "depth_lore": lore.at_depth,
                "notes_lore": (lore.notes_top, lore.notes_bottom)}

    def instructions(self, persona: Persona, msg: Incoming, data: PromptData) -> list[str]:
        """This message's framework blend and the evolution stage reached: instructions after the history."""
        if self._stored_stage is None:
            self._stored_stage = data.stage
        parts = []
        if persona.extra.get("frameworks"):
            parts.append(blend_instructions(persona, detect_context(msg.content)))
        if persona.evolution:
            parts.append(stage_instructions(persona, data.interactions))
        return [p for p in parts if p]

    async def on_turn(self, msg: Incoming, result: ReplyResult) -> None:
        """Turn listener: one more interaction; store the stage when this one crossed a milestone."""
        if not result.ok:
            return  # the in-character fallback after a failure is no interaction
        # In order within the process, so a slower earlier turn never writes back an older stage.
        persona = self.persona()
        async with self._counting:
            count, name = await self.characters.count_interaction(
                self.character_key, lambda n: stage_name(persona, n))
            if name != self._stored_stage:
                if name:
                    log.info("%s reached the evolution stage %r after %d interactions", self.character_key,
                             name, count)
                self._stored_stage = name
