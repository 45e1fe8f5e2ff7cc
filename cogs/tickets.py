"""Tickets: ``/ticket open [topic]`` makes a private thread between the member and the server's staff role,
opened by a panel (Components V2: who opened it, the staff, the topic, its status and a Close button);
closing archives the transcript in the database, turns the panel to closed and posts a summary panel to the
log channel. ``/ticket setup`` (server admins) sets the staff role and the channel the threads live in.

The workflow (a ticket never left half-done) is bot/features/servertools/tickets.py's TicketDesk; this cog
turns Discord in and out.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.i18n import N_, sentences, t
from bot.core.locales import FALLBACK
from bot.core.text import clip
from bot.discord.language import answer_language
from bot.discord.line_language import person_language, place_language
from bot.discord.panels import panel
from bot.discord.permissions import (
    HookInteraction,
    NotServerAdmin,
    is_server_admin,
    require_server,
)
from bot.discord.posting import allowed_mentions_for
from bot.discord.serverlog import post_notice
from bot.discord.ui import tell
from bot.features.servertools.moderation import audit_reason
from bot.features.servertools.settings import everyone_refusal
from bot.features.servertools.tickets import (
    CUSTOM_ID_PATTERN,
    FORGOTTEN,
    STAFF_ROLE,
    TRANSCRIPT_MAX,
    TicketDesk,
    carried_language,
    clean_topic,
    close_id,
    may_close,
    notice_title,
    opened_fields,
    status_line,
    summary_fields,
    thread_channel_refusal,
    thread_name,
    transcript_line,
)
from database.models import utcnow

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)

NOT_SET_UP = N_("Tickets aren't set up in this server yet: an admin can run `/ticket setup`.")


class CloseButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=CUSTOM_ID_PATTERN):
    """A ticket's Close button; works after a restart too."""

    def __init__(self, ticket_id: int, language: str = "en", opener: str | None = None) -> None:
        """``language``: its label's (the panel's); ``opener``: the language of who opened the ticket, which
        its id carries for the close."""
        super().__init__(
            discord.ui.Button(
                label=t(language, "Close ticket"),
                style=discord.ButtonStyle.danger,
                emoji="🔒",
                custom_id=close_id(ticket_id, opener),
            )
        )
        self.ticket_id = ticket_id
        self.opener = opener

    @classmethod
    async def from_custom_id(
        cls, interaction: HookInteraction, item: discord.ui.Item[discord.ui.View], match: re.Match[str], /
    ) -> CloseButton:
        return cls(int(match["ticket"]), opener=carried_language(match["language"]))

    async def callback(self, interaction: HookInteraction) -> None:
        cog = interaction.client.get_cog("Tickets")
        if not isinstance(cog, TicketCommands):
            language = await answer_language(interaction)
            await tell(interaction, t(language, "Tickets are not available right now."))
            return
        await cog.close(interaction, self.ticket_id, self.opener)


OPEN_COLOUR = discord.Colour.green()
CLOSED_COLOUR = discord.Colour.greyple()


def ticket_panel(ticket_id: int, opener_id: int, staff_role_id: int, topic: str, status: str, *,
                 close: CloseButton | None = None, language: str = "en") -> discord.ui.LayoutView:
    """The ticket's opening message, a panel: who opened it and the staff (mentioned, which brings them into
    the private thread), the topic, its status, and the Close button while it is open; in ``language``."""
    body: list[discord.ui.Item[Any]] = [
        discord.ui.TextDisplay("### 🎫 " + t(language, "Ticket #{number}", number=ticket_id)),
        discord.ui.TextDisplay(t(language, "**Opened by** {opener} · **Staff** {staff}",
                                 opener=f"<@{opener_id}>", staff=f"<@&{staff_role_id}>")),
        discord.ui.Separator(),
        discord.ui.TextDisplay(t(language, "**Topic**") + "\n"
                               + (clip(topic, 1000) or t(language, "none given"))),
        discord.ui.TextDisplay(t(language, "**Status**") + "\n" + status),
    ]
    if close is not None:
        body += [discord.ui.TextDisplay("-# " + t(language, "Staff will be with you here; press Close when "
                                                            "it's sorted.")),
                 discord.ui.ActionRow(close)]
    view = discord.ui.LayoutView(timeout=None)
    view.add_item(discord.ui.Container(*body, accent_colour=OPEN_COLOUR if close else CLOSED_COLOUR))
    return view


class TicketCommands(commands.Cog, name="Tickets"):
    group = app_commands.Group(
        name="ticket",
        description="Private help threads with the server's staff.",
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
    )

    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.desk = bot.services.part(TicketDesk)

    @property
    def character(self) -> str:
        return self.bot.services.pipeline.persona.name

    def permissions_asked(self) -> tuple[discord.Permissions, str]:
        return discord.Permissions(manage_threads=True, create_private_threads=True), ""  # a ticket's thread

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(CloseButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(CloseButton)

    @group.command(
        name="setup", description="Set the staff role and the channel for tickets (server admins)."
    )
    @app_commands.describe(
        staff_role="The role that handles tickets",
        channel="Where ticket threads are made (default: this channel)",
    )
    async def setup_tickets(
        self,
        interaction: Interaction,
        staff_role: discord.Role,
        channel: discord.TextChannel | None = None,
    ) -> None:
        require_server(interaction)
        language = await answer_language(interaction)
        if not await is_server_admin(self.bot, interaction):
            await tell(interaction, t(language, str(NotServerAdmin())))
            return
        guild = interaction.guild
        target = channel or interaction.channel
        if guild is None or not isinstance(target, discord.TextChannel) or target.guild.id != guild.id:
            await tell(interaction, t(language, "Tickets need a text channel of this server for their "
                                                "threads."))
            return
        if staff_role.is_default():  # refused as /settings set staff_role refuses it
            await tell(interaction, everyone_refusal(STAFF_ROLE.name, language),
                       allowed_mentions=discord.AllowedMentions.none())
            return
        refused = await thread_channel_refusal(guild, target.id, language)  # /settings asks the same
        if refused is not None:
            await tell(interaction, refused)
            return
        mine = target.permissions_for(guild.me)
        await self.desk.set_up(guild.id, staff_role.id, target.id)
        log.info("tickets in server %s: staff role %s, channel %s", guild.id, staff_role.id, target.id)
        # Mentioning the role in a private thread is what brings its members in (the bot seldom knows them
        # all without the privileged members intent); that mention works only if it may ping the role.
        note = (
            ""
            if staff_role.mentionable or mine.mention_everyone
            else t(language, "Note: {role} is not mentionable, so I can only add the staff I know; make it "
                             "mentionable (Server Settings, Roles) so every staff member joins each ticket.",
                   role=staff_role.mention)
        )
        await tell(
            interaction,
            sentences(t(language, "*{name} pins up a sign.* Tickets now open as private threads in "
                                  "{channel}, with {role}.", name=self.character, channel=target.mention,
                        role=staff_role.mention), note),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @group.command(name="open", description="Open a private thread with the staff.")
    @app_commands.describe(topic="What it is about (optional)")
    async def open_ticket(self, interaction: Interaction, topic: str | None = None) -> None:
        require_server(interaction)
        language = await answer_language(interaction)
        guild = interaction.guild
        config = await self.desk.setup_of(int(interaction.guild_id or 0))
        if guild is None or config is None:
            await tell(interaction, t(language, NOT_SET_UP))
            return
        channel = guild.get_channel(config.ticket_channel_id)
        role = guild.get_role(config.staff_role_id)
        if not isinstance(channel, discord.TextChannel) or role is None:
            await tell(interaction, t(language, "The ticket channel or staff role is gone: an admin can run "
                                                "`/ticket setup` again."))
            return
        already = await self.desk.open_thread_of(guild.id, interaction.user.id)
        if already:
            await tell(interaction, t(language, "You already have an open ticket: {thread}.",
                                      thread=f"<#{already}>"))
            return
        # the thread's panel: the place's language, else theirs (which its Close button keeps for the close)
        shown = await place_language(self.bot, guild.id) or language
        about = clean_topic(topic)
        mark = self.desk.mark()
        await interaction.response.defer(ephemeral=True, thinking=True)
        thread: discord.Thread | None = None

        async def make_thread(ticket_id: int) -> int:
            nonlocal thread
            thread = await channel.create_thread(
                name=thread_name(ticket_id, about, interaction.user.display_name, shown),
                type=discord.ChannelType.private_thread,
                invitable=False,
                auto_archive_duration=10080,
                reason=audit_reason(
                    interaction.user.display_name, interaction.user.id, f"ticket #{ticket_id}"
                ),
            )
            await thread.add_user(interaction.user)
            for member in role.members[:50]:  # the staff the bot knows; the role mention below adds all
                if not member.bot and member.id != interaction.user.id:
                    await thread.add_user(member)
            opening = await thread.send(
                view=ticket_panel(ticket_id, interaction.user.id, role.id, about,
                                  status_line(utcnow(), language=shown),
                                  close=CloseButton(ticket_id, shown, language), language=shown),
                allowed_mentions=allowed_mentions_for("", users=[interaction.user], roles=[role]),
            )
            await self.desk.posted_for(interaction.user.id, opening.id, mark)  # it quotes their topic
            return thread.id

        async def undo() -> None:
            await self._delete_thread(thread)

        try:
            ticket_id = await self.desk.open(
                guild.id, channel.id, interaction.user.id, about, make_thread, undo, mark
            )
        except discord.HTTPException as exc:
            await interaction.edit_original_response(
                content=(
                    t(language, "I couldn't open the ticket: Discord refused (I need Create Private Threads, "
                                "Send Messages in Threads and Manage Threads in {channel}).",
                      channel=channel.mention)
                    if isinstance(exc, discord.Forbidden)
                    else t(language, "I couldn't open the ticket: {error}",
                           error=clip(exc.text or str(exc), 150))
                )
            )
            return
        if ticket_id is None:  # they ran /forget_me meanwhile
            await interaction.edit_original_response(content=t(language, FORGOTTEN))
            return
        assert thread is not None  # made by make_thread, or open() raised
        user = interaction.user
        logged = await place_language(self.bot, guild.id) or "en"  # the log channel: the server's language
        fields = opened_fields(ticket_id, user.display_name, user.id, about, thread.id, logged)
        await post_notice(self.bot, guild.id, None,
                          view=panel(notice_title(ticket_id, "opened", logged), fields, accent=OPEN_COLOUR))
        await interaction.edit_original_response(content=t(language, "Your ticket is open: {thread}.",
                                                           thread=thread.mention))

    async def _thread_language(self, guild_id: int, opener_id: int, carried: str | None) -> str:
        """What everyone in a ticket's thread reads (its panel redrawn closed, the closing line): the server's
        /settings language, else its opener's (as its Close button carried it, else their writing profile),
        never the closer's."""
        return (await place_language(self.bot, guild_id) or carried
                or await person_language(self.bot, opener_id) or FALLBACK)

    @staticmethod
    async def _delete_thread(thread: discord.Thread | None) -> None:
        """A ticket that failed half-way leaves no thread (the desk drops its row)."""
        if thread is not None:
            try:
                await thread.delete()
            except discord.HTTPException:
                log.exception("could not delete the thread %s of a failed ticket", thread.id)

    async def close(self, interaction: Interaction, ticket_id: int, opener: str | None = None) -> None:
        """Close the ticket; ``opener``: its opener's language as its Close button carried it (None: English,
        or a ticket opened before buttons carried it)."""
        language = await answer_language(interaction)
        found = await self.desk.closable(ticket_id)
        if found is None:
            await tell(interaction, t(language, "This ticket is already closed."))
            return
        ticket, staff_role_id = found
        user = interaction.user
        if (
            not may_close(ticket, staff_role_id, user.id, {r.id for r in getattr(user, "roles", [])})
            and not interaction.permissions.manage_threads
            and not await is_server_admin(self.bot, interaction)
        ):
            await tell(interaction, t(language, "Only the person who opened this ticket or the staff can "
                                                "close it."))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        shown = await self._thread_language(ticket.guild_id, ticket.opener_id, opener)
        thread = await self.bot.fetch_channel(ticket.thread_id or 0)
        if not isinstance(thread, discord.Thread):
            gone = t(language, "I can't find this ticket's thread any more.")
            await interaction.edit_original_response(content=gone)
            return
        lines = [
            transcript_line(
                m.id,
                m.author.id,
                m.author.display_name,
                m.content,
                [a.url for a in m.attachments],
                m.created_at,
            )
            async for m in thread.history(limit=TRANSCRIPT_MAX, oldest_first=True)
        ]
        if not await self.desk.close(ticket_id, user.id, lines):
            await interaction.edit_original_response(content=t(language, "This ticket is already closed."))
            return
        if interaction.message is not None:  # the opening panel, whose Close was pressed: now closed
            closed = status_line(ticket.opened_at, user.id, utcnow(), len(lines), shown)
            view = ticket_panel(ticket_id, ticket.opener_id, staff_role_id or 0, ticket.topic, closed,
                                language=shown)
            # A ticket opened before panels has text; it goes as the message becomes one (V2 has none).
            cleared: dict[str, Any] = {} if interaction.message.flags.components_v2 else {"content": None}
            try:
                await interaction.message.edit(view=view, allowed_mentions=discord.AllowedMentions.none(),
                                               **cleared)
            except discord.HTTPException as exc:
                log.warning("could not mark the panel of ticket %s closed: %s", ticket_id, exc)
        await thread.send(
            t(shown, "*{name} turns off the light.* Ticket closed by {who}; the transcript is archived.",
              name=self.character, who=user.mention),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        try:
            await thread.edit(
                archived=True,
                locked=True,
                reason=audit_reason(user.display_name, user.id, f"ticket #{ticket_id} closed"),
            )
        except discord.HTTPException as exc:
            log.warning("could not archive the thread of ticket %s: %s", ticket_id, exc)
        logged = await place_language(self.bot, ticket.guild_id) or "en"
        fields = summary_fields(ticket, user.display_name, user.id, lines, utcnow(), logged)
        await post_notice(self.bot, ticket.guild_id, None,
                          view=panel(notice_title(ticket_id, "closed", logged), fields, accent=CLOSED_COLOUR))
        log.info("ticket %s closed by %s (%d messages archived)", ticket_id, user.id, len(lines))
        await interaction.edit_original_response(content=t(language, "Closed. The transcript is archived."))


async def setup(bot: Kindred) -> None:
    await bot.add_cog(TicketCommands(bot))
