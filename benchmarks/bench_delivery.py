"""Time to first visible text for each ``reply_delivery`` mode (whole, chunked, streamed), over the real wire.

The fake Claude streams at a fixed rate (``--tokens-per-second``, 50 by default; the fake counts four
characters a token, so one four-character delta every 20 ms), the answer is three paragraphs (~580 characters,
~150 tokens). For each mode a DM is sent through the fake Discord, and we time, on the fake Discord's clock:

* first visible text: from the person's message to the first message the bot posts;
* full text visible: to the last message posted or edited (the final edit, for ``streamed``).

Twice: with the typing simulation at its defaults (300 characters a minute, 2 to 15 s), and with it off
(``min_typing_time=max_typing_time=0``), where only the generation and the delivery count.

Run: python -m benchmarks.bench_delivery [--quick] [--runs 3] [--tokens-per-second 50]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
from pathlib import Path
from typing import Any

from tests.fakes.claude_server import Reply
from tests.harness import Harness

ANSWER = "\n\n".join([
    "Dawn is the time for the tide pools. The water lies still, and the light comes in low across the rocks, "
    "so you can see right to the bottom of each pool. Anemones open, and the small fish stop hiding.",
    "Wear shoes that can get wet! The weed is slick, and the barnacles are sharp enough to cut a careless "
    "hand. Step on the bare rock where you can, and never on anything that moves or might.",
    "Look, but leave everything where it was. The crabs were there first, and they will be there after us. "
    "Turn a stone over? Put it back the way it lay, gently, or what lives under it dries out.",
])
MODES = ("whole", "chunked", "streamed")
TYPING = {"default typing": {"typing_speed_cpm": "300", "min_typing_time": "2", "max_typing_time": "15",
                             "typing_variance": "0"},
          "typing off": {"min_typing_time": "0", "max_typing_time": "0"}}


async def one_reply(mode: str, typing: dict[str, str], tokens_per_second: float) -> tuple[float, float]:
    """(seconds to first visible text, seconds to the full text visible) for one DM."""
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
    h = Harness(db_url=f"sqlite+aiosqlite:///{folder / 'bench.db'}", tmp_path=folder,
                config={"reply_delivery": mode, "stream_edit_interval": "1.0", "llm_timeout": "120",
                        **typing})
    await h.start()
    try:
        h.claude.chunk_size = 4  # one token per delta, as the fake counts tokens
        h.claude.script(Reply(ANSWER, stream_delay=1 / tokens_per_second), model="claude-test-default")
        sent = await h.dm("what should I know about the tide pools?")
        channel = int(sent["channel_id"])
        d = h.discord

        def done(_: Any) -> bool:
            shown = "\n\n".join(m["content"] for m in d.posted(channel))
            return shown == ANSWER

        await d.wait_for(done, timeout=120, what="the whole answer")
        posted = d.posted(channel)
        first = min(m["_at"] for m in posted) - sent["_at"]
        edits = [r.at for r in d.requests if r.method == "PATCH" and f"/channels/{channel}/" in r.path]
        last = max([*(m["_at"] for m in posted), *edits]) - sent["_at"]
        return first, last
    finally:
        await h.close()


async def main(runs: int, tokens_per_second: float) -> None:
    logging.basicConfig(level=logging.WARNING)
    print(f"fake Claude streaming {tokens_per_second:g} tokens/s; answer {len(ANSWER)} characters "
          f"(~{len(ANSWER) // 4} tokens) in 3 paragraphs; {runs} run(s) per figure, median shown")
    for label, typing in TYPING.items():
        for mode in MODES:
            samples = [await one_reply(mode, typing, tokens_per_second) for _ in range(runs)]
            first = statistics.median(s[0] for s in samples)
            full = statistics.median(s[1] for s in samples)
            print(f"{label:>15} | {mode:>8}: first visible text {first:6.2f} s, "
                  f"full text visible {full:6.2f} s", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run per figure")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens-per-second", type=float, default=50.0)
    args = parser.parse_args()
    asyncio.run(main(1 if args.quick else args.runs, args.tokens_per_second))
