"""The swipe buttons (◀ ▶ 🔄) on the character's latest reply, answered before and after a restart, and
``/reroll``, which presses 🔄 for you with an optional out-of-character note. Thin Discord glue over the
desk of bot/discord/swipes.py (the logic: bot/features/swipes/).

Where an admin used ``/bot deactivate``, /reroll (and the 🔄 button) refuse: they make the character speak
there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord import app_commands
from discord.ext import commands

from bot.core.reach import Way
from bot.discord.permissions import active_here, may_talk
from bot.discord.swipes import SwipeButton

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred


class SwipeCommands(commands.Cog):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(SwipeButton)  # every reply's swipe buttons, before and after a restart

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(SwipeButton)

    @app_commands.command(name="reroll",
                          description="A new alternative for my latest reply to you here (a swipe).")
    @app_commands.describe(context="Optional out-of-character note to steer the new alternative")
    @active_here()
    @may_talk(Way.NEW_ANSWER)  # a model call without a message: it counts as one against the rate limit
    async def reroll(self, interaction: Interaction, context: str | None = None) -> None:
        await self.bot.features.swipes.reroll(interaction, context or "")


async def setup(bot: Kindred) -> None:
    await bot.add_cog(SwipeCommands(bot))
