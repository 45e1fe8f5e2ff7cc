"""Helpers shared by the benchmarks: percentiles, a temporary database, bulk seeding."""

from __future__ import annotations

import statistics
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from database.models import ArchivedMessage, LoggedMessage
from database.store import Store


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary_ms(samples_s: list[float]) -> str:
    ms = [s * 1000 for s in samples_s]
    return (f"p50 {percentile(ms, 50):.2f} ms, p99 {percentile(ms, 99):.2f} ms, "
            f"mean {statistics.fmean(ms):.2f} ms (n={len(ms)})")


def temp_sqlite_url(name: str = "bench.db") -> str:
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
    return f"sqlite+aiosqlite:///{folder / name}"


async def seed_messages(store: Store, count: int, *, channels: int = 50, users: int = 1000,
                        archived_fraction: float = 0.5, batch: int = 20_000) -> None:
    """Fill the log and the archive with ``count`` messages (half each by default), fast."""
    start = datetime.now(UTC) - timedelta(days=30)
    archived = int(count * archived_fraction)
    for table, first, n in ((ArchivedMessage, 10_000_000, archived), (LoggedMessage, 50_000_000, count - archived)):
        for offset in range(0, n, batch):
            rows = [
                {"message_id": first + i, "channel_id": 1000 + i % channels, "guild_id": 1, "author_id": 1 + i % users,
                 "author_name": f"user{i % users}", "author_is_bot": False, "is_dm": False,
                 "content": f"message number {i} about tide pools and tea", "created_at": start + timedelta(seconds=i)}
                for i in range(offset, min(offset + batch, n))
            ]
            async with store.engine.begin() as conn:
                await conn.execute(insert(table), rows)
