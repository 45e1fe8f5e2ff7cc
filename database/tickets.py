"""Support tickets: a row per ticket (created before its thread, so a failed thread leaves nothing behind
once the row is dropped again) and, when it closes, its transcript."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, select, update

from database.boundary import NamedRow
from database.engine import Database
from database.models import utcnow
from database.records import TicketRecord, TranscriptLine
from database.rowmap import columns, record
from database.server_models import Ticket, TicketMessage

TICKET_COLUMNS = columns(Ticket, TicketRecord)  # read by name (database/rowmap.py)
TRANSCRIPT_COLUMNS = columns(TicketMessage, TranscriptLine)


def _ticket(row: NamedRow) -> TicketRecord:
    return record(TicketRecord, row)


class Tickets:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(self, guild_id: int, channel_id: int, opener_id: int, topic: str) -> int:
        stmt = (
            insert(Ticket)
            .values(
                guild_id=guild_id,
                channel_id=channel_id,
                opener_id=opener_id,
                topic=topic[:200],
                status="open",
                opened_at=utcnow(),
            )
            .returning(Ticket.id)
        )
        return int(await self.db.write(lambda conn: conn.execute(stmt).scalar_one()))

    async def set_thread(self, ticket_id: int, thread_id: int) -> None:
        await self.db.change(update(Ticket).where(Ticket.id == ticket_id).values(thread_id=thread_id))

    async def discard(self, ticket_id: int) -> None:
        """Drop a ticket whose thread could not be made."""
        await self.db.change(delete(Ticket).where(Ticket.id == ticket_id))

    async def get(self, ticket_id: int) -> TicketRecord | None:
        row = await self.db.first(select(*TICKET_COLUMNS).where(Ticket.id == ticket_id))
        return _ticket(row) if row is not None else None

    async def open_for(self, guild_id: int, opener_id: int) -> list[TicketRecord]:
        rows = await self.db.rows(
            select(*TICKET_COLUMNS).where(
                Ticket.guild_id == guild_id, Ticket.opener_id == opener_id, Ticket.status == "open"
            )
        )
        return [_ticket(r) for r in rows]

    async def close(self, ticket_id: int, closed_by: int, transcript: Sequence[TranscriptLine]) -> bool:
        """Close a ticket and archive its transcript in one transaction; False when it was already closed."""
        now = utcnow()

        def work(conn: Connection) -> bool:
            changed = conn.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.status == "open")
                .values(status="closed", closed_at=now, closed_by=closed_by)
            ).rowcount
            if not changed:
                return False
            if transcript:
                conn.execute(
                    insert(TicketMessage),
                    [
                        {
                            "ticket_id": ticket_id,
                            "message_id": line.message_id,
                            "author_id": line.author_id,
                            "author_name": line.author_name[:100],
                            "content": line.content,
                            "created_at": line.created_at,
                        }
                        for line in transcript
                    ],
                )
            return True

        return await self.db.write(work)

    async def transcript(self, ticket_id: int) -> list[TranscriptLine]:
        rows = await self.db.rows(
            select(*TRANSCRIPT_COLUMNS).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)
        )
        return [record(TranscriptLine, r) for r in rows]
