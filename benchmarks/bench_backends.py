"""Per-message overhead on each model backend, side by side: ``anthropic`` (Claude) and ``openai`` (an
OpenAI-compatible server such as Ollama), measured over the real wire with zero-latency fakes.

Overhead: from discord.py receiving the gateway frame of a DM to the backend handing the model request to
the network (discord.py parsing, logging, deciding, reading the prompt data, building the prompt, the
backend's translation and its SDK, or the Anthropic backend's direct call, building the request). Each
backend gets a fresh database and the same messages; the conversation grows by a turn pair per message, as
a chat would.
Target: the two p50s within 1 ms of each other.

Run: python -m benchmarks.bench_backends [--quick] [--messages 200]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_pipeline import WARMUP, FakesThread
from benchmarks.common import percentile, summary_ms
from tests.harness import Harness

BACKENDS = {
    "anthropic": {},
    "openai": {"llm_backend": "openai", "default_model": "llama3.2:3b"},
}


async def overhead(backend: str, messages: int) -> list[float]:
    """Seconds from the gateway frame to the model request going out, one sample per measured DM."""
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
    fakes = FakesThread()
    h = Harness(db_url=f"sqlite+aiosqlite:///{folder / 'bench.db'}", tmp_path=folder,
                config={"max_typing_time": "0", **BACKENDS[backend]},
                bot_options={"enable_debug_events": True, "freeze_after_setup": True})
    h.claude.zero_latency = h.openai.zero_latency = True
    await fakes.call(h.discord.start())
    await fakes.call(h.claude.start())
    await fakes.call(h.openai.start())
    h.build_world()
    await h.start_bot()
    assert h.bot is not None
    frames: list[float] = []
    sends: list[float] = []

    async def on_socket_raw_receive(_: object) -> None:
        frames.append(time.perf_counter())

    async def on_request(_: object) -> None:
        sends.append(time.perf_counter())

    h.bot.add_listener(on_socket_raw_receive)
    made: Any = h.bot.services.claude.backend(backend)
    made.sdk._client.event_hooks["request"].append(on_request)
    if getattr(made, "direct", None) is not None:  # Claude's non-streamed calls skip the SDK
        made.direct.on_request = lambda: sends.append(time.perf_counter())
    fake = h.claude if backend == "anthropic" else h.openai

    async def drive() -> list[float]:
        """On the fakes' loop, like a Discord user and a model server would be."""
        samples: list[float] = []
        for i in range(messages + WARMUP):
            before, first_frame = len(fake.requests), len(frames)
            sent = await h.discord.dm_message(h.user_id, f"benchmark message {i}")
            await fake.wait_for_requests(before + 1, timeout=10)
            await h.discord.wait_for_messages(int(sent["channel_id"]), i + 1, timeout=10)
            await asyncio.sleep(0.02)  # let the reply's bookkeeping finish: one message at a time
            if i >= WARMUP:
                samples.append(sends[-1] - frames[first_frame])
        return samples

    try:
        samples: list[float] = await fakes.call(drive())
        if backend == "openai" and (h.claude.requests or not h.openai.requests):
            raise RuntimeError("the openai run did not reach the OpenAI-compatible fake alone")
        return samples
    finally:
        await h.stop_bot()
        await fakes.call(h.claude.close())
        await fakes.call(h.openai.close())
        await fakes.call(h.discord.close())
        fakes.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="50 measured messages per backend")
    parser.add_argument("--messages", type=int, default=None,
                        help="measured messages per backend (default 200)")
    args = parser.parse_args()
    messages = args.messages if args.messages is not None else 50 if args.quick else 200
    logging.basicConfig(level=logging.WARNING)
    results = {name: asyncio.run(overhead(name, messages)) for name in BACKENDS}
    for name, samples in results.items():
        print(f"overhead, DM, gateway frame received -> model request sent, {name:9} backend: "
              f"{summary_ms(samples)}")
    gap = abs(percentile(results["openai"], 50) - percentile(results["anthropic"], 50)) * 1000
    print(f"openai vs anthropic p50: {gap:.2f} ms apart  (target within 1 ms)")


if __name__ == "__main__":
    main()
