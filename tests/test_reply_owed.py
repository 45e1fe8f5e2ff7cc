"""No reply lost to a crash: the owed mark, the late answer at start-up and the nonce that keeps a re-sent
post single; proven over the wire, the last one by killing main.py (kill -9) against the fakes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.discord.posting import reply_nonce
from database.models import utcnow
from database.owed import OwedReply
from database.records import SeenMessage
from database.store import Store
from tests.fakes import EVENT_WAIT
from tests.fakes.claude_server import FakeClaude
from tests.harness import (
    CHANNEL_ID,
    GUILD_ID,
    OTHER_CHANNEL_ID,
    USER2_ID,
    USER_ID,
    Harness,
    bot_posts,
    eventually,
    nothing_owed,
    start_main,
    stop_process,
)


def post_bodies(h: Harness) -> list[dict[str, Any]]:
    return [r.body for r in h.discord.requests
            if r.method == "POST" and r.path.endswith("/messages") and isinstance(r.body, dict)]


async def logged_ids(store: Store) -> set[int]:
    from sqlalchemy import select

    from database.models import LoggedMessage

    return {r[0] for r in await store.db.rows(select(LoggedMessage.message_id))}


async def test_a_reply_is_owed_until_posted_and_posted_with_its_nonce(harness: Harness) -> None:
    h = harness
    seen: list[int] = []
    store = h.store

    async def while_generating(body: dict[str, Any]) -> str:
        key = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
        seen.extend(o.message_id for o in await store.owed.pending(key))
        return "Here I am."

    h.claude.responder = while_generating
    sent = await h.say("are you there?", mention=True)
    [reply] = await h.replies(CHANNEL_ID)
    assert reply["content"] == "Here I am."
    assert seen == [int(sent["id"])]  # owed while the reply was written (marked with the log write)
    await h.discord.wait_for(lambda _: not h.bot.services.replies.owing(), what="the mark cleared")  # type: ignore[union-attr]
    assert await store.owed.pending(h.bot.services.pipeline.character_key) == []  # type: ignore[union-attr]
    [body] = post_bodies(h)
    assert body["nonce"] == reply_nonce(int(sent["id"]), 0) and body["enforce_nonce"] is True
    assert reply["nonce"] == body["nonce"]


async def test_a_message_that_is_not_answered_owes_nothing(make_harness: Any) -> None:
    h = await make_harness(yes_no_vote_count="1")
    h.claude.script("NO", model="claude-test-voter")
    await h.handled(await h.say("just chatting among ourselves"))  # voted down: the exchange is over
    assert await h.store.owed.count() == 0
    h.claude.script("YES", model="claude-test-voter")
    h.claude.script("Count me in.", model="claude-test-default")
    await h.say("anyone up for a swim?")
    [reply] = await h.replies(CHANNEL_ID)
    assert reply["content"] == "Count me in."
    await h.discord.wait_for(lambda _: not h.bot.services.replies.owing(), what="the voted reply settled")
    assert await h.store.owed.count() == 0


async def test_a_refused_messages_mark_is_cleared_at_once_not_with_the_logs_next_batch(
        make_harness: Any) -> None:
    """A blocked user's @mention is marked owed by the write that logs it, then refused by the gate: its mark
    is cleared by a write of its own before the handling ends, not left to the log's next batch (a crash
    meanwhile would leave it for the restart to answer)."""
    h = await make_harness(blocked_users=str(USER2_ID))
    log = h.bot.services.store.log  # type: ignore[union-attr]
    real = log.settle_owed
    batched: list[int] = []

    async def settle_with_the_batch(character: str, message_id: int) -> None:
        batched.append(message_id)
        await real(character, message_id)

    log.settle_owed = settle_with_the_batch  # type: ignore[method-assign]
    seen: list[int] = []
    access = h.bot.services.access  # type: ignore[union-attr]
    real_refusal = access.refusal  # what the first gate asks

    async def refusal(*args: Any) -> Any:
        seen.extend(o.message_id for o in await h.store.owed.pending("finn"))
        return await real_refusal(*args)

    access.refusal = refusal  # type: ignore[method-assign]
    sent = await h.say("are you there?", user=USER2_ID, mention=True)
    await h.handled(sent)
    assert seen == [int(sent["id"])]  # marked owed before the gate ran
    assert batched == [] and await h.store.owed.count() == 0
    assert bot_posts(h, CHANNEL_ID) == [] and h.claude.requests == []


async def test_owed_replies_are_answered_late_at_start_up_or_dropped_when_old(harness: Harness) -> None:
    """What a crash leaves owed (here written straight into the table, as the crashed process left it)."""
    h = harness
    done = await h.say("good morning", mention=True)
    await h.replies(CHANNEL_ID)
    fresh = await h.say("tell me about the reef", mention=True)
    old = await h.say("and the tide?", user=USER2_ID, channel=OTHER_CHANNEL_ID, mention=True)
    await h.replies(CHANNEL_ID, 2)
    await h.replies(OTHER_CHANNEL_ID)
    key = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    await h.stop_bot()
    store = await Store(h.db_url).open()
    try:
        await store.db.write(lambda conn: conn.execute(OwedReply.__table__.insert(), [
            {"message_id": int(fresh["id"]), "character": key, "channel_id": CHANNEL_ID,
             "owed_since": utcnow() - timedelta(minutes=3)},
            # answered just before the crash, the mark not yet cleared: its reply is found in the channel
            {"message_id": int(done["id"]), "character": key, "channel_id": CHANNEL_ID,
             "owed_since": utcnow() - timedelta(minutes=8)},
            {"message_id": int(old["id"]), "character": key, "channel_id": OTHER_CHANNEL_ID,
             "owed_since": utcnow() - timedelta(minutes=30)}]))
    finally:
        await store.close()
    h.discord.messages.pop(max(int(m["id"]) for m in bot_posts(h, CHANNEL_ID)))  # as if never posted
    h.claude.script("The reef, at last.", model="claude-test-default")
    posts_before = len(h.discord.requests)
    await h.start_bot()
    posted = await h.replies(CHANNEL_ID, 2)
    assert [p["content"] for p in bot_posts(h, CHANNEL_ID)][1:] == ["The reef, at last."]
    assert len([r for r in h.discord.requests[posts_before:]
                if r.method == "POST" and r.path.endswith("/messages")]) == 1  # the answered one left alone
    assert "3 minutes late" in h.claude.all_text(h.claude.requests[-1])
    assert posted[-1]["message_reference"]["message_id"] == fresh["id"]
    replies = h.bot.services.replies  # type: ignore[union-attr]
    await h.discord.wait_for(lambda _: not replies.owing(), what="the late reply settled")
    assert await h.store.owed.count() == 0  # the old one was closed as dropped
    assert len(bot_posts(h, OTHER_CHANNEL_ID)) == 1  # and not answered again


# -- kill -9 against the real process


def saying(word: str) -> Any:
    return lambda body: word in FakeClaude.all_text(body)


async def test_kill_9_mid_reply_then_restart_answers_each_owed_reply_exactly_once(db_url: str,
                                                                                  tmp_path: Path) -> None:
    """Two replies in flight when the process is killed: one (in a DM) whose post reached Discord but whose
    answer never came back (the nonce makes the re-sent post the same message), one still being written by
    Claude (answered late after the restart, the prompt saying so). Then the next message is answered, and
    every message the bot saw is in the database."""
    h = Harness(db_url=db_url, tmp_path=tmp_path)
    await h.start_fakes()
    bot_id = int(next(iter(h.discord.bots.values()))["id"])
    procs: list[asyncio.subprocess.Process] = []
    try:
        procs.append(await start_main(h))
        h.discord.stall_posts()  # the first reply is created on Discord, its answer held back
        h.claude.script("First answer.", model="claude-test-default")
        first = await h.discord.dm_message(USER_ID, "alpha-kelp")
        dm = int(first["channel_id"])
        await h.discord.wait_for(lambda d: d.stalled_posts == 1, timeout=EVENT_WAIT, what="the first post")
        h.claude.script("never finished", model="claude-test-default", delay=60, match=saying("beta-kelp"))
        second = await h.discord.user_message(OTHER_CHANNEL_ID, USER2_ID, f"<@{bot_id}> beta-kelp",
                                              mentions=[bot_id])
        await h.claude.wait_for_requests(2, timeout=EVENT_WAIT)  # Claude is writing the second reply
        await stop_process(procs[0])
        h.discord.release_posts()

        h.claude.script("Second answer, late.", model="claude-test-default", match=saying("beta-kelp"))
        h.claude.script("First answer again.", model="claude-test-default", match=saying("alpha-kelp"))
        procs.append(await start_main(h))
        await h.discord.wait_for(lambda d: len(bot_posts(h, OTHER_CHANNEL_ID)) == 1, timeout=EVENT_WAIT,
                                 what="the late answer")
        await h.discord.wait_for(lambda d: len(d.duplicate_nonces) == 1, timeout=EVENT_WAIT,
                                 what="the re-sent one")
        assert h.discord.duplicate_nonces == [reply_nonce(int(first["id"]), 0)]
        assert [p["content"] for p in bot_posts(h, dm)] == ["First answer."]  # posted once
        late = [r for r in h.claude.requests if "beta-kelp" in h.claude.all_text(r)][-1]
        assert "late; you were briefly away" in h.claude.all_text(late)

        h.claude.script("And the next one.", model="claude-test-default")
        third = await h.discord.user_message(CHANNEL_ID, USER_ID, f"<@{bot_id}> gamma-kelp",
                                             mentions=[bot_id])
        await h.discord.wait_for(lambda d: len(bot_posts(h, CHANNEL_ID)) == 1, timeout=EVENT_WAIT,
                                 what="the next")
        assert bot_posts(h, CHANNEL_ID)[-1]["content"] == "And the next one."
        store = await Store(db_url).open()
        try:
            await nothing_owed(store)
            assert {int(first["id"]), int(second["id"]), int(third["id"])} <= await logged_ids(store)
        finally:
            await store.close()
    finally:
        for proc in procs:
            await stop_process(proc)
        h.discord.release_posts()
        await h.claude.close()
        await h.discord.close()


async def test_kill_9_after_a_refused_message_was_marked_owed_then_restart_does_not_answer_it(
        db_url: str, tmp_path: Path) -> None:
    """A blocked user's @mention (the server's /settings blocked_users) is marked owed in the very write that
    logs it, before the gate refuses it. The process is killed (kill -9) after that write and before the
    gate: the prompt read that runs beside the write on PostgreSQL is held by a lock the test takes on the
    conversations. The restart finds the mark; the late reply goes through the same gates as a live one:
    no answer, no Claude call, and the mark closed."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the hold between the write and the gate is PostgreSQL's prompt read beside the write")
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    h = Harness(db_url=db_url, tmp_path=tmp_path)
    await h.start_fakes()
    bot_id = int(next(iter(h.discord.bots.values()))["id"])
    store = await Store(db_url).open()
    locker = create_async_engine(db_url)
    procs: list[asyncio.subprocess.Process] = []
    try:
        await store.servers.update(GUILD_ID, blocked_users=str(USER2_ID))  # /settings set blocked_users
        procs.append(await start_main(h))
        async with locker.connect() as conn:
            await conn.execute(text("LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE"))
            sent = await h.discord.user_message(CHANNEL_ID, USER2_ID, f"<@{bot_id}> epsilon-kelp?",
                                                mentions=[bot_id])

            async def marked() -> bool:
                return int(sent["id"]) in {o.message_id for o in await store.owed.pending("finn")}

            await eventually(marked, "the owed mark written with the message")
            await stop_process(procs[0])  # kill -9: the gate has not run, the mark stays
            await conn.rollback()
        assert await marked()

        procs.append(await start_main(h))
        await nothing_owed(store)  # the restart dealt with the mark
        assert bot_posts(h, CHANNEL_ID) == []
        assert not [r for r in h.claude.requests if "epsilon-kelp" in h.claude.all_text(r)]
    finally:
        for proc in procs:
            await stop_process(proc)
        await locker.dispose()
        await store.close()
        await h.claude.close()
        await h.discord.close()


def speaking_as(name: str, word: str) -> Any:
    """A request for ``name``'s reply (several characters: each has its own system prompt) that mentions
    ``word``."""
    return lambda body: FakeClaude.system_text(body).startswith(f"You are {name}") and saying(word)(body)


async def test_several_characters_kill_9_mid_reply_then_restart_answers_the_one_owed(db_url: str,
                                                                                   tmp_path: Path) -> None:
    """Finn and Atlas named together (Atlas through its webhook): Finn's answer is posted, then the process
    is killed while Claude writes Atlas's. After the restart Atlas answers late, through its webhook, and
    Finn's answer is not posted again."""
    h = Harness(db_url=db_url, tmp_path=tmp_path,
                config={"ensemble_characters": "atlas", "banter_chance": "0"})
    await h.start_fakes()
    procs: list[asyncio.subprocess.Process] = []

    def answers(who: str) -> list[dict[str, Any]]:  # Finn speaks as the bot account, Atlas by webhook
        return [m for m in bot_posts(h, CHANNEL_ID)
                if (m.get("webhook_id") and m["author"].get("username") == who)
                or (not m.get("webhook_id") and who == "Finn")]

    try:
        procs.append(await start_main(h))
        h.claude.script("Finn first: kelp tea.", match=speaking_as("Finn", "delta-kelp"))
        h.claude.script("never finished", match=speaking_as("Atlas", "delta-kelp"), delay=60)
        asked = await h.discord.user_message(CHANNEL_ID, USER_ID, "Finn and Atlas, delta-kelp or water?")
        await h.discord.wait_for(lambda _: answers("Finn") and any(
            speaking_as("Atlas", "delta-kelp")(r.body) for r in h.claude.requests), timeout=EVENT_WAIT,
            what="Finn's answer posted and Atlas's being written")
        await stop_process(procs[0])

        h.claude.script("Atlas, late: water.", match=speaking_as("Atlas", "delta-kelp"))
        procs.append(await start_main(h))
        await h.discord.wait_for(lambda _: answers("Atlas"), timeout=EVENT_WAIT, what="Atlas's late answer")
        [late] = answers("Atlas")
        assert late["content"] == "Atlas, late: water." and late.get("webhook_id")
        assert [m["content"] for m in answers("Finn")] == ["Finn first: kelp tea."]  # not posted again
        request = [r for r in h.claude.requests if speaking_as("Atlas", "delta-kelp")(r.body)][-1]
        assert "late; you were briefly away" in FakeClaude.all_text(request.body)
        store = await Store(db_url).open()
        try:
            await nothing_owed(store)
            assert int(asked["id"]) in await logged_ids(store)
        finally:
            await store.close()
    finally:
        for proc in procs:
            await stop_process(proc)
        await h.claude.close()
        await h.discord.close()


async def test_in_a_cluster_a_process_answers_only_what_came_on_its_shards(db_url: str,
                                                                         tmp_path: Path) -> None:
    """Owed replies are the character's, whichever process owed them: at start-up a process answers those
    on its own shards and leaves the rest (the DMs, on shard 0, and a guild on shard 0) to their process."""
    if not db_url.startswith("postgresql"):
        pytest.skip("a cluster needs PostgreSQL")
    h = Harness(db_url=db_url, tmp_path=tmp_path, config={"shard_count": "2", "shard_ids": "1"})
    other_guild, other_channel = 900_000_000_004_194_304, 900_000_000_004_194_310  # on shard 0
    await h.start_world(other_guild=(other_guild, other_channel))
    assert (h.guild_id >> 22) % 2 == 1 and (other_guild >> 22) % 2 == 0
    mine = h.discord.message_from_before(CHANNEL_ID, USER_ID, "mine, from before")
    theirs = h.discord.message_from_before(other_channel, USER_ID, "theirs, from before")
    dm = h.discord.message_from_before(h.discord.dm_channel_for(USER_ID), USER_ID, "a DM, from before")
    store = await Store(db_url).open()
    try:
        for m, guild in ((mine, h.guild_id), (theirs, other_guild), (dm, None)):  # as a crashed process did
            await store.log.log_message(SeenMessage(
                int(m["id"]), int(m["channel_id"]), guild, USER_ID, "alice", False, guild is None,
                m["content"], utcnow()), owed_by="finn")
    finally:
        await store.close()
    try:
        h.claude.script("Sorry for the wait.", model="claude-test-default")
        await h.start_bot()
        await h.discord.wait_for(lambda _: bot_posts(h, CHANNEL_ID), what="the late reply")
        assert [p["content"] for p in bot_posts(h, CHANNEL_ID)] == ["Sorry for the wait."]
        # The late reply came from the start-up recovery (an on_ready listener): once the bot settles, it has
        # gone through every owed mark, and what it left is final.
        await h.settled()
        left = {o.message_id for o in await h.store.owed.pending("finn")}
        assert left == {int(theirs["id"]), int(dm["id"])}  # still owed, by the process on shard 0
        assert bot_posts(h, other_channel) == [] and bot_posts(h, int(dm["channel_id"])) == []
    finally:
        await h.close()


async def test_a_mark_being_answered_here_is_never_taken_for_one_left_by_a_crash(harness: Harness) -> None:
    """The start-up recovery reads the owed marks while the first messages come in. A message's mark is in
    the database as soon as its log write commits (on PostgreSQL the prompt read beside it may still run):
    from that moment the engine already claims it, so recovery does not answer it a second time."""
    h = harness
    log = h.bot.services.store.log  # type: ignore[union-attr]
    real = log.log_message
    written, release = asyncio.Event(), asyncio.Event()

    async def slow_after_commit(*args: Any, **kwargs: Any) -> Any:
        data = await real(*args, **kwargs)
        if kwargs.get("owed_by") is not None:
            written.set()
            await release.wait()  # the write is committed; the rest of the log step has not returned
        return data

    log.log_message = slow_after_commit  # type: ignore[method-assign]
    sent = await h.say("are you there?", mention=True)
    await asyncio.wait_for(written.wait(), EVENT_WAIT)
    assert int(sent["id"]) in {o.message_id for o in await h.bot.services.store.owed.pending(  # type: ignore[union-attr]
        h.bot.services.pipeline.character_key)}  # type: ignore[union-attr]
    fresh = await h.bot.services.recovery.triage()  # type: ignore[union-attr]
    assert int(sent["id"]) not in {owed.message_id for owed, _ in fresh}
    release.set()
    await h.replies(CHANNEL_ID)
    log.log_message = real  # type: ignore[method-assign]


async def test_a_mark_set_after_a_vote_is_claimed_before_recovery_can_read_it(make_harness: Any) -> None:
    """The same for a reply decided by a vote, marked owed on its own (the sequence owes it on its own)."""
    h = await make_harness(yes_no_vote_count="1")
    owed = h.bot.services.store.owed  # type: ignore[union-attr]
    real = owed.mark
    written, release = asyncio.Event(), asyncio.Event()

    async def slow_after_commit(*args: Any, **kwargs: Any) -> None:
        await real(*args, **kwargs)
        written.set()
        await release.wait()

    owed.mark = slow_after_commit  # type: ignore[method-assign]
    h.claude.script("YES", model="claude-test-voter")
    h.claude.script("Count me in.", model="claude-test-default")
    sent = await h.say("anyone up for a swim?")
    await asyncio.wait_for(written.wait(), EVENT_WAIT)
    fresh = await h.bot.services.recovery.triage()  # type: ignore[union-attr]
    assert int(sent["id"]) not in {o.message_id for o, _ in fresh}
    release.set()
    [reply] = await h.replies(CHANNEL_ID)
    assert reply["content"] == "Count me in."
    owed.mark = real  # type: ignore[method-assign]
