"""The commands about a person's own conversation with the character (the cog ``UserCommands``):
/reset_conversation, /forget_last, /reroll, /remember, /status, /help.

Thin Discord glue over :class:`bot.operator.conversation_tools.ConversationTools`. Every command acts on the
caller's own conversation where it is used (a DM, or this channel). Buttons belong to the person who ran the
command and expire (bot/discord/ui.py); the bot's error handler turns every failure into an ephemeral answer.

Where an admin used ``/bot deactivate``, /reroll (and its Redo and Accept buttons) refuse: they make the
character speak there. The other commands keep working, since they are about the caller's own data (their
history, memories and figures), which stays theirs to see and clean up wherever the bot is silent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.alive.service import Alive
from bot.core.pipeline import conversation_scope, private_scope
from bot.core.text import clip
from bot.discord.flow import age_restricted_place, private_place
from bot.discord.permissions import (
    Inactive,
    NotAllowed,
    active_here,
    may_talk,
    require_active,
    require_may_talk,
)
from bot.discord.posting import SendOptions, allowed_mentions_for
from bot.discord.ui import OwnedView, confirm_timeout, help_lines, tell
from bot.operator.conversation_tools import (
    FORGET_DEFAULT,
    FORGET_MAX,
    FORGET_MIN,
    REMEMBER_MAX_CHARS,
    ConversationTools,
    Draft,
    InvalidInput,
    Pair,
    RerollSession,
    StaleReroll,
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
    def __init__(self, tools: ConversationTools, origin: Interaction, scope: str) -> None:
        super().__init__(origin.user.id, origin, timeout=confirm_timeout(origin))
        self.tools = tools
        self.scope = scope
        where = "our direct messages" if scope == "dm" else "this place" if private_scope(scope) \
            else "this channel"
        self.content = (f"Reset our conversation in {where}? "
                        "I will forget what we said here (and its summary). "
                        "Your core memories stay.")
        self.button("Yes, reset", "confirm", self.confirm, style=discord.ButtonStyle.danger)
        self.button("Cancel", "cancel", self.cancel)

    async def confirm(self, interaction: Interaction) -> None:
        removed = await self.tools.reset(interaction.user.id, self.scope)
        log.info("user %s reset their conversation in %s (%d turns)", interaction.user.id, self.scope,
                 removed)
        await self.finish(interaction, f"Done: our conversation here starts afresh "
                                       f"({removed} messages cleared). "
                                       "Your core memories are untouched.")

    async def cancel(self, interaction: Interaction) -> None:
        await self.finish(interaction, "Cancelled: nothing was changed.")


class ForgetView(OwnedView):
    """Pick exchanges (toggle buttons, ✅ on the chosen ones), then confirm."""

    def __init__(self, tools: ConversationTools, origin: Interaction, scope: str,
                 pairs: list[Pair], character: str) -> None:
        super().__init__(origin.user.id, origin, timeout=confirm_timeout(origin))
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
        if self.confirming:
            self.content = (f"Forget these {len(chosen)} exchange(s) for good?\n"
                            + self.listing(only_selected=True))
            self.button(f"Yes, forget {len(chosen)}", "confirm", self.confirm,
                        style=discord.ButtonStyle.danger)
            self.button("Back", "back", self.back)
            return
        self.content = ("Choose the exchanges to forget (✅ = will be forgotten), "
                        "then press Forget selected.\n"
                        + self.listing(only_selected=False))
        for number, pair in enumerate(self.pairs, 1):
            on = pair.key in self.selected
            self.button(f"{'✅' if on else '⬜'} {number}", f"pair:{pair.key}", self.toggler(pair.key),
                        style=discord.ButtonStyle.success if on else discord.ButtonStyle.secondary,
                        row=(number - 1) // 5)
        self.button("Forget selected", "forget", self.ask, style=discord.ButtonStyle.danger,
                    disabled=not chosen,
                    row=2)
        self.button("Cancel", "cancel", self.cancel, row=2)

    def listing(self, *, only_selected: bool) -> str:
        lines = []
        for number, pair in enumerate(self.pairs, 1):
            on = pair.key in self.selected
            if only_selected and not on:
                continue
            you = clip(pair.user_text, PAIR_PREVIEW) if pair.user_text else "(nothing)"
            me = clip(pair.assistant_text, PAIR_PREVIEW) if pair.assistant_text else "(no answer)"
            lines.append(f"{'✅' if on else '⬜'} **{number}.** You: {you}\n      {self.character}: {me}")
        return "\n".join(lines)

    def toggler(self, key: int) -> Callable[[Interaction], Awaitable[None]]:
        async def toggle(interaction: Interaction) -> None:
            self.selected ^= {key}
            self.render()
            await interaction.response.edit_message(content=self.content, view=self)

        return toggle

    async def ask(self, interaction: Interaction) -> None:
        if not self.selected:
            await tell(interaction, "Select at least one exchange first.")
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
        await self.finish(interaction, f"Forgotten: {len(chosen)} exchange(s), {removed} message(s) removed "
                                       "from my memory of this conversation.")

    async def cancel(self, interaction: Interaction) -> None:
        await self.finish(interaction, "Cancelled: nothing was forgotten.")


class RerollView(OwnedView):
    """Accept / Redo / Dismiss for a rerolled answer shown as an ephemeral preview.

    The buttons live ``reroll_timeout_seconds`` from when the preview first appears. discord.py's own view
    timeout restarts at every click, so a user pressing Redo could keep them alive for ever; the expiry is
    scheduled here instead."""

    def __init__(self, cog: UserCommands, origin: Interaction, session: RerollSession) -> None:
        super().__init__(origin.user.id, origin, timeout=None)
        self.cog = cog
        self.session = session
        self.draft: Draft | None = None
        self.lifetime = float(cog.bot.settings.discord.reroll_timeout_seconds) or None
        self.expiry: asyncio.Task[None] | None = None
        # One action at a time: a second click while a draft is generated or posted is told to wait.
        self.busy = asyncio.Lock()
        self.accept_button = self.button("Accept", "accept", self.accept, style=discord.ButtonStyle.success)
        self.redo_button = self.button("Redo", "redo", self.redo, style=discord.ButtonStyle.primary)
        self.dismiss_button = self.button("Dismiss", "dismiss", self.dismiss)

    def set_enabled(self, enabled: bool) -> None:
        self.accept_button.disabled = not enabled or not (self.draft and self.draft.ok)
        self.redo_button.disabled = not enabled
        self.dismiss_button.disabled = not enabled

    def render(self) -> str:
        assert self.draft is not None
        text = self.draft.text
        if len(text) > PREVIEW_LIMIT:
            text = text[:PREVIEW_LIMIT].rstrip() + f"… *(+{len(self.draft.text) - PREVIEW_LIMIT} characters)*"
        note = f" Steered by: *{clip(self.session.ooc_context, 150)}*" if self.session.ooc_context else ""
        if not self.draft.ok:
            return (f"{text}\n\n-# I could not come up with a new answer just now. "
                    "Try Redo in a moment, or Dismiss.")
        return (f"{text}\n\n-# Reroll preview (only you see this).{note} "
                "Accept posts it here and makes it my "
                "answer; Redo tries again; Dismiss keeps the old answer.")

    async def show_new_draft(self, interaction: Interaction) -> None:
        """Generate a draft and show it on the preview (the interaction was already answered or deferred)."""
        self.draft = await self.session.draft()
        self.content = self.render()
        if self.is_finished():  # the buttons expired while this draft was generated: show it, disabled
            await self.on_timeout()
            return
        self.set_enabled(True)
        await interaction.edit_original_response(content=self.content, view=self)
        if self.expiry is None and self.lifetime:
            self.expiry = asyncio.create_task(self.expire_after(self.lifetime),
                                              name=f"reroll-expiry-{self.token}")

    async def expire_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if not self.is_finished():
            self.stop()
            await self.on_timeout()

    async def refused_here(self, interaction: Interaction) -> bool:
        """Tell the user and return True when the bot was deactivated here since the preview appeared (or
        they may no longer make it speak: blocked, or a daily limit reached)."""
        try:
            await require_active(self.cog.bot, interaction)
            await require_may_talk(self.cog.bot, interaction)
        except (Inactive, NotAllowed) as exc:
            await tell(interaction, str(exc))
            return True
        return False

    async def wait_your_turn(self, interaction: Interaction) -> bool:
        if self.busy.locked():
            await tell(interaction, "Just a moment: I'm still on your previous click.")
            return True
        return False

    async def redo(self, interaction: Interaction) -> None:
        if await self.wait_your_turn(interaction) or await self.refused_here(interaction):
            return
        async with self.busy:
            self.set_enabled(False)
            await interaction.response.edit_message(content=f"{self.content}\n\n-# Rerolling…", view=self)
            await self.show_new_draft(interaction)

    async def accept(self, interaction: Interaction) -> None:
        if await self.wait_your_turn(interaction):
            return
        async with self.busy:
            await self._accept(interaction)

    async def _accept(self, interaction: Interaction) -> None:
        if self.draft is None or not self.draft.ok:
            await tell(interaction, "There is no answer to accept yet: press Redo.")
            return
        if await self.refused_here(interaction):
            return
        await interaction.response.defer()
        try:
            await self.session.ensure_current()
        except StaleReroll:
            await self.finish(interaction, "The conversation has moved on since this reroll started, "
                                           "so I left it "
                                           "as it is. Use /reroll again for the newest answer.")
            return
        ids = await self.cog.post_publicly(interaction, self.session, self.draft.text)
        try:
            await self.session.save(self.draft.text, ids[-1] if ids else None)
        except StaleReroll:
            await self.finish(interaction, "Posted, but the conversation moved on meanwhile, "
                                           "so my memory of it "
                                           "keeps the newer exchange.")
            return
        log.info("user %s accepted a reroll in %s", interaction.user.id, self.session.target.scope)
        await self.finish(interaction, "Posted. That is now my answer in our conversation.")

    async def dismiss(self, interaction: Interaction) -> None:
        if await self.wait_your_turn(interaction):
            return
        await self.finish(interaction, "Dismissed: my original answer stays.")


# --------------------------------------------------------------------------- the cog


class UserCommands(commands.Cog):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.tools = bot.services.conversation

    @property
    def character_name(self) -> str:
        return self.bot.engine.persona.name

    # -- commands

    @app_commands.command(name="reset_conversation",
                          description="Start our conversation here afresh (your core memories stay).")
    async def reset_conversation(self, interaction: Interaction) -> None:
        view = ResetView(self.tools, interaction, scope_of(interaction))
        await interaction.response.send_message(view.content, view=view, ephemeral=True)

    @app_commands.command(name="forget_last", description="Choose recent exchanges here for me to forget.")
    @app_commands.describe(count=f"How many recent exchanges to choose from ({FORGET_MIN}-{FORGET_MAX}, "
                                 f"default {FORGET_DEFAULT})")
    async def forget_last(self, interaction: Interaction,
                          count: app_commands.Range[int, FORGET_MIN, FORGET_MAX] = FORGET_DEFAULT) -> None:
        scope = scope_of(interaction)
        try:
            pairs = await self.tools.recent_pairs(interaction.user.id, scope, count)
        except InvalidInput as exc:  # Discord enforces the range, but a client may send anything
            await tell(interaction, str(exc))
            return
        if not pairs:
            await tell(interaction, "We have no exchanges here for me to forget.")
            return
        view = ForgetView(self.tools, interaction, scope, pairs, self.character_name)
        await interaction.response.send_message(view.content, view=view, ephemeral=True)

    @app_commands.command(name="reroll", description="Get a different answer to your last message here.")
    @app_commands.describe(context="Optional out-of-character note to steer the new answer")
    @active_here()
    @may_talk()
    async def reroll(self, interaction: Interaction, context: str | None = None) -> None:
        scope = scope_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        target = await self.tools.reroll_target(interaction.user.id, scope)
        if target is None:
            await interaction.edit_original_response(content="There is nothing to reroll: you haven't said "
                                                             "anything to me here yet.")
            return
        channel = interaction.channel
        session = self.tools.reroll(
            target, author_name=interaction.user.display_name, channel_id=interaction.channel_id or 0,
            guild_id=interaction.guild_id, guild_name=interaction.guild.name if interaction.guild else "",
            channel_name=getattr(channel, "name", "") or "", ooc_context=context or "",
            age_restricted=age_restricted_place(channel))
        view = RerollView(self, interaction, session)
        await view.show_new_draft(interaction)

    async def post_publicly(self, interaction: Interaction, session: RerollSession,
                            text: str) -> list[int]:
        """Post an accepted reroll as ordinary channel messages (split when long); in a server the first part
        replies to the message it answers, like a normal reply."""
        here = interaction.channel
        channel: discord.abc.Messageable = (
            here if isinstance(here, discord.abc.Messageable)
            else self.bot.get_partial_messageable(interaction.channel_id or 0))
        answered = session.target.user_turn.discord_message_id
        ids: list[int] = []
        for i, part in enumerate(split_message(text, self.bot.settings.discord.max_message_length)):
            reference = None
            if i == 0 and answered and interaction.guild is not None:
                reference = discord.MessageReference(message_id=answered,
                                                     channel_id=interaction.channel_id or 0,
                                                     fail_if_not_exists=False)
            kwargs: SendOptions = {"allowed_mentions": allowed_mentions_for(part)}
            if reference is not None:
                kwargs["reference"] = reference
                kwargs["mention_author"] = False
            ids.append((await channel.send(part, **kwargs)).id)
        return ids

    @app_commands.command(name="remember", description="Add something to what I always remember about you.")
    @app_commands.describe(memory=f"What I should remember (up to {REMEMBER_MAX_CHARS} characters)")
    async def remember(self, interaction: Interaction, memory: str) -> None:
        try:
            await self.tools.remember(interaction.user.id, interaction.user.display_name, memory,
                                      private=private_scope(scope_of(interaction)),
                                      guild_id=interaction.guild_id)
        except InvalidInput as exc:
            await tell(interaction, str(exc))
            return
        await tell(interaction, f"I'll remember that: *{clip(memory, 300)}*")

    @app_commands.command(name="status",
                          description="Your usage, plan, and our conversation here in figures.")
    async def status(self, interaction: Interaction) -> None:
        figures = await self.tools.status(interaction.user.id, scope_of(interaction))
        usage = figures.usage
        where = "our DMs" if interaction.guild is None else "this channel"
        embed = discord.Embed(title=f"Your status with {self.character_name}")
        embed.add_field(name="Plan", value="Premium" if figures.premium else "Standard")
        left = await self.bot.limits.status_line(interaction.user.id, figures.premium)  # spending limits
        if left:
            embed.add_field(name="Today's limits", value=left, inline=False)
        embed.add_field(name="Usage (all time)", inline=False, value=(
            f"{usage.calls} calls · {usage.total_tokens:,} tokens ({usage.input_tokens:,} in, "
            f"{usage.output_tokens:,} out, {usage.cache_read_tokens:,} cache read, "
            f"{usage.cache_creation_tokens:,} cache write) · ${usage.cost:.4f}"))
        embed.add_field(name=f"Conversation in {where}", inline=False, value=(
            f"{figures.history_messages} messages · {figures.history_tokens:,} tokens"
            + (" (with a summary of earlier talk)" if figures.has_summary else "")))
        embed.add_field(name="Core memories", value=str(figures.core_memories))
        alive: Alive | None = getattr(self.bot, "alive", None)
        if alive is not None and self.bot.settings.alive.emotions:
            embed.add_field(name=f"How {self.character_name} feels", inline=False, value=alive.feeling_line())
        if figures.stage is not None:
            stage = figures.stage
            embed.add_field(name="Stage", inline=False, value=(
                f"{stage.name or 'not reached yet'} · {stage.interactions:,} interactions"
                + (f" · next: {stage.next_name} at {stage.next_at:,}" if stage.next_name else "")))
        await tell(interaction, embed=embed)

    @app_commands.command(name="help", description="Every command and what it does.")
    async def help(self, interaction: Interaction) -> None:
        lines = help_lines(self.bot.tree, interaction.guild)
        text = f"**{self.character_name}: commands**\n" + "\n".join(lines)
        parts = split_message(text, 2000)
        await tell(interaction, parts[0])
        for part in parts[1:]:
            await interaction.followup.send(part, ephemeral=True)


async def setup(bot: Kindred) -> None:
    await bot.add_cog(UserCommands(bot))
