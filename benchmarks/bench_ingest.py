"""Ingest rate into the short-term log: how many seen messages per second the store keeps up with.

Messages arrive concurrently like on a busy server (many channels at once); each caller waits for its own
row to be committed, and the group commit shares one transaction among the ones that arrive together.
Run: python -m benchmarks.bench_ingest [--quick] [--messages N] [--concurrency C] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from benchmarks.common import temp_sqlite_url
from database.records import SeenMessage
from database.store import Store
from tests.dbtools import logged_count, reset_schema


async def run(url: str, messages: int, concurrency: int) -> float:
    await reset_schema(url)  # a scratch database: its Kindred tables are dropped first
    store = await Store(url).open()
    now = datetime.now(UTC)
    queue = iter(range(1, messages + 1))

    async def worker() -> None:
        for i in queue:
            await store.log.log_message(
                SeenMessage(
                    i, 100 + i % 40, 1, 1 + i % 500, f"user{i % 500}", False, False, f"hello number {i}", now
                )
            )

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    assert await logged_count(store) == messages
    await store.close()
    return messages / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="2,000 messages (as run_all --quick passes it on)"
    )
    parser.add_argument("--messages", type=int, default=None, help="messages to ingest (default 20,000)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--database-url",
        default=None,
        help="a SCRATCH database (its Kindred tables are dropped); default: a fresh SQLite file",
    )
    args = parser.parse_args()
    messages = args.messages if args.messages is not None else 2_000 if args.quick else 20_000
    url = args.database_url or temp_sqlite_url()
    rate = asyncio.run(run(url, messages, args.concurrency))
    print(
        f"ingest: {rate:,.0f} messages/s ({messages} messages, {args.concurrency} concurrent senders, "
        f"{url.split(':')[0]}) target >= 5,000/s on SQLite"
    )
    sequential = (
        asyncio.run(run(temp_sqlite_url(), min(messages, 3000), 1)) if not args.database_url else None
    )
    if sequential:
        print(f"ingest, one sender at a time: {sequential:,.0f} messages/s")


if __name__ == "__main__":
    main()
