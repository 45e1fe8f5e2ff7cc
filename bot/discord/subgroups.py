"""A feature's own subgroup of ``/bot`` (``/bot tasks``, ``/bot face``): its cog adds the group when it loads
and takes it off when it unloads, so ``/bot``'s own cog (cogs/activation.py) names no feature."""

from __future__ import annotations

from discord import app_commands
from discord.ext import commands


class BotSubgroup(commands.Cog):
    """Subclass it once per feature (a cog's name is its class's); ``group``: the subgroup, built at module
    level, not as a class attribute (a cog would register that as a top-level command of its own)."""

    def __init__(self, bot: commands.Bot | commands.AutoShardedBot, group: app_commands.Group) -> None:
        self.bot = bot
        self.group = group

    async def cog_load(self) -> None:
        parent = self.bot.tree.get_command("bot")
        if isinstance(parent, app_commands.Group):  # /bot is there unless a test left its cog out
            parent.add_command(self.group)

    async def cog_unload(self) -> None:
        parent = self.bot.tree.get_command("bot")
        if isinstance(parent, app_commands.Group):
            parent.remove_command(self.group.name)
