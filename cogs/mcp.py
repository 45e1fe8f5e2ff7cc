"""``/bot mcp add|allow|remove|list`` (server admins): the MCP servers whose tools the character may use in
this server (bot/features/mcp/admin.py), and ``/bot mcp private`` (the feature's place switch: its tools in
private places here). A subgroup of ``/bot`` (cogs/activation.py), added to it when this cog loads: the MCP
feature's registration lists this cog. Thin Discord glue; answers are ephemeral, in the admin's language."""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord import app_commands

from bot.discord.language import answer_language
from bot.discord.permissions import server_admin_only
from bot.discord.subgroups import BotSubgroup
from bot.discord.ui import send_long, tell
from bot.features.mcp import FEATURE, McpAdmin

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred


def mcp_admin(interaction: Interaction) -> McpAdmin:
    return interaction.client.services.part(McpAdmin)


class McpCommands(app_commands.Group):
    """The subgroup, one for each bot (its cog builds it): it holds nothing of a bot's and
    reads the MCP servers from the bot the interaction came to."""

    @app_commands.command(name="add",
                          description="Add an MCP server (https URL, or local:NAME) and allow its tools.")
    @app_commands.describe(name="A short name here (its tools are named after it)",
                           url="The server's streamable HTTP URL, or local:NAME for the operator's own",
                           tools="The tools to allow, comma-separated (none: see them, allow later)")
    @server_admin_only()
    async def mcp_add(self, interaction: Interaction, name: str, url: str, tools: str = "") -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # its tools are listed: a call out
        await send_long(interaction, await mcp_admin(interaction).add(
            int(interaction.guild_id or 0), interaction.user.id, name, url, tools,
            await answer_language(interaction)), deferred=True)

    @app_commands.command(name="allow", description="Which tools of an MCP server I may use here.")
    @app_commands.describe(name="The server's name here", tools="Tool names, comma-separated (empty: none)")
    @server_admin_only()
    async def mcp_allow(self, interaction: Interaction, name: str, tools: str = "") -> None:
        await tell(interaction, await mcp_admin(interaction).allow(
            int(interaction.guild_id or 0), interaction.user.id, name, tools,
            await answer_language(interaction)))

    @app_commands.command(name="remove",
                          description="Remove an MCP server: its tools are no longer offered here.")
    @app_commands.describe(name="The server's name here")
    @server_admin_only()
    async def mcp_remove(self, interaction: Interaction, name: str) -> None:
        await tell(interaction, await mcp_admin(interaction).remove(
            int(interaction.guild_id or 0), interaction.user.id, name, await answer_language(interaction)))

    @app_commands.command(name="list", description="The MCP servers added here and their allowed tools.")
    @server_admin_only()
    async def mcp_list(self, interaction: Interaction) -> None:
        await tell(interaction, await mcp_admin(interaction).show(int(interaction.guild_id or 0),
                                                                  await answer_language(interaction)))


class McpAdminCommands(BotSubgroup):
    def __init__(self, bot: Kindred) -> None:
        group = McpCommands(name="mcp", description="MCP servers whose tools I may use here (server admins).")
        super().__init__(bot, group, FEATURE.switches)


async def setup(bot: Kindred) -> None:
    await bot.add_cog(McpAdminCommands(bot))
