"""Durable timers: due rows that one loop dispatches (bot/core/timers.py). A recurring round's row keeps its
next due time and last result, so that a restart neither skips nor repeats a round; a one-shot timer's row (a
reminder) keeps its kind and payload until it ran. Taking a row is a compare-and-set on its due time: of
two processes (or two passes) that saw the same due time, exactly one moves it on and runs it."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Table, delete, false, or_, select, update

from database.alive_models import ScheduledJob
from database.boundary import DbRow, JsonObject
from database.engine import Database
from database.models import utcnow
from database.records import as_utc

ROUND = "round"  # the kind of a recurring round's row (its key names the round)

COLUMNS = (ScheduledJob.name, ScheduledJob.kind, ScheduledJob.next_due, ScheduledJob.payload,
           ScheduledJob.last_run, ScheduledJob.last_result)


@dataclass(frozen=True)
class TimerRow:
    """A durable timer: its key, its kind (what handles it), when it is next due, what it is about, and when
    and how it last ran. (Here rather than in records.py, which is full.)"""

    key: str
    kind: str
    due: datetime
    payload: JsonObject
    last_run: datetime | None
    last_result: str


def _row(r: DbRow) -> TimerRow:
    key, kind, due, payload, last_run, result = r
    loaded = json.loads(payload or "{}")
    return TimerRow(str(key), str(kind), as_utc(due), loaded if isinstance(loaded, dict) else {},
                    as_utc(last_run) if last_run else None, str(result or ""))


def _mine(rounds: Collection[str], kinds: Collection[str]) -> ColumnElement[bool]:
    """The rows a process runs: its own rounds (by key) and the one-shot timers of kinds it handles."""
    if not rounds and not kinds:
        return false()
    return or_(ScheduledJob.name.in_(list(rounds)),
               ScheduledJob.kind.in_(list(kinds)) & (ScheduledJob.kind != ROUND))


class TimerRows:
    def __init__(self, db: Database) -> None:
        self.db = db
        # A one-shot timer's upsert, built once (one is armed with every reply offered swipes): its values
        # are parameters, and a row already under the key takes the new ones.
        table = cast(Table, ScheduledJob.__table__)
        ins = db.insert(table)
        self._put = ins.on_conflict_do_update(index_elements=[table.c.name], set_={
            "kind": ins.excluded.kind, "payload": ins.excluded.payload, "next_due": ins.excluded.next_due,
            "updated_at": ins.excluded.updated_at})

    async def get(self, key: str) -> TimerRow | None:
        row = await self.db.first(select(*COLUMNS).where(ScheduledJob.name == key))
        return None if row is None else _row(row)

    async def ensure(self, key: str, first_due: datetime) -> TimerRow:
        """A recurring round's row, created due at ``first_due`` when it has none yet."""
        ins = self.db.insert(ScheduledJob).values(name=key, kind=ROUND, payload="{}", next_due=first_due,
                                                  last_run=None, last_result="", updated_at=utcnow())
        await self.db.change(ins.on_conflict_do_nothing(index_elements=[ScheduledJob.name]))
        row = await self.get(key)
        assert row is not None
        return row

    async def put(self, key: str, kind: str, due: datetime, payload: JsonObject) -> None:
        """A one-shot timer, due at ``due`` (one already under ``key`` is set to it)."""
        params = {"name": key, "kind": kind, "payload": json.dumps(payload), "next_due": due,
                  "last_run": None, "last_result": "", "updated_at": utcnow()}
        # Shared: a timer armed beside other small writes (a reply's swipes) joins their transaction.
        await self.db.write_shared(lambda conn: conn.execute(self._put, params), single=True)

    async def due(self, rounds: Collection[str], kinds: Collection[str], now: datetime,
                  limit: int = 50) -> list[TimerRow]:
        """The rows of this process due at ``now``, earliest first."""
        rows = await self.db.rows(select(*COLUMNS).where(_mine(rounds, kinds), ScheduledJob.next_due <= now)
                                  .order_by(ScheduledJob.next_due).limit(limit))
        return [_row(r) for r in rows]

    async def earliest(self, rounds: Collection[str], kinds: Collection[str]) -> datetime | None:
        """When the next row of this process is due (None: it has none)."""
        row = await self.db.first(select(ScheduledJob.next_due).where(_mine(rounds, kinds))
                                  .order_by(ScheduledJob.next_due).limit(1))
        return None if row is None else as_utc(row[0])

    async def claim(self, key: str, due: datetime, next_due: datetime) -> bool:
        """Move the row from ``due`` (as read) to ``next_due``; False when someone else already did."""
        moved = await self.db.change(update(ScheduledJob)
                                     .where(ScheduledJob.name == key, ScheduledJob.next_due == due)
                                     .values(next_due=next_due, updated_at=utcnow()))
        return moved == 1

    async def finish(self, key: str, at: datetime, result: str) -> None:
        await self.db.change(update(ScheduledJob).where(ScheduledJob.name == key)
                             .values(last_run=at, last_result=result[:2000], updated_at=utcnow()))

    async def done(self, key: str, due: datetime) -> None:
        """A one-shot timer ran: its row goes (unless it was set to another time meanwhile)."""
        await self.db.change(delete(ScheduledJob)
                             .where(ScheduledJob.name == key, ScheduledJob.next_due == due))
