"""The admin log channel: text commands, the verbose mirror and the gateway-latency heartbeat.

In the channel ``log_channel`` an admin (``admin_user_ids`` or the application owner) may type:
``shutdown? <name>``, ``user data? <id>``, ``list users``, ``premium <id>``, ``verbose [on|off]``, ``status``
and ``testlog``. The words are caught by an interceptor of the main engine (the bot's, declared by the
composition root, hands them to this cog while it is loaded), after the message is written to the
short-term log and before any reply work; from anyone else, or anywhere else, they are ordinary chat.
The language and its text live in :mod:`bot.operator.admin.language`, the reads and edits in ``bot.admin``
(the bot's :class:`bot.operator.admin.tools.AdminTools`), which latency readings deserve a warning in
:mod:`bot.operator.admin.heartbeat`; this cog only carries Discord in and out.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands, tasks

from bot.alive.service import Alive
from bot.core.pipeline import Decision, Incoming
from bot.core.text import Page, clip
from bot.discord.permissions import HookInteraction, in_log_channel, is_admin
from bot.discord.ui import NO_PINGS
from bot.operator.admin.language import (
    USAGE,
    AdminCommand,
    Latencies,
    describe_decision,
    format_status,
    parse_command,
    parse_page_number,
)
from bot.operator.conversation_tools import InvalidInput
from cogs.messages import Messages

if TYPE_CHECKING:
    from bot.discord.client import Kindred

log = logging.getLogger(__name__)

PAGE_BUTTON = r"kindred-admin:users:(?P<page>\d+):(?P<direction>prev|next)"
FAILED = "Sorry, that admin command failed; the traceback is in the bot's log."


def shard_latencies(bot: commands.Bot | commands.AutoShardedBot) -> Latencies:
    """(shard id, seconds) per shard; one unnamed entry for an unsharded bot."""
    if isinstance(bot, commands.AutoShardedBot):
        return list(bot.latencies)
    return [(None, bot.latency)]


# --------------------------------------------------------------------------- list users pagination


class UsersPageButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=PAGE_BUTTON):
    """Previous/Next under a ``list users`` page. The page travels in the custom id, so the buttons work for
    as long as the message exists, across restarts; only admins may press them."""

    def __init__(self, page: int, direction: str, *, disabled: bool = False) -> None:
        label = "◀ Previous" if direction == "prev" else "Next ▶"
        super().__init__(discord.ui.Button(label=label, style=discord.ButtonStyle.secondary,
                                           disabled=disabled,
                                           custom_id=f"kindred-admin:users:{page}:{direction}"))
        self.page = page

    @classmethod
    async def from_custom_id(cls, interaction: HookInteraction, item: discord.ui.Item[discord.ui.View],
                             match: re.Match[str]) -> UsersPageButton:
        return cls(int(match["page"]), match["direction"])

    async def interaction_check(self, interaction: HookInteraction) -> bool:
        if await is_admin(interaction.client, interaction.user):
            return True
        await interaction.response.send_message("Only the bot's admins can page through the users.",
                                                ephemeral=True)
        return False

    async def callback(self, interaction: HookInteraction) -> None:
        try:
            page, text = await interaction.client.admin.users.page(self.page)
            await interaction.response.edit_message(content=text, view=users_view(page),
                                                    allowed_mentions=NO_PINGS)
        except Exception:
            log.exception("list users: turning to page %s failed", self.page)
            if not interaction.response.is_done():
                await interaction.response.send_message(FAILED, ephemeral=True)


def users_view(page: Page) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(UsersPageButton(max(page.number - 1, 0), "prev", disabled=not page.has_prev))
    view.add_item(UsersPageButton(min(page.number + 1, page.count - 1), "next", disabled=not page.has_next))
    return view


# --------------------------------------------------------------------------- the cog


class Admin(commands.Cog):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.tools = bot.admin
        self.shutdown_task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(UsersPageButton)
        self.heartbeat.change_interval(seconds=self.bot.settings.discord.heartbeat_interval_seconds)
        self.heartbeat.start()

    async def cog_unload(self) -> None:
        # Runs on bot.close() too (discord.py unloads extensions first), which stops the heartbeat.
        # The shutdown task is left alone: it is the one closing the bot.
        self.heartbeat.cancel()
        self.bot.remove_dynamic_items(UsersPageButton)

    # -- the log channel

    async def post(self, text: str, **kwargs: Any) -> discord.Message | None:
        return await self.bot.log_channel.post(text, **kwargs)

    # -- verbose mirror

    async def mirror_decision(self, msg: Incoming, decision: Decision) -> None:
        if in_log_channel(self.bot, msg.channel_id):  # chat in the log channel is visible there already
            return
        if self.bot.mirror.active:
            self.bot.mirror.emit(describe_decision(msg, decision))

    # -- commands

    async def intercept(self, msg: Incoming) -> bool:
        """Consume the message when it is an admin command from an admin in the log channel."""
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
        try:
            await self.run(command, msg)
        except InvalidInput as exc:
            await self.post(str(exc))
        except Exception:
            log.exception("log-channel command %r failed", command.name)
            try:
                await self.post(FAILED)
            except discord.HTTPException:
                log.exception("could not report the failure in the log channel")
        return True

    async def run(self, command: AdminCommand, msg: Incoming) -> None:
        if command.name == "shutdown":
            await self.shutdown(command.arg, msg)
        elif command.name == "user_data":
            await self.post(await self.tools.users.data(command.arg))
        elif command.name == "list_users":
            page, text = await self.tools.users.page(parse_page_number(command.arg))
            await self.post(text, view=users_view(page))
        elif command.name == "premium":
            await self.post(await self.tools.users.toggle_premium(command.arg))
        elif command.name == "verbose":
            await self.post(await self.tools.verbose.switch(command.arg))
        elif command.name == "status":
            text = format_status(
                self.bot.settings, character_name=self.bot.engine.persona.name,
                uptime_seconds=time.monotonic() - self.bot.started_at, guild_count=len(self.bot.guilds),
                latencies=shard_latencies(self.bot), verbose=self.bot.mirror.enabled)
            text += "\n" + await self.bot.claude.status_lines()
            alive: Alive | None = getattr(self.bot, "alive", None)
            if alive is not None:
                text += "\n" + await alive.status_lines()
            await self.post(text)
        elif command.name == "refresh_status":
            alive = getattr(self.bot, "alive", None)
            if alive is None:
                raise InvalidInput("The custom status is not running in this bot.")
            await self.post(await alive.refresh_status_answer())
        elif command.name == "testlog":
            now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            await self.post(f"🧪 Test log line from {self.bot.engine.persona.name}: this channel receives my "
                            f"log (asked by {msg.author_name} at {now}).")

    async def shutdown(self, name: str, msg: Incoming) -> None:
        mine = self.bot.engine.persona.name
        if not name:
            raise InvalidInput(f"Usage: `{USAGE['shutdown']}`.")
        if name != mine:
            await self.post(f"Not shutting down: {clip(name, 60)!r} is not my exact name ({mine}).")
            return
        if self.shutdown_task is not None:
            await self.post("Already shutting down.")
            return
        # Its own task: closing the bot waits for in-flight message tasks, this one among them.
        self.shutdown_task = asyncio.create_task(self._shut_down(msg), name="admin-shutdown")

    async def _shut_down(self, msg: Incoming) -> None:
        name = self.bot.engine.persona.name
        log.warning("shutdown of %s requested in the log channel by admin %s", name, msg.author_id)
        if await self.bot.cluster.publish("shutdown", by=msg.author_id):
            log.warning("shutdown: every other process of the cluster was told to stop too")
        # Like SIGTERM (bot/runtime/lifecycle.py): no new messages while replies finish.
        self.bot.stopping = True
        events = self.bot.get_cog("Messages")
        grace = self.bot.settings.operation.shutdown_grace_seconds
        finished = True
        if isinstance(events, Messages):
            try:
                await asyncio.wait_for(events.drain(), timeout=grace)
            except TimeoutError:
                finished = False
                log.warning("shutdown: some replies did not finish within %gs", grace)
        await self.bot.mirror.drain()
        await self.bot.admin.save_log()
        done = ("Replies in flight are finished and everything is saved." if finished else
                f"Some replies did not finish within {grace:g}s; everything else is saved.")
        try:
            await self.post(f"👋 Goodbye! {name} is shutting down (asked by {msg.author_name}). {done}")
        except discord.HTTPException as exc:
            log.warning("could not post the goodbye line: %s", exc)
        self.bot.exit_code = 0
        try:
            await self.bot.close()
        except Exception:
            # Nobody awaits this task: without this, the failure would vanish and the exit code claim success.
            self.bot.exit_code = 1
            log.exception("shutdown failed while closing Discord, the Claude client or the database")
            return
        # Report what the close achieved rather than what it was asked to do.
        if self.bot.is_closed() and self.bot.admin.database_closed:
            log.info("shutdown complete: Discord connection and database closed")
        else:
            log.error("shutdown incomplete: Discord connection %s, database %s",
                      "closed" if self.bot.is_closed() else "still open",
                      "closed" if self.bot.admin.database_closed else "still open")

    # -- heartbeat

    @tasks.loop(seconds=60)  # the interval is heartbeat_interval_seconds, set in cog_load
    async def heartbeat(self) -> None:
        await self.check_latency()

    async def check_latency(self) -> None:
        """One reading of every shard's latency; warn about those slow on consecutive readings."""
        threshold = self.bot.settings.discord.latency_warning_ms
        for slow in self.tools.latency.check(shard_latencies(self.bot), threshold):
            text = slow.describe(threshold)
            log.warning(text)
            try:
                await self.post(text)
            except Exception as exc:  # a slow gateway often means a slow REST API too; keep checking
                log.warning("could not post the latency warning to the log channel: %s", exc)

    @heartbeat.before_loop
    async def before_heartbeat(self) -> None:
        await self.bot.wait_until_ready()


async def setup(bot: Kindred) -> None:
    await bot.add_cog(Admin(bot))
