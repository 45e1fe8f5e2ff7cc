"""The one scheduler of the process (APScheduler's AsyncIOScheduler, on the bot's event loop) and every job
it runs, by name, listed in :func:`scheduled_jobs`:

* ``consolidation``: the daily consolidation at ``consolidation_hour_utc`` o'clock UTC (facts, relationships,
  archive, expired facts pruned, daily mood); a run missed while the bot was down happens when this process
  becomes the cluster's leader (the last run time is kept in global state, so the schedule survives
  restarts); after it, the day's custom status (bot/alive/);
* ``retention``: half an hour after the consolidation, model calls older than ``usage_retention_days`` added
  up per day and deleted, archived messages older than ``archive_retention_days`` deleted with their
  excerpts kept for recall (database/retention.py; ``python main.py consolidate --now`` applies it too);
* ``summary-sweep``: every few minutes, conversations still over the threshold summarized (retrying failed
  passes).

Proactive rounds, check-ins and a poll's closing are not jobs of this scheduler but durable timers
(bot/core/timers.py): they must happen once at their time across restarts and processes.

The memory jobs run on the cluster's leader only. The work itself is :mod:`memory` and :mod:`bot.alive`;
this module only schedules it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.job import Job as ScheduledJob
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.config import MemorySettings, StorageSettings
from bot.runtime.cluster import Cluster
from database.retention import Pruned
from memory.consolidation import ConsolidationReport, missed_run
from memory.service import MemoryService

log = logging.getLogger(__name__)

SWEEP_MINUTES = 10.0
MISFIRE_GRACE_SECONDS = 3600  # a daily job late by up to an hour (a busy loop, a suspend) still runs


def consolidation_figures(r: ConsolidationReport) -> list[tuple[str, str]]:
    """The daily consolidation's report as named figures: counts only, never what anyone said."""
    return [
        ("Messages", f"{r.messages}: {r.archived} archived, {r.purged} deleted (no consent)"),
        ("Batches", f"{r.committed}/{r.batches} of {r.users} users committed, {r.skipped} skipped, "
                    f"{r.conflicts} already handled"),
        ("Facts", f"{r.new_facts} new, {r.mentioned_facts} mentioned again, {r.updated_facts} updated, "
                  f"{r.retired_facts} retired, {r.pruned_facts} expired"),
        ("Recall", f"{r.excerpts} messages indexed · {r.relationship_updates} relationships updated"),
        ("Time", f"{r.seconds:.1f}s ({r.claude_seconds:.1f}s waiting for Claude)"),
    ]


class MemoryJobs:
    """The memory's scheduled work: run by the cluster's leader, failures logged (and the next run
    retries)."""

    def __init__(self, memory: MemoryService, settings: MemorySettings, storage: StorageSettings,
                 cluster: Cluster, mirror: Callable[[str], None], *,
                 report: Callable[[str, Sequence[tuple[str, str]]], None] | None = None,
                 after_daily: Callable[[], Awaitable[None]] | None = None) -> None:
        """``mirror``: a line for the log channel; ``report``: a report for it (a panel there), else the
        report goes as a line."""
        self.memory = memory
        self.settings = settings  # read at each run: a live reload applies
        self.storage = storage
        self.cluster = cluster
        self.mirror = mirror
        self.report = report
        # Run after each successful daily consolidation (the day's mood and custom status, bot/alive/).
        self.after_daily = after_daily
        self._startup: asyncio.Task[ConsolidationReport | None] | None = None
        # The tasks running the nightly work now (the scheduler's, a catch-up's): a stop cancels them, which
        # cancels a Message Batch they wait on rather than leave it running, billed, with nobody to read it.
        self._nightly: set[asyncio.Task[object]] = set()

    async def catch_up(self) -> None:
        """This process became the leader (at start, or when the old leader died): first catch up on a
        consolidation the cluster missed."""
        hour = self.settings.consolidation_hour_utc
        if await missed_run(self.memory.store.state, datetime.now(UTC), hour):
            log.info("the daily consolidation due at %02d:00 UTC did not run; running it now", hour)
            self._startup = asyncio.create_task(self.daily(), name="missed-consolidation")

    async def close(self) -> None:
        """Stop the nightly work under way (before the model client closes: a batch it waits on is cancelled
        through it); what it did not commit waits for the next run."""
        running = [t for t in (self._startup, *self._nightly) if t is not None and not t.done()]
        for task in running:
            task.cancel()
        if running:
            log.info("stopping the nightly memory work under way; the next run does what it left")
            await asyncio.gather(*running, return_exceptions=True)
        # The memory service itself belongs to the bot, which closes it (bot/discord/client.py).

    async def daily(self) -> ConsolidationReport | None:
        task = asyncio.current_task()
        if task is None:
            return await self._daily()
        self._nightly.add(task)
        try:
            return await self._daily()
        finally:
            self._nightly.discard(task)

    async def _daily(self) -> ConsolidationReport | None:
        if not self.cluster.leading:
            return None  # the cluster's leader runs it
        if self.memory.consolidator.running:
            log.info("daily consolidation already running; not starting another")
            return None
        try:
            report = await self.memory.consolidator.run(batch=self.settings.consolidation_batch)
        except Exception:
            log.exception("daily consolidation failed; the log is kept and the next run retries")
            self.mirror("Daily memory consolidation failed; see the bot's log.")
            return None
        if self.report is not None:
            self.report("Daily memory consolidation", consolidation_figures(report))
        else:
            self.mirror(f"Daily memory consolidation: {report.describe()}")
        if self.settings.consolidation_batch:
            await self.summaries_batched()
        if self.after_daily is not None:
            try:
                await self.after_daily()
            except Exception:
                log.exception("work after the daily consolidation failed")
        return report

    async def summaries_batched(self) -> int:
        """The conversations due a summary, summarized through Message Batches (half price) as part of the
        nightly work; by day the sweep and each turn summarize directly."""
        wait = self.settings.consolidation_batch_wait
        done = 0
        try:
            for summarizer in (self.memory.summarizer, *self.memory.member_summarizers.values()):
                done += await summarizer.summarize_batched(max_wait=wait)
        except Exception:
            log.exception("the nightly batched summaries failed; the sweep retries them")
        return done

    async def retention(self) -> Pruned | None:
        if not self.cluster.leading:
            return None  # the cluster's leader runs it
        try:
            pruned = await self.memory.prune(self.storage)
        except Exception:
            log.exception("retention failed; the next day's run retries")
            return None
        if pruned.calls or pruned.archived or pruned.excerpts:
            log.info("retention: %s", pruned.describe())
        return pruned

    async def sweep(self) -> None:
        if not self.cluster.leading:
            return
        try:
            scheduled = await self.memory.summarizer.sweep()
            for summarizer in self.memory.member_summarizers.values():  # an ensemble's other characters
                scheduled += await summarizer.sweep()
        except Exception:
            log.exception("summary sweep failed")
            return
        if scheduled:
            log.info("summary sweep: %d conversations to summarize", scheduled)


@dataclass(frozen=True)
class Job:
    """One named job: what runs, and when."""

    name: str
    run: Callable[[], Awaitable[object]]
    trigger: BaseTrigger
    misfire_grace_time: int | None = None


def scheduled_jobs(memory: MemorySettings, memory_jobs: MemoryJobs) -> list[Job]:
    """Every job of the process, in one list (``memory``: the hour of the daily consolidation)."""
    hour = memory.consolidation_hour_utc
    return [
        Job("consolidation", memory_jobs.daily, CronTrigger(hour=hour, minute=0, timezone=UTC),
            MISFIRE_GRACE_SECONDS),
        Job("retention", memory_jobs.retention, CronTrigger(hour=hour, minute=30, timezone=UTC),
            MISFIRE_GRACE_SECONDS),
        Job("summary-sweep", memory_jobs.sweep, IntervalTrigger(minutes=SWEEP_MINUTES, timezone=UTC)),
    ]


class Scheduler:
    """The process's one scheduler: each job at most one run at a time, a run missed while busy coalesced."""

    def __init__(self, jobs: Sequence[Job], *, skip: Collection[str] = ()) -> None:
        """``skip``: names of jobs this process does not run (tests leave some out)."""
        self.jobs = [job for job in jobs if job.name not in skip]
        self._scheduler = AsyncIOScheduler(timezone=UTC)

    @property
    def names(self) -> list[str]:
        return [job.name for job in self.jobs]

    def start(self) -> None:
        for job in self.jobs:
            # Without a grace of its own, APScheduler's default (1 s); None there would mean "any lateness".
            grace = {} if job.misfire_grace_time is None else {"misfire_grace_time": job.misfire_grace_time}
            self._scheduler.add_job(job.run, job.trigger, id=job.name, coalesce=True, max_instances=1,
                                    **grace)
        self._scheduler.start()

    def get_job(self, name: str) -> ScheduledJob | None:
        return self._scheduler.get_job(name)

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
