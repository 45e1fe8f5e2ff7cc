"""The one timer mechanism for work that must happen once at its time, across restarts and across the
processes of a cluster: durable due rows (database/timers.py) and one loop that dispatches them.

* A *recurring round* (:class:`Recurring`: the proactive round, check-ins, the daily memory rounds, the
  summary sweep) has a row keyed by its name. Its next due time is the first point of a fixed grid (its first
  due time plus whole intervals) after now, or, for a round anchored to the clock (a daily round at
  ``consolidation_hour_utc``), its next anchor after now. When it is due, the loop moves it to that next due
  time (a compare-and-set on the due time: of two processes that saw the same due time only one wins) and
  runs it once. That is the one rule for a missed run: a round whose due time passed while the bot was down
  runs once at start-up, late, never several times, then waits for its next due time. Its result (or
  ``failed: ...``) is recorded. :meth:`Dispatcher.run_round` runs one on demand the same way (the tests do).
* A *one-shot timer* (a reminder) is a row of a ``kind`` with a payload, armed by :meth:`Timers.at`.
  Taking it moves its due time a lease ahead; it is deleted once its handler returned. A handler that raised
  (or a process that died running it) leaves the row, taken again when the lease runs out, so handlers are
  written to be run again safely (a run whose work was done does nothing).

The loop (:class:`Dispatcher`) makes a pass (:meth:`Dispatcher.start_due`: the due rows taken, each run
started), sleeps until the earliest row of its own is due, and wakes early when a sooner one is armed in this
process (a row armed by another process is seen at the latest ``max_wait`` later). Its one clock is
APScheduler: a single date job, moved to the time the loop next looks, wakes it; APScheduler runs no other
job. Each run is a task of its own, so a long round never holds a one-shot timer back. Handlers are
given to the dispatcher when it is built (bot/runtime/composition.py); nothing registers later.

Not durable timers, and not here: periodic work that only matters while the process runs (the latency
heartbeat, the cluster's liveness beat, the config reloader's file polls, the activity counters' flush) is a
job of the process's ticker, bot/core/ticker.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.core.localtime import Clock, utc_now
from database.boundary import JsonObject
from database.errors import DatabaseClosed
from database.timers import TimerRow, TimerRows

log = logging.getLogger(__name__)

Handler = Callable[[TimerRow], Awaitable[str]]  # a one-shot timer's work -> a one-line result
LEASE = timedelta(minutes=10)  # a one-shot timer whose run never finished is taken again after this
MAX_WAIT = 60.0  # seconds: rows armed by another process are seen at least this often
RETRY_WAIT = 5.0  # seconds after the database failed the loop
CLOSED = "stopped: the database closed"  # a run cut short because the database closed under it


def next_after(due: datetime, interval: timedelta, now: datetime) -> datetime:
    """The first grid point (``due`` + k intervals, k >= 1) after ``now``."""
    if now < due:
        return due + interval
    steps = int((now - due) / interval) + 1
    return due + steps * interval


def next_daily(now: datetime, hour: int, minute: int = 0) -> datetime:
    """The first ``hour``:``minute`` UTC after ``now``."""
    at = now.astimezone(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


@dataclass
class Recurring:
    """A recurring round: its row's key, its interval, what runs (the time it runs at -> a one-line result)
    and, for a round anchored to the clock, its next due time after a given time (read at each use, so a
    changed setting applies from the next run on); without it the round keeps to its grid."""

    key: str
    interval: timedelta
    run: Callable[[datetime], Awaitable[str]]
    anchor: Callable[[datetime], datetime] | None = None

    def first(self, now: datetime) -> datetime:
        """The first due time of a round that has no row yet."""
        return self.anchor(now) if self.anchor is not None else now + self.interval

    def after(self, due: datetime, now: datetime) -> datetime:
        """Where a round due at ``due``, run at ``now``, is due next."""
        return self.anchor(now) if self.anchor is not None else next_after(due, self.interval, now)


class Timers:
    """Arming one-shot timers; the dispatcher of this process is woken when one comes due sooner than it
    planned to wake."""

    def __init__(self, rows: TimerRows) -> None:
        self.rows = rows
        self.sooner = asyncio.Event()
        self.waking_at: datetime | None = None  # when the loop next looks (None: it is looking now)

    async def at(self, kind: str, key: str, due: datetime, payload: JsonObject) -> None:
        """Run ``kind``'s handler with this row at ``due`` (a row already under ``key`` is moved to it)."""
        await self.rows.put(key, kind, due, payload)
        if self.waking_at is None or due < self.waking_at:
            self.sooner.set()


class Dispatcher:
    def __init__(self, timers: Timers, *, rounds: Sequence[Recurring] = (),
                 handlers: Mapping[str, Handler] | None = None, clock: Clock = utc_now,
                 max_wait: float = MAX_WAIT) -> None:
        """``rounds``: this process's recurring rounds; ``handlers``: the one-shot timers' work, by kind."""
        self.timers = timers
        self.rows = timers.rows
        self.rounds = {r.key: r for r in rounds}
        self.handlers = dict(handlers or {})
        self.clock = clock
        self.max_wait = max_wait
        self._loop: asyncio.Task[None] | None = None
        self._started = False  # start() runs once (each READY calls it), never after stop()
        self._running: set[asyncio.Task[str]] = set()
        self._alarm = AsyncIOScheduler(timezone=UTC)  # the one clock: its one job wakes the loop

    # -- the loop

    async def start(self) -> None:
        """The loop, which first gives each round without a row its row (due at its next anchor, or one
        interval from now: a fresh bot runs no round at start), then dispatches. Nothing is awaited here:
        a stop that comes while the rows are still being read cancels that work with the loop."""
        if self._started:
            return
        self._started = True
        self._alarm.start()
        self._loop = asyncio.create_task(self._run_loop(), name="timers")

    async def _first_rows(self) -> None:
        now = self.clock()
        for r in self.rounds.values():
            await self.rows.ensure(r.key, r.first(now))

    async def stop(self) -> None:
        """Nothing new starts; runs in flight are cancelled (their rows are due again at once, for the next
        start)."""
        self._started = True
        if self._alarm.running:
            self._alarm.shutdown(wait=False)
        tasks = [*([self._loop] if self._loop is not None else []), *self._running]
        self._loop = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run_loop(self) -> None:
        sooner = self.timers.sooner
        rows_made = False
        while True:
            sooner.clear()
            self.timers.waking_at = None  # a row armed while this pass looks wakes the next wait at once
            try:
                if not rows_made:
                    await self._first_rows()
                    rows_made = True
                started = await self.start_due(now := self.clock())
                earliest = await self.rows.earliest(self.rounds, self.handlers)
            except DatabaseClosed:  # shutting down without stop(): nothing more can be dispatched
                log.info("timers: the database closed; the loop ends")
                return
            except Exception:
                log.exception("timers: reading the due rows failed; trying again shortly")
                wait = RETRY_WAIT
            else:
                wait = self.max_wait
                if earliest is not None:
                    wait = min(wait, max(0.0, (earliest - self.clock()).total_seconds()))
                    if earliest <= now and not started:
                        wait = RETRY_WAIT  # due, yet none could be taken: never a busy loop
            self.timers.waking_at = self.clock() + timedelta(seconds=wait)
            self._alarm.add_job(self._wake, DateTrigger(datetime.now(UTC) + timedelta(seconds=wait)),
                                id="timers", replace_existing=True, misfire_grace_time=None)
            await sooner.wait()

    async def _wake(self) -> None:
        # A coroutine: APScheduler runs it on the loop (a plain function would run in a thread).
        self.timers.sooner.set()

    # -- one pass

    async def start_due(self, now: datetime | None = None) -> list[asyncio.Task[str]]:
        """The loop's pass: take every row of this process due at ``now`` (the clock's time when not given)
        and start its run, each a task of its own that the loop does not wait for; the runs started, each
        a task whose result is the run's one-line result (a caller moving time by hand waits for them)."""
        now = now or self.clock()
        started = []
        for row in await self.rows.due(self.rounds, self.handlers, now):
            task = await self._take(row, now)
            if task is not None:
                self._running.add(task)
                task.add_done_callback(self._running.discard)
                started.append(task)
        return started

    async def run_round(self, key: str, now: datetime | None = None) -> str:
        """Run the round ``key`` now, whether or not it is due, the way a pass runs a due one: its row
        claimed (moved to its next due time after ``now``, so a pass does not run it again at once), the
        round run at ``now`` (the clock's time when not given), its result recorded and returned. Raises
        LookupError when this process has no such round (its feature is off, or it is a test's left-out
        round)."""
        recurring = self.rounds.get(key)
        if recurring is None:
            known = ", ".join(sorted(self.rounds)) or "none"
            raise LookupError(f"no round {key!r} here (its feature is off?); this process runs: {known}")
        now = now or self.clock()
        row = await self.rows.ensure(key, recurring.first(now))
        # Another process or a pass may move the row between its read and the claim: read it again.
        while not await self.rows.claim(key, row.due, next_due := recurring.after(row.due, now)):
            row = await self.rows.ensure(key, recurring.first(now))
        return await self._round(recurring, row, now, next_due)

    async def _take(self, row: TimerRow, now: datetime) -> asyncio.Task[str] | None:
        """Claim ``row`` (None when another process or pass took it first) and start its run."""
        recurring = self.rounds.get(row.key)
        if recurring is not None:
            next_due = recurring.after(row.due, now)
            if not await self.rows.claim(row.key, row.due, next_due):
                return None
            return asyncio.create_task(self._round(recurring, row, now, next_due), name=f"timer {row.key}")
        handler = self.handlers.get(row.kind)
        leased = now + LEASE
        if handler is None or not await self.rows.claim(row.key, row.due, leased):
            return None
        return asyncio.create_task(self._once(handler, row, now, leased), name=f"timer {row.key}")

    async def _round(self, recurring: Recurring, row: TimerRow, now: datetime, next_due: datetime) -> str:
        try:
            result = await recurring.run(now)
        except asyncio.CancelledError:
            # Stopped (shutting down) mid-run: due again at once, so the next start runs it, once. (With the
            # database already closed it stays at its next due time: nothing can be written any more.)
            with contextlib.suppress(DatabaseClosed):
                await self.rows.claim(row.key, next_due, row.due)
            raise
        except DatabaseClosed:
            log.info("scheduled round %s stopped: the database closed under it", recurring.key)
            return CLOSED
        except Exception as exc:
            log.exception("scheduled round %s failed", recurring.key)
            result = f"failed: {exc}"
        try:
            await self.rows.finish(recurring.key, now, result)
        except DatabaseClosed:
            log.info("scheduled round %s ran (%s) but the database closed before its result was kept",
                     recurring.key, result)
        return result

    async def _once(self, handler: Handler, row: TimerRow, now: datetime, leased: datetime) -> str:
        try:
            result = await handler(row)
        except asyncio.CancelledError:
            # Stopped (shutting down) mid-run: the row is due again at once, for the next start (or, the
            # database closed already, when its lease runs out).
            with contextlib.suppress(DatabaseClosed):
                await self.rows.claim(row.key, leased, row.due)
            raise
        except DatabaseClosed:
            log.info("timer %s stopped: the database closed under it; it is taken again later", row.key)
            return CLOSED
        except Exception as exc:
            log.exception("timer %s failed; it is taken again later", row.key)
            result = f"failed: {exc}"
            with contextlib.suppress(DatabaseClosed):  # the lease brings it back all the same
                await self.rows.finish(row.key, now, result)
            return result
        try:
            await self.rows.done(row.key, leased)
        except DatabaseClosed:  # its lease brings it back; handlers are safe to run again
            log.info("timer %s ran but the database closed before it was marked done", row.key)
        return result
