"""``/bot tasks add|list|pause|resume|skip|cancel`` (admins): place tasks, what the character does in a
channel on a schedule (bot/features/reminders/tasks.py). A subgroup of ``/bot`` (cogs/activation.py), added
to it when this cog loads: the reminders feature's registration lists this cog. Thin Discord glue; answers
are ephemeral."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.core.i18n import t
from bot.core.text import clip
from bot.discord.language import answer_language
from bot.discord.panels import panel, show_panel
from bot.discord.permissions import admin_only, in_server, is_admin
from bot.discord.subgroups import BotSubgroup
from bot.discord.ui import tell
from bot.features.reminders.book import zone_choices
from bot.features.reminders.tasks import PlaceTasks, task_line

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)


def place_tasks(interaction: Interaction) -> PlaceTasks:
    return interaction.client.services.part(PlaceTasks)


class TaskCommands(app_commands.Group):
    """The subgroup, one for each bot (its cog builds it): it holds nothing of a bot's and
    reads the place tasks from the bot the interaction came to."""

    async def ac_zone(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=z, value=z) for z in zone_choices(str(current))]

    async def ac_task(self, interaction: Interaction, current: str) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None or not await is_admin(interaction.client, interaction.user):
            return []
        typed = str(current).casefold()
        return [app_commands.Choice(name=clip(f"#{row.id} {row.text}", 100), value=row.id)
                for row in await place_tasks(interaction).listed(interaction.guild_id)
                if typed in f"#{row.id} {row.text}".casefold()][:25]

    @app_commands.command(name="add", description="Give me something to do in this channel on a schedule.")
    @app_commands.describe(what="What I should do each time, e.g. post a question of the day",
                           time="The time of day, e.g. 09:00 or 9am",
                           repeat="An RRULE, e.g. FREQ=WEEKLY;BYDAY=MO,WE,FR (default: every day)",
                           zone="The time zone (default: mine), e.g. Europe/London")
    @app_commands.autocomplete(zone=ac_zone)
    @in_server()
    @admin_only()
    async def tasks_add(self, interaction: Interaction, what: app_commands.Range[str, 1, 500], time: str,
                        repeat: str = "", zone: str = "") -> None:
        assert interaction.guild_id is not None and interaction.channel_id is not None  # in_server
        language = await answer_language(interaction)
        channel, guild = interaction.channel, interaction.guild
        if not isinstance(channel, discord.TextChannel) or guild is None:
            await tell(interaction, t(language, "Place tasks are for a server's text channels: use it in "
                                                "one."))
            return
        if not channel.permissions_for(guild.me).send_messages:
            await tell(interaction, t(language, "I can't post in {channel}; give me Send Messages there "
                                                "first.", channel=channel.mention))
            return
        answer, set_up = await place_tasks(interaction).add(
            interaction.guild_id, channel.id, interaction.user.id, interaction.user.display_name, what, time,
            repeat, zone, language)
        if set_up:
            log.info("admin %s set a place task in channel %s", interaction.user.id, channel.id)
            if not await interaction.client.services.tools.places.is_active(channel.id, interaction.guild_id):
                answer += "\n-# " + t(language, "I'm inactive here: its times are skipped until "
                                                 "`/bot activate`.")
        await tell(interaction, answer, allowed_mentions=discord.AllowedMentions.none())

    @app_commands.command(name="list", description="This server's place tasks.")
    @in_server()
    @admin_only()
    async def tasks_list(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None  # in_server
        language = await answer_language(interaction)
        listed = await place_tasks(interaction).listed(interaction.guild_id)
        if not listed:
            await tell(interaction, t(language, "This server has no place tasks. `/bot tasks add` gives me "
                                                "one here."))
            return
        await show_panel(interaction, panel(t(language, "Place tasks"), [
            ("", "-# " + t(language, "`/bot tasks pause`, `resume`, `skip` (its next time) and `cancel` "
                                     "change one")),
            ("", "\n".join(task_line(task, language) for task in listed))]))

    @app_commands.command(name="pause", description="Pause one of this server's place tasks.")
    @app_commands.describe(task="The task (its number in the list)")
    @app_commands.autocomplete(task=ac_task)
    @in_server()
    @admin_only()
    async def tasks_pause(self, interaction: Interaction, task: int) -> None:
        assert interaction.guild_id is not None  # in_server
        tasks, language = place_tasks(interaction), await answer_language(interaction)
        await tell(interaction, await tasks.pause(interaction.guild_id, task, True, language))

    @app_commands.command(name="resume", description="Start a paused place task again.")
    @app_commands.describe(task="The task (its number in the list)")
    @app_commands.autocomplete(task=ac_task)
    @in_server()
    @admin_only()
    async def tasks_resume(self, interaction: Interaction, task: int) -> None:
        assert interaction.guild_id is not None  # in_server
        tasks, language = place_tasks(interaction), await answer_language(interaction)
        await tell(interaction, await tasks.pause(interaction.guild_id, task, False, language))

    @app_commands.command(name="skip", description="Skip the next time of a place task, once.")
    @app_commands.describe(task="The task (its number in the list)")
    @app_commands.autocomplete(task=ac_task)
    @in_server()
    @admin_only()
    async def tasks_skip(self, interaction: Interaction, task: int) -> None:
        assert interaction.guild_id is not None  # in_server
        language = await answer_language(interaction)
        await tell(interaction, await place_tasks(interaction).skip(interaction.guild_id, task, language))

    @app_commands.command(name="cancel", description="End one of this server's place tasks.")
    @app_commands.describe(task="The task (its number in the list)")
    @app_commands.autocomplete(task=ac_task)
    @in_server()
    @admin_only()
    async def tasks_cancel(self, interaction: Interaction, task: int) -> None:
        assert interaction.guild_id is not None  # in_server
        language = await answer_language(interaction)
        await tell(interaction, await place_tasks(interaction).cancel(interaction.guild_id, task, language))


class PlaceTaskCommands(BotSubgroup):
    def __init__(self, bot: Kindred) -> None:
        super().__init__(bot, TaskCommands(
            name="tasks", description="Things I do in a channel on a schedule (admins)."))


async def setup(bot: Kindred) -> None:
    await bot.add_cog(PlaceTaskCommands(bot))
