"""What the character says without being asked (a proactive message, a check-in DM, its custom status):
the prompt parts they share, and speaking through an outlet the way a reply does.

The system part mirrors a reply's stable part (character prompt, who it is, today's mood, how it feels),
so what it says unprompted sounds like the same character. Speaking goes through the engine's reply
filters (valid emotes), the typing indicator and message splitting, like any reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.claude import Prompt
from bot.core.config import Settings
from bot.core.persona.macros import Moment, now_note
from bot.core.persona.model import Persona
from bot.core.pipeline import Incoming, Outlet
from bot.reply.prompting import EPHEMERAL, IDENTITY_TITLES
from bot.reply.splitting import split_message
from bot.reply.typing_sim import typing_seconds
from database.store import Store
from memory.mood import MOOD_KEY


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


async def self_portrait(store: Store, character_key: str) -> SelfPortrait:
    identity: dict[str, list[str]] = {}
    for _, kind, content in await store.identity.entries(character_key):
        identity.setdefault(kind, []).append(content)
    return SelfPortrait(identity, await store.state.get(MOOD_KEY))


def character_system(persona: Persona, portrait: SelfPortrait, feeling: str = "",
                     user_name: str = "everyone", moment: Moment | None = None) -> list[dict[str, Any]]:
    """The system blocks: the character prompt, then who it is, its mood and how it feels; with ``moment``,
    what the time macros of the prompt stand for now (bot/core/persona/macros.py)."""
    character = persona.render(persona.system_prompt, user_name)
    system: list[dict[str, Any]] = [{"type": "text", "text": character, "cache_control": EPHEMERAL}]
    stable: list[str] = []
    lines = portrait.lines()
    if lines:
        stable.append("## Who you are\n" + "\n\n".join(lines))
    if portrait.mood:
        stable.append(f"## Your mood today\n{portrait.mood}")
    if feeling:
        stable.append(feeling)
    if moment is not None and (now := now_note(persona.time_macros(), moment, user_name)):
        stable.append(now)
    if stable:
        system.append({"type": "text", "text": "\n\n".join(stable)})
    return system


def prompt(system: list[dict[str, Any]], text: str) -> Prompt:
    return Prompt(system=system, messages=[{"role": "user", "content": text}])


def place_incoming(channel_id: int, when: datetime, *, guild_id: int | None = None, guild_name: str = "",
                   channel_name: str = "", user_id: int = 0, user_name: str = "") -> Incoming:
    """An Incoming standing for a place the character speaks in unprompted (what reply filters look at)."""
    return Incoming(message_id=0, channel_id=channel_id, author_id=user_id, author_name=user_name, content="",
                    created_at=when, is_dm=guild_id is None, guild_id=guild_id, guild_name=guild_name,
                    channel_name=channel_name)


async def speak(settings: Settings, outlet: Outlet, parts: Sequence[str]) -> list[int | None]:
    """Type for as long as a person would, then post ``parts`` (already filtered and split)."""
    async with outlet.typing():
        await asyncio.sleep(typing_seconds("".join(parts), settings))
    return [await outlet.send(part, first=i == 0) for i, part in enumerate(parts)]


def split(settings: Settings, text: str) -> list[str]:
    return split_message(text, settings.discord.max_message_length)
