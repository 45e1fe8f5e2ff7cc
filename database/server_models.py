"""The server tools' tables (0005_server_tools): the moderation record, tickets and their transcripts (a
server's /settings: database/place_config.py; the polls' own: bot/features/polls/tables.py). Kept beside
models.py (same ``Base``) so each file stays readable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    delete,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.dml import UpdateBase

from database.models import TZ, Base, utcnow


class MemberWarning(Base):
    """A moderator's warning to a member of one server. The server's record: /forget_me keeps it."""

    __tablename__ = "warnings"
    __table_args__ = (Index("ix_warnings_guild_id_target_id", "guild_id", "target_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    target_id: Mapped[int] = mapped_column(BigInteger)
    moderator_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class ModerationAction(Base):
    """Every moderation action taken through the bot (kick, ban, unban, timeout, untimeout, purge, warn)."""

    __tablename__ = "moderation_actions"
    __table_args__ = (Index("ix_moderation_actions_guild_id_id", "guild_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: a purge of many people
    moderator_id: Mapped[int] = mapped_column(BigInteger)
    channel_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(String(200), default="")  # e.g. "10m", "12 messages"
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class Ticket(Base):
    """A support ticket: a private thread between one member and the server's staff."""

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_thread_id", "thread_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # set once the thread exists
    opener_id: Mapped[int] = mapped_column(BigInteger)
    topic: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    opened_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    closed_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class TicketMessage(Base):
    """One message of a closed ticket's transcript."""

    __tablename__ = "ticket_messages"
    __table_args__ = (Index("ix_ticket_messages_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, ForeignKey("tickets.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(BigInteger)
    author_id: Mapped[int] = mapped_column(BigInteger, index=True)
    author_name: Mapped[str] = mapped_column(String(100), default="")
    content: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZ)


class ServerStage(Base):
    """A character's interactions and evolution stage in one server (0027_faces): the stage reached there
    picks the face it shows there (bot/features/faces/character_faces.py)."""

    __tablename__ = "character_server_state"

    character: Mapped[str] = mapped_column(String(100), primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    interaction_count: Mapped[int] = mapped_column(Integer, default=0)
    stage: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


def forget_person(conn: Connection, user_id: int) -> dict[str, int]:
    """/forget_me's part of the server tools' rows (in its transaction, database/privacy.py; the polls' are
    bot/features/polls/tables.py's): their lines in ticket transcripts; their tickets (topic) and those
    tickets' transcripts (cascade): their words, whoever else took part; their name cleared as the staff
    who closed another's ticket. The server's moderation record (warnings, actions) is the server's and
    stays."""
    plan: list[tuple[str, UpdateBase]] = [
        ("ticket_messages", delete(TicketMessage).where(TicketMessage.author_id == user_id)),
        ("tickets", delete(Ticket).where(Ticket.opener_id == user_id)),
        ("tickets_closed_by", update(Ticket).where(Ticket.closed_by == user_id).values(closed_by=None)),
    ]
    return {name: int(conn.execute(stmt).rowcount or 0) for name, stmt in plan}
