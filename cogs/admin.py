"""The admin log channel's Discord side: the gateway-latency heartbeat, the verbose mirror's posting and the
``list users`` buttons. The log channel's words and the decision mirror are the bot's
(bot/discord/logchannel.py), consulted by the main engine while this cog is loaded; which latency readings
deserve a warning is :mod:`bot.operator.admin.heartbeat`'s.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from discord.ext import commands, tasks

from bot.discord.logchannel import UsersPageButton, shard_latencies

if TYPE_CHECKING:
    from bot.discord.client import Kindred

log = logging.getLogger(__name__)


class Admin(commands.Cog):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.tools = bot.admin
        self.channel = bot.log_channel

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(UsersPageButton)
        self.heartbeat.change_interval(seconds=self.bot.settings.discord.heartbeat_interval_seconds)
        self.heartbeat.start()

    async def cog_unload(self) -> None:
        # Runs on bot.close() too (discord.py unloads extensions first), which stops the heartbeat.
        # A shutdown in progress is left alone: it is the one closing the bot.
        self.heartbeat.cancel()
        self.bot.remove_dynamic_items(UsersPageButton)

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
                await self.channel.post(text)
            except Exception as exc:  # a slow gateway often means a slow REST API too; keep checking
                log.warning("could not post the latency warning to the log channel: %s", exc)

    @heartbeat.before_loop
    async def before_heartbeat(self) -> None:
        await self.bot.wait_until_ready()


async def setup(bot: Kindred) -> None:
    await bot.add_cog(Admin(bot))
