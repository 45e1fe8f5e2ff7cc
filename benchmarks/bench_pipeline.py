"""Per-message overhead and vote fan-out, measured over the real wire with zero-latency fakes.

1. Overhead: from the gateway event (the fake Discord sending MESSAGE_CREATE) to the Claude request
   arriving at the fake Claude, on a database already holding 1M logged and archived messages, for
   - DMs (history and prompt), and
   - @mentions in a server channel that holds half of those rows (the active check, the channel's recent
     messages and the prompt all read from the big tables).
   Target: p50 < 2 ms, p99 < 10 ms for each. The conversation grows by a turn pair per message (to about
   600 turns), as a long chat would. Printed beside it: the model client's own share of sending it (the
   Anthropic backend's direct Messages call), the same request bodies sent again through it alone.
2. Votes: wall time of N concurrent yes/no votes vs one, with a fake Claude answering in a fixed time.
   Target: N votes <= 1.2x one vote.

With ``--limits`` every spending limit is on (set too high to be reached), so each message also pays for
the limits' check: their one query of today's spend.

Run: python -m benchmarks.bench_pipeline [--quick] [--messages 300] [--seed 1000000] [--votes 5] [--limits]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.common import percentile, seed_messages, summary_ms
from bot.core.claude import ClaudeClient, Prompt
from bot.reply.deciding import Ballot
from database.store import Store
from tests.dbtools import reset_schema
from tests.harness import CHANNEL_ID, GUILD_ID, OTHER_CHANNEL_ID, Harness

WARMUP = 20  # the first messages of each path warm caches and connections; not measured


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


# Per path: (kindred, wire, sdk) samples in seconds; see overhead().
Samples = dict[str, tuple[list[float], list[float], list[float]]]


LIMITS_ON = {"daily_token_budget": "1000000000", "premium_daily_token_budget": "1000000000",
             "server_daily_spend_usd": "1000000", "global_daily_spend_usd": "1000000",
             "user_messages_per_minute": "1000000"}


async def overhead(messages: int, seed: int, database_url: str | None, limits: bool = False) -> Samples:
    """Per path ("dm", "mention"): (kindred, wire, sdk) samples in seconds.

    kindred: from discord.py receiving the gateway frame to the Claude request being handed to the
    network (everything in the bot's process: discord.py parsing, logging, the active check, deciding,
    reading the prompt data, building the prompt, and the backend building the request).
    wire: from the fake Discord sending the event to the fake Claude having read the request.
    sdk: the part of kindred that is the sending's own: the same request bodies sent again through the
    bot's Anthropic backend, from create() to the request going out (replies here are not streamed, so
    they take the backend's direct aiohttp call, not the SDK's messages.create()).
    """
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
    url = database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    if database_url:
        await reset_schema(url)  # a scratch database: its Kindred tables are dropped first
    store = await Store(url).open()
    started = time.perf_counter()
    await seed_messages(store, seed, guild_id=GUILD_ID, hot_channel=CHANNEL_ID, hot_share=0.5)
    # Place settings for the active check to look through: this channel on, its neighbour off.
    await store.places.set_active("channel", CHANNEL_ID, True)
    await store.places.set_active("channel", OTHER_CHANNEL_ID, False)
    await store.close()
    print(f"seeded {seed:,} messages (half logged, half archived; half of them in the channel the @mentions "
          f"go to) in {time.perf_counter() - started:.1f} s")

    fakes = FakesThread()
    h = Harness(db_url=url, tmp_path=folder, config={"max_typing_time": "0", "stream_replies": "false",
                                                     **(LIMITS_ON if limits else {})},
                # discord.py dispatches raw socket events only with enable_debug_events; freeze_after_setup
                # as main.py asks for it
                bot_options={"enable_debug_events": True, "freeze_after_setup": True})
    await fakes.call(h.discord.start())
    await fakes.call(h.claude.start())
    h.build_world()
    await h.start_bot()
    assert h.bot is not None
    frames: list[float] = []
    sends: list[float] = []

    async def on_socket_raw_receive(_: object) -> None:
        frames.append(time.perf_counter())

    async def on_request(_: object) -> None:
        sends.append(time.perf_counter())

    def on_direct_request() -> None:
        sends.append(time.perf_counter())

    h.bot.add_listener(on_socket_raw_receive)
    backend: Any = h.bot.services.claude.backend("anthropic")
    backend.sdk._client.event_hooks["request"].append(on_request)  # streamed calls
    if backend.direct is not None:  # the rest (see bot/core/models/messages_http.py)
        backend.direct.on_request = on_direct_request
    bot_id = h.bot_user_id

    async def drive(send: Callable[[int], Awaitable[dict[str, Any]]]) -> tuple[list[float], list[float]]:
        """Runs on the fakes' loop, like a Discord user and Claude would, so that the bot's loop does
        nothing but the bot's own work while a message is measured."""
        kindred: list[float] = []
        wire: list[float] = []
        for i in range(messages + WARMUP):
            before, first_frame = len(h.claude.requests), len(frames)
            sent_at = time.perf_counter()
            sent = await send(i)
            await h.claude.wait_for_requests(before + 1, timeout=10)
            received_at = h.claude.requests[before].received_at
            await h.discord.wait_for_messages(int(sent["channel_id"]), i + 1, timeout=10)
            await asyncio.sleep(0.02)  # let the reply's bookkeeping finish: measure one message at a time
            if i >= WARMUP:
                kindred.append(sends[-1] - frames[first_frame])
                wire.append(received_at - sent_at)
        return kindred, wire

    async def measure(
        send: Callable[[int], Awaitable[dict[str, Any]]],
    ) -> tuple[list[float], list[float], list[float]]:
        first = len(h.claude.requests)
        kindred, wire = await fakes.call(drive(send))
        return kindred, wire, await sdk_share(h.claude.requests[first + WARMUP :])

    async def sdk_share(requests: list[Any]) -> list[float]:
        assert h.bot is not None
        out = []
        for request in requests:
            body = dict(request.body)
            body.pop("stream", None)
            if "temperature" in body:  # sent the way Kindred sends it (see bot.core.claude._set_temperature)
                body["extra_body"] = {"temperature": body.pop("temperature")}
            started = time.perf_counter()
            await backend.create(body)
            out.append(sends[-1] - started)
        return out

    try:
        dm = await measure(lambda i: h.discord.dm_message(h.user_id, f"benchmark message {i}"))
        first_mention = len(h.claude.requests)
        mention = await measure(
            lambda i: h.discord.user_message(
                CHANNEL_ID, h.user_id, f"<@{bot_id}> benchmark message {i}", mentions=[bot_id]
            )
        )
        # Not a timing check: proof that the channel path really read the seeded rows into its prompt.
        if seed and "about tide pools and tea" not in h.claude.all_text(h.claude.requests[first_mention]):
            raise RuntimeError("the first @mention's prompt lacks the channel's seeded messages")
        return {"dm": dm, "mention": mention}
    finally:
        await h.stop_bot()
        await fakes.call(h.claude.close())
        await fakes.call(h.discord.close())
        fakes.stop()


async def votes(count: int, latency: float, rounds: int) -> tuple[float, float]:
    from bot.core.config import load_settings
    from tests.fakes.claude_server import FakeClaude

    fake = await FakeClaude().start()
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
    (folder / "character.env").write_text('default_name="Bench"\ncore_prompt="You are Bench."\n')
    settings = load_settings(
        folder,
        None,
        environ={
            "ANTHROPIC_API_KEY": "fake",
            "ANTHROPIC_BASE_URL": fake.base_url,
            "DISCORD_TOKEN": "unused",
            "SHOULD_REPLY_TIMEOUT": "30",
        },
    )
    client = ClaudeClient(settings, None)
    fake.script("yes", delay=latency, times=None)
    prompt = Prompt(
        system=[{"type": "text", "text": "Answer yes or no."}],
        messages=[{"role": "user", "content": "Should Finn reply?"}],
    )
    try:
        one: list[float] = []
        many: list[float] = []
        for _ in range(rounds):
            t = time.perf_counter()
            await Ballot(client, client.settings).ask(prompt, count=1, user_id=None, guild_id=None)
            one.append(time.perf_counter() - t)
            t = time.perf_counter()
            await Ballot(client, client.settings).ask(prompt, count=count, user_id=None, guild_id=None)
            many.append(time.perf_counter() - t)
        return percentile(one, 50), percentile(many, 50)
    finally:
        await client.close()
        await fake.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a quick run: 50 messages per path on 20,000 seeded rows, 2 vote rounds",
    )
    parser.add_argument("--messages", type=int, default=None, help="measured messages per path (default 300)")
    parser.add_argument(
        "--seed", type=int, default=None, help="messages pre-loaded into the database (default 1,000,000)"
    )
    parser.add_argument("--votes", type=int, default=5)
    parser.add_argument(
        "--database-url",
        default=None,
        help="a SCRATCH database (its Kindred tables are dropped); default: a fresh SQLite file",
    )
    parser.add_argument(
        "--vote-latency", type=float, default=0.2, help="seconds the fake Claude takes per vote"
    )
    parser.add_argument("--limits", action="store_true", help="every spending limit on (never reached)")
    args = parser.parse_args()
    messages = args.messages if args.messages is not None else 50 if args.quick else 300
    seed = args.seed if args.seed is not None else 20_000 if args.quick else 1_000_000
    logging.basicConfig(level=logging.WARNING)
    samples = asyncio.run(overhead(messages, seed, args.database_url, args.limits))
    for path, label in (("dm", "DM"), ("mention", "@mention in the seeded channel")):
        kindred, wire, sdk = samples[path]
        print(
            f"overhead, {label}, gateway frame received -> Claude request sent (the bot's process): "
            f"{summary_ms(kindred)}  (target p50 < 2 ms, p99 < 10 ms)"
        )
        print(
            "  of which the Anthropic backend's sending, create() -> request sent, same requests: "
            f"{summary_ms(sdk)}"
        )
        print(f"overhead, {label}, fake Discord send -> fake Claude receipt (whole wire): {summary_ms(wire)}")
    one, many = asyncio.run(votes(args.votes, args.vote_latency, rounds=2 if args.quick else 5))
    print(
        f"votes: 1 vote {one * 1000:.0f} ms, {args.votes} votes {many * 1000:.0f} ms, "
        f"ratio {many / one:.2f}x  (target <= 1.2x)"
    )


if __name__ == "__main__":
    main()
