"""A closed poll's results on Discord (the :class:`PollBoard` of bot/servertools/polls.py, handed to the
composition root in the Edge): the poll's buttons retired and its counts shown as closed, the results posted
in its channel with a bar chart, as a reply to the poll. The closing itself is the poll's durable timer."""

from __future__ import annotations

import asyncio
import io
import logging

import discord

from bot.core.text import clip
from bot.discord.posting import SendOptions
from bot.servertools.charts import render_bar_chart
from bot.servertools.polls import Tally, closing_line, result_lines, results_text
from database.records import PollRecord

log = logging.getLogger(__name__)

POLL_COLOR = discord.Colour.blurple()


def poll_embed(poll: PollRecord, counts: list[int], *, closed: bool = False) -> discord.Embed:
    total = sum(counts)
    embed = discord.Embed(
        title=clip(poll.question, 250),
        colour=POLL_COLOR,
        description="\n".join(result_lines(poll.options, counts))[:4000],
    )
    embed.add_field(name="Votes", value=str(total))
    embed.add_field(name="Status", value=closing_line(poll.closes_at, closed))
    embed.set_footer(
        text="One vote each; press another option to change yours." if not closed else "This poll has closed."
    )
    return embed


class DiscordPollBoard:
    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def show_results(self, tally: Tally, character: str) -> int | None:
        poll, counts = tally.poll, tally.counts
        channel = self.client.get_partial_messageable(poll.channel_id, guild_id=poll.guild_id)
        if poll.message_id is not None:
            try:
                await channel.get_partial_message(poll.message_id).edit(
                    embed=poll_embed(poll, counts, closed=True), view=None
                )
            except discord.HTTPException as exc:
                log.warning("could not retire the buttons of poll %s: %s", poll.id, exc)
        chart = await asyncio.to_thread(render_bar_chart, poll.question, poll.options, counts)
        name = f"poll-{poll.id}.png"
        embed = poll_embed(poll, counts, closed=True).set_image(url=f"attachment://{name}")
        reference = (
            discord.MessageReference(
                message_id=poll.message_id, channel_id=poll.channel_id, fail_if_not_exists=False
            )
            if poll.message_id
            else None
        )
        kwargs: SendOptions = {"reference": reference} if reference else {}
        sent = await channel.send(
            results_text(character, poll.question, poll.options, counts),
            embed=embed,
            file=discord.File(io.BytesIO(chart), filename=name),
            allowed_mentions=discord.AllowedMentions.none(),
            **kwargs,
        )
        return sent.id
