"""One truth per fact: extraction is shown the person's nearest known facts and answers add, update, delete
or none per fact; an updated fact closes the old one, which stays as history and is never recalled as
current. Parsing and resolving the answers, the closing in the batch's transaction and the migration on both
backends, and over the wire: "I moved to York" after "I live in Leeds"."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from database.records import ConsolidationBatch, FactRow, NewFact
from database.store import Store
from memory.embeddings import to_bytes
from memory.factlines import dated, line, render
from memory.facts import MAX_SHOWN, FactIndex, MalformedExtraction, parse_extraction
from memory.recall import choose, choose_both
from memory.reconcile import nearest, resolve, shown_ids, telling
from tests.harness import CHANNEL_ID, USER_ID, MakeHarness
from tests.memory_support import HashEmbedder, consolidation_responder, first_user_text, is_extraction

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def row(i: int, text: str, **extra: Any) -> FactRow:
    return FactRow(i, text, "personal", False, False, 1, NOW, NOW, to_bytes(HashEmbedder().encode([text])[0]),
                   **extra)


def answer(*facts: dict[str, Any]) -> str:
    return json.dumps({"facts": list(facts), "relationship": {}})


# --------------------------------------------------------------------------- the answers


def test_each_fact_is_added_updated_deleted_or_left_as_it_is() -> None:
    parsed = parse_extraction(answer(
        {"action": "add", "id": None, "fact": "Alice keeps bees", "category": "hobbies"},
        {"action": "update", "id": "F1", "fact": "Alice lives in York", "category": "personal",
         "past": "Alice lived in Leeds"},
        {"action": "delete", "id": "f2", "fact": "", "category": "other", "past": None},
        {"action": "none", "id": 3, "fact": "Alice has a cat", "category": "personal"},
        {"action": "Update", "id": None, "fact": "Alice swims", "category": "hobbies"},  # no id: a new fact
        {"action": "delete", "id": None, "fact": "x"},  # about no shown fact: nothing
        {"action": "shout", "fact": "Alice sings"},  # an action not known: add
    ), 1.0)
    assert [(f.action, f.ref, f.fact, f.past) for f in parsed.facts] == [
        ("add", None, "Alice keeps bees", None),
        ("update", "F1", "Alice lives in York", "Alice lived in Leeds"),
        ("delete", "F2", "", None),
        ("none", "F3", "Alice has a cat", None),
        ("add", None, "Alice swims", None),
        ("add", None, "Alice sings", None)]
    # Today's answers (no action) are additions, as before.
    assert [f.action for f in parse_extraction('{"facts": [{"fact": "Alice is 34"}, "Alice rows"]}',
                                               1.0).facts] == ["add", "add"]
    for bad in ('{"facts": [{"action": "update", "id": "F1"}]}', '{"facts": [{"action": "none"}]}'):
        with pytest.raises(MalformedExtraction):  # still an object with a "fact" string each
            parse_extraction(bad, 1.0)


def test_answers_apply_to_the_facts_shown_once_each() -> None:
    leeds, cat, tea = row(10, "Alice lives in Leeds"), row(11, "Alice has a cat"), row(12, "Alice loves tea")
    shown = shown_ids([leeds, cat, tea])
    assert list(shown) == ["F1", "F2", "F3"]
    parsed = parse_extraction(answer(
        {"action": "update", "id": "F1", "fact": "Alice lives in York", "past": "Alice lived in Leeds"},
        {"action": "update", "id": "F1", "fact": "Alice lives in Hull"},  # F1 changed already: a new fact
        {"action": "delete", "id": "F2", "fact": "", "past": "Alice had a cat"},
        {"action": "update", "id": "F3", "fact": "alice loves tea"},  # the same words: said again
        {"action": "update", "id": "F9", "fact": "Alice rows"},  # never shown: a new fact
        {"action": "none", "id": "F8", "fact": "Alice sings"},  # never shown: nothing
    ), 1.0)
    resolved = resolve(parsed.facts, shown)
    assert [(f.fact, r.id, f.past) for f, r in resolved.updates] == [("Alice lives in York", 10,
                                                                    "Alice lived in Leeds")]
    assert [f.fact for f in resolved.new] == ["Alice lives in Hull", "Alice rows"]
    assert [(r.id, past) for r, past in resolved.retired] == [(11, "Alice had a cat")]
    assert list(resolved.kept) == [12]


def test_of_many_facts_the_extraction_is_shown_those_nearest_to_the_messages() -> None:
    rows = [row(i, f"Alice collected {i} blue stamps in spring") for i in range(1, 40)]
    rows.append(row(40, "Alice lives in Leeds near the canal"))
    index = FactIndex.build(rows)
    lines = ["big news", "I moved to York, no more Leeds canal walks", "ok"]
    vectors = HashEmbedder().encode(telling(lines))
    picked = nearest(index, np.arange(len(rows)), vectors, "\n".join(lines))
    assert len(picked) == MAX_SHOWN and 39 in picked.tolist()  # the Leeds fact (position 39) among them
    assert telling(["a", "ccc", "bb"]) == ["ccc", "bb", "a"]


# --------------------------------------------------------------------------- what recall shows


def test_a_closed_fact_is_history_never_current_and_a_date_is_said_once() -> None:
    york = row(2, "Alice lives in York")
    leeds = row(1, "Alice lives in Leeds", valid_until=NOW, superseded_by=2, past="Alice lived in Leeds.")
    reworded = row(3, "Alice likes tea", valid_until=NOW, superseded_by=4)  # no past: never recalled
    index = FactIndex.build([leeds, york, reworded])
    vector = HashEmbedder().encode(["where does Alice live? Leeds or York"])[0]
    chosen = choose(index, vector, budget=400, private=True, now=NOW, expiry_days=0,
                    text="where does Alice live? Leeds or York")
    assert [f.id for f in chosen] == [2, 1]  # the present first, the history after it
    assert line(leeds) == "- Alice lived in Leeds (until November 2026)\n"
    assert "lives in Leeds" not in render(chosen, "alice")
    # Nothing asked about: the history is no filler.
    # Nothing asked about, or asked what is remembered (a filled budget): the history is no filler.
    assert choose(index, None, budget=400, private=True, now=NOW, expiry_days=0) == []
    filled = choose_both(index, None, budget=400, private=True, now=NOW, expiry_days=0, fill=True)[0]
    assert [f.id for f in filled] == [2]

    ran = row(5, "Alice ran a half marathon on 2026-11-17.", happened_at=NOW - timedelta(days=3))
    assert line(ran) == "- Alice ran a half marathon on 2026-11-17.\n"  # not "(happened 17 November 2026)"
    plain = row(6, "Alice ran a half marathon", happened_at=NOW - timedelta(days=3))
    assert line(plain) == "- Alice ran a half marathon (happened 17 November 2026)\n"
    assert dated("on 17th November", "2026-11-17") and not dated("on 27 November", "2026-11-07")


# --------------------------------------------------------------------------- the database


async def test_an_update_closes_the_old_fact_and_a_delete_without_history_removes_it(store: Store) -> None:
    await store.people.ensure_user(USER_ID, "alice")
    leeds = await store.facts.add(USER_ID, "Alice lives in Leeds", category="personal")
    typo = await store.facts.add(USER_ID, "Alice has a dgo", category="personal")
    cat = await store.facts.add(USER_ID, "Alice has a cat", category="personal")
    said = NOW - timedelta(days=1)
    assert await store.consolidation.commit_consolidation(ConsolidationBatch(
        "finn", USER_ID, (), at=NOW, new_facts=(
            NewFact("Alice lives in York", "personal", None, said_at=said, replaces=leeds,
                    past="Alice lived in Leeds"),),
        retired=((typo, None), (cat, "Alice had a cat"))))
    rows = {r.fact: r for r in await store.facts.rows(USER_ID)}
    assert set(rows) == {"Alice lives in Leeds", "Alice lives in York", "Alice has a cat"}
    york, old, gone_cat = rows["Alice lives in York"], rows["Alice lives in Leeds"], rows["Alice has a cat"]
    assert york.valid_until is None and old.superseded_by == york.id and old.past == "Alice lived in Leeds"
    assert old.valid_until == said and gone_cat.valid_until == NOW and gone_cat.superseded_by is None


async def test_migration_0019_keeps_every_fact_current(db_url: str) -> None:
    from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String, Text, column, insert, table

    from database.engine import make_engine
    from tests.dbtools import migrate_to as to
    from tests.dbtools import reset_schema

    await reset_schema(db_url)  # the fixture's database is at head: start from 0018, with a fact
    engine = make_engine(db_url)
    tz = DateTime(timezone=True)
    async with engine.begin() as conn:
        await conn.run_sync(to("0018_timers"))
        users = table("users", column("id", BigInteger), column("name", String), column("is_bot", Boolean),
                      column("premium", Boolean), column("first_seen", tz), column("last_seen", tz))
        await conn.execute(insert(users).values(id=USER_ID, name="alice", is_bot=False, premium=False,
                                                first_seen=NOW, last_seen=NOW))
        facts = table("user_facts", column("user_id", BigInteger), column("fact", Text),
                      column("category", String), column("first_mentioned", tz), column("last_mentioned", tz),
                      column("reference_count", Integer), column("pinned", Boolean),
                      column("private", Boolean), column("lasting", Boolean), column("updated_at", tz))
        await conn.execute(insert(facts).values(user_id=USER_ID, fact="Alice lives in Leeds",
                                                category="personal", first_mentioned=NOW, last_mentioned=NOW,
                                                reference_count=1, pinned=False, private=False, lasting=True,
                                                updated_at=NOW))
    async with engine.begin() as conn:
        await conn.run_sync(to("0019_fact_history"))
    await engine.dispose()
    store = await Store(db_url).open()
    try:
        [fact] = await store.facts.rows(USER_ID)
        assert (fact.fact, fact.valid_until, fact.superseded_by, fact.past) == ("Alice lives in Leeds", None,
                                                                                 None, None)
        assert await store.consolidation.commit_consolidation(ConsolidationBatch(
            "finn", USER_ID, (), at=NOW, new_facts=(NewFact("Alice lives in York", "personal", None,
                                                            replaces=fact.id, past="Alice lived in Leeds"),)))
    finally:
        await store.close()
    engine = make_engine(db_url)
    async with engine.begin() as conn:  # down again: the history goes, the current facts stay
        await conn.run_sync(downgrade_to("0018_timers"))
        left = (await conn.exec_driver_sql("SELECT fact FROM user_facts")).scalars().all()
    await engine.dispose()
    assert left == ["Alice lives in York"]


def downgrade_to(revision: str) -> Any:
    from alembic import command
    from alembic.config import Config

    from database.engine import MIGRATIONS

    def run(connection: object) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)
    return run


# --------------------------------------------------------------------------- over the wire

LEEDS = re.compile(r"\[(F\d+)\] alice lives in Leeds")


def extraction(body: dict[str, Any]) -> str:
    """The fake's extraction: Leeds added; with the Leeds fact shown, "moved to York" updates it."""
    text = first_user_text(body)
    shown = LEEDS.search(text)
    if "moved to York" in text and shown:
        return answer({"action": "update", "id": shown[1], "fact": "alice lives in York",
                       "category": "personal", "lasting": True, "said": None, "happened": None,
                       "past": "alice lived in Leeds"})
    if "I live in Leeds" in text:
        return answer({"action": "add", "id": None, "fact": "alice lives in Leeds", "category": "personal",
                       "lasting": True, "said": None, "happened": None, "past": None})
    return answer()


async def test_a_move_updates_the_fact_and_the_reply_knows_where_they_live_now_and_where_before(
        make_harness: MakeHarness) -> None:
    h = await make_harness()
    others = consolidation_responder()
    h.claude.responder = lambda body: extraction(body) if is_extraction(body) else others(body)
    await h.store.people.ensure_user(USER_ID, "alice")
    bot: Any = h.bot
    dm = await h.dm_channel_id()
    await h.dm("I live in Leeds, the rain is relentless")
    await h.replies(dm, 1)
    await bot.in_flight.drain()
    assert (await bot.services.memory.consolidator.run()).new_facts == 1

    await h.dm("big news: I moved to York last week!")
    await h.replies(dm, 2)
    await bot.in_flight.drain()
    report = await bot.services.memory.consolidator.run()
    asked = [first_user_text(r.body) for r in h.claude.requests if is_extraction(r.body)]
    assert "moved to York" in asked[-1] and LEEDS.search(asked[-1])  # shown the Leeds fact, with its id
    assert report.updated_facts == 1
    facts = {r.fact: r for r in await h.store.facts.rows(USER_ID)}
    assert facts["alice lives in Leeds"].superseded_by == facts["alice lives in York"].id

    await h.dm("where do I live these days?")
    await h.replies(dm, 3)
    body = h.claude.last_request("claude-test-default").all_text()
    recalled = re.search(r"<recalled_facts[^>]*>\n(.*?)\n</recalled_facts>", body, re.S)
    assert recalled is not None
    assert "- alice lives in York" in recalled[1]  # current
    assert re.search(r"- alice lived in Leeds \(until \w+ \d{4}\)", recalled[1])  # only as past
    assert "lives in Leeds" not in recalled[1]


async def test_the_summary_and_core_memory_passes_see_the_current_facts_of_their_place(
        make_harness: MakeHarness) -> None:
    from tests.test_summarization import CHAT, MEMORY_CUE, SMALL, SUMMARY_CUE, Script, chat, requests_with
    from tests.test_summarization import summarized as summary_of

    h = await make_harness(**SMALL)
    h.claude.responder = Script()
    await h.store.people.ensure_user(USER_ID, "alice")
    leeds = await h.store.facts.add(USER_ID, "Alice lives in Leeds", category="personal")
    assert await h.store.consolidation.commit_consolidation(ConsolidationBatch(
        "finn", USER_ID, (), at=NOW, new_facts=(
            NewFact("Alice lives in York", "personal", None, replaces=leeds, past="Alice lived in Leeds"),
            NewFact("Alice is allergic to shellfish", "health", None, private=True))))
    await chat(h, CHAT[:3])
    await summary_of(h, f"channel:{CHANNEL_ID}")
    for cue in (SUMMARY_CUE, MEMORY_CUE):
        [request] = requests_with(h, cue)
        asked = first_user_text(request.body)
        assert "Facts already kept about alice" in asked and "- Alice lives in York" in asked
        assert "Leeds" not in asked  # closed: not what is true now
        assert "shellfish" not in asked  # a DM secret never reaches a server channel's pass
