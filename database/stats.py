"""Figures over time for the operator's dashboard: per-day counters the reply pipeline adds up
(``daily_counts``), per-day Claude usage from ``api_calls`` and, for the days whose calls the retention job
has already added up and deleted, ``api_usage_days`` (database/retention.py), and the size of the database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

from sqlalchemy import ColumnElement, Connection, Date, case, cast, func, select, text
from sqlalchemy.orm import InstrumentedAttribute

from database.engine import Database
from database.models import ApiCall, DailyCount, UsageDay
from database.records import DailyUsage
from database.rowmap import record

# DailyUsage's figures, in its fields' order: each day's are added up from the calls and the folded days.
ADDED = ("calls", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "cost",
         "failures")

Counter = tuple[str, str, str]  # (UTC day YYYY-MM-DD, character, counter name)


def day_of(dialect: str, column: InstrumentedAttribute[datetime]) -> ColumnElement[date | str]:
    """A timestamp column as its UTC day; SQLite keeps UTC times as text, PostgreSQL as timestamptz."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


class Stats:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_counts(self, counts: Mapping[Counter, int]) -> None:
        """Add to the per-day counters (one transaction for all of them; zero counts are skipped)."""
        rows = [{"day": day, "character": character[:100], "name": name[:32], "value": int(n)}
                for (day, character, name), n in counts.items() if n]
        if not rows:
            return
        ins = self.db.insert(DailyCount)
        statement = ins.on_conflict_do_update(
            index_elements=[DailyCount.day, DailyCount.character, DailyCount.name],
            set_={"value": DailyCount.value + ins.excluded.value},
        )
        await self.db.write(lambda conn: conn.execute(statement, rows))

    async def daily_counts(self, character: str, since_day: str) -> dict[str, dict[str, int]]:
        """{day: {counter name: value}} for the days from ``since_day`` (YYYY-MM-DD) on."""
        rows = await self.db.rows(
            select(DailyCount.day, DailyCount.name, DailyCount.value).where(
                DailyCount.character == character, DailyCount.day >= since_day
            )
        )
        out: dict[str, dict[str, int]] = {}
        for day, name, value in rows:
            out.setdefault(str(day), {})[str(name)] = int(value)
        return out

    async def daily_usage(self, since: datetime) -> list[DailyUsage]:
        """Every model call since ``since``, added up per UTC day (days without calls left out), oldest
        first."""
        day = day_of(self.db.dialect, ApiCall.created_at).label("day")
        query = (
            select(
                day,
                func.count().label("calls"),
                func.coalesce(func.sum(ApiCall.input_tokens), 0).label("input_tokens"),
                func.coalesce(func.sum(ApiCall.output_tokens), 0).label("output_tokens"),
                func.coalesce(func.sum(ApiCall.cache_creation_tokens), 0).label("cache_creation_tokens"),
                func.coalesce(func.sum(ApiCall.cache_read_tokens), 0).label("cache_read_tokens"),
                func.coalesce(func.sum(ApiCall.cost), 0.0).label("cost"),
                func.coalesce(func.sum(case((ApiCall.ok.is_(False), 1), else_=0)), 0).label("failures"),
            )
            .where(ApiCall.created_at >= since)
            .group_by(day)
            .order_by(day)
        )
        sums = (func.sum(getattr(UsageDay, name)).label(name) for name in ADDED)
        folded = select(UsageDay.day, *sums).where(
            UsageDay.day >= since.astimezone(UTC).strftime("%Y-%m-%d")).group_by(UsageDay.day)
        days: dict[str, DailyUsage] = {}
        for r in [*await self.db.rows(folded), *await self.db.rows(query)]:
            key = str(r.day)[:10]
            was, more = days.get(key, DailyUsage(key)), record(DailyUsage, r, day=key)
            days[key] = DailyUsage(key, *(getattr(was, name) + getattr(more, name) for name in ADDED))
        return [days[k] for k in sorted(days)]

    async def database_size(self) -> int | None:
        """Bytes the database takes (SQLite: its pages; PostgreSQL: pg_database_size); None if unknown."""

        def read(conn: Connection) -> int | None:
            if conn.dialect.name == "sqlite":
                pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
                size = conn.exec_driver_sql("PRAGMA page_size").scalar()
                return int(pages) * int(size) if pages is not None and size is not None else None
            if conn.dialect.name == "postgresql":
                value = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
                return int(value) if value is not None else None
            return None

        return await self.db.read(read)
