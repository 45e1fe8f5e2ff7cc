"""``/me set | show | clear``: the persona a person sets for themselves (the name the character calls them,
their pronouns, a few lines about them). Thin Discord glue over ``bot.services.memory`` (memory/service.py;
the table: database/profiles.py); every answer is ephemeral."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from discord import app_commands
from discord.ext import commands

from bot.core.i18n import t
from bot.discord.language import answer_language
from bot.discord.ui import tell
from database.profiles import ABOUT_MAX, NAME_MAX, PRONOUNS_MAX, Profile

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)


def shown(profile: Profile, language: str = "en") -> str:
    unset = t(language, "(not set)")
    lines = [t(language, "**Name:** {name}", name=profile.name or t(language, "(your display name)")),
             t(language, "**Pronouns:** {pronouns}", pronouns=profile.pronouns or unset),
             t(language, "**About you:** {about}", about=profile.about or unset)]
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
        language = await answer_language(interaction)
        if wrong:
            await tell(interaction, t(language, "Nothing was changed: {reasons}.", reasons="; ".join(wrong)))
            return
        if profile is None:
            await tell(interaction, t(language, "Give `/me set` at least one of `name`, `pronouns` or "
                                                "`about`."))
            return
        log.info("user %s set their persona", interaction.user.id)
        await tell(interaction, t(language, "Got it. From your next message on:") + "\n"
                   + shown(profile, language) + "\n"
                   + t(language, "Your name and pronouns go wherever we talk; the about stays in our DMs. "
                                 "`/me clear` deletes it all."))

    @group.command(name="show", description="What you told me to call you and about yourself.")
    async def show(self, interaction: Interaction) -> None:
        profile = await self.memory.profile(interaction.user.id)
        language = await answer_language(interaction)
        if not profile:
            await tell(interaction, t(language, "You have set nothing yet: `/me set` tells me your name, "
                                                "pronouns or a few lines about you."))
            return
        await tell(interaction, shown(profile, language))

    @group.command(name="clear", description="Delete what you told me to call you and about yourself.")
    async def clear(self, interaction: Interaction) -> None:
        gone = await self.memory.clear_profile(interaction.user.id)
        language = await answer_language(interaction)
        await tell(interaction, t(language, "Deleted: I call you by your display name again.") if gone
                   else t(language, "You had set nothing: nothing to delete."))


async def setup(bot: Kindred) -> None:
    await bot.add_cog(MeCommands(bot))
