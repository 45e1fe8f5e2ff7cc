"""Replies owed: a message that will be answered is marked in the same transaction that logs it, and the
mark is cleared once the reply is posted. What a crash (kill -9, power loss) leaves marked is answered at the
next start-up, or closed as dropped when too old (bot/reply/recovery.py).

The table is small (rows live seconds) and kept apart from the message log, so consolidation, which moves
the log to the archive, never has to know about it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import BigInteger, Connection, Integer, String, Text, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column

from database.boundary import Statements
from database.engine import Database
from database.models import TZ, Base, utcnow
from database.statements import execute_all


class OwedReply(Base):
    """A message some character still owes a reply to (0011_reply_owed)."""

    __tablename__ = "owed_replies"

    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    character: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    owed_since: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    # A reply of several parts: all of them (JSON), written before the first goes out, and how many went
    # out, so a restart sends the rest rather than nothing or everything again (0013, issue 49).
    parts: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered: Mapped[int] = mapped_column(Integer, server_default="0")


@dataclass(frozen=True)
class Owed:
    character: str
    message_id: int
    channel_id: int
    owed_since: datetime
    parts: tuple[str, ...] = ()  # the answer's parts, once its delivery began (several parts only)
    delivered: int = 0  # how many of them were posted


def owed_statements(dialect: Dialect) -> Statements:
    """The mark and its clearing, built once: both run for every reply."""
    insert_for = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    return {
        "owed_insert": insert_for(OwedReply).on_conflict_do_nothing(index_elements=[OwedReply.message_id,
                                                                                    OwedReply.character]),
        "owed_delete": delete(OwedReply).where(OwedReply.character == bindparam("character"),
                                               OwedReply.message_id == bindparam("message_id")),
    }


def owed_rows(character: str, messages: Iterable[tuple[int, int]]) -> list[dict[str, object]]:
    """Rows for (message id, channel id) pairs owed by ``character``, stamped now."""
    now = utcnow()
    return [{"message_id": m, "character": character, "channel_id": c, "owed_since": now}
            for m, c in messages]


def insert_owed(q: Statements, conn: Connection, rows: Sequence[dict[str, object]]) -> None:
    """Mark replies owed inside a unit of work that is already open (the message log's write)."""
    if rows:
        execute_all(conn, q["owed_insert"], rows)


class Settled(NamedTuple):
    """A reply posted: its mark is cleared with the message log's next batch (database/log.py)."""

    character: str
    message_id: int


def delete_owed(q: Statements, conn: Connection, settled: Sequence[Settled]) -> None:
    """Clear marks inside a unit of work that is already open (the message log's batch)."""
    if settled:
        execute_all(conn, q["owed_delete"], [{"character": c, "message_id": m} for c, m in settled])


class OwedReplies:
    def __init__(self, db: Database, q: Statements) -> None:
        self.db = db
        self._q = q

    async def mark(self, character: str, message_id: int, channel_id: int) -> None:
        """Mark one reply owed on its own (a reply decided after the message was logged: a vote)."""
        rows = owed_rows(character, [(message_id, channel_id)])
        await self.db.write_shared(lambda conn: insert_owed(self._q, conn, rows))

    async def delivering(self, character: str, message_id: int, delivered: int,
                         parts: Sequence[str] | None = None) -> None:
        """A reply of several parts: ``parts`` (given before the first is posted) and how many are posted."""
        values: dict[str, object] = {"delivered": delivered}
        if parts is not None:
            values["parts"] = json.dumps(list(parts))
        statement = update(OwedReply).where(OwedReply.character == character,
                                            OwedReply.message_id == message_id).values(**values)
        await self.db.write_shared(lambda conn: conn.execute(statement), single=True)

    async def settle(self, character: str, message_id: int) -> bool:
        """The reply is posted (or will not be): clear the mark. Whether there was one."""
        return bool(await self.db.change(delete(OwedReply).where(
            OwedReply.character == character, OwedReply.message_id == message_id)))

    async def pending(self, character: str) -> list[Owed]:
        """Every reply ``character`` still owes, oldest first."""
        rows = await self.db.rows(select(OwedReply.character, OwedReply.message_id, OwedReply.channel_id,
                                         OwedReply.owed_since, OwedReply.parts, OwedReply.delivered)
                                  .where(OwedReply.character == character).order_by(OwedReply.message_id))
        return [Owed(r.character, r.message_id, r.channel_id, _aware(r.owed_since),
                     tuple(json.loads(r.parts)) if r.parts else (), int(r.delivered or 0)) for r in rows]

    async def count(self) -> int:
        return len(await self.db.rows(select(OwedReply.message_id)))


def _aware(when: datetime) -> datetime:
    """SQLite hands times back without their zone; they are stored in UTC."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
