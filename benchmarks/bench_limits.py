"""The spending limits' one query per message, on a database holding a month of recorded model calls.

Seeds ``api_calls`` with calls spread over 30 days (1,000 people, 50 servers; about a thirtieth of them
today), then times SpendingLimits.gate (the check a message pays for) with every limit on: one person's
tokens today and premium flag, their server's and the whole bot's spend today, in one query. Printed beside
it: the same with only the per-person budget, and the plan the database chose for the query.
Target: p50 < 1 ms, p99 < 5 ms (the per-message overhead budget is 2 ms).

Run: python -m benchmarks.bench_limits [--quick] [--calls 600000] [--checks 1000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from benchmarks.common import summary_ms, temp_sqlite_url
from bot.core.config.sections import LimitSettings
from bot.core.stages import Incoming
from bot.operator.asking import CollectingOutlet
from bot.operator.limits import SpendingLimits
from database.models import ApiCall
from database.store import Store
from tests.dbtools import reset_schema
from tests.place_support import place

PEOPLE, SERVERS, DAYS = 1000, 50, 30
EVERY = LimitSettings(daily_token_budget=10**9, premium_daily_token_budget=10**9,
                      server_daily_spend_usd=10**6, global_daily_spend_usd=10**6)


async def seed(store: Store, calls: int) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    batch: list[dict[str, object]] = []
    for i in range(calls):
        guild = rng.randrange(SERVERS) + 1 if rng.random() < 0.7 else None
        batch.append({"user_id": rng.randrange(PEOPLE) + 1, "guild_id": guild, "purpose": "reply",
                      "model": "claude-sonnet-4-6", "input_tokens": 1200, "output_tokens": 150,
                      "cache_creation_tokens": 0, "cache_read_tokens": 3000, "cost": 0.006,
                      "latency_ms": 900.0, "ok": True, "error": "",
                      "created_at": now - timedelta(seconds=rng.uniform(0, DAYS * 86400))})
        if len(batch) == 5000 or i == calls - 1:
            rows = batch
            await store.db.write(lambda conn, rows=rows: conn.execute(ApiCall.__table__.insert(), rows))
            batch = []


async def time_checks(store: Store, section: LimitSettings, checks: int) -> list[float]:
    limits = SpendingLimits(section, "UTC", store.spending, is_admin=lambda _: False,
                            addressed=lambda _: True, name=lambda: "Finn", mirror=lambda _: None)
    rng = random.Random(11)
    outlet = CollectingOutlet()
    samples = []
    for i in range(checks):
        msg = Incoming(i + 1, rng.randrange(PEOPLE) + 1, "someone", "hi", datetime.now(UTC),
                       place=place(10, False, rng.randrange(SERVERS) + 1), mentions_bot=True)
        started = time.perf_counter()
        assert await limits.gate(msg, outlet) is None
        samples.append(time.perf_counter() - started)
    return samples[len(samples) // 10:]  # the first tenth warms connections and caches


async def run(calls: int, checks: int, database_url: str | None) -> None:
    url = database_url or temp_sqlite_url("limits.db")
    if database_url:
        await reset_schema(database_url)
    store = await Store(url).open()
    try:
        started = time.perf_counter()
        await seed(store, calls)
        print(f"seeded {calls:,} model calls over {DAYS} days in {time.perf_counter() - started:.1f} s")
        if store.dialect == "postgresql":
            await store.db.write(lambda conn: conn.execute(text("ANALYZE api_calls")))
        every = await time_checks(store, EVERY, checks)
        print(f"limits check, every daily limit on (one query): {summary_ms(every)}  "
              "(target p50 < 1 ms, p99 < 5 ms)")
        person = await time_checks(store, LimitSettings(daily_token_budget=10**9), checks)
        print(f"limits check, the per-person budget only: {summary_ms(person)}")
        none = await time_checks(store, LimitSettings(), checks)
        print(f"limits check, no limit set (no query): {summary_ms(none)}")
        since = datetime.now(UTC) - timedelta(hours=12)
        explain = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
        query = ("SELECT sum(cost) FROM api_calls WHERE guild_id = 7 AND created_at >= :since",
                 "SELECT sum(input_tokens) FROM api_calls WHERE user_id = 7 AND created_at >= :since")
        for q in query:
            rows = await store.db.rows(text(explain + q).bindparams(since=since))
            print(f"plan of {q.split(' WHERE ')[1].split(' AND ')[0]}: "
                  + " | ".join(str(r[-1]) for r in rows)[:200])
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="60,000 calls, 300 checks")
    parser.add_argument("--calls", type=int, default=None, help="model calls seeded (default 600,000)")
    parser.add_argument("--checks", type=int, default=None, help="checks timed (default 1,000)")
    parser.add_argument("--database-url", default=None,
                        help="a SCRATCH database (its Kindred tables are dropped); default: a fresh SQLite")
    args = parser.parse_args()
    calls = args.calls if args.calls is not None else 60_000 if args.quick else 600_000
    checks = args.checks if args.checks is not None else 300 if args.quick else 1000
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(calls, checks, args.database_url))


if __name__ == "__main__":
    main()
