"""A live run for docs/prompts.md: the bot itself (tests/harness.py: the real bot against the fake Discord
and the fake Claude) through one evening, night and the days after, on a fixed clock: Alice in a DM and in
#general, Bob in #general, with a remembered note, core memories, facts to recall and a daily mood. Every
kind of request the bot sends is made once, by the path that makes it in production (a message, a round,
a timer's handler), and taken as the fake Claude received it, with the parts the layout named
(tests/prompt_docs.py renders them).
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from discord.utils import time_snowflake
from sqlalchemy import update

from bot.core.models.base import CallUsage
from bot.core.models.sent import SentRequest
from bot.core.stages import Incoming
from bot.features.proactive import ProactiveTalk
from bot.features.reminders.book import ReminderBook
from bot.features.swipes import ReplySwipes
from bot.features.voice.aloud import VIA_CALL
from bot.operator.asking import CollectingOutlet
from database.models import User
from tests.fakes import EVENT_WAIT
from tests.fakes.claude_server import FakeClaude, Recorded, Reply
from tests.fakes.claude_tools import UseTool
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    GUILD_ID,
    USER2_ID,
    USER_ID,
    Clock,
    Harness,
    check,
    eventually,
    press,
    run_due,
    run_round,
)
from tests.memory_support import consolidation_responder
from tests.place_support import place
from tests.ports import free_port
from tests.test_alive_proactive import Rolls, proactive
from tests.voice_support import VOICE_ID

AT = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)
JOINED = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
REPLY_MODEL = "claude-test-default"
VOTER = "claude-test-voter"
CONFIG = {
    # feelings off: their circadian part follows the wall clock, which a page kept in git cannot
    "emotions": "false",
    "yes_no_vote_count": "1",
    "proactive_chance": "1",
    "checkin_after_days": "2",
    "history_keep_messages": "4",  # the DM's summary pass has turns to fold
    "consolidation_batch": "false",  # the night's requests go as they do by day, one by one
    "server_tools": "true",  # switched on in #general only for Bob's question (/bot server-tools)
}
FACTS = ("Alice has a cat called Miso", "Alice works night shifts at the lighthouse",
         "Alice is allergic to shellfish")
DM_LINES = ("hi finn! the gulls were loud at the lighthouse last night",
            "I'M SO TIRED!!! night shifts are the worst",
            "anyway, how is the tea stall doing?",
            "do you have anything for a sleepy keeper? not with fish in it, remember")
ANSWERS = ("Glub, gulls! They steal my biscuits too.", "Oh no. Sit, I'll put the kettle on.",
           "Busy! The crabs queued all morning for oolong.", "Glub, chamomile and kelp-free honey, then.")


def checkin(body: dict[str, Any]) -> bool:
    return "asking how they are" in _text(body)


def _text(body: dict[str, Any]) -> str:
    return FakeClaude.all_text(body)


async def live_requests() -> dict[str, SentRequest]:
    """Each kind's request from the run, by kind ("dm reply", "vote", "summary", ...)."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        # the dashboard served: the model client keeps the requests as sent for its prompt inspector
        served = {"dashboard_port": str(free_port()), "dashboard_token": "prompt-docs-token-0123456789"}
        h = Harness(db_url=f"sqlite+aiosqlite:///{tmp / 'kindred.db'}", tmp_path=tmp,
                    config={**CONFIG, **served})
        await h.start()
        try:
            return await Run(h).run()
        finally:
            await h.close()


class Run:
    """The run: each step moves the clock, does what makes one kind of request and takes it."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.clock = Clock(h, AT)
        self.taken: dict[str, Recorded] = {}
        self.last_dm = AT
        assert h.bot is not None
        self.bot = h.bot
        # the bot's own clocks (the day's mood, the reminder's "how long ago") read the run's
        self.bot.services.alive.clock = lambda: self.clock.at
        self.bot.services.part(ReminderBook).clock = lambda: self.clock.at
        self.bot.services.timers.clock = lambda: self.clock.at  # the timer loop: the reminder due then
        self.bot.services.part(ReplySwipes).clock = lambda: self.clock.at  # when a swipe's answer is asked
        self.bot.services.asking.clock = lambda: self.clock.at  # when /ask is asked

    def at(self, when: datetime) -> datetime:
        self.clock.at = when
        return when

    async def take(self, kind: str, step: Callable[[], Awaitable[Any]], *, count: int = 1,
                   kinds: tuple[str, ...] = ()) -> None:
        """Run ``step``; the first ``count`` requests it made are ``kind`` (then ``kinds``, in order)."""
        before = len(self.h.claude.requests)
        await step()
        await self.h.at_rest()
        made = self.h.claude.requests[before:]
        for name, recorded in zip((kind, *kinds), made[:count], strict=True):
            self.taken[name] = recorded

    async def run(self) -> dict[str, SentRequest]:
        await self.setup()
        await self.dm()
        await self.channel()
        await self.night()
        await self.later()
        return self.requests()

    async def setup(self) -> None:
        h, store = self.h, self.h.store
        key = self.bot.services.pipeline.character_key
        await store.people.ensure_user(USER_ID, "alice")
        await store.people.ensure_user(USER2_ID, "bob")
        for member in h.discord.members[GUILD_ID].values():  # the fake stamps them with the wall clock
            member["joined_at"] = JOINED.isoformat()
        await store.state.set("daily_mood", "Cheerful: the tide came in warm this morning.")
        await store.memories.add_core_memory(key, USER_ID, "Alice keeps the Greywick lighthouse",
                                             source="model")
        remembered = await h.slash("remember", [{"name": "memory", "type": 3,
                                                 "value": "never offer me anything made of fish"}])
        await remembered.message()
        await self.admin("server-tools", "off")
        await (await h.slash("checkin", [{"type": 1, "name": "on", "options": []}])).text()
        for text in FACTS:
            await store.facts.add(USER_ID, text, embedding=await self.bot.services.memory.embed(text),
                                  said_at=AT - timedelta(days=9))

    async def dm(self) -> None:
        h = self.h
        dm = await h.dm_channel_id()
        for n, (text, answer) in enumerate(zip(DM_LINES, ANSWERS, strict=True), 1):
            self.at(AT + timedelta(minutes=7 * n))
            h.claude.script(answer, model=REPLY_MODEL)
            await h.dm(text)
            await h.replies(dm, n)
            await h.at_rest()
        self.taken["dm reply"] = h.claude.last_request(REPLY_MODEL)
        # she asks for a reminder: the set_reminder tool, and the reply that follows its result
        self.last_dm = self.at(AT + timedelta(minutes=40))
        h.claude.script(Reply(tools=UseTool(
            "set_reminder", {"text": "feed Miso", "local_time": None, "in_minutes": 30, "repeat": None},
            answer="Will do, I'll nudge you!")), times=2)

        async def ask() -> None:
            await h.dm("remind me in half an hour to feed Miso")
            await h.replies(dm, 5)

        await self.take("tool reply", ask, count=2, kinds=("tool follow-up",))
        # the DM has grown: its summary pass (the summary, then the core memories)
        h.claude.script("We talked of gulls, night shifts and tea; I promised her chamomile.")
        h.claude.script("- Alice keeps the Greywick lighthouse\n"
                        "- Alice has a cat called Miso, who judges tea")
        summarizer = self.bot.services.memory.summarizer
        await self.take("summary", lambda: summarizer.summarize(USER_ID, "dm", "alice"),
                        count=2, kinds=("core memories",))
        # facts of hers changed: the DM's summary is rewritten, told what is known now
        h.claude.script("We talked of gulls, night shifts and tea; I promised her chamomile.")
        await self.take("summary rewrite", lambda: summarizer.refresh_summaries(USER_ID, [(True, None)]))
        # the reminder comes due: the timer loop's pass at its time runs its handler
        [row] = await h.store.reminders.open_for(USER_ID)
        delivery = self.bot.services.timers.handlers["reminder"]
        delivery.__self__.clock = lambda: self.clock.at  # type: ignore[attr-defined]
        h.claude.script("Alice! Miso's bowl is calling. Glub.", model=REPLY_MODEL)
        self.at(row.due_at)
        await self.take("reminder", lambda: run_due(self.bot.services.timers))

    async def channel(self) -> None:
        h = self.h
        self.at(AT + timedelta(hours=2))
        h.claude.script("Miso? She sat on the counter and judged my oolong.", model=REPLY_MODEL)

        async def mention() -> None:
            await h.say("finn, does Miso like the tea stall?", mention=True)
            await h.replies(CHANNEL_ID, 1)

        await self.take("channel reply", mention)
        # she asks for another answer (the swipe's 🔄): the same request, the same words kept
        h.claude.script("Miso? She sat on the counter and judged my oolong.", model=REPLY_MODEL)
        [answer] = h.discord.posted(CHANNEL_ID)[-1:]
        await h.discord.wait_for(lambda _: answer.get("components"), EVENT_WAIT, what="the swipe buttons")

        async def swipe() -> None:
            before = len(h.claude.requests)
            await (await press(h, answer, "new")).response()
            await eventually(check(lambda: len(h.claude.requests) > before), "the swipe's request")

        await self.take("swipe", swipe)
        # Bob asks about Alice where the server's tools are on: member_info, and the reply from its result
        self.at(AT + timedelta(hours=2, minutes=10))
        await self.admin("server-tools", "on")
        asked = UseTool("member_info", {"name": "alice"}, answer="That's alice, a regular since March!")
        h.claude.script(Reply(tools=asked), times=2)

        async def who() -> None:
            await h.say("finn, who is alice?", user=USER2_ID, mention=True)
            await h.replies(CHANNEL_ID, 2)

        await self.take("server tools reply", who, count=2, kinds=("server tools follow-up",))
        # Bob, to nobody: the vote on whether Finn joins in
        self.at(AT + timedelta(hours=2, minutes=20))
        h.claude.script("no", model=VOTER)
        await self.take("vote", lambda: h.say("the gulls took my chips again", user=USER2_ID))
        # a quiet spell: Finn speaks up on its own
        await self.admin("proactive", "on")
        self.bot.services.part(ProactiveTalk).round.rng = Rolls(0.0, 0.2)  # within the chance; a comment
        h.claude.script("Kelp is the ocean's finest scarf, honestly.", match=proactive)
        when = self.at(AT + timedelta(hours=2, minutes=40))
        async def speak() -> None:
            round_ = self.bot.services.part(ProactiveTalk).round
            said = await round_.run(when)
            assert said == "spoke in 1 of 1 channel(s)", (said, round_.last)

        await self.take("proactive", speak)

    async def admin(self, sub: str, state: str) -> None:
        options = [{"name": "state", "type": 3, "value": state}]
        ix = await self.h.slash("bot", [{"name": sub, "type": 1, "options": options}], user=ADMIN_ID)
        await ix.message()

    async def night(self) -> None:
        """The nightly moment: the consolidation, then the new day's mood and the status that reads it."""
        h = self.h
        self.at(datetime(2026, 11, 21, 4, 0, tzinfo=UTC))
        h.claude.responder = consolidation_responder()
        await self.take("extraction", self.bot.services.memory_jobs.daily)
        h.claude.responder = None
        h.claude.script("Drowsy and warm, like a teapot left on the hob.")
        await self.take("mood", lambda: self.bot.services.alive.new_day(self.clock.at))
        h.claude.script("Brewing chamomile for the night shift")
        await self.take("status", lambda: self.bot.services.alive.status.refresh(self.clock.at))

    async def later(self) -> None:
        """Three days without a word from Alice: the check-in."""
        h = self.h
        # the database stamps when a person was last seen by its own clock: set to the run's, her last DM
        async with h.store.engine.begin() as conn:
            await conn.execute(update(User).where(User.id == USER_ID).values(last_seen=self.last_dm))
        h.claude.script("Alice! The gulls miss you. How is Miso?", match=checkin)
        when = self.at(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
        await self.take("check-in", lambda: run_round(h, "checkins", when))
        # Bob asks Finn privately, from anywhere (/ask)
        h.claude.script("Kelp tea, always. Glub.", model=REPLY_MODEL)

        async def ask() -> None:
            options = [{"name": "message", "type": 3, "value": "what's your favourite tea?"}]
            await (await h.slash("ask", options, user=USER2_ID)).message()

        await self.take("/ask", ask)
        # Alice in a voice call: her words come in as talk.py makes them, and the answer will be spoken
        h.claude.script("Half past nine, and the kettle is on.", model=REPLY_MODEL)
        heard = Incoming(message_id=time_snowflake(self.at(when + timedelta(minutes=5))),
                         author_id=USER_ID, author_name="alice", content="[voice] finn, what time is it?",
                         created_at=self.clock.at,
                         place=place(VOICE_ID, False, GUILD_ID, guild_name="Tide Pool",
                                     channel_name="Lounge"),
                         mentions_bot=True, via=VIA_CALL)
        outlet = CollectingOutlet()
        await self.take("voice-channel reply",
                        lambda: self.bot.services.replies.handle(heard, lambda _key: outlet))

    def requests(self) -> dict[str, SentRequest]:
        # the client's own record of what it sent, with the parts the layout named (the prompt inspector's)
        sent = self.bot.services.claude.sent
        assert sent is not None  # kept while the dashboard is served
        kept = sent.recent()
        out: dict[str, SentRequest] = {}
        for number, (kind, recorded) in enumerate(self.taken.items(), 1):
            body = recorded.body
            match = next((r for r in kept if r.request.get("messages") == body["messages"]
                          and r.request.get("system") == body.get("system")), None)
            parts = match.parts if match is not None else ()
            out[kind] = SentRequest(number, AT, kind, str(body.get("model")), None, body, parts,
                                    CallUsage(), "")
        return out
