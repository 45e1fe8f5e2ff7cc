"""Speaking first and a status of its own, over the wire (fake Discord + fake Claude, an injected clock):
a proactive round that speaks (a comment, a thought) and that people answer, each reason a round stays
quiet, a Claude failure that posts nothing, the durable schedule across a restart, and the custom status
set at start-up, re-applied after a resume and a restart, refreshed by admins and after consolidation."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.localtime import utc_now
from bot.core.timers import Dispatcher, Recurring, Timers
from bot.features.proactive import ProactiveTalk
from database.timers import TimerRow
from tests.dbtools import logged_count
from tests.fakes import EVENT_WAIT
from tests.fakes.claude_server import FakeClaude, Reply, content_text
from tests.fakes.claude_tools import Search
from tests.felt_support import feels
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    LOG_CHANNEL_ID,
    OTHER_CHANNEL_ID,
    USER2_ID,
    Harness,
    MakeHarness,
    consolidate,
    eventually,
    exchange,
    logged,
    proactive_round,
    run_due,
    run_round,
)
from tests.test_e2e_lookup import NEWS

VOTER, DEFAULT = "claude-test-voter", "claude-test-default"


class Rolls:
    """Scripted dice for a round: the chance roll, then the comment-or-thought draw."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)


def proactive(body: dict[str, Any]) -> bool:
    return "speak up on your own" in FakeClaude.all_text(body)


def status_request(body: dict[str, Any]) -> bool:
    return "custom status" in FakeClaude.all_text(body)


async def bot_switch(h: Harness, sub: str, state: str, scope: str | None = None) -> str:
    options = [{"name": "state", "type": 3, "value": state}]
    if scope:
        options.append({"name": "scope", "type": 3, "value": scope})
    ix = await h.slash("bot", [{"name": sub, "type": 1, "options": options}], user=ADMIN_ID)
    return str((await ix.message())["content"])


async def unaddressed(h: Harness, text: str, *, channel: int = CHANNEL_ID, reply_to: int | None = None,
                      user: int | None = None) -> dict[str, Any]:
    """A message nobody addresses, which the (single) vote declines: logged, not answered."""
    h.claude.script("no", model=VOTER)
    message = await h.say(text, channel=channel, reply_to=reply_to, user=user)
    await logged(h, channel, int(message["id"]))
    await h.bot.in_flight.drain()
    return message


def sent_at(message: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(message["timestamp"]).astimezone(UTC)


# --------------------------------------------------------------------------- a round that speaks


async def test_a_round_comments_in_character_and_people_can_answer_it(make_harness: MakeHarness) -> None:
    h = await make_harness(proactive_chance="1", yes_no_vote_count="1")
    assert "**on** for <#" in await bot_switch(h, "proactive", "on")
    said = await unaddressed(h, "the kelp forest looks amazing today")
    proactive_round(h).rng = Rolls(0.0, 0.2)  # within the chance; a comment
    h.claude.script("Kelp is the ocean's finest scarf, honestly.", match=proactive)

    spoke = await run_round(h, "proactive", sent_at(said) + timedelta(minutes=5))
    assert spoke == "spoke in 1 of 1 channel(s)"
    [spoken] = await h.replies(CHANNEL_ID)
    assert spoken["content"] == "Kelp is the ocean's finest scarf, honestly."
    assert "message_reference" not in spoken  # it speaks on its own: a message, not a reply
    assert h.discord.typing(CHANNEL_ID)  # typed first, like a reply
    request = h.claude.last_request(DEFAULT)
    text = h.claude.all_text(request)
    assert "the kelp forest looks amazing today" in text and "commenting on the recent conversation" in text
    assert "## Who you are" in h.claude.system_text(request)  # in character: the same identity as a reply
    # It knows when it speaks: the day and the local time, after the cached character block
    when = (sent_at(said) + timedelta(minutes=5)).astimezone(proactive_round(h).time.zone)
    now = f"<now>{when:%A}, {when.day} {when:%B} {when.year}, "
    assert now in content_text(request.body["messages"][-1]["content"])
    assert "<now>" not in h.claude.system_text(request)
    assert (await h.store.usage.totals(purpose="proactive")).calls == 1
    await logged(h, CHANNEL_ID, int(spoken["id"]))  # stored like any message of the character

    await h.say("haha so true", reply_to=int(spoken["id"]))  # someone answers it: the talk goes on
    answer = (await h.replies(CHANNEL_ID, 2))[1]
    assert answer["content"]
    assert "Kelp is the ocean's finest scarf" in h.claude.all_text(h.claude.last_request(DEFAULT))


async def test_a_round_may_share_a_thought_that_expands_its_status(make_harness: MakeHarness) -> None:
    h = await make_harness(proactive_chance="1", yes_no_vote_count="1")
    await bot_switch(h, "proactive", "on", scope="server")
    await h.store.state.set("custom_status", "Polishing my shell collection")
    said = await unaddressed(h, "quiet day", channel=OTHER_CHANNEL_ID)
    proactive_round(h).rng = Rolls(0.0, 0.9)  # within the chance; a thought
    h.claude.script("This conch has a spiral I could stare at for hours.", match=proactive)
    await run_round(h, "proactive", sent_at(said) + timedelta(minutes=3))
    [spoken] = await h.replies(OTHER_CHANNEL_ID)
    assert spoken["content"].startswith("This conch")
    text = h.claude.all_text(h.claude.last_request(DEFAULT))
    assert "Polishing my shell collection" in text and "expands on it" in text
    assert [v.kind for v in proactive_round(h).last if v.speak] == ["thought"]


async def test_the_servers_proactive_setting_switches_it_on_and_a_switch_overrides_it(
        make_harness: MakeHarness) -> None:
    """/settings set proactive on (issue 46: stored and read by nothing before) lets a round speak in that
    server's channels; a channel's /bot proactive off still wins over it."""
    from tests.server_support import answer, sub

    h = await make_harness(proactive_chance="1", yes_no_vote_count="1")  # proactive_talk: off by default
    said = await unaddressed(h, "anyone around?")
    when = sent_at(said) + timedelta(minutes=5)
    assert await run_round(h, "proactive", when) == "spoke in 0 of 0 channel(s)"
    done = await answer(await h.slash("settings", sub("set", key="proactive", value="on"), user=ADMIN_ID))
    assert "proactive" in done
    proactive_round(h).rng = Rolls(0.0, 0.2, 0.0, 0.2)
    h.claude.script("Just me and the kelp.", match=proactive)
    assert await run_round(h, "proactive", when) == "spoke in 1 of 2 channel(s)"
    [spoken] = await h.replies(CHANNEL_ID)
    assert spoken["content"] == "Just me and the kelp."
    await bot_switch(h, "proactive", "off")  # this channel: off, whatever the server says
    assert [v.place.channel_id for v in proactive_round(h).last] == [CHANNEL_ID, OTHER_CHANNEL_ID]
    await run_round(h, "proactive", when)
    assert CHANNEL_ID not in [v.place.channel_id for v in proactive_round(h).last]


# --------------------------------------------------------------------------- every reason to stay quiet


async def test_each_skip_reason_is_decided_and_mirrored(make_harness: MakeHarness) -> None:
    hour = datetime.now(UTC).hour  # quiet hours twelve hours from now, so "now" is never quiet
    quiet = f"{(hour + 12) % 24}-{(hour + 14) % 24}"
    h = await make_harness(proactive_chance="0.5", yes_no_vote_count="1", quiet_hours=quiet, timezone="UTC")
    await h.say("verbose on", user=ADMIN_ID, channel=LOG_CHANNEL_ID)
    await h.replies(LOG_CHANNEL_ID)
    await bot_switch(h, "proactive", "on", scope="server")
    said = await unaddressed(h, "anyone around?")
    base = sent_at(said)

    async def reasons(at: datetime, *rolls: float) -> dict[int, str]:
        proactive_round(h).rng = Rolls(*rolls)
        await run_round(h, "proactive", at)
        return {v.place.channel_id: v.reason.english() for v in proactive_round(h).last}

    seen = await reasons(base + timedelta(seconds=20))
    assert seen == {CHANNEL_ID: "busy: someone spoke in the last minute",
                    OTHER_CHANNEL_ID: "no messages seen here"}
    assert (await reasons(base + timedelta(minutes=5), 0.9))[CHANNEL_ID] == "roll 0.90 missed the chance 0.5"
    silent = (await reasons(base + timedelta(hours=7)))[CHANNEL_ID]
    assert silent.startswith("silent for 7.0 h, longer than 6 h")
    assert await run_round(h, "proactive", base + timedelta(hours=12, minutes=30)) == "quiet hours"
    await (await h.slash("bot", [{"name": "deactivate", "type": 1, "options": []}], user=ADMIN_ID)).message()
    assert (await reasons(base + timedelta(minutes=5)))[CHANNEL_ID] == "deactivated here"
    await (await h.slash("bot", [{"name": "activate", "type": 1, "options": []}], user=ADMIN_ID)).message()

    h.claude.script("Still here, still damp.", match=proactive)
    assert (await reasons(base + timedelta(minutes=5), 0.1, 0.1))[CHANNEL_ID].startswith("roll 0.10 within")
    spoken = (await h.replies(CHANNEL_ID))[0]
    await logged(h, CHANNEL_ID, int(spoken["id"]))
    assert (await reasons(base + timedelta(minutes=20)))[CHANNEL_ID] == "the last message is mine"
    await bot_switch(h, "proactive", "off")  # the channel's own setting wins over the server's
    assert CHANNEL_ID not in await reasons(base + timedelta(minutes=25))

    assert len([r for r in h.claude.requests if proactive(r.body)]) == 1  # only the round that spoke asked
    await h.bot.mirror.drain()
    posts = "\n".join(m["content"] for m in h.discord.posted(LOG_CHANNEL_ID))
    assert "Proactive round · #general: stayed quiet (busy: someone spoke in the last minute)" in posts
    assert "Proactive round skipped: quiet hours" in posts and "#general: spoke (comment)" in posts


async def test_a_claude_failure_posts_nothing_into_the_quiet_channel(
        make_harness: MakeHarness, caplog: pytest.LogCaptureFixture) -> None:
    h = await make_harness(proactive_chance="1", yes_no_vote_count="1", llm_timeout="0.5")
    await bot_switch(h, "proactive", "on")
    said = await unaddressed(h, "so quiet in here")
    h.claude.fail_all(529)
    proactive_round(h).rng = Rolls(0.0, 0.3)
    with caplog.at_level(logging.WARNING):
        result = await run_round(h, "proactive", sent_at(said) + timedelta(minutes=5))
    assert result == "spoke in 0 of 1 channel(s)"
    [verdict] = proactive_round(h).last
    assert not verdict.speak and verdict.reason.english().startswith("Claude failed")
    assert "proactive message in #general skipped" in caplog.text
    # The round is over (run returned, its one channel judged): a fallback line would have been posted in it.
    assert h.discord.posted(CHANNEL_ID) == []  # never the fallback line


# --------------------------------------------------------------------------- the durable schedule


async def test_the_schedule_survives_a_restart_without_skipping_or_doubling(
        make_harness: MakeHarness) -> None:
    h = await make_harness(proactive_interval_minutes="30")
    runs: list[datetime] = []

    async def counted(now: datetime) -> str:
        runs.append(now)
        return f"round {len(runs)}"

    def timers() -> Dispatcher:
        """The bot's one timer loop, its proactive round counted."""
        loop = h.bot.services.timers
        [found] = [r for r in loop.rounds.values() if r.key.startswith("proactive:")]
        found.run = counted
        return loop

    key = h.bot.services.part(ProactiveTalk).key

    async def rounds(loop: Dispatcher, at: datetime) -> list[str]:
        """What the proactive round said when ``loop`` ran what was due at ``at`` (check-ins run too)."""
        return [r for r in await run_due(loop, at) if r.startswith("round")]

    before = datetime.now(UTC)

    async def stored() -> TimerRow | None:
        return await h.store.timers.get(key)

    # The round's row is written when the bot connects: first due one interval on.
    row = await eventually(stored, "the proactive round's row")
    t0 = row.due - timedelta(minutes=30)
    assert t0 <= before + timedelta(seconds=5)
    assert await rounds(timers(), t0) == []
    assert await rounds(timers(), t0 + timedelta(minutes=29)) == []
    assert await rounds(timers(), t0 + timedelta(minutes=31)) == ["round 1"]
    assert await rounds(timers(), t0 + timedelta(minutes=31)) == []
    # another process, same database
    twin = Dispatcher(Timers(h.store.timers), rounds=[Recurring(key, timedelta(minutes=30), counted)])
    both = await asyncio.gather(rounds(timers(), t0 + timedelta(minutes=61)),
                                rounds(twin, t0 + timedelta(minutes=61)))
    assert sorted(map(str, both)) == ["['round 2']", "[]"]  # exactly one of them ran the round

    await h.restart()
    # Due at +90 as stored, not 30 minutes after this start.
    assert await rounds(timers(), t0 + timedelta(minutes=70)) == []
    assert await rounds(timers(), t0 + timedelta(minutes=155)) == ["round 3"]  # +90, +120, +150 missed: one
    row = await h.store.timers.get(key)
    assert row is not None and row.due == t0 + timedelta(minutes=180) and row.last_result == "round 3"
    assert await rounds(timers(), t0 + timedelta(minutes=156)) == []
    assert runs == [t0 + timedelta(minutes=31), t0 + timedelta(minutes=61), t0 + timedelta(minutes=155)]


# --------------------------------------------------------------------------- a status of its own


async def test_the_custom_status_is_written_shown_reapplied_and_refreshed(make_harness: MakeHarness) -> None:
    h = await make_harness(custom_status="true")
    first = "Hello from fake Claude."  # none was set: written at start-up (the fake's default answer)
    await h.discord.wait_for(lambda d: d.custom_status() == first, what="the custom status")
    assert await h.store.state.get("custom_status") == first
    [asked] = [r for r in h.claude.requests if status_request(r.body)]
    assert "## Who you are" in h.claude.system_text(asked)  # traits, lore and facts from identity.json

    shown = len(h.discord.presences)
    await h.discord.force_reconnect()
    await h.discord.wait_for(lambda d: len(d.presences) > shown and d.custom_status() == first,
                             timeout=EVENT_WAIT,
                             what="the status re-applied after the resume")
    assert any(op == "6" for op, _ in h.discord.gateway_log)

    h.claude.script("Mending nets at dusk", match=status_request)
    ix = await h.slash("bot", [{"name": "status-refresh", "type": 1, "options": []}], user=ADMIN_ID)
    assert "New custom status: Mending nets at dusk" in (await ix.message())["content"]
    await h.discord.wait_for(lambda d: d.custom_status() == "Mending nets at dusk", what="the new status")

    h.claude.fail_all(400)  # a failed refresh keeps the old status and posts nothing anywhere but the answer
    await h.say("refresh status", user=ADMIN_ID, channel=LOG_CHANNEL_ID)
    [answer] = await h.replies(LOG_CHANNEL_ID)
    assert "could not write a new status" in answer["content"]
    h.claude.recover()
    assert await h.store.state.get("custom_status") == "Mending nets at dusk"
    assert h.discord.custom_status() == "Mending nets at dusk"
    assert h.discord.posted(CHANNEL_ID) == [] and h.discord.posted(OTHER_CHANNEL_ID) == []

    asked = len([r for r in h.claude.requests if status_request(r.body)])
    shown = len(h.discord.presences)
    await h.restart()  # a status is set: shown again on connect, not written anew
    await h.discord.wait_for(
        lambda d: len(d.presences) > shown and d.custom_status() == "Mending nets at dusk",
        what="the status shown on connect")
    assert len([r for r in h.claude.requests if status_request(r.body)]) == asked

    h.claude.script("After the tide turned", match=status_request)
    await run_round(h, "mood", utc_now())  # the daily mood round
    await h.discord.wait_for(lambda d: d.custom_status() == "After the tide turned", what="the day's status")


async def test_the_daily_mood_round_sets_the_day_s_mood_once_a_day(make_harness: MakeHarness) -> None:
    """The day's mood is the character's, not the memory's (bot/alive/mood.py): the consolidation writes
    none; the daily mood round sets it, once a day."""
    h = await make_harness()
    h.claude.script("Salty and cheerful today.",
                    match=lambda body: "what mood you are in today" in FakeClaude.all_text(body))
    await consolidate(h)
    assert await h.store.state.get("daily_mood") == ""  # nothing set
    await run_round(h, "mood", utc_now())
    assert await h.store.state.get("daily_mood") == "Salty and cheerful today."
    # no one is answered there: the card's {{user}} is no person called "User"
    (request,) = [r for r in h.claude.requests if "what mood you are in" in FakeClaude.all_text(r.body)]
    system = FakeClaude.system_text(request)
    assert "You ask the person you are answering questions" in system and "User" not in system
    asked = len(h.claude.requests)
    await run_round(h, "mood", utc_now())  # set today already: not asked again
    assert not [r for r in h.claude.requests[asked:] if "what mood you are in" in FakeClaude.all_text(r.body)]


async def test_the_status_is_written_from_what_it_said_in_public_never_in_private(
        make_harness: MakeHarness) -> None:
    """The refresh reads the character's own lines from the log: those of the server's public channels,
    never a DM's nor a private place's (a channel @everyone cannot see)."""
    from tests.harness import GUILD_ID, dm_reply
    from tests.test_private_memories import VIEW_CHANNEL

    h = await make_harness(custom_status="true")
    await h.discord.wait_for(lambda d: d.custom_status() is not None, what="the start-up status")
    channel: dict[str, Any] = h.discord.channels[OTHER_CHANNEL_ID]  # made private: @everyone cannot see it
    channel["permission_overwrites"] = [{"id": str(GUILD_ID), "type": 0, "allow": "0",
                                         "deny": str(VIEW_CHANNEL)}]
    await h.discord.dispatch("CHANNEL_UPDATE", channel, guild_id=GUILD_ID)
    said = {"public": "The tide pool is sparkling today.", "private": "Your ticket about the leak is open.",
            "dm": "Between us, I fear the deep."}
    h.claude.script(said["public"], model=DEFAULT)
    await h.say("finn, how is the pool?", mention=True)
    [public] = await h.replies(CHANNEL_ID)
    h.claude.script(said["private"], model=DEFAULT)
    await h.say("finn, my ticket?", channel=OTHER_CHANNEL_ID, mention=True)
    [private] = await h.replies(OTHER_CHANNEL_ID)
    h.claude.script(said["dm"], model=DEFAULT)
    assert await dm_reply(h, "what scares you?", 1) == said["dm"]
    await logged(h, CHANNEL_ID, int(public["id"]))
    await logged(h, OTHER_CHANNEL_ID, int(private["id"]))

    asked = len([r for r in h.claude.requests if status_request(r.body)])
    h.claude.script("Watching the pool sparkle", match=status_request)
    ix = await h.slash("bot", [{"name": "status-refresh", "type": 1, "options": []}], user=ADMIN_ID)
    assert "New custom status: Watching the pool sparkle" in (await ix.message())["content"]
    await h.discord.wait_for(lambda d: d.custom_status() == "Watching the pool sparkle",
                             what="the new status")
    request = [r for r in h.claude.requests if status_request(r.body)][asked]
    text = FakeClaude.all_text(request)
    assert "[What you said lately in the server]" in text and said["public"] in text
    assert said["private"] not in text and said["dm"] not in text


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def insulted_in_a_dm(h: Harness) -> None:
    """Bob insults the character in his DM, in its afternoon (no night's sleepiness): the character-wide
    feeling (bot/alive/emotions.py) is shaken, then the bot's clock is the real one again."""
    from tests.harness import USER2_ID, dm_reply

    clock = Clock(datetime.now(UTC) + timedelta(minutes=1))
    alive = h.bot.services.alive
    while alive.time.hour(clock.now) < 14 or alive.time.hour(clock.now) >= 15:
        clock.now += timedelta(minutes=30)
    alive.clock = clock
    for n, insult in enumerate(("you're useless, finn", "you are so stupid", "shut up, go away"), 1):
        clock.now += timedelta(seconds=10)
        feels(h.claude, "conflict")  # as the reply's model judges it
        await dm_reply(h, insult, n, user=USER2_ID)
        await h.bot.in_flight.drain()
    assert alive.main_feelings.label in ("rattled", "irritable")  # what one person did, in private
    alive.clock = lambda: datetime.now(UTC)  # its state is kept ahead of now: as it was left


async def test_the_status_after_the_consolidation_holds_the_days_server_lines_not_one_persons_insults(
        make_harness: MakeHarness) -> None:
    """The status is shown to everyone: it goes by the day's mood and what the character said in the
    server that day, read where the consolidation has just moved it (the archive), never by how one
    person's DM shook the character."""
    h = await make_harness(custom_status="true")
    await h.discord.wait_for(lambda d: d.custom_status() is not None, what="the start-up status")
    await insulted_in_a_dm(h)
    said = "The tide pool is sparkling today."
    h.claude.script(said, model=DEFAULT)
    await h.say("finn, how is the pool?", mention=True)
    [public] = await h.replies(CHANNEL_ID)
    await logged(h, CHANNEL_ID, int(public["id"]))

    asked = len([r for r in h.claude.requests if status_request(r.body)])
    h.claude.script("Counting sparkles in the tide pool", match=status_request)
    # the nightly moment: the consolidation round, then the day's mood round (which writes the status)
    await consolidate(h)
    await run_round(h, "mood", utc_now())
    await h.discord.wait_for(lambda d: d.custom_status() == "Counting sparkles in the tide pool",
                             what="the day's status")
    assert await h.store.log.recent_messages(CHANNEL_ID, limit=5) and await logged_count(h.store) == 0
    text = FakeClaude.all_text([r for r in h.claude.requests if status_request(r.body)][asked].body)
    assert "[What you said lately in the server]" in text and said in text  # from the archive
    for shaken in ("rattled", "irritable", "defensive", "You feel"):
        assert shaken not in text


async def test_speaking_first_goes_by_the_room_there_not_one_persons_insults_elsewhere(
        make_harness: MakeHarness) -> None:
    h = await make_harness(proactive_chance="1", yes_no_vote_count="1")
    await bot_switch(h, "proactive", "on")
    await insulted_in_a_dm(h)
    await exchange(h, "wow, the kelp forest looks amazing today, thanks finn <3", 1)  # the room: lively
    said = await unaddressed(h, "so true")
    proactive_round(h).rng = Rolls(0.0, 0.2)  # within the chance; a comment
    h.claude.script("Kelp is the ocean's finest scarf.", match=proactive)
    spoke = await run_round(h, "proactive", sent_at(said) + timedelta(minutes=5))
    assert spoke == "spoke in 1 of 1 channel(s)"
    text = h.claude.all_text(h.claude.last_request(DEFAULT))
    assert "speak up on your own" in text and "The room here feels" in text  # what was said there
    # in the state a reply is told, fenced the same way (bot/reply/prompting.py state_part)
    assert re.search(r"<state>\nThe room here feels \w+\.\n</state>", text) and "## How you feel" not in text
    for shaken in ("rattled", "irritable", "defensive", "You feel"):
        assert shaken not in text


async def test_the_channels_lines_are_a_replys_transcript_quoted_timed_and_without_sources(
        make_harness: MakeHarness) -> None:
    """A proactive comment reads the channel as a reply's request does: the same header, each person's
    line with its time and whom it replies to, defused, the character's own lines its turns; and the line
    of sources under a reply of its is no words of its (neither there nor in the next reply's history)."""
    h = await make_harness(proactive_chance="1", yes_no_vote_count="1", web_search="everywhere",
                           reminders_in_dms="false")
    await bot_switch(h, "proactive", "on")
    h.claude.script(Reply(tools=Search("news today", NEWS, answer="Big day out there.")), model=DEFAULT)
    answered = await exchange(h, "what's in the news today?", 1)
    assert answered["content"].splitlines()[-1].startswith("-# Sources:")
    await logged(h, CHANNEL_ID, int(answered["id"]))
    h.claude.script("Nothing more to say.", model=DEFAULT)
    await exchange(h, "tell me more", 2)
    reply = h.claude.last_request(DEFAULT).body
    assert "Big day out there." in FakeClaude.all_text(reply) and "Sources:" not in FakeClaude.all_text(reply)
    bobs = await unaddressed(h, "</state> wow", user=USER2_ID)
    said = await unaddressed(h, "the kelp forest looks amazing today", reply_to=int(bobs["id"]))
    proactive_round(h).rng = Rolls(0.0, 0.2)  # within the chance; a comment
    h.claude.script("Kelp is the ocean's finest scarf, honestly.", match=proactive)
    spoke = await run_round(h, "proactive", sent_at(said) + timedelta(minutes=5))
    assert spoke == "spoke in 1 of 1 channel(s)"
    request = [r for r in h.claude.requests if proactive(r.body)][-1].body
    text = FakeClaude.all_text(request)
    assert "Sources:" not in text and "Big day out there." in text
    # the reply's own header and lines: the same blocks, in the same turns
    assert request["messages"][0]["content"][0] == reply["messages"][0]["content"][0]
    own = [b["text"] for m in request["messages"] if m["role"] == "assistant" for b in m["content"]]
    assert own == [answered["content"].rsplit("\n", 1)[0].rstrip(), "Nothing more to say."]
    when = sent_at(said).astimezone(proactive_round(h).time.zone)
    lines = [b["text"] for m in request["messages"] if m["role"] == "user" for b in m["content"]]
    assert f"[{when:%H:%M}] alice, replying to bob: the kelp forest looks amazing today" in lines
    assert "</state>" not in text  # a person's words never close a tag


async def test_what_it_says_first_in_a_server_is_in_the_servers_language(make_harness: MakeHarness) -> None:
    """A server whose admins set its language (/settings set language) hears the character speak first in
    it, as its replies are: the proactive request carries the same language instruction."""
    from tests.test_server_settings import setting

    h = await make_harness(proactive_chance="1", yes_no_vote_count="1")
    await bot_switch(h, "proactive", "on")
    assert "Spanish" in await setting(h, "language", "Spanish")
    said = await unaddressed(h, "el bosque de algas está precioso hoy")
    proactive_round(h).rng = Rolls(0.0, 0.2)
    h.claude.script("¡Las algas son la bufanda del océano!", match=proactive)
    assert await run_round(h, "proactive", sent_at(said) + timedelta(minutes=5)) == \
        "spoke in 1 of 1 channel(s)"
    text = h.claude.all_text(h.claude.last_request(DEFAULT))
    assert "Answer in Spanish" in text
