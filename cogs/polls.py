"""``/poll``: a panel (bot/discord/poll_results.py) with a button per option and live counts, one changeable
vote each, results with a bar chart at the closing time (``/userinfo`` and ``/serverinfo`` are cogs/info.py).

Polls survive restarts: each button's custom id carries the poll's id and option (a discord.py DynamicItem
registered at load, so clicks on any poll's buttons are handled without a view per poll), votes live in
the database, and each poll closes from its durable timer (bot/core/timers.py; a poll whose time passed while
the bot was down closes at once), its results shown by bot/discord/poll_results.py.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.i18n import t
from bot.core.text import clip
from bot.discord.language import answer_language
from bot.discord.line_language import shown_language
from bot.discord.permissions import HookInteraction, require_server
from bot.discord.poll_results import poll_panel
from bot.discord.ui import tell
from bot.features.servertools.moderation import BadInput
from bot.features.servertools.polls import (
    CUSTOM_ID_PATTERN,
    FORGOTTEN,
    VOTE_FORGOTTEN,
    PollLifecycle,
    custom_id,
    parse_poll,
    poll_language,
    vote_answer,
)
from database.models import utcnow

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred
    from database.records import PollRecord

log = logging.getLogger(__name__)

class PollButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=CUSTOM_ID_PATTERN):
    """One option's button; works for any poll, before and after a restart."""

    def __init__(self, poll_id: int, option: int, label: str = "", language: str = "en") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or str(option + 1),
                style=discord.ButtonStyle.secondary,
                custom_id=custom_id(poll_id, option, language),
            )
        )
        self.poll_id = poll_id
        self.option = option
        self.language = language  # the poll's, which its panel is redrawn in

    @classmethod
    async def from_custom_id(
        cls, interaction: HookInteraction, item: discord.ui.Item[discord.ui.View], match: re.Match[str], /
    ) -> PollButton:
        label = item.label if isinstance(item, discord.ui.Button) else None  # always a button: its own
        language = poll_language(match["language"])
        return cls(int(match["poll"]), int(match["option"]), label or "", language)

    async def callback(self, interaction: HookInteraction) -> None:
        cog = interaction.client.get_cog("Polls")
        if not isinstance(cog, PollsCog):
            language = await answer_language(interaction)
            await tell(interaction, t(language, "Polls are not available right now."))
            return
        await cog.vote(interaction, self.poll_id, self.option, self.language)


def poll_buttons(poll_id: int, options: list[str] | tuple[str, ...],
                 language: str = "en") -> list[PollButton]:
    """One vote button per option, laid out by the poll's panel (bot/discord/poll_results.py)."""
    return [PollButton(poll_id, i, clip(f"{i + 1}. {option}", 80), language)
            for i, option in enumerate(options)]


class PollsCog(commands.Cog, name="Polls"):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.polls = bot.services.part(PollLifecycle)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(PollButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(PollButton)

    # -- polls

    async def vote(self, interaction: Interaction, poll_id: int, option: int, shown: str = "en") -> None:
        """``shown``: the poll's language (its panel's); the voter's own answer is in theirs."""
        vote = await self.polls.vote(poll_id, interaction.user.id, option, self.polls.mark())
        language = await answer_language(interaction)
        if vote.forgotten:
            await tell(interaction, t(language, VOTE_FORGOTTEN))
            return
        if vote.tally is None:
            await tell(interaction, t(language, "This poll no longer exists."))
            return
        if not vote.counted:
            await tell(interaction, t(language, "This poll has closed; votes are no longer counted."))
            return
        poll, counts = vote.tally.poll, vote.tally.counts
        # the counts, in place
        live = poll_panel(poll, counts, buttons=poll_buttons(poll.id, poll.options, shown), language=shown)
        message = interaction.message
        if message is not None and not message.flags.components_v2:
            # A poll posted before panels: its text and embed go as it becomes one (a V2 message has none).
            await interaction.response.edit_message(content=None, embed=None, view=live)
        else:
            await interaction.response.edit_message(view=live)
        text = vote_answer(poll.options[option], option, vote.before, language)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())

    @app_commands.command(
        name="poll", description="Start a poll with buttons; results with a chart at the end."
    )
    @app_commands.guild_only()
    @app_commands.describe(
        question="What to ask",
        options="2 to 25 options separated by | (e.g. Tea | Coffee)",
        duration="How long it stays open: 10m, 2h, 3d ... (default 24h, at most 30 days)",
    )
    async def poll(
        self, interaction: Interaction, question: str, options: str, duration: str | None = None
    ) -> None:
        require_server(interaction)
        language = await answer_language(interaction)
        try:
            spec = parse_poll(question, options, duration, language)
        except BadInput as exc:
            await tell(interaction, str(exc))
            return
        shown = await shown_language(interaction)  # the poll is everyone's: the place's language, else theirs
        mark = self.polls.mark()

        async def post(poll: PollRecord) -> int:
            sent = await interaction.response.send_message(
                view=poll_panel(poll, [0] * len(spec.options),
                                buttons=poll_buttons(poll.id, spec.options, shown), language=shown),
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return sent.message_id or (await interaction.original_response()).id

        poll = await self.polls.start(int(interaction.guild_id or 0), int(interaction.channel_id or 0),
                                      interaction.user.id, spec, utcnow(), mark, post)
        if poll is None:  # they ran /forget_me meanwhile
            await tell(interaction, t(language, FORGOTTEN))
            return
        poll_id = poll.id
        await self.polls.arm(poll, shown)  # its closing: a durable timer (bot/core/timers.py)
        log.info(
            "poll %s by %s in %s: %d options, closes %s",
            poll_id,
            interaction.user.id,
            interaction.channel_id,
            len(spec.options),
            poll.closes_at.isoformat(),
        )


async def setup(bot: Kindred) -> None:
    await bot.add_cog(PollsCog(bot))
