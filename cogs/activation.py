"""Per-place settings (admins, servers only): ``/bot activate``, ``/bot deactivate`` and ``/bot status-here``;
a ``/bot <switch> on|off|default [scope]`` per registered switch, made when the cog is (``SWITCHES``: the
features' registrations, bot/features/, and the cog's own ``OWN_SWITCHES``: emote reactions,
correction answers, conversation threads); ``/bot voice`` (whether people may call the character into a
voice channel, server-wide: bot/features/voice/calls.py, which also leaves a call in a place switched off);
``/bot mcp add|allow|remove|list`` (the MCP servers whose tools the character may use here,
bot/features/mcp/: server admins); ``/bot status-refresh`` (a new custom status now). A feature's own
``/bot`` subgroup is added by its cog (``/bot tasks``: cogs/place_tasks.py; ``/bot face``: cogs/faces.py).
A deactivated channel or server gets no replies and no reply votes; its messages are still written to the
log only when ``log_inactive_channels`` is true. The pipeline enforces this (its admission's observe,
bot/reply/admission.py, reads Store.is_active for every message); this cog only records the switches. A
channel's own setting wins over its server's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.config import AliveSettings, DiscordSettings
from bot.discord.permissions import admin_only, in_server, server_admin_only
from bot.discord.ui import send_long, tell
from bot.features import FEATURES
from bot.features.mcp import McpAdmin
from bot.features.voice.calls import Calls
from bot.operator.registration import Switch
from database.places import effective_activation

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)

Scope = Literal["channel", "server"]
OnOff = Literal["on", "off", "default"]
# The switches of what is not yet a feature package of its own; the features' come with their registrations
# (bot/features/ ``FEATURES``). Each gets its ``/bot <name> on|off|default [scope]``, made when the cog is.
OWN_SWITCHES = (
    Switch("reactions", "Let me react with emotes to warm messages I don't answer.",
           "I react with an emote to warm messages I don't answer", section=AliveSettings,
           key="emote_reactions"),
    Switch("corrections", "Answer a correction reaction (👎) on one of my replies right away (or not).",
           "a correction reaction on one of my replies gets a short answer of its own",
           section=AliveSettings, key="correction_answers"),
    Switch("threads", "Go on with a conversation in a thread I open (or not).",
           "a conversation started with me goes on in a thread I open, where I answer every message",
           section=DiscordSettings, key="conversation_threads"))
SWITCHES = {switch.name: switch for switch in (*OWN_SWITCHES, *(s for f in FEATURES for s in f.switches))}


def on_off(value: bool | None) -> str:
    return "not set" if value is None else ("active" if value else "inactive")


class Activation(commands.Cog):
    group = app_commands.Group(
        name="bot", description="Where the bot takes part (admins).", guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=discord.Permissions(administrator=True), extras={"admin": True})
    mcp = app_commands.Group(name="mcp", parent=group,
                             description="MCP servers whose tools I may use here (server admins).")

    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.places = bot.services.tools.places
        self.calls = bot.services.part(Calls)
        self.mcp_admin = bot.services.part(McpAdmin)
        for switch in SWITCHES.values():
            if switch.subcommand:
                self._add_switch_command(switch)

    def _add_switch_command(self, switch: Switch) -> None:
        """``/bot <switch> on|off|default [scope]``, in the subgroup its command names (``mcp private``)."""
        *path, name = switch.subcommand.split()
        parent = self.group  # this cog's own copy of the group
        for step in path:
            [parent] = [c for c in parent.commands if isinstance(c, app_commands.Group) and c.name == step]

        async def set_here(interaction: Interaction, state: OnOff, scope: Scope = "channel") -> None:
            await self._set_switch(interaction, switch.name, state, scope)

        set_here = app_commands.describe(state=f"on, off, or default ({switch.default_name})",
                                         scope="This channel (default) or the whole server")(set_here)
        if switch.server_admins:
            set_here = server_admin_only()(set_here)
        else:
            set_here = in_server()(admin_only()(set_here))
        parent.add_command(app_commands.Command(name=name, description=switch.description, callback=set_here))

    def _place(self, interaction: Interaction, scope: Scope) -> tuple[str, int, str]:
        """(place type, place id, how to name it) for the database."""
        if scope == "server":
            guild = interaction.guild
            return ("guild", int(interaction.guild_id or 0),
                    f"the server {guild.name}" if guild else "this server")
        channel = interaction.channel
        name = getattr(channel, "mention", None) or "this channel"
        return "channel", int(interaction.channel_id or 0), name

    async def _switch(self, interaction: Interaction, scope: Scope, active: bool) -> None:
        place_type, place_id, name = self._place(interaction, scope)
        await self.places.set_active(place_type, place_id, active)
        log.info("admin %s %s %s %s", interaction.user.id, "activated" if active else "deactivated",
                 place_type, place_id)
        if active:
            text = f"I'm active in {name}: I read along and reply there."
        else:
            logged = ("still logged" if self.bot.settings.replies.log_inactive_channels
                      else "not logged (log_inactive_channels is off)")
            text = (f"I'm now inactive in {name}: no replies and no reply votes there. "
                    f"Messages there are {logged}.")
        if scope == "server":
            text += " Channels with their own setting keep it."
        await interaction.response.send_message(text, ephemeral=True)
        if interaction.guild_id is not None and not active:
            await self.calls.recheck(interaction.guild_id)  # out of a voice channel it may no longer be in

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
        logging_note = "logged" if logged else "not logged"
        await interaction.response.send_message(
            f"Here I am **{'active' if effective else 'inactive'}** (channel: {on_off(channel_setting)}, "
            f"server: {on_off(server_setting)}; a channel setting wins). Messages here are {logging_note}.",
            ephemeral=True)

    async def _set_switch(self, interaction: Interaction, switch: str, state: OnOff,
                          scope: Scope) -> None:
        place_type, place_id, name = self._place(interaction, scope)
        wanted = None if state == "default" else state == "on"
        await self.places.set_switch(switch, place_type, place_id, wanted)
        declared = SWITCHES[switch]
        default, default_key = declared.default_from(self.bot.settings), declared.default_name
        what = declared.what
        channel_id, guild_id = int(interaction.channel_id or 0), interaction.guild_id
        if declared.mastered:
            effective = default and await self.places.switch_is_on(switch, channel_id, guild_id, True)
        else:
            effective = await self.places.switch_is_on(switch, channel_id, guild_id, default)
        log.info("admin %s set %s %s for %s %s", interaction.user.id, switch, state, place_type, place_id)
        title = switch.replace("_", " ").capitalize()
        head = (f"{title} for {name}: back to the default ({'on' if default else 'off'}, {default_key})."
                if state == "default" else f"{title} is **{state}** for {name}.")
        await interaction.response.send_message(
            f"{head} Here it is now **{'on' if effective else 'off'}**: "
            f"{what if effective else 'not here'}. A channel setting wins over its server's.", ephemeral=True)

    @group.command(name="voice", description="Let people call me into voice channels here (or not).")
    @app_commands.describe(state="on, off, or default (the voice_channels setting)")
    @in_server()
    @admin_only()
    async def voice(self, interaction: Interaction, state: OnOff) -> None:
        await self._set_switch(interaction, "voice", state, "server")
        assert interaction.guild_id is not None  # in_server
        await self.calls.recheck(interaction.guild_id)

    @group.command(name="status-refresh", description="Write and show a new custom status now.")
    @in_server()
    @admin_only()
    async def status_refresh(self, interaction: Interaction) -> None:
        alive = self.bot.services.alive
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.edit_original_response(content=await alive.refresh_status_answer())


    # -- /bot mcp: the MCP servers whose tools the character may use here (bot/features/mcp/admin.py)

    @mcp.command(name="add", description="Add an MCP server (https URL, or local:NAME) and allow its tools.")
    @app_commands.describe(name="A short name here (its tools are named after it)",
                           url="The server's streamable HTTP URL, or local:NAME for the operator's own",
                           tools="The tools to allow, comma-separated (none: see them, allow later)")
    @server_admin_only()
    async def mcp_add(self, interaction: Interaction, name: str, url: str, tools: str = "") -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # its tools are listed: a call out
        await send_long(interaction, await self.mcp_admin.add(
            int(interaction.guild_id or 0), interaction.user.id, name, url, tools), deferred=True)

    @mcp.command(name="allow", description="Which tools of an MCP server I may use here.")
    @app_commands.describe(name="The server's name here", tools="Tool names, comma-separated (empty: none)")
    @server_admin_only()
    async def mcp_allow(self, interaction: Interaction, name: str, tools: str = "") -> None:
        await tell(interaction, await self.mcp_admin.allow(
            int(interaction.guild_id or 0), interaction.user.id, name, tools))

    @mcp.command(name="remove", description="Remove an MCP server: its tools are no longer offered here.")
    @app_commands.describe(name="The server's name here")
    @server_admin_only()
    async def mcp_remove(self, interaction: Interaction, name: str) -> None:
        await tell(interaction, await self.mcp_admin.remove(
            int(interaction.guild_id or 0), interaction.user.id, name))

    @mcp.command(name="list", description="The MCP servers added here and their allowed tools.")
    @server_admin_only()
    async def mcp_list(self, interaction: Interaction) -> None:
        await tell(interaction, await self.mcp_admin.show(int(interaction.guild_id or 0)))


async def setup(bot: Kindred) -> None:
    await bot.add_cog(Activation(bot))
