"""``/poll`` on Discord (the polls feature's edge; its logic, rows and registration: bot/features/polls/):
a Components V2 panel with a button per option and live counts, one changeable vote each, results with a bar
chart at the closing time.

The poll's message is a panel (:func:`poll_panel`): the question, each option with its count and a bar, the
total and when it closes, with the voting buttons under it; each vote edits it in place, and at close its
buttons are retired and it says closed. The character then announces the result in plain words, as a reply
to the poll, with the bar chart attached (:class:`PollResults`, the feature's ``PollBoard``, handed to it as
the cog loads); where the chart's font cannot draw the options, its bars carry their numbers alone and the
announcement lists the options by those numbers (its words, within a message's limit:
bot/features/polls/results.py).

Polls survive restarts: each button's custom id carries the poll's id and option (a discord.py DynamicItem
registered at load, so clicks on any poll's buttons are handled without a view per poll), votes live in
the database, and each poll closes from its durable timer (bot/core/timers.py; a poll whose time passed while
the bot was down closes at once).
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands, ui
from discord.ext import commands

from bot.core.durations import BadInput
from bot.core.i18n import N_, t, tn
from bot.core.text import clip
from bot.discord.language import answer_language
from bot.discord.line_language import shown_language
from bot.discord.panels import MAX_COMPONENTS, MAX_TEXT
from bot.discord.permissions import HookInteraction, require_server
from bot.discord.posting import SendOptions
from bot.discord.ui import MESSAGE_LIMIT, tell
from bot.features.polls import PollLifecycle, PollRecord
from bot.features.polls.charts import render_bar_chart
from bot.features.polls.lifecycle import (
    CUSTOM_ID_PATTERN,
    FORGOTTEN,
    VOTE_FORGOTTEN,
    Tally,
    closing_line,
    custom_id,
    parse_poll,
    poll_language,
    vote_answer,
)
from bot.features.polls.results import options_listing, results_message
from database.models import utcnow

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)

POLL_COLOR = discord.Colour.blurple()
PER_ROW = 5  # buttons in one action row
_FRAME = 7  # the container, the question, the byline, two separators, the options and the status
OPEN_HINT = N_("One vote each; press another option to change yours.")
CLOSED_HINT = N_("This poll has closed.")


def poll_panel(poll: PollRecord, counts: Sequence[int], *, closed: bool = False,
               buttons: Sequence[ui.Item[Any]] = (), language: str = "en") -> ui.LayoutView:
    """The poll's panel: a container with the question, who asked, each option with its count and bar, the
    total and its closing, then ``buttons`` (the options' vote buttons, none once closed) in rows of five.
    Within Components V2's limits whatever the poll holds: at most 40 components, 4,000 characters."""
    total = sum(counts)
    heading = f"### 📊 {clip(poll.question, 250)}"
    byline = "-# " + t(language, "Poll by {author}", author=f"<@{poll.author_id}>")
    votes = tn(language, "{count} vote", "{count} votes", total)
    status = (f"**{votes}** · {closing_line(poll.closes_at, closed, language)}\n-# "
              + t(language, CLOSED_HINT if closed else OPEN_HINT))
    room = MAX_TEXT - len(heading) - len(byline) - len(status)
    shown = list(buttons)[:(MAX_COMPONENTS - _FRAME) * PER_ROW // (PER_ROW + 1)]  # each row costs one more
    rows = [ui.ActionRow(*shown[i:i + PER_ROW]) for i in range(0, len(shown), PER_ROW)]
    view = ui.LayoutView(timeout=None)
    view.add_item(ui.Container(
        ui.TextDisplay(heading), ui.TextDisplay(byline), ui.Separator(),
        ui.TextDisplay(options_listing(poll.options, counts, room, language)), ui.Separator(),
        ui.TextDisplay(status), *rows, accent_colour=POLL_COLOR,
    ))
    return view


class PollResults:
    """A closed poll's results on Discord: its panel's buttons retired, the results posted as a reply to it
    with their chart (the feature's ``PollBoard``)."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def show_results(self, tally: Tally, character: str, language: str = "en") -> int | None:
        poll, counts = tally.poll, tally.counts
        channel = self.client.get_partial_messageable(poll.channel_id, guild_id=poll.guild_id)
        if poll.message_id is not None:
            try:
                # content and embeds cleared: a poll posted before panels becomes one (a V2 message has none)
                await channel.get_partial_message(poll.message_id).edit(
                    content=None, embed=None, view=poll_panel(poll, counts, closed=True, language=language)
                )
            except discord.HTTPException as exc:
                log.warning("could not retire the buttons of poll %s: %s", poll.id, exc)
        chart = await asyncio.to_thread(render_bar_chart, poll.question, poll.options, counts,
                                      language)
        reference = (
            discord.MessageReference(
                message_id=poll.message_id, channel_id=poll.channel_id, fail_if_not_exists=False
            )
            if poll.message_id
            else None
        )
        kwargs: SendOptions = {"reference": reference} if reference else {}
        # The character's words stay plain text: the counts are in the poll's panel, the chart beside them.
        sent = await channel.send(
            results_message(character, poll, counts, language, limit=MESSAGE_LIMIT),
            file=discord.File(io.BytesIO(chart), filename=f"poll-{poll.id}.png"),
            allowed_mentions=discord.AllowedMentions.none(),
            **kwargs,
        )
        return sent.id


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
    """One vote button per option, laid out by the poll's panel (:func:`poll_panel`)."""
    return [PollButton(poll_id, i, clip(f"{i + 1}. {option}", 80), language)
            for i, option in enumerate(options)]


class PollsCog(commands.Cog, name="Polls"):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.polls = bot.services.part(PollLifecycle)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(PollButton)
        # the results of the polls closing from now on are posted here (the timers start after the cogs load)
        self.polls.connect(PollResults(self.bot))

    async def cog_unload(self) -> None:
        self.polls.connect(None)
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
