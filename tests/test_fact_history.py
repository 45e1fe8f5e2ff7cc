"""One truth per fact: extraction is shown the person's nearest known facts and answers add, update, delete
or none per fact; an updated fact closes the old one, which stays as history and is never recalled as
current. Parsing and resolving the answers, the closing in the batch's transaction and the migration on both
backends, and over the wire: "I moved to York" after "I live in Leeds"."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from database.records import Archived, ConsolidationBatch, FactRow, NewFact, VersionReason
from database.store import Store
from memory.embeddings import to_bytes
from memory.factlines import dated, line, render
from memory.facts import MAX_SHOWN, FactIndex, MalformedExtraction, parse_extraction
from memory.recall import choose, choose_both
from memory.reconcile import nearest, resolve, shown_ids, telling
from tests.harness import CHANNEL_ID, USER_ID, MakeHarness, consolidate
from tests.memory_support import (
    HashEmbedder,
    consolidation_responder,
    first_user_text,
    is_extraction,
    last_user_text,
)

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
    assert line(leeds) == "- Alice lived in Leeds (until 20 November 2026)\n"
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
        await conn.run_sync(to("0018_timers", down=True))
        left = (await conn.exec_driver_sql("SELECT fact FROM user_facts")).scalars().all()
    await engine.dispose()
    assert left == ["Alice lives in York"]


# --------------------------------------------------------------------------- over the wire

LEEDS = re.compile(r"\[(F\d+)\] alice lives in Leeds")


MOVED_ON: list[date] = []  # the day the fake's extraction says the move happened ("last week")


def extraction(body: dict[str, Any]) -> str:
    """The fake's extraction: Leeds added; with the Leeds fact shown, "moved to York" updates it, the move
    dated a week before it was told."""
    text = first_user_text(body)
    shown = LEEDS.search(text)
    if "moved to York" in text and shown:
        MOVED_ON[:] = [(datetime.now(UTC) - timedelta(days=7)).date()]
        return answer({"action": "update", "id": shown[1], "fact": "alice lives in York",
                       "category": "personal", "lasting": True, "said": None,
                       "happened": MOVED_ON[0].isoformat(), "past": "alice lived in Leeds"})
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
    assert (await consolidate(h)).new_facts == 1

    await h.dm("big news: I moved to York last week!")
    await h.replies(dm, 2)
    await bot.in_flight.drain()
    report = await consolidate(h)
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
    # only as past, until the day she moved (not the day she told of it)
    moved = MOVED_ON[0]
    assert f"- alice lived in Leeds (until {moved.day} {moved:%B} {moved.year})" in recalled[1], recalled[1]
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
        # the core-memory pass merges the memories with what happened: the facts, recalled beside them, are
        # kept apart (never "do not repeat them" beside "merge what you already knew")
        heading = "Facts kept apart about alice" if cue == MEMORY_CUE else "Facts already kept about alice"
        assert heading in asked
        assert ("do not repeat them" in asked) is (cue == SUMMARY_CUE)
        # the core-memory pass sees each with a short id, to name one the conversation made no longer true
        assert ("- [k1] Alice lives in York" if cue == MEMORY_CUE else "- Alice lives in York") in asked
        still_true = asked.split(heading)[1].split("\n\n")[0]
        assert "Leeds" not in still_true  # closed: not what is true now, only as past
        assert "- Alice lived in Leeds (until 20 November 2026)" in asked
        assert "shellfish" not in asked  # a DM secret never reaches a server channel's pass


# --------------------------------------------------------------------------- one truth at write time


def test_a_slot_is_where_they_live_their_work_partner_pet_or_one_event_and_whose() -> None:
    from memory.slots import past_tense, slot_of

    home = slot_of("alice lives in Leeds")
    assert home is not None and home == slot_of("Alice moved to York last week") and home.sure
    unsure = slot_of("alice is staying in York for the winter")
    assert unsure is not None and (unsure.name, unsure.key, unsure.sure) == ("home", "", False)
    assert slot_of("Alice's brother lives in Paris") != home  # the brother's home, not hers
    assert slot_of("Alice's cat is named Tom") == slot_of("Alice's kitten is called Miso")
    assert slot_of("Alice's cat is named Tom") != slot_of("Alice's dog is named Rex")
    assert slot_of("Alice works at the bakery") == slot_of("Alice got a job as a nurse")
    assert slot_of("Alice's wedding is on 2027-06-01") == slot_of("Alice's wedding moved to 12 July")
    for no_slot in ("alice adopted a cat", "Alice likes tea", "Alice grew up in Hull",
                    "Alice loves the rain in Leeds", "Alice ran a half marathon on 2026-11-17"):
        assert slot_of(no_slot) is None, no_slot
    assert past_tense("alice lives in Leeds") == "alice lived in Leeds"
    assert past_tense("alice moved to York") == "alice moved to York"


def facts_index(*facts: tuple[int, str, bool, int | None]) -> FactIndex:
    """(id, text, private, server) facts with the shipped model's vectors."""
    from tests.memory_support import real_embedder

    vectors = real_embedder().encode([text for _, text, _, _ in facts])
    return FactIndex.build([FactRow(i, text, "personal", False, private, 1, NOW, NOW, to_bytes(v),
                                    guild_id=guild)
                            for (i, text, private, guild), v in zip(facts, vectors, strict=True)])


def truth_of(index: FactIndex, text: str, *, private: bool, guild_id: int | None = None) -> Any:
    from memory.reconcile import one_truth, visible
    from tests.memory_support import real_embedder

    vector = real_embedder().encode([text])[0]
    return one_truth(index, text, vector, visible(index, private, guild_id), private, guild_id, 0.8)


def test_a_new_fact_closes_only_its_slot_and_only_where_it_is_seen_everywhere_the_old_one_is() -> None:
    index = facts_index((1, "alice lives in Leeds", True, None), (2, "alice works at the bakery", True, None))
    assert truth_of(index, "alice moved to York", private=True).closes == ((1, "alice lived in Leeds"),)
    assert truth_of(index, "alice got a job as a nurse", private=True).closes == (
        (2, "alice worked at the bakery"),)
    nothing = truth_of(index, "alice adopted a cat", private=True)
    assert (nothing.closes, nothing.doubts) == ((), None)
    unsure = truth_of(index, "alice is staying in York for the winter", private=True)
    assert (unsure.closes, unsure.doubts) == ((), 1)

    # A server's fact never meets a DM-only one: it neither closes it nor names it.
    secret = facts_index((1, "alice lives in Leeds", True, None))
    public = truth_of(secret, "alice moved to York", private=False, guild_id=5)
    assert (public.closes, public.doubts) == ((), None)
    # A DM fact does not close what a server sees (the server would learn of the move from the closing):
    # both stay, the DM one naming the other as its doubt.
    told = facts_index((1, "alice lives in Leeds", False, 5))
    said = truth_of(told, "alice moved to York", private=True)
    assert (said.closes, said.doubts) == ((), 1)
    assert truth_of(told, "alice moved to York", private=False, guild_id=5).closes == (
        (1, "alice lived in Leeds"),)
    assert truth_of(told, "alice moved to York", private=False, guild_id=6).closes == ()  # not seen there


async def test_a_doubt_is_read_with_both_facts_but_never_into_a_place_that_may_not_see_the_other(
        store: Store) -> None:
    await store.people.ensure_user(USER_ID, "alice")
    leeds = await store.facts.add(USER_ID, "alice lives in Leeds", category="personal")  # of no place
    assert await store.consolidation.commit_consolidation(ConsolidationBatch(
        "finn", USER_ID, (), at=NOW, new_facts=(
            NewFact("alice is staying in York", "personal", None, private=True, doubts=leeds),)))
    rows = {r.fact: r for r in await store.facts.rows(USER_ID)}
    # the DM fact may name the other (DMs see everything); the other, read everywhere, may not name it
    assert rows["alice is staying in York"].doubt == "alice lives in Leeds"
    assert rows["alice lives in Leeds"].doubt is None
    assert await store.consolidation.commit_consolidation(ConsolidationBatch(
        "finn", USER_ID, (), at=NOW, new_facts=(
            NewFact("alice is staying in Hull", "personal", None, doubts=leeds),)))
    rows = {r.fact: r for r in await store.facts.rows(USER_ID)}
    assert rows["alice lives in Leeds"].doubt == "alice is staying in Hull"
    assert render([rows["alice lives in Leeds"], rows["alice is staying in Hull"]], "alice").count(
        "unsure: ") == 1  # the pair told once
    # closed, the other is no doubt any more
    assert await store.consolidation.commit_consolidation(ConsolidationBatch(
        "finn", USER_ID, (), at=NOW, new_facts=(
            NewFact("alice moved to Bath", "personal", None, closes=((leeds, "alice lived in Leeds"),)),)))
    rows = {r.fact: r for r in await store.facts.rows(USER_ID)}
    assert rows["alice is staying in Hull"].doubt is None and rows["alice lives in Leeds"].valid_until == NOW


PLAIN_ADDS = {"I live in Leeds": "alice lives in Leeds", "moved to York": "alice moved to York",
              "adopted a cat": "alice adopted a cat",
              "staying in Hull": "alice is staying in Hull for the winter"}


def plain_adds(body: dict[str, Any]) -> str:
    """The extraction as a model naturally answers a move: a plain ``add``, whatever facts it was shown."""
    text = first_user_text(body)
    return answer(*({"action": "add", "id": None, "fact": fact, "category": "personal", "lasting": True,
                     "said": None, "happened": None, "past": None}
                    for said, fact in PLAIN_ADDS.items() if said in text))


LEEDS_NOW = re.compile(r"lives in Leeds", re.I)
LEEDS_PAST = re.compile(r"- alice lived in Leeds \(until \d{1,2} [A-Z][a-z]+ \d{4}\)")


async def test_after_a_move_told_as_a_plain_add_no_request_tells_the_old_home_as_current(
        make_harness: MakeHarness) -> None:
    from database.records import PRIVATE_SOURCE
    from tests.test_summarization import MEMORY_CUE, SMALL, SUMMARY_CUE, Script, chat, summarized

    h = await make_harness(**SMALL)
    script = Script(summary="alice told me about the rain.", memories="- alice lives in Leeds.")
    h.claude.responder = lambda body: plain_adds(body) if is_extraction(body) else script(body)
    await h.store.people.ensure_user(USER_ID, "alice")
    bot: Any = h.bot
    key = bot.services.pipeline.character_key
    await chat(h, ["I live in Leeds, the rain is relentless"], dm=True)
    await bot.services.memory.summarizer.wait_idle()
    await bot.in_flight.drain()
    assert (await consolidate(h)).new_facts == 1
    # what an earlier pass kept of her
    await h.store.memories.replace_core_memories(key, USER_ID, ["alice lives in Leeds, rain and all"],
                                                 reason=VersionReason(Archived.SUMMARIZED, "dm"),
                                                 source=PRIVATE_SOURCE)

    script.memories, script.summary = "- alice moved to York.", "alice told me she moved to York."
    await chat(h, ["big news: I moved to York last week!"], dm=True, start=1)
    await bot.services.memory.summarizer.wait_idle()
    await bot.in_flight.drain()
    moved = len(h.claude.requests)
    report = await consolidate(h)
    assert (report.new_facts, report.updated_facts, report.refreshed_memories) == (1, 0, 1)
    facts = {r.fact: r for r in await h.store.facts.rows(USER_ID)}
    york, leeds = facts["alice moved to York"], facts["alice lives in Leeds"]
    assert york.valid_until is None and leeds.superseded_by == york.id and leeds.valid_until is not None
    assert leeds.past == "alice lived in Leeds"
    # The core memories were rebuilt from the facts: told the old home as past, dated, never as still true.
    [rebuilt] = [r for r in h.claude.requests[moved:] if MEMORY_CUE in last_user_text(r.body)]
    asked = last_user_text(rebuilt.body)
    # no conversation is shown: none is asked to be merged
    assert "this conversation" not in asked and "What just happened" not in asked
    assert "rewrite them so that none tells as true what is no longer true" in asked.lower()
    still_true = asked.split("Facts kept apart about alice")[1].split("\n\n")[0]
    assert "alice moved to York" in still_true and not LEEDS_NOW.search(still_true)
    assert LEEDS_PAST.search(asked.split("No longer true about alice")[1])
    kept = await h.store.memories.placed_memories(key, USER_ID)
    assert [m.content for m in kept] == ["alice moved to York."]

    # An unrelated new fact closes nothing.
    await chat(h, ["I adopted a cat today, she is tiny"], dm=True, start=2)
    await bot.services.memory.summarizer.wait_idle()
    await bot.in_flight.drain()
    assert (await consolidate(h)).refreshed_memories == 0
    current = {r.fact for r in await h.store.facts.rows(USER_ID) if r.valid_until is None}
    assert current == {"alice moved to York", "alice adopted a cat"}

    rebuilt_at = len(h.claude.requests)
    previous = (await h.store.conversations.history(key, USER_ID, "dm")).summary
    await chat(h, ["where do I live these days, Leeds or York?"], dm=True, start=3)
    await summarized(h, "dm", previous=previous)
    later = h.claude.requests[rebuilt_at:]
    kinds = {cue: [r for r in later if cue in last_user_text(r.body)] for cue in (SUMMARY_CUE, MEMORY_CUE)}
    assert kinds[SUMMARY_CUE] and kinds[MEMORY_CUE]
    for request in later:  # the reply, the summary pass, the core-memory pass
        assert not LEEDS_NOW.search(request.all_text()), last_user_text(request.body)[:200]
    reply = [r for r in later if r.model == "claude-test-default" and not any(
        cue in last_user_text(r.body) for cue in (SUMMARY_CUE, MEMORY_CUE))][0].all_text()
    recalled = re.search(r"<recalled_facts[^>]*>\n(.*?)\n</recalled_facts>", reply, re.S)
    assert recalled is not None and LEEDS_PAST.search(recalled[1])  # as past, dated
    assert "alice moved to York" in reply  # the present (a core memory says it: not recalled twice)
    for request in (*kinds[SUMMARY_CUE], *kinds[MEMORY_CUE]):
        assert LEEDS_PAST.search(last_user_text(request.body).split("No longer true about alice")[1])


async def test_a_fact_that_may_or_may_not_replace_another_keeps_both_with_the_doubt_shown(
        make_harness: MakeHarness) -> None:
    h = await make_harness()
    others = consolidation_responder()
    h.claude.responder = lambda body: plain_adds(body) if is_extraction(body) else others(body)
    await h.store.people.ensure_user(USER_ID, "alice")
    bot: Any = h.bot
    dm = await h.dm_channel_id()
    await h.dm("I live in Leeds, the rain is relentless")
    await h.replies(dm, 1)
    await bot.in_flight.drain()
    await consolidate(h)
    await h.dm("I'm staying in Hull for the winter, with my aunt")
    await h.replies(dm, 2)
    await bot.in_flight.drain()
    await consolidate(h)
    facts = {r.fact: r for r in await h.store.facts.rows(USER_ID)}
    hull, leeds = facts["alice is staying in Hull for the winter"], facts["alice lives in Leeds"]
    assert hull.valid_until is None and leeds.valid_until is None  # both kept
    assert hull.doubt == leeds.fact and leeds.doubt == hull.fact

    await h.dm("where do I live these days, Leeds or Hull?")
    await h.replies(dm, 3)
    body = h.claude.last_request("claude-test-default").all_text()
    recalled = re.search(r"<recalled_facts[^>]*>\n(.*?)\n</recalled_facts>", body, re.S)
    assert recalled is not None
    hull_said, leeds_said = "alice is staying in Hull for the winter", "alice lives in Leeds"
    assert (f"- unsure: {hull_said} or {leeds_said}" in recalled[1]
            or f"- unsure: {leeds_said} or {hull_said}" in recalled[1])


PERSON = re.compile(r'<person name="alice">\n(.*?)\n</person>', re.S)


def person_block(request: Any) -> str:
    found = PERSON.search(request.all_text())
    assert found is not None
    return found[1]


async def test_when_a_move_closes_the_old_home_the_summaries_that_told_it_are_rewritten(
        make_harness: MakeHarness) -> None:
    """A summary that says she lives in Leeds is rewritten, in the closing consolidation, from the facts her
    DMs may see: the next reply's person block tells no superseded fact as current."""
    from memory.passtext import REWRITE_CUE
    from tests.test_summarization import SMALL, Script, chat, summarized

    h = await make_harness(**SMALL)
    script = Script(summary="alice lives in Leeds. She bakes bread on Sundays.",
                    memories="- alice bakes bread.")
    rewritten = "alice moved to York in November and bakes bread on Sundays."

    def respond(body: dict[str, Any]) -> Any:
        if is_extraction(body):
            return plain_adds(body)
        return rewritten if REWRITE_CUE in last_user_text(body) else script(body)

    h.claude.responder = respond
    await h.store.people.ensure_user(USER_ID, "alice")
    bot: Any = h.bot
    key = bot.services.pipeline.character_key
    await chat(h, ["I live in Leeds, the rain is relentless and my umbrella gave up on me this morning.",
                   "I bake bread every Sunday morning, a sourdough loaf and sometimes rye for my neighbour.",
                   "The sourdough starter is called Gerald, he lives in a jar by the window and bubbles."],
               dm=True)
    assert await summarized(h, "dm") == script.summary
    await bot.in_flight.drain()
    await consolidate(h)

    await chat(h, ["big news: I moved to York last week!"], dm=True, start=3)
    await bot.services.memory.summarizer.wait_idle()
    await bot.in_flight.drain()
    before = len(h.claude.requests)
    consolidator = bot.services.memory.consolidator
    seen: list[str] = []

    async def step(name: str, detail: dict[str, object]) -> None:  # what a request would read meanwhile
        if name == "archived":
            seen.append((await h.store.conversations.history(key, USER_ID, "dm")).summary)

    consolidator.on_step = step
    report = await consolidate(h)
    consolidator.on_step = None
    assert report.refreshed_summaries == 1
    # rewritten as soon as her batch was in, not after the rest of the run
    assert seen and set(seen) == {rewritten}
    [asked] = [r for r in h.claude.requests[before:] if REWRITE_CUE in last_user_text(r.body)]
    text = last_user_text(asked.body)
    assert script.summary in text  # the summary to rewrite, and the facts as they are now
    assert "alice moved to York" in text.split("Facts already kept about alice")[1].split("\n\n")[0]
    assert LEEDS_PAST.search(text.split("No longer true about alice")[1])
    assert (await h.store.conversations.history(key, USER_ID, "dm")).summary == rewritten

    await chat(h, ["what should I bake this weekend?"], dm=True, start=4)
    block = person_block(h.claude.last_request("claude-test-default"))
    assert "York" in block and not LEEDS_NOW.search(block)


async def test_a_channel_summary_is_rewritten_only_with_what_its_server_may_see(
        make_harness: MakeHarness) -> None:
    """A move told in a server closes the old home there: that channel's summary is rewritten, told the
    server's facts, never what she told in her DMs."""
    from memory.passtext import REWRITE_CUE
    from tests.test_summarization import SMALL, Script, chat, summarized

    h = await make_harness(**SMALL)
    script = Script(summary="alice lives in Leeds. She bakes bread on Sundays.",
                    memories="- alice bakes bread.")

    def respond(body: dict[str, Any]) -> Any:
        if is_extraction(body):
            return plain_adds(body)
        return "alice moved to York." if REWRITE_CUE in last_user_text(body) else script(body)

    h.claude.responder = respond
    await h.store.people.ensure_user(USER_ID, "alice")
    bot: Any = h.bot
    await chat(h, ["I live in Leeds, the rain is relentless and my umbrella gave up on me this morning.",
                   "I bake bread every Sunday morning, a sourdough loaf and sometimes rye for my neighbour.",
                   "The sourdough starter is called Gerald, he lives in a jar by the window and bubbles."])
    assert await summarized(h, f"channel:{CHANNEL_ID}") == script.summary
    await chat(h, ["I adopted a cat today, she is tiny"], dm=True)  # told in her DMs only
    await bot.in_flight.drain()
    await consolidate(h)
    assert {r.fact: r.private for r in await h.store.facts.rows(USER_ID)} == {
        "alice lives in Leeds": False, "alice adopted a cat": True}

    await chat(h, ["big news: I moved to York last week!"], start=3)
    await bot.services.memory.summarizer.wait_idle()
    await bot.in_flight.drain()
    before = len(h.claude.requests)
    assert (await consolidate(h)).refreshed_summaries == 1
    [asked] = [r for r in h.claude.requests[before:] if REWRITE_CUE in last_user_text(r.body)]
    text = last_user_text(asked.body)
    assert 'place="channel"' in text and LEEDS_PAST.search(text.split("No longer true about alice")[1])
    assert "cat" not in asked.all_text()


async def test_when_the_rewrite_fails_the_clause_telling_the_old_home_is_dropped(
        make_harness: MakeHarness) -> None:
    """Claude failing, the summary is not rewritten but loses the whole clause that tells the closed fact
    (found by the words it shares with the fact: memory/present.py)."""
    from memory.passtext import REWRITE_CUE
    from tests.fakes.claude_server import Reply
    from tests.test_summarization import SMALL, Script, chat, summarized

    h = await make_harness(**SMALL)
    script = Script(summary="alice lives in Leeds. She bakes bread on Sundays.",
                    memories="- alice bakes bread.")

    def respond(body: dict[str, Any]) -> Any:
        if is_extraction(body):
            return plain_adds(body)
        return Reply(status=400) if REWRITE_CUE in last_user_text(body) else script(body)

    h.claude.responder = respond
    await h.store.people.ensure_user(USER_ID, "alice")
    bot: Any = h.bot
    key = bot.services.pipeline.character_key
    await chat(h, ["I live in Leeds, the rain is relentless and my umbrella gave up on me this morning.",
                   "I bake bread every Sunday morning, a sourdough loaf and sometimes rye for my neighbour.",
                   "The sourdough starter is called Gerald, he lives in a jar by the window and bubbles."],
               dm=True)
    assert await summarized(h, "dm") == script.summary
    await bot.in_flight.drain()
    await consolidate(h)
    await chat(h, ["big news: I moved to York last week!"], dm=True, start=3)
    await bot.services.memory.summarizer.wait_idle()
    await bot.in_flight.drain()
    assert (await consolidate(h)).refreshed_summaries == 1
    assert (await h.store.conversations.history(key, USER_ID, "dm")).summary == \
        "She bakes bread on Sundays."
