"""The reply pipeline end to end, proven by what crosses the wire (fake Discord, fake Claude)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.reply.transcript import fetch_limit
from database.engine import Database
from tests.dbtools import api_calls
from tests.fakes.claude_server import Reply, content_text
from tests.harness import (
    CHANNEL_ID,
    OTHER_BOT_ID,
    OTHER_CHANNEL_ID,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    logged,
    reply_requests,
    vote_requests,
    voted_in,
)


@contextlib.asynccontextmanager
async def sqlite_statements(db: Database) -> AsyncIterator[list[str]]:
    """Every statement SQLite runs while the block runs, from its own trace (SQLite's one thread)."""
    statements: list[str] = []

    def trace(on: bool) -> Callable[[Any], None]:
        return lambda conn: conn.connection.driver_connection.set_trace_callback(
            statements.append if on else None)

    await db.read(trace(True))
    try:
        yield statements
    finally:
        await db.read(trace(False))



async def test_dm_gets_typing_then_a_reply(harness: Harness) -> None:
    harness.claude.script("Glub! Hello there, friend.", model="claude-test-default")
    sent = await harness.dm("hello finn")
    channel = int(sent["channel_id"])
    [reply] = await harness.replies(channel)
    assert reply["content"] == "Glub! Hello there, friend."
    typing = harness.discord.typing(channel)
    assert typing and typing[0] <= reply["_at"]
    assert vote_requests(harness) == []
    [request] = reply_requests(harness)
    assert "hello finn" in harness.claude.all_text(request)


async def test_mention_reply_and_name_need_no_votes(harness: Harness) -> None:
    await harness.say("what's up?", mention=True)
    [first] = await harness.replies(CHANNEL_ID, 1)
    await harness.say("and another thing", reply_to=int(first["id"]))
    await harness.replies(CHANNEL_ID, 2)
    await harness.say("I bet Finn knows the answer", user=USER2_ID)
    await harness.replies(CHANNEL_ID, 3)
    assert vote_requests(harness) == []
    assert len(reply_requests(harness)) == 3


async def test_unaddressed_message_asks_n_votes_and_replies_on_majority(make_harness: MakeHarness) -> None:
    h = await make_harness(yes_no_vote_count=5)
    h.claude.script("no", model="claude-test-voter", times=3)
    h.claude.script("yes", model="claude-test-voter", times=2)
    sent = await h.say("the weather is nice today")
    await h.handled(sent)  # voted down: the exchange is over
    assert len(vote_requests(h)) == 5
    assert reply_requests(h) == [] and h.discord.posted(CHANNEL_ID) == []

    await voted_in(h, h.claude, "claude-test-voter", "claude-test-default", yes=3, no=2)
    assert len(vote_requests(h)) == 10


async def test_long_answer_is_split_into_discord_sized_messages(harness: Harness) -> None:
    long_text = " ".join(f"Sentence number {i} about the tide." for i in range(200))[:5000]
    harness.claude.script(long_text, model="claude-test-default")
    sent = await harness.dm("tell me everything")
    posted = await harness.replies(int(sent["channel_id"]), 3)
    assert all(len(m["content"]) <= 2000 for m in posted)
    assert " ".join(m["content"] for m in posted).split() == long_text.split()


async def test_overloaded_claude_gets_fallback_then_recovers(harness: Harness) -> None:
    harness.claude.fail_all(529)
    sent = await harness.dm("are you there?")
    channel = int(sent["channel_id"])
    [fallback] = await harness.replies(channel)
    assert "lost in thought" in fallback["content"]
    assert len(harness.claude.requests) > 1  # retried within llm_timeout before giving up
    harness.claude.recover()
    harness.claude.script("I'm back, all gills working.", model="claude-test-default")
    await harness.dm("how about now?")
    posted = await harness.replies(channel, 2)
    assert posted[1]["content"] == "I'm back, all gills working."


async def test_empty_answer_gets_fallback_and_a_warning(harness: Harness,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.reply.writer")
    harness.claude.script("", model="claude-test-default")
    sent = await harness.dm("say nothing")
    [fallback] = await harness.replies(int(sent["channel_id"]))
    assert "lost in thought" in fallback["content"]
    assert [r.text for r in reply_requests(harness)] == [""]
    assert any("came back empty" in r.getMessage() for r in caplog.records if r.name == "bot.reply.writer")


async def test_slow_claude_times_out_to_fallback(make_harness: MakeHarness) -> None:
    h = await make_harness(llm_timeout=0.5)
    h.claude.script("too late", model="claude-test-default", delay=3)
    sent = await h.dm("quick question")
    [fallback] = await h.replies(int(sent["channel_id"]))
    assert "lost in thought" in fallback["content"]
    calls = await api_calls(h.store, user_id=USER_ID)
    assert any(not c.ok and "timed out" in c.error for c in calls)


async def test_restart_keeps_the_conversation(harness: Harness) -> None:
    harness.claude.script("Nice to meet you, Alice.", model="claude-test-default")
    sent = await harness.dm("my name is Alice and I love kelp")
    channel = int(sent["channel_id"])
    await harness.replies(channel)
    await harness.restart()
    harness.claude.script("Of course I remember: kelp!", model="claude-test-default")
    await harness.dm("do you remember what I love?")
    await harness.replies(channel, 2)
    last = reply_requests(harness)[-1]
    text = harness.claude.all_text(last)
    assert "my name is Alice and I love kelp" in text and "Nice to meet you, Alice." in text


async def test_dm_text_never_reaches_a_channel_prompt(harness: Harness) -> None:
    sent = await harness.dm("my secret password is swordfish")
    await harness.replies(int(sent["channel_id"]))
    await harness.say("hello everyone", mention=True)
    await harness.replies(CHANNEL_ID)
    channel_request = reply_requests(harness)[-1]
    assert "swordfish" not in harness.claude.all_text(channel_request)
    # ...and channel talk never reaches the DM prompt.
    await harness.say("public gossip about zeppelins", mention=True, user=USER_ID)
    await harness.replies(CHANNEL_ID, 2)
    await harness.dm("back in private")
    await harness.replies(int(sent["channel_id"]), 2)
    assert "zeppelins" not in harness.claude.all_text(reply_requests(harness)[-1])


async def test_bot_reply_threshold_holds_until_a_human_speaks(make_harness: MakeHarness) -> None:
    h = await make_harness(bot_reply_threshold=2)
    for i in range(4):
        await h.handled(await h.say(f"beep {i}, Finn?", user=OTHER_BOT_ID))
    assert len(h.discord.posted(CHANNEL_ID)) == 2
    await h.handled(await h.say("humans are here", user=USER_ID))
    await h.say("beep again, Finn?", user=OTHER_BOT_ID)
    await h.replies(CHANNEL_ID, 3)


async def test_reply_cooldown_per_bot(make_harness: MakeHarness) -> None:
    h = await make_harness(bot_reply_threshold=10, reply_cooldown=30)
    await h.say("Finn, ping", user=OTHER_BOT_ID)
    await h.replies(CHANNEL_ID, 1)
    await h.handled(await h.say("Finn, ping again", user=OTHER_BOT_ID))
    assert len(h.discord.posted(CHANNEL_ID)) == 1


async def test_every_message_is_logged_before_the_reply(harness: Harness) -> None:
    harness.claude.script("hi", model="claude-test-default", delay=0.5)
    sent = await harness.say("logging check", mention=True)
    await harness.claude.wait_for_requests(1)
    # The reply is still being generated, yet the message is already in the short-term log.
    recent = await harness.store.log.recent_messages(CHANNEL_ID, limit=5)
    assert any(m.message_id == int(sent["id"]) for m in recent)
    await harness.replies(CHANNEL_ID)


async def test_prompt_caching_and_usage_per_user(harness: Harness) -> None:
    sent = await harness.dm("first message")
    channel = int(sent["channel_id"])
    await harness.replies(channel)
    await harness.dm("second message")
    await harness.replies(channel, 2)
    first, second = reply_requests(harness)
    system = first.body["system"]
    assert system[0]["cache_control"] == {"type": "ephemeral"}  # the character prompt leads and is cached
    assert "Finn" in system[0]["text"]
    calls = [c for c in await api_calls(harness.store, user_id=USER_ID) if c.purpose == "reply"]
    assert len(calls) == 2
    assert calls[-1].cache_creation_tokens > 0  # the first turn writes the cache...
    assert calls[0].cache_read_tokens > 0  # ...the next reads it
    usage = await harness.store.usage.totals(USER_ID)
    assert usage.cost > 0 and usage.calls == 2


async def test_the_exchange_is_stored_with_its_consent_read_in_one_unit(harness: Harness) -> None:
    """After the post, the exchange is stored with its consent read in the same unit of work (no read of the
    person on its own); the model call's usage row was committed before, on its own."""
    db = harness.store.db
    if not db.is_sqlite:
        pytest.skip("read from SQLite's own statement trace")
    harness.claude.script("Hello there!", model="claude-test-default")
    async with sqlite_statements(db) as statements:
        sent = await harness.dm("hi finn")
        await harness.replies(int(sent["channel_id"]))
        await harness.settled()
    units: list[list[str]] = [[]]  # what ran up to each commit (SQLite's thread runs one unit at a time)
    for statement in statements:
        if statement.strip().upper() == "COMMIT":
            units.append([])
        else:
            units[-1].append(" ".join(statement.split()))
    [exchange] = [u for u in units if any(s.startswith("INSERT INTO history_messages") for s in u)]
    assert exchange[0].startswith("SELECT users.premium, users.memory_consent")  # the consent, read first
    assert not any(s.startswith("SELECT users.id, users.name") for u in units for s in u)  # no get_user
    [usage] = [i for i, u in enumerate(units) if any(s.startswith("INSERT INTO api_calls") for s in u)]
    assert usage < units.index(exchange)


async def test_a_dm_exchange_runs_a_bounded_number_of_statements(harness: Harness) -> None:
    """A DM exchange after the first (the person and the conversation exist) stays within its statements and
    commits on SQLite: the writes after the reply share their transactions, the turns go in one execute, the
    last interaction moves in one statement, and the consent is read with the conversation (and with the
    style profile). Commits are counted per kind of work: how the moment's units happened to be grouped
    (the log's batch, the swipes' close beside the reply) varies with load, the work does not."""
    db = harness.store.db
    if not db.is_sqlite:
        pytest.skip("read from SQLite's own statement trace")
    harness.claude.script("Hello there!", model="claude-test-default")
    harness.claude.script("Hello again!", model="claude-test-default")
    sent = await harness.dm("hi finn")
    channel = int(sent["channel_id"])
    await harness.replies(channel)
    await harness.at_rest()  # the first exchange's work all done (its log batch too): none of it is counted
    async with sqlite_statements(db) as statements:
        await harness.dm("how are you finn")
        await harness.replies(channel, 2)
        await harness.settled()
    lines = [" ".join(s.split()) for s in statements]
    # SQLite's trace shows a statement again for each trigger it fires: counted once.
    run = [s for i, s in enumerate(lines) if s not in ("BEGIN", "COMMIT") and (i == 0 or lines[i - 1] != s)]
    assert len(run) <= 25, "\n".join(run)
    transactions = written_in_transactions(lines)
    print("TX", len(run), transactions)
    # Each kind of write is committed once: never split over transactions of its own.
    for kind in {k for kinds in transactions for k in kinds} - {"INSERT INTO message_log"}:
        assert sum(kind in kinds for kinds in transactions) == 1, (kind, transactions)
    # the person's message and our reply, each logged once (with the owed mark, and its clearing)
    assert sum("INSERT INTO message_log" in kinds for kinds in transactions) <= 2, transactions
    # the writes after the reply share one transaction
    [after] = [kinds for kinds in transactions if "INSERT INTO character_state" in kinds]
    assert {"INSERT INTO style_profiles", "UPDATE users", "INSERT INTO global_state"} <= after, transactions


def written_in_transactions(lines: list[str]) -> list[set[str]]:
    """What each committed transaction of a SQLite trace writes, as "VERB table" kinds."""
    transactions: list[set[str]] = []
    current: set[str] | None = None
    for line in lines:
        if line == "BEGIN":
            current = set()
        elif line == "COMMIT" and current is not None:
            transactions.append(current)
            current = None
        elif current is not None and (write := re.match(r"(INSERT INTO|UPDATE|DELETE FROM) (\w+)", line)):
            current.add(f"{write.group(1)} {write.group(2)}")
    return transactions


async def test_a_replys_cost_is_stored_before_it_is_posted(harness: Harness) -> None:
    """The spending limits see a reply's model call at once: its usage row is committed when the call ends,
    before the typing delay and the post, not with the writes that follow the reply."""
    harness.claude.script("Hello there!", model="claude-test-default")
    sent = await harness.dm("hi finn")
    await harness.replies(int(sent["channel_id"]))
    [call] = await api_calls(harness.store, user_id=USER_ID)  # not waiting for anything after the post
    assert call.purpose == "reply" and call.ok


async def test_premium_user_gets_the_premium_model(harness: Harness) -> None:
    await harness.store.people.ensure_user(USER_ID, "alice")
    await harness.store.people.set_premium(USER_ID, True)
    sent = await harness.dm("am I special?")
    await harness.replies(int(sent["channel_id"]))
    assert reply_requests(harness)[-1].model == "claude-test-premium"


async def test_prompt_has_place_recent_messages_and_memories(harness: Harness) -> None:
    await harness.handled(await harness.say("the crabs are restless", user=USER2_ID, channel=CHANNEL_ID),
                          await harness.say("quiet in here", user=USER2_ID, channel=OTHER_CHANNEL_ID))
    await harness.store.people.ensure_user(USER_ID, "alice")
    await harness.store.memories.add_core_memory("finn", USER_ID, "Alice once rescued a hermit crab.")
    await harness.say("what do you think?", mention=True)
    await harness.replies(CHANNEL_ID)
    request = reply_requests(harness)[-1]
    text = harness.claude.all_text(request)
    assert "#general" in text and "Tide Pool" in text
    assert "bob: the crabs are restless" in text
    assert "quiet in here" not in text  # another channel's talk stays there
    # a person's memories come after the channel's shared, cached transcript (bot/reply/prompting.py)
    memory = "Alice once rescued a hermit crab."
    assert memory in content_text(request.body["messages"][-1]["content"])
    assert memory not in harness.claude.system_text(request)


async def test_api_call_log_file_records_each_call_without_secrets(  # type: ignore[no-untyped-def]
        make_harness: MakeHarness, tmp_path) -> None:
    log_file = tmp_path / "api.log"
    h = await make_harness(enable_api_call_logging="true", api_log_file=str(log_file))
    sent = await h.dm("log this call")
    await h.replies(int(sent["channel_id"]))
    await h.restart()  # closes the client, flushing the file
    lines = log_file.read_text().splitlines()
    assert lines and '"purpose": "reply"' in lines[-1] and '"model": "claude-test-default"' in lines[-1]
    assert "fake-anthropic-key" not in log_file.read_text() and "log this call" not in log_file.read_text()


async def test_a_message_sent_while_the_last_reply_is_written_sees_that_exchange(harness: Harness) -> None:
    # The prompt data is read with the log write, as the message arrives; here the exchange before it is
    # only stored after that, so the prompt must be read again.
    harness.claude.script("The tide is out.", model="claude-test-default", delay=0.5)
    harness.claude.script("Then we can walk to the rocks.", model="claude-test-default")
    sent = await harness.dm("is the tide in?")
    channel = int(sent["channel_id"])
    await harness.claude.wait_for_requests(1)
    await harness.dm("so can we walk out?")
    await harness.replies(channel, 2)
    second = reply_requests(harness)[1]
    text = harness.claude.all_text(second)
    assert "is the tide in?" in text and "The tide is out." in text
    assert text.index("The tide is out.") < text.index("so can we walk out?")


async def first_reply_held(harness: Harness) -> asyncio.Event:
    """Someone else's line, then an @mention whose answer the fake Claude holds until the event is set."""
    held = asyncio.Event()
    harness.claude.script(Reply("The tide is out.", held=held), model="claude-test-default")
    harness.claude.script("Then we can walk to the rocks.", model="claude-test-default")
    await harness.say("has anyone seen the big crab?", user=USER2_ID)
    await harness.say("is the tide in?", mention=True)
    await harness.claude.wait_for_requests(1)  # the first reply waits for its answer
    return held


async def second_mention_waiting(harness: Harness) -> None:
    """A second @mention by the same person, logged (its prompt read done with it); its reply waits for the
    first."""
    second = await harness.say("so can we walk out?", mention=True)
    await logged(harness, CHANNEL_ID, int(second["id"]))


async def test_a_reply_queued_behind_another_reads_the_person_again_but_not_the_channel(
        harness: Harness) -> None:
    """A channel message's prompt data is read with its log write; when the exchange before it in the same
    conversation is stored only after that, the person and the conversation are read again, while the
    channel's lines before the message, already read, are not (the reply posted after it is no line before
    it either way)."""
    db = harness.store.db
    if not db.is_sqlite:
        pytest.skip("read from SQLite's own statement trace")
    held = await first_reply_held(harness)
    async with sqlite_statements(db) as statements:
        await second_mention_waiting(harness)
        held.set()
        await harness.replies(CHANNEL_ID, 2)
        await harness.settled()
    text = harness.claude.all_text(reply_requests(harness)[1])
    assert "has anyone seen the big crab?" in text and "The tide is out." not in text
    reads = [" ".join(s.split()) for s in statements if s.lstrip().startswith("SELECT")]
    lines = f"LIMIT {fetch_limit(harness.bot.settings.replies.recent_channel_messages)} "  # a prompt read's
    assert len([s for s in reads if s.startswith("SELECT message_log.message_id") and lines in s]) == 1
    assert len([s for s in reads if s.startswith("SELECT identity_entries.kind")]) == 2  # ... and again


async def test_a_forget_me_while_a_reply_waits_keeps_that_persons_lines_out_of_it(harness: Harness) -> None:
    """The channel's lines read with a message's log write are kept only when the one change since is an
    exchange stored in its conversation: someone's /forget_me meanwhile has the prompt read again whole."""
    held = await first_reply_held(harness)
    await second_mention_waiting(harness)
    await harness.bot.services.memory.forget_user(USER2_ID)  # what /forget_me does once confirmed
    held.set()
    await harness.replies(CHANNEL_ID, 2)
    first, later = reply_requests(harness)
    assert "has anyone seen the big crab?" in harness.claude.all_text(first)
    assert "has anyone seen the big crab?" not in harness.claude.all_text(later)
