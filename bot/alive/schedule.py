"""Durable recurring jobs: the next due time and the last result live in the database (database/schedule.py),
so a restart neither skips a round nor runs one twice.

A job is due on a fixed grid (its first due time plus whole intervals). :meth:`DurableJob.tick` is called
often (by APScheduler, or by a test with its own clock): when the due time has passed it moves the due
time to the first grid point after now (a compare-and-set: of two ticks that saw the same due time only one
wins), runs the round once (a round missed while the bot was down runs once, late, never several times),
and records how it went. A round that raises is recorded as failed; the next one comes at its time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from database.records import ScheduleRow
from database.schedule import Schedule

log = logging.getLogger(__name__)

Round = Callable[[datetime], Awaitable[str]]  # the time it runs at -> a one-line result


def next_after(due: datetime, interval: timedelta, now: datetime) -> datetime:
    """The first grid point (``due`` + k intervals, k >= 1) after ``now``."""
    if now < due:
        return due + interval
    steps = int((now - due) / interval) + 1
    return due + steps * interval


class DurableJob:
    def __init__(self, schedule: Schedule, name: str, interval: timedelta, run: Round) -> None:
        self.schedule = schedule
        self.name = name
        self.interval = interval
        self.run = run
        self._row: ScheduleRow | None = None

    async def row(self, now: datetime) -> ScheduleRow:
        """The job's stored state, created (first due one interval from now) on first use."""
        if self._row is None:
            self._row = await self.schedule.ensure(self.name, now + self.interval)
        return self._row

    async def tick(self, now: datetime) -> str | None:
        """Run the round if it is due at ``now``; returns its result, or None when nothing ran."""
        row = await self.row(now)
        if now < row.next_due:
            return None
        fresh = await self.schedule.get(self.name)  # another process may have taken it already
        if fresh is None or now < fresh.next_due:
            self._row = fresh
            return None
        next_due = next_after(fresh.next_due, self.interval, now)
        if not await self.schedule.claim(self.name, fresh.next_due, next_due):
            self._row = await self.schedule.get(self.name)
            return None
        try:
            result = await self.run(now)
        except Exception as exc:
            log.exception("scheduled job %s failed", self.name)
            result = f"failed: {exc}"
        await self.schedule.finish(self.name, now, result)
        self._row = ScheduleRow(self.name, next_due, now, result)
        return result

    def forget(self) -> None:
        """Read the stored state again at the next tick (after someone else changed it)."""
        self._row = None
