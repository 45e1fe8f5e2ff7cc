"""Scheduled memory jobs (APScheduler's AsyncIOScheduler, on the bot's event loop):

* the daily consolidation at ``consolidation_hour_utc`` o'clock UTC (facts, relationships, archive, expired
  facts pruned, daily mood); a run missed while the bot was down happens at start-up (the last run time is
  kept in global state, so the schedule survives restarts);
* a sweep every few minutes that summarizes conversations still over the threshold (retrying failed passes);
* the daily retention half an hour after the consolidation: model calls older than ``usage_retention_days``
  added up per day and deleted, archived messages older than ``archive_retention_days`` deleted
  (database/retention.py).

The work itself is :mod:`memory` (``bot.memory``, owned by the bot); this cog only schedules it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from discord.ext import commands

from database.retention import Pruned
from memory.consolidation import ConsolidationReport, missed_run
from memory.service import MemoryService

if TYPE_CHECKING:
    from cogs.bot import Kindred

log = logging.getLogger(__name__)

SWEEP_MINUTES = 10.0


class MemoryTasks(commands.Cog):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.memory: MemoryService = bot.memory
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._startup: asyncio.Task[object] | None = None
        # Run after each successful daily consolidation (cogs/alive.py: the day's new custom status).
        self.after_daily: list[Callable[[], Awaitable[None]]] = []

    async def cog_load(self) -> None:
        hour = self.bot.settings.memory.consolidation_hour_utc
        self.scheduler.add_job(self.daily, CronTrigger(hour=hour, minute=0, timezone=UTC), id="consolidation",
                               coalesce=True, max_instances=1, misfire_grace_time=3600)
        self.scheduler.add_job(self.retention, CronTrigger(hour=hour, minute=30, timezone=UTC),
                               id="retention", coalesce=True, max_instances=1, misfire_grace_time=3600)
        self.scheduler.add_job(self.sweep, IntervalTrigger(minutes=SWEEP_MINUTES, timezone=UTC),
                               id="summary-sweep",
                               coalesce=True, max_instances=1)
        self.scheduler.start()
        # In a cluster only the leader runs these jobs; a process that becomes leader (at start, or when the
        # old leader dies) first catches up on a consolidation the cluster missed.
        self.bot.cluster.lead_hooks.append(self.catch_up)

    async def catch_up(self) -> None:
        hour = self.bot.settings.memory.consolidation_hour_utc
        if await missed_run(self.bot.store, datetime.now(UTC), hour):
            log.info("the daily consolidation due at %02d:00 UTC did not run; running it now", hour)
            self._startup = asyncio.create_task(self.daily(), name="missed-consolidation")

    async def cog_unload(self) -> None:
        self.scheduler.shutdown(wait=False)
        if self.catch_up in self.bot.cluster.lead_hooks:
            self.bot.cluster.lead_hooks.remove(self.catch_up)
        if self._startup is not None and not self._startup.done():
            self._startup.cancel()
        # The memory service itself belongs to the bot, which closes it (cogs/bot.py).

    async def daily(self) -> ConsolidationReport | None:
        if not self.bot.cluster.leading:
            return None  # the cluster's leader runs it
        if self.memory.consolidator.running:
            log.info("daily consolidation already running; not starting another")
            return None
        try:
            report = await self.memory.consolidator.run(batch=self.bot.settings.memory.consolidation_batch)
        except Exception:
            log.exception("daily consolidation failed; the log is kept and the next run retries")
            self.bot.mirror.emit("Daily memory consolidation failed; see the bot's log.")
            return None
        self.bot.mirror.emit(f"Daily memory consolidation: {report.describe()}")
        for hook in list(self.after_daily):
            try:
                await hook()
            except Exception:
                log.exception("work after the daily consolidation failed")
        return report

    async def retention(self) -> Pruned | None:
        if not self.bot.cluster.leading:
            return None  # the cluster's leader runs it
        try:
            pruned = await self.memory.prune(self.bot.settings.storage)
        except Exception:
            log.exception("retention failed; the next day's run retries")
            return None
        if pruned.calls or pruned.archived:
            log.info("retention: %s", pruned.describe())
        return pruned

    async def sweep(self) -> None:
        if not self.bot.cluster.leading:
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


async def setup(bot: Kindred) -> None:
    await bot.add_cog(MemoryTasks(bot))
