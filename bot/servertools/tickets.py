"""Tickets without Discord: names, transcript lines and the summary posted when a ticket closes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.servertools.moderation import describe_duration
from database.records import TicketRecord, TranscriptLine

THREAD_NAME_MAX = 100
TOPIC_MAX = 200
TRANSCRIPT_MAX = 5000  # messages archived per ticket
CUSTOM_ID = "kindred-ticket:{ticket}:close"
CUSTOM_ID_PATTERN = r"kindred-ticket:(?P<ticket>[0-9]+):close"


def thread_name(ticket_id: int, topic: str, opener: str) -> str:
    return f"ticket-{ticket_id} {' '.join((topic or opener).split())}"[:THREAD_NAME_MAX]


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


def summary(
    ticket: TicketRecord, closed_by: str, closed_by_id: int, lines: Sequence[TranscriptLine], now: datetime
) -> str:
    """The plain summary for the log channel."""
    people = sorted({line.author_name for line in lines if line.author_name})
    lasted = describe_duration(now - ticket.opened_at)
    return (
        f"**ticket #{ticket.id} closed** · opened by <@{ticket.opener_id}> · closed by {closed_by} "
        f"({closed_by_id}) · topic: {ticket.topic or 'none'} · {len(lines)} message(s) from "
        f"{', '.join(people) or 'nobody'} · open for {lasted} · transcript archived"
    )
