"""What the dashboard works with: the store, the settings and the admin tools the slash commands use, and,
when the bot process serves it, what only the running bot knows (uptime, gateway latency, its decisions)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from discord.ext import commands

from bot.admin.language import Latencies
from bot.admin.tools import AdminTools
from bot.character import CharacterSource
from bot.config import Settings
from bot.logmirror import LogMirror
from database.store import Store

if TYPE_CHECKING:
    from bot.client import Kindred
    from bot.engine import ReplyEngine

Forget = Callable[[int], Awaitable[dict[str, int]]]


@dataclass(frozen=True)
class RunningBot:
    """The bot process around the dashboard (absent when `main.py dashboard` serves it alone)."""

    started_at: float  # time.monotonic() at start-up
    latencies: Callable[[], Latencies]
    guild_count: Callable[[], int]
    engine: ReplyEngine  # the main engine: every decision of an ensemble is announced there

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_at


@dataclass(frozen=True)
class DashboardContext:
    settings: Settings
    store: Store
    character_key: str  # what the character's data is filed under
    character_name: Callable[[], str]  # read live: the character's files may change
    tools: AdminTools  # every edit goes through these, as the slash commands' do
    forget: Forget  # what /forget_me does
    bot: RunningBot | None = None


def bot_context(bot: Kindred) -> DashboardContext:
    """The dashboard of a running bot: /forget_me's effect through its memory engine (which also stops
    summaries in flight and drops cached facts), the admin tools with its embedder."""

    async def forget(user_id: int) -> dict[str, int]:
        memory = getattr(bot, "memory", None)
        if memory is not None:
            return dict(await memory.forget_user(user_id))
        return await bot.store.privacy.delete_user_data(user_id)

    def latencies() -> Latencies:
        if isinstance(bot, commands.AutoShardedBot):
            return list(bot.latencies)
        return [(None, bot.latency)]

    key = bot.engine.character_key
    return DashboardContext(
        settings=bot.settings, store=bot.store, character_key=key,
        character_name=lambda: bot.engine.persona.name,
        tools=bot.admin,  # the one the bot made: the same edits as the slash commands
        forget=forget,
        bot=RunningBot(bot.started_at, latencies, lambda: len(bot.guilds), bot.engine),
    )


def standalone_context(settings: Settings, character: CharacterSource, store: Store) -> DashboardContext:
    """The dashboard alone on the bot's database (`main.py dashboard`): no live figures, no embedder (a fact
    whose text is edited here gets its vector from a later consolidation)."""
    key = settings.character_name_slug  # what ReplyEngine files the main character under
    return DashboardContext(
        settings=settings, store=store, character_key=key,
        character_name=lambda: character.current().name,
        tools=AdminTools(store, settings, key, LogMirror()),
        forget=store.privacy.delete_user_data,
    )
