"""Open threads (memory/threads.py, database/threads.py) over the wire (fake Discord + fake Claude): what a
person said they would do or are waiting for is opened by consolidation, reaches the next reply and a check-in
(beside their /remember note, quoted as theirs by name), stays out of a channel when said in a DM, is shown in
/memory list, closes when consolidation says it is done, and goes with /forget_me. Plus the parsing and time
rules, and the migration on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.core.localtime import utc_now
from database.store import Store
from database.threads import NewThread, ThreadChanges
from memory.threads import parse_threads, still_open, thread_changes
from tests.fakes.claude_server import FakeClaude
from tests.harness import (
    CHANNEL_ID,
    USER_ID,
    Harness,
    MakeHarness,
    consolidate,
    panel_text,
    run_round,
)
from tests.memory_support import first_user_text, is_extraction
from tests.test_memory_commands import forget, memory

DEFAULT = "claude-test-default"
EXAM = "Alice has her chemistry exam"
SHOWN = re.compile(r"^\[(?P<id>\d+)\] (?P<thread>[^\n]+?) \(", re.M)


class Extractor:
    """The consolidation's extraction answers: no facts; a thread opened for "exam on Friday", and the shown
    thread closed for "the exam went". Records what each extraction request showed."""

    def __init__(self, due: date) -> None:
        self.due = due
        self.shown: dict[str, list[tuple[int, str]]] = {}  # by the cue its messages hold

    def __call__(self, body: dict[str, Any]) -> str | None:
        if not is_extraction(body):
            return None
        text = first_user_text(body)
        shown = [(int(m["id"]), m["thread"]) for m in SHOWN.finditer(text)]
        for cue in ("exam on Friday", "the exam went", "tides"):
            if cue in text:
                self.shown[cue] = shown
        opened = ([{"thread": EXAM, "due": self.due.isoformat(), "said": None}]
                  if "exam on Friday" in text else [])
        done = [i for i, t in shown if t == EXAM] if "the exam went" in text else []
        return json.dumps({"facts": [], "relationship": {}, "threads": {"open": opened, "done": done}})


def checkin_request(body: dict[str, Any]) -> bool:
    return "asking how they are" in FakeClaude.all_text(body)


async def consolidated(h: Harness) -> None:
    await h.bot.in_flight.drain()
    report = await consolidate(h)
    assert report.committed >= 1 and report.malformed == 0


async def test_an_open_thread_reaches_the_reply_and_the_check_in_and_closes_when_done(
        make_harness: MakeHarness) -> None:
    h = await make_harness(checkin_after_days="2", timezone="UTC", quiet_hours="23-7")
    due = (utc_now() + timedelta(days=2)).date()
    extractor = Extractor(due)
    h.claude.responder = extractor
    await (await h.slash("checkin", [{"type": 1, "name": "on", "options": []}])).text()
    note = "I'm vegetarian, no fish on my plate ever"
    await (await h.slash("remember", [{"name": "memory", "type": 3, "value": note}], dm=True)).message()
    dm = await h.dm_channel_id()
    await h.dm("I have my chemistry exam on Friday, wish me luck")
    await h.replies(dm, 1)
    await consolidated(h)
    [thread] = await h.store.threads.rows(USER_ID)
    assert (thread.thread, thread.due_at, thread.private) == (EXAM, datetime(due.year, due.month, due.day, 12,
                                                                             tzinfo=UTC), True)
    assert extractor.shown == {"exam on Friday": []}  # nothing open yet when it was extracted

    # The next reply shows it, fenced and dated, after the cached history
    await h.dm("morning finn")
    await h.replies(dm, 2)
    said = h.claude.all_text(h.claude.last_request(DEFAULT))
    spoken = f"{thread.due_at:%A} {due.day} {thread.due_at:%B %Y}"
    assert '<open_threads about="alice"' in said and f"- {EXAM} (due {spoken})" in said
    # said in a DM: never in a channel
    await h.say("hi finn, how are the tides?", mention=True)
    await h.replies(CHANNEL_ID, 1)
    assert EXAM not in h.claude.all_text(h.claude.last_request(DEFAULT))
    listed = await (await memory(h, "list", dm=True)).message()
    assert EXAM in panel_text(listed) and "⏳" in panel_text(listed)

    # A check-in after its day asks how it went: the thread and her note, each quoted as hers
    await h.bot.in_flight.drain()
    day = (utc_now() + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    h.claude.script("Alice! How did the chemistry exam go?", match=checkin_request)
    assert await run_round(h, "checkins", day) == "1 of 1 check-in(s) sent"
    checkin = h.claude.all_text([r for r in h.claude.requests if checkin_request(r.body)][-1])
    assert f"- {EXAM} (due {spoken})" in checkin and '<open_threads about="alice"' in checkin
    assert (f"<notes by=\"alice\" words=\"alice's own, about themselves\">\n- {note}\n</notes>"
            in checkin)
    assert "<memories" not in checkin  # her note is not made one of the character's memories

    # She says it is done: the next consolidation is shown the thread and closes it
    await h.replies(dm, 3)
    await h.dm("the exam went great, I think I passed!")
    await h.replies(dm, 4)
    await consolidated(h)
    assert extractor.shown["the exam went"] == [(thread.id, EXAM)]
    assert extractor.shown["tides"] == []  # a channel's extraction is never shown a DM's thread
    assert await h.store.threads.rows(USER_ID) == []
    await h.dm("what shall we do today?")
    await h.replies(dm, 5)
    after = h.claude.all_text(h.claude.last_request(DEFAULT))
    assert EXAM not in after and "<open_threads" not in after


async def test_a_thread_that_is_also_a_fact_is_said_once_as_the_thread(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await h.store.people.ensure_user(USER_ID, "alice")
    due = (utc_now() + timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)
    await h.store.threads.apply(USER_ID, ThreadChanges((NewThread(EXAM, due, utc_now(), True),), ()))
    same = "Alice has a chemistry exam on Friday."
    more = "Alice is nervous about her chemistry exam on Friday"
    for text in (same, more):
        memory = h.bot.services.memory
        await h.store.facts.add(USER_ID, text, embedding=await memory.embed(text), category="plans")
    dm = await h.dm_channel_id()
    await h.dm("any tips for my chemistry exam?")
    await h.replies(dm, 1)
    said = h.claude.all_text(h.claude.last_request(DEFAULT))
    assert '<open_threads about="alice"' in said and f"- {EXAM} (due" in said
    recalled = said.split("<recalled_facts", 1)[1].split("</recalled_facts>", 1)[0]
    assert f"- {more}" in recalled  # it says more than the thread
    assert same not in said  # the thread says it, with its day (0.94 cosine, other words)


async def test_forget_me_deletes_the_open_threads(harness: Harness) -> None:
    h = harness
    await h.store.people.ensure_user(USER_ID, "alice")
    now = utc_now()
    opened = (NewThread(EXAM, now + timedelta(days=1), now, True),)
    await h.store.threads.apply(USER_ID, ThreadChanges(opened))
    assert await h.store.privacy.rows_about_user(USER_ID) != {}
    assert (await forget(h)).startswith("Done: I deleted")
    assert await h.store.threads.rows(USER_ID) == []
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


# --------------------------------------------------------------------------- the rules


def test_threads_are_parsed_leniently_and_close_only_what_was_shown() -> None:
    photo = {"thread": "  Alice  promised Finn a photo ", "due": None, "said": "2026-05-01"}
    found = parse_threads({"open": [photo,
                                    {"thread": "alice promised finn a photo"}, 12, {"thread": ""},
                                    "Alice waits for her visa"],
                           "done": [3, "4", True, -1, 99]})
    assert [(t.thread, t.due, t.said) for t in found.opened] == [
        ("Alice promised Finn a photo", None, date(2026, 5, 1)), ("Alice waits for her visa", None, None)]
    assert found.done == (3, 99)
    assert parse_threads(None).opened == () and parse_threads({"open": "x", "done": {}}).done == ()
    at = datetime(2026, 5, 1, 18, tzinfo=UTC)
    changes = thread_changes(found, [], [at - timedelta(days=1), at], private=False, guild_id=7)
    assert changes.closed == () and [(t.said_at, t.guild_id) for t in changes.opened] == [(at, 7), (at, 7)]


async def test_a_thread_closes_a_week_after_its_day_or_a_month_after_it_was_said(store: Store) -> None:
    await store.people.ensure_user(USER_ID, "alice")
    now = utc_now()
    await store.threads.apply(USER_ID, ThreadChanges((
        NewThread("due soon", now + timedelta(days=1), now, False, 5),
        NewThread("due six days ago", now - timedelta(days=6), now - timedelta(days=9), False, None),
        NewThread("due eight days ago", now - timedelta(days=8), now - timedelta(days=9), False, None),
        NewThread("undated, said last week", None, now - timedelta(days=7), True),
        NewThread("undated, said in the spring", None, now - timedelta(days=40), False),
        NewThread("Due soon", now + timedelta(days=2), now, False, 5),  # the same thread again: kept once
    )))
    open_now = [t.thread for t in await store.threads.open_for(USER_ID, *still_open(now))]
    assert open_now == ["due six days ago", "due soon", "undated, said last week"]
    # a channel of server 5 sees that server's and no server's, never a DM's; another server not server 5's
    here = await store.threads.open_for(USER_ID, *still_open(now), private=False, guild_id=5)
    assert [t.thread for t in here] == ["due six days ago", "due soon"]
    there = await store.threads.open_for(USER_ID, *still_open(now), private=False, guild_id=6)
    assert [t.thread for t in there] == ["due six days ago"]
    assert await store.threads.delete_expired(*still_open(now)) == 2
    assert len(await store.threads.rows(USER_ID)) == 3


async def test_migration_0020_adds_the_open_threads_table(db_url: str) -> None:
    from sqlalchemy import inspect

    from database.engine import make_engine
    from tests.dbtools import migrate_to as to
    from tests.dbtools import reset_schema

    await reset_schema(db_url)
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(to("0018_timers"))
        assert "open_threads" not in await conn.run_sync(lambda c: inspect(c).get_table_names())
    async with engine.begin() as conn:
        await conn.run_sync(to("head"))
        columns = await conn.run_sync(
            lambda c: [col["name"] for col in inspect(c).get_columns("open_threads")])
    await engine.dispose()
    assert columns == ["id", "user_id", "thread", "due_at", "said_at", "private", "guild_id"]
    store = await Store(db_url).open()
    try:
        await store.people.ensure_user(USER_ID, "alice")
        now = utc_now()
        await store.threads.apply(USER_ID, ThreadChanges((NewThread(EXAM, None, now, True),)))
        [row] = await store.threads.open_for(USER_ID, *still_open(now))
        assert (row.thread, row.due_at, row.private) == (EXAM, None, True)
    finally:
        await store.close()
    engine = make_engine(db_url)
    async with engine.begin() as conn:  # and back down: the table goes, the rest stays
        await conn.run_sync(to("0018_timers", down=True))
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        await conn.run_sync(to("head"))  # the next test's database is at head again
    await engine.dispose()
    assert "open_threads" not in tables and "scheduled_jobs" in tables
