"""Retention: what grows with every message is not kept forever.

* ``api_calls`` (a row per reply, vote and summary): rows older than ``usage_retention_days`` are first
  added up per UTC day and model into ``api_usage_days`` (the dashboard's cost history and /status's totals
  read both), then deleted, in one transaction;
* ``message_archive`` (the consolidated log): messages said more than ``archive_retention_days`` ago are
  deleted (what was learnt from them stays in facts, summaries and memories), and with them, in the same
  transaction, their word-for-word copies kept for episodic recall (``archive_excerpts``): whatever holds a
  person's words expires with them. Those people's excerpt stamps change, so recall's cached indexes are
  read again and quote none of them. Reactions kept with the feeling toward a person (``person_feelings``)
  made before the same cutoff go too (they keep 7 days at most anyway).

0 for either setting keeps those rows forever. The job runs daily on the cluster's leader
(bot/runtime/jobs.py), and after each ``python main.py consolidate --now`` (bot/runtime/consolidation_cli.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, case, delete, func, select

from database.engine import Database
from database.feelings import prune_reactions
from database.models import ApiCall, ArchivedMessage, ArchiveExcerpt, UsageDay
from database.stamps import mark_deleted
from database.stats import day_of


@dataclass(frozen=True)
class Pruned:
    calls: int = 0  # api_calls rows added up and deleted
    days: int = 0  # (day, model) rows they were added to
    archived: int = 0  # message_archive rows deleted
    excerpts: int = 0  # archive_excerpts rows (their words, kept for recall) deleted with them
    reactions: int = 0  # reactions kept with a feeling toward a person, let go

    def describe(self) -> str:
        return (f"{self.calls} model calls older than the usage retention added up into {self.days} "
                f"day(s) and deleted; {self.archived} archived messages deleted, with {self.excerpts} "
                "excerpts of them kept for recall"
                + (f"; {self.reactions} kept reactions let go" if self.reactions else ""))


def usage_cutoff(now: datetime, days: int) -> datetime:
    """The start of the UTC day ``days`` days before ``now``: whole days are added up, never part of one."""
    return (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)


class Retention:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def prune(self, now: datetime, *, usage_days: int, archive_days: int) -> Pruned:
        """Apply both retentions as of ``now`` (an aware UTC datetime); 0 days: keep forever."""
        calls = days = archived = excerpts = reactions = 0
        if usage_days > 0:
            cutoff = usage_cutoff(now, usage_days)
            calls, days = await self.db.write(lambda conn: self._fold_usage(conn, cutoff))
        if archive_days > 0:
            before = now - timedelta(days=archive_days)
            archived, excerpts = await self.db.write(lambda conn: self._prune_archive(conn, before))
            reactions = await self.db.write(lambda conn: prune_reactions(conn, before))
        return Pruned(calls, days, archived, excerpts, reactions)

    def _prune_archive(self, conn: Connection, before: datetime) -> tuple[int, int]:
        """The archived messages said before ``before`` and their excerpts (``said_at`` is the message's
        own time), in one transaction; the excerpts' people get a new excerpt stamp."""
        archived = int(conn.execute(
            delete(ArchivedMessage).where(ArchivedMessage.created_at < before)).rowcount or 0)
        old = ArchiveExcerpt.said_at < before
        people = [int(u) for u in
                  conn.execute(select(ArchiveExcerpt.user_id).where(old).distinct()).scalars()]
        if not people:
            return archived, 0
        excerpts = int(conn.execute(delete(ArchiveExcerpt).where(old)).rowcount or 0)
        mark_deleted(conn, people, facts=False)
        return archived, excerpts

    def _fold_usage(self, conn: Connection, before: datetime) -> tuple[int, int]:
        day = day_of(conn.dialect.name, ApiCall.created_at).label("day")
        totals = conn.execute(
            select(day, ApiCall.model, func.count().label("calls"),
                   func.sum(ApiCall.input_tokens).label("input_tokens"),
                   func.sum(ApiCall.output_tokens).label("output_tokens"),
                   func.sum(ApiCall.cache_creation_tokens).label("cache_creation_tokens"),
                   func.sum(ApiCall.cache_read_tokens).label("cache_read_tokens"),
                   func.sum(ApiCall.cost).label("cost"),
                   func.sum(case((ApiCall.ok.is_(False), 1), else_=0)).label("failures"))
            .where(ApiCall.created_at < before).group_by(day, ApiCall.model)).all()
        if not totals:
            return 0, 0
        rows = [{"day": str(r.day)[:10], "model": r.model, "calls": int(r.calls),
                 "input_tokens": int(r.input_tokens or 0), "output_tokens": int(r.output_tokens or 0),
                 "cache_creation_tokens": int(r.cache_creation_tokens or 0),
                 "cache_read_tokens": int(r.cache_read_tokens or 0), "cost": float(r.cost or 0.0),
                 "failures": int(r.failures or 0)} for r in totals]
        ins = self.db.insert(UsageDay)
        added = ("calls", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens",
                 "cost", "failures")
        # Added to, not replaced: a call recorded late for a day already added up still counts.
        conn.execute(ins.on_conflict_do_update(
            index_elements=[UsageDay.day, UsageDay.model],
            set_={k: getattr(UsageDay, k) + getattr(ins.excluded, k) for k in added}), rows)
        deleted = conn.execute(delete(ApiCall).where(ApiCall.created_at < before)).rowcount
        return int(deleted), len(rows)
