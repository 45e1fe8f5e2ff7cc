"""What the character says without being asked (a proactive message, a check-in DM, its custom status):
the prompt parts they share, and speaking through an outlet the way a reply does.

The system part is a reply's character block (bot/reply/prompting.py: character prompt, who it is, today's
mood), byte for byte, so what it says unprompted sounds like the same character and reads the same cache.
What changes (the time, how it feels, what it remembers of a person) follows in the user turn. Speaking
goes through the pipeline's reply filters (valid emotes), the typing indicator and message splitting, like
any reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.alive.mood import MOOD_KEY
from bot.core.claude import Prompt
from bot.core.config import DiscordSettings, TypingSettings
from bot.core.persona.lorebook import persona_world
from bot.core.persona.macros import Moment, now_note
from bot.core.persona.model import Persona
from bot.core.place import Place
from bot.core.stages import Incoming, Outlet
from bot.reply.prompting import (
    CHANNEL_USER,
    IDENTITY_TITLES,
    character_block,
    now_part,
    state_part,
    system_blocks,
)
from bot.reply.splitting import split_message, typing_time
from database.boundary import JsonObject
from database.identity import Identity
from database.state import State


@dataclass(frozen=True)
class Venue:
    """A server channel the character may speak in of its own accord (proactive talk, a reminder, a place
    task, a correction's answer), as the Discord side offers it."""

    channel_id: int
    guild_id: int
    channel_name: str = ""
    guild_name: str = ""
    age_restricted: bool = False  # Discord's NSFW channel: a mature character speaks in full there

    @property
    def label(self) -> str:
        return f"#{self.channel_name}" if self.channel_name else f"channel {self.channel_id}"


@dataclass(frozen=True)
class SelfPortrait:
    """Who the character is today: its identity entries by kind and the daily mood."""

    identity: dict[str, list[str]]
    mood: str

    def lines(self) -> list[str]:
        out = []
        for kind, title in IDENTITY_TITLES.items():
            items = self.identity.get(kind) or []
            if items:
                out.append(f"{title}:\n" + "\n".join(f"- {i}" for i in items))
        return out


async def self_portrait(identity_rows: Identity, state: State, character_key: str) -> SelfPortrait:
    identity: dict[str, list[str]] = {}
    for _, kind, content in await identity_rows.entries(character_key):
        identity.setdefault(kind, []).append(content)
    return SelfPortrait(identity, await state.get(MOOD_KEY))


def character_system(persona: Persona, portrait: SelfPortrait) -> list[JsonObject]:
    """The system block: a reply's character block (the character prompt, who it is, its mood), byte for
    byte as a channel reply without emotes has it (the rule on quoted data included), so the cache entry
    a reply wrote serves the status and proactive requests too."""
    text = character_block(persona, portrait.identity, portrait.mood,
                           world=persona_world(persona, CHANNEL_USER),
                           world_after=persona_world(persona, CHANNEL_USER, after=True))
    return system_blocks(persona, text)


def initiative_prompt(persona: Persona, portrait: SelfPortrait, ask: str, *, feeling: str = "",
                      moment: Moment | None = None, name: str = "", person: str = "",
                      chat: Sequence[JsonObject] = (), where: str = "", style: str = "") -> Prompt:
    """What the character is asked to say unprompted: the character block, then ``chat`` (a channel's
    recent lines as a reply shows them, bot/reply/prompting.py ``channel_chat``; ``where``: its header),
    then in the last user turn the person as quoted data (a check-in), the time (``moment``: now in the
    character's zone and, for a person, how long since they last wrote), what the time macros stand for,
    how it feels (``feeling``: a state line, bot/alive/regard.py, fenced as a reply's ``<state>`` by the one
    function that fences it, bot/reply/prompting.py ``state_part``) and how the person writes (``style``:
    bot/alive/style.py ``unprompted_line``, their language and register, in the same state), and the
    ask."""
    tail = [("person", person)]
    if moment is not None:
        who = name or "everyone"
        tail += [("time", now_part(moment, who, dated=persona.real_world_time)),
                 ("time: macros", now_note(persona.time_macros(), moment, who))]
    tail += [("character: state", state_part(feeling, style)), ("instructions", ask)]
    shown = tuple((label, text) for label, text in tail if text)
    final = "\n\n".join(text for _, text in shown)
    messages: list[JsonObject] = [dict(m) for m in chat]
    if messages and messages[-1]["role"] == "user":  # the tail ends the chat's last user turn
        messages[-1]["content"] = [*messages[-1]["content"], {"type": "text", "text": final}]
    else:
        messages.append({"role": "user", "content": final})
    # named for the prompt inspector (bot/core/models/sent.py)
    return Prompt(system=character_system(persona, portrait), messages=messages,
                  parts=((("where", where),) if where else ()) + shown)


def place_incoming(place: Place, when: datetime, *, user_id: int = 0, user_name: str = "") -> Incoming:
    """An Incoming standing for a place the character speaks in unprompted (what reply filters look at):
    ``place`` as the Discord side derives it (bot/discord/places.py ``place_of``)."""
    return Incoming(message_id=0, author_id=user_id, author_name=user_name, content="", created_at=when,
                    place=place)


async def speak(typing: TypingSettings, outlet: Outlet, parts: Sequence[str]) -> list[int | None]:
    """Type for as long as a person would, then post ``parts`` (already filtered and split)."""
    async with outlet.typing():
        await asyncio.sleep(typing_time("".join(parts), typing))
    return [await outlet.send(part, first=i == 0) for i, part in enumerate(parts)]


def split(discord: DiscordSettings, text: str) -> list[str]:
    return split_message(text, discord.max_message_length)
