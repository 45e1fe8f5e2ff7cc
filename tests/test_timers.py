"""The one timer mechanism (bot/core/timers.py) against the database (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set): a due row is run by one process only, a row armed sooner wakes the sleeping loop,
a recurring round missed while down runs once, late, and a one-shot timer whose run failed is taken again.
Over the wire: the proactive rounds in test_alive_proactive.py, a poll's closing in test_polls.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.localtime import utc_now
from bot.core.timers import CLOSED, LEASE, Dispatcher, Recurring, Timers
from database.store import Store
from database.timers import TimerRow
from tests.dbtools import open_polls, timers_of_kind
from tests.fakes import EVENT_WAIT
from tests.harness import eventually, on_log, run_due

EVERY = timedelta(minutes=30)


class Runs:
    """A round and a one-shot handler that count their runs."""

    def __init__(self) -> None:
        self.rounds: list[datetime] = []
        self.once: list[TimerRow] = []
        self.ran = asyncio.Event()

    async def round(self, now: datetime) -> str:
        self.rounds.append(now)
        await asyncio.sleep(0)  # a real round awaits: the other process gets its turn meanwhile
        return f"round {len(self.rounds)}"

    async def note(self, row: TimerRow) -> str:
        self.once.append(row)
        self.ran.set()
        return f"note {row.payload['n']}"

    async def note_poll(self, row: TimerRow) -> str:
        self.once.append(row)
        return f"poll {row.payload['poll']}"


def dispatcher(store: Store, runs: Runs, *, now: datetime, max_wait: float = 3600.0) -> Dispatcher:
    return Dispatcher(Timers(store.timers), rounds=[Recurring("round:test", EVERY, runs.round)],
                      handlers={"note": runs.note}, clock=lambda: now, max_wait=max_wait)


async def test_a_due_row_is_run_by_one_process_only(store: Store, db_url: str) -> None:
    t0 = utc_now()
    other = await Store(db_url).open()  # a second process: its own connections to the same database
    try:
        here, there = Runs(), Runs()
        mine, theirs = dispatcher(store, here, now=t0), dispatcher(other, there, now=t0)
        await mine.rows.ensure("round:test", t0)
        for n in range(5):
            await mine.timers.at("note", f"note:{n}", t0, {"n": n})
            due = t0 + n * EVERY
            ran = [r for run in await asyncio.gather(run_due(mine, due), run_due(theirs, due)) for r in run]
            assert sorted(r.split()[0] for r in ran) == ["note", "round"]  # each once, by one of them
        assert len(here.rounds) + len(there.rounds) == 5  # each grid point once, by one of them
        assert sorted(int(r.payload["n"]) for r in here.once + there.once) == [0, 1, 2, 3, 4]
        assert await timers_of_kind(store, "note") == []  # each one-shot row gone once it ran
    finally:
        await other.close()


async def test_a_row_armed_sooner_wakes_the_sleeping_loop(store: Store) -> None:
    runs = Runs()
    loop = Dispatcher(Timers(store.timers), handlers={"note": runs.note}, max_wait=3600.0)
    await loop.timers.at("note", "note:later", utc_now() + timedelta(days=1), {"n": 0})
    await loop.start()
    try:
        async def asleep() -> datetime | None:
            return loop.timers.waking_at

        waking = await eventually(asleep, "the loop asleep until the day-away row")
        assert waking > utc_now() + timedelta(minutes=30)
        # Sooner than the loop planned to look: it wakes, sleeps until this row is due, and runs it.
        await loop.timers.at("note", "note:soon", utc_now() + timedelta(milliseconds=200), {"n": 1})
        await asyncio.wait_for(runs.ran.wait(), EVENT_WAIT)
        assert [r.key for r in runs.once] == ["note:soon"]

        async def retired() -> bool:
            return [r.key for r in await timers_of_kind(store, "note")] == ["note:later"]

        await eventually(retired, "the run row deleted, the later one kept")
    finally:
        await loop.stop()


async def test_a_missed_recurring_round_runs_once_late(store: Store) -> None:
    t0 = utc_now()
    runs = Runs()
    first = dispatcher(store, runs, now=t0)
    await first.start()  # the loop gives the round its row: first due one interval on
    await eventually(lambda: store.timers.get("round:test"), "the round's row")
    await first.stop()
    down = dispatcher(store, runs, now=t0)
    assert await run_due(down, t0 + EVERY - timedelta(minutes=1)) == []
    # Down over +30, +60, +90, +120 and +150: back at +155, one round, the next on the grid.
    assert await run_due(down, t0 + timedelta(minutes=155)) == ["round 1"]
    row = await store.timers.get("round:test")
    assert row is not None and row.due == t0 + timedelta(minutes=180) and row.last_result == "round 1"
    assert await run_due(down, t0 + timedelta(minutes=156)) == []
    assert runs.rounds == [t0 + timedelta(minutes=155)]


async def test_a_one_shot_timer_whose_run_failed_is_taken_again_after_its_lease(store: Store) -> None:
    t0 = utc_now()
    tries: list[str] = []

    async def flaky(row: TimerRow) -> str:
        tries.append(row.key)
        if len(tries) == 1:
            raise ConnectionError("Discord is away")
        return "closed"

    loop = Dispatcher(Timers(store.timers), handlers={"poll": flaky}, clock=lambda: t0)
    await loop.timers.at("poll", "poll:7", t0, {"poll": 7})
    assert await run_due(loop, t0) == ["failed: Discord is away"]
    assert await run_due(loop, t0 + LEASE - timedelta(seconds=1)) == []  # leased meanwhile
    assert await run_due(loop, t0 + LEASE) == ["closed"]
    assert tries == ["poll:7", "poll:7"] and await store.timers.get("poll:7") is None


async def test_migration_0018_gives_each_open_poll_a_closing_timer_and_keeps_the_rounds(db_url: str) -> None:
    from sqlalchemy import JSON, BigInteger, Boolean, DateTime, String, Text, column, insert, table

    from database.engine import make_engine
    from tests.dbtools import migrate_to as to
    from tests.dbtools import reset_schema

    at = datetime(2026, 5, 1, 8, tzinfo=UTC)
    await reset_schema(db_url)  # the fixture's database is at head: start from 0017, populated
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(to("0017_excerpt_backfill"))
        # Written as the code of that time wrote them (typed columns: SQLite keeps its own datetime text).
        tz = DateTime(timezone=True)
        jobs = table("scheduled_jobs", column("name", String), column("next_due", tz), column("last_run", tz),
                     column("last_result", Text), column("updated_at", tz))
        await conn.execute(insert(jobs).values(name="proactive:finn", next_due=at + EVERY, last_run=at,
                                               last_result="spoke in 1 of 2 channel(s)", updated_at=at))
        polls = table("polls", *(column(c, BigInteger) for c in ("guild_id", "channel_id", "message_id",
                                                                  "author_id")),
                      column("question", Text), column("options", JSON), column("closes_at", tz),
                      column("closed", Boolean), column("created_at", tz))
        for closed in (False, True):  # ids from the sequence: the open poll is the first
            await conn.execute(insert(polls).values(guild_id=10, channel_id=20, message_id=30, author_id=1,
                                                    question="Tea?", options=["Yes", "No"],
                                                    closes_at=at + timedelta(hours=2), closed=closed,
                                                    created_at=at))
    async with engine.begin() as conn:
        await conn.run_sync(to("head"))
    await engine.dispose()
    store = await Store(db_url).open()
    try:
        [poll] = await open_polls(store)
        [timer] = await timers_of_kind(store, "poll")
        assert (timer.key, timer.due, timer.payload) == (f"poll:{poll.id}", poll.closes_at, {"poll": poll.id})
        kept = await store.timers.get("proactive:finn")
        assert kept is not None and (kept.kind, kept.due, kept.last_result) == (
            "round", at + EVERY, "spoke in 1 of 2 channel(s)")
        runs = Runs()
        loop = Dispatcher(Timers(store.timers), handlers={"poll": runs.note_poll}, clock=lambda: at)
        assert await run_due(loop, at + timedelta(hours=2)) == [f"poll {poll.id}"]  # it closes from its row
    finally:
        await store.close()


async def test_a_one_shot_timer_cut_short_by_a_shutdown_is_due_again_at_once(store: Store) -> None:
    t0 = utc_now()
    began = asyncio.Event()

    async def slow(row: TimerRow) -> str:
        began.set()
        await asyncio.Event().wait()  # still closing when the bot stops
        return "closed"

    loop = Dispatcher(Timers(store.timers), handlers={"poll": slow}, clock=lambda: t0)
    await loop.timers.at("poll", "poll:8", t0, {"poll": 8})
    started = asyncio.ensure_future(run_due(loop, t0))
    await asyncio.wait_for(began.wait(), EVENT_WAIT)
    await loop.stop()
    assert started.done()  # its run was cancelled with the loop
    row = await store.timers.get("poll:8")
    assert row is not None and row.due == t0  # not a lease away: the next start closes it


async def test_a_daily_round_the_database_closes_under_ends_instead_of_waiting(db_url: str) -> None:
    store = await Store(db_url).open()
    t0 = utc_now()
    began, release = asyncio.Event(), asyncio.Event()

    async def daily(now: datetime) -> str:
        began.set()
        await release.wait()
        await store.timers.get("round:daily")  # the database has closed meanwhile
        return "ran"

    rounds = [Recurring("round:daily", timedelta(days=1), daily)]
    loop = Dispatcher(Timers(store.timers), rounds=rounds, clock=lambda: t0)
    await loop.rows.ensure("round:daily", t0)
    running = asyncio.ensure_future(run_due(loop, t0))
    await asyncio.wait_for(began.wait(), EVENT_WAIT)
    await store.close()
    release.set()
    assert await asyncio.wait_for(running, EVENT_WAIT) == [CLOSED]  # told, not left waiting
    # A loop started on a closed database ends at once rather than retrying forever.
    late = Dispatcher(Timers(store.timers), rounds=rounds, clock=lambda: t0)
    with on_log("bot.core.timers", "the database closed; the loop ends") as ended:
        await late.start()
        await asyncio.wait_for(ended.wait(), EVENT_WAIT)
    await late.stop()


async def test_a_round_run_on_demand_goes_the_loop_s_way(store: Store) -> None:
    """:meth:`Dispatcher.run_round` runs a registered round now, due or not, as a pass would: its row claimed
    and moved to its next due time, its result recorded, so a pass just after does not run it again; a
    round this process does not have is refused by name."""
    t0 = utc_now()
    runs = Runs()
    loop = dispatcher(store, runs, now=t0)
    await loop.rows.ensure("round:test", t0 + EVERY)  # not due yet
    assert await loop.run_round("round:test") == "round 1"
    assert runs.rounds == [t0]  # run at the loop's time
    row = await store.timers.get("round:test")
    assert row is not None and (row.due, row.last_run, row.last_result) == (t0 + 2 * EVERY, t0, "round 1")
    assert await run_due(loop, t0 + EVERY) == []  # moved past its old due time: not run twice
    later = t0 + 5 * EVERY + timedelta(minutes=1)
    assert await loop.run_round("round:test", later) == "round 2"  # a time of the caller's, seen by the round
    assert runs.rounds[-1] == later
    row = await store.timers.get("round:test")
    assert row is not None and row.due == t0 + 6 * EVERY  # the next grid point after it
    # A round without a row yet is given one first.
    fresh = Dispatcher(Timers(store.timers), rounds=[Recurring("round:fresh", EVERY, runs.round)],
                       clock=lambda: t0)
    assert await fresh.run_round("round:fresh") == "round 3"
    row = await store.timers.get("round:fresh")
    assert row is not None and row.due == t0 + 2 * EVERY and row.last_result == "round 3"
    with pytest.raises(LookupError, match=r"no round 'proactive:finn' here .*runs: round:test"):
        await loop.run_round("proactive:finn")  # its feature off
