"""Alive between messages, the Discord side of ``bot.services.alive`` (bot/alive/service.py, built by
bot/runtime/composition.py; its rounds are durable timers of the one timer loop, bot/core/timers.py):

* the custom status: shown with Discord's custom activity at every READY and RESUMED (a new gateway
  session starts without one), written at start-up when none is set and after each daily consolidation;
* the admin switches live in cogs/activation.py (``/bot ...``);
* the server's emotes (from the guild cache) and reactions: its own emote reactions, and people's reactions
  on its messages, handed to the felt reactions (bot/alive/reacting.py) as they come from the gateway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.alive.felt import Reaction, shown
from bot.alive.service import Alive
from bot.discord.places import place_of
from bot.discord.presence import AlivePresence

if TYPE_CHECKING:
    from bot.discord.client import Kindred

log = logging.getLogger(__name__)


class AliveCog(commands.Cog, name="Alive"):
    def __init__(self, bot: Kindred, alive: Alive, presence: AlivePresence) -> None:
        self.bot = bot
        self.alive = alive
        self.presence = presence
        self._tasks: set[asyncio.Task[object]] = set()
        self._status_checked = False

    def permissions_asked(self) -> tuple[discord.Permissions, str]:
        return discord.Permissions(add_reactions=True), ""  # an emote reaction instead of a reply

    async def cog_unload(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[object, object, object], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the custom status

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        self._spawn(self._status_on_connect(), "status-on-ready")

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        self._spawn(self._status_on_connect(), "status-on-resume")

    # -- people's reactions on the character's messages (the reactions intents, on by default)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        me = self.bot.user
        if me is None or payload.user_id == me.id:
            return
        own = payload.message_author_id == me.id
        if not own and not self.alive.felt.was_asked(payload.message_id):
            return  # only reactions on its own messages, or on one it was asked about, reach it
        if payload.member is not None and payload.member.bot:
            return
        self._felt(payload, added=True, own=own)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        me = self.bot.user
        if me is not None and payload.user_id != me.id:
            self._felt(payload, added=False)  # only one it kept an add for is taken back (reacting.py)

    def _felt(self, payload: discord.RawReactionActionEvent, *, added: bool, own: bool = True) -> None:
        channel = self.bot.get_channel(payload.channel_id) if payload.guild_id is not None else None
        emoji = payload.emoji
        self.alive.felt.add(Reaction(
            user_id=payload.user_id, message_id=payload.message_id, channel_id=payload.channel_id,
            guild_id=payload.guild_id,
            # an uncached server channel counts as private: it then reaches nothing beyond itself
            private=place_of(channel, guild_id=payload.guild_id, channel_id=payload.channel_id).private,
            emoji=shown(emoji.name or "", emoji.id is not None), added=added, at=self.alive.now(), own=own))

    async def _status_on_connect(self) -> None:
        if not self.bot.settings.alive.custom_status:
            return
        try:
            if not self._status_checked:  # at start-up: write one when none is set yet
                self._status_checked = True
                if await self.alive.status.ensure(self.alive.clock()) is not None:
                    return  # written and shown
            await self.alive.status.reapply()
        except Exception:
            log.exception("could not show the custom status")


async def setup(bot: Kindred) -> None:
    await bot.add_cog(AliveCog(bot, bot.services.alive, bot.presence))
