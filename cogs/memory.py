"""What people can do about what the character remembers of them: ``/memory opt-in | opt-out | servers |
map | list | said`` and ``/forget_me``. Thin Discord glue over ``bot.services.memory`` (memory/service.py,
built by the bot's ``setup_hook``); every answer is ephemeral.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.i18n import listed, sentences, t, tn
from bot.core.localtime import load_zone, typed_zone
from bot.core.text import Page, clip
from bot.discord.language import answer_language
from bot.discord.memorymap import MapPanel, map_file, mentions
from bot.discord.panels import PagedPanel, show_panel
from bot.discord.ui import OwnedView, PagedView, confirm_timeout, tell
from database.models import utcnow
from database.records import CoreMemoryRow, FactRow
from database.threads import ThreadRow
from memory.factlines import list_date
from memory.facts import category_name, time_label
from memory.service import MemoryService

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)

PAGE_SIZE = 8
LIST_TIMEOUT_SECONDS = 300.0


def fact_line(number: int, fact: FactRow, now: datetime, language: str = "en") -> str:
    pin = " 📌" if fact.pinned else ""
    private = " 🔒" if fact.private else ""
    return (f"**{number}.** [{category_name(fact.category, language)}]{pin}{private} {clip(fact.fact, 130)} "
            f"· {time_label(fact, language)} · {mentions(fact, now, language)}")


def memory_line(memory: CoreMemoryRow, server: str | None, language: str = "en") -> str:
    """A core memory in /memory list, with the place it is used in (issue 49); ``server``: its server's name
    (None: a server the bot cannot see, one it left: named by its id)."""
    place = ("🔒 " + t(language, "our DMs only") if memory.private else t(language, "everywhere")
             if memory.guild_id is None else t(language, "only in {server}", server=server) if server
             else t(language, "only in server {id}", id=memory.guild_id))
    return f"**★** {clip(memory.content, 130)} · {place}"


def thread_line(thread: ThreadRow, language: str = "en") -> str:
    """An open thread in /memory list, with its day (memory/threads.py closes it when done or long past)."""
    when = (t(language, "due {day}", day=list_date(thread.due_at, language)) if thread.due_at is not None
            else t(language, "said {day}", day=list_date(thread.said_at, language)))
    return f"**⏳**{' 🔒' if thread.private else ''} {clip(thread.thread, 130)} · {when}"


class ForgetMeView(OwnedView):
    def __init__(self, memory: MemoryService, origin: Interaction, character: str,
                 forget_held: Callable[[int], None] = lambda _: None, language: str = "en") -> None:
        super().__init__(origin.user.id, origin, timeout=confirm_timeout(origin))
        self.memory = memory
        self.forget_held = forget_held  # what the features hold of them in memory only (a proposed zone)
        self.language = language  # the one who ran the command's (bot/discord/language.py)
        self.content = t(language, "Delete **everything** {character} has stored about you? Our "
                                   "conversations and their summaries, core memories (and their archived "
                                   "versions), long-term facts, the excerpts of our conversations I can look "
                                   "back on, how I feel about you, how you write, your check-in choice, your "
                                   "reminders, your logged and archived messages (my answers in our DMs "
                                   "too), your usage records, your names and what you set with `/me`. This "
                                   "cannot be undone.",
                         character=character)
        self.button(t(language, "Yes, delete everything"), "confirm", self.confirm,
                    style=discord.ButtonStyle.danger)
        self.button(t(language, "Cancel"), "cancel", self.cancel)

    async def confirm(self, interaction: Interaction) -> None:
        await interaction.response.defer()
        counts = await self.memory.forget_user(interaction.user.id)
        self.forget_held(interaction.user.id)
        total = sum(counts.values())
        deleted = tn(self.language, "Done: I deleted {count} record about you.",
                     "Done: I deleted {count} records about you.", total)
        if await self.memory.opted_out(interaction.user.id):
            await self.finish(interaction, sentences(deleted, t(
                self.language, "All I keep is that you opted out, so I still remember nothing new about you "
                               "(`/memory opt-in` changes that).")))
            return
        await self.finish(interaction, sentences(deleted, t(self.language, "If you talk to me again, I start "
                                                                          "from nothing.")))

    async def cancel(self, interaction: Interaction) -> None:
        await self.finish(interaction, t(self.language, "Cancelled: nothing was deleted."))


class MemoryCommands(commands.Cog):
    group = app_commands.Group(name="memory", description="What I remember about you, and whether I may.")

    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.memory = bot.services.memory

    @property
    def character(self) -> str:
        return self.bot.services.pipeline.persona.name

    @group.command(name="opt-in", description="Let me remember our conversations and what you tell me.")
    async def opt_in(self, interaction: Interaction) -> None:
        await self.memory.set_consent(interaction.user.id, interaction.user.display_name, True)
        log.info("user %s opted in to memory", interaction.user.id)
        await tell(interaction, t(await answer_language(interaction),
                                  "Thank you: from now on I remember our conversations and what you tell me "
                                  "about yourself. `/memory opt-out` stops it at any time, and `/forget_me` "
                                  "deletes everything."))

    @group.command(name="opt-out", description="Stop me remembering anything new about you.")
    async def opt_out(self, interaction: Interaction) -> None:
        await self.memory.set_consent(interaction.user.id, interaction.user.display_name, False)
        log.info("user %s opted out of memory", interaction.user.id)
        await tell(interaction, t(await answer_language(interaction),
                                  "Understood: I no longer keep anything new about you beyond a short-term "
                                  "log, which the next daily clean-up deletes. To erase what I already "
                                  "remember, use `/forget_me`. `/memory opt-in` turns memory back on."))

    @group.command(name="servers", description="Whether what you tell me in a server may come up in others.")
    @app_commands.describe(where="each: a server's memories stay in it (the default); all: shared everywhere")
    @app_commands.choices(where=[app_commands.Choice(name="each server its own", value="each"),
                                 app_commands.Choice(name="all servers", value="all")])
    async def servers(self, interaction: Interaction, where: str) -> None:
        everywhere = where == "all"
        await self.memory.set_everywhere(interaction.user.id, interaction.user.display_name, everywhere)
        language = await answer_language(interaction)
        if everywhere:
            await tell(interaction, t(language, "From now on, what you tell me in one server may come up in "
                                                "the others. What you tell me in DMs or private places stays "
                                                "there. `/memory servers where:each server its own` undoes "
                                                "it."))
        else:
            await tell(interaction, t(language, "What you tell me in a server stays in that server (what you "
                                                "tell me in DMs or private places stays there)."))

    @group.command(name="timezone", description="The time zone you live in, so I know your time of day.")
    @app_commands.describe(zone="An IANA time zone such as Europe/Paris or America/New_York; none: forget it")
    async def timezone(self, interaction: Interaction, zone: str | None = None) -> None:
        language = await answer_language(interaction)
        if zone is None or not zone.strip():
            await self.memory.set_timezone(interaction.user.id, interaction.user.display_name, None)
            await tell(interaction, t(language, "Done: I no longer keep your time zone."))
            return
        try:
            name = load_zone(zone).key
        except ValueError:
            await tell(interaction, t(language, "I don't know that time zone: `{zone}`. Give an IANA "
                                                "one, like Europe/Paris or UTC.", zone=typed_zone(zone)))
            return
        await self.memory.set_timezone(interaction.user.id, interaction.user.display_name, name)
        await tell(interaction, t(language, "Got it: you live on {zone} time. "
                                            "`/memory timezone` with nothing forgets it.", zone=name))

    @group.command(name="map", description="A picture of what I remember about you, by topic.")
    async def map(self, interaction: Interaction) -> None:
        facts = await self.memory.facts(interaction.user.id)
        language = await answer_language(interaction)
        if not facts:
            await tell(interaction, self._nothing_yet(language))
            return
        now = utcnow()
        picture = map_file(facts, user_name=interaction.user.display_name, character=self.character, now=now,
                           language=language)
        panel = MapPanel(interaction, facts, character=self.character, now=now, timeout=LIST_TIMEOUT_SECONDS,
                         language=language)
        await show_panel(interaction, panel, [picture])

    @group.command(name="list", description="Page through the memories and facts I keep about you.")
    async def list_facts(self, interaction: Interaction) -> None:
        facts = await self.memory.facts(interaction.user.id)
        core = await self.memory.core_memories(interaction.user.id)
        threads = await self.memory.threads(interaction.user.id)
        if not facts and not core and not threads:
            await tell(interaction, self._nothing_yet(await answer_language(interaction)))
            return
        facts.sort(key=lambda f: (f.category, -f.reference_count, f.id))
        now = utcnow()
        language = await answer_language(interaction)
        lines = [memory_line(m, self._server(m.guild_id), language) for m in core]
        lines += [fact_line(i, fact, now, language) for i, fact in enumerate(facts, 1)]
        lines += [thread_line(thread, language) for thread in threads]
        title = t(language, "What {character} remembers about you", character=self.character)
        # Each count a whole line of the catalogs, with its own plural; listed as the language lists things.
        counted = [tn(language, "{count} fact", "{count} facts", len(facts)),
                   tn(language, "{count} core memory", "{count} core memories", len(core))]
        if threads:
            counted.append(tn(language, "{count} open thread", "{count} open threads", len(threads)))
        counts = listed(language, counted)
        legend = t(language, "★ a core memory and where I use it, 📌 pinned, 🔒 from our DMs or private "
                             "places only, ⏳ what you are to do or waiting for, until it is done")

        def heading(page: Page) -> str:
            where = t(language, "page {number}/{count}", number=page.number + 1, count=page.count)
            return f"**{title}** ({where}, {counts}; {legend})"

        panel = PagedPanel(interaction, lines, heading, size=PAGE_SIZE, timeout=LIST_TIMEOUT_SECONDS,
                           language=language)
        await show_panel(interaction, panel)

    @group.command(name="said",
                   description="Page through what I kept of your own words; delete one by number.")
    @app_commands.describe(forget="The number of one of your excerpts to delete (shown in the list)")
    async def said(self, interaction: Interaction, forget: int | None = None) -> None:
        language = await answer_language(interaction)
        if forget is not None:
            gone = await self.memory.forget_said(interaction.user.id, [forget])
            await tell(interaction, t(language, "Deleted #{number}: I no longer remember you saying that.",
                                      number=forget) if gone
                       else t(language, "You have no excerpt #{number}: nothing was deleted.", number=forget))
            return
        kept = await self.memory.said(interaction.user.id)
        if not kept:
            await tell(interaction, t(language, "I have kept none of your words yet: the daily consolidation "
                                                "keeps them, when you let me remember you."))
            return
        lines = [f"**#{e.id}** {list_date(e.said_at, language)} {'🔒 ' if e.is_dm else ''}"
                 f"\"{clip(e.content, 140)}\"" for e in kept]

        title = t(language, "Your words {character} can look back on", character=self.character)

        def heading(page: Page) -> str:
            where = t(language, "page {number}/{count}", number=page.number + 1, count=page.count)
            kept = t(language, "{kept} kept; 🔒 from our DMs, recalled only there; a channel's only in that "
                               "channel", kept=page.total)
            forget = t(language, "`/memory said forget:<number>` deletes one.")
            return f"**{title}** ({where}, {kept}). {forget}"

        view = PagedView(interaction, lines, heading, size=PAGE_SIZE, timeout=LIST_TIMEOUT_SECONDS,
                         language=language)
        await interaction.response.send_message(view.content, view=view, ephemeral=True)

    def _server(self, guild_id: int | None) -> str | None:
        guild = self.bot.get_guild(guild_id) if guild_id is not None else None
        return guild.name if guild is not None else None

    def _nothing_yet(self, language: str) -> str:
        opt_in = self.memory.consent.mode == "opt_in"
        gathered = t(language, "I don't have any long-term facts about you yet: I gather them once a day "
                               "from our conversations.")
        return sentences(gathered, t(language, "I only remember people who ran `/memory opt-in`.") if opt_in
                         else "")

    @app_commands.command(name="export_me", description="A file of everything I have stored about you.")
    async def export_me(self, interaction: Interaction) -> None:
        export = self.memory.export
        language = await answer_language(interaction)
        left = export.wait_left(interaction.user.id)
        if left > 0:
            minutes = max(1, math.ceil(left / 60))
            await tell(interaction, tn(language, "I sent you your data a moment ago: you can ask for it "
                                                 "again in {count} minute.",
                                       "I sent you your data a moment ago: you can ask for it again in "
                                       "{count} minutes.", minutes))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        made = await export.make(interaction.user.id, character=self.character, language=language)
        log.info("exported the data of user %s on request (%d rows)", interaction.user.id, made.rows)
        # The answer replaces the "thinking…" placeholder, the file with it.
        if not made.rows:
            nothing = t(language, "{character} has nothing stored about you.", character=self.character)
            await interaction.edit_original_response(content=nothing)
            return
        records = tn(language, "{count} record", "{count} records", made.rows)
        await interaction.edit_original_response(
            content=tn(language, "Everything {character} has stored about you: {records} of {count} kind, in "
                                 "this file (only you can see this message). `/forget_me` deletes it all.",
                       "Everything {character} has stored about you: {records} of {count} kinds, in this "
                       "file (only you can see this message). `/forget_me` deletes it all.", made.tables,
                       character=self.character, records=records),
            attachments=[discord.File(io.BytesIO(made.data), filename=made.filename)])

    @app_commands.command(name="forget_me", description="Delete everything I have stored about you.")
    async def forget_me(self, interaction: Interaction) -> None:
        view = ForgetMeView(self.memory, interaction, self.character, self.bot.services.forget_person,
                            await answer_language(interaction))
        await interaction.response.send_message(view.content, view=view, ephemeral=True)


async def setup(bot: Kindred) -> None:
    await bot.add_cog(MemoryCommands(bot))
