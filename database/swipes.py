"""Swipes: the alternatives of a character's latest reply, browsed on its one Discord message (0026_swipes).

One row per reply message while its buttons are up: every alternative written so far, which one is shown, the
stored assistant turn that must hold the shown one, and when the buttons go. A row outlives a restart, so the
buttons keep working; closing it (the conversation moved on, or the time ran out) deletes it: the shown
alternative is in the history already (every change of the shown one wrote it there), and the others are
not kept. Deleting its stored answer (a reset, /forget_last, a summary, /forget_me) deletes it too, and a
change of the shown one writes only to that answer in its own conversation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    Index,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    delete,
    select,
    true,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from database.boundary import NamedRow
from database.engine import Database
from database.models import TZ, Base, Conversation, HistoryMessage
from database.rowmap import columns, record


class SwipeSet(Base):
    """A reply's alternatives (0026_swipes)."""

    __tablename__ = "swipes"

    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    character: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(BigInteger)  # the person answered: they (or an admin) may swipe
    scope: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[int] = mapped_column(BigInteger)
    guild_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    webhook_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # posted by a webhook of ours
    turn_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the stored answer (None: not kept)
    alternatives: Mapped[list[str]] = mapped_column(JSON)
    shown: Mapped[int] = mapped_column(Integer, default=0)
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    closes_at: Mapped[datetime] = mapped_column(TZ)

    __table_args__ = (Index("ix_swipes_channel_open", "channel_id", "open"),)


@dataclass(frozen=True)
class SwipeRecord:
    message_id: int
    character: str
    user_id: int
    scope: str
    channel_id: int
    guild_id: int | None
    webhook_id: int | None
    turn_id: int | None
    alternatives: tuple[str, ...]
    shown: int
    open: bool
    closes_at: datetime

    @property
    def text(self) -> str:
        """The alternative on the message now."""
        return self.alternatives[self.shown]


COLUMNS = columns(SwipeSet, SwipeRecord)  # read by name (database/rowmap.py)


def _record(row: NamedRow) -> SwipeRecord:
    return record(SwipeRecord, row)


def own_turn(record: SwipeRecord) -> tuple[ColumnElement[bool], ...]:
    """The stored answer of ``record``, only in its own conversation (an id alone could name another's)."""
    conversation = select(Conversation.id).where(
        Conversation.character == record.character, Conversation.user_id == record.user_id,
        Conversation.scope == record.scope).scalar_subquery()
    return (HistoryMessage.id == record.turn_id, HistoryMessage.conversation_id == conversation,
            HistoryMessage.role == "assistant")


def forget_turns(conn: Connection, turns: ColumnElement[bool]) -> None:
    """Delete the swipes whose stored answer is one of the ``turns`` (a condition on history_messages),
    before those turns go: a reply whose answer is no longer kept has nothing left to swipe."""
    conn.execute(delete(SwipeSet).where(SwipeSet.turn_id.in_(select(HistoryMessage.id).where(turns))))


def forget_person(conn: Connection, user_id: int) -> dict[str, int]:
    """/forget_me's part here (in its transaction, database/privacy.py): the alternatives of the replies to
    them (a row's expiry timer then finds nothing to close)."""
    rows = conn.execute(delete(SwipeSet).where(SwipeSet.user_id == user_id))
    return {"swipes": int(rows.rowcount or 0)}


class Swipes:
    def __init__(self, db: Database, history_changed: Callable[[], None]) -> None:
        """``history_changed``: called when a stored answer changes (the conversations' turn cache and prompt
        stamps)."""
        self.db = db
        self.history_changed = history_changed
        # The statements every reply runs (its swipes opened, the channel's closed), built once on the table
        # (plain Core: no ORM insert) and run with parameters.
        table = cast(Table, SwipeSet.__table__)
        c = table.c
        self._open = db.insert(table).on_conflict_do_nothing()
        columns = [c[col.key] for col in COLUMNS]
        opened = select(*columns).where(c.open.is_(true()))
        self._open_in_channel = opened.where(c.channel_id == bindparam("key"))
        self._open_message = opened.where(c.message_id == bindparam("key"))
        self._delete = delete(table).where(c.message_id.in_(bindparam("ids", expanding=True)))

    async def open(self, record: SwipeRecord) -> None:
        params = {"message_id": record.message_id, "character": record.character, "user_id": record.user_id,
                  "scope": record.scope, "channel_id": record.channel_id, "guild_id": record.guild_id,
                  "webhook_id": record.webhook_id, "turn_id": record.turn_id,
                  "alternatives": list(record.alternatives), "shown": record.shown, "open": True,
                  "closes_at": record.closes_at}
        # Shared: issued with the channel's close and the expiry's timer, all three go in one transaction.
        await self.db.write_shared(lambda conn: conn.execute(self._open, params), single=True)

    async def get(self, message_id: int) -> SwipeRecord | None:
        row = await self.db.first(select(*COLUMNS).where(SwipeSet.message_id == message_id))
        return None if row is None else _record(row)

    async def open_channels(self) -> list[int]:
        """The channels with a reply whose buttons are up."""
        return [int(r[0]) for r in await self.db.rows(
            select(SwipeSet.channel_id).where(SwipeSet.open.is_(True)).distinct())]

    async def open_for(self, user_id: int, channel_id: int) -> SwipeRecord | None:
        """The newest open row of a reply to ``user_id`` in this channel."""
        row = await self.db.first(select(*COLUMNS).where(
            SwipeSet.user_id == user_id, SwipeSet.channel_id == channel_id, SwipeSet.open.is_(True))
            .order_by(SwipeSet.message_id.desc()).limit(1))
        return None if row is None else _record(row)

    async def show(self, message_id: int, index: int, text: str, kept: str, tokens: int, *,
                   added: bool = False) -> SwipeRecord | None:
        """Show alternative ``index`` (``added``: a new one, ``text``, appended first): the row and the stored
        answer change together, so the history never holds another alternative than the one shown. ``kept``
        (``tokens`` long): that alternative as the history keeps it (without a line of sources). None when
        the row is closed or gone, or its answer is (the conversation moved on meanwhile)."""

        def write(conn: Connection) -> SwipeRecord | None:
            row = conn.execute(select(*COLUMNS).where(SwipeSet.message_id == message_id,
                                                      SwipeSet.open.is_(True))).first()
            if row is None:
                return None
            record = _record(row)
            alternatives = [*record.alternatives, text] if added else list(record.alternatives)
            if not 0 <= index < len(alternatives):
                return record
            if record.turn_id is not None and conn.execute(select(HistoryMessage.id).where(
                    *own_turn(record))).first() is None:
                # its answer is gone (forgotten, reset, summarized): nothing of someone else's is changed
                conn.execute(self._delete, {"ids": [message_id]})
                return None
            conn.execute(update(SwipeSet).where(SwipeSet.message_id == message_id).values(
                alternatives=alternatives, shown=index))
            if record.turn_id is not None:
                conn.execute(update(HistoryMessage).where(*own_turn(record)).values(
                    content=kept, tokens=tokens))
            return _record(conn.execute(select(*COLUMNS).where(SwipeSet.message_id == message_id)).one())

        try:
            return await self.db.write(write)
        finally:  # also after a failure: the change may have been made
            self.history_changed()

    async def close_in_channel(self, channel_id: int) -> list[SwipeRecord]:
        """Close the channel's open rows (the conversation moved on there); the ones closed."""
        return await self._close(self._open_in_channel, channel_id)

    async def close(self, message_id: int) -> list[SwipeRecord]:
        return await self._close(self._open_message, message_id)

    async def _close(self, query: Select[Any], key: int) -> list[SwipeRecord]:
        def write(conn: Connection) -> list[SwipeRecord]:
            rows = [_record(r) for r in conn.execute(query, {"key": key}).all()]
            if rows:  # the shown alternative is in the history already; the others are not kept
                conn.execute(self._delete, {"ids": [r.message_id for r in rows]})
            return rows

        return await self.db.write_shared(write)
