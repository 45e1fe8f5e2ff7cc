"""Alive between messages, the Discord side: builds ``bot.alive`` (bot/alive/service.py) and gives it
Discord.

* the scheduler: an APScheduler tick every TICK_SECONDS runs whichever durable job is due (proactive rounds,
  check-ins), their due times and last results kept in the database;
* the custom status: shown with Discord's custom activity at every READY and RESUMED (a new gateway
  session starts without one), written at start-up when none is set and after each daily consolidation;
* ``/checkin on|off`` for everyone; the admin switches live in cogs/settings.py (``/bot ...``);
* the server's emotes (from the guild cache) and reactions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import discord
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from discord import app_commands
from discord.ext import commands

from bot.alive.checkins import CheckInChoice
from bot.alive.emotes import Emote, EmoteSet
from bot.alive.proactive import Place
from bot.alive.service import Alive
from bot.alive.status import clean_status
from cogs.outlets import typing_in
from cogs.permissions import in_log_channel
from cogs.posting import allowed_mentions_for

if TYPE_CHECKING:
    from cogs.bot import Kindred

log = logging.getLogger(__name__)

TICK_SECONDS = 20.0


class ChannelOutlet:
    """Speaks into a channel or DM on the character's own initiative (no message to reply to)."""

    def __init__(self, channel: discord.abc.Messageable) -> None:
        self.channel = channel

    def typing(self) -> AbstractAsyncContextManager[None]:
        return typing_in(self.channel)

    async def send(self, text: str, *, first: bool) -> int | None:
        return (await self.channel.send(text, allowed_mentions=allowed_mentions_for(text))).id


class AliveCog(commands.Cog, name="Alive"):
    checkin = app_commands.Group(name="checkin",
                                 description="Whether I may check on you after a long silence.")

    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        ensemble = bot.ensemble
        members = [m.engine for m in ensemble.members] if ensemble is not None else []
        # In a cluster each process speaks first in its own shards' channels (bot/alive/service.py).
        self.alive = Alive(bot.engine, self, members=members, mirror=bot.mirror.emit,
                           shards=bot.cluster.shards if bot.settings.shard_id_list else "")
        self.scheduler = AsyncIOScheduler()
        self._emotes: dict[int, tuple[Sequence[discord.Emoji], EmoteSet]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._status_checked = False

    async def cog_load(self) -> None:
        # an attribute the bot classes do not declare (the cog builds the alive service)
        self.bot.alive = self.alive  # type: ignore[union-attr]
        await self.alive.start()
        self.alive.attach()
        self.scheduler.add_job(self.tick, IntervalTrigger(seconds=TICK_SECONDS), id="alive-tick",
                               coalesce=True, max_instances=1)
        self.scheduler.start()
        memory_tasks: Any = self.bot.get_cog("MemoryTasks")
        if memory_tasks is not None:
            memory_tasks.after_daily.append(self.after_consolidation)
        self.bot.admin.state.listeners.append(self.alive.state_changed)
        # A cluster shares one character: its feelings and an admin's /state edits reach every process.
        cluster = self.bot.cluster
        cluster.on("status", self._status_heard)
        cluster.on("feelings", self._feelings_heard)
        cluster.on("state", self._state_heard)
        for feelings in self.alive.feelings.values():
            feelings.saved.append(
                lambda key, raw: cluster.publish_soon("feelings", peers_only=True, key=key, state=raw))
        self.bot.admin.state.listeners.append(self._tell_state)

    async def cog_unload(self) -> None:
        self.scheduler.shutdown(wait=False)
        self.alive.detach()
        memory_tasks: Any = self.bot.get_cog("MemoryTasks")
        if memory_tasks is not None and self.after_consolidation in memory_tasks.after_daily:
            memory_tasks.after_daily.remove(self.after_consolidation)
        for listener in (self.alive.state_changed, self._tell_state):
            if listener in self.bot.admin.state.listeners:
                self.bot.admin.state.listeners.remove(listener)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.alive.close()

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the schedule

    async def tick(self) -> None:
        try:
            await self.alive.tick()
        except Exception:
            log.exception("alive tick failed")

    async def after_consolidation(self) -> None:
        if self.bot.settings.alive.custom_status:
            await self.alive.status.refresh(self.alive.clock())

    # -- the custom status

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        self._spawn(self._status_on_connect(), "status-on-ready")

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        self._spawn(self._status_on_connect(), "status-on-resume")

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

    async def show_status(self, text: str) -> None:
        # The other processes show it on their shards.
        self.bot.cluster.publish_soon("status", peers_only=True, text=text)
        await self._present(text)

    async def _status_heard(self, message: dict[str, Any]) -> None:
        text = clean_status(str(message.get("text", "")))
        if text is not None and message.get("character") == self.bot.engine.character_key:
            await self._present(text)

    async def _feelings_heard(self, message: dict[str, Any]) -> None:
        for feelings in self.alive.feelings.values():
            if feelings.key == message.get("key"):
                feelings.adopt(str(message.get("state", "")))

    async def _tell_state(self, key: str) -> str:
        self.bot.cluster.publish_soon("state", key=key)
        return ""

    async def _state_heard(self, message: dict[str, Any]) -> None:
        await self.alive.state_changed(str(message.get("key", "")))

    async def _present(self, text: str) -> None:
        if self.bot.ws is None or self.bot.is_closed():
            return  # shown at the next READY
        await self.bot.change_presence(activity=discord.CustomActivity(name=text))

    # -- DiscordSide

    def places(self) -> Sequence[Place]:
        """Text channels where the bot may speak (the log channel never counts)."""
        out = []
        for guild in self.bot.guilds:
            me = guild.me
            for channel in guild.text_channels:
                if in_log_channel(self.bot, channel.id):
                    continue
                if me is not None and not channel.permissions_for(me).send_messages:
                    continue
                out.append(Place(channel.id, guild.id, channel.name, guild.name))
        return out

    def outlet_for(self, place: Place) -> ChannelOutlet:
        found = self.bot.get_channel(place.channel_id)
        channel = (found if isinstance(found, discord.abc.Messageable)
                   else self.bot.get_partial_messageable(place.channel_id, guild_id=place.guild_id))
        return ChannelOutlet(channel)

    async def open_dm(self, user_id: int) -> ChannelOutlet | None:
        try:
            user = self.bot.get_user(user_id) or await self.bot.fetch_user(user_id)
            return ChannelOutlet(await user.create_dm())
        except discord.HTTPException as exc:
            log.warning("no DM channel with user %s: %s", user_id, exc)
            return None

    def emotes_for(self, guild_id: int | None) -> EmoteSet:
        guild = self.bot.get_guild(guild_id) if guild_id else None
        if guild is None:
            return EmoteSet()
        emojis = guild.emojis  # a new tuple whenever they change (GUILD_EMOJIS_UPDATE): compared by identity
        cached = self._emotes.get(guild.id)
        if cached is None or cached[0] is not emojis:
            cached = (emojis, EmoteSet(Emote(e.name, e.id, e.animated) for e in emojis if e.available))
            self._emotes[guild.id] = cached
        return cached[1]

    async def react(self, channel_id: int, message_id: int, emote: Emote | str) -> None:
        emoji: discord.PartialEmoji | str = (
            discord.PartialEmoji(name=emote.name, id=emote.id, animated=emote.animated)
            if isinstance(emote, Emote) else emote)
        try:
            channel = self.bot.get_partial_messageable(channel_id)
            await channel.get_partial_message(message_id).add_reaction(emoji)
        except discord.HTTPException as exc:
            log.warning("could not react to message %s: %s", message_id, exc)

    # -- /checkin

    @checkin.command(name="on", description="Let me DM you to ask how you are after a long silence.")
    async def checkin_on(self, interaction: discord.Interaction[Any]) -> None:
        settings = self.bot.settings
        if not settings.alive.checkins:
            await interaction.response.send_message("Check-ins are switched off for this bot.",
                                                    ephemeral=True)
            return
        await CheckInChoice(self.bot.store).choose(interaction.user.id, interaction.user.display_name, True)
        days = f"{settings.alive.checkin_after_days:g}"
        await interaction.response.send_message(
            f"I'll check on you with a DM if I haven't heard from you for {days} days (never more than one "
            "until you answer). `/checkin off` stops it.", ephemeral=True)

    @checkin.command(name="off", description="No more check-in DMs from me.")
    async def checkin_off(self, interaction: discord.Interaction[Any]) -> None:
        await CheckInChoice(self.bot.store).choose(interaction.user.id, interaction.user.display_name, False)
        await interaction.response.send_message("Understood: no check-in DMs from me. `/checkin on` brings "
                                                "them back.", ephemeral=True)


async def setup(bot: Kindred) -> None:
    await bot.add_cog(AliveCog(bot))
