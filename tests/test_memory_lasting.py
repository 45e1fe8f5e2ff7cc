"""Memory that lasts months: soft expiry counted from the person's last interaction (lasting and pinned facts
never expire), when a fact was told and happened, BM25 and time rankings fused with the embeddings, and over
the wire: what reaches the reply prompt."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import update

from database.models import User, UserFact
from database.records import ConsolidationBatch, FactRow, NewFact, SeenMessage
from database.store import Store
from memory.batching import Batch, fact_times
from memory.embeddings import to_bytes
from memory.factlines import render
from memory.facts import FactIndex, parse_extraction
from memory.lexical import LexicalIndex, terms
from memory.recall import choose, expiring_allowed
from memory.timewords import window
from tests.harness import CHANNEL_ID, USER2_ID, USER_ID, MakeHarness, eventually
from tests.memory_support import HashEmbedder

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def fact(i: int, text: str, *, told_days: float = 0, lasting: bool = False, pinned: bool = False,
         happened: datetime | None = None) -> FactRow:
    when = NOW - timedelta(days=told_days)
    return FactRow(i, text, "other", pinned, False, 1, when, when, to_bytes(HashEmbedder().encode([text])[0]),
                   lasting, when, happened)


# --------------------------------------------------------------------------- pure rules


def test_bm25_stems_and_ranks_rare_words_first() -> None:
    assert terms("She was hiking with her dogs") == ["hike", "dog"]
    index = LexicalIndex.build(["Alice hikes in Sweden", "Alice likes tea", "Alice hiked with Bob",
                                "Alice drinks tea daily"])
    scores = index.scores("Did you go hiking in Sweden?")
    assert scores.argmax() == 0 and scores[2] > 0 and scores[1] == scores[3] == 0


def test_bm25_matches_are_the_nonzero_scores() -> None:
    """matches() (the sparse form episodic recall reads) holds exactly the documents and values scores()
    gives above zero, whichever way it gathers them (one term, a few postings, or many)."""
    words = [f"word{i}" for i in range(400)]
    rng = np.random.default_rng(5)
    documents = [" ".join([*rng.choice(words, size=int(rng.integers(1, 8))),
                           "often" * int(rng.random() < .5)]) for _ in range(2_000)]
    index = LexicalIndex.build(documents)
    for query in ("", "the", "word3", "word3 word7", "word1 word2 word3 word4 word5 word6", "unknown word9",
                  "often word3", "often"):
        scores = index.scores(query)
        found, values = index.matches(query)
        assert found.tolist() == np.flatnonzero(scores).tolist()
        assert values.dtype == np.float32 and values.tolist() == scores[found].tolist()


def test_the_time_a_message_names() -> None:
    day = (datetime(2023, 10, 12, tzinfo=UTC), datetime(2023, 10, 15, tzinfo=UTC))  # a day either side
    assert window("What did Mel paint on October 13, 2023?", NOW) == day
    assert window("what did I say on the 13th of October, 2023", NOW) == day
    assert window("anything in July 2023?", NOW) == (datetime(2023, 7, 1, tzinfo=UTC),
                                                    datetime(2023, 8, 1, tzinfo=UTC))
    assert window("when I went camping in July", NOW)[0] == datetime(2025, 7, 1, tzinfo=UTC)  # type: ignore
    assert window("what did I tell you yesterday", NOW)[0] == datetime(2026, 5, 31, tzinfo=UTC)  # type: ignore
    assert window("I may come", NOW) is None and window("how are you", NOW) is None


def test_extraction_keeps_lasting_and_when_it_happened() -> None:
    answer = ('{"facts": [{"fact": "Alice moved to Oslo", "category": "personal", "lasting": true, '
              '"said": "2026-05-30", "happened": "2026-05-24"}, {"fact": "Alice has a cold", '
              '"category": "health", "lasting": false}, {"fact": "Alice loves jazz", '
              '"category": "preferences"}, {"fact": "Alice ran 5k", "category": "hobbies", '
              '"happened": "unknown"}], "relationship": {}}')
    moved, cold, jazz, ran = parse_extraction(answer, 1.0).facts
    assert (moved.lasting, moved.said, moved.happened) == (True, date(2026, 5, 30), date(2026, 5, 24))
    assert not cold.lasting and jazz.lasting and not ran.lasting  # unsaid: the category decides
    assert ran.happened is None
    messages = [(i, SeenMessage(i, 1, 1, 5, "alice", False, False, "hi", NOW - timedelta(days=d)))
                for i, d in ((1, 3), (2, 2))]
    batch = Batch(5, "alice", False, messages)
    said, happened = fact_times(moved, batch)
    assert said == NOW - timedelta(days=2)  # the message of that day, at its time
    assert happened == datetime(2026, 5, 24, 12, tzinfo=UTC)
    assert fact_times(cold, batch) == (NOW - timedelta(days=2), None)


def test_expiry_follows_the_person_not_the_fact() -> None:
    index = FactIndex.build([fact(1, "Alice has a cold", told_days=30),
                             fact(2, "Alice moved", told_days=30, lasting=True),
                             fact(3, "Alice pinned", told_days=30, pinned=True),
                             fact(4, "fresh", told_days=1)])
    spoke_yesterday = expiring_allowed(index, NOW, 14, NOW - timedelta(days=1))
    assert spoke_yesterday.tolist() == [True, True, True, True]  # said 30 days ago, still remembered
    silent = expiring_allowed(index, NOW, 14, NOW - timedelta(days=20))
    assert silent.tolist() == [False, True, True, False]
    never_answered = expiring_allowed(index, NOW, 14, None)  # no interaction yet: each fact's last mention
    assert never_answered.tolist() == [False, True, True, True]
    assert expiring_allowed(index, NOW, 0, NOW - timedelta(days=400)).all()  # expiry off


def test_dates_head_the_facts_and_the_time_ranking_finds_that_days_facts() -> None:
    rows = [fact(1, "Alice adopted a puppy", told_days=40),
            fact(2, "Alice ran a marathon", told_days=10, happened=NOW - timedelta(days=12)),
            *(fact(i, f"Alice likes the letter {chr(ord('a') + i)}", told_days=20) for i in range(3, 26))]
    index = FactIndex.build(rows)
    query = HashEmbedder().encode(["what happened on 22 April, 2026?"])[0]
    told_that_day = choose(index, query, budget=20, private=False, now=NOW, expiry_days=14,
                           text="what happened on 22 April, 2026?", last_interaction=NOW)
    assert [r.id for r in told_that_day] == [1]  # nothing in its words: found by the day it was told
    text = render([rows[1], rows[0]], "alice")
    assert "22 April 2026:\n- Alice adopted a puppy\n22 May:\n- Alice ran a marathon " \
           "(happened 20 May 2026)" in text  # the year in its first heading


# --------------------------------------------------------------------------- the database


async def test_prune_and_return_after_silence_forget_only_what_expires(store: Store) -> None:
    now = datetime.now(UTC)
    for uid, name, last in ((1, "daily", now - timedelta(days=1)), (2, "silent", now - timedelta(days=20)),
                            (3, "new", None)):
        await store.people.ensure_user(uid, name)
        await store.people.touch_interaction(uid, last, None) if last else None
    old = now - timedelta(days=30)
    for uid in (1, 2, 3):
        await store.consolidation.commit_consolidation(ConsolidationBatch(
            "finn", uid, (), new_facts=(NewFact("plain", "other", None), NewFact("lasts", "personal", None,
                                                                                  lasting=True)), at=old))
    pinned = await store.facts.add(2, "pinned", pinned=True)
    assert await store.facts.delete_expired(now - timedelta(days=14)) == 2  # silent's and new's plain
    left = {uid: sorted(r.fact for r in await store.facts.rows(uid)) for uid in (1, 2, 3)}
    assert left == {1: ["lasts", "plain"], 2: ["lasts", "pinned"], 3: ["lasts"]}
    rows = await store.facts.rows(1)
    assert all(r.said_at == old and r.told == old for r in rows)
    # Coming back after a long silence: what expired is forgotten at once, even before the daily prune.
    await store.consolidation.commit_consolidation(ConsolidationBatch(
        "finn", 2, (), new_facts=(NewFact("plain again", "other", None),), at=old))
    await store.people.touch_interaction(2, now - timedelta(days=25), None)
    assert await store.people.touch_interaction(2, now, now - timedelta(days=14)) == 1
    assert sorted(r.fact for r in await store.facts.rows(2)) == ["lasts", "pinned"]
    assert await store.people.last_interaction(2) == now
    assert await store.facts.get(2, pinned) is not None


# --------------------------------------------------------------------------- over the wire


@pytest.mark.parametrize("who", ["daily", "silent"])
async def test_a_month_old_fact_reaches_the_prompt_of_someone_who_speaks_daily(
        make_harness: MakeHarness, who: str) -> None:
    h = await make_harness()
    store = h.store
    now = datetime.now(UTC)
    user = USER_ID if who == "daily" else USER2_ID
    await store.people.ensure_user(user, "alice")
    said = now - timedelta(days=30)
    embed = h.bot.services.memory.embed  # type: ignore[union-attr]
    await store.consolidation.commit_consolidation(ConsolidationBatch(
        h.bot.services.pipeline.character_key, user, (), at=said, new_facts=(  # type: ignore[union-attr]
            NewFact("Alice's sister Maren lives in Tromsø", "relationships",
                    await embed("Alice's sister Maren lives in Tromsø"), lasting=True, said_at=said),
            NewFact("Alice is repainting her kitchen yellow", "other",
                    await embed("Alice is repainting her kitchen yellow"), said_at=said))))
    await store.facts.add(user, "Alice is allergic to shellfish", pinned=True,
                          embedding=await embed("Alice is allergic to shellfish"), said_at=said)
    last = now - timedelta(days=1) if who == "daily" else now - timedelta(days=20)
    async with store.engine.begin() as conn:
        await conn.execute(update(User).where(User.id == user).values(last_interaction=last))
        await conn.execute(update(UserFact).where(UserFact.user_id == user).values(last_mentioned=said))
    await h.say("How is the kitchen coming along? Any news from your sister?", mention=True, user=user)
    await h.replies(CHANNEL_ID, 1)
    body = h.claude.last_request("claude-test-default").all_text()
    assert "- Alice's sister Maren lives in Tromsø" in body  # lasting
    assert "- Alice is allergic to shellfish" in body  # pinned
    assert f"\n{said:%-d %B %Y}:\n" in body  # the day it was told, beside the facts
    if who == "daily":
        assert "- Alice is repainting her kitchen yellow" in body  # 30 days old, and she spoke yesterday
    else:
        assert "repainting" not in body  # silent for 20 days: it expired
    # The exchange moved her last interaction (the memory's turn observer, once the reply is out);
    # coming back after the silence forgot what had expired.
    async def moved() -> bool:
        return (await store.people.last_interaction(user) or last) > now - timedelta(minutes=5)

    await eventually(moved, "her last interaction moved by the exchange")
    kept = sorted(r.fact for r in await store.facts.rows(user))
    assert ("Alice is repainting her kitchen yellow" in kept) == (who == "daily") and len(kept) == (
        3 if who == "daily" else 2)


# --------------------------------------------------------------------------- the migration


async def test_migration_0012_carries_existing_facts_and_people_over(db_url: str) -> None:
    from sqlalchemy import text

    from database.engine import make_engine
    from tests.dbtools import migrate_to as to
    from tests.dbtools import reset_schema

    seen = datetime(2026, 5, 1, 8, tzinfo=UTC)
    first = datetime(2026, 1, 2, 3, tzinfo=UTC)
    await reset_schema(db_url)  # the fixture's database is already at head: start before 0012
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(to("0011_reply_owed"))
        await conn.execute(text("INSERT INTO users (id, name, is_bot, premium, first_seen, last_seen) "
                                "VALUES (7, 'alice', false, false, :t, :t)"), {"t": seen})
        for i, category in enumerate(("personal", "work", "plans", "health")):
            await conn.execute(text(
                "INSERT INTO user_facts (id, user_id, fact, category, first_mentioned, last_mentioned, "
                "reference_count, pinned, private) VALUES (:i, 7, :f, :c, :t, :t, 1, false, false)"),
                {"i": i + 1, "f": f"fact {i}", "c": category, "t": first})
    async with engine.begin() as conn:
        await conn.run_sync(to("head"))
    await engine.dispose()
    store = await Store(db_url).open()
    try:
        rows = await store.facts.rows(7)
        assert [(r.category, r.lasting) for r in rows] == [
            ("personal", True), ("work", False), ("plans", True), ("health", False)]
        assert all(r.said_at == first and r.happened_at is None for r in rows)
        assert await store.people.last_interaction(7) == seen
    finally:
        await store.close()
