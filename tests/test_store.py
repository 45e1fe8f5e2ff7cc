"""Data-access layer on each backend: migrations, the short-term log, conversations, memories, state."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from database.store import PRIVATE_SOURCE, PromptRequest, SeenMessage, Store, Turn


def seen(i: int, channel: int = 10, author: int = 5, *, dm: bool = False, text: str = "hi") -> SeenMessage:
    return SeenMessage(i, channel, None if dm else 1, author, f"user{author}", False, dm, text, datetime.now(UTC))


async def test_migrations_are_idempotent(db_url: str) -> None:
    first = await Store(db_url).open()
    await first.close()
    second = await Store(db_url).open()  # upgrading an up-to-date database is a no-op
    assert await second.count_logged() == 0
    await second.close()


async def test_concurrent_log_writes_are_all_kept_once(store: Store) -> None:
    await asyncio.gather(*(store.log_message(seen(i, author=i % 7 + 1)) for i in range(1, 301)))
    await store.log_message(seen(1))  # a duplicate delivery changes nothing
    assert await store.count_logged() == 300
    assert (await store.get_user(3)) is not None
    assert len(await store.list_users(limit=100)) == 7


async def test_nicknames_keep_first_and_last_seen(store: Store) -> None:
    await store.log_message(seen(1), "Old Name")
    await store.log_message(seen(2), "New Name")
    names = [n for n, _, _ in await store.nicknames(5)]
    assert "Old Name" in names and "New Name" in names


async def test_history_is_per_user_and_scope(store: Store) -> None:
    await store.ensure_user(5, "a")
    await store.ensure_user(6, "b")
    await store.append_turns("finn", 5, "dm", [Turn("user", "secret dm"), Turn("assistant", "ok")])
    await store.append_turns("finn", 5, "channel:10", [Turn("user", "public"), Turn("assistant", "yo")])
    await store.append_turns("finn", 6, "dm", [Turn("user", "other user")])
    dm = await store.history("finn", 5, "dm")
    channel = await store.history("finn", 5, "channel:10")
    assert [t.content for t in dm.turns] == ["secret dm", "ok"]
    assert [t.content for t in channel.turns] == ["public", "yo"]
    assert await store.reset_conversation("finn", 5, "dm") == 2
    assert (await store.history("finn", 5, "dm")).turns == []
    assert len((await store.history("finn", 5, "channel:10")).turns) == 2


async def test_private_core_memories_stay_out_of_channel_prompts(store: Store) -> None:
    await store.ensure_user(5, "a")
    await store.add_core_memory("finn", 5, "likes herring", source="user")
    await store.replace_core_memories("finn", 5, ["told me a secret in DMs"], reason="dm summary",
                                      source=PRIVATE_SOURCE)
    channel = await store.prompt_data("finn", 5, "channel:10", 10, recent_limit=5, before_id=None, private=False)
    dm = await store.prompt_data("finn", 5, "dm", 11, recent_limit=0, before_id=None, private=True)
    assert channel.core_memories == ["likes herring"]
    assert set(dm.core_memories) == {"likes herring", "told me a secret in DMs"}


async def test_core_memory_versions_restore(store: Store) -> None:
    await store.ensure_user(5, "a")
    await store.replace_core_memories("finn", 5, ["v1"], reason="first")
    await store.replace_core_memories("finn", 5, ["v2"], reason="second")
    versions = await store.core_memory_versions("finn", 5)
    v1 = next(v for v in versions if v[3] == [{"content": "v1", "source": "summary"}])
    assert await store.restore_core_memory_version(v1[0])
    assert [c for _, c, _ in await store.core_memories("finn", 5)] == ["v1"]


async def test_relationship_values_are_clamped(store: Store) -> None:
    await store.ensure_user(5, "a")
    rel = await store.set_relationship("finn", 5, trust=42, formality=-9, anger=-1)
    assert (rel.trust, rel.formality, rel.anger) == (10.0, -5.0, 0.0)


async def test_recent_messages_come_from_the_channel_only(store: Store) -> None:
    for i in range(1, 6):
        await store.log_message(seen(i, channel=10, text=f"c{i}"))
    await store.log_message(seen(6, channel=99, dm=True, text="dm text"))
    recent = await store.recent_messages(10, limit=3)
    assert [m.content for m in recent] == ["c3", "c4", "c5"]


async def test_place_activation(store: Store) -> None:
    assert await store.is_active(10, 1)
    await store.set_place_active("guild", 1, False)
    assert not await store.is_active(10, 1)
    await store.set_place_active("channel", 10, True)
    assert await store.is_active(10, 1)
    assert not await store.is_active(11, 1)


async def test_usage_sums_per_user(store: Store) -> None:
    for cost in (0.5, 0.25):
        await store.record_api_call(user_id=5, purpose="reply", model="m", input_tokens=10, output_tokens=5,
                                    cache_creation_tokens=100, cache_read_tokens=0, cost=cost, latency_ms=1, ok=True)
    usage = await store.usage(5)
    assert (usage.calls, usage.input_tokens, usage.cache_creation_tokens, usage.cost) == (2, 20, 200, 0.75)
    assert (await store.usage(6)).calls == 0


async def test_migrations_match_the_models(store: Store) -> None:
    """A model changed without its Alembic migration (or a migration that differs from it) shows up here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from database.models import Base

    def differences(conn: Any) -> list[Any]:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)

    async with store.engine.connect() as conn:
        assert await conn.run_sync(differences) == []


async def test_hot_path_statements_read_what_sqlalchemy_reads(store: Store) -> None:
    """The per-message statements run straight on the SQLite cursor; they must hand back exactly what
    SQLAlchemy's own execution does (booleans, times, NULLs) for every statement, on every backend."""
    await store.log_message(SeenMessage(1, 10, 1, 5, "alice", False, False, "hello", datetime(2026, 1, 2, 3, 4, 5, 6,
                                                                                               tzinfo=UTC)))
    await store.log_message(SeenMessage(2, 10, 1, 6, "crabbot", True, False, "beep", datetime.now(UTC), reply_to_id=1))
    await store.log_message(SeenMessage(3, 11, None, 5, "alice", False, True, "in a dm", datetime.now(UTC)))
    await store.archive_logged([1])
    await store.set_premium(5, True)
    await store.set_memory_consent(5, False)
    await store.add_identity("finn", "trait", "curious")
    await store.add_core_memory("finn", 5, "likes herring")
    await store.replace_core_memories("finn", 5, ["a dm secret"], reason="dm", source=PRIVATE_SOURCE)
    await store.set_relationship("finn", 5, trust=7.5, formality=-2)
    await store.set_state("daily_mood", "sunny")
    await store.count_interaction("finn")
    await store.set_character_stage("finn", "friend")
    await store.insert_user_fact(5, "has a cat")
    await store.append_turns("finn", 5, "dm", [Turn("user", "hi"), Turn("assistant", "hello", discord_message_id=9)])
    cid = (await store.history("finn", 5, "dm")).conversation_id
    values = {"character": "finn", "user_id": 5, "scope": "dm", "private_source": PRIVATE_SOURCE,
              "channel_id": 10, "before": 2**63 - 1, "limit": 10, "conversation_id": cid}

    def compare(conn: Any) -> list[str]:
        checked = []
        for name, prepared in store._q.items():
            if not hasattr(prepared.statement, "selected_columns"):
                continue
            assert prepared.raw == (store.dialect == "sqlite"), name
            expected = [tuple(r) for r in conn.execute(prepared.statement, values).all()]
            assert expected, f"{name}: the test data should give it rows"
            assert [tuple(r) for r in prepared.all(conn, values)] == expected, name
            checked.append(name)
        return checked

    if store.dialect == "sqlite":
        assert [name for name, prepared in store._q.items() if not prepared.raw] == []
    checked = await store._run(compare, write=False)
    assert {"turns", "recent_logged", "recent_archived", "user", "fact_stamp", "relationship"} <= set(checked)


async def test_a_failed_read_after_logging_keeps_the_message(store: Store, monkeypatch: Any) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("disk hiccup")

    monkeypatch.setattr(store, "_read_prompt", broken)
    request = PromptRequest("finn", 5, "dm", 11, 0, None, True)
    assert await store.log_message(seen(1, 11, dm=True), then_read=request) is None
    assert await store.count_logged() == 1
    monkeypatch.undo()
    data = await store.log_message(seen(2, 11, dm=True), then_read=request)
    assert data is not None and data.history.turns == []


async def test_history_edited_by_any_means_reaches_the_next_read(store: Store) -> None:
    """Turns are kept in memory between replies; a trigger-moved revision makes any change to the stored
    history, even one made past Kindred (an admin's SQL console), show in the very next read."""
    from sqlalchemy import delete, insert, update

    from database.models import HistoryMessage

    await store.ensure_user(5, "a")
    await store.append_turns("finn", 5, "dm", [Turn("user", "one"), Turn("assistant", "two")])
    cid = (await store.history("finn", 5, "dm")).conversation_id
    await store.append_turns("finn", 5, "dm", [Turn("user", "three")])  # extends the cached turns
    assert [t.content for t in (await store.history("finn", 5, "dm")).turns] == ["one", "two", "three"]

    async def by_hand(statement: Any) -> None:
        async with store.engine.begin() as conn:
            await conn.execute(statement)

    def contents(data: Any) -> list[str]:
        return [t.content for t in data.history.turns]

    def read() -> Any:
        return store.prompt_data("finn", 5, "dm", 11, recent_limit=0, before_id=None, private=True)

    await by_hand(update(HistoryMessage).where(HistoryMessage.content == "two").values(content="TWO"))
    assert contents(await read()) == ["one", "TWO", "three"]
    await by_hand(delete(HistoryMessage).where(HistoryMessage.content == "one"))
    assert contents(await read()) == ["TWO", "three"]
    await by_hand(insert(HistoryMessage).values(conversation_id=cid, role="assistant", content="four", tokens=1,
                                                created_at=datetime.now(UTC)))
    assert contents(await read()) == ["TWO", "three", "four"]


async def test_a_conversation_made_again_under_its_old_id_never_shows_the_old_turns(store: Store) -> None:
    from sqlalchemy import delete

    from database.models import Conversation

    await store.ensure_user(5, "a")
    await store.append_turns("finn", 5, "dm", [Turn("user", "forget this"), Turn("assistant", "ok")])
    old = await store.history("finn", 5, "dm")  # now in the cache
    async with store.engine.begin() as conn:  # deleted past the store (its turns go with it)
        await conn.execute(delete(Conversation).where(Conversation.id == old.conversation_id))
    await store.append_turns("finn", 5, "dm", [Turn("user", "hello again"), Turn("assistant", "hi")])
    new = await store.history("finn", 5, "dm")
    if store.dialect == "sqlite":  # SQLite hands the freed id out again: the case this guards against
        assert new.conversation_id == old.conversation_id
    assert [t.content for t in new.turns] == ["hello again", "hi"]


def test_a_statement_that_needs_python_defaults_keeps_sqlalchemy_execution() -> None:
    from sqlalchemy import insert
    from sqlalchemy.dialects.sqlite import pysqlite

    from database.models import Conversation
    from database.prepared import Prepared

    dialect = pysqlite.SQLiteDialect_pysqlite()
    assert not Prepared(insert(Conversation), dialect, column_keys=["character", "user_id", "scope"]).raw
    assert Prepared(insert(Conversation), dialect, column_keys=["character", "user_id", "scope", "summary",
                                                               "updated_at", "revision"]).raw


async def test_sqlite_log_is_checkpointed_beside_the_writers(tmp_path: Any) -> None:
    """Commits never copy the write-ahead log back into the database file themselves (no stall in a
    message's log write); the store's background checkpoint does, and closing leaves the log empty."""
    path = tmp_path / "kindred.db"
    wal = path.with_name(path.name + "-wal")
    store = await Store(f"sqlite+aiosqlite:///{path}").open()
    try:
        async with store.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 0
        loop = store._checkpointer
        assert loop is not None
        store._stop_checkpoints.set()  # commits alone first
        await loop
        store._stop_checkpoints.clear()
        before = path.stat().st_size
        await asyncio.gather(*(store.log_message(seen(i, text="x" * 4000)) for i in range(1, 3001)))
        assert wal.stat().st_size > 12_000_000
        assert path.stat().st_size - before < 1_000_000  # SQLite on its own would have copied most back
        store._checkpointer = asyncio.create_task(store._checkpoint_loop())
        for _ in range(100):  # the loop's first checkpoint is due after a second; a slow disk may take longer
            await asyncio.sleep(0.1)
            if path.stat().st_size - before > 12_000_000:
                break
        assert path.stat().st_size - before > 12_000_000  # the background checkpoint did
    finally:
        await store.close()
    assert not wal.exists() or wal.stat().st_size == 0
