"""The one mechanism for periodic work that only matters while this process runs: the gateway-latency
heartbeat, the cluster's liveness beat, the config reloader's file polls, the activity counters' flush.
(Work that must happen at its time across restarts and the cluster's processes is a durable timer instead:
bot/core/timers.py.)

A job (:meth:`Ticker.every`) is a name, an interval and a tick. Its interval is read before each wait, so a
live reload applies from the next round; an interval of 0 or less ends the job. A tick that raises is
logged here, one line per failure with the job's name (the first of a run of failures with its traceback,
and the return to health once), and the job goes on at its next round. Each job is stopped by its owner
where it stopped before (the cluster's beat with the cluster, the counters' flush before the store closes);
:meth:`Ticker.stop` stops whatever is left when the bot closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Seconds = Callable[[], float]  # a job's interval, read before each wait
Tick = Callable[[], Awaitable[object]]  # one round of a job's work (what it returns is not read)
Sleep = Callable[[float], Awaitable[object]]


class TickerJob:
    """One periodic job's task. ``rounds``: ticks done, failed ones included; ``failures``: those failed in
    a row."""

    def __init__(self, ticker: Ticker, name: str, seconds: Seconds, tick: Tick, *, at_once: bool) -> None:
        self.ticker = ticker
        self.name = name
        self.seconds = seconds
        self.tick = tick
        self.rounds = 0
        self.failures = 0
        self._ticking = False
        self._stopping = ticker.stopped  # a job asked for after the ticker stopped never runs
        self._task: asyncio.Task[None] | None = None
        if not self._stopping:
            self._task = asyncio.create_task(self._run(at_once), name=name)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self, at_once: bool) -> None:
        try:
            await self._rounds(at_once)
        finally:
            self.ticker.jobs.discard(self)

    async def _rounds(self, at_once: bool) -> None:
        wait = not at_once
        while not self._stopping:
            if wait:
                seconds = self.seconds()
                if seconds <= 0:
                    log.info("%s: its interval is now %g; it stops", self.name, seconds)
                    return
                await self.ticker.sleep(seconds)
            wait = True
            self._ticking = True
            try:
                await self.tick()
            except Exception as exc:  # a failing round must not end the job for the rest of the run
                self.failures += 1
                log.warning("%s failed (%s: %s); it runs again at its next round", self.name,
                            type(exc).__name__, exc, exc_info=self.failures == 1)
            else:
                if self.failures:
                    log.info("%s works again after %d failed round(s)", self.name, self.failures)
                self.failures = 0
            finally:
                self._ticking = False
                self.rounds += 1

    async def stop(self, *, finish: bool = False) -> None:
        """No further round starts. ``finish``: a tick under way runs to its end (a write that must not be cut
        half-way); otherwise it is cancelled. A wait is always cut short."""
        self._stopping = True
        self.ticker.jobs.discard(self)
        task = self._task
        if task is None or task is asyncio.current_task():
            return
        if not (finish and self._ticking):
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class Ticker:
    """The periodic jobs of this process. ``sleep``: how a job waits (tests give a clock of their own)."""

    def __init__(self, sleep: Sleep = asyncio.sleep) -> None:
        self.sleep = sleep
        self.jobs: set[TickerJob] = set()
        self.stopped = False

    def every(self, name: str, seconds: Seconds, tick: Tick, *, at_once: bool = False) -> TickerJob:
        """Run ``tick`` every ``seconds()`` seconds from now on (``at_once``: a first round before the first
        wait). Started at once, on the running loop."""
        job = TickerJob(self, name, seconds, tick, at_once=at_once)
        if job.running:
            self.jobs.add(job)
        return job

    async def stop(self) -> None:
        """Stop every job still running; none starts after this."""
        self.stopped = True
        for job in list(self.jobs):
            await job.stop()
