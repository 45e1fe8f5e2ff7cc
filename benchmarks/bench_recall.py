"""Recall latency among many stored facts: what each reply pays to pick the facts for its prompt.

``--facts`` facts (default 100,000) are spread over ``--users`` people (default 100, so 1,000 each), plus one
heavy user with ``--heavy`` facts (default 10,000), all with 384-dimensional float32 embeddings in the
database.
Measured through the real :class:`memory.facts.FactCache` and :func:`memory.recall.choose`:

* warm: the per-user matrix (and BM25 postings) are cached; each recall still reads the user's fact stamp
  from the database (on SQLite a count over the user's index entries and two index probes:
  database/stamps.py) to prove the cache current, then scores every fact by embedding and by BM25, fuses the
  rankings and fills the token budget;
* cold: the first recall for a user (its facts and vectors read and decoded);
* encoding the message itself with the real model (the part that does not depend on how many facts there are);
* the heavy user again with ``--archived`` archived messages (default 100,000: half theirs, half the
  character's answers, in their DMs) indexed for episodic recall (memory/episodes.py), searched beside the
  facts as a reply in that DM does (the excerpt stamp read too, in the same trip as the fact stamp).

Run: python -m benchmarks.bench_recall [--quick] [--facts N] [--users U] [--archived M] [--database-url URL]
Target: p50 < 5 ms (issue 47: for a person with 10,000 facts and 100,000 archived messages).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import insert

from benchmarks.common import summary_ms, temp_sqlite_url
from database.models import ArchiveExcerpt, User, UserFact
from database.store import Store
from memory.embeddings import SentenceEmbedder, single_blas_thread
from memory.episodes import ExcerptCache
from memory.facts import FactCache
from memory.present import Present
from memory.recall import choose, choose_both, indexes
from tests.dbtools import reset_schema

DIM = 384
# Random vectors are near nothing: with the shipped floor recall would stop at the message's floor and fill
# nothing. The worst case is measured instead: every candidate ranked and the budget filled.
NO_FLOOR = (-1.0, -1.0, -1.0)
WORDS = (
    "tea",
    "tides",
    "boats",
    "kites",
    "crabs",
    "lighthouse",
    "music",
    "work",
    "family",
    "garden",
    "books",
    "running",
    "bread",
    "stars",
    "cats",
    "dogs",
    "travel",
    "football",
    "painting",
    "coffee",
)


async def seed(store: Store, facts: int, users: int, heavy: int) -> list[int]:
    rng = np.random.default_rng(1)
    now = datetime.now(UTC)
    ids = [1 + u for u in range(users)] + [999_999]
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(User),
            [
                {
                    "id": uid,
                    "name": f"user{uid}",
                    "is_bot": False,
                    "premium": False,
                    "first_seen": now,
                    "last_seen": now,
                }
                for uid in ids
            ],
        )
    plan = [(1 + i % users) for i in range(facts)] + [999_999] * heavy
    batch = 10_000
    for offset in range(0, len(plan), batch):
        chunk = plan[offset : offset + batch]
        vectors = rng.standard_normal((len(chunk), DIM)).astype("<f4")
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        rows = [
            {
                "user_id": uid,
                "fact": f"user{uid} likes {WORDS[(offset + i) % len(WORDS)]} number {offset + i}",
                "category": "hobbies",
                "first_mentioned": now - timedelta(days=(offset + i) % 10),
                "last_mentioned": now - timedelta(days=(offset + i) % 10),
                "reference_count": 1 + (offset + i) % 7,
                "pinned": (offset + i) % 500 == 0,
                "private": False,
                "embedding": vectors[i].tobytes(),
                "updated_at": now,
            }
            for i, uid in enumerate(chunk)
        ]
        async with store.engine.begin() as conn:
            await conn.execute(insert(UserFact), rows)
    return ids


async def seed_archive(store: Store, user_id: int, messages: int) -> None:
    """``messages`` archived messages of one person's DMs, indexed: theirs and the character's in turn."""
    rng = np.random.default_rng(4)
    start = datetime.now(UTC) - timedelta(days=365)
    batch = 10_000
    for offset in range(0, messages, batch):
        n = min(batch, messages - offset)
        vectors = rng.standard_normal((n, DIM)).astype("<f4")
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        rows = [
            {
                "user_id": user_id,
                "message_id": 10_000_000 + offset + i,
                "channel_id": 77,
                "guild_id": None,
                "is_dm": True,
                "speaker": "finn" if (offset + i) % 2 else f"user{user_id}",
                "own": (offset + i) % 2 == 0,
                "content": f"we talked about the {WORDS[(offset + i) % len(WORDS)]} and the "
                           f"{WORDS[(offset + i) * 7 % len(WORDS)]} again, message {offset + i}",
                "said_at": start + timedelta(minutes=5 * (offset + i)),
                "embedding": vectors[i].tobytes(),
            }
            for i in range(n)
        ]
        async with store.engine.begin() as conn:
            await conn.execute(insert(ArchiveExcerpt), rows)


async def run(url: str, facts: int, users: int, heavy: int, samples: int, archived: int = 0) -> None:
    single_blas_thread()  # as the bot process does (memory/service.py)
    await reset_schema(url)
    store = await Store(url).open()
    ids = await seed(store, facts, users, heavy)
    if store.dialect == "postgresql":  # the steady state autovacuum keeps: index-only scans for the stamp
        async with store.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE user_facts")
    cache = FactCache(store.facts)
    rng = np.random.default_rng(2)
    pick = random.Random(3)
    now = datetime.now(UTC)

    async def recall(user_id: int) -> int:
        query = rng.standard_normal(DIM).astype("<f4")
        query /= np.linalg.norm(query)
        about = rng.standard_normal(DIM).astype("<f4")  # the message's topic (memory.recall.topic)
        about /= np.linalg.norm(about)
        index = await cache.get(user_id)
        text = f"Do you remember the {WORDS[pick.randrange(len(WORDS))]} I told you about?"
        return len(choose(index, query, budget=400, private=False, now=now, expiry_days=14, text=text,
                          last_interaction=now, about=about, floors=NO_FLOOR))

    cold: list[float] = []
    for uid in ids[:users]:
        t0 = time.perf_counter()
        await recall(uid)
        cold.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    await recall(ids[-1])
    heavy_cold = time.perf_counter() - t0
    warm: list[float] = []
    chosen = 0
    for _ in range(samples):
        uid = pick.choice(ids[:users])
        t0 = time.perf_counter()
        chosen = await recall(uid)
        warm.append(time.perf_counter() - t0)
    heavy_warm: list[float] = []
    for _ in range(max(50, samples // 10)):
        t0 = time.perf_counter()
        await recall(ids[-1])
        heavy_warm.append(time.perf_counter() - t0)
    archive_warm: list[float] = []
    archive_cpu: list[float] = []  # this thread's CPU: the wall time less waiting for a core or the database
    archive_cold = 0.0
    quoted = 0
    if archived:
        await seed_archive(store, ids[-1], archived)
        if store.dialect == "postgresql":
            async with store.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("VACUUM ANALYZE archive_excerpts")
        excerpts = ExcerptCache(store.excerpts)
        # what a DM's request holds: its last 200 lines, left out of the excerpts searched
        rows = (await excerpts.get(ids[-1])).rows
        live = Present(frozenset(r.message_id for r in rows[-200:]), 77, max(r.said_at for r in rows))

        async def recall_both() -> int:
            query = rng.standard_normal(DIM).astype("<f4")
            query /= np.linalg.norm(query)
            about = rng.standard_normal(DIM).astype("<f4")
            about /= np.linalg.norm(about)
            index, said = await indexes(cache, excerpts, ids[-1])  # both stamps in one trip
            text = f"Do you remember the {WORDS[pick.randrange(len(WORDS))]} I told you about?"
            return len(choose_both(index, query, budget=400, private=True, now=now, expiry_days=14, text=text,
                                   last_interaction=now, excerpts=said, channel_id=77, about=about,
                                   floors=NO_FLOOR, fill=True, present=live)[1])

        t0 = time.perf_counter()
        await recall_both()
        archive_cold = time.perf_counter() - t0
        for _ in range(max(50, samples // 10)):
            t0, c0 = time.perf_counter(), time.thread_time()
            quoted = await recall_both()
            archive_warm.append(time.perf_counter() - t0)
            archive_cpu.append(time.thread_time() - c0)
    stamp: list[float] = []
    for _ in range(200):
        t0 = time.perf_counter()
        await store.facts.stamp(pick.choice(ids[:users]))
        stamp.append(time.perf_counter() - t0)
    await store.close()

    load = os.getloadavg()
    embedder = SentenceEmbedder()
    embedder.encode(["warm-up"])
    encode: list[float] = []
    encode_cpu: list[float] = []  # the process's CPU meanwhile (every torch thread; the loop only waits)
    for i in range(50):
        t0, c0 = time.perf_counter(), time.process_time()
        await asyncio.to_thread(
            embedder.encode, [f"Do you remember what I told you about the {WORDS[i % 20]}?", WORDS[i % 20]]
        )  # the message and its topic, in one call as recall encodes them
        encode.append(time.perf_counter() - t0)
        encode_cpu.append(time.process_time() - c0)

    total = facts + heavy
    print(f"load average at the end of the recalls: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(
        f"recall among {total:,} facts ({users} users x {facts // users:,} facts + one with {heavy:,}; "
        f"{url.split(':')[0]}; {chosen} facts fit the 400-token budget)"
    )
    print(f"  warm (cached matrix, stamp checked): {summary_ms(warm)}   target p50 < 5 ms")
    print(f"    of which the stamp query: {summary_ms(stamp)}")
    print(f"  heavy user ({heavy:,} facts), warm: {summary_ms(heavy_warm)}; cold {heavy_cold * 1000:.1f} ms")
    print(f"  cold (first recall of a user, {facts // users:,} facts read and decoded): {summary_ms(cold)}")
    print(f"  encoding the message and its topic with the model (any number of facts): {summary_ms(encode)}; "
          f"CPU {summary_ms(encode_cpu)}")
    if archived:
        print(f"  heavy user ({heavy:,} facts) with {archived:,} archived messages searched beside them, "
              "warm: "
              f"{summary_ms(archive_warm)}; cold {archive_cold * 1000:.0f} ms; {quoted} excerpts quoted   "
              "target p50 < 5 ms")
        print(f"    of which this thread's CPU: {summary_ms(archive_cpu)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--facts", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--heavy", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=1_000)
    parser.add_argument("--archived", type=int, default=100_000,
                        help="archived messages of the heavy user, indexed for episodic recall (0: none)")
    parser.add_argument(
        "--quick", action="store_true", help="10,000 facts over 20 users, a heavy user of 2,000"
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a SCRATCH database (its Kindred tables are dropped); default: a fresh SQLite file",
    )
    args = parser.parse_args()
    if args.quick:
        args.facts, args.users, args.heavy, args.samples = 10_000, 20, 2_000, 300
    asyncio.run(run(args.database_url or temp_sqlite_url(), args.facts, args.users, args.heavy, args.samples,
                    args.archived))


if __name__ == "__main__":
    main()
