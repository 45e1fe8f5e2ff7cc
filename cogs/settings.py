"""Per-place activation: ``/bot activate``, ``/bot deactivate`` and ``/bot status-here`` (admins,
servers only).

A deactivated channel or server gets no replies and no reply votes; its messages are still written to the
log only when ``log_inactive_channels`` is true. The engine enforces this (ReplyEngine.observe reads
Store.is_active for every message); this cog only records the switches. A channel's own setting wins
over its server's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.permissions import admin_only, in_server
from database.places import effective_activation

if TYPE_CHECKING:
    from bot.client import Kindred

log = logging.getLogger(__name__)

Scope = Literal["channel", "server"]


def on_off(value: bool | None) -> str:
    return "not set" if value is None else ("active" if value else "inactive")


class PlaceSettings(commands.Cog):
    group = app_commands.Group(
        name="bot", description="Where the bot takes part (admins).", guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=discord.Permissions(administrator=True), extras={"admin": True})

    def __init__(self, bot: Kindred) -> None:
        self.bot = bot

    def _place(self, interaction: discord.Interaction[Any], scope: Scope) -> tuple[str, int, str]:
        """(place type, place id, how to name it) for the store."""
        if scope == "server":
            guild = interaction.guild
            return ("guild", int(interaction.guild_id or 0),
                    f"the server {guild.name}" if guild else "this server")
        channel = interaction.channel
        name = getattr(channel, "mention", None) or "this channel"
        return "channel", int(interaction.channel_id or 0), name

    async def _switch(self, interaction: discord.Interaction[Any], scope: Scope, active: bool) -> None:
        place_type, place_id, name = self._place(interaction, scope)
        await self.bot.store.places.set_active(place_type, place_id, active)
        log.info("admin %s %s %s %s", interaction.user.id, "activated" if active else "deactivated",
                 place_type, place_id)
        if active:
            text = f"I'm active in {name}: I read along and reply there."
        else:
            logged = ("still logged" if self.bot.settings.log_inactive_channels
                      else "not logged (log_inactive_channels is off)")
            text = (f"I'm now inactive in {name}: no replies and no reply votes there. "
                    f"Messages there are {logged}.")
        if scope == "server":
            text += " Channels with their own setting keep it."
        await interaction.response.send_message(text, ephemeral=True)

    @group.command(name="activate", description="Let the bot take part in this channel or the whole server.")
    @app_commands.describe(scope="This channel (default) or the whole server")
    @in_server()
    @admin_only()
    async def activate(self, interaction: discord.Interaction[Any], scope: Scope = "channel") -> None:
        await self._switch(interaction, scope, True)

    @group.command(name="deactivate", description="Silence the bot in this channel or the whole server.")
    @app_commands.describe(scope="This channel (default) or the whole server")
    @in_server()
    @admin_only()
    async def deactivate(self, interaction: discord.Interaction[Any], scope: Scope = "channel") -> None:
        await self._switch(interaction, scope, False)

    @group.command(name="status-here", description="Whether the bot is active in this channel, and why.")
    @in_server()
    @admin_only()
    async def status_here(self, interaction: discord.Interaction[Any]) -> None:
        channel_id, guild_id = int(interaction.channel_id or 0), interaction.guild_id
        # One fresh read: the answer and the reasons shown come from the same settings.
        channel_setting, server_setting = await self.bot.store.places.activation(channel_id, guild_id,
                                                                                 fresh=True)
        effective = effective_activation(channel_setting, server_setting)
        logging_note = "logged" if effective or self.bot.settings.log_inactive_channels else "not logged"
        await interaction.response.send_message(
            f"Here I am **{'active' if effective else 'inactive'}** (channel: {on_off(channel_setting)}, "
            f"server: {on_off(server_setting)}; a channel setting wins). Messages here are {logging_note}.",
            ephemeral=True)


async def setup(bot: Kindred) -> None:
    await bot.add_cog(PlaceSettings(bot))
