"""``/me set | show | clear``: the persona a person sets for themselves (the name the character calls them,
their pronouns, a few lines about them). Thin Discord glue over ``bot.services.memory`` (memory/service.py;
the table: database/profiles.py); every answer is ephemeral."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from discord import app_commands
from discord.ext import commands

from bot.discord.ui import tell
from database.profiles import ABOUT_MAX, NAME_MAX, PRONOUNS_MAX, Profile

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)


def shown(profile: Profile) -> str:
    lines = [f"**Name:** {profile.name}" if profile.name else "**Name:** (your display name)",
             f"**Pronouns:** {profile.pronouns}" if profile.pronouns else "**Pronouns:** (not set)",
             f"**About you:** {profile.about}" if profile.about else "**About you:** (not set)"]
    return "\n".join(lines)


class MeCommands(commands.Cog):
    group = app_commands.Group(name="me",
                               description="What I call you, your pronouns, a few lines about you.")

    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.memory = bot.services.memory

    @group.command(name="set", description="Set what I call you, your pronouns or a few lines about you.")
    @app_commands.describe(name=f"What I call you (at most {NAME_MAX} characters; empty: your display name)",
                           pronouns=f"Your pronouns, e.g. they/them (at most {PRONOUNS_MAX} characters)",
                           about=f"A few lines about you, known in our DMs only (at most {ABOUT_MAX})")
    async def set_(self, interaction: Interaction, name: str | None = None, pronouns: str | None = None,
                  about: str | None = None) -> None:
        profile, wrong = await self.memory.set_profile(interaction.user.id, name=name, pronouns=pronouns,
                                                       about=about)
        if wrong:
            await tell(interaction, "Nothing was changed: " + "; ".join(wrong) + ".")
            return
        if profile is None:
            await tell(interaction, "Give me at least one of `name`, `pronouns` or `about`.")
            return
        log.info("user %s set their persona", interaction.user.id)
        await tell(interaction, "Got it. From your next message on:\n" + shown(profile) +
                   "\nYour name and pronouns go wherever we talk; the about stays in our DMs. "
                   "`/me clear` deletes it all.")

    @group.command(name="show", description="What you told me to call you and about yourself.")
    async def show(self, interaction: Interaction) -> None:
        profile = await self.memory.profile(interaction.user.id)
        if not profile:
            await tell(interaction, "You have set nothing yet: `/me set` tells me your name, pronouns or "
                                    "a few lines about you.")
            return
        await tell(interaction, shown(profile))

    @group.command(name="clear", description="Delete what you told me to call you and about yourself.")
    async def clear(self, interaction: Interaction) -> None:
        gone = await self.memory.clear_profile(interaction.user.id)
        await tell(interaction, "Deleted: I call you by your display name again." if gone
                   else "You had set nothing: nothing to delete.")


async def setup(bot: Kindred) -> None:
    await bot.add_cog(MeCommands(bot))
