"""``/checkin on|off`` for everyone: whether the character may DM them after a long silence (the check-ins
feature, bot/features/checkins/; thin Discord glue over its ``CheckInChoice``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord import app_commands
from discord.ext import commands

from bot.core.i18n import t
from bot.discord.language import answer_language
from bot.features.checkins.config import CheckinSettings
from bot.features.checkins.rounds import CheckInChoice

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred


class CheckInsCog(commands.Cog, name="CheckIns"):
    checkin = app_commands.Group(name="checkin",
                                 description="Whether I may check on you after a long silence.")

    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.choice = bot.services.part(CheckInChoice)

    @checkin.command(name="on", description="Let me DM you to ask how you are after a long silence.")
    async def checkin_on(self, interaction: Interaction) -> None:
        settings = self.bot.settings.section(CheckinSettings)
        language = await answer_language(interaction)
        if not settings.checkins:
            await interaction.response.send_message(t(language, "Check-ins are switched off for this bot."),
                                                    ephemeral=True)
            return
        user = interaction.user
        await self.choice.choose(user.id, user.display_name, True)
        answered = self.choice.switched_on(settings.checkin_after_days, language)
        await interaction.response.send_message(answered, ephemeral=True)

    @checkin.command(name="off", description="No more check-in DMs from me.")
    async def checkin_off(self, interaction: Interaction) -> None:
        user = interaction.user
        await self.choice.choose(user.id, user.display_name, False)
        await interaction.response.send_message(t(await answer_language(interaction), "Understood: no "
                                                  "check-in DMs from me. `/checkin on` brings them back."),
                                                ephemeral=True)


async def setup(bot: Kindred) -> None:
    await bot.add_cog(CheckInsCog(bot))
