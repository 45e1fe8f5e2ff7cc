"""A busy channel over the real wire: a burst of unaddressed messages from many people, with @mentions inside.

The fake Discord (on a thread and event loop of its own, as a real server would be) sends a burst of 500
unaddressed channel messages from 20 people, and every ``--mention-every`` messages an @mention of the
character. The fake Claude answers every vote "no" at once. Reported:

- vote calls per unaddressed message (target <= 0.3; one vote round per message of 3 votes was 3.0);
- every message durably logged (its row in the database), and 0 decisions lost (each message gets exactly
  one decision: a filter's, "coalesced into <id>", a vote's, or the @mention's);
- for each @mention inside the burst: from the fake Discord sending it to its Claude request arriving at the
  fake Claude (target <= 20 ms).

And a question to a quiet room (leading edge): one unaddressed question in a channel quiet for longer than
the vote window, the fake Claude voting yes after ``--vote-latency`` seconds: from the fake Discord sending it
to its first vote request, and to its reply request (target: the reply request within one vote round trip
of the first vote, plus a few milliseconds; before the leading edge it waited the whole window).

Run: python -m benchmarks.bench_burst [--quick] [--messages 500] [--people 20] [--database-url URL]
     [--vote-latency 0.1] [--quiet-rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from benchmarks.bench_pipeline import FakesThread
from benchmarks.common import percentile, summary_ms
from database.models import LoggedMessage
from tests.dbtools import reset_schema
from tests.fakes.claude_server import FakeClaude
from tests.harness import CHANNEL_ID, GUILD_ID, USER_ID, AnnouncedDecisions, Harness

VOTER = "claude-test-voter"
FIRST_PERSON = 700_000_000_000_000_001
LINES = ("did anyone see the tide this morning", "the rock pools were full of crabs", "lol",
         "I think the kelp forest is growing", "who wants tea later", "the fog came in fast",
         "my boots are still wet", "has the ferry been on time this week", "the gulls were loud",
         "we should go snorkelling on saturday", "ok", "haha true")


async def burst(messages: int, people: int, mention_every: int, database_url: str | None,
                window: float, rate: float) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
    url = database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    if database_url:
        await reset_schema(url)  # a scratch database: its Kindred tables are dropped first
    fakes = FakesThread()
    h = Harness(db_url=url, tmp_path=folder, config={"max_typing_time": "0", "stream_replies": "false",
                                                      "vote_window_seconds": str(window),
                                                      "yes_no_vote_count": "3"},
                bot_options={"freeze_after_setup": True})
    h.claude = FakeClaude(zero_latency=True)
    h.claude.script("no", model=VOTER, times=None)
    await fakes.call(h.discord.start())
    await fakes.call(h.claude.start())
    h.build_world()
    people_ids = [FIRST_PERSON + i for i in range(people)]
    for i, uid in enumerate(people_ids):
        h.discord.add_user(uid, f"person{i}")
        h.discord.add_member(GUILD_ID, uid)
    await h.start_bot()
    assert h.bot is not None
    # Each message's decisions, as the bot announces them (its log): the benchmark's count of them.
    announced = AnnouncedDecisions(quiet=True).__enter__()
    decisions = announced.seen
    bot_id = h.bot_user_id

    async def send() -> tuple[list[int], list[tuple[int, float]]]:
        """On the fakes' loop: the burst at ``rate`` messages a second (0: as fast as the gateway takes
        them), @mentions among it."""
        unaddressed: list[int] = []
        mentions: list[tuple[int, float]] = []  # (mention number, sent at)
        begin = time.monotonic()
        for i in range(messages):
            if rate > 0:
                await asyncio.sleep(max(0.0, begin + i / rate - time.monotonic()))
            if mention_every and i % mention_every == mention_every // 2:
                k = len(mentions)
                sent_at = time.monotonic()
                await h.discord.user_message(CHANNEL_ID, people_ids[i % people],
                                             f"<@{bot_id}> mention number {k}: what do you think?",
                                             mentions=[bot_id])
                mentions.append((k, sent_at))
            line = LINES[i % len(LINES)]
            text = line if len(line) < 10 else f"{line} ({i})"  # the short ones are bare acknowledgements
            sent = await h.discord.user_message(CHANNEL_ID, people_ids[i % people], text)
            unaddressed.append(int(sent["id"]))
        return unaddressed, mentions

    try:
        started = time.monotonic()
        unaddressed, mentions = await fakes.call(send())
        sent_in = time.monotonic() - started
        everyone = len(unaddressed) + len(mentions)
        # Wait for every decision (the last window closes after it) and every @mention's reply.
        await h.discord.wait_for(
            lambda d: all(i in decisions for i in unaddressed) and len(d.posted(CHANNEL_ID)) >= len(mentions),
            timeout=window + 30, what="every decision and every @mention's reply")
        await asyncio.sleep(0.2)
        latencies = []
        requests = [r for r in h.claude.requests if r.model != VOTER]
        for k, sent_at in mentions:
            said = f"mention number {k}: what do you think?"
            [request] = [r for r in requests if _latest_user_text(r).rstrip().endswith(said)]
            latencies.append(request.received_at - sent_at)
        async with h.store.engine.connect() as conn:
            logged = set((await conn.execute(select(LoggedMessage.message_id).where(
                LoggedMessage.channel_id == CHANNEL_ID))).scalars())
        return {
            "messages": len(unaddressed), "mentions": len(mentions), "sent_in": sent_in,
            "votes": len(h.claude.requests_for(VOTER)),
            "logged": sum(1 for i in unaddressed if i in logged),
            "lost": everyone - sum(1 for ds in decisions.values() if len(ds) == 1),
            "decided_twice": sum(1 for ds in decisions.values() if len(ds) > 1),
            "latencies": latencies,
            "reasons": _reasons(decisions, set(unaddressed)),
        }
    finally:
        announced.__exit__()
        await h.stop_bot()
        await fakes.call(h.claude.close())
        await fakes.call(h.discord.close())
        fakes.stop()


async def quiet_room(database_url: str | None, window: float, vote_latency: float,
                     rounds: int) -> list[tuple[float, float]]:
    """(first vote request, reply request) after each question to a quiet room, seconds from its send."""
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
    url = database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    if database_url:
        await reset_schema(url)
    fakes = FakesThread()
    h = Harness(db_url=url, tmp_path=folder, config={"max_typing_time": "0", "stream_replies": "false",
                                                      "vote_window_seconds": str(window),
                                                      "yes_no_vote_count": "3"},
                bot_options={"freeze_after_setup": True})
    h.claude = FakeClaude()
    h.claude.script("yes", model=VOTER, times=None, delay=vote_latency)
    await fakes.call(h.discord.start())
    await fakes.call(h.claude.start())
    h.build_world()
    await h.start_bot()
    assert h.bot is not None
    out: list[tuple[float, float]] = []
    try:
        for k in range(rounds):
            question = f"does anyone know when the ferry leaves on sundays? ({k})"
            sent_at = time.monotonic()
            await fakes.call(h.discord.user_message(CHANNEL_ID, USER_ID, question))
            reply: list[Any] = []
            while not reply:  # a benchmark may poll: its reply request at the fake Claude
                await asyncio.sleep(0.002)
                reply = [r for r in list(h.claude.requests)
                         if r.model != VOTER and question in _latest_user_text(r)]
            first_vote = min(r.received_at for r in h.claude.requests_for(VOTER) if question in r.all_text())
            out.append((first_vote - sent_at, reply[0].received_at - sent_at))
            await h.discord.wait_for_messages(CHANNEL_ID, k + 1, timeout=30)
            await asyncio.sleep(window + 0.5)  # the window its round opened closes empty: quiet again
    finally:
        await h.stop_bot()
        await fakes.call(h.claude.close())
        await fakes.call(h.discord.close())
        fakes.stop()
    return out


def _latest_user_text(request: Any) -> str:
    """The text of the request's last user turn (where the message being answered is)."""
    messages = request.body.get("messages") or []
    return FakeClaude.all_text({"messages": messages[-1:]}) if messages else ""


def _reasons(decisions: dict[int, list[str]], unaddressed: set[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for mid, ds in decisions.items():
        if mid in unaddressed and ds:
            # "stay quiet (majority vote; votes: no no no)": its reason, "majority vote"
            reason = ds[0].split(" (", 1)[1].removesuffix(")").split("; ")[0]
            coalesced = reason.startswith("coalesced into")
            reason = "coalesced into <id>" if coalesced else reason.split(" on a")[0]
            out[reason] = out.get(reason, 0) + 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 messages")
    parser.add_argument("--messages", type=int, default=None, help="unaddressed messages (default 500)")
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--mention-every", type=int, default=25, help="an @mention every N messages")
    parser.add_argument("--window", type=float, default=2.0, help="vote_window_seconds")
    parser.add_argument("--rounds", type=int, default=3, help="bursts run (figures over all of them)")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="messages per second into the channel (0: as fast as the gateway takes them)")
    parser.add_argument("--vote-latency", type=float, default=0.1,
                        help="seconds the fake Claude takes to answer a vote, in the quiet-room run")
    parser.add_argument("--quiet-rounds", type=int, default=5, help="questions to a quiet room")
    parser.add_argument("--database-url", default=None,
                        help="a SCRATCH database (Kindred tables dropped); default: a fresh SQLite file")
    args = parser.parse_args()
    messages = args.messages if args.messages is not None else 200 if args.quick else 500
    logging.basicConfig(level=logging.WARNING)
    backend = (args.database_url or "sqlite").split(":")[0].split("+")[0]
    latencies: list[float] = []
    for _ in range(1 if args.quick else args.rounds):
        r = asyncio.run(burst(messages, args.people, args.mention_every, args.database_url, args.window,
                              args.rate))
        latencies += r["latencies"]
        print(f"burst ({backend}): {r['messages']} unaddressed messages from {args.people} people and "
              f"{r['mentions']} @mentions, sent in {r['sent_in'] * 1000:.0f} ms; "
              f"{r['votes']} vote calls = {r['votes'] / r['messages']:.3f} per unaddressed message "
              f"(target <= 0.3); logged {r['logged']}/{r['messages']}; decisions lost {r['lost']}, "
              f"twice {r['decided_twice']}; {r['reasons']}")
    print(f"burst ({backend}, {args.rate:g} messages/s): @mention inside the burst, fake Discord send -> "
          f"its Claude request at the fake Claude: {summary_ms(latencies)}, "
          f"p90 {percentile([x * 1000 for x in latencies], 90):.1f} ms, max {max(latencies) * 1000:.1f} ms "
          f"(target <= 20 ms); host load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    quiet = asyncio.run(quiet_room(args.database_url, args.window, args.vote_latency,
                                   2 if args.quick else args.quiet_rounds))
    firsts, replies = [q[0] * 1000 for q in quiet], [q[1] * 1000 for q in quiet]
    print(f"quiet room ({backend}, vote_window_seconds {args.window:g}, votes answered after "
          f"{args.vote_latency * 1000:.0f} ms): a question -> its first vote request p50 "
          f"{percentile(firsts, 50):.1f} ms, -> its reply request p50 {percentile(replies, 50):.1f} ms, max "
          f"{max(replies):.1f} ms (n={len(quiet)}; target: first vote + one vote round trip + a few ms); "
          f"host load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
