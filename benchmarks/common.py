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
                        archived_fraction: float = 0.5, batch: int = 20_000, guild_id: int = 1,
                        hot_channel: int | None = None, hot_share: float = 0.0) -> None:
    """Fill the log and the archive with ``count`` messages (half each by default), fast.

    ``hot_channel`` (the channel a benchmark then talks in) gets ``hot_share`` of each table's rows; the rest
    are spread over ``channels`` other channels of the same server.
    """
    start = datetime.now(UTC) - timedelta(days=30)
    archived = int(count * archived_fraction)

    def channel_of(i: int) -> int:
        # Every row whose index crosses the next multiple of 1/hot_share goes to the hot channel.
        if hot_channel is not None and int((i + 1) * hot_share) > int(i * hot_share):
            return hot_channel
        return 1000 + i % channels

    for table, first, n in (
        (ArchivedMessage, 10_000_000, archived),
        (LoggedMessage, 50_000_000, count - archived),
    ):
        for offset in range(0, n, batch):
            rows = [
                {
                    "message_id": first + i,
                    "channel_id": channel_of(i),
                    "guild_id": guild_id,
                    "author_id": 1 + i % users,
                    "author_name": f"user{i % users}",
                    "author_is_bot": False,
                    "is_dm": False,
                    "content": f"message number {i} about tide pools and tea",
                    "created_at": start + timedelta(seconds=i),
                }
                for i in range(offset, min(offset + batch, n))
            ]
            async with store.engine.begin() as conn:
                await conn.execute(insert(table), rows)
