"""Reminders: what a person asked the character to remind them of, where, and when (an instant in UTC,
converted from their local wall-clock time by bot/features/reminders/book.py). Each open reminder has a
durable timer (``reminder:<id>``,
database/timers.py) that delivers it once; a delivered reminder keeps its row, marked,
for a day (the per-day cap counts it), then goes; so does a cancelled one, marked cancelled rather than
deleted, or cancelling would let a person set reminders past the cap.

A recurring reminder (``rule``, an RFC 5545 RRULE read by bot/features/reminders/recurrence.py) is never
marked delivered while its rule runs: each occurrence delivered moves ``due_at`` (and ``local_at``, its
local wall-clock time) to the next one and its timer with it, in one transaction that only the run holding
that occurrence can make (:meth:`Reminders.advance`). A paused one keeps its row and loses its timer.

A place task (``task``) is a recurring reminder an admin set for a server's channel: its text an instruction
the character carries out there (bot/features/reminders/tasks.py), its latest posts kept in ``recent``. It is
counted, listed and managed by its server, never by the person who set it (whose /reminders leaves it out)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from database.alive_models import ScheduledJob
from database.boundary import JsonObject
from database.engine import Database
from database.models import TZ, Base, User, utcnow
from database.person_settings import TIMEZONE
from database.place_config import PlaceConfig
from database.records import as_utc

MAX_REMINDER_CHARS = 500
KEPT_DELIVERED = timedelta(days=1)  # a delivered reminder's row, kept for the day's count
TIMER = "reminder"  # the kind of its durable timer


def reminder_key(reminder_id: int) -> str:
    """The key of a reminder's durable timer."""
    return f"{TIMER}:{reminder_id}"


class Reminder(Base):
    """One reminder (0023_reminders)."""

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(BigInteger)  # the DM channel or the server's channel
    guild_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=None)  # None: a DM
    is_dm: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(TZ)
    zone: Mapped[str] = mapped_column(String(64), default="")  # the zone it was set in ("": relative, UTC)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True, default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True, default=None)  # by its person
    # 0037_recurring_reminders: its RRULE ("": once), the local time of its next occurrence, when paused
    rule: Mapped[str] = mapped_column(String(300), default="", server_default="")
    local_at: Mapped[str] = mapped_column(String(19), default="", server_default="")
    paused_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True, default=None)
    # 0039_place_tasks: a place task (an admin's instruction for the channel), its latest posts (JSON list)
    task: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    recent: Mapped[str] = mapped_column(Text, default="", server_default="")


@dataclass(frozen=True)
class ReminderRow:
    """A stored reminder. (Here rather than in records.py, which is full.)"""

    id: int
    user_id: int
    channel_id: int
    guild_id: int | None
    is_dm: bool
    text: str
    due_at: datetime
    zone: str
    created_at: datetime
    delivered: bool
    cancelled: bool = False
    rule: str = ""  # its RRULE ("": it fires once)
    local_at: str = ""  # the local wall-clock time of due_at, for the rule to be read from
    paused: bool = False
    task: bool = False  # a place task: its text an instruction for the character in the channel
    recent: tuple[str, ...] = ()  # a place task's latest posts, oldest first


@dataclass(frozen=True)
class NewReminder:
    user_id: int
    user_name: str
    channel_id: int
    guild_id: int | None
    is_dm: bool
    text: str
    due_at: datetime
    zone: str = ""
    rule: str = ""
    local_at: str = ""
    task: bool = False


COLUMNS = (Reminder.id, Reminder.user_id, Reminder.channel_id, Reminder.guild_id, Reminder.is_dm,
           Reminder.text, Reminder.due_at, Reminder.zone, Reminder.created_at, Reminder.delivered_at,
           Reminder.cancelled_at, Reminder.rule, Reminder.local_at, Reminder.paused_at, Reminder.task,
           Reminder.recent)
# Still to be delivered: neither delivered nor cancelled.
WAITING = (Reminder.delivered_at.is_(None), Reminder.cancelled_at.is_(None))
PERSONAL = Reminder.task.is_(False)  # a person's own reminder, not a place task
RECENT_KEPT = 5  # a place task's latest posts kept
RECENT_CHARS = 400  # of each


def _recent(text: object) -> tuple[str, ...]:
    try:
        loaded = json.loads(str(text or "[]"))
    except ValueError:
        return ()
    return tuple(str(x) for x in loaded) if isinstance(loaded, list) else ()


def _row(r: Sequence[object]) -> ReminderRow:
    guild, due, created = r[3], r[6], r[8]
    return ReminderRow(
        int(str(r[0])), int(str(r[1])), int(str(r[2])), None if guild is None else int(str(guild)),
        bool(r[4]), str(r[5]), as_utc(due) if isinstance(due, datetime) else utcnow(), str(r[7] or ""),
        as_utc(created) if isinstance(created, datetime) else utcnow(), r[9] is not None, r[10] is not None,
        str(r[11] or ""), str(r[12] or ""), r[13] is not None, bool(r[14]), _recent(r[15]))


class Reminders:
    def __init__(self, db: Database, config: PlaceConfig) -> None:
        self.db = db
        self._config = config

    async def zone_of(self, user_id: int) -> str:
        """The IANA zone the person gave (/timezone), "" when none: a person setting, from its cached copy."""
        return str(await self._config.person(TIMEZONE, user_id) or "")

    async def add(self, new: NewReminder, now: datetime | None = None) -> int:
        """Store a reminder (the person's row made when missing); its id. Delivered reminders older than a
        day go at the same time, and so do cancelled ones."""
        now = now or utcnow()
        person = self.db.insert(User).values(id=new.user_id, name=new.user_name[:100], is_bot=False,
                                             premium=False, first_seen=now, last_seen=now)
        person = person.on_conflict_do_nothing(index_elements=[User.id])
        stale = delete(Reminder).where(or_(Reminder.delivered_at < now - KEPT_DELIVERED,
                                           Reminder.cancelled_at < now - KEPT_DELIVERED))
        added = insert(Reminder).values(
            user_id=new.user_id, channel_id=new.channel_id, guild_id=new.guild_id, is_dm=new.is_dm,
            text=new.text[:MAX_REMINDER_CHARS], due_at=new.due_at, zone=new.zone, created_at=now,
            rule=new.rule, local_at=new.local_at, task=new.task).returning(Reminder.id)

        def write(conn: Connection) -> int:
            conn.execute(person)
            conn.execute(stale)
            return int(conn.execute(added).scalar_one())

        return await self.db.write(write)

    async def get(self, reminder_id: int) -> ReminderRow | None:
        row = await self.db.first(select(*COLUMNS).where(Reminder.id == reminder_id))
        return None if row is None else _row(row)

    async def open_for(self, user_id: int) -> list[ReminderRow]:
        """The person's reminders still to come, soonest first."""
        return [_row(r) for r in await self.db.rows(
            select(*COLUMNS).where(Reminder.user_id == user_id, PERSONAL, *WAITING)
            .order_by(Reminder.due_at, Reminder.id))]

    async def counts(self, user_id: int, since: datetime) -> tuple[int, int]:
        """(open reminders, reminders set since ``since``) of the person."""
        open_ = await self.db.scalar(select(func.count()).select_from(Reminder).where(
            Reminder.user_id == user_id, PERSONAL, *WAITING))
        made = await self.db.scalar(select(func.count()).select_from(Reminder).where(
            Reminder.user_id == user_id, PERSONAL, Reminder.created_at >= since))
        return int(str(open_ or 0)), int(str(made or 0))

    async def recurring_counts(self, user_id: int, guild_id: int | None) -> tuple[int, int]:
        """(the person's recurring reminders still running, the server's: 0 for a DM)."""
        theirs = await self.db.scalar(select(func.count()).select_from(Reminder).where(
            Reminder.user_id == user_id, PERSONAL, Reminder.rule != "", *WAITING))
        server = 0 if guild_id is None else await self.db.scalar(
            select(func.count()).select_from(Reminder).where(
                Reminder.guild_id == guild_id, Reminder.is_dm.is_(False), PERSONAL, Reminder.rule != "",
                *WAITING))
        return int(str(theirs or 0)), int(str(server or 0))

    async def advance(self, reminder_id: int, was: datetime, due: datetime | None, local_at: str,
                      timer: str, payload: JsonObject) -> bool:
        """Move a recurring reminder from its occurrence ``was`` to the next (``due``, local ``local_at``)
        and its timer ``timer`` with it, in one transaction; None: its rule has ended, it is closed. False
        when it was no longer at ``was`` (another run, a skip or a cancel moved it first)."""
        moved = update(Reminder).where(Reminder.id == reminder_id, Reminder.due_at == was, *WAITING)
        moved = moved.values(due_at=due, local_at=local_at) if due is not None else \
            moved.values(delivered_at=was)
        ins = self.db.insert(ScheduledJob)
        arm = ins.values(name=timer, kind=TIMER, payload=json.dumps(payload), next_due=due, last_run=None,
                         last_result="", updated_at=utcnow()).on_conflict_do_update(
            index_elements=[ScheduledJob.name], set_={"next_due": due, "updated_at": utcnow(),
                                                      "last_result": ""})

        def write(conn: Connection) -> bool:
            if conn.execute(moved).rowcount != 1:
                return False
            if due is not None:
                conn.execute(arm)
            return True

        return await self.db.write(write)

    async def pause(self, user_id: int, reminder_id: int, paused: bool, now: datetime, *,
                    guild_id: int | None = None) -> bool:
        """Pause (or resume) one of the person's running recurring reminders (``guild_id``: one of that
        server's place tasks instead); whether there was one."""
        return bool(await self.db.change(update(Reminder).where(
            Reminder.id == reminder_id, *_owned(user_id, guild_id), Reminder.rule != "",
            Reminder.paused_at.is_(None) if paused else Reminder.paused_at.is_not(None), *WAITING).values(
            paused_at=now if paused else None)))

    async def cancel(self, user_id: int, reminder_id: int, now: datetime | None = None, *,
                     guild_id: int | None = None) -> bool:
        """Mark one of the person's open reminders cancelled (kept a day, for the per-day cap to count it;
        ``guild_id``: one of that server's place tasks instead); whether there was one."""
        return bool(await self.db.change(update(Reminder).where(
            Reminder.id == reminder_id, *_owned(user_id, guild_id), *WAITING).values(
            cancelled_at=now or utcnow())))

    async def tasks_of(self, guild_id: int) -> list[ReminderRow]:
        """The server's place tasks still running (or paused), soonest first."""
        return [_row(r) for r in await self.db.rows(
            select(*COLUMNS).where(Reminder.guild_id == guild_id, Reminder.task.is_(True), *WAITING)
            .order_by(Reminder.due_at, Reminder.id))]

    async def note_post(self, reminder_id: int, text: str) -> None:
        """Keep ``text`` as a place task's latest post (its oldest kept goes)."""
        row = await self.get(reminder_id)
        if row is None:
            return
        kept = [*row.recent, text[:RECENT_CHARS]][-RECENT_KEPT:]
        await self.db.change(update(Reminder).where(Reminder.id == reminder_id).values(
            recent=json.dumps(kept, ensure_ascii=False)))

    async def mark_delivered(self, reminder_id: int, now: datetime) -> bool:
        """Mark it delivered once posted (or closed undelivered); False when it was not open (cancelled
        meanwhile, or marked already)."""
        return bool(await self.db.change(update(Reminder).where(
            Reminder.id == reminder_id, *WAITING).values(delivered_at=now)))


def _owned(user_id: int, guild_id: int | None) -> tuple[ColumnElement[bool], ...]:
    """Whose reminder it is to change: the person's own, or (``guild_id``) that server's place task."""
    if guild_id is None:
        return (Reminder.user_id == user_id, PERSONAL)
    return (Reminder.guild_id == guild_id, Reminder.task.is_(True))


def forget_person(conn: Connection, user_id: int) -> dict[str, int]:
    """/forget_me's part here (in its transaction, database/privacy.py): what they asked to be reminded of,
    and those reminders' timers (named by the reminder, so deleted first)."""
    ids = [int(r) for r in conn.execute(select(Reminder.id).where(Reminder.user_id == user_id)).scalars()]
    timers = conn.execute(delete(ScheduledJob).where(ScheduledJob.name.in_([reminder_key(r) for r in ids])))
    rows = conn.execute(delete(Reminder).where(Reminder.user_id == user_id))
    return {"reminder_timers": int(timers.rowcount or 0), "reminders": int(rows.rowcount or 0)}
