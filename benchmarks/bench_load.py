"""Sustained load: N fake guilds over the fake gateway at a fixed message rate for a fixed time.

The bot runs as real `main.py` processes (one process, or a 2- or 3-process cluster on PostgreSQL, each
running its share of the shards); the fake Discord and the fake Claude (answering at once) run in this
process, on a thread of their own. Each message carries a unique tag; a share of them @mention the character,
the rest are ordinary channel chatter. Reported:

* sustained rate: messages durably logged per second, from the first sent to the last logged;
* dropped: messages sent but missing from the database at the end;
* overhead p50 / p99: from the fake gateway sending an @mention to its reply request at the fake Claude
  (unaddressed chatter waits for its channel's vote window by design: its judging delay is shown apart);
* vote calls per message; RSS of each bot process (now / peak); database growth per 100k messages;
* the bot process's own CPU per message (from /proc/<pid>/stat: the fakes sharing the machine do not count):
  CPU seconds from the first message sent to the last vote or reply it caused, less what the idle process
  spends in as long (heartbeats, timers, measured before the first message), over the messages of the phase.
  ``--split`` adds an unaddressed-only and an addressed-only phase after the mix, each ``--seconds`` long, so
  the two kinds of message get a figure each (issue 30: <= 0.3 ms and <= 2 ms).

Two traffic models (``--model``):

* ``busy`` (the default): ``--guilds`` 40 servers, one channel each, taking turns, at ``--rate`` 500: every
  channel busy, so the vote window folds a burst into one round;
* ``quiet``: many servers (``--guilds`` 2,000) whose activity is Zipf-distributed (``--zipf`` 1.1: the
  busiest server has about a tenth of the messages, most servers a message a minute or less), at ``--rate``
  100, and ``--interesting`` 5 % of the messages about the character's interests (kelp tea, the tide, the
  seagulls): the fake votes yes on those, no on the rest. Reported beside the rest: vote calls per
  unaddressed message (target at most 0.2) and the share of the would-be-yes messages still voted on or
  answered (at least 95 %).

``--day`` prices each phase's calls (their tokens as the fake counted them) on the 5.x lineup (replies on
Sonnet 5.5, votes on Haiku 5.5, the project's model table) and scales it to a day of a 1,000-server
deployment at the run's messages per server. The first look (``first_look``) is on, as shipped;
``--setting first_look=false`` gives the figures without it.

``--profile FILE`` profiles the bot process over the measured phases: py-spy (when installed: its own
process, sampling; FILE gets the collapsed stacks) else cProfile inside the bot (through
benchmarks/profiled_bot.py, FILE gets pstats); either way FILE.txt gets the top functions by own and total
samples, and the CPU of each of the bot's threads (native ones included) over the phases.

Target on this 2-core machine (issue 14): 500 messages/s sustained, p99 overhead under 50 ms, none dropped.

Run: python -m benchmarks.bench_load [--quick] [--model busy|quiet] [--day] [--rate 500] [--seconds 20]
     [--guilds 40] [--interesting 0.05] [--zipf 1.1]
     [--addressed 0.05] [--processes 1|2|3] [--database-url URL]   (a SCRATCH database: it is emptied)
     [--split] [--profile FILE] [--slowest N] [--bot kindred|bare|floor|lean|both|all]

``--bot bare`` runs benchmarks/bare_bot.py instead: bare discord.py doing only the wire work (a log row, and
for an @mention the typing indicator, one Messages call and the reply): the yardstick. ``--bot floor`` is the
platform's: the same bot doing the least the mandated stack makes any bot do (each message one INSERT through
SQLAlchemy's async engine and its tokens counted with tiktoken, the anthropic SDK's client for the reply, the
embedding model as configured). ``--bot lean`` goes lower than bare (chatter taken from the gateway's dict,
logged in batches). ``--bot both`` runs Kindred, bare and floor, ``--bot all`` lean too, and each prints
their CPU per message and RSS side by side (on this VM the figures drift by a third within an hour: read
them against each other).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from benchmarks.bench_pipeline import FakesThread
from benchmarks.common import percentile
from benchmarks.profiling import Profiler, cpu_seconds, profiled_command, py_spy, thread_cpu
from bot.core.config import PROJECT_ROOT
from bot.core.models.capabilities import ModelTable
from database.models import LoggedMessage
from database.store import Store
from tests.dbtools import reset_schema
from tests.fakes.claude_server import FakeClaude
from tests.fakes.discord_lead import FakeDiscord
from tests.harness import TEST_CONFIG

FINN = PROJECT_ROOT / "characters" / "finn"
BOT_ID = 800_000_000_000_000_001
USERS = 20
VOTE_WINDOW = 2.0  # the shipped vote_window_seconds
TAG = re.compile(r"\bm(\d{7})\b")
# --bot's yardsticks, as reported
YARDSTICKS = {"bare": "bare discord.py", "floor": "the stack's floor", "lean": "lean discord.py"}
# The quiet model's messages about Finn's interests (the fake votes yes on these) and its ordinary chatter.
INTERESTING = ("how long should kelp tea steep?", "is the seafoam chai spicy today?",
               "what time is high tide at the pools tonight?", "the seagulls stole my chips again, any tips?",
               "does barnacle oolong really taste that bitter?", "anyone been to a tea stall by the sea?")
CHATTER = ("the harbour was busy this morning", "did anyone watch the match last night", "my train was late "
           "again", "new phone who dis", "what are you all having for dinner", "that patch broke my build",
           "who is up for a game later", "ugh mondays", "look at this picture of my dog",
           "is the server event still on saturday")
DEPLOYMENT = 1_000  # servers of the --day deployment
DAY_LINEUP = {"claude-test-voter": "claude-haiku-5-5"}  # --day: every other model prices as Sonnet 5.5
MODELS = {"busy": {"guilds": 40, "rate": 500.0, "seconds": 20.0, "interesting": 0.0},
          "quiet": {"guilds": 2000, "rate": 100.0, "seconds": 10.0, "interesting": 0.05}}


def judged_text(body: dict[str, Any]) -> str:
    """The last block of a request's last message: what a vote judges (the latest message and its burst) or
    what a reply answers."""
    messages = body.get("messages") or [{}]
    content = messages[-1].get("content", "")
    if isinstance(content, list):
        content = content[-1].get("text", "") if content else ""
    return str(content)


def vote_as_scripted(body: dict[str, Any]) -> str | None:
    """The fake's votes: yes on a message about the character's interests, no on the rest."""
    if body.get("model") != TEST_CONFIG["voting_model"]:
        return None
    judged = judged_text(body)
    return "yes" if any(phrase in judged for phrase in INTERESTING) else "no"


def zipf_weights(n: int, exponent: float) -> list[float]:
    return [1.0 / (rank + 1) ** exponent for rank in range(n)]


def price(model: str, usage: dict[str, Any]) -> float:
    """USD of one recorded call on the 5.x lineup."""
    family = TABLE.family(DAY_LINEUP.get(model, "claude-sonnet-5-5"))
    assert family is not None
    written_1h = int((usage.get("cache_creation") or {}).get("ephemeral_1h_input_tokens", 0))
    return family.price(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)),
                        int(usage.get("cache_creation_input_tokens", 0)),
                        int(usage.get("cache_read_input_tokens", 0)), written_1h)


TABLE = ModelTable()


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
           "first_look": "true",  # as shipped (the tests' config votes on every message)
           # The shipped judgement of busy channels (the tests' config judges each message on its own).
           "vote_window_seconds": str(VOTE_WINDOW), **dict(args.setting)}
    procs = []
    per = shards // args.processes
    for p in range(args.processes):
        ids = f"{p * per}-{p * per + per - 1}"
        out = (folder / f"bot{p}.log").open("wb")
        command = [sys.executable, "main.py", "--character", str(FINN), "--shard-ids", ids]
        if args.bot in YARDSTICKS:  # the same wire work with bare discord.py (and the stack's floor)
            command = [sys.executable, "-m", "benchmarks.bare_bot", "--shard-ids", ids,
                       *([f"--{args.bot}"] if args.bot != "bare" else [])]
        if p == 0:
            command = profiled_command(args.profile, command)
        procs.append(await asyncio.create_subprocess_exec(
            *command, cwd=str(PROJECT_ROOT), env=env, stdout=out, stderr=asyncio.subprocess.STDOUT))
        out.close()
    deadline = time.monotonic() + 120
    while sum(1 for s in discord.sessions if s.identified) < shards:
        if time.monotonic() > deadline:
            raise SystemExit(f"the bot did not connect; see {folder}/bot*.log")
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)  # READY handled, guilds cached
    for _ in range(60):  # and start-up's work in threads done (the embedding model, when preloaded)
        before = sum(cpu_seconds(p.pid) for p in procs)
        await asyncio.sleep(1.0)
        if sum(cpu_seconds(p.pid) for p in procs) - before < 0.05 * len(procs):
            break

    # The fakes' pauses would show as the bot's latency: their start-up heap out of the cyclic collector's
    # way, and no collection at all while they run (a full one over the thousands of messages they keep
    # took 100-300 ms, always at about the same message count).
    gc.freeze()
    gc.disable()
    pids = [p.pid for p in procs]
    idle = 3.0  # the idle process's own CPU per second: heartbeats, timers, background loops
    idle_before = sum(cpu_seconds(pid) for pid in pids)
    await asyncio.sleep(idle)
    idle_rate = (sum(cpu_seconds(pid) for pid in pids) - idle_before) / idle

    sent_at: dict[int, float] = {}
    next_tag = 1_000_000
    claude.responder = vote_as_scripted
    rng = random.Random(args.seed)
    weights = zipf_weights(len(channels), args.zipf) if args.model == "quiet" else None
    profiler = Profiler(args.profile, procs[0].pid) if args.profile else None
    threads_before = thread_cpu(procs[0].pid)
    if profiler is not None:
        await profiler.start()

    async def phase(name: str, addressed_share: float) -> dict[str, Any]:
        """Send ``rate`` x ``seconds`` messages (``addressed_share`` of them @mentions), wait until all are
        logged and every vote and reply they caused has gone out; the rates, latencies and CPU of that."""
        nonlocal next_tag
        total = int(args.rate * args.seconds)
        every = max(1, round(1 / addressed_share)) if addressed_share > 0 else 0
        first_tag = next_tag
        next_tag += total
        logged_before = await logged(store)
        addressed = {first_tag + n for n in range(total) if every and n % every == 0}
        # Where each message goes and what it says, drawn before sending (the draw costs the sender no time).
        if weights is None:
            places = [channels[n % len(channels)] for n in range(total)]
        else:
            places = rng.choices(channels, weights=weights, k=total)
        interesting = {first_tag + n for n in range(total)
                       if first_tag + n not in addressed and rng.random() < args.interesting}

        async def send_all() -> None:
            start = time.monotonic()
            for n in range(total):
                due = start + n / args.rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                channel = places[n]
                author = 910_000_000_000_000_000 + n % USERS
                tag = first_tag + n
                if tag in addressed:
                    content, mentions = f"<@{BOT_ID}> m{tag} what do you think of the tide?", [BOT_ID]
                elif tag in interesting:
                    content, mentions = f"m{tag} {INTERESTING[n % len(INTERESTING)]}", None
                elif args.model == "quiet":
                    content, mentions = f"m{tag} {CHATTER[n % len(CHATTER)]}", None
                else:
                    content, mentions = f"m{tag} the harbour was busy this morning", None
                sent_at[tag] = time.monotonic()
                await discord.user_message(channel, author, content, mentions=mentions)

        requests_before = len(claude.requests)
        rest_before, limited_before = len(discord.requests), discord.global_limited
        discord.busiest_second.clear()
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        first = time.monotonic()
        await fakes.call(send_all())
        sending = time.monotonic() - first
        # Drain: wait until every message is logged (or nothing moves for 15 s).
        last, still = -1, time.monotonic()
        while True:
            count = await logged(store) - logged_before
            if count >= total:
                break
            if count != last:
                last, still = count, time.monotonic()
            elif time.monotonic() - still > 15:
                break
            await asyncio.sleep(0.05)
        done = time.monotonic()
        count = await logged(store) - logged_before
        # Settle: the last vote window closes, its votes and the last replies go out (and are posted). The
        # first look sizes a busy channel's window by its pace, up to 4 times the setting.
        await asyncio.sleep(VOTE_WINDOW * 4)
        seen, still = (-1, -1), time.monotonic()
        while time.monotonic() - still < 1.0:
            now = (len(claude.requests), len(discord.messages))  # len(): safe across the threads
            if now != seen:
                seen, still = now, time.monotonic()
            await asyncio.sleep(0.05)
        settled = time.monotonic() - 1.0  # nothing moved in the last second
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before - idle_rate * (settled - first)

        first_request: dict[int, float] = {}
        votes = 0
        judged: set[int] = set()  # the would-be-yes messages a vote judged or a reply answered
        usd = {"votes": 0.0, "replies": 0.0}
        for r in list(claude.requests)[requests_before:]:
            usd["votes" if r.model == TEST_CONFIG["voting_model"] else "replies"] += price(r.model, r.usage)
            judged.update(t for t in (int(m.group(1)) for m in TAG.finditer(judged_text(r.body)))
                          if t in interesting)
            body = str(r.body.get("messages", ""))
            for m in TAG.finditer(body):
                tag = int(m.group(1))
                if first_tag <= tag < first_tag + total and r.received_at >= sent_at[tag]:
                    first_request[tag] = min(first_request.get(tag, r.received_at), r.received_at)
            if r.model == TEST_CONFIG["voting_model"]:
                votes += 1
        # Overhead: an @mention to its reply request. Unaddressed messages wait for their channel's vote
        # window by design (vote_window_seconds), so their first request says how long judging took.
        rest = len(discord.requests) - rest_before
        overhead_ms = [(first_request[t] - sent_at[t]) * 1000 for t in first_request if t in addressed]
        judged_ms = [(first_request[t] - sent_at[t]) * 1000 for t in first_request if t not in addressed]
        # The slowest @mentions, with when they were sent (seconds into the phase): where the tail comes from.
        slowest = sorted(((first_request[t] - sent_at[t]) * 1000, sent_at[t] - first)
                         for t in first_request if t in addressed)[-args.slowest:] if args.slowest else []
        return {
            "phase": name, "sent": total, "addressed": len(addressed), "send_seconds": sending,
            "sustained": count / (done - first), "dropped": total - count,
            "p50": percentile(overhead_ms, 50), "p99": percentile(overhead_ms, 99),
            "measured": len(overhead_ms),
            "votes_per_message": votes / total if total else 0.0,
            "votes_per_unaddressed": votes / (total - len(addressed)) if total > len(addressed) else 0.0,
            "interesting": len(interesting), "interesting_judged": len(judged & interesting),
            "usd_per_message": {k: v / total for k, v in usd.items()} if total else usd,
            "judged_p50": percentile(judged_ms, 50), "judged_n": len(judged_ms),
            "cpu_ms_per_message": cpu * 1000 / total if total else 0.0,
            "cpu_share": cpu / (settled - first),
            "slowest": slowest,
            # the bot's REST requests: Discord allows 50 a second (the fake answers more with global 429s)
            "rest": rest, "rest_per_second": rest / (settled - first),
            "rest_busiest": max(discord.busiest_second.values(), default=0),
            "global_429": discord.global_limited - limited_before,
        }

    phases = [await phase("mix", args.addressed)]
    if args.split:
        phases.append(await phase("unaddressed", 0.0))
        phases.append(await phase("addressed", 1.0))
    if profiler is not None:
        await profiler.stop()
        threads = thread_cpu(procs[0].pid)
        profiler.report({t: cpu - threads_before.get(t, 0.0) for t, cpu in threads.items()})
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
        "phases": phases, "idle_cpu_share": idle_rate,
        "rss_mb": [round(now / 1024) for now, _ in rss], "peak_mb": [round(peak / 1024) for _, peak in rss],
        "growth_mb_per_100k": (size_after - size_before) / 1e6 * 100_000 / max(phases[0]["sent"], 1),
    }


def key_value(text: str) -> tuple[str, str]:
    """``--setting KEY=VALUE`` as (key, value)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 messages/s for 5 s")
    parser.add_argument("--model", choices=sorted(MODELS), default="busy",
                        help="busy: 40 servers taking turns at 500/s; quiet: 2,000 servers of Zipf activity "
                        "at 100/s, 5%% of the messages about the character's interests")
    parser.add_argument("--rate", type=float, default=None, help="messages per second (busy 500, quiet 100)")
    parser.add_argument("--seconds", type=float, default=None, help="how long to send (busy 20, quiet 10)")
    parser.add_argument("--guilds", type=int, default=None, help="servers (busy 40, quiet 2000)")
    parser.add_argument("--interesting", type=float, default=None,
                        help="share of messages about the character's interests, voted yes (quiet 0.05)")
    parser.add_argument("--zipf", type=float, default=1.1, help="the quiet model's Zipf exponent")
    parser.add_argument("--seed", type=int, default=61, help="the quiet model's draw")
    parser.add_argument("--day", action="store_true",
                        help=f"price a day of a {DEPLOYMENT:,}-server deployment on the 5.x lineup")
    parser.add_argument("--addressed", type=float, default=0.05, help="share of messages that @mention it")
    parser.add_argument("--split", action="store_true",
                        help="after the mix, an unaddressed-only and an addressed-only phase (CPU of each)")
    parser.add_argument("--profile", default=None, metavar="FILE",
                        help="profile the (first) bot process over the phases: py-spy if installed, else "
                        "cProfile; the top functions in FILE.txt")
    parser.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE", type=key_value,
                        help="a bot setting for this run (repeatable), e.g. yes_no_vote_count=1")
    parser.add_argument("--slowest", type=int, default=0, metavar="N",
                        help="also print the N slowest @mentions of each phase and when they were sent")
    parser.add_argument("--processes", type=int, choices=[1, 2, 3], default=1)
    parser.add_argument("--bot", choices=["kindred", *YARDSTICKS, "both", "all"], default="kindred",
                        help="bare: benchmarks/bare_bot.py in its place, a bare discord.py bot doing only "
                        "the wire work (log row, typing, one Messages call, the reply): the yardstick; "
                        "floor: the same on the mandated stack (SQLAlchemy async INSERT, tiktoken count, "
                        "anthropic SDK); lean: chatter from the gateway's dict, logged in batches; "
                        "both: Kindred, bare and floor side by side; all: lean too")
    parser.add_argument("--database-url", default=None,
                        help="a SCRATCH database (its Kindred tables are dropped); default: a fresh "
                        "SQLite file")
    args = parser.parse_args()
    if args.bot in YARDSTICKS and args.profile and py_spy() is None:
        parser.error(f"--profile with --bot {args.bot} needs py-spy (the cProfile wrapper runs main.py)")
    for name, value in MODELS[args.model].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.quick:
        args.rate, args.seconds = 100.0, 5.0
    if args.bot not in ("both", "all"):
        report(args, asyncio.run(run(args)))
        return
    # Kindred, then the yardsticks with the same arguments: this VM's speed drifts by a third within an
    # hour, so a figure is read against the bare bot's measured just after it.
    runs: dict[str, dict[str, Any]] = {}
    for bot in ("kindred", "bare", "floor", *(("lean",) if args.bot == "all" else ())):
        one = argparse.Namespace(**{**vars(args), "bot": bot, "profile": args.profile if bot == "kindred"
                                    else None})
        runs[bot] = asyncio.run(run(one))
        report(one, runs[bot])
    side_by_side(runs)


def side_by_side(runs: dict[str, dict[str, Any]]) -> None:
    """Each phase's CPU per message and the processes' RSS, Kindred against each yardstick."""
    for ours, *theirs in zip(*(r["phases"] for r in runs.values()), strict=True):
        a = ours["cpu_ms_per_message"]
        line = f"{ours['phase']}: Kindred {a:.3f} ms"
        for name, other in zip(list(runs)[1:], theirs, strict=True):
            b = other["cpu_ms_per_message"]
            ratio = a / b if b else float("nan")
            line += f", {YARDSTICKS[name]} {b:.3f} ms ({ratio:.1f}x, {a - b:+.3f} ms)"
        print(line + " per message")
        named = dict(zip(list(runs)[1:], theirs, strict=True))
        floor, bare = (named[k]["cpu_ms_per_message"] if k in named else 0.0 for k in ("floor", "bare"))
        if floor and bare:
            print(f"  the floor is {floor / bare:.1f}x bare discord.py")
    print("RSS: " + ", ".join(f"{YARDSTICKS.get(name, 'Kindred')} {sum(r['rss_mb'])} MB"
                              for name, r in runs.items()))


def report(args: argparse.Namespace, r: dict[str, Any]) -> None:
    bare = f", {YARDSTICKS[args.bot]}" if args.bot in YARDSTICKS else ""
    for ph in r["phases"]:
        print(f"load ({r['database']}{bare}, {r['processes']} process{'es' if r['processes'] > 1 else ''}, "
              f"{ph['phase']}): {ph['sent']} messages ({ph['addressed']} @mentions) at {args.rate:g}/s over "
              f"{ph['send_seconds']:.1f} s; sustained {ph['sustained']:.0f} messages/s logged, "
              f"{ph['dropped']} dropped; overhead p50 {ph['p50']:.1f} ms, p99 {ph['p99']:.1f} ms "
              f"(n={ph['measured']} @mentions); {ph['votes_per_message']:.2f} vote calls per message "
              f"(unaddressed ones judged after p50 {ph['judged_p50']:.0f} ms, n={ph['judged_n']}); bot CPU "
              f"{ph['cpu_ms_per_message']:.3f} ms per message ({ph['cpu_share'] * 100:.0f}% of a core)")
        print(f"  REST: {ph['rest']} requests ({ph['rest_per_second']:.1f}/s), {ph['rest_busiest']} in the "
              f"busiest second, {ph['global_429']} global 429s")
        line = f"  {args.model} model: {ph['votes_per_unaddressed']:.3f} vote calls per unaddressed message"
        if ph["interesting"]:
            share = ph["interesting_judged"] / ph["interesting"] * 100
            line += (f"; {ph['interesting_judged']} of {ph['interesting']} would-be-yes messages voted on or "
                     f"answered ({share:.1f}%)")
        print(line)
        if args.day:
            per_server = args.rate / args.guilds * 86_400
            cost = {k: v * per_server * DEPLOYMENT for k, v in ph["usd_per_message"].items()}
            print(f"  a day of {DEPLOYMENT:,} servers at {per_server:,.0f} messages a server (this phase's "
                  f"mix, 5.x lineup): ${sum(cost.values()):,.0f} (votes ${cost['votes']:,.0f}, replies "
                  f"${cost['replies']:,.0f})")
        if ph["slowest"]:
            print("  slowest @mentions (ms, sent at s): "
                  + ", ".join(f"{ms:.0f} @ {at:.2f}" for ms, at in reversed(ph["slowest"])))
    print(f"idle bot process: {r['idle_cpu_share'] * 100:.1f}% of a core; RSS {r['rss_mb']} MB (peak "
          f"{r['peak_mb']}); database growth {r['growth_mb_per_100k']:.0f} MB per 100k messages; host load "
          f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
