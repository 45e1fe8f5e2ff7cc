"""``/timezone`` (the person's IANA zone, autocompleted; the same one ``/memory timezone`` sets) and
``/reminders`` (the person's waiting reminders, each time shown by Discord in the reader's own zone; one
cancelled by number, a recurring one paused, resumed or its next time skipped). Thin Discord glue over
bot/features/reminders/book.py; every answer is ephemeral."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from discord import app_commands
from discord.ext import commands

from bot.core.i18n import t
from bot.core.localtime import load_zone, typed_zone
from bot.core.text import clip
from bot.discord.language import answer_language, locale_language
from bot.discord.panels import panel, show_panel
from bot.discord.ui import tell
from bot.features.reminders.book import ReminderBook, local_time, stamp, zone_choices, zone_names
from bot.features.reminders.described import describe
from database.reminders import ReminderRow

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)

Choices = list[app_commands.Choice[str | int | float]]


def reminder_line(reminder: ReminderRow, here: str, language: str = "en") -> str:
    repeats = "" if not reminder.rule else \
        " · " + t(language, "repeats {rule} ({zone})", rule=describe(reminder.rule, language),
                  zone=reminder.zone) + \
        (" · **" + t(language, "paused") + "**" if reminder.paused else "")
    return f"**#{reminder.id}** {stamp(reminder.due_at)} · {here}{repeats} · {clip(reminder.text, 120)}"


class ReminderCommands(commands.Cog):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.book = bot.services.part(ReminderBook)

    async def cog_load(self) -> None:
        await asyncio.to_thread(zone_names)  # the zone list read once, off the event loop

    async def ac_zone(self, interaction: Interaction, current: str) -> Choices:
        proposed = self.book.proposed(interaction.user.id)
        language = locale_language(interaction)  # no database read: an autocomplete answers at once
        return [app_commands.Choice(name=z if z != proposed else t(language, "{zone} (from what you told me)",
                                                                   zone=z), value=z)
                for z in zone_choices(str(current), proposed)]

    @app_commands.command(name="timezone", description="The time zone you live in, for your reminders and "
                                                        "your time of day.")
    @app_commands.describe(zone="An IANA time zone such as Europe/London or America/New_York")
    @app_commands.autocomplete(zone=ac_zone)
    async def timezone(self, interaction: Interaction, zone: str) -> None:
        language = await answer_language(interaction)
        try:
            name = load_zone(zone).key if zone.strip() else ""
        except ValueError:
            await tell(interaction, t(language, "I don't know that time zone: `{zone}`. Give an IANA "
                                                "one, like Europe/Paris or UTC.", zone=typed_zone(zone)))
            return
        if not name:
            await tell(interaction, t(language, "Which one? Start typing your city, e.g. `London` or "
                                                "`New York`."))
            return
        await self.bot.services.memory.set_timezone(interaction.user.id, interaction.user.display_name, name)
        self.book.confirmed(interaction.user.id)
        log.info("user %s set their time zone", interaction.user.id)
        await tell(interaction, t(language, "Got it: you live on {zone} time; your reminders follow it. "
                                            "`/memory timezone` with nothing forgets it.", zone=name))

    async def ac_reminder(self, interaction: Interaction, current: str) -> Choices:
        try:
            waiting = await self.book.waiting(interaction.user.id)
        except Exception:
            log.exception("reminder autocomplete failed")
            return []
        # Each time as the person reads one: in their own zone (else the reminder's, else UTC, then named)
        # and as their language writes a date and a time.
        language = locale_language(interaction)
        theirs = await self.book.reminders.zone_of(interaction.user.id)
        typed = str(current).casefold()
        choices: Choices = [
            app_commands.Choice(name=clip(f"#{r.id} {local_time(r.due_at, theirs or r.zone, language)}"
                                          f"{'' if theirs else ' ' + (r.zone or 'UTC')} · {r.text}", 100),
                                value=r.id)
            for r in waiting if typed in f"#{r.id} {r.text}".casefold()]
        return choices[:25]

    @app_commands.command(name="reminders", description="Your reminders waiting; cancel, pause, resume or "
                                                         "skip one.")
    @app_commands.describe(cancel="The reminder to cancel (its number in the list)",
                           pause="A recurring reminder to pause", resume="A paused reminder to start again",
                           skip="A recurring reminder whose next time to skip, once")
    @app_commands.autocomplete(cancel=ac_reminder, pause=ac_reminder, resume=ac_reminder, skip=ac_reminder)
    async def reminders(self, interaction: Interaction, cancel: int | None = None, pause: int | None = None,
                        resume: int | None = None, skip: int | None = None) -> None:
        user = interaction.user.id
        language = await answer_language(interaction)
        if sum(option is not None for option in (cancel, pause, resume, skip)) > 1:
            await tell(interaction, t(language, "One at a time: give `/reminders` only one of `cancel`, "
                                                "`pause`, `resume` or `skip`."))
            return
        if pause is not None or resume is not None:
            await tell(interaction, await self.book.pause(user, pause if pause is not None else resume or 0,
                                                          paused=pause is not None, language=language))
            return
        if skip is not None:
            await tell(interaction, await self.book.skip(user, skip, language))
            return
        if cancel is not None:
            gone = await self.book.cancel(user, cancel)
            await tell(interaction, t(language, "Cancelled reminder #{number}.", number=cancel) if gone
                       else t(language, "You have no reminder #{number} waiting: nothing was cancelled.",
                              number=cancel))
            return
        waiting = await self.book.waiting(user)
        if not waiting:
            await tell(interaction, t(language, "You have no reminders waiting. Ask me in a DM, e.g. "
                                                "\"remind me in 20 minutes to stretch\"."))
            return
        lines = [reminder_line(r, self._place(r, language), language) for r in waiting]
        # The hint first: a long list is cut at its end, never the hint.
        await show_panel(interaction, panel(t(language, "Your reminders"), [
            ("", "-# " + t(language, "`/reminders cancel:<number>` cancels one; `pause`, `resume` and `skip` "
                                     "(its next time) are for a recurring one")), ("", "\n".join(lines))]))

    def _place(self, reminder: ReminderRow, language: str) -> str:
        return t(language, "in our DMs") if reminder.is_dm else t(language, "in {channel}",
                                                                  channel=f"<#{reminder.channel_id}>")


async def setup(bot: Kindred) -> None:
    await bot.add_cog(ReminderCommands(bot))
