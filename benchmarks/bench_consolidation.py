"""Daily consolidation throughput: logged messages per second, Claude's own time excluded.

The log is filled with ``--messages`` messages from ``--users`` people (default 100,000 from 1,000) and
consolidated by the real :class:`memory.consolidation.Consolidator`: real store, real ClaudeClient (its
retry loop, usage accounting and the api_calls rows it writes), the real embedding model; only the Anthropic
SDK is replaced by an in-process fake that answers instantly, so what is measured is Kindred's own work
(reading the log, batching, JSON validation, embedding, matching, the transactions that archive and learn).
Each answer holds three facts about the person, one of them a fact they already have, so both the insert
and the "mentioned again" paths run.

The archive's excerpts are indexed by their words in the run and embedded after it, in the background
(memory/episodes.py, ``embed_pending``): the run's time leaves that out; the yardstick beside it is what the
model alone costs for them here (a sample embedded as the background job does, extrapolated), and
``--embed`` times the whole background job too.

Run: python -m benchmarks.bench_consolidation [--quick] [--embed] [--messages N] [--users U]
     [--database-url URL]
Target: 100,000 messages in <= 60 s plus Claude time; with the archive's index < 120 s (issue 47).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import zlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import insert

from benchmarks.common import temp_sqlite_url
from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient
from bot.core.config import PROJECT_ROOT, load_settings
from database.models import LoggedMessage, User
from database.store import Store
from memory import episodes
from memory.consolidation import Consolidator
from memory.embeddings import Embedder, SentenceEmbedder, to_bytes
from tests.dbtools import archived_count, logged_count, reset_schema

HOBBIES = ("sailing", "pottery", "chess", "birdwatching", "baking bread", "running", "knitting", "astronomy",
           "gardening", "rock climbing", "playing the cello", "photography", "fishing", "painting", "surfing")
NAME = re.compile(r"Messages (\S+) wrote")
YARDSTICK = 512  # excerpts embedded to measure the model alone


class FakeMessages:
    """``sdk.messages.create``: an instant, well-formed extraction answer built from the prompt."""

    def __init__(self) -> None:
        self.calls = 0
        self.seconds = 0.0

    async def create(self, **kwargs: Any) -> Any:
        started = time.perf_counter()
        self.calls += 1
        content = kwargs["messages"][0]["content"]
        found = NAME.search(content)
        name = found.group(1) if found else "someone"
        seed = zlib.crc32(content.encode())
        facts = [{"fact": f"{name} enjoys {HOBBIES[(seed + k) % len(HOBBIES)]}", "category": "hobbies"}
                 for k in range(2)]
        facts.append({"fact": f"{name} lives by the harbour", "category": "personal"})  # known already
        text = json.dumps({"facts": facts, "relationship": {"rapport": 0.2, "trust": 0.1}})
        if "what mood you are in today" in content:
            text = "Calm as a still pool."
        message = SimpleNamespace(
            content=[SimpleNamespace(type="text", text=text)], model=kwargs["model"], stop_reason="end_turn",
            usage=SimpleNamespace(input_tokens=len(content) // 4, output_tokens=len(text) // 4,
                                  cache_creation_input_tokens=0, cache_read_input_tokens=0))
        self.seconds += time.perf_counter() - started
        return message


class FakeSDK:
    def __init__(self) -> None:
        self.messages = FakeMessages()

    async def close(self) -> None:
        return None


async def seed(store: Store, messages: int, users: int, embedder: Embedder) -> None:
    now = datetime.now(UTC)
    start = now - timedelta(hours=23)
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(User),
            [
                {
                    "id": 1 + u,
                    "name": f"user{1 + u}",
                    "is_bot": False,
                    "premium": False,
                    "first_seen": start,
                    "last_seen": now,
                }
                for u in range(users)
            ],
        )
    batch = 20_000
    for offset in range(0, messages, batch):
        rows = [
            {
                "message_id": 1_000_000 + i,
                "channel_id": 100 + i % 40,
                "guild_id": 1,
                "author_id": 1 + i % users,
                "author_name": f"user{1 + i % users}",
                "author_is_bot": False,
                "is_dm": False,
                "content": f"message {i}: the tide was high today and the tea stall was busy, glub",
                "created_at": start + timedelta(seconds=i * 0.8),
            }
            for i in range(offset, min(offset + batch, messages))
        ]
        async with store.engine.begin() as conn:
            await conn.execute(insert(LoggedMessage), rows)
    # Everyone already has one fact the extraction will mention again.
    for u in range(users):
        name = f"user{1 + u}"
        text = f"{name} lives by the harbour"
        await store.facts.add(
            1 + u, text, category="personal", embedding=to_bytes(embedder.encode([text])[0])
        )


async def run(url: str, messages: int, users: int, concurrency: int, embed: bool = False) -> None:
    await reset_schema(url)
    store = await Store(url).open()
    settings = load_settings(
        PROJECT_ROOT / "characters" / "finn",
        None,
        environ={"ANTHROPIC_API_KEY": "x", "DATABASE_URL": url, "DISCORD_TOKEN": "x"},
    )
    sdk = FakeSDK()
    claude = ClaudeClient(settings, store.usage, sdk=sdk)  # type: ignore[arg-type]
    embedder = SentenceEmbedder(settings.memory.embedding_model)
    t0 = time.perf_counter()
    embedder.encode(["warm-up"])
    load = time.perf_counter() - t0
    await seed(store, messages, users, embedder)
    consolidator = Consolidator(
        store,
        claude,
        settings.memory,
        settings.character_name_slug,
        CharacterSource(settings.character_dir, None, environ={}).current,
        embedder,
        concurrency=concurrency,
    )
    started = time.perf_counter()
    report = await consolidator.run()
    elapsed = time.perf_counter() - started
    # The yardstick: the model alone on a sample of the excerpts left for the background job.
    sample = [episodes.indexed_text(speaker, content)
              for _, _, speaker, content in await store.excerpts.unembedded(0, YARDSTICK)]
    t0 = time.perf_counter()
    for i in range(0, len(sample), episodes.EMBED_BATCH):
        embedder.encode(sample[i:i + episodes.EMBED_BATCH])
    per_sentence = (time.perf_counter() - t0) / max(1, len(sample))
    background = None
    if embed:
        t0 = time.perf_counter()
        await consolidator.embedded()
        background = time.perf_counter() - t0
    else:
        await consolidator.close()
    assert await logged_count(store) == 0 and await archived_count(store) == messages, (
        report.describe()
    )
    await claude.close()
    await store.close()
    kindred = elapsed - sdk.messages.seconds
    print(
        f"consolidation: {messages:,} messages from {users:,} users in {elapsed:.1f} s "
        f"({url.split(':')[0]}, {concurrency} users at a time; model loaded beforehand in {load:.1f} s)"
    )
    print(
        f"  throughput excluding Claude time: {messages / kindred:,.0f} messages/s "
        f"(fake Claude itself: {sdk.messages.seconds * 1000:.0f} ms for {sdk.messages.calls} calls)"
    )
    print(
        f"  {report.batches} batches, {report.new_facts:,} new facts, "
        f"{report.mentioned_facts:,} mentioned again, "
        f"{report.relationship_updates} relationships; embedding {report.embed_seconds:.1f} s, "
        f"Claude client round trips {report.claude_seconds:.1f} s summed over concurrent calls; "
        f"{report.excerpts:,} messages indexed for episodic recall (memory/episodes.py)"
    )
    print(
        f"  target: 100,000 messages <= 60 s plus Claude time -> "
        f"{'met' if kindred * 100_000 / messages <= 60 else 'NOT met'} "
        f"(extrapolated {kindred * 100_000 / messages:.1f} s per 100k)"
    )
    print(
        f"  excerpts' vectors, after the run in the background: the model alone "
        f"{per_sentence * 1000:.1f} ms per excerpt here ({len(sample)} embedded "
        f"{episodes.EMBED_BATCH} at a time)"
        f" -> {per_sentence * report.excerpts:.0f} s for these {report.excerpts:,} "
        f"({per_sentence * report.excerpts * 100_000 / messages:.0f} s per 100k messages)"
        + (f"; the whole background job took {background:.1f} s" if background is not None else "")
    )
    print(
        f"  target (issue 47): 100,000 messages with the archive's index < 120 s -> "
        f"{'met' if elapsed * 100_000 / messages < 120 else 'NOT met'} "
        f"(extrapolated {elapsed * 100_000 / messages:.1f} s per 100k)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="10,000 messages from 100 users")
    parser.add_argument("--embed", action="store_true", help="also time the excerpts' background embedding")
    parser.add_argument(
        "--database-url",
        default=None,
        help="a SCRATCH database (its Kindred tables are dropped); default: a fresh SQLite file",
    )
    args = parser.parse_args()
    if args.quick:
        args.messages, args.users = 10_000, 100
    asyncio.run(run(args.database_url or temp_sqlite_url(), args.messages, args.users, args.concurrency,
                    args.embed))


if __name__ == "__main__":
    main()
