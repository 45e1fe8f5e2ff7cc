"""Durable schedules: each recurring job's next due time and last result, kept in the database so that a
restart neither skips nor repeats a round. Taking a round is a compare-and-set on the due time: of two
processes (or two ticks) that saw the same due time, exactly one moves it on and runs the round."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from database.alive_models import ScheduledJob
from database.boundary import DbRow
from database.engine import Database
from database.models import utcnow
from database.records import ScheduleRow, as_utc


def _row(r: DbRow) -> ScheduleRow:
    name, due, last_run, result = r
    return ScheduleRow(str(name), as_utc(due), as_utc(last_run) if last_run else None, str(result or ""))


class Schedule:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, name: str) -> ScheduleRow | None:
        row = await self.db.first(select(ScheduledJob.name, ScheduledJob.next_due, ScheduledJob.last_run,
                                         ScheduledJob.last_result).where(ScheduledJob.name == name))
        return None if row is None else _row(row)

    async def ensure(self, name: str, first_due: datetime) -> ScheduleRow:
        """The job's row, created due at ``first_due`` when it has none yet."""
        ins = self.db.insert(ScheduledJob).values(name=name, next_due=first_due, last_run=None,
                                                  last_result="", updated_at=utcnow())
        await self.db.change(ins.on_conflict_do_nothing(index_elements=[ScheduledJob.name]))
        row = await self.get(name)
        assert row is not None
        return row

    async def claim(self, name: str, due: datetime, next_due: datetime) -> bool:
        """Move the job from ``due`` (as read) to ``next_due``; False when someone else already did."""
        moved = await self.db.change(update(ScheduledJob)
                                     .where(ScheduledJob.name == name, ScheduledJob.next_due == due)
                                     .values(next_due=next_due, updated_at=utcnow()))
        return moved == 1

    async def finish(self, name: str, at: datetime, result: str) -> None:
        await self.db.change(update(ScheduledJob).where(ScheduledJob.name == name)
                             .values(last_run=at, last_result=result[:2000], updated_at=utcnow()))

    async def set_due(self, name: str, due: datetime) -> None:
        await self.db.change(update(ScheduledJob).where(ScheduledJob.name == name)
                             .values(next_due=due, updated_at=utcnow()))
