"""The prompt inspector's memory after many image DMs, over the real wire.

Every answered model call is kept for the dashboard's /prompts pages (bot/core/models/sent.py) while the
dashboard is served, and anyone who can DM the bot fills it. Here, the dashboard served, one person sends
``--dms`` DMs of four images each (PNGs of ``--image-bytes``, the largest ``max_image_bytes`` lets through
by default); the fake Discord serves them from its CDN, the real discord.py downloads them, the real
anthropic SDK sends them as base64 to the fake Claude. Then the requests the inspector holds are measured:
every object reachable from them (strings, dicts, lists; one shared object counted once) with
``sys.getsizeof``, independently of what the log itself accounts.

Run: python -m benchmarks.bench_inspector [--dms 50] [--image-bytes 3932160]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.fakes.discord_cdn import padded_png
from tests.harness import Harness
from tests.ports import free_port

MB = 1_000_000


def deep_size(root: Any) -> int:
    """Bytes of every object reachable from ``root`` through containers and dataclasses, each counted once."""
    seen: set[int] = set()
    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            stack.extend(getattr(obj, f.name) for f in dataclasses.fields(obj))
    return total


async def run(dms: int, image_bytes: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
    h = Harness(db_url=f"sqlite+aiosqlite:///{folder / 'bench.db'}", tmp_path=folder,
                config={"min_typing_time": "0", "max_typing_time": "0", "llm_timeout": "120",
                        # served: the requests are kept for its prompt inspector
                        "dashboard_port": str(free_port()), "dashboard_token": "bench-inspector-token-0123"})
    await h.start()
    try:
        h.claude.script("What fine pictures!", model="claude-test-default", times=None)
        png = padded_png(image_bytes)
        started = time.perf_counter()
        channel = 0
        for n in range(1, dms + 1):
            files = [h.discord.attachment(f"photo{i}.png", content_type="image/png", data=png)
                     for i in range(4)]
            sent = await h.dm(f"look at these, number {n}", attachments=files)
            channel = int(sent["channel_id"])
            await h.replies(channel, n, timeout=120)
            h.claude.requests.clear()  # the fake's own record is the test's, not the bot's
            for f in files:
                h.discord.forget_file(f)
        elapsed = time.perf_counter() - started
        await h.at_rest()
        assert h.bot is not None
        log = h.bot.services.claude.sent
        assert log is not None  # kept while the dashboard is served
        kept = log.recent()
        held = deep_size(kept)
        print(f"{dms} DMs of 4 images of {image_bytes:,} bytes each in {elapsed:.1f} s")
        print(f"the inspector keeps {len(kept)} requests, {held / MB:.1f} MB reachable from them "
              f"({held / max(len(kept), 1) / MB:.2f} MB per request)")
        accounted = getattr(log, "held", None)
        if accounted is not None:
            print(f"the log's own account: {accounted / MB:.2f} MB (its budget: {log.budget / MB:.2f} MB)")
    finally:
        await h.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dms", type=int, default=50)
    parser.add_argument("--image-bytes", type=int, default=3_932_160)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args.dms, args.image_bytes))


if __name__ == "__main__":
    main()
