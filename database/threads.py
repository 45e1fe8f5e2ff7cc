"""Open threads: what a person said they would do or are waiting for (an exam on Friday, a promise to send a
photo), kept as such until it is done. Consolidation opens and closes them (memory/threads.py says when);
replies read them with their prompt data (database/conversations.py, the statements here), check-ins
afresh.

A thread knows where it was said, as a fact does: one from a DM or a private place (``private``) is shown in
DMs only; one from a server's channels (``guild_id``) in that server, or in every server when the person chose
so. A closed thread is deleted: nothing is kept of what is over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    ForeignKey,
    Integer,
    Text,
    bindparam,
    delete,
    false,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import BindParameter

from database.boundary import Statements
from database.engine import Database
from database.models import TZ, Base, User, utcnow
from database.records import ThreadRow as ThreadRow  # where it always was, for its readers
from database.records import as_utc
from database.visibility import dm_clause, kept_kind, place_clause

MAX_THREAD_CHARS = 300


class OpenThread(Base):
    """Something a person is still to do or waiting for (0020_open_threads)."""

    __tablename__ = "open_threads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    thread: Mapped[str] = mapped_column(Text)
    # The day it is due, at noon UTC (a day, not an instant), where they said when; else None.
    due_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True, default=None)
    said_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    guild_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=None)


@dataclass(frozen=True)
class NewThread:
    thread: str
    due_at: datetime | None
    said_at: datetime
    private: bool
    guild_id: int | None = None


@dataclass(frozen=True)
class ThreadChanges:
    """What one consolidation batch opens and closes (ids of the person's threads), written with the batch."""

    opened: tuple[NewThread, ...] = ()
    closed: tuple[int, ...] = ()


NO_CHANGES = ThreadChanges()
COLUMNS = (OpenThread.id, OpenThread.thread, OpenThread.due_at, OpenThread.said_at, OpenThread.private,
           OpenThread.guild_id)


def _row(r: Sequence[object]) -> ThreadRow:
    due, said, guild = r[2], r[3], r[5]
    return ThreadRow(int(str(r[0])), str(r[1]), as_utc(due) if isinstance(due, datetime) else None,
                     as_utc(said) if isinstance(said, datetime) else utcnow(), bool(r[4]),
                     None if guild is None else int(str(guild)))


def thread_rows(rows: Sequence[Sequence[object]]) -> tuple[ThreadRow, ...]:
    return tuple(_row(r) for r in rows)


def thread_statements() -> Statements:
    """The prompt read's (database/statements.py), oldest first, whatever their time (the reader keeps those
    still open, memory/threads.py): "threads_private", every thread of the person (a DM); "threads", those
    said in a server's channels, of the ``guild_id`` server and of none, or of every server when the person
    shares them everywhere (a channel)."""
    user_id: BindParameter[int] = bindparam("user_id")
    everywhere = select(User.memory_everywhere).where(User.id == user_id).scalar_subquery()
    theirs = select(*COLUMNS).where(OpenThread.user_id == user_id).order_by(OpenThread.id)
    return {"threads_private": theirs.where(dm_clause(kind=thread_kind(), person=OpenThread.user_id,
                                                      reader=user_id)),
            "threads": theirs.where(seen_in_place(user_id, bindparam("guild_id"), everywhere.is_(true())))}


def thread_kind() -> Any:
    return kept_kind(private=OpenThread.private, guild=OpenThread.guild_id)


def seen_in_place(reader: Any, guild: Any, everywhere: Any) -> ColumnElement[bool]:
    """The threads a server's place may show its reader (database/visibility.py)."""
    return place_clause(kind=thread_kind(), person=OpenThread.user_id, guild=OpenThread.guild_id,
                        channel=None, reader=reader, reader_guild=guild, everywhere=everywhere)


def apply_thread_changes(conn: Connection, user_id: int, changes: ThreadChanges) -> None:
    """Close and open the batch's threads (inside the caller's transaction). A thread worded as one still
    open is that thread: its date is kept unless the new one says when."""
    if changes.closed:
        conn.execute(delete(OpenThread).where(OpenThread.user_id == user_id,
                                              OpenThread.id.in_(sorted(set(changes.closed)))))
    if not changes.opened:
        return
    known = {str(r[0]).casefold() for r in conn.execute(
        select(OpenThread.thread).where(OpenThread.user_id == user_id)).all()}
    fresh: list[dict[str, object]] = []
    for t in changes.opened:
        text = " ".join(t.thread.split())[:MAX_THREAD_CHARS]
        if not text or text.casefold() in known:
            continue
        known.add(text.casefold())
        fresh.append({"user_id": user_id, "thread": text, "due_at": t.due_at, "said_at": t.said_at,
                      "private": t.private, "guild_id": None if t.private else t.guild_id})
    if fresh:
        conn.execute(insert(OpenThread), fresh)


class Threads:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open_for(self, user_id: int, due_after: datetime, said_after: datetime, *,
                       private: bool = True, guild_id: int | None = None) -> list[ThreadRow]:
        """The person's threads still open, soonest due first (undated ones last): those due after
        ``due_after``, and undated ones said after ``said_after``. ``private``: a DM (every thread); else a
        channel, where only threads said in a server's channels are shown, and with ``guild_id`` only that
        server's (and those of no server)."""
        query = select(*COLUMNS).where(
            OpenThread.user_id == user_id,
            or_(OpenThread.due_at > due_after,
                OpenThread.due_at.is_(None) & (OpenThread.said_at > said_after)))
        if not private:  # (guild_id None: the person shares their memories in every server)
            query = query.where(seen_in_place(literal(user_id), literal(guild_id),
                                              true() if guild_id is None else false()))
        rows = [_row(r) for r in await self.db.rows(query.order_by(OpenThread.id))]
        far = datetime.max.replace(tzinfo=rows[0].said_at.tzinfo) if rows else None
        return sorted(rows, key=lambda r: (r.due_at or far, r.id))

    async def rows(self, user_id: int) -> list[ThreadRow]:
        """Every thread stored of the person (for /memory list), oldest first."""
        return [_row(r) for r in await self.db.rows(
            select(*COLUMNS).where(OpenThread.user_id == user_id).order_by(OpenThread.id))]

    async def apply(self, user_id: int, changes: ThreadChanges) -> None:
        await self.db.write(lambda conn: apply_thread_changes(conn, user_id, changes))

    async def delete_expired(self, due_before: datetime, said_before: datetime) -> int:
        """Close (delete) everyone's threads due before ``due_before``, and the undated ones said before
        ``said_before``: long enough ago that they are over, done or not."""
        return await self.db.change(delete(OpenThread).where(or_(
            OpenThread.due_at < due_before,
            OpenThread.due_at.is_(None) & (OpenThread.said_at < said_before))))
