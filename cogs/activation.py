"""Per-place settings (admins, servers only): ``/bot activate``, ``/bot deactivate`` and ``/bot status-
here``; a ``/bot <switch> on|off|default [scope]`` per registered switch, made when the cog is
(``SWITCHES``: read from the features' registrations, bot/features/, never made here; each command made by
bot/discord/switches.py; a server-wide one, such as ``/bot voice``, takes no scope); ``/bot status-
refresh`` (a new custom status now). A feature's own ``/bot`` subgroup is added by its cog, with the
switches whose command is in it (``/bot tasks``: cogs/place_tasks.py; ``/bot face``: cogs/faces.py; ``/bot
mcp``: cogs/mcp.py). A place switched off, or a switch set, is told to the features that asked
(``place_changed`` in their registrations: a voice call left where it may no longer be). A deactivated
channel or server gets no replies and no reply votes; its messages are still written to the log only when
``log_inactive_channels`` is true. The pipeline enforces this (its admission's observe,
bot/reply/admission.py, reads Store.is_active for every message); this cog only records the switches. A
channel's own setting wins over its server's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.i18n import sentences, t
from bot.discord.language import answer_language
from bot.discord.permissions import admin_only, in_server
from bot.discord.switches import Scope, place, place_changed, switch_command
from bot.features import FEATURES
from database.places import effective_activation

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)

# Every feature's switches, as their registrations (bot/features/ ``FEATURES``) declare them: each gets its
# ``/bot <name> on|off|default [scope]``, made when the cog is.
SWITCHES = {switch.name: switch for feature in FEATURES for switch in feature.switches}


def on_off(value: bool | None, language: str | None = None) -> str:
    if value is None:
        return t(language, "not set")
    return t(language, "active") if value else t(language, "inactive")


class Activation(commands.Cog):
    group = app_commands.Group(
        name="bot", description="Where the bot takes part (admins).", guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=discord.Permissions(administrator=True), extras={"admin": True})

    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.places = bot.services.tools.places
        for switch in SWITCHES.values():
            # one in a feature's own subgroup ("mcp private") is added by that subgroup's cog
            if switch.subcommand and " " not in switch.subcommand:
                self.group.add_command(switch_command(switch, switch.subcommand))  # this cog's own copy

    async def _switch(self, interaction: Interaction, scope: Scope, active: bool) -> None:
        language = await answer_language(interaction)
        place_type, place_id, name = place(interaction, scope, language)
        await self.places.set_active(place_type, place_id, active)
        log.info("admin %s %s %s %s", interaction.user.id, "activated" if active else "deactivated",
                 place_type, place_id)
        if active:
            text = t(language, "I'm active in {place}: I read along and reply there.", place=name)
        elif self.bot.settings.replies.log_inactive_channels:
            text = t(language, "I'm now inactive in {place}: no replies and no reply votes there. Messages "
                               "there are still logged.", place=name)
        else:
            text = t(language, "I'm now inactive in {place}: no replies and no reply votes there. Messages "
                               "there are not logged (log_inactive_channels is off).", place=name)
        if scope == "server":
            text = sentences(text, t(language, "Channels with their own setting keep it."))
        await interaction.response.send_message(text, ephemeral=True)
        if not active:  # e.g. out of a voice call it may no longer be in
            await place_changed(self.bot, interaction.guild_id)

    @group.command(name="activate", description="Let the bot take part in this channel or the whole server.")
    @app_commands.describe(scope="This channel (default) or the whole server")
    @in_server()
    @admin_only()
    async def activate(self, interaction: Interaction, scope: Scope = "channel") -> None:
        await self._switch(interaction, scope, True)

    @group.command(name="deactivate", description="Silence the bot in this channel or the whole server.")
    @app_commands.describe(scope="This channel (default) or the whole server")
    @in_server()
    @admin_only()
    async def deactivate(self, interaction: Interaction, scope: Scope = "channel") -> None:
        await self._switch(interaction, scope, False)

    @group.command(name="status-here", description="Whether the bot is active in this channel, and why.")
    @in_server()
    @admin_only()
    async def status_here(self, interaction: Interaction) -> None:
        channel_id, guild_id = int(interaction.channel_id or 0), interaction.guild_id
        # One fresh read: the answer and the reasons shown come from the same settings.
        channel_setting, server_setting = await self.places.activation(channel_id, guild_id)
        effective = effective_activation(channel_setting, server_setting)
        logged = effective or self.bot.settings.replies.log_inactive_channels
        language = await answer_language(interaction)
        values = {"state": on_off(effective, language), "channel": on_off(channel_setting, language),
                  "server": on_off(server_setting, language)}
        text = (t(language, "Here I am **{state}** (channel: {channel}, server: {server}; a channel setting "
                            "wins). Messages here are logged.", **values) if logged
                else t(language, "Here I am **{state}** (channel: {channel}, server: {server}; a channel "
                                 "setting wins). Messages here are not logged.", **values))
        await interaction.response.send_message(text, ephemeral=True)

    @group.command(name="status-refresh", description="Write and show a new custom status now.")
    @in_server()
    @admin_only()
    async def status_refresh(self, interaction: Interaction) -> None:
        alive = self.bot.services.alive
        language = await answer_language(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.edit_original_response(content=await alive.refresh_status_answer(language))


async def setup(bot: Kindred) -> None:
    await bot.add_cog(Activation(bot))
