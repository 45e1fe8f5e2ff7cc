"""The server tools' tables (0005_server_tools): the moderation record, polls and their votes, tickets and
their transcripts (a server's /settings: database/place_config.py). Kept beside models.py (same ``Base``)
so each file stays readable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

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


class Poll(Base):
    """A button poll; closes at ``closes_at`` even across restarts (its timer is rebuilt from this row)."""

    __tablename__ = "polls"
    __table_args__ = (Index("ix_polls_closed_closes_at", "closed", "closes_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # set once the poll is posted
    author_id: Mapped[int] = mapped_column(BigInteger)
    question: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON)
    closes_at: Mapped[datetime] = mapped_column(TZ)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class PollVote(Base):
    """One person's vote in a poll (changeable: one row per person)."""

    __tablename__ = "poll_votes"
    __table_args__ = (UniqueConstraint("poll_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(Integer, ForeignKey("polls.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    option: Mapped[int] = mapped_column(Integer)
    voted_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


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
    picks the face it shows there (bot/operator/character_faces.py)."""

    __tablename__ = "character_server_state"

    character: Mapped[str] = mapped_column(String(100), primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    interaction_count: Mapped[int] = mapped_column(Integer, default=0)
    stage: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
