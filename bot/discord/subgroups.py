"""A feature's own subgroup of ``/bot`` (``/bot tasks``, ``/bot face``, ``/bot mcp``): its cog adds the group
when it loads and takes it off when it unloads, so ``/bot``'s own cog (cogs/activation.py) names no feature.
A registered switch whose command is in the subgroup (``mcp private``) is added to it here, made as every
switch's command is (bot/discord/switches.py)."""

from __future__ import annotations

from collections.abc import Iterable

from discord import app_commands
from discord.ext import commands

from bot.discord.switches import switch_command
from bot.operator.registration import Switch


class BotSubgroup(commands.Cog):
    """Subclass it once per feature (a cog's name is its class's); ``group``: the subgroup, built by the
    subclass's ``__init__`` (one for each bot), not as a class attribute (a cog would register that as a
    top-level command of its own); ``switches``: the feature's switches (those whose command is in this
    subgroup get it here)."""

    def __init__(self, bot: commands.Bot | commands.AutoShardedBot, group: app_commands.Group,
                 switches: Iterable[Switch] = ()) -> None:
        self.bot = bot
        self.group = group
        for switch in switches:
            *path, name = switch.subcommand.split() or [""]
            if path == [group.name] and group.get_command(name) is None:  # (once for each group)
                group.add_command(switch_command(switch, name))

    async def cog_load(self) -> None:
        parent = self.bot.tree.get_command("bot")
        if isinstance(parent, app_commands.Group):  # /bot is there unless a test left its cog out
            parent.add_command(self.group)

    async def cog_unload(self) -> None:
        parent = self.bot.tree.get_command("bot")
        if isinstance(parent, app_commands.Group):
            parent.remove_command(self.group.name)
