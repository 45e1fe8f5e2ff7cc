"""Prompt cache: the share of reply input tokens the API would read from its cache, over the real wire.

The real bot talks to the fake Discord and to the fake Claude, whose prompt cache applies Anthropic's
documented rules to each request body (tests/fakes/prompt_cache.py: prefixes in the order tools, system,
messages; at most 4 breakpoints; exact-prefix hits with the 20-block lookback; each model's minimum: 512
tokens on the 5.5 models, 1,024 for Sonnet 4.6, 4,096 for Haiku 4.5; token counts ~ characters / 4, about
30 % more on the 5.x tokenizer) and each family's rules (tests/fakes/claude_models.py). Run on a lineup's
real model ids (``--lineup 5``: Sonnet 5.5 replies, Haiku 5.5 votes, the default; ``--lineup 4``: Sonnet
4.6 and Haiku 4.5). Three conversations, on the shipped character (Finn) with the shipped feature set
(feelings, style mirroring, server emotes):

1. a 50-turn DM with one person;
2. a 3-person channel conversation of 40 messages, each @mentioning the character (round robin);
3. 10 unaddressed channel messages, each judged by the yes/no votes.

Reported per conversation: cache read / (cache read + cache write + uncached input), summed over its
requests, and what its tokens cost at the capability table's prices (bot/core/models/capabilities.py).
Targets: DM >= 95 %, channel >= 85 %, votes >= 80 % (on Haiku 5.5). The ratios are deterministic: no
timing involved. ``--day`` scales the measured tokens to a day of typical traffic (see :data:`DAY`) and
prices it on both lineups: docs/models.md quotes it.

``--pace human`` spaces the messages as people do, on a virtual clock that drives both the fake cache's
lifetimes (Anthropic's: 5 minutes from last use, 1 hour with ``"ttl": "1h"``) and the fake Discord's message
times (so the bot sees the pauses in its log): the gaps are drawn from a seeded distribution (:data:`GAPS`,
seed :data:`SEED`); ``--pace fast`` (the default without ``--day``) sends each message as soon as the reply is
logged, as before. Besides the read share, each conversation reports the tokens written at each lifetime and
its cost per reply in input-token equivalents (uncached 1x, 5-minute write 1.25x, 1-hour write 2x, read 0.1x;
"vs no cache": the same prompts with no cache_control) and in dollars.

The bot runs on a fixed clock (``--clock day``, the default: 08:00 in the character's zone, UTC here;
``--clock night``: 23:15, when the character's state says it is late at night, about 12 tokens more at
every reply after the cache breakpoint), the same virtual clock that the pauses move on: the bot's own
clock (its feelings' rhythm), the message times (the ``<now>`` line, the DM's time markers) and the fake
cache's lifetimes, so the figures do not depend on the hour, the day or the machine's zone they are run
at. Either start keeps a whole human-pace DM on its side of the night (about 5 hours of pauses).

``--tools`` turns web search on everywhere: every reply's request declares the tool (first in the cache
order), to show that the declared tools keep the read share.

Run: python -m benchmarks.bench_cache [--lineup 5|4] [--pace human|fast] [--clock day|night] [--seed 48]
     [--dm-turns 50] [--channel-messages 40] [--votes 10] [--day]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.models.capabilities import ModelTable
from tests.fakes.claude_models import lineup as suite_lineup
from tests.fakes.claude_server import Recorded, content_text
from tests.harness import CHANNEL_ID, GUILD_ID, Clock, Harness

LINEUPS = {"5": ("claude-sonnet-5-5", "claude-haiku-5-5"), "4": ("claude-sonnet-4-6", "claude-haiku-4-5")}
TABLE = ModelTable()
CAROL_ID = 900_000_000_000_000_103
CONFIG = {
    "summary_model": "claude-bench-summaries",  # kept apart: only replies are counted
    "max_typing_time": "0",
    # The real ids follow the table; the summaries' stand-in is declared (start-up checks every model id).
    "model_capabilities": "claude-bench-summaries=haiku-5.5",
    "timezone": "UTC",  # the character's zone, not the machine's: the clock below is read in it
}
# Where the virtual clock starts (a Friday): by day, and at night for the character (its rhythm's night is
# about 23:00-05:00 in its zone), each leaving a human-pace DM's 5 hours on its side of the night.
CLOCKS = {"day": datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
          "night": datetime(2026, 11, 20, 23, 15, tzinfo=UTC)}
# A day of typical traffic on one server (an assumption, stated in docs/models.md): 300 channel replies
# (@mentions, names, replies-to), 200 DM turns, and 1,500 unaddressed messages judged by 3 votes each.
DAY = {"channel": 300, "dm": 200, "votes": 1500 * 3}

# Human pace: the pause before each message, in minutes, drawn band by band (weight, low, high; uniform in
# the band). A DM: 60 % 0.5-3 min, 25 % 3-10 min, 15 % 10-60 min (median about 2.6 min; a third of the pauses
# outlive a 5-minute cache entry). A 3-person channel is busier: 70 % 0.25-2 min, 20 % 2-8 min, 10 % 8-45 min.
GAPS = {"dm": ((0.60, 0.5, 3.0), (0.25, 3.0, 10.0), (0.15, 10.0, 60.0)),
        "channel": ((0.70, 0.25, 2.0), (0.20, 2.0, 8.0), (0.10, 8.0, 45.0))}
SEED = 48
# Input-token equivalents of each kind of input token (Anthropic's multipliers of the base input price).
WEIGHTS = {"plain": 1.0, "write_5m": 1.25, "write_1h": 2.0, "read": 0.1}


class Pace:
    """The virtual clock the bot, the fake cache and the fake Discord share: a fixed start plus the pauses
    skipped so far (no real time: the same run gives the same figures at any hour)."""

    def __init__(self, kind: str, seed: int = SEED, start: datetime = CLOCKS["day"]) -> None:
        self.kind = kind
        self.offset = 0.0
        self.start = start
        self._random = random.Random(seed)
        self._discord: Clock | None = None

    def now(self) -> float:
        """Seconds, for the fake cache's lifetimes."""
        return self.start.timestamp() + self.offset

    def at(self) -> datetime:
        """The time, for the bot's clock."""
        return self.start + timedelta(seconds=self.offset)

    def drive(self, h: Harness) -> None:
        """Give the fake Discord's message ids this clock's time (discord.py reads a message's time from
        them) and the fake cache its lifetimes."""
        self._discord = Clock(h, self.at())
        h.claude.cache.clock = self.now

    def gap(self, scenario: str) -> float:
        """The next pause in seconds (0 at fast pace)."""
        if self.kind != "human":
            return 0.0
        roll = self._random.random()
        for weight, low, high in GAPS[scenario]:
            if roll < weight:
                return 60 * self._random.uniform(low, high)
            roll -= weight
        return 60 * GAPS[scenario][-1][2]

    def wait(self, h: Harness, scenario: str) -> float:
        """Let a person's pause pass (virtually) before their next message."""
        seconds = self.gap(scenario)
        self.offset += seconds
        if self._discord is not None:
            self._discord.at = self.at()
        return seconds

_SUBJECTS = ("the tide pools", "your tea stall", "the storm last night", "that crab who owes you money",
             "the lighthouse keeper", "kelp noodles", "the festival on the pier", "my cousin's boat")
_ASKS = ("what do you think about {s}?", "did you hear anything new about {s}?",
         "I keep thinking about {s}, is that weird?", "tell me a story about {s}, a short one.",
         "honestly, {s} made my whole week. You?")
# Replies the length the character's prompt asks for ("one to four sentences"): 60 to 110 tokens.
_REPLIES = ("Oh, {s}! Glub. I had a whole thought about that while steeping the morning pot, and it went "
            "somewhere strange. Sit down, I'll pour you a cup of kelp tea and tell you all of it, but you "
            "have to promise not to laugh at the part with the gull, because the gull was very rude and I "
            "stand by everything I said to him.",
            "Mm, {s}. You know, the currents carry gossip faster than any gull. *wipes the counter with a "
            "fin* Here's what reached my stall this week, and you didn't hear it from me: half the pools "
            "think it's a good omen and the other half think it's the crabs' fault. As usual.",
            "Ha! {s}, of all things. I once spent a whole tide arguing about that with a hermit crab called "
            "Pemberton. He won, mostly because he refused to leave his shell until I agreed with him, and "
            "I had a stall to run. What made you think of it?",
            "*looks up from the kettle* {s}? Now that's a question for a slow afternoon. I'd say it depends "
            "on the tide, like most things. The lighthouse keeper has opinions, the crabs have louder ones, "
            "and I mostly have tea. Tell me what you've heard first, and then I'll tell you what I think.")


_ASIDES = ("I was down at the docks this morning and the fog was thick as chowder.",
           "My shift ran late again, so I'm only just sitting down.", "",
           "Sorry if I'm rambling, it's been one of those days.", "")


def line(i: int) -> str:
    """The i-th thing a person says: varied, deterministic, one to three sentences (10 to 40 tokens)."""
    subject = _SUBJECTS[i % len(_SUBJECTS)]
    aside = _ASIDES[i % len(_ASIDES)]
    ask = _ASKS[(i // len(_SUBJECTS)) % len(_ASKS)].format(s=subject)
    return f"{aside} Hey Finn, {ask} (message {i})".strip()


def reply_for(body: dict[str, Any]) -> str:
    """The fake Claude's answer: a vote says no; a reply is a few sentences that depend on the request."""
    if "haiku" in str(body.get("model")):
        return "no"
    n = len(body.get("messages") or []) // 2
    return _REPLIES[n % len(_REPLIES)].format(s=_SUBJECTS[n % len(_SUBJECTS)])


@dataclass
class Tally:
    """Input tokens of a set of requests, split as the API reports them."""

    requests: int = 0
    read: int = 0
    written: int = 0
    written_1h: int = 0
    plain: int = 0
    output: int = 0
    cost: float = 0.0  # USD at the capability table's prices
    per_request: list[float] = field(default_factory=list)
    asked: Counter[str] = field(default_factory=Counter)  # each request's last user turn, how often asked

    def add(self, record: Recorded) -> None:
        self.asked[content_text(record.body["messages"][-1]["content"])[-200:]] += 1
        u = record.usage
        read, written, plain = (u["cache_read_input_tokens"], u["cache_creation_input_tokens"],
                                u["input_tokens"])
        self.requests += 1
        hour = int((u.get("cache_creation") or {}).get("ephemeral_1h_input_tokens") or 0)
        self.read, self.written, self.plain = self.read + read, self.written + written, self.plain + plain
        self.written_1h += hour
        self.output += u["output_tokens"]
        family = TABLE.family(record.model)
        if family is not None:
            self.cost += family.price(plain, u["output_tokens"], written, read, hour)
        self.per_request.append(read / max(1, read + written + plain))

    @property
    def ratio(self) -> float:
        """The share of input tokens read from cache."""
        return self.read / max(1, self.read + self.written + self.plain)

    @property
    def equivalents(self) -> float:
        """Input-token equivalents of the requests' input (:data:`WEIGHTS`)."""
        return (self.plain * WEIGHTS["plain"] + (self.written - self.written_1h) * WEIGHTS["write_5m"]
                + self.written_1h * WEIGHTS["write_1h"] + self.read * WEIGHTS["read"])

    @property
    def vs_uncached(self) -> float:
        """Input cost as a share of the same prompts sent with no cache_control."""
        return self.equivalents / max(1, self.read + self.written + self.plain)

    def describe(self) -> str:
        total = self.read + self.written + self.plain
        return (f"{self.ratio:.1%} read from cache ({self.read:,} of {total:,} input tokens; written "
                f"{self.written - self.written_1h:,} at 5 min, {self.written_1h:,} at 1 h; {self.plain:,} "
                f"uncached; {self.output:,} output) over {self.requests} requests; input "
                f"{self.vs_uncached:.2f}x of no cache, {self.equivalents / max(1, self.requests):,.0f} "
                f"token equivalents and ${self.per_call():.5f} per call, ${self.cost:.4f} in all")

    def per_call(self) -> float:
        return self.cost / max(1, self.requests)


@dataclass
class CacheFigures:
    dm: Tally
    channel: Tally
    votes: Tally
    last_channel_request: dict[str, Any] = field(default_factory=dict)  # the body, for content checks


async def _logged(h: Harness, channel_id: int, message_id: int) -> None:
    """Wait until the bot's own reply is in the log, as it is long before a person types the next line."""
    for _ in range(500):
        seen = await h.store.log.recent_messages(channel_id, limit=1)
        if seen and seen[-1].message_id >= message_id:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"message {message_id} never reached the log")


async def _tally(h: Harness, model: str, since: int) -> Tally:
    tally = Tally()
    for record in h.claude.requests[since:]:
        if record.model == model and record.status == 200:
            tally.add(record)
    return tally


async def run(db_url: str, tmp_path: Path, *, dm_turns: int = 50, channel_messages: int = 40,
              votes: int = 10, config: dict[str, str] | None = None, lineup: str | None = None,
              pace: str = "fast", seed: int = SEED, clock: str = "day") -> CacheFigures:
    """The three conversations on a fresh bot on ``lineup``'s models (None: the one the test suite runs
    on, KINDRED_TEST_LINEUP); ``config`` adds settings to :data:`CONFIG`; ``pace``: "fast" or "human";
    ``clock``: where the virtual clock starts (:data:`CLOCKS`)."""
    if lineup is None:
        lineup = "4" if suite_lineup()["reply"] == LINEUPS["4"][0] else "5"
    reply_model, vote_model = LINEUPS[lineup]
    models = {"default_model": reply_model, "premium_model": reply_model, "voting_model": vote_model}
    h = Harness(db_url=db_url, tmp_path=tmp_path, config={**CONFIG, **models, **(config or {})})
    await h.discord.start()
    await h.claude.start()
    await h.openai.start()
    h.build_world()
    h.discord.add_user(CAROL_ID, "carol")
    h.discord.add_member(GUILD_ID, CAROL_ID)
    h.claude.responder = reply_for
    h.claude.cache.min_tokens = None  # the documented per-model minimums (the harness caches anything)
    virtual = Pace(pace, seed, CLOCKS[clock])
    virtual.drive(h)
    bot = await h.start_bot()
    bot.services.alive.clock = virtual.at
    try:
        start = len(h.claude.requests)
        dm_channel = 0
        for i in range(dm_turns):
            if i:
                virtual.wait(h, "dm")
            await h.dm(line(i))
            if not dm_channel:
                dm_channel = await h.dm_channel_id()
            posted = await h.replies(dm_channel, i + 1, timeout=10)
            await _logged(h, dm_channel, int(posted[-1]["id"]))
            await h.at_rest()  # the reply's bookkeeping (feelings, style) done, as before a person answers
        dm = await _tally(h, reply_model, start)

        start = len(h.claude.requests)
        people = (h.user_id, h.user2_id, CAROL_ID)
        for i in range(channel_messages):
            virtual.wait(h, "channel")
            await h.say(line(100 + i), user=people[i % len(people)], mention=True)
            posted = await h.replies(CHANNEL_ID, i + 1, timeout=10)
            await _logged(h, CHANNEL_ID, int(posted[-1]["id"]))
            await h.at_rest()
        channel = await _tally(h, reply_model, start)
        last_channel = h.claude.last_request(reply_model).body if channel_messages else {}

        start = len(h.claude.requests)
        per_message = h.bot.settings.replies.yes_no_vote_count if h.bot else 3
        for i in range(votes):
            virtual.wait(h, "channel")
            await h.say(f"anyway, {_SUBJECTS[i % len(_SUBJECTS)]} again (aside {i})", user=people[i % 3])
            await h.claude.wait_for_requests(start + (i + 1) * per_message, timeout=10, model=None)
        vote = await _tally(h, vote_model, start)
        return CacheFigures(dm, channel, vote, last_channel)
    finally:
        await h.close()


def day_cost(figures: CacheFigures) -> dict[str, float]:
    """USD of a day of :data:`DAY` traffic: each kind of call at the measured run's average cost per call."""
    return {"channel replies": figures.channel.per_call() * DAY["channel"],
            "DM replies": figures.dm.per_call() * DAY["dm"],
            "votes": figures.votes.per_call() * DAY["votes"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lineup", choices=sorted(LINEUPS), default="5")
    parser.add_argument("--dm-turns", type=int, default=50)
    parser.add_argument("--channel-messages", type=int, default=40)
    parser.add_argument("--votes", type=int, default=10)
    parser.add_argument("--pace", choices=("human", "fast"), default=None,
                        help="human: seeded pauses on a virtual clock; fast: back to back (default without "
                             "--day; --day defaults to human)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="day",
                        help="the fixed time the run starts at: day (08:00) or night (23:15), in the "
                             "character's zone")
    parser.add_argument("--day", action="store_true", help="price a day of typical traffic on both lineups")
    parser.add_argument("--quick", action="store_true", help="the same run (it takes seconds; for run_all)")
    parser.add_argument("--tools", action="store_true",
                        help="web search on everywhere: every reply's request declares the tool")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    pace = args.pace or ("human" if args.day else "fast")
    for lineup in sorted(LINEUPS, reverse=True) if args.day else [args.lineup]:
        folder = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
        figures = asyncio.run(run(f"sqlite+aiosqlite:///{folder / 'bench.db'}", folder,
                                  dm_turns=args.dm_turns, channel_messages=args.channel_messages,
                                  votes=args.votes, lineup=lineup, pace=pace, seed=args.seed,
                                  clock=args.clock,
                                  config={"web_search": "everywhere"} if args.tools else None))
        reply_model, vote_model = LINEUPS[lineup]
        print(f"lineup {lineup}.x: replies {reply_model}, votes {vote_model}; {pace} pace from "
              f"{CLOCKS[args.clock]:%H:%M} ({args.clock})"
              + ("; web search declared" if args.tools else "")
              + (f" (seed {args.seed})" if pace == "human" else ""))
        print(f"  DM, {args.dm_turns} turns: {figures.dm.describe()}")
        print(f"  channel, 3 people, {args.channel_messages} @mentions: {figures.channel.describe()}  "
              "(target >= 85 %)")
        print(f"  votes, {args.votes} unaddressed messages: {figures.votes.describe()}  (target >= 80 % "
              "on Haiku 5.5)")
        if args.day:
            costs = day_cost(figures)
            parts = ", ".join(f"{k} ${v:.2f}" for k, v in costs.items())
            print(f"  a day ({DAY['channel']} channel replies, {DAY['dm']} DM turns, {DAY['votes']} votes): "
                  f"${sum(costs.values()):.2f} ({parts})")


if __name__ == "__main__":
    main()
