"""A poll on Discord as a Components V2 panel, and its closing (the :class:`PollBoard` of
bot/features/servertools/polls.py, handed to the composition root in the Edge).

The poll's message is a panel (:func:`poll_panel`): the question, each option with its count and a bar, the
total and when it closes, with the voting buttons under it; each vote edits it in place, and at close its
buttons are retired and it says closed. The character then announces the result in plain words, as a reply
to the poll, with the bar chart attached. The closing itself is the poll's durable timer.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from typing import Any

import discord
from discord import ui

from bot.core.i18n import N_, t, tn
from bot.core.text import clip
from bot.discord.panels import MAX_COMPONENTS, MAX_TEXT
from bot.discord.posting import SendOptions
from bot.features.servertools.charts import render_bar_chart
from bot.features.servertools.polls import Tally, closing_line, result_lines, results_text
from database.records import PollRecord

log = logging.getLogger(__name__)

POLL_COLOR = discord.Colour.blurple()
PER_ROW = 5  # buttons in one action row
_FRAME = 7  # the container, the question, the byline, two separators, the options and the status
OPEN_HINT = N_("One vote each; press another option to change yours.")
CLOSED_HINT = N_("This poll has closed.")


def _options_text(options: Sequence[str], counts: Sequence[int], room: int, language: str = "en") -> str:
    """Each option with its bar and count, whole entries while they fit in ``room`` characters; how many
    were left out is said, so the panel never passes for complete."""
    entries = result_lines(options, counts, language)
    text = "\n".join(entries)
    if len(text) <= room:
        return text

    def tail(hidden: int) -> str:
        return "-# " + tn(language, "… and {count} more option, too long to show here.",
                          "… and {count} more options, too long to show here.", hidden)

    room -= len(tail(len(entries))) + 1  # the widest note, so whatever is kept leaves room for it
    kept: list[str] = []
    for entry in entries:
        if sum(len(e) + 1 for e in kept) + len(entry) > room:
            break
        kept.append(entry)
    return "\n".join([*kept, tail(len(entries) - len(kept))])


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
        ui.TextDisplay(_options_text(poll.options, counts, room, language)), ui.Separator(),
        ui.TextDisplay(status), *rows, accent_colour=POLL_COLOR,
    ))
    return view


class DiscordPollBoard:
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
        chart = await asyncio.to_thread(render_bar_chart, poll.question, poll.options, counts)
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
            results_text(character, poll.question, poll.options, counts, language),
            file=discord.File(io.BytesIO(chart), filename=f"poll-{poll.id}.png"),
            allowed_mentions=discord.AllowedMentions.none(),
            **kwargs,
        )
        return sent.id
