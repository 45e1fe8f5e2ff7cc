"""Database helpers that only tests and benchmarks need (the product never reads these)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update

from bot.features.polls import Poll, PollRecord, Polls
from database.alive_models import ScheduledJob
from database.engine import make_engine
from database.models import (
    ApiCall,
    ArchivedMessage,
    Base,
    Conversation,
    HistoryMessage,
    LoggedMessage,
    Nickname,
    utcnow,
)
from database.records import as_utc
from database.store import Store
from database.swipes import SwipeSet
from database.timers import TimerRow


async def reset_schema(url: str) -> None:
    """Drop every table: lets each test start from a fresh, migrated database."""
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        for gone in ("place_settings", "place_switches", "server_settings"):  # before 0043, left by a test
            await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {gone}")
        if conn.dialect.name == "postgresql":  # outlives the tables (migration 0004)
            await conn.exec_driver_sql("DROP FUNCTION IF EXISTS kindred_history_revision()")
    await engine.dispose()


def migrate_to(revision: str, *, down: bool = False) -> Callable[[object], None]:
    """For ``conn.run_sync``: bring the connection's database up to ``revision`` with Alembic (a migration
    test starts from an older schema, fills it, then upgrades), or down to it (``down``)."""
    from alembic import command
    from alembic.config import Config

    from database.engine import MIGRATIONS

    def run(connection: object) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)
    return run


async def end_session_holding(url: str, key: int) -> int:
    """PostgreSQL: end the sessions holding the advisory lock ``key`` as an administrator's
    pg_terminate_backend does (a process killed with kill -9 leaves the same: no unlock, no goodbye); how
    many there were."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            # A bigint key is held as two halves: classid the high 32 bits, objid the low, objsubid 1.
            ended = await conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
                {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF})
            return len(ended.all())
    finally:
        await engine.dispose()


async def logged_count(store: Store) -> int:
    """Rows in the message log (not yet consolidated)."""
    return int(await store.db.scalar(select(func.count()).select_from(LoggedMessage)))


async def logged_ids(store: Store, message_ids: list[int]) -> list[int]:
    """Which of ``message_ids`` are in the message log or its archive."""
    found: set[int] = set()
    for table in (LoggedMessage, ArchivedMessage):
        found.update(int(m) for (m,) in await store.db.rows(
            select(table.message_id).where(table.message_id.in_(message_ids))))
    return sorted(found)


async def archived_count(store: Store) -> int:
    """Rows consolidation moved to the archive."""
    return int(await store.db.scalar(select(func.count()).select_from(ArchivedMessage)))


async def open_polls(store: Store) -> list[PollRecord]:
    """Polls still to be closed, soonest first, read as the bot reads one."""
    ids = await store.db.rows(select(Poll.id).where(Poll.closed.is_(False)).order_by(Poll.closes_at))
    return [poll for (poll_id,) in ids if (poll := await Polls(store.db).get(int(poll_id))) is not None]


async def timers_of_kind(store: Store, kind: str) -> list[TimerRow]:
    """The durable timers of one kind, soonest first, read as the timer loop reads one."""
    keys = await store.db.rows(select(ScheduledJob.name).where(ScheduledJob.kind == kind)
                               .order_by(ScheduledJob.next_due))
    return [row for (key,) in keys if (row := await store.timers.get(str(key))) is not None]


async def swipe_rows(store: Store, user_id: int) -> list[int]:
    """The replies (their message ids) whose swipes name ``user_id``, open or closed."""
    return [int(m) for (m,) in await store.db.rows(select(SwipeSet.message_id)
                                                   .where(SwipeSet.user_id == user_id))]


async def api_calls(store: Store, *, user_id: int | None = None, limit: int = 100) -> list[Any]:
    """Recorded model calls, newest first (rows with ApiCall's columns as attributes)."""
    query = select(ApiCall).order_by(ApiCall.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(ApiCall.user_id == user_id)
    return await store.db.rows(query)


async def nicknames(store: Store, user_id: int) -> list[tuple[str, datetime, datetime]]:
    rows = await store.db.rows(select(Nickname.nickname, Nickname.first_seen, Nickname.last_seen)
                               .where(Nickname.user_id == user_id).order_by(Nickname.first_seen))
    return [(r[0], as_utc(r[1]), as_utc(r[2])) for r in rows]


async def compact_history(store: Store, conversation_id: int, summary: str, drop_through_id: int) -> None:
    """Replace every turn up to ``drop_through_id`` by ``summary``, as a summarization would."""
    def write(conn: Any) -> None:
        conn.execute(delete(HistoryMessage).where(HistoryMessage.conversation_id == conversation_id,
                                                  HistoryMessage.id <= drop_through_id))
        conn.execute(update(Conversation).where(Conversation.id == conversation_id)
                     .values(summary=summary, updated_at=utcnow()))

    await store.db.write(write)
    store.conversations.history_changed()


async def store_raw_turns(store: Store, character: str, user_id: int, scope: str,
                          turns: list[tuple[str, str]]) -> list[int]:
    """Write history rows as they are, blank ones included (as an older version of Kindred could leave
    them): the store itself refuses to store a blank turn."""
    def write(conn: Any) -> list[int]:
        key = {"character": character, "user_id": user_id, "scope": scope}
        cid = conn.execute(select(Conversation.id).filter_by(**key)).scalar()
        if cid is None:
            cid = conn.execute(insert(Conversation).values(**key, summary="", updated_at=utcnow())
                               .returning(Conversation.id)).scalar_one()
        return [int(conn.execute(insert(HistoryMessage).values(
            conversation_id=cid, role=role, content=content, tokens=0, created_at=utcnow())
            .returning(HistoryMessage.id)).scalar_one()) for role, content in turns]

    ids = await store.db.write(write)
    store.conversations.history_changed()
    return ids


async def seed_dashboard_history(store: Store, character: str, days: int = 29) -> None:
    """Claude calls and reply counters for the ``days`` days before today (a test's own traffic is all
    today; the dashboard charts 30 days). Deterministic, so screenshots only change when the pages do."""
    rng = random.Random(16)
    now = utcnow()
    calls: list[dict[str, Any]] = []
    counts: dict[tuple[str, str, str], int] = {}
    for back in range(1, days + 1):
        when = now - timedelta(days=back)
        day = when.strftime("%Y-%m-%d")
        busy = 1.0 + 0.6 * (when.weekday() >= 5) + rng.random() * 0.4
        seen = int(40 * busy)
        voted = seen // 2
        answered = seen - voted + voted // 4
        fallbacks = 1 if back % 9 == 0 else 0
        for name, value in (("seen", seen), ("answered", answered), ("voted", voted), ("votes", voted * 3),
                            ("fallbacks", fallbacks)):
            counts[(day, character, name)] = value
        for i in range(answered + voted):
            reply = i < answered
            prompt = 1800 + rng.randrange(600)
            cached = int(prompt * (0.55 + 0.3 * rng.random())) if reply else 0
            calls.append({"user_id": None, "purpose": "reply" if reply else "vote",
                          "model": "claude-test-default" if reply else "claude-test-voter",
                          "input_tokens": prompt - cached, "output_tokens": 120 if reply else 1,
                          "cache_creation_tokens": 0, "cache_read_tokens": cached,
                          "cost": (prompt - cached + cached * 0.1 + 600) * 3e-6 if reply else prompt * 1e-6,
                          "latency_ms": 900.0, "ok": not (reply and i < fallbacks), "error": "",
                          "created_at": when})
    await store.db.write(lambda conn: conn.execute(insert(ApiCall), calls))
    await store.stats.add_counts(counts)
