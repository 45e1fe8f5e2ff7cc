"""The memory's scheduled work and the character's new day, as recurring rounds of the one timer mechanism
(bot/core/timers.py: durable rows, once per cluster by their compare-and-set, a run missed while the bot was
down run once at the next start), listed in :func:`daily_rounds`:

* ``consolidation:<key>``: daily at ``consolidation_hour_utc`` o'clock UTC (facts, relationships, archive,
  expired facts pruned; the nightly batched summaries);
* ``mood:<key>``: at the same anchor, when it is a new day: the day's mood (unless set today already), then
  the day's custom status, which reads it (bot/alive/);
* ``retention:<key>``: half an hour after the consolidation, model calls older than ``usage_retention_days``
  added up per day and deleted, archived messages older than ``archive_retention_days`` deleted with their
  excerpts kept for recall (database/retention.py; ``python main.py consolidate --now`` applies it too);
* ``summary-sweep:<key>``: every few minutes, conversations still over the threshold summarized (retrying
  failed passes).

The work itself is :mod:`memory` and :mod:`bot.alive`; this module only names the rounds.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta

from bot.core.config import MemorySettings, StorageSettings
from bot.core.i18n import N_, t
from bot.core.lines import Figure, Line
from bot.core.numbers import date_time
from bot.core.timers import Recurring, next_daily
from database.retention import Pruned
from memory.consolidation_report import ConsolidationReport
from memory.service import MemoryService

log = logging.getLogger(__name__)

SWEEP = timedelta(minutes=10)
DAY = timedelta(days=1)
RETENTION_MINUTE = 30  # past consolidation_hour_utc: the retention runs after the consolidation


def consolidation_figures(r: ConsolidationReport) -> list[tuple[Line, Line]]:
    """The daily consolidation's report as named figures, to be said in the log channel's language: counts
    only, never what anyone said."""
    n = Figure
    return [
        (Line(N_("Messages")),
         Line(N_("{messages}: {archived} archived, {purged} deleted (no consent)"), messages=n(r.messages),
              archived=n(r.archived), purged=n(r.purged))),
        (Line(N_("Batches")),
         Line(N_("{committed}/{batches} of {users} users committed, {skipped} skipped, {conflicts} already "
                 "handled"), committed=n(r.committed), batches=n(r.batches), users=n(r.users),
              skipped=n(r.skipped), conflicts=n(r.conflicts))),
        (Line(N_("Facts")),
         Line(N_("{new} new, {mentioned} mentioned again, {updated} updated, {retired} retired, {expired} "
                 "expired"), new=n(r.new_facts), mentioned=n(r.mentioned_facts), updated=n(r.updated_facts),
              retired=n(r.retired_facts), expired=n(r.pruned_facts))),
        (Line(N_("Recall")),
         Line(N_("{excerpts} messages indexed · {relationships} relationships updated"),
              excerpts=n(r.excerpts), relationships=n(r.relationship_updates))),
        (Line(N_("Time")),
         Line(N_("{seconds} s ({claude} s waiting for Claude)"), seconds=n(r.seconds, 1),
              claude=n(r.claude_seconds, 1))),
    ]


CONSOLIDATION = N_("Daily memory consolidation")


class MemoryJobs:
    """The memory's scheduled work, each run a round's (once per cluster); failures logged (and the next
    run retries)."""

    def __init__(self, memory: MemoryService, settings: MemorySettings, storage: StorageSettings,
                 mirror: Callable[[Line], None], *,
                 report: Callable[[Line, Sequence[tuple[Line, Line]]], None] | None = None) -> None:
        """``mirror``: a line for the log channel; ``report``: a report for it (a panel there), else the
        report goes as a line."""
        self.memory = memory
        self.settings = settings  # read at each run: a live reload applies
        self.storage = storage
        self.mirror = mirror
        self.report = report
        self.last: ConsolidationReport | None = None  # the last daily consolidation run here (None: none yet)
        self.last_at: datetime | None = None

    async def daily(self, now: datetime | None = None) -> ConsolidationReport | None:
        """The daily consolidation, as of ``now`` (None: it failed, or a run is already under way here)."""
        if self.memory.consolidator.running:
            log.info("daily consolidation already running; not starting another")
            return None
        try:
            report = await self.memory.consolidator.run(now=now, batch=self.settings.consolidation_batch)
        except Exception:
            log.exception("daily consolidation failed; the log is kept and the next run retries")
            self.mirror(Line(N_("Daily memory consolidation failed; see the bot's log.")))
            return None
        self.last, self.last_at = report, now or datetime.now(UTC)
        if self.report is not None:
            self.report(Line(CONSOLIDATION), consolidation_figures(report))
        else:
            self.mirror(Line(N_("{title}: {figures}"), title=Line(CONSOLIDATION),
                             figures=tuple(Line(N_("{name} {value}"), name=name, value=value)
                                           for name, value in consolidation_figures(report))))
        if self.settings.consolidation_batch:
            await self.summaries_batched()
        return report

    async def status_lines(self, language: str | None = None) -> str:
        """The log channel's ``status`` line about the nightly consolidation, as this process last ran it
        (in a cluster, one process runs it: the others say so), in ``language``."""
        name = t(language, "Memory consolidation")
        if self.last is None or self.last_at is None:
            return f"{name}: " + t(language, "not run by this process since it started")
        figures = "; ".join(Line(N_("{name} {value}"), name=n, value=v).render(language)
                            for n, v in consolidation_figures(self.last))
        return f"{name}: {date_time(self.last_at, language)} UTC, {figures}"

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
        try:
            pruned = await self.memory.prune(self.storage)
        except Exception:
            log.exception("retention failed; the next day's run retries")
            return None
        if pruned.calls or pruned.archived or pruned.excerpts:
            log.info("retention: %s", pruned.describe())
        return pruned

    async def sweep(self) -> int:
        """The conversations still over the threshold, given a summary pass; how many."""
        try:
            scheduled = await self.memory.summarizer.sweep()
            for summarizer in self.memory.member_summarizers.values():  # an ensemble's other characters
                scheduled += await summarizer.sweep()
        except Exception:
            log.exception("summary sweep failed")
            return 0
        if scheduled:
            log.info("summary sweep: %d conversations to summarize", scheduled)
        return scheduled

    # -- as rounds: the time each runs at -> the one-line result kept on its row

    async def daily_round(self, now: datetime) -> str:
        report = await self.daily(now)
        return report.describe() if report is not None else "did not run (see the bot's log)"

    async def retention_round(self, now: datetime) -> str:
        pruned = await self.retention()
        return pruned.describe() if pruned is not None else "failed (see the bot's log)"

    async def sweep_round(self, now: datetime) -> str:
        return f"{await self.sweep()} conversations to summarize"


def daily_rounds(key: str, memory: MemorySettings, jobs: MemoryJobs,
                 new_day: Callable[[datetime], Awaitable[str]], *,
                 skip: Collection[str] = ()) -> list[Recurring]:
    """The memory's rounds and the character's new day (``key``: the main character's), anchored at
    ``consolidation_hour_utc`` (read at each reschedule: a reload applies from the next run on). ``skip``:
    names of rounds this process leaves out (tests)."""

    def at(minute: int) -> Callable[[datetime], datetime]:
        return lambda now: next_daily(now, memory.consolidation_hour_utc, minute)

    rounds = [
        Recurring(f"consolidation:{key}", DAY, jobs.daily_round, anchor=at(0)),
        Recurring(f"mood:{key}", DAY, new_day, anchor=at(0)),
        Recurring(f"retention:{key}", DAY, jobs.retention_round, anchor=at(RETENTION_MINUTE)),
        Recurring(f"summary-sweep:{key}", SWEEP, jobs.sweep_round),
    ]
    return [r for r in rounds if r.key.split(":")[0] not in skip]

