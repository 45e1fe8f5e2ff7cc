"""The commands about a person's own conversation with the character (the cog ``UserCommands``):
/reset_conversation, /forget_last, /remember, /status, /help (/reroll is the swipes feature's:
cogs/swipes.py).

Thin Discord glue over :class:`bot.operator.conversation_tools.ConversationTools`. Every command acts on the
caller's own conversation where it is used (a DM, or this channel). Buttons belong to the person who ran the
command and expire (bot/discord/ui.py); the bot's error handler turns every failure into an ephemeral answer.

Where an admin used ``/bot deactivate``, these commands keep working, since they are about the caller's own
data (their history, memories and figures), which stays theirs to see and clean up wherever the bot is
silent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.i18n import sentences, t, tn
from bot.core.stages import conversation_scope, private_scope
from bot.core.text import clip
from bot.discord.language import answer_language
from bot.discord.panels import panel, show_panel
from bot.discord.places import private_place
from bot.discord.ui import OwnedView, confirm_timeout, help_lines, tell
from bot.operator.conversation_tools import (
    FORGET_DEFAULT,
    FORGET_MAX,
    FORGET_MIN,
    REMEMBER_MAX_CHARS,
    ConversationTools,
    InvalidInput,
    Pair,
)
from bot.reply.splitting import split_message

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)

PREVIEW_LIMIT = 1700  # room for the header and notes in a 2000-character message
PAIR_PREVIEW = 70


def scope_of(interaction: Interaction) -> str:
    """The conversation a command is about: the DM, or the channel it was used in (as Incoming.scope)."""
    return conversation_scope(interaction.guild is None, private_place(interaction.channel),
                              int(interaction.channel_id or 0))


# --------------------------------------------------------------------------- views


class ResetView(OwnedView):
    def __init__(self, tools: ConversationTools, origin: Interaction, scope: str,
                 language: str = "en") -> None:
        super().__init__(origin.user.id, origin, timeout=confirm_timeout(origin))
        self.tools = tools
        self.scope = scope
        self.language = language  # the one who ran the command's (bot/discord/language.py)
        self.content = sentences(
            t(language, "Reset our conversation in our direct messages?") if scope == "dm"
            else t(language, "Reset our conversation in this place?") if private_scope(scope)
            else t(language, "Reset our conversation in this channel?"),
            t(language, "I will forget what we said here (and its summary). Your core memories stay."))
        self.button(t(language, "Yes, reset"), "confirm", self.confirm, style=discord.ButtonStyle.danger)
        self.button(t(language, "Cancel"), "cancel", self.cancel)

    async def confirm(self, interaction: Interaction) -> None:
        removed = await self.tools.reset(interaction.user.id, self.scope)
        log.info("user %s reset their conversation in %s (%d turns)", interaction.user.id, self.scope,
                 removed)
        await self.finish(interaction, tn(self.language,
                                          "Done: our conversation here starts afresh ({count} message "
                                          "cleared). Your core memories are untouched.",
                                          "Done: our conversation here starts afresh ({count} messages "
                                          "cleared). Your core memories are untouched.", removed))

    async def cancel(self, interaction: Interaction) -> None:
        await self.finish(interaction, t(self.language, "Cancelled: nothing was changed."))


class ForgetView(OwnedView):
    """Pick exchanges (toggle buttons, ✅ on the chosen ones), then confirm."""

    def __init__(self, tools: ConversationTools, origin: Interaction, scope: str,
                 pairs: list[Pair], character: str, language: str = "en") -> None:
        super().__init__(origin.user.id, origin, timeout=confirm_timeout(origin))
        self.language = language  # the one who ran the command's
        self.tools = tools
        self.scope = scope
        self.pairs = pairs
        self.character = character
        self.selected: set[int] = set()
        self.confirming = False
        self.render()

    def render(self) -> None:
        self.clear_items()
        chosen = [p for p in self.pairs if p.key in self.selected]
        language = self.language
        if self.confirming:
            self.content = (tn(language, "Forget this {count} exchange for good?",
                               "Forget these {count} exchanges for good?", len(chosen)) + "\n"
                            + self.listing(only_selected=True))
            self.button(t(language, "Yes, forget {count}", count=len(chosen)), "confirm", self.confirm,
                        style=discord.ButtonStyle.danger)
            self.button(t(language, "Back"), "back", self.back)
            return
        self.content = (t(language, "Choose the exchanges to forget (✅ = will be forgotten), then press "
                                    "Forget selected.") + "\n"
                        + self.listing(only_selected=False))
        for number, pair in enumerate(self.pairs, 1):
            on = pair.key in self.selected
            self.button(f"{'✅' if on else '⬜'} {number}", f"pair:{pair.key}", self.toggler(pair.key),
                        style=discord.ButtonStyle.success if on else discord.ButtonStyle.secondary,
                        row=(number - 1) // 5)
        self.button(t(language, "Forget selected"), "forget", self.ask, style=discord.ButtonStyle.danger,
                    disabled=not chosen,
                    row=2)
        self.button(t(language, "Cancel"), "cancel", self.cancel, row=2)

    def listing(self, *, only_selected: bool) -> str:
        lines = []
        for number, pair in enumerate(self.pairs, 1):
            on = pair.key in self.selected
            if only_selected and not on:
                continue
            you = clip(pair.user_text, PAIR_PREVIEW) if pair.user_text else t(self.language, "(nothing)")
            me = (clip(pair.assistant_text, PAIR_PREVIEW) if pair.assistant_text
                  else t(self.language, "(no answer)"))
            lines.append(f"{'✅' if on else '⬜'} **{number}.** " + t(self.language, "You: {text}", text=you)
                         + f"\n      {self.character}: {me}")
        return "\n".join(lines)

    def toggler(self, key: int) -> Callable[[Interaction], Awaitable[None]]:
        async def toggle(interaction: Interaction) -> None:
            self.selected ^= {key}
            self.render()
            await interaction.response.edit_message(content=self.content, view=self)

        return toggle

    async def ask(self, interaction: Interaction) -> None:
        if not self.selected:
            await tell(interaction, t(self.language, "Select at least one exchange first."))
            return
        self.confirming = True
        self.render()
        await interaction.response.edit_message(content=self.content, view=self)

    async def back(self, interaction: Interaction) -> None:
        self.confirming = False
        self.render()
        await interaction.response.edit_message(content=self.content, view=self)

    async def confirm(self, interaction: Interaction) -> None:
        chosen = [p for p in self.pairs if p.key in self.selected]
        removed = await self.tools.forget(interaction.user.id, self.scope, chosen)
        log.info("user %s forgot %d exchanges (%d turns) in %s", interaction.user.id, len(chosen), removed,
                 self.scope)
        await self.finish(interaction, sentences(
            tn(self.language, "Forgotten: {count} exchange.", "Forgotten: {count} exchanges.", len(chosen)),
            tn(self.language, "{count} message removed from my memory of this conversation.",
               "{count} messages removed from my memory of this conversation.", removed)))

    async def cancel(self, interaction: Interaction) -> None:
        await self.finish(interaction, t(self.language, "Cancelled: nothing was forgotten."))


# --------------------------------------------------------------------------- the cog


class UserCommands(commands.Cog):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.tools = bot.services.conversation

    @property
    def character_name(self) -> str:
        return self.bot.services.pipeline.persona.name

    # -- commands

    @app_commands.command(name="reset_conversation",
                          description="Start our conversation here afresh (your core memories stay).")
    async def reset_conversation(self, interaction: Interaction) -> None:
        view = ResetView(self.tools, interaction, scope_of(interaction), await answer_language(interaction))
        await interaction.response.send_message(view.content, view=view, ephemeral=True)

    @app_commands.command(name="forget_last", description="Choose recent exchanges here for me to forget.")
    @app_commands.describe(count=f"How many recent exchanges to choose from ({FORGET_MIN}-{FORGET_MAX}, "
                                 f"default {FORGET_DEFAULT})")
    async def forget_last(self, interaction: Interaction,
                          count: app_commands.Range[int, FORGET_MIN, FORGET_MAX] = FORGET_DEFAULT) -> None:
        scope = scope_of(interaction)
        language = await answer_language(interaction)
        try:
            pairs = await self.tools.recent_pairs(interaction.user.id, scope, count)
        except InvalidInput as exc:  # Discord enforces the range, but a client may send anything
            await tell(interaction, exc.said(language))
            return
        if not pairs:
            await tell(interaction, t(language, "We have no exchanges here for me to forget."))
            return
        view = ForgetView(self.tools, interaction, scope, pairs, self.character_name, language)
        await interaction.response.send_message(view.content, view=view, ephemeral=True)

    @app_commands.command(name="remember", description="Add something to what I always remember about you.")
    @app_commands.describe(memory=f"What I should remember (up to {REMEMBER_MAX_CHARS} characters)")
    async def remember(self, interaction: Interaction, memory: str) -> None:
        try:
            await self.tools.remember(interaction.user.id, interaction.user.display_name, memory,
                                      private=private_scope(scope_of(interaction)),
                                      guild_id=interaction.guild_id)
        except InvalidInput as exc:  # its consent lines are the catalogs' (translated), the rest as they are
            await tell(interaction, exc.said(await answer_language(interaction)))
            return
        await tell(interaction, t(await answer_language(interaction), "I'll remember that: *{memory}*",
                                  memory=clip(memory, 300)))

    @app_commands.command(name="status",
                          description="Your usage, plan, and our conversation here in figures.")
    async def status(self, interaction: Interaction) -> None:
        figures = await self.tools.status(interaction.user.id, scope_of(interaction))
        language = await answer_language(interaction)
        alive = self.bot.services.alive
        feeling = alive.feeling_line(language) if self.bot.settings.alive.emotions else None
        fields = figures.fields(
            where=t(language, "our DMs") if interaction.guild is None else t(language, "this channel"),
            character=self.character_name,
            limits=await self.bot.services.limits.status_line(interaction.user.id, figures.premium, language),
            feeling=feeling, language=language)
        await show_panel(interaction, panel(t(language, "Your status with {character}",
                                              character=self.character_name), fields))

    @app_commands.command(name="help", description="Every command and what it does.")
    async def help(self, interaction: Interaction) -> None:
        language = await answer_language(interaction)
        lines = await help_lines(self.bot.tree, interaction.guild, interaction.locale, language)
        heading = t(language, "{character}: commands", character=self.character_name)
        text = f"**{heading}**\n" + "\n".join(lines)
        parts = split_message(text, 2000)
        await tell(interaction, parts[0])
        for part in parts[1:]:
            await interaction.followup.send(part, ephemeral=True)


async def setup(bot: Kindred) -> None:
    await bot.add_cog(UserCommands(bot))
