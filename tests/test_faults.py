"""Every fault we can provoke costs nothing: each test provokes one over the wire (fake Discord, fake Claude,
the real database) and ends with the next message answered and every message the bot saw in the database.

The database outage on PostgreSQL does not restart the shared server: it refuses new connections to the
test's own database (``ALTER DATABASE ... ALLOW_CONNECTIONS false``, which binds superusers too) and
terminates the bot's connections (``pg_terminate_backend``), which is what a restart looks like from the
bot, then lets connections in again.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

import memory.service
from database.models import ArchivedMessage, LoggedMessage
from database.store import Store
from tests.dbtools import logged_count
from tests.fakes import EVENT_WAIT
from tests.fakes.claude_server import FakeClaude
from tests.harness import CHANNEL_ID, USER2_ID, Harness, MakeHarness, bot_posts
from tests.memory_support import HashEmbedder

POSTS = "POST /channels/*/messages"


async def seen_ids(store: Store) -> set[int]:
    rows = await store.db.rows(select(LoggedMessage.message_id))
    rows += await store.db.rows(select(ArchivedMessage.message_id))
    return {int(r[0]) for r in rows}


async def ends_well(h: Harness, sent: list[dict[str, Any]], *, text: str = "Still here.") -> None:
    """The next message is answered, every message sent is in the database and no reply is still owed."""
    before = len(bot_posts(h))
    h.claude.script(text, model="claude-test-default")
    sent.append(await h.say("and now?", mention=True))
    await h.discord.wait_for(lambda _: len(bot_posts(h)) > before, timeout=EVENT_WAIT, what="the next reply")
    assert bot_posts(h)[-1]["content"] == text
    replies = h.bot.services.replies  # type: ignore[union-attr]
    await h.discord.wait_for(lambda _: not replies.owing(), what="no reply owed")
    assert {int(m["id"]) for m in sent} <= await seen_ids(h.store)
    assert await h.store.owed.count() == 0


# -- Claude


async def test_claude_429_with_retry_after_is_waited_out(harness: Harness) -> None:
    h = harness
    h.claude.script("slow down", model="claude-test-default", status=429, retry_after=0.2, times=2)
    h.claude.script("There you are.", model="claude-test-default")
    sent = [await h.say("hello?", mention=True)]
    [reply] = await h.replies(CHANNEL_ID)
    assert reply["content"] == "There you are."
    assert [r.status for r in h.claude.requests_for("claude-test-default")] == [429, 429, 200]
    await ends_well(h, sent)


async def test_a_529_storm_gets_the_fallback_in_character_then_answers(make_harness: MakeHarness) -> None:
    h = await make_harness(llm_timeout="0.6")
    h.claude.fail_all(529)
    sent = [await h.say("anyone home?", mention=True)]
    [fallback] = await h.replies(CHANNEL_ID)
    assert "Finn" in fallback["content"] or "lost in thought" in fallback["content"]
    assert 2 <= len(h.claude.requests) <= 4  # retried within the deadline, a few times at most
    h.claude.recover()
    await ends_well(h, sent)


async def test_a_hanging_claude_times_out_to_the_fallback_then_answers(make_harness: MakeHarness) -> None:
    h = await make_harness(llm_timeout="0.5")
    h.claude.script("far too late", model="claude-test-default", delay=30)
    sent = [await h.say("quick one", mention=True)]
    [fallback] = await h.replies(CHANNEL_ID)
    assert "lost in thought" in fallback["content"]
    await ends_well(h, sent)


# -- Discord REST


@pytest.mark.parametrize("is_global", [False, True], ids=["per-route", "global"])
async def test_discord_429_on_the_reply_post_is_retried_once_posted(harness: Harness,
                                                                    is_global: bool) -> None:
    h = harness
    h.discord.rate_limit_next(POSTS, 0.25, global_=is_global)
    h.claude.script("Posted after the wait.", model="claude-test-default")
    sent = [await h.say("hi", mention=True)]
    [reply] = await h.replies(CHANNEL_ID)
    assert reply["content"] == "Posted after the wait."
    assert len(h.discord.fault_limited) == 1  # the 429 was served, and the retry went through
    tries = [r for r in h.discord.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert len(tries) == 2 and tries[0].body["nonce"] == tries[1].body["nonce"]
    assert len(bot_posts(h)) == 1
    await ends_well(h, sent)


# -- the gateway


@pytest.mark.parametrize("code", [1001, 4000])
async def test_gateway_close_resumes_and_replays_what_was_missed(harness: Harness, code: int) -> None:
    h = harness
    sent = [await h.say("before", mention=True)]
    await h.replies(CHANNEL_ID)
    resumes = sum(1 for op, _ in h.discord.gateway_log if op == "6")
    await h.discord.close_gateway(code)
    h.claude.script("Heard you through the reconnect.", model="claude-test-default")
    sent.append(await h.say("while you were away", mention=True))  # sent before the RESUME: replayed
    await h.discord.wait_for(lambda d: len(bot_posts(h)) == 2, timeout=EVENT_WAIT,
                             what="the replayed message")
    assert bot_posts(h)[-1]["content"] == "Heard you through the reconnect."
    assert sum(1 for op, _ in h.discord.gateway_log if op == "6") == resumes + 1
    await ends_well(h, sent)


@pytest.mark.parametrize("fault", ["close-4009", "invalid-session"])
async def test_a_dead_session_identifies_again_and_keeps_answering(harness: Harness, fault: str) -> None:
    h = harness
    sent = [await h.say("before", mention=True)]
    await h.replies(CHANNEL_ID)
    identifies = sum(1 for op, _ in h.discord.gateway_log if op == "2")
    if fault == "close-4009":
        await h.discord.close_gateway(4009)  # session timed out: the RESUME is refused with op 9
    else:
        await h.discord.invalidate_sessions()
    await h.discord.wait_for(lambda d: sum(1 for op, _ in d.gateway_log if op == "2") > identifies
                             and any(s.identified for s in d.sessions), timeout=EVENT_WAIT,
                             what="a new IDENTIFY")
    await ends_well(h, sent)


# -- the database


async def test_sqlite_database_is_locked_by_another_writer(make_harness: MakeHarness, db_url: str,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    h = await make_harness(db_busy_timeout="0.1", db_retry_seconds="20")
    sent = [await h.say("warm up", mention=True)]
    await h.replies(CHANNEL_ID)
    other = sqlite3.connect(make_url(db_url).database or "", isolation_level=None, timeout=5)
    caplog.set_level(logging.WARNING, logger="database.retry")
    # What was posted the moment each write got through again: an answer must wait for its message's log.
    posted_at_recovery: list[int] = []
    on_recovery = _OnLog("database available again", lambda: posted_at_recovery.append(len(bot_posts(h))))
    logging.getLogger("database.retry").addHandler(on_recovery)
    try:
        try:
            other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
            h.claude.script("Through the lock.", model="claude-test-default")
            sent.append(await h.say("are you stuck?", mention=True))
            await h.discord.wait_for(lambda _: any("database is locked" in r.getMessage()
                                                   for r in caplog.records), what="the lock")
        finally:
            other.execute("COMMIT")
            other.close()
        await h.discord.wait_for(lambda _: len(bot_posts(h)) == 2, timeout=EVENT_WAIT,
                                 what="the reply after the lock")
    finally:
        logging.getLogger("database.retry").removeHandler(on_recovery)
    assert posted_at_recovery and set(posted_at_recovery) == {1}  # nothing answered before it was logged
    assert bot_posts(h)[-1]["content"] == "Through the lock."
    await ends_well(h, sent)


class _OnLog(logging.Handler):
    """Calls ``then`` as a record saying ``text`` is logged, in the bot's own step (no time passes)."""

    def __init__(self, text: str, then: Callable[[], Any]) -> None:
        super().__init__()
        self.text, self.then = text, then

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.then()


async def _pg_admin(url: str, *sql: str) -> None:
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(host=u.host or "127.0.0.1", port=u.port or 5432,
                                 user=u.username or "postgres", password=u.password, database="postgres")
    try:
        for statement in sql:
            await conn.execute(statement)
    finally:
        await conn.close()


async def test_postgresql_going_away_is_waited_out(make_harness: MakeHarness, db_url: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's connections")
    name = make_url(db_url).database
    h = await make_harness(db_retry_seconds="30")
    sent = [await h.say("warm up", mention=True)]
    await h.replies(CHANNEL_ID)
    caplog.set_level(logging.WARNING, logger="database.retry")
    try:
        await _pg_admin(db_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
                        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "
                        "AND pid <> pg_backend_pid()")
        h.claude.script("Back from the outage.", model="claude-test-default")
        sent.append(await h.say("is the database there?", mention=True, user=USER2_ID))
        await h.discord.wait_for(lambda _: any("database unavailable" in r.getMessage()
                                               for r in caplog.records), what="the outage")
        await asyncio.sleep(1.0)  # an outage of a few seconds (the retry budget covers 30)
    finally:
        await _pg_admin(db_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    await h.discord.wait_for(lambda _: len(bot_posts(h)) == 2, timeout=EVENT_WAIT,
                             what="the reply after the outage")
    assert bot_posts(h)[-1]["content"] == "Back from the outage."
    await ends_well(h, sent)


# -- kill -9 mid-consolidation, then the bot on the same database


class _TestEmbedder(HashEmbedder):
    def __init__(self, model_name: str = "") -> None:
        super().__init__()
        self.model_name = model_name

    def load(self) -> None:
        """Nothing to load."""


async def test_kill_9_mid_consolidation_then_the_bot_answers_and_lost_nothing(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The consolidation child is killed half-way; a bot on the same database answers the next message with
    every message in the log or the archive, and the next consolidation finishes the job. (The bot's own
    catch-up run at start-up is left out: the next run here is the test's, as in tests/test_consolidation.py.)
    """
    from tests.consolidation_child import consolidate
    from tests.memory_support import consolidation_responder
    from tests.test_consolidation import run_child, seeded

    async with FakeClaude() as fc:
        fc.responder = consolidation_responder()
        total = await seeded(db_url)
        store = await Store(db_url).open()
        before = await seen_ids(store)
        await store.close()
        assert len(before) == total
        assert await run_child(db_url, fc.base_url, "committed:4") == -9
        # The bot embeds with the test's embedder too (the real model would take seconds to import and load).
        monkeypatch.setattr(memory.service, "make_embedder", lambda setting="": _TestEmbedder())
        h = Harness(db_url=db_url, tmp_path=tmp_path,
                    bot_options={"skip_rounds": ("consolidation", "retention", "summary-sweep")})
        await h.start()
        try:
            sent: list[dict[str, Any]] = []
            await ends_well(h, sent)
            assert before <= await seen_ids(h.store)  # every message is in the log or the archive
        finally:
            await h.close()
        await consolidate(db_url, fc.base_url)
    store = await Store(db_url).open()
    try:
        assert await logged_count(store) == 0
        archived = {int(r[0]) for r in await store.db.rows(select(ArchivedMessage.message_id))}
        assert before | {int(m["id"]) for m in sent} <= archived
    finally:
        await store.close()


def test_retry_classification() -> None:
    from asyncpg.exceptions import AdminShutdownError, InternalClientError, UniqueViolationError

    from database.retry import transient

    assert transient(sqlite3.OperationalError("database is locked"))
    assert transient(ConnectionRefusedError(111, "Connection refused"))
    assert not transient(sqlite3.IntegrityError("UNIQUE constraint failed: message_log.message_id"))
    assert not transient(ValueError("bad data"))
    # A connection the server cut, or asyncpg's idle one holding the server's goodbye: retried on another.
    stuck = InternalClientError("cannot switch to state 12; another operation (2) is in progress")
    for dead in (stuck, AdminShutdownError("terminating connection due to administrator command")):
        wrapped = RuntimeError("unit of work failed")
        wrapped.__cause__ = dead
        assert transient(wrapped)
    assert not transient(UniqueViolationError("duplicate key value violates unique constraint"))
