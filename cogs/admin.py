"""The admin log channel's buttons: the ``list users`` pages' Previous/Next, registered while this cog is
loaded. The log channel's words and the decision mirror are the bot's (bot/discord/logchannel.py); the
gateway-latency heartbeat is the runtime's (bot/operator/admin/heartbeat.py, started by the bot's
setup_hook).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord.ext import commands

from bot.discord.logchannel import UsersPageButton

if TYPE_CHECKING:
    from bot.discord.client import Kindred


class Admin(commands.Cog):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(UsersPageButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(UsersPageButton)


async def setup(bot: Kindred) -> None:
    await bot.add_cog(Admin(bot))
