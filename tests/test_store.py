"""Data-access layer on each backend: migrations, the short-term log, conversations, memories, state."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.core.tokens import counted
from database.excerpts import insert_excerpts
from database.person_read import read_person, widths
from database.profiles import Profile
from database.records import (
    PRIVATE_NOTE_SOURCE,
    PRIVATE_SOURCE,
    Archived,
    NewExcerpt,
    PromptRequest,
    SeenMessage,
    Turn,
    VersionReason,
)
from database.store import Store, hot_statements
from database.threads import NewThread, ThreadChanges
from memory.relationships import clamp_metrics
from tests.dbtools import logged_count, nicknames
from tests.harness import check, eventually


def seen(i: int, channel: int = 10, author: int = 5, *, dm: bool = False, text: str = "hi") -> SeenMessage:
    return SeenMessage(
        i, channel, None if dm else 1, author, f"user{author}", False, dm, text, datetime.now(UTC)
    )


async def test_migrations_are_idempotent(db_url: str) -> None:
    first = await Store(db_url).open()
    await first.close()
    second = await Store(db_url).open()  # upgrading an up-to-date database is a no-op
    assert await logged_count(second) == 0
    await second.close()


def test_each_migration_says_what_it_revises_and_the_chain_is_one_line() -> None:
    """A new migration is written by copying the last one: its file, its header and its code name the same
    revision and the one before it, so the header a reader trusts is the chain Alembic runs."""
    import ast
    import re
    from pathlib import Path

    versions = sorted((Path(__file__).parent.parent / "database" / "migrations" / "versions").glob("0*.py"))
    before = None
    for path in versions:
        text = path.read_text()
        code = {t.id: ast.literal_eval(node.value) for node in ast.parse(text).body
                if isinstance(node, ast.Assign) for t in node.targets
                if isinstance(t, ast.Name) and t.id in ("revision", "down_revision")}
        header = dict(re.findall(r"^(Revision ID|Revises): *(\S*)$", text, re.M))
        # (the first one's id is its number alone: databases made since hold it)
        assert code["revision"] == header["Revision ID"] and path.stem.startswith(code["revision"]), path.name
        assert code["down_revision"] == before == (header.get("Revises") or None), path.name
        before = code["revision"]


async def test_concurrent_log_writes_are_all_kept_once(store: Store) -> None:
    await asyncio.gather(*(store.log.log_message(seen(i, author=i % 7 + 1)) for i in range(1, 301)))
    await store.log.log_message(seen(1))  # a duplicate delivery changes nothing
    assert await logged_count(store) == 300
    assert (await store.people.get_user(3)) is not None
    assert len(await store.people.list_users(limit=100)) == 7


async def test_nicknames_keep_first_and_last_seen(store: Store) -> None:
    await store.log.log_message(seen(1), "Old Name")
    await store.log.log_message(seen(2), "New Name")
    names = [n for n, _, _ in await nicknames(store, 5)]
    assert "Old Name" in names and "New Name" in names


async def test_history_is_per_user_and_scope(store: Store) -> None:
    await store.people.ensure_user(5, "a")
    await store.people.ensure_user(6, "b")
    await store.conversations.append_turns(
        "finn", 5, "dm", [counted(Turn("user", "secret dm")), counted(Turn("assistant", "ok"))]
    )
    await store.conversations.append_turns(
        "finn", 5, "channel:10", [counted(Turn("user", "public")), counted(Turn("assistant", "yo"))]
    )
    await store.conversations.append_turns("finn", 6, "dm", [counted(Turn("user", "other user"))])
    dm = await store.conversations.history("finn", 5, "dm")
    channel = await store.conversations.history("finn", 5, "channel:10")
    assert [t.content for t in dm.turns] == ["secret dm", "ok"]
    assert [t.content for t in channel.turns] == ["public", "yo"]
    assert await store.conversations.reset_conversation("finn", 5, "dm") == 2
    assert (await store.conversations.history("finn", 5, "dm")).turns == []
    assert len((await store.conversations.history("finn", 5, "channel:10")).turns) == 2


async def test_private_core_memories_stay_out_of_channel_prompts(store: Store) -> None:
    await store.people.ensure_user(5, "a")
    await store.memories.add_core_memory("finn", 5, "likes herring", source="user")
    await store.memories.replace_core_memories(
        "finn", 5, ["told me a secret in DMs"], reason=VersionReason(Archived.SUMMARIZED, "dm"),
        source=PRIVATE_SOURCE
    )
    channel = await store.conversations.prompt_data_of(PromptRequest(
        "finn", 5, "channel:10", 10, recent_limit=5, before_id=None, private=False
    ))
    dm = await store.conversations.prompt_data_of(PromptRequest(
        "finn", 5, "dm", 11, recent_limit=0, before_id=None, private=True
    ))
    # a /remember note ("user") is the person's own words, apart from the character's memories
    assert channel.core_memories == [] and channel.notes == ["likes herring"]
    assert dm.core_memories == ["told me a secret in DMs"] and dm.notes == ["likes herring"]


async def test_core_memory_versions_restore(store: Store) -> None:
    await store.people.ensure_user(5, "a")
    await store.memories.replace_core_memories("finn", 5, ["v1"],
                                               reason=VersionReason(Archived.FACTS_CHANGED))
    await store.memories.replace_core_memories("finn", 5, ["v2"],
                                               reason=VersionReason(Archived.FACTS_CHANGED))
    versions = await store.memories.core_memory_versions("finn", 5)
    v1 = next(v for v in versions if v[3] == [{"content": "v1", "source": "summary", "guild_id": None}])
    assert await store.memories.restore_core_memory_version(v1[0])
    assert [c for _, c, _ in await store.memories.core_memories("finn", 5)] == ["v1"]


async def test_relationship_values_are_clamped(store: Store) -> None:
    """The ranges are the domain's rule (memory.relationships); the store keeps what it is given."""
    await store.people.ensure_user(5, "a")
    clamped, notes = clamp_metrics({"trust": 42, "formality": -9, "anger": -1, "rapport": None})
    assert len(notes) == 3
    rel = await store.people.set_relationship("finn", 5, **clamped)
    assert (rel.trust, rel.formality, rel.anger, rel.rapport) == (10.0, -5.0, 0.0, 5.0)
    assert await store.people.relationship("finn", 5) == rel
    with pytest.raises(ValueError):
        await store.people.set_relationship("finn", 5, warmth=3)


async def test_recent_messages_come_from_the_channel_only(store: Store) -> None:
    for i in range(1, 6):
        await store.log.log_message(seen(i, channel=10, text=f"c{i}"))
    await store.log.log_message(seen(6, channel=99, dm=True, text="dm text"))
    recent = await store.log.recent_messages(10, limit=3)
    assert [m.content for m in recent] == ["c3", "c4", "c5"]


async def test_place_activation(store: Store) -> None:
    assert await store.places.is_active(10, 1)
    await store.places.set_active("guild", 1, False)
    assert not await store.places.is_active(10, 1)
    await store.places.set_active("channel", 10, True)
    assert await store.places.is_active(10, 1)
    assert not await store.places.is_active(11, 1)


async def test_usage_sums_per_user(store: Store) -> None:
    for cost in (0.5, 0.25):
        await store.usage.record(
            user_id=5,
            purpose="reply",
            model="m",
            input_tokens=10,
            output_tokens=5,
            cache_creation_tokens=100,
            cache_read_tokens=0,
            cost=cost,
            latency_ms=1,
            ok=True,
        )
    usage = await store.usage.totals(5)
    assert (usage.calls, usage.input_tokens, usage.cache_creation_tokens, usage.cost) == (2, 20, 200, 0.75)
    assert (await store.usage.totals(6)).calls == 0


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
    """The per-message statements, built once per dialect, each read rows of the test data through
    SQLAlchemy's own execution, on every backend (booleans, times, NULLs as SQLAlchemy hands them back)."""
    from sqlalchemy import update

    from database.models import CharacterState

    await store.log.log_message(
        SeenMessage(1, 10, 1, 5, "alice", False, False, "hello", datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC))
    )
    await store.log.log_message(
        SeenMessage(2, 10, 1, 6, "crabbot", True, False, "beep", datetime.now(UTC), reply_to_id=1)
    )
    await store.log.log_message(
        SeenMessage(3, 11, None, 5, "alice", False, True, "in a dm", datetime.now(UTC))
    )
    await store.consolidation.archive_logged([1])
    await store.people.set_premium(5, True)
    await store.people.set_memory_consent(5, False)
    await store.identity.add("finn", "trait", "curious")
    await store.memories.add_core_memory("finn", 5, "likes herring")
    await store.memories.replace_core_memories("finn", 5, ["a dm secret"],
                                               reason=VersionReason(Archived.SUMMARIZED, "dm"),
                                               source=PRIVATE_SOURCE)
    await store.people.set_relationship("finn", 5, trust=7.5, formality=-2)
    await store.state.set("daily_mood", "sunny")
    await store.characters.count_interaction("finn")
    async with store.engine.begin() as conn:  # a stage other than the default, written by hand
        await conn.execute(update(CharacterState).where(CharacterState.character == "finn")
                           .values(stage="friend"))
    await store.facts.add(5, "has a cat")
    await store.style.learn(5, lambda old, consent: '{"messages": 1}')
    await store.threads.apply(5, ThreadChanges((NewThread("an exam", None, datetime.now(UTC), False, 1),)))
    await store.conversations.append_turns(
        "finn",
        5,
        "dm",
        [counted(Turn("user", "hi")), counted(Turn("assistant", "hello", discord_message_id=9))],
    )
    cid = (await store.conversations.history("finn", 5, "dm")).conversation_id
    values = {
        "character": "finn",
        "user_id": 5,
        "scope": "dm",
        "private_source": PRIVATE_SOURCE,
        "private_note": PRIVATE_NOTE_SOURCE,
        "guild_id": 1,
        "channel_id": 10,
        "before": 2**63 - 1,
        "limit": 10,
        "conversation_id": cid,
    }

    def compare(conn: Any) -> list[str]:
        checked = []
        for name, statement in hot_statements(store.db.statement_dialect).items():
            if not hasattr(statement, "selected_columns"):
                continue
            rows = [tuple(r) for r in conn.execute(statement, values).all()]
            assert rows, f"{name}: the test data should give it rows"
            checked.append(name)
        return checked

    checked = await store.db.read(compare)
    assert {"turns", "recent_logged", "recent_archived", "user", "fact_stamp", "relationship"} <= set(checked)


async def test_a_failed_read_after_logging_keeps_the_message(store: Store, monkeypatch: Any) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("disk hiccup")

    async def broken_beside(*_: Any) -> Any:  # PostgreSQL reads beside the write, on its own connections
        raise RuntimeError("disk hiccup")

    monkeypatch.setattr(store.log, "_read_prompt", broken)
    monkeypatch.setattr(store.log, "_read_prompt_beside", broken_beside)
    request = PromptRequest("finn", 5, "dm", 11, 0, None, True)
    assert await store.log.log_message(seen(1, 11, dm=True), then_read=request) is None
    assert await logged_count(store) == 1
    monkeypatch.undo()
    data = await store.log.log_message(seen(2, 11, dm=True), then_read=request)
    assert data is not None and data.history.turns == []


async def test_a_message_to_answer_is_logged_even_when_its_caller_is_cancelled(store: Store) -> None:
    # On PostgreSQL it is written on its own, beside the batches (database/log.py): flush() waits for it too.
    request = PromptRequest("finn", 5, "channel:10", 10, 15, 1, False)
    caller = asyncio.create_task(store.log.log_message(seen(1), then_read=request))
    await asyncio.sleep(0)
    caller.cancel()
    await store.log.flush()
    assert await logged_count(store) == 1
    data = await store.log.log_message(seen(2), then_read=PromptRequest("finn", 5, "channel:10", 10, 15, 2,
                                                                           False))
    assert data is not None and [m.message_id for m in data.recent] == [1]


async def test_history_edited_by_any_means_reaches_the_next_read(store: Store) -> None:
    """Turns are kept in memory between replies; a trigger-moved revision makes any change to the stored
    history, even one made past Kindred (an admin's SQL console), show in the very next read."""
    from sqlalchemy import delete, insert, update

    from database.models import HistoryMessage

    await store.people.ensure_user(5, "a")
    await store.conversations.append_turns(
        "finn", 5, "dm", [counted(Turn("user", "one")), counted(Turn("assistant", "two"))]
    )
    cid = (await store.conversations.history("finn", 5, "dm")).conversation_id
    await store.conversations.append_turns(
        "finn", 5, "dm", [counted(Turn("user", "three"))]
    )  # extends the cached turns
    assert [t.content for t in (await store.conversations.history("finn", 5, "dm")).turns] == [
        "one",
        "two",
        "three",
    ]

    async def by_hand(statement: Any) -> None:
        async with store.engine.begin() as conn:
            await conn.execute(statement)

    def contents(data: Any) -> list[str]:
        return [t.content for t in data.history.turns]

    def read() -> Any:
        return store.conversations.prompt_data_of(PromptRequest(
            "finn", 5, "dm", 11, recent_limit=0, before_id=None, private=True
        ))

    await by_hand(update(HistoryMessage).where(HistoryMessage.content == "two").values(content="TWO"))
    assert contents(await read()) == ["one", "TWO", "three"]
    await by_hand(delete(HistoryMessage).where(HistoryMessage.content == "one"))
    assert contents(await read()) == ["TWO", "three"]
    await by_hand(
        insert(HistoryMessage).values(
            conversation_id=cid, role="assistant", content="four", tokens=1, created_at=datetime.now(UTC)
        )
    )
    assert contents(await read()) == ["TWO", "three", "four"]


async def test_facts_and_excerpts_edited_by_any_means_reach_the_next_recall(store: Store) -> None:
    """Recall keeps a person's facts in memory between replies and re-reads them when their stamp moves;
    triggers move it for a change made past Kindred too (an operator's SQL console, plain SQL here: no
    ``updated_at`` written), so a wrong fact fixed or removed by hand is gone from the very next reply."""
    from sqlalchemy import text

    from memory.facts import FactCache

    async def by_hand(sql: str, **values: Any) -> None:
        async with store.engine.begin() as conn:
            await conn.execute(text(sql), values)

    async def recalled() -> list[str]:
        return [f.fact for f in (await cache.get(5)).rows]

    await store.people.ensure_user(5, "a")
    keeps = await store.facts.add(5, "Alice keeps bees")
    await store.facts.add(5, "Alice sails")  # the newest: deleting the other leaves the newest id as it was
    cache = FactCache(store.facts)
    assert await recalled() == ["Alice keeps bees", "Alice sails"]
    await by_hand("UPDATE user_facts SET fact = 'Alice keeps wasps' WHERE id = :id", id=keeps)
    assert await recalled() == ["Alice keeps wasps", "Alice sails"]
    await by_hand("DELETE FROM user_facts WHERE id = :id", id=keeps)
    assert await recalled() == ["Alice sails"]
    assert cache.loads == 3  # read again at each change, and only then
    await recalled()
    assert cache.loads == 3

    said = [NewExcerpt(1000 + i, 10, None, True, "a", True, f"line {i}", datetime.now(UTC)) for i in (1, 2)]
    await store.db.write(lambda conn: insert_excerpts(store.db, conn, 5, said))
    first, second = sorted((await store.excerpts.listed(5)), key=lambda e: e.id)
    stamp = await store.excerpts.stamp(5)
    await by_hand("UPDATE archive_excerpts SET content = 'line one' WHERE id = :id", id=first.id)
    assert await store.excerpts.stamp(5) != stamp
    stamp = await store.excerpts.stamp(5)
    await by_hand("DELETE FROM archive_excerpts WHERE id = :id", id=first.id)
    assert await store.excerpts.stamp(5) != stamp
    stamp = await store.excerpts.stamp(5)
    await store.excerpts.set_embeddings([(second.id, 5, bytes(8))])  # a vector filled in: its own stamp
    assert (await store.excerpts.stamp(5))[1] == stamp[1]


async def test_a_conversation_made_again_under_its_old_id_never_shows_the_old_turns(store: Store) -> None:
    from sqlalchemy import delete

    from database.models import Conversation

    await store.people.ensure_user(5, "a")
    await store.conversations.append_turns(
        "finn", 5, "dm", [counted(Turn("user", "forget this")), counted(Turn("assistant", "ok"))]
    )
    old = await store.conversations.history("finn", 5, "dm")  # now in the cache
    async with store.engine.begin() as conn:  # deleted past the store (its turns go with it)
        await conn.execute(delete(Conversation).where(Conversation.id == old.conversation_id))
    await store.conversations.append_turns(
        "finn", 5, "dm", [counted(Turn("user", "hello again")), counted(Turn("assistant", "hi"))]
    )
    new = await store.conversations.history("finn", 5, "dm")
    if store.dialect == "sqlite":  # SQLite hands the freed id out again: the case this guards against
        assert new.conversation_id == old.conversation_id
    assert [t.content for t in new.turns] == ["hello again", "hi"]


async def test_sqlite_log_is_checkpointed_beside_the_writers(tmp_path: Any) -> None:
    """Commits never copy the write-ahead log back into the database file themselves (no stall in a
    message's log write); a store's background checkpoint does, and closing leaves the log empty."""
    path = tmp_path / "kindred.db"
    wal = path.with_name(path.name + "-wal")
    url = f"sqlite+aiosqlite:///{path}"
    store = await Store(url, checkpoint_seconds=3600).open()  # commits alone first: no checkpoint due
    other: Store | None = None
    try:
        async with store.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 0
        before = path.stat().st_size
        await asyncio.gather(*(store.log.log_message(seen(i, text="x" * 4000)) for i in range(1, 3001)))
        assert wal.stat().st_size > 12_000_000
        assert path.stat().st_size - before < 1_000_000  # SQLite on its own would have copied most back
        # A store on the same file with the checkpoints every second (the default): its loop copies the log
        # back. Its first is due after a second; a slow disk or a loaded machine may take longer.
        other = await Store(url).open()
        await eventually(check(lambda: path.stat().st_size - before > 12_000_000), "the checkpoint")
    finally:
        if other is not None:
            await other.close()
        await store.close()
    assert not wal.exists() or wal.stat().st_size == 0


async def test_a_blank_or_uncounted_turn_is_never_stored(store: Store) -> None:
    """A blank turn would make every later request of the conversation fail (the Messages API rejects empty
    text): the store refuses it, whoever asks."""
    await store.people.ensure_user(5, "a")
    for bad in (Turn("user", ""), Turn("user", " \n "), Turn("assistant", "uncounted")):
        with pytest.raises(ValueError):
            await store.conversations.append_turns("finn", 5, "dm", [counted(Turn("user", "ok")), bad])
    assert (await store.conversations.history("finn", 5, "dm")).turns == []  # nothing of a refused batch
    await store.conversations.append_turns("finn", 5, "dm", [counted(Turn("user", "hi"))])
    assert [t.content for t in (await store.conversations.history("finn", 5, "dm")).turns] == ["hi"]


async def test_the_person_read_in_one_statement_matches_the_statements_one_by_one(store: Store) -> None:
    """On PostgreSQL a prompt's person half is one statement (database/statements.py, "person"): the same
    values, of the same types, as its parts read one at a time, whether the rows are there or not."""
    q = hot_statements(store.db.statement_dialect)  # the statements the store's conversations run
    sizes = widths(q) if "person_singles" in q else ()
    one_by_one = {k: v for k, v in q.items() if not k.startswith("person")}

    async def both(private: bool) -> tuple[Any, Any]:
        request = PromptRequest("finn", 5, "dm" if private else "channel:10", 10, 0, None, private, 7)
        together = await store.db.read(lambda conn: read_person(conn, q, sizes, request))
        alone = await store.db.read(lambda conn: read_person(conn, one_by_one, (), request))
        return together, alone

    for private in (False, True):  # nothing stored yet: empty lists, no rows
        together, alone = await both(private)
        assert together == alone and together[0] == {} and together[1] == []
    await store.people.ensure_user(5, "a")
    await store.people.set_premium(5, True)
    await store.people.set_memory_consent(5, False)
    await store.identity.sync_seed("finn", [("trait", "warm"), ("lore", "a tea stall"), ("trait", "loyal")])
    await store.memories.add_core_memory("finn", 5, "likes herring", source="user")
    await store.memories.replace_core_memories("finn", 5, ["a secret"],
                                               reason=VersionReason(Archived.SUMMARIZED, "dm"),
                                               source=PRIVATE_SOURCE)
    await store.people.set_relationship("finn", 5, trust=3.5, rapport=2.0, anger=0.5, formality=-1.0)
    await store.state.set("daily_mood", "sunny")
    await store.characters.count_interaction("finn")
    await store.facts.add(5, "has a boat")
    said = [NewExcerpt(1000 + i, 10, None, True, "a", True, f"line {i}", datetime.now(UTC)) for i in (1, 2)]
    await store.db.write(lambda conn: insert_excerpts(store.db, conn, 5, said))
    kept, gone = await store.excerpts.listed(5)
    await store.excerpts.delete(5, [gone.id])  # the deletion and the vector are stamped on the users row
    await store.excerpts.set_embeddings([(kept.id, 5, bytes(8))])
    now = datetime.now(UTC)  # threads of a DM, of this server and of another (a channel shows this one's)
    await store.threads.apply(5, ThreadChanges(tuple(NewThread(f"thread {i}", now if i else None, now,
                                                               private=i == 0, guild_id=i or None)
                                                     for i in (0, 7, 8))))
    await store.feelings.move("finn", 5, lambda old, _: '{"warm": 1}', 10, lambda old: '{"lively": 1}')
    await store.profiles.set(5, name="Sam", about="bees")
    for private in (False, True):
        together, alone = await both(private)
        assert together == alone
        shown = ["thread 0", "thread 7", "thread 8"] if private else ["thread 7"]
        assert [t.thread for t in together[9]] == shown
        assert together[10] == ('{"warm": 1}', "" if private else '{"lively": 1}')
        assert together[11] == Profile("Sam", "", "bees")  # /me's, whatever the place (the prompt decides)
        # What recall's caches read for themselves (memory/recall.py, indexes): the very same stamps.
        assert together[6:9:2] == (await store.excerpts.stamps(5)) and None not in together[8]
        assert together[8] == await store.excerpts.stamp(5) and together[6] == await store.facts.stamp(5)
        # Rows come back as tuples or asyncpg records (read alike by position); the values in them, and
        # every other part, of the same types.
        def shape(value: Any) -> Any:
            leaf = isinstance(value, str | dict | Profile)
            return [type(v) for v in value] if value is not None and not leaf \
                else type(value)

        assert [shape(v) for v in together] == [shape(v) for v in alone]
        assert together[0] == {"trait": ["warm", "loyal"], "lore": ["a tea stall"]}
        # (content, source, whose words it quotes)
        assert together[1] == ([("likes herring", "user", None), ("a secret", PRIVATE_SOURCE, None)]
                               if private else [("likes herring", "user", None)])


async def test_postgresql_reads_and_one_statement_writes_need_no_begin(store: Store) -> None:
    """BEGIN and COMMIT are two round trips a unit; a read (each statement of READ COMMITTED sees its own
    snapshot anyway) and a one-statement write (atomic by itself) go without them. After a statement, the
    server says whether a transaction block is open (asyncpg's is_in_transaction(), from the wire)."""
    from sqlalchemy import Connection, insert

    from database.models import ApiCall

    if store.db.is_sqlite:
        pytest.skip("SQLite's units run on its own thread, in the transactions SQLite itself needs")

    def probe(conn: Connection) -> bool:
        conn.exec_driver_sql("SELECT 1").scalar()
        return not conn.connection.driver_connection.is_in_transaction()  # type: ignore[union-attr]

    assert await store.db.read(probe)
    assert await store.db.read_shared(probe)
    assert await store.db.write_shared(probe, single=True)
    assert not await store.db.write(probe)  # a write of several statements keeps its transaction
    assert not await store.db.write_shared(probe)

    # One statement is atomic: an executemany whose last row fails leaves none of its rows behind.
    row = {"user_id": 5, "guild_id": None, "purpose": "vote", "model": "m", "input_tokens": 1,
           "output_tokens": 1, "cache_creation_tokens": 0, "cache_read_tokens": 0, "cost": 0.0,
           "latency_ms": 1.0, "ok": True, "error": "", "created_at": datetime.now(UTC)}
    with pytest.raises(Exception):  # noqa: B017 (the driver's own error for a NULL in a NOT NULL column)
        await store.db.write_shared(
            lambda conn: conn.execute(insert(ApiCall), [row, row, {**row, "purpose": None}]), single=True)
    assert (await store.usage.totals()).calls == 0
    await store.usage.record_all([row, row])
    assert (await store.usage.totals()).calls == 2


async def test_the_log_batch_in_one_statement_writes_what_its_statements_write_one_by_one(
        store: Store, monkeypatch: Any) -> None:
    """On PostgreSQL a batch of the message log is one statement (database/statements.py, LOG_BATCH): the
    same users, nicknames, log rows (in the same order) and owed marks as user_upsert, nick_upsert,
    log_insert and the owed statements one by one; atomic by itself."""
    from datetime import timedelta

    from sqlalchemy import delete, event, select

    import database.log
    import database.owed
    from database.log import MessageLog
    from database.models import LoggedMessage, Nickname, User
    from database.owed import OwedReply, Settled

    if store.db.is_sqlite:
        pytest.skip("SQLite writes a batch statement by statement, on its own thread")
    q = hot_statements(store.db.statement_dialect)
    assert "log_batch" in q
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    ticks = [0]

    def clock() -> datetime:
        ticks[0] += 1
        return t0 + timedelta(seconds=ticks[0])

    monkeypatch.setattr(database.log, "utcnow", clock)
    monkeypatch.setattr(database.owed, "utcnow", clock)
    one_statement: list[str] = []  # the batches written as the one statement (what crosses the wire)

    def seen_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "users_in AS" in statement:
            one_statement.append(statement)

    for engine in store.db.sync_engines:
        event.listen(engine, "before_cursor_execute", seen_statement)

    def msg(i: int, author: int, *, text: str = "hi", dm: bool = False, reply_to: int | None = None
            ) -> SeenMessage:
        return SeenMessage(i, 20 if dm else 10, None if dm else 1, author, f"user{author}", author == 7, dm,
                           text, t0 + timedelta(minutes=i), reply_to)

    batches: list[list[Any]] = [
        [(msg(1, 5), "Alice", None), (msg(2, 6, dm=True), "Bob", "finn"),
         (msg(3, 7, text="a\x00b"), "", None)],
        [(msg(4, 5, reply_to=1), "Alice B.", "finn"), (msg(2, 6, text="again"), "Bob", None),
         (Settled("finn", 2), "", None), (msg(5, 5), "Alice B.", None)],
        [(msg(6, 6), "Bob", "finn"), (Settled("finn", 6), "", None), (Settled("finn", 99), "", None)],
        [(Settled("finn", 4), "", None)],
    ]

    async def tables() -> list[Any]:
        async def rows(query: Any) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in await store.db.rows(query)]

        return [
            await rows(select(User.id, User.name, User.is_bot, User.premium, User.first_seen, User.last_seen)
                       .order_by(User.id)),
            await rows(select(Nickname.user_id, Nickname.nickname, Nickname.first_seen, Nickname.last_seen)
                       .order_by(Nickname.user_id, Nickname.nickname)),
            await rows(select(LoggedMessage.message_id, LoggedMessage.channel_id, LoggedMessage.guild_id,
                              LoggedMessage.author_id, LoggedMessage.author_name, LoggedMessage.author_is_bot,
                              LoggedMessage.is_dm, LoggedMessage.content, LoggedMessage.reply_to_id,
                              LoggedMessage.created_at).order_by(LoggedMessage.id)),
            await rows(select(OwedReply.message_id, OwedReply.character, OwedReply.channel_id,
                              OwedReply.owed_since).order_by(OwedReply.message_id)),
        ]

    def log_of(statements: dict[str, Any]) -> MessageLog:
        """A message log of its own on these statements (none of its authors upserted lately)."""
        return MessageLog(store.db, statements, store.conversations.read_prompt,
                          store.conversations.read_prompt_beside)

    async def run(statements: dict[str, Any]) -> list[Any]:
        await store.db.write(lambda conn: [conn.execute(delete(t)) for t in (OwedReply, LoggedMessage,
                                                                             Nickname, User)])
        log, ticks[0] = log_of(statements), 0
        for batch in batches:
            # Handed to the log together: the batch's entries in order, in one commit.
            await asyncio.gather(*(log.settle_owed(m.character, m.message_id) if isinstance(m, Settled)
                                   else log.log_message(m, display, owed_by=owed)
                                   for m, display, owed in batch))
            for author in {m.author_id for m, _, _ in batch if isinstance(m, SeenMessage)}:
                log.forget_author(author)  # every batch upserts its authors again
        return await tables()

    together = await run(q)
    assert len(one_statement) == len(batches)  # each batch its one statement
    alone = await run({k: v for k, v in q.items() if k != "log_batch"})
    assert len(one_statement) == len(batches)
    assert together == alone
    users, nicks, logged, owed = together
    # (no display name: the author's own)
    assert [u[1] for u in users] == ["Alice B.", "Bob", "user7"] and users[0][4] < users[0][5]
    assert [n[1] for n in nicks] == ["Alice", "Alice B.", "user5", "Bob", "user6", "user7"]
    assert [m[0] for m in logged] == [1, 2, 3, 4, 5, 6]
    assert logged[1][7] == "hi" and logged[2][7] == "a\ufffdb"  # the first write of a message stands
    assert owed == []  # each mark cleared, the one set and cleared in the same batch too

    # Atomic by itself: a batch whose log row breaks (NULL channel) leaves no user or nickname behind.
    broken = SeenMessage(7, None, 1, 8, "user8", False, False, "x", t0, None)  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 (the driver's NOT NULL violation, after its retries)
        await log_of(q).log_message(broken, "Carol", owed_by="finn")
    assert len(one_statement) > len(batches)  # written as the one statement, refused whole
    assert not [u for u in (await tables())[0] if u[0] == 8]


async def test_a_prompt_read_beside_its_write_has_the_channels_lines_still_on_their_way(store: Store) -> None:
    """PostgreSQL writes a message that will be answered in a transaction of its own and reads its prompt
    beside it. The channel's chatter handed to the log a moment before, in a batch being written or waiting
    for one, is not in the database for that read: it is added from memory, once each, in order, and only
    that channel's lines from before the message."""
    from sqlalchemy import event, select

    from database.models import User

    if store.db.is_sqlite:
        pytest.skip("SQLite writes it in the batch after the chatter, then reads, on its one thread")
    log = store.log
    await log.log_message(seen(1, text="earlier"))  # committed: the read finds it
    await store.people.ensure_user(6, "user6")
    # The batch of author 6's first message upserts their users row: a transaction of the test's holds that
    # row, so the batch waits in the database, in flight, until it lets go.
    writing = asyncio.Event()

    def seen_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "users_in AS" in statement:
            writing.set()

    for engine in store.db.sync_engines:
        event.listen(engine, "before_cursor_execute", seen_statement)
    holder = await store.engine.connect()
    await holder.execute(select(User.id).where(User.id == 6).with_for_update())
    in_flight = asyncio.create_task(log.log_message(seen(2, author=6, text="has anyone seen the crab?\x00")))
    waiting: list[asyncio.Task[Any]] = []
    try:
        await writing.wait()
        waiting = [asyncio.create_task(log.log_message(m)) for m in (
            seen(3, author=7, text="not me"), seen(4, channel=11, text="elsewhere"), seen(9, text="later"))]
        await asyncio.sleep(0)  # their first steps (each handed to the log) run before this task's next one
        # Behind the batch in flight, none of them written yet.
        assert await logged_count(store) == 1 and not any(t.done() for t in (in_flight, *waiting))
        data = await log.log_message(seen(5, text="is the tide in?"), then_read=PromptRequest(
            "finn", 5, "channel:10", 10, 75, 5, False))
        assert data is not None
        assert [(m.message_id, m.author_name, m.content) for m in data.recent] == [
            (1, "user5", "earlier"), (2, "user6", "has anyone seen the crab?\ufffd"), (3, "user7", "not me")]
    finally:
        await holder.rollback()
        await holder.close()
        await asyncio.gather(in_flight, *waiting)
        for engine in store.db.sync_engines:
            event.remove(engine, "before_cursor_execute", seen_statement)
    assert await logged_count(store) == 6


async def test_connections_opened_at_start_up_have_the_hot_statements_prepared(db_url: str) -> None:
    """PostgreSQL: the first messages after a start find their statements prepared on the pool's
    connections (the server lists them in pg_prepared_statements), and the warm-up wrote nothing."""
    from sqlalchemy import func, select

    from database.models import LoggedMessage, User

    store = await Store(db_url).open()
    try:
        if store.db.is_sqlite:
            pytest.skip("SQLite's one connection prepares its statements as it goes (pysqlite's cache)")
        dialect = store.db.statement_dialect
        q = hot_statements(dialect)
        sql = {name: str(statement.compile(dialect=dialect)).strip() for name, statement in q.items()}
        texts = set(sql.values())
        prepared = await store.db.read(lambda conn: {r[0].strip() for r in conn.exec_driver_sql(
            "SELECT statement FROM pg_prepared_statements").all()})
        for name in ("recent_logged", "conversation", "person", "log_batch"):
            assert sql[name] in prepared, name
        assert len(texts & prepared) >= 20  # the hot path's reads, not just a few
        assert await store.db.scalar(select(func.count()).select_from(LoggedMessage)) == 0
        assert await store.db.scalar(select(func.count()).select_from(User)) == 0
    finally:
        await store.close()
