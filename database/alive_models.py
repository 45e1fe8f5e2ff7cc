"""The tables of the character's life between messages (0007_alive): durable schedules,
how a person writes, check-ins, how the character feels toward a person and in a channel
(0021_relationship_feelings). Kept beside models.py (same ``Base``) so each file stays readable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from database.models import TZ, Base, utcnow


class ScheduledJob(Base):
    """A durable timer (a due row, bot/core/timers.py): a recurring round (``kind`` "round": when it is next
    due and how its last run went, so that a restart neither skips nor repeats one) or a one-shot timer (a
    reminder's delivery: its ``kind`` and ``payload``, deleted once it ran)."""

    __tablename__ = "scheduled_jobs"
    __table_args__ = (Index("ix_scheduled_jobs_next_due", "next_due"),)

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), server_default="round")
    payload: Mapped[str] = mapped_column(Text, server_default="{}")  # JSON: what a one-shot timer is about
    next_due: Mapped[datetime] = mapped_column(TZ)
    last_run: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    last_result: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class StyleProfileRow(Base):
    """How a person writes (bot/alive/style.py), learnt from their messages; only for people remembered."""

    __tablename__ = "style_profiles"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True, autoincrement=False)
    profile: Mapped[str] = mapped_column(Text)  # JSON, the profile's own fields
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class CheckIn(Base):
    """A person's /checkin choice and the last check-in DM sent to them (answered once they speak again)."""

    __tablename__ = "checkins"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True, autoincrement=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    sent_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class PersonFeeling(Base):
    """How a character feels toward a person right now (bot/alive/regard.py, JSON), moved by each exchange
    with them and fading by the hour; beside their relationship (models.py), whose metrics the daily
    consolidation judges."""

    __tablename__ = "person_feelings"

    character: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True, autoincrement=False)
    feeling: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class PlaceFeeling(Base):
    """How a character feels in a channel (bot/alive/regard.py, JSON), moved by everything said there and
    fading by the hour."""

    __tablename__ = "place_feelings"

    character: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    feeling: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
