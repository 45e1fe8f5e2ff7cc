"""Sustained load: N fake guilds over the fake gateway at a fixed message rate for a fixed time.

The bot runs as real `main.py` processes (one process, or a 2-process cluster on PostgreSQL, each running half
of the shards); the fake Discord and the fake Claude (answering at once) run in this process, on a thread
of their own. Each message carries a unique tag; a share of them @mention the character, the rest are
ordinary channel chatter. Reported:

* sustained rate: messages durably logged per second, from the first sent to the last logged;
* dropped: messages sent but missing from the database at the end;
* overhead p50 / p99: from the fake gateway sending an @mention to its reply request at the fake Claude
  (unaddressed chatter waits for its channel's vote window by design: its judging delay is shown apart);
* vote calls per message; RSS of each bot process (now / peak); database growth per 100k messages.

Target on this 2-core machine (issue 14): 500 messages/s sustained, p99 overhead under 50 ms, none dropped.

Run: python -m benchmarks.bench_load [--quick] [--rate 500] [--seconds 20] [--guilds 40]
     [--addressed 0.05] [--processes 1|2] [--database-url URL]   (a SCRATCH database: it is emptied)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from benchmarks.bench_pipeline import FakesThread
from benchmarks.common import percentile
from bot.core.config import PROJECT_ROOT
from database.models import LoggedMessage
from database.store import Store
from tests.dbtools import reset_schema
from tests.fakes.claude_server import FakeClaude
from tests.fakes.discord_lead import FakeDiscord
from tests.harness import TEST_CONFIG

FINN = PROJECT_ROOT / "characters" / "finn"
BOT_ID = 800_000_000_000_000_001
USERS = 20
TAG = re.compile(r"\bm(\d{7})\b")


def guild_id(i: int, shards: int) -> int:
    return (((1 << 30) * shards + i) << 22) | 777


async def database_size(store: Store, url: str) -> int:
    if store.db.is_sqlite:
        path = Path(url.split("///", 1)[1])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return int(await store.db.scalar(text("SELECT pg_database_size(current_database())")))


async def logged(store: Store) -> int:
    """The people's messages in the log (the bot's own replies are logged too)."""
    return int(await store.db.scalar(select(func.count()).select_from(LoggedMessage)
                                     .where(LoggedMessage.author_id != BOT_ID)))


def rss_kb(pid: int) -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="kindred-load-"))
    url = args.database_url or f"sqlite+aiosqlite:///{folder / 'load.db'}"
    if args.processes > 1 and "postgres" not in url:
        raise SystemExit("a cluster needs PostgreSQL: pass --database-url postgresql+asyncpg://...")
    await reset_schema(url)
    store = await Store(url).open()
    await store.close()  # migrated, and (SQLite) its write-ahead log folded in: the size to grow from
    store = await Store(url).open()
    size_before = await database_size(store, url)

    shards = 2 * args.processes
    fakes = FakesThread()
    discord, claude = FakeDiscord(), FakeClaude()
    await fakes.call(discord.start())
    await fakes.call(claude.start())
    channels: list[int] = []
    for i in range(args.guilds):
        gid = guild_id(i, shards)
        discord.add_guild(gid, f"Server {i}", channels=[(gid + 1, "general")])
        channels.append(gid + 1)
    for u in range(USERS):
        discord.add_user(910_000_000_000_000_000 + u, f"user{u}")
        for i in range(args.guilds):
            discord.add_member(guild_id(i, shards), 910_000_000_000_000_000 + u)

    env = {**os.environ, **TEST_CONFIG, "DISCORD_TOKEN": "fake-discord-token",
           "ANTHROPIC_API_KEY": "fake-anthropic-key", "ANTHROPIC_BASE_URL": claude.base_url,
           "DISCORD_API_BASE_URL": discord.api_base, "DISCORD_GATEWAY_URL": discord.gateway_url,
           "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "SHARD_COUNT": str(shards),
           "max_typing_time": "0", "stream_replies": "false",
           # The shipped judgement of busy channels (the tests' config judges each message on its own).
           "vote_window_seconds": "2"}
    procs = []
    per = shards // args.processes
    for p in range(args.processes):
        ids = f"{p * per}-{p * per + per - 1}"
        out = (folder / f"bot{p}.log").open("wb")
        procs.append(await asyncio.create_subprocess_exec(
            sys.executable, "main.py", "--character", str(FINN), "--shard-ids", ids, cwd=str(PROJECT_ROOT),
            env=env, stdout=out, stderr=asyncio.subprocess.STDOUT))
        out.close()
    deadline = time.monotonic() + 120
    while sum(1 for s in discord.sessions if s.identified) < shards:
        if time.monotonic() > deadline:
            raise SystemExit(f"the bot did not connect; see {folder}/bot*.log")
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)  # READY handled, guilds cached

    sent_at: dict[int, float] = {}
    total = int(args.rate * args.seconds)
    every = max(1, round(1 / args.addressed)) if args.addressed > 0 else 0

    async def send_all() -> None:
        start = time.monotonic()
        for n in range(total):
            due = start + n / args.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            channel = channels[n % len(channels)]
            author = 910_000_000_000_000_000 + n % USERS
            tag = 1_000_000 + n
            if every and n % every == 0:
                content, mentions = f"<@{BOT_ID}> m{tag} what do you think of the tide?", [BOT_ID]
            else:
                content, mentions = f"m{tag} the harbour was busy this morning", None
            sent_at[tag] = time.monotonic()
            await discord.user_message(channel, author, content, mentions=mentions)

    first = time.monotonic()
    await fakes.call(send_all())
    sending = time.monotonic() - first
    # Drain: wait until every message is logged (or nothing moves for 15 s).
    last, still = -1, time.monotonic()
    while True:
        count = await logged(store)
        if count >= total:
            break
        if count != last:
            last, still = count, time.monotonic()
        elif time.monotonic() - still > 15:
            break
        await asyncio.sleep(0.05)
    done = time.monotonic()
    count = await logged(store)
    await asyncio.sleep(2.0)  # let votes and replies in flight reach the fake Claude

    first_request: dict[int, float] = {}
    addressed = {1_000_000 + n for n in range(total) if every and n % every == 0}
    votes = 0
    for r in list(claude.requests):
        body = str(r.body.get("messages", ""))
        for m in TAG.finditer(body):
            tag = int(m.group(1))
            if tag in sent_at and r.received_at >= sent_at[tag]:
                first_request[tag] = min(first_request.get(tag, r.received_at), r.received_at)
        if r.model == TEST_CONFIG["voting_model"]:
            votes += 1
    # Overhead: an @mention to its reply request. Unaddressed messages wait for their channel's vote window
    # by design (vote_window_seconds), so their first request says how long judging took, not overhead.
    overhead_ms = [(first_request[t] - sent_at[t]) * 1000 for t in first_request if t in addressed]
    judged_ms = [(first_request[t] - sent_at[t]) * 1000 for t in first_request if t not in addressed]
    rss = [rss_kb(p.pid) for p in procs if p.returncode is None]
    for p in procs:
        if p.returncode is None:
            p.terminate()
    for p in procs:
        try:
            await asyncio.wait_for(p.wait(), timeout=30)
        except TimeoutError:
            p.kill()
    await store.close()
    store = await Store(url).open()
    size_after = await database_size(store, url)
    await store.close()
    await fakes.call(claude.close())
    await fakes.call(discord.close())
    fakes.stop()
    return {
        "database": "PostgreSQL" if "postgres" in url else "SQLite", "processes": args.processes,
        "sent": total, "send_seconds": sending, "sustained": count / (done - first), "dropped": total - count,
        "p50": percentile(overhead_ms, 50), "p99": percentile(overhead_ms, 99), "measured": len(overhead_ms),
        "votes_per_message": votes / total if total else 0.0,
        "judged_p50": percentile(judged_ms, 50), "judged_n": len(judged_ms),
        "rss_mb": [round(now / 1024) for now, _ in rss], "peak_mb": [round(peak / 1024) for _, peak in rss],
        "growth_mb_per_100k": (size_after - size_before) / 1e6 * 100_000 / max(count, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 messages/s for 5 s")
    parser.add_argument("--rate", type=float, default=500.0, help="messages per second (default 500)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to send (default 20)")
    parser.add_argument("--guilds", type=int, default=40)
    parser.add_argument("--addressed", type=float, default=0.05, help="share of messages that @mention it")
    parser.add_argument("--processes", type=int, choices=[1, 2], default=1)
    parser.add_argument("--database-url", default=None,
                        help="a SCRATCH database (its Kindred tables are dropped); default: a fresh "
                        "SQLite file")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.seconds = 100.0, 5.0
    r = asyncio.run(run(args))
    print(f"load ({r['database']}, {r['processes']} process{'es' if r['processes'] > 1 else ''}): "
          f"{r['sent']} messages at {args.rate:g}/s over {r['send_seconds']:.1f} s; sustained "
          f"{r['sustained']:.0f} messages/s logged, {r['dropped']} dropped; overhead p50 {r['p50']:.1f} ms, "
          f"p99 {r['p99']:.1f} ms (n={r['measured']} @mentions); {r['votes_per_message']:.2f} vote calls per "
          f"message (unaddressed ones judged after p50 {r['judged_p50']:.0f} ms, n={r['judged_n']}); "
          f"RSS {r['rss_mb']} MB (peak {r['peak_mb']}); database growth "
          f"{r['growth_mb_per_100k']:.0f} MB per 100k messages")


if __name__ == "__main__":
    main()
