"""``/ask`` and the message menus "Ask <character>" and "Remember this": usable wherever the application is
installed, to a server or to a person (a server that never invited the bot, a group DM, the bot's DMs).

Thin Discord glue over :class:`bot.operator.asking.Asking`. The answer goes through the interaction: deferred
first (a reply takes longer than Discord's three seconds), then the first part replaces the "thinking…"
placeholder and the rest follow. Where the server keeps external apps from posting (the app may not send
messages there, as the interaction's ``app_permissions`` say), the answer is ephemeral, as Discord would
force it anyway. Like /reroll, asking is refused where an admin deactivated the bot or where the person may
not talk to it (a spending limit reached, say).

discord.py has no context menu inside a cog: the menus are module functions (reaching the bot's
:class:`Asking`), added to the tree when the cog loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.i18n import t
from bot.core.text import clip
from bot.discord.command_locales import menu_name
from bot.discord.language import answer_language
from bot.discord.permissions import active_here, may_talk
from bot.discord.ui import NO_PINGS, tell
from bot.operator.asking import Asker, Quoted
from bot.operator.conversation_tools import InvalidInput

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

ANYWHERE_INSTALLS = app_commands.AppInstallationType(guild=True, user=True)
ANYWHERE_CONTEXTS = app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=True)


async def asker_of(interaction: Interaction, language: str | None = None) -> Asker:
    """Who asks, and the language they read (``language``: found already)."""
    return Asker(interaction.user.id, interaction.user.display_name, int(interaction.channel_id or 0),
                 interaction.id, interaction.guild_id, language or await answer_language(interaction))


def quoted_of(interaction: Interaction, message: discord.Message) -> Quoted:
    """The message a menu was used on (written where the menu was used: a server the bot may not know)."""
    return Quoted(message.author.display_name, message.content, message.author.id, message.author.bot,
                  message.created_at, interaction.guild_id)


def ephemeral_here(interaction: Interaction) -> bool:
    """Whether the answer is shown to the asker alone: everywhere but their own DM with the bot (a server, a
    group DM), since it is drawn from their private memory, whose audience is them alone
    (database/visibility.py); and wherever the app may not post."""
    return not interaction.context.dm_channel or not interaction.app_permissions.send_messages


async def answer(interaction: Interaction, parts: list[str]) -> None:
    """The deferred answer: the first part replaces the placeholder, the others are follow-ups."""
    if not parts:
        parts = ["…"]  # the character did not answer (a limit, a gate): the placeholder must not hang
    await interaction.edit_original_response(content=parts[0], allowed_mentions=NO_PINGS)
    for part in parts[1:]:
        await interaction.followup.send(part, ephemeral=ephemeral_here(interaction),
                                        allowed_mentions=NO_PINGS)


@active_here()  # the menu's checks: a ContextMenu reads them off its callback
@may_talk()
async def ask_about(interaction: Interaction, message: discord.Message) -> None:
    await interaction.response.defer(thinking=True, ephemeral=ephemeral_here(interaction))
    interaction.client.services.alive.felt.asked_about(message.id)  # reactions on it now reach it
    asking = interaction.client.services.asking
    asker = await asker_of(interaction)
    await answer(interaction, await asking.ask_about(asker, quoted_of(interaction, message)))


async def remember_this(interaction: Interaction, message: discord.Message) -> None:
    language = await answer_language(interaction)
    try:
        await interaction.client.services.asking.remember(await asker_of(interaction, language),
                                                          quoted_of(interaction, message))
    except InvalidInput as exc:
        await tell(interaction, exc.said(language))
        return
    await tell(interaction, t(language, "I'll remember that {name} said: *{text}*",
                              name=message.author.display_name, text=clip(message.content, 300)))


class AskCommands(commands.Cog):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.asking = bot.services.asking
        self.menus = [
            app_commands.ContextMenu(name=menu_name("Ask {name}", name=self.asking.name),
                                     callback=ask_about, allowed_installs=ANYWHERE_INSTALLS,
                                     allowed_contexts=ANYWHERE_CONTEXTS),
            app_commands.ContextMenu(name="Remember this", callback=remember_this,
                                     allowed_installs=ANYWHERE_INSTALLS, allowed_contexts=ANYWHERE_CONTEXTS),
        ]

    async def cog_load(self) -> None:
        for menu in self.menus:
            self.bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    @app_commands.command(name="ask", description="Ask me something, anywhere: the answer stays between us.")
    @app_commands.describe(message="What to say to me")
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    @active_here()
    @may_talk()
    async def ask(self, interaction: Interaction, message: str) -> None:
        await interaction.response.defer(thinking=True, ephemeral=ephemeral_here(interaction))
        await answer(interaction, await self.asking.ask(await asker_of(interaction), message))


async def setup(bot: Kindred) -> None:
    await bot.add_cog(AskCommands(bot))
