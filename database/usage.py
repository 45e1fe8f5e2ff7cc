"""Usage: every model call with its tokens, cost and latency, and the totals /status and admins read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import astuple
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, literal_column, select

from database.boundary import Query, Statements
from database.engine import Database
from database.models import ApiCall, UsageDay, utcnow
from database.records import Usage
from database.rowmap import record
from database.statements import execute_all


def usage_totals(*where: ColumnElement[bool]) -> Query:
    """(calls, input, output, cache-write, cache-read tokens, cost) of the calls matching ``where``, each
    labelled as :class:`Usage`'s field (read with database/rowmap.py ``record``)."""
    return select(func.count().label("calls"),
                  func.coalesce(func.sum(ApiCall.input_tokens), 0).label("input_tokens"),
                  func.coalesce(func.sum(ApiCall.output_tokens), 0).label("output_tokens"),
                  func.coalesce(func.sum(ApiCall.cache_creation_tokens), 0).label("cache_creation_tokens"),
                  func.coalesce(func.sum(ApiCall.cache_read_tokens), 0).label("cache_read_tokens"),
                  func.coalesce(func.sum(ApiCall.cost), 0.0).label("cost")).where(*where)


class UsageLog:
    def __init__(self, db: Database, q: Statements) -> None:
        self.db = db
        self._q = q

    async def record(self, *, user_id: int | None, purpose: str, model: str, input_tokens: int,
                     output_tokens: int, cache_creation_tokens: int, cache_read_tokens: int, cost: float,
                     latency_ms: float, ok: bool, error: str = "", guild_id: int | None = None) -> None:
        """One model call (after every reply, vote and summary: a prepared statement); ``guild_id``: the
        server whose message it was made for (the per-server spend cap reads it)."""
        await self.record_all([dict(
            user_id=user_id, purpose=purpose, model=model, input_tokens=input_tokens,
            output_tokens=output_tokens, cache_creation_tokens=cache_creation_tokens,
            cache_read_tokens=cache_read_tokens, cost=cost, latency_ms=latency_ms, ok=ok, error=error,
            guild_id=guild_id)])

    async def record_all(self, calls: Sequence[Mapping[str, object]]) -> None:
        """Several model calls in one write (a vote round's): each mapping holds record()'s arguments, and
        may hold ``created_at`` (when the call ended; else now) and ``web_searches`` (else 0)."""
        if not calls:
            return
        now = utcnow()
        rows = [{"user_id": c["user_id"], "guild_id": c.get("guild_id"), "purpose": c["purpose"],
                 "model": c["model"], "input_tokens": c["input_tokens"], "output_tokens": c["output_tokens"],
                 "cache_creation_tokens": c["cache_creation_tokens"],
                 "cache_read_tokens": c["cache_read_tokens"], "cost": c["cost"],
                 "web_searches": c.get("web_searches", 0), "latency_ms": c["latency_ms"],
                 "ok": c["ok"], "error": str(c.get("error", ""))[:300],
                 "created_at": c.get("created_at") or now} for c in calls]
        await self.db.write_shared(lambda conn: execute_all(conn, self._q["api_call_insert"], rows),
                                   single=True)

    async def totals(self, user_id: int | None = None, *, purpose: str | None = None) -> Usage:
        """Everyone's (or one person's) calls, of every purpose (or one)."""
        where = [c for c in (ApiCall.user_id == user_id if user_id is not None else None,
                             ApiCall.purpose == purpose if purpose is not None else None) if c is not None]
        row = await self.db.first(usage_totals(*where))
        assert row is not None
        return record(Usage, row)

    async def by_model(self, since: datetime | None = None) -> list[tuple[str, Usage]]:
        """Every call's totals per model (``since``: only calls from then on, to the day for those already
        added up by the retention job), the costliest first (/status, the dashboard's overview). The web
        searches are counted from the calls' own rows: a day already added up keeps their fees in its cost
        but not their number."""
        query = select(ApiCall.model, *usage_totals().selected_columns,
                       func.coalesce(func.sum(ApiCall.web_searches), 0).label("web_searches"))
        folded: Query = select(
            UsageDay.model, func.sum(UsageDay.calls).label("calls"),
            func.sum(UsageDay.input_tokens).label("input_tokens"),
            func.sum(UsageDay.output_tokens).label("output_tokens"),
            func.sum(UsageDay.cache_creation_tokens).label("cache_creation_tokens"),
            func.sum(UsageDay.cache_read_tokens).label("cache_read_tokens"),
            func.sum(UsageDay.cost).label("cost"),
            literal_column("0").label("web_searches"))
        if since is not None:
            query = query.where(ApiCall.created_at >= since)
            folded = folded.where(UsageDay.day >= since.astimezone(UTC).strftime("%Y-%m-%d"))
        models: dict[str, Usage] = {}
        for r in [*await self.db.rows(folded.group_by(UsageDay.model)),
                  *await self.db.rows(query.group_by(ApiCall.model))]:
            model, more = str(r.model), record(Usage, r)
            was = models.get(model, Usage())
            models[model] = Usage(*(a + b for a, b in zip(astuple(was), astuple(more), strict=True)))
        return sorted(models.items(), key=lambda m: -m[1].cost)

    async def batched(self, since: datetime | None = None) -> list[tuple[str, Usage]]:
        """Per model, the calls answered through a Message Batch (purpose "... batch", billed at half price;
        ``since``: from then on): the dashboard shows what batching saved."""
        query = select(ApiCall.model, *usage_totals().selected_columns).where(ApiCall.purpose.like("% batch"))
        if since is not None:
            query = query.where(ApiCall.created_at >= since)
        rows = await self.db.rows(query.group_by(ApiCall.model))
        return [(str(r.model), record(Usage, r)) for r in rows]
