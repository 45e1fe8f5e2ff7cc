"""The polls' tables (0005_server_tools): a poll and its votes, on the shared ``Base`` (database/models.py),
so Alembic and the schema checks see them once the feature is imported (bot/features/__init__.py); where a
person's id sits in them (their ``info``, read by /forget_me's proof and /export_me: database/privacy.py
``person_columns``), and what /forget_me deletes of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    delete,
)
from sqlalchemy.orm import Mapped, mapped_column

from database.models import TZ, Base, utcnow
from database.privacy import PERSON


class Poll(Base):
    """A button poll; closes at ``closes_at`` even across restarts (its timer is rebuilt from this row)."""

    __tablename__ = "polls"
    # the question and options are their words (/forget_me, /export_me); the poll's votes go with it
    __table_args__ = (Index("ix_polls_closed_closes_at", "closed", "closes_at"),
                      {"info": {PERSON: ("author_id",)}})

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
    __table_args__ = (UniqueConstraint("poll_id", "user_id"), {"info": {PERSON: ("user_id",)}})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(Integer, ForeignKey("polls.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    option: Mapped[int] = mapped_column(Integer)
    voted_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


def forget_person(conn: Connection, user_id: int) -> dict[str, int]:
    """/forget_me's part of the polls (in its transaction, database/privacy.py): their votes, and their polls
    (question, options) with the votes in them (cascade)."""
    return {
        "poll_votes": int(conn.execute(delete(PollVote).where(PollVote.user_id == user_id)).rowcount or 0),
        "polls": int(conn.execute(delete(Poll).where(Poll.author_id == user_id)).rowcount or 0),
    }
