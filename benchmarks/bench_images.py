"""An image raid over the real wire: what the process's memory does while several people DM pictures at once.

The fake Discord and the fake Claude run in this process, on a thread of their own (bench_pipeline's
FakesThread); the real bot downloads the attachments from the fake CDN and sends them through the real
anthropic SDK. ``--members`` people (default 5) each DM the character at the same moment with ``--images``
PNGs (default 10) of ``--size`` bytes (default 3.7 MB; the bot shows Claude at most
``max_images_per_message`` of them, 4); the fake Claude takes ``--latency`` seconds (default 1.0) to answer
each, as a real reply takes a while, so the requests are in flight together. Reported:

- the process's peak RSS growth (``resource.getrusage``'s high-water mark, against the mark once the CDN's
  files exist, the highest the process had been before the raid);
- the peak of Python's traced allocations above the level before the raid (tracemalloc);
- in both, the pictures' megabytes in flight (members x images shown x size) and how many copies of them
  the growth is.

Both figures count the fakes' side too, kept small: the fake Claude reads each request's body once, lets it
go and parses it without the images' base64 (its record keeps no image data), the same before and after a
change of the bot.

Run: python -m benchmarks.bench_images [--members 5] [--images 10] [--size 3700000] [--latency 1.0]
     [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from benchmarks.bench_pipeline import FakesThread
from tests.fakes.discord_cdn import padded_png
from tests.harness import Harness

FIRST_PERSON = 700_000_000_000_000_001
MB = 1_000_000


def _max_rss() -> int:
    """The process's peak resident set so far, in bytes (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


_BASE64 = re.compile(rb'"data":"[A-Za-z0-9+/=]{1000,}"')  # an image block's data, as the SDK writes it


async def raid(members: int, images: int, size: int, latency: float,
               config: dict[str, str]) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-images-"))
    fakes = FakesThread()
    h = Harness(db_url=f"sqlite+aiosqlite:///{folder / 'bench.db'}", tmp_path=folder,
                config={"max_typing_time": "0", "min_typing_time": "0", **config})
    await fakes.call(h.discord.start())
    await fakes.call(h.claude.start())
    h.build_world()
    h.claude.validate = False  # the fake would decode every image again to check it

    async def lean_body(request: Any) -> dict[str, Any] | None:
        # The fake reads the body without keeping it (aiohttp keeps a read body on its request for the
        # whole answer, a second's latency here) and parses it without the images' base64: what is
        # measured is the bot's memory, not the fake's.
        raw = await request.read()
        request._read_bytes = None
        body = json.loads(_BASE64.sub(b'"data":""', raw))
        return body if isinstance(body, dict) else None

    h.claude._read_body = lean_body  # type: ignore[method-assign]
    people = [FIRST_PERSON + i for i in range(members)]
    for i, uid in enumerate(people):
        h.discord.add_user(uid, f"person{i}")
    await h.start_bot()
    assert h.bot is not None
    shown = min(images, h.bot.settings.media.max_images_per_message)
    h.claude.script("What lovely pictures!", delay=latency, times=None)
    # Warm up: one small picture, so first-use costs (imports, connections) are not counted.
    warm = h.discord.attachment("w.png", content_type="image/png", data=padded_png(1000))
    await fakes.call(h.dm("warm up", user=people[0], attachments=[warm]))
    await fakes.call(h.replies(await h.dm_channel_id(people[0]), 1, timeout=30))
    payloads = [[h.discord.attachment(f"p{m}-{n}.png", content_type="image/png", data=padded_png(size))
                 for n in range(images)] for m in range(members)]
    tracemalloc.start()
    before_traced, _ = tracemalloc.get_traced_memory()
    before_rss = _max_rss()
    started = time.perf_counter()

    async def send_all() -> None:  # on the fakes' loop, all at the same moment
        await asyncio.gather(*(h.dm(f"look at these, {m}", user=people[m], attachments=payloads[m])
                               for m in range(members)))

    await fakes.call(send_all())
    for m, uid in enumerate(people):
        await fakes.call(h.replies(await h.dm_channel_id(uid), 2 if m == 0 else 1, timeout=120))
    took = time.perf_counter() - started
    _, peak_traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_rss = _max_rss()
    requests = [r for r in h.claude.requests if "look at these" in json.dumps(r.body)]
    await h.stop_bot()
    fakes.stop()
    pictures = members * shown * size
    return {"members": members, "images_sent": images, "images_shown": shown, "image_bytes": size,
            "latency_s": latency, "pictures_mb": pictures / MB, "reply_requests": len(requests),
            "rss_growth_mb": (peak_rss - before_rss) / MB,
            "traced_peak_mb": (peak_traced - before_traced) / MB,
            "rss_copies": (peak_rss - before_rss) / pictures, "traced_copies": (peak_traced - before_traced)
            / pictures, "seconds": took}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--size", type=int, default=3_700_000)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for the bot (e.g. image_bytes_in_flight=33554432)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = dict(item.split("=", 1) for item in args.set)
    result = asyncio.run(raid(args.members, args.images, args.size, args.latency, config))
    print(f"{result['members']} members x {result['images_shown']} of {result['images_sent']} images x "
          f"{result['image_bytes'] / MB:.1f} MB = {result['pictures_mb']:.0f} MB of pictures in flight "
          f"({result['reply_requests']} reply requests, {result['seconds']:.1f} s)")
    print(f"peak RSS growth: {result['rss_growth_mb']:.0f} MB "
          f"({result['rss_copies']:.1f} copies of the pictures)")
    print(f"peak traced allocations: +{result['traced_peak_mb']:.0f} MB "
          f"({result['traced_copies']:.1f} copies)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
