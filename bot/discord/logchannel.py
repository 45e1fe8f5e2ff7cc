"""The admin log channel's words and where the verbose mirror posts: what the main pipeline's interceptor
(declared by the composition root, consulted for a message in the log channel only) runs, here in the bot
rather than in a cog, so the message flow never calls up into ``cogs/``. Which decisions are mirrored is the
mirror's own (bot/operator/logmirror.py, a decision listener itself).

In the channel ``log_channel`` an admin (``admin_user_ids`` or the application owner) may type:
``shutdown? <name>``, ``user data? <id>``, ``list users``, ``premium <id>``, ``verbose [on|off]``, ``status``
and ``testlog``. They are caught after the message is written to the short-term log and before any reply
work; from anyone else, or anywhere else, they are ordinary chat. The language and its text live in
:mod:`bot.operator.admin.language`, the reads and edits in ``bot.services.admin`` (the bot's
:class:`bot.operator.admin.tools.AdminTools`); this module only carries Discord in and out. A structured
answer (``status``, ``user data?``, ``list users``) and a report of the verbose mirror are posted as
Components V2 panels (bot/discord/panels.py); one-line answers and mirrored lines stay text. Every answer, a
command's and the mirror's alike, is in the channel's language (:meth:`LogChannel.language`), read once per
command.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import discord
from discord.ext import commands

from bot.core.i18n import N_, Explained, sentences, t
from bot.core.lines import Line
from bot.core.locales import FALLBACK, language_of_locale
from bot.core.numbers import date_time, number
from bot.core.stages import Incoming
from bot.core.text import Page, clip
from bot.discord.language import answer_language
from bot.discord.line_language import place_language
from bot.discord.panels import panel
from bot.discord.permissions import HookInteraction, in_log_channel, is_admin
from bot.discord.permissions import Kindred as Checked
from bot.discord.ui import NO_PINGS, tell
from bot.operator.admin.language import (
    AdminCommand,
    Latencies,
    Report,
    capped,
    format_status,
    named_lines,
    parse_command,
    parse_page_number,
    usage,
)
from bot.operator.logmirror import LogMirror, fitted
from bot.runtime.lifecycle import InFlight

log = logging.getLogger(__name__)

PAGE_BUTTON = r"kindred-admin:users:(?P<page>\d+):(?P<direction>prev|next)"
FAILED = N_("Sorry, that admin command failed; the traceback is in the bot's log.")
# said to whoever presses a page's button (in their own language): the list is the operator's
NOT_HERE = N_("Only the bot's admins can page through the users, and only in the log channel.")


class LogChannelBot(Checked, Protocol):
    """What the log channel reads of the bot (bot/discord/client.py's, which this module cannot name: an
    import cycle)."""

    mirror: LogMirror
    started_at: float
    stopping: bool
    exit_code: int

    @property
    def guilds(self) -> Sequence[discord.Guild]: ...

    @property
    def latency(self) -> float: ...

    def get_channel(self, channel_id: int, /) -> Any: ...

    def get_partial_messageable(self, channel_id: int, /) -> discord.PartialMessageable: ...

    def get_user(self, user_id: int, /) -> discord.User | None: ...

    async def fetch_user(self, user_id: int, /) -> discord.User: ...

    def is_closed(self) -> bool: ...

    async def close(self) -> None: ...


async def server_language(bot: object, guild: discord.Guild | None) -> str:
    """The log channel's language, decided here only: its server's ``/settings language``, else the server's
    preferred locale (a community server's), else English (a channel Discord has not shown the bot, or one
    outside any server)."""
    if guild is None:
        return FALLBACK
    return (await place_language(bot, guild.id)
            or language_of_locale(getattr(guild, "preferred_locale", None)) or FALLBACK)


def shard_latencies(bot: object) -> Latencies:
    """(shard id, seconds) per shard; one unnamed entry for an unsharded bot."""
    if isinstance(bot, commands.AutoShardedBot):
        return list(bot.latencies)
    assert isinstance(bot, commands.Bot)
    return [(None, bot.latency)]


# --------------------------------------------------------------------------- list users pagination


class UsersPageButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=PAGE_BUTTON):
    """Previous/Next under a ``list users`` page. The page travels in the custom id, so the buttons work for
    as long as the message exists, across restarts; only admins may press them."""

    def __init__(self, page: int, direction: str, *, disabled: bool = False,
                 language: str | None = None) -> None:
        label = t(language, "◀ Previous") if direction == "prev" else t(language, "Next ▶")
        super().__init__(discord.ui.Button(label=label, style=discord.ButtonStyle.secondary,
                                           disabled=disabled,
                                           custom_id=f"kindred-admin:users:{page}:{direction}"))
        self.page = page

    @classmethod
    async def from_custom_id(cls, interaction: HookInteraction, item: discord.ui.Item[discord.ui.View],
                             match: re.Match[str]) -> UsersPageButton:
        return cls(int(match["page"]), match["direction"])

    async def interaction_check(self, interaction: HookInteraction) -> bool:
        # The place too: a page left in a channel that was the log channel before LOG_CHANNEL_ID moved
        # lists no one there any more.
        if (in_log_channel(interaction.client, interaction.channel_id or 0)
                and await is_admin(interaction.client, interaction.user)):
            return True
        await tell(interaction, t(await answer_language(interaction), NOT_HERE))
        return False

    async def callback(self, interaction: HookInteraction) -> None:
        # the page's language (its channel's), not the presser's
        language = await server_language(interaction.client, interaction.guild)
        try:
            page, report = await interaction.client.services.admin.users.page(self.page, language)
            # content=None: a page posted as text before the lists were panels becomes one
            await interaction.response.edit_message(content=None, view=users_view(page, report, language),
                                                    allowed_mentions=NO_PINGS)
        except Exception:
            log.exception("list users: turning to page %s failed", self.page)
            if not interaction.response.is_done():
                await interaction.response.send_message(t(language, FAILED), ephemeral=True)


def report_view(report: Report) -> discord.ui.LayoutView:
    """A report as the log channel shows it: a Components V2 panel (a container, the title, a separator, a
    text display per figure), kept within V2's limits by :func:`panel`."""
    return panel(report.title, report.fields)


def users_view(page: Page, report: Report, language: str | None = None) -> discord.ui.LayoutView:
    """A ``list users`` page: its panel with the Previous/Next buttons at the foot of its container."""
    view = report_view(report)
    [container] = view.children
    assert isinstance(container, discord.ui.Container)
    container.add_item(discord.ui.ActionRow(
        UsersPageButton(max(page.number - 1, 0), "prev", disabled=not page.has_prev, language=language),
        UsersPageButton(min(page.number + 1, page.count - 1), "next", disabled=not page.has_next,
                        language=language)))
    return view


# --------------------------------------------------------------------------- the channel


class LogChannel:
    def __init__(self, bot: LogChannelBot, in_flight: InFlight) -> None:
        """``in_flight``: the bot's work in flight, which ``shutdown?`` lets finish before it closes."""
        self.bot = bot
        self.in_flight = in_flight
        self.shutdown_task: asyncio.Task[None] | None = None

    def channel(self) -> discord.abc.Messageable | None:
        channel_id = self.bot.settings.secrets.log_channel
        if not channel_id:
            return None
        channel = self.bot.get_channel(channel_id)
        if isinstance(channel, discord.abc.Messageable):
            return channel
        return self.bot.get_partial_messageable(channel_id)

    async def post(self, text: str, **kwargs: Any) -> discord.Message | None:
        channel = self.channel()
        if channel is None:
            return None
        return await channel.send(text[:2000], allowed_mentions=NO_PINGS, **kwargs)

    async def post_panel(self, view: discord.ui.LayoutView) -> discord.Message | None:
        """A report as a Components V2 panel (no text beside it: a V2 message has none)."""
        channel = self.channel()
        if channel is None:
            return None
        return await channel.send(view=view, allowed_mentions=NO_PINGS)

    async def language(self) -> str:
        """The language the admin answers and the verbose mirror's lines are posted in
        (:func:`server_language` of the channel's server)."""
        return await server_language(self.bot, getattr(self.channel(), "guild", None))

    async def post_line(self, line: Line) -> discord.Message | None:
        """A line of the verbose mirror, in the log channel's language."""
        if self.channel() is None:
            return None
        return await self.post(fitted(line.render(await self.language())))

    async def post_report(self, title: Line, fields: Sequence[tuple[Line, Line]]) -> discord.Message | None:
        """A report of the verbose mirror (the daily consolidation's) as a panel, in the log channel's
        language."""
        if self.channel() is None:
            return None
        language = await self.language()
        return await self.post_panel(panel(title.render(language),
                                           [(n.render(language), v.render(language)) for n, v in fields]))

    # -- commands

    async def intercept(self, msg: Incoming) -> bool:
        """The main pipeline's interceptor: consume the message when it is an admin command from an admin in
        the log channel."""
        if msg.author_is_bot or not in_log_channel(self.bot, msg.channel_id):
            return False
        command = parse_command(msg.content)
        if command is None:
            return False
        try:
            user = self.bot.get_user(msg.author_id) or await self.bot.fetch_user(msg.author_id)
        except discord.HTTPException:
            return False
        if not await is_admin(self.bot, user):
            return False  # ordinary chat for everyone else
        log.info("admin %s ran the log-channel command %r", msg.author_id, command.name)
        language = await self.language()
        try:
            await self.run(command, msg, language)
        except Explained as exc:
            await self.post(exc.said(language))
        except Exception:
            log.exception("log-channel command %r failed", command.name)
            try:
                await self.post(t(language, FAILED))
            except discord.HTTPException:
                log.exception("could not report the failure in the log channel")
        return True

    async def run(self, command: AdminCommand, msg: Incoming, language: str) -> None:
        tools = self.bot.services.admin
        if command.name == "shutdown":
            await self.shutdown(command.arg, msg, language)
        elif command.name == "user_data":
            await self.post_panel(report_view(await tools.users.data(command.arg, language)))
        elif command.name == "list_users":
            page, report = await tools.users.page(parse_page_number(command.arg), language)
            await self.post_panel(users_view(page, report, language))
        elif command.name == "premium":
            await self.post(await tools.users.toggle_premium(command.arg, language))
        elif command.name == "verbose":
            await self.post(await tools.verbose.switch(command.arg, language))
        elif command.name == "status":
            report = format_status(
                self.bot.settings, character_name=self.bot.services.pipeline.persona.name,
                uptime_seconds=time.monotonic() - self.bot.started_at, guild_count=len(self.bot.guilds),
                latencies=shard_latencies(self.bot), verbose=self.bot.mirror.enabled, language=language)
            fields = report.fields + named_lines(await self.bot.services.claude.status_lines(language))
            fields += named_lines(await self.bot.services.alive.status_lines(language))
            fields += named_lines(await self.bot.services.memory_jobs.status_lines(language))
            for lines in self.bot.services.status_lines:  # the features' own
                fields += named_lines(await lines(language))
            await self.post_panel(report_view(Report(report.title, capped(fields, language=language))))
        elif command.name == "refresh_status":
            await self.post(await self.bot.services.alive.refresh_status_answer(language))
        elif command.name == "testlog":
            now = f"{date_time(datetime.now(UTC), language, seconds=True)} UTC"
            name = self.bot.services.pipeline.persona.name
            await self.post(t(language, "🧪 Test log line from {name}: this channel receives my log (asked "
                                        "by {admin} at {time}).", name=name, admin=msg.author_name, time=now))

    async def shutdown(self, name: str, msg: Incoming, language: str) -> None:
        mine = self.bot.services.pipeline.persona.name
        if not name:
            raise usage("shutdown")
        if name != mine:
            await self.post(t(language, "Not shutting down: {given} is not my exact name ({name}).",
                              given=repr(clip(name, 60)), name=mine))
            return
        if self.shutdown_task is not None:
            await self.post(t(language, "Already shutting down."))
            return
        # Its own task: closing the bot waits for in-flight message tasks, this one among them.
        self.shutdown_task = asyncio.create_task(self._shut_down(msg, language), name="admin-shutdown")

    async def _shut_down(self, msg: Incoming, language: str) -> None:
        bot = self.bot
        name = bot.services.pipeline.persona.name
        log.warning("shutdown of %s requested in the log channel by admin %s", name, msg.author_id)
        if await bot.services.cluster.publish("shutdown", by=msg.author_id):
            log.warning("shutdown: every other process of the cluster was told to stop too")
        # Like SIGTERM (bot/runtime/lifecycle.py): no new messages while replies finish.
        bot.stopping = True
        grace = bot.settings.operation.shutdown_grace_seconds
        finished = True
        try:
            await asyncio.wait_for(self.in_flight.drain(), timeout=grace)  # as close() does
        except TimeoutError:
            finished = False
            log.warning("shutdown: some replies did not finish within %gs", grace)
        await bot.mirror.drain()
        await bot.services.admin.save_log()
        done = (t(language, "Replies in flight are finished and everything is saved.") if finished else
                t(language, "Some replies did not finish within {seconds}s; everything else is saved.",
                  seconds=number(grace, language)))
        try:
            await self.post(sentences(t(language, "👋 Goodbye! {name} is shutting down (asked by {admin}).",
                                        name=name, admin=msg.author_name), done))
        except discord.HTTPException as exc:
            log.warning("could not post the goodbye line: %s", exc)
        bot.exit_code = 0
        try:
            await bot.close()
        except Exception:
            # Nobody awaits this task: without this, the failure would vanish and the exit code claim success.
            bot.exit_code = 1
            log.exception("shutdown failed while closing Discord, the Claude client or the database")
            return
        # Report what the close achieved rather than what it was asked to do.
        if bot.is_closed() and bot.services.admin.database_closed:
            log.info("shutdown complete: Discord connection and database closed")
        else:
            log.error("shutdown incomplete: Discord connection %s, database %s",
                      "closed" if bot.is_closed() else "still open",
                      "closed" if bot.services.admin.database_closed else "still open")
