"""Check-ins: who asked for a DM after a long silence (/checkin on), and when the last one went out.

A check-in counts as answered once its person is seen again after it (``users.last_seen`` is later than
``sent_at``; both are stamped by the database's own clock), so at most one unanswered check-in is ever
waiting: someone is due only when silent long enough *and* seen since the last check-in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, or_, select, update

from database.alive_models import CheckIn
from database.engine import Database
from database.models import User, utcnow
from database.records import CheckInDue, as_utc


class CheckIns:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def set(self, user_id: int, name: str, enabled: bool) -> None:
        now = utcnow()
        user = self.db.insert(User).values(id=user_id, name=name[:100], is_bot=False, premium=False,
                                           first_seen=now, last_seen=now)
        ins = self.db.insert(CheckIn).values(user_id=user_id, enabled=enabled, sent_at=None, updated_at=now)
        upsert = ins.on_conflict_do_update(index_elements=[CheckIn.user_id],
                                           set_={"enabled": ins.excluded.enabled, "updated_at": now})

        def write(conn: Connection) -> None:
            conn.execute(user.on_conflict_do_nothing(index_elements=[User.id]))
            conn.execute(upsert)

        await self.db.write(write)

    async def enabled(self, user_id: int) -> bool:
        return bool(await self.db.scalar(select(CheckIn.enabled).where(CheckIn.user_id == user_id)))

    async def due(self, silent_since: datetime) -> list[CheckInDue]:
        """People with check-ins on, last seen before ``silent_since`` and seen since their last check-in."""
        rows = await self.db.rows(
            select(User.id, User.name, User.last_seen, CheckIn.sent_at)
            .join(CheckIn, CheckIn.user_id == User.id)
            .where(CheckIn.enabled.is_(True), User.last_seen <= silent_since,
                   or_(CheckIn.sent_at.is_(None), User.last_seen > CheckIn.sent_at))
            .order_by(User.last_seen))
        return [CheckInDue(int(r[0]), str(r[1] or ""), as_utc(r[2]), as_utc(r[3]) if r[3] else None)
                for r in rows]

    async def mark_sent(self, user_id: int) -> datetime:
        """Stamp the check-in as sent now (the database's clock, like ``users.last_seen``)."""
        now = utcnow()
        await self.db.change(update(CheckIn).where(CheckIn.user_id == user_id)
                             .values(sent_at=now, updated_at=now))
        return now

    async def unmark(self, user_id: int, previous: datetime | None) -> None:
        """Undo mark_sent: the DM could not be delivered."""
        await self.db.change(update(CheckIn).where(CheckIn.user_id == user_id)
                             .values(sent_at=previous, updated_at=utcnow()))


def forget_person(conn: Connection, user_id: int) -> dict[str, int]:
    """/forget_me's part here (in its transaction, database/privacy.py): their check-in choice."""
    rows = conn.execute(delete(CheckIn).where(CheckIn.user_id == user_id))
    return {"checkins": int(rows.rowcount or 0)}
