"""Tickets without Discord (but for the check of their channel, given the server as discord.py keeps it):
the desk (:class:`TicketDesk`: set up, open, close, never half-done), names, transcript lines, and the words
of its panels (the opening panel's status, the log channel's notices)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.durations import describe_duration
from bot.core.i18n import N_, listed, t, tn
from bot.core.locales import FALLBACK, LINE_LANGUAGES, spoken
from bot.core.permission_names import permission_name
from bot.operator.registration import CHANNEL_ID, ROLE_ID, ServerSetting, ServerValue
from database.records import TicketRecord, TranscriptLine
from database.store import Store

if TYPE_CHECKING:
    import discord

# What a ticket's thread needs of the bot in its channel (named as Discord's settings name them).
THREAD_PERMISSIONS = ("create_private_threads", "send_messages_in_threads", "manage_threads")


async def thread_channel_refusal(guild: discord.Guild, channel_id: int, language: str | None) -> str | None:
    """Why tickets cannot make their threads in the text channel ``channel_id`` of ``guild`` (the bot lacks
    one of :data:`THREAD_PERMISSIONS` there, its overwrites counted), in ``language``; None when they can.
    What /ticket setup and /settings set ticket_channel both ask (the latter as its key's ``check``)."""
    channel = guild.get_channel(channel_id)
    if channel is None:  # /ticket setup and the key's kind refuse a channel not of the server first
        return None
    mine = channel.permissions_for(guild.me)
    missing = [permission_name(p) for p in THREAD_PERMISSIONS if not getattr(mine, p)]
    if not missing:
        return None
    return t(language, "I need {permissions} in {channel} for tickets.",
             permissions=listed(language, missing), channel=channel.mention)


# What /ticket setup sets, also shown and changed with /settings (kept under the keys they had before)
TICKET_CHANNEL = ServerSetting("ticket_channel", CHANNEL_ID,
                               N_("channel where ticket threads are made (#channel or id; /ticket setup sets "
                                  "it)"), stored_as="ticket_channel_id", check=thread_channel_refusal)
STAFF_ROLE = ServerSetting("staff_role", ROLE_ID, N_("role that handles tickets (@role or id)"),
                           stored_as="staff_role_id")
THREAD_NAME_MAX = 100
TOPIC_MAX = 200
FORGOTTEN = N_("You asked to be forgotten (/forget_me) meanwhile: no ticket was opened.")
TRANSCRIPT_MAX = 5000  # messages archived per ticket
CUSTOM_ID = "kindred-ticket:{ticket}:close"
# A ticket opened by someone not in English carries their language in its Close button's id: the closing
# line and the panel redrawn closed are in it where the server sets no language (not the closer's).
# the language: a line language, its script too where it has one (zh_Hant)
CUSTOM_ID_PATTERN = (r"kindred-ticket:(?P<ticket>[0-9]+):close"
                     r"(?::(?P<language>[a-z]{2}(?:_[A-Z][a-z]{3})?))?")


def close_id(ticket_id: int, opener_language: str | None = None) -> str:
    """The Close button's id; one carrying the opener's language when it is not English."""
    base = CUSTOM_ID.format(ticket=ticket_id)
    language = spoken(opener_language)
    return base if language == FALLBACK else f"{base}:{language}"


def carried_language(found: str | None) -> str | None:
    """The opener's language a Close button's id carried (None: none, or one no more spoken)."""
    return found if found in LINE_LANGUAGES else None


def thread_name(ticket_id: int, topic: str, opener: str, language: str = "en") -> str:
    """The ticket's thread's name in ``language`` (the ticket's: everyone in it reads the name)."""
    return t(language, "ticket-{number} {topic}", number=ticket_id,
             topic=" ".join((topic or opener).split()))[:THREAD_NAME_MAX]


def transcript_line(
    message_id: int,
    author_id: int,
    author_name: str,
    content: str,
    attachments: Sequence[str],
    created_at: datetime,
) -> TranscriptLine:
    """One archived message: its text, with attachment links after it."""
    text = "\n".join([content, *attachments]).strip()
    return TranscriptLine(message_id, author_id, author_name, text, created_at)


def opened_fields(ticket_id: int, opener: str, opener_id: int, topic: str, thread_id: int,
                  language: str = "en") -> list[tuple[str, str]]:
    """The log channel's panel for a ticket opened (its title is :func:`notice_title`)."""
    return [(t(language, "Opened by"), f"{opener} ({opener_id})"),
            (t(language, "Topic"), topic or t(language, "none")), (t(language, "Thread"), f"<#{thread_id}>")]


def summary_fields(
    ticket: TicketRecord, closed_by: str, closed_by_id: int, lines: Sequence[TranscriptLine], now: datetime,
    language: str = "en",
) -> list[tuple[str, str]]:
    """The summary for the log channel, as a panel's figures: who opened and closed it, its topic, who
    spoke and for how long it was open."""
    people = listed(language, sorted({line.author_name for line in lines if line.author_name}))
    return [
        (t(language, "Opened by"), f"<@{ticket.opener_id}>"),
        (t(language, "Closed by"), f"{closed_by} ({closed_by_id})"),
        (t(language, "Topic"), ticket.topic or t(language, "none")),
        (t(language, "Messages"), tn(language, "{count} message from {people} · transcript archived",
                                     "{count} messages from {people} · transcript archived", len(lines),
                                     people=people or t(language, "nobody"))),
        (t(language, "Open for"), describe_duration(now - ticket.opened_at, language)),
    ]


def notice_title(ticket_id: int, what: str, language: str = "en") -> str:
    """A ticket notice's title in the log channel ("ticket #3 closed"); ``what``: opened or closed."""
    if what == "opened":
        return t(language, "ticket #{number} opened", number=ticket_id)
    return t(language, "ticket #{number} closed", number=ticket_id)


def status_line(opened_at: datetime, closed_by_id: int | None = None, closed_at: datetime | None = None,
                archived: int = 0, language: str = "en") -> str:
    """A ticket's status on its opening panel: open since when, or closed by whom, when, what was kept."""
    if closed_by_id is None or closed_at is None:
        return "🟢 " + t(language, "Open since {when}", when=f"<t:{int(opened_at.timestamp())}:R>")
    return "🔒 " + tn(language, "Closed {when} by {who} · {count} message archived",
                      "Closed {when} by {who} · {count} messages archived", archived,
                      when=f"<t:{int(closed_at.timestamp())}:R>", who=f"<@{closed_by_id}>")


def clean_topic(topic: str | None) -> str:
    return " ".join((topic or "").split())[:TOPIC_MAX]


@dataclass(frozen=True)
class TicketSetup:
    """Where a server's tickets open, and who handles them."""

    ticket_channel_id: int
    staff_role_id: int


def may_close(ticket: TicketRecord, staff_role_id: int | None, user_id: int,
              role_ids: Collection[int]) -> bool:
    """The opener and the server's staff role may close a ticket (server admins too: the cog asks Discord)."""
    return user_id == ticket.opener_id or (staff_role_id is not None and staff_role_id in role_ids)


class TicketDesk:
    """A server's tickets without Discord. Nothing is left half-done: a ticket's row is written first and
    dropped again when its thread cannot be made (the caller's ``undo`` removes a thread made but not
    recorded), so there is never a thread without its row or the reverse."""

    def __init__(self, store: Store, channel: ServerValue[int], staff: ServerValue[int]) -> None:
        self.store = store
        self.channel = channel  # TICKET_CHANNEL's and STAFF_ROLE's values
        self.staff = staff

    async def set_up(self, guild_id: int, staff_role_id: int, channel_id: int) -> None:
        await self.staff.set(guild_id, staff_role_id)
        await self.channel.set(guild_id, channel_id)

    async def setup_of(self, guild_id: int) -> TicketSetup | None:
        """Where tickets open here and who handles them, when both are set up, else None."""
        channel = await self.channel.at(guild_id, fresh=True)
        staff = await self.staff.at(guild_id)
        return TicketSetup(channel, staff) if channel and staff else None

    async def open_thread_of(self, guild_id: int, opener_id: int) -> int | None:
        """The thread of the ticket ``opener_id`` already has open here, if any: one at a time."""
        for ticket in await self.store.tickets.open_for(guild_id, opener_id):
            if ticket.thread_id:
                return ticket.thread_id
        return None

    async def open(
        self,
        guild_id: int,
        channel_id: int,
        opener_id: int,
        topic: str,
        make_thread: Callable[[int], Awaitable[int]],
        undo: Callable[[], Awaitable[None]],
        mark: int,
    ) -> int | None:
        """Open a ticket: its row, then ``make_thread(ticket id)`` (the thread's id), then the two tied.
        On any failure ``undo`` runs, the row is dropped and the failure goes on to the caller. Its rows
        name its opener: a /forget_me of theirs since ``mark`` (:meth:`mark`, taken as they asked) means
        none is opened (None); one that begins meanwhile waits for it, then deletes it."""
        async with self.store.privacy.writing_about(opener_id, mark) as allowed:
            if not allowed:
                return None
            ticket_id = await self.store.tickets.open(guild_id, channel_id, opener_id, topic)
            try:
                thread_id = await make_thread(ticket_id)
                await self.store.tickets.set_thread(ticket_id, thread_id)
            except BaseException:
                try:
                    await undo()
                finally:
                    await self.store.tickets.discard(ticket_id)
                raise
            return ticket_id

    def mark(self) -> int:
        """Taken before a ticket's opening message is posted (database/privacy.py ``posted_for``)."""
        return self.store.privacy.mark()

    async def posted_for(self, opener_id: int, message_id: int, mark: int) -> None:
        """The ticket's opening message quotes its opener's topic: theirs to forget (/forget_me; ``mark``:
        :meth:`mark`, before it was posted)."""
        await self.store.privacy.posted_for(opener_id, message_id, mark)

    async def closable(self, ticket_id: int) -> tuple[TicketRecord, int | None] | None:
        """An open ticket with its thread, and its server's staff role; None when it is closed or gone."""
        ticket = await self.store.tickets.get(ticket_id)
        if ticket is None or ticket.status != "open" or ticket.thread_id is None:
            return None
        return ticket, await self.staff.at(ticket.guild_id)

    async def close(self, ticket_id: int, closed_by: int, lines: Sequence[TranscriptLine]) -> bool:
        """Close once, archiving the transcript; False when someone closed it first."""
        return await self.store.tickets.close(ticket_id, closed_by, lines)
