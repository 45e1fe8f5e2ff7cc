"""Per-message overhead and vote fan-out, measured over the real wire with zero-latency fakes.

1. Overhead: from the gateway event (the fake Discord sending MESSAGE_CREATE) to the Claude request
   arriving at the fake Claude, on a database already holding 1M logged and archived messages.
   Target: p50 < 2 ms, p99 < 10 ms.
2. Votes: wall time of N concurrent yes/no votes vs one, with a fake Claude answering in a fixed time.
   Target: N votes <= 1.2x one vote.

Run: python -m benchmarks.bench_pipeline [--messages 300] [--seed 1000000] [--votes 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import percentile, seed_messages, summary_ms
from bot.claude import ClaudeClient, Prompt
from database.store import Store, reset_schema_for_tests
from tests.harness import Harness


class FakesThread:
    """The fake Discord and fake Claude on an event loop of their own, in another thread, so their work
    does not queue behind (or in front of) the bot's on one loop, as it would not with real servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    async def call(self, coro: Any) -> Any:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


async def overhead(messages: int, seed: int, database_url: str | None) -> tuple[list[float], list[float]]:
    """Returns (kindred, wire) samples in seconds.

    kindred: from discord.py receiving the gateway frame to the SDK handing the Claude request to the
    network (Kindred's own work: parsing, logging, deciding, reading the prompt data, building the request).
    wire: from the fake Discord sending the event to the fake Claude having read the request.
    """
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
    url = database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    if database_url:
        await reset_schema_for_tests(url)  # a scratch database: its Kindred tables are dropped first
    store = await Store(url).open()
    started = time.perf_counter()
    await seed_messages(store, seed)
    await store.close()
    print(f"seeded {seed:,} messages (half logged, half archived) in {time.perf_counter() - started:.1f} s")

    fakes = FakesThread()
    h = Harness(db_url=url, tmp_path=folder, config={"max_typing_time": "0", "stream_replies": "false"},
                bot_options={"enable_debug_events": True})  # discord.py dispatches raw socket events only then
    await fakes.call(h.discord.start())
    await fakes.call(h.claude.start())
    h._build_world()
    await h.start_bot()
    assert h.bot is not None
    frames: list[float] = []
    sends: list[float] = []

    async def on_socket_raw_receive(_: object) -> None:
        frames.append(time.perf_counter())

    async def on_request(_: object) -> None:
        sends.append(time.perf_counter())

    h.bot.add_listener(on_socket_raw_receive)
    h.bot.claude.sdk._client.event_hooks["request"].append(on_request)
    try:
        kindred: list[float] = []
        wire: list[float] = []
        for i in range(messages + 20):
            before = len(h.claude.requests)
            frames.clear()
            sent_at = time.perf_counter()
            sent = await fakes.call(h.discord.dm_message(h.user_id, f"benchmark message {i}"))
            await fakes.call(h.claude.wait_for_requests(before + 1, timeout=10))
            received_at = h.claude.requests[before].received_at
            await fakes.call(h.discord.wait_for_messages(int(sent["channel_id"]), i + 1, timeout=10))
            await asyncio.sleep(0.02)  # let the reply's bookkeeping finish: measure one message at a time
            if i >= 20:  # the first messages warm caches and connections
                kindred.append(sends[-1] - frames[0])
                wire.append(received_at - sent_at)
        return kindred, wire
    finally:
        await h.stop_bot()
        await fakes.call(h.claude.close())
        await fakes.call(h.discord.close())
        fakes.stop()


async def votes(count: int, latency: float, rounds: int) -> tuple[float, float]:
    from bot.config import load_settings
    from tests.fakes.claude_server import FakeClaude

    fake = await FakeClaude().start()
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
    (folder / "character.env").write_text('default_name="Bench"\ncore_prompt="You are Bench."\n')
    settings = load_settings(folder, None, environ={"ANTHROPIC_API_KEY": "fake", "ANTHROPIC_BASE_URL": fake.base_url,
                                                   "DISCORD_TOKEN": "unused", "SHOULD_REPLY_TIMEOUT": "30"})
    client = ClaudeClient(settings, None)
    fake.script("yes", delay=latency, times=None)
    prompt = Prompt(system=[{"type": "text", "text": "Answer yes or no."}],
                    messages=[{"role": "user", "content": "Should Finn reply?"}])
    try:
        one: list[float] = []
        many: list[float] = []
        for _ in range(rounds):
            t = time.perf_counter()
            await client.vote(prompt, count=1, user_id=None)
            one.append(time.perf_counter() - t)
            t = time.perf_counter()
            await client.vote(prompt, count=count, user_id=None)
            many.append(time.perf_counter() - t)
        return percentile(one, 50), percentile(many, 50)
    finally:
        await client.close()
        await fake.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1_000_000, help="messages pre-loaded into the database")
    parser.add_argument("--votes", type=int, default=5)
    parser.add_argument("--database-url", default=None,
                        help="a SCRATCH database (its Kindred tables are dropped); default: a fresh SQLite file")
    parser.add_argument("--vote-latency", type=float, default=0.2, help="seconds the fake Claude takes per vote")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    kindred, wire = asyncio.run(overhead(args.messages, args.seed, args.database_url))
    print(f"overhead, gateway frame received -> Claude request sent (Kindred's own work): {summary_ms(kindred)}"
          "  (target p50 < 2 ms, p99 < 10 ms)")
    print(f"overhead, fake Discord send -> fake Claude receipt (whole wire): {summary_ms(wire)}")
    one, many = asyncio.run(votes(args.votes, args.vote_latency, rounds=5))
    print(f"votes: 1 vote {one * 1000:.0f} ms, {args.votes} votes {many * 1000:.0f} ms, "
          f"ratio {many / one:.2f}x  (target <= 1.2x)")


if __name__ == "__main__":
    main()
