"""Episodic recall (memory/episodes.py): what was said, indexed when consolidation archives it, found again
beside the facts, kept to the place it was said, listed and deleted by the person, gone after /forget_me.
Over the wire: what reaches the reply prompt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import update

from bot.core.config import MemorySettings
from bot.core.tokens import count_tokens
from database.models import LoggedMessage
from database.records import ConsolidationBatch, ExcerptRow, FactRow, NewExcerpt, SeenMessage
from database.store import Store
from memory import episodes, factlines
from memory.consent import Consent
from memory.embeddings import to_bytes
from memory.episodes import ExcerptIndex, beside, excerpts_of
from memory.facts import FactCache, FactIndex
from memory.recall import Recall, choose_both, topic
from tests.harness import CHANNEL_ID, USER_ID, Harness, MakeHarness, consolidate
from tests.memory_support import HashEmbedder, consolidation_responder
from tests.test_memory_commands import forget, memory

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
BOT = 900


def seen(mid: int, text: str, *, author: int = USER_ID, channel: int = 5, dm: bool = False,
         minutes: float = 0) -> tuple[int, SeenMessage]:
    return mid, SeenMessage(mid, channel, None if dm else 1, author, "Finn" if author == BOT else "alice",
                            author == BOT, dm, text, NOW + timedelta(minutes=minutes))


def excerpt(i: int, text: str, *, channel: int = 5, dm: bool = False, days: float = 0,
            speaker: str = "alice") -> ExcerptRow:
    return ExcerptRow(i, 1000 + i, channel, None if dm else 1, dm, speaker, speaker == "alice", text,
                      NOW - timedelta(days=days),
                      to_bytes(HashEmbedder().encode([f"{speaker}: {text}"])[0]))


# --------------------------------------------------------------------------- pure rules


def test_an_exchange_is_the_persons_message_with_the_characters_lines_beside_it() -> None:
    rows = [seen(1, "Finn, guess what", author=BOT, minutes=0),
            seen(2, "My sister's dog is Biscuit", minutes=1), seen(3, "What a name!", author=BOT, minutes=2),
            seen(4, "Bob here, unrelated", author=77, minutes=3),
            seen(5, "other place", channel=6, minutes=1)]
    near = beside(rows)
    assert [m.message_id for m in near[2]] == [1, 3]  # the character's lines either side, same channel
    # Another person's words are never in someone's excerpts: only the character's lines are neighbours.
    assert all(m.author_is_bot for lines in near.values() for m in lines) and 5 not in near
    said = excerpts_of([rows[1]], near, "Alice")
    assert [(e.message_id, e.speaker, e.own) for e in said] == [(1, "Finn", False), (2, "Alice", True),
                                                              (3, "Finn", False)]
    far = beside([seen(1, "hello", author=BOT, minutes=0), seen(2, "hi", minutes=60 * 24)])
    assert far == {}  # a day apart: not one exchange


def test_excerpts_stay_where_they_were_said_and_share_the_budget_with_facts() -> None:
    rows = [excerpt(1, "my sister's greyhound is called Biscuit", dm=True, channel=99, days=20),
            excerpt(2, "Biscuit the greyhound also fears umbrellas", channel=5, days=10),
            excerpt(3, "I repainted the kitchen yellow", channel=6, days=3)]
    index = ExcerptIndex.build(rows)
    assert index.allowed(private=True, channel_id=0).tolist() == [True, False, False]
    assert index.allowed(private=False, channel_id=5).tolist() == [False, True, False]
    query = HashEmbedder().encode(["what is the greyhound called?"])[0]
    facts = FactIndex.build([])
    in_dm = choose_both(facts, query, budget=200, private=True, now=NOW, expiry_days=0,
                        text="what is the greyhound called?", excerpts=index)[1]
    assert [e.id for e in in_dm] == [1]
    in_channel = choose_both(facts, query, budget=200, private=False, now=NOW, expiry_days=0,
                             text="what is the greyhound called?", excerpts=index, channel_id=5)[1]
    assert [e.id for e in in_channel] == [2]
    elsewhere = choose_both(facts, query, budget=200, private=False, now=NOW, expiry_days=0,
                            text="what is the greyhound called?", excerpts=index, channel_id=7)[1]
    assert elsewhere == []
    text = episodes.render(in_dm, "alice")
    said = f"{NOW - timedelta(days=20):%-d %B %Y}"
    assert f"{said}:\n- alice: \"my sister's greyhound is called Biscuit\"" in text
    # The budget counts each line and each day's header: too small for the line, nothing is quoted.
    tight = choose_both(facts, query, budget=8, private=True, now=NOW, expiry_days=0,
                        text="what is the greyhound called?", excerpts=index)[1]
    assert tight == []


def test_a_long_line_is_quoted_in_its_sentences_that_share_the_messages_telling_words() -> None:
    long = ("Hey! So much happened this month, honestly. Work was busy and the weather was awful. "
            "My sister finally adopted a greyhound called Biscuit. We went to the beach on Sunday too!")
    rows = [excerpt(1, long, dm=True), *(excerpt(k, f"alice line {k} about nothing much", dm=True)
                                         for k in range(2, 40))]
    index = ExcerptIndex.build(rows)
    wanted = episodes.telling(index, "what is alice's greyhound called?")
    assert "alic" not in wanted and {"greyhound", "call"} <= set(wanted)  # in every line: picks nothing
    row, cost = episodes.snippet(index, 0, wanted)
    assert row.content == "… My sister finally adopted a greyhound called Biscuit. …"
    assert cost == count_tokens(episodes.line(row)) < index.cost(0)
    assert (row.id, row.message_id, row.said_at) == (rows[0].id, rows[0].message_id, rows[0].said_at)
    # A short line, or one no sentence of which shares a telling word, is quoted whole.
    assert episodes.snippet(index, 1, wanted)[0] == rows[1]
    assert episodes.snippet(index, 0, episodes.telling(index, "how are the kids?"))[0] == rows[0]
    # Recall charges the budget for the quoted part: the long line fits where it whole would not.
    query = HashEmbedder().encode(["what is alice's greyhound called?"])[0]
    said = choose_both(FactIndex.build([]), query, budget=cost + factlines.heading_tokens().whole,
                       private=True, now=NOW, expiry_days=0, text="what is alice's greyhound called?",
                       excerpts=index, floors=HashEmbedder.floors)[1]
    assert [e.content for e in said] == [row.content]


def test_an_excerpt_that_says_what_a_recalled_fact_says_is_left_for_something_new() -> None:
    said = "my sister adopted a greyhound called Biscuit"
    fact = FactRow(1, said, "other", False, False, 1, NOW, NOW, to_bytes(HashEmbedder().encode([said])[0]))
    index = ExcerptIndex.build([excerpt(1, said, dm=True), excerpt(2, "Biscuit hates the greyhound track",
                                                                   dm=True)])
    text = "what is the greyhound called?"
    query = HashEmbedder().encode([text])[0]
    both = choose_both(FactIndex.build([fact]), query, budget=200, private=True, now=NOW, expiry_days=0,
                       text=text, excerpts=index)
    assert [f.id for f in both[0]] == [1] and [e.id for e in both[1]] == [2]
    # Without the fact, its line is quoted.
    alone = choose_both(FactIndex.build([]), query, budget=200, private=True, now=NOW, expiry_days=0,
                        text=text, excerpts=index)[1]
    assert {e.id for e in alone} == {1, 2}


ACTIVITIES = ("went camping at the lake", "ran a half marathon", "painted the fence", "read to the kids",
              "played the clarinet", "baked bread")


def test_a_broad_question_also_ranks_what_was_said_by_its_topic() -> None:
    # As for facts (test_recall): what the message asks about, its question words and the person's name
    # set aside. With no facts, the archived lines tell which word is the name.
    index = ExcerptIndex.build([excerpt(k, f"alice {what}", dm=True) for k, what in enumerate(ACTIVITIES, 1)])
    question = "What kinds of activities does alice do?"
    assert topic(index, question) == "kinds activities"
    e = HashEmbedder()
    place = index.allowed(private=True, channel_id=0)
    order, _ = episodes.ranked(index, e.encode([question])[0], question, place,
                               about=e.encode(["baked bread"])[0], floors=e.floors)
    assert index.rows[order[0]].content == "alice baked bread"  # found by the topic's ranking alone
    plain, _ = episodes.ranked(index, e.encode([question])[0], question, place, floors=e.floors)
    assert index.rows[plain[0]].content != "alice baked bread"


async def test_with_no_facts_the_topic_is_read_from_the_archived_lines(store: Store) -> None:
    await store.people.ensure_user(USER_ID, "alice")
    await store.consolidation.commit_consolidation(ConsolidationBatch("k", USER_ID, (), excerpts=tuple(
        NewExcerpt(10 + k, 5, None, True, "alice", True, f"alice {what}", NOW)
        for k, what in enumerate(ACTIVITIES))))
    asked: list[list[str]] = []

    class Recording(HashEmbedder):
        def encode(self, sentences: Any) -> np.ndarray:
            asked.append(list(sentences))
            return super().encode(sentences)

    embedder = Recording()
    await episodes.embed_pending(store.excerpts, embedder)
    settings = MemorySettings()
    recall = Recall(FactCache(store.facts), store.people, embedder, settings,
                    Consent(store.servers, store.people, settings.memory_consent),
                    episodes.ExcerptCache(store.excerpts))
    question = "What kinds of activities does alice do?"
    facts, said = await recall.recall_for(USER_ID, question, private=True, channel_id=5, now=NOW)
    assert facts == [] and said  # the archive alone answers
    assert asked[-1] == [question, "kinds activities"]  # the message and its topic, in one call


# --------------------------------------------------------------------------- the data path


async def test_consolidation_indexes_each_exchange_once_and_forget_deletes_it(store: Store) -> None:
    await store.people.ensure_user(USER_ID, "alice")
    said = NewExcerpt(11, 5, 1, False, "alice", True, "the concert was loud", NOW, b"\0" * 16)
    reply = NewExcerpt(12, 5, 1, False, "Finn", False, "it sounded wild", NOW, None)
    for _ in range(2):  # a repeated run indexes nothing twice
        await store.consolidation.commit_consolidation(ConsolidationBatch("k", USER_ID, (),
                                                                          excerpts=(said, reply)))
    rows = await store.excerpts.rows(USER_ID)
    assert [(r.message_id, r.own) for r in rows] == [(11, True), (12, False)]
    before = await store.excerpts.stamp(USER_ID)
    assert [r.message_id for r in await store.excerpts.listed(USER_ID)] == [11]  # their own words
    assert await store.excerpts.delete(USER_ID + 1, [rows[0].id]) == 0  # not someone else's to delete
    assert await store.excerpts.delete(USER_ID, [rows[0].id]) == 1
    assert await store.excerpts.stamp(USER_ID) != before
    counts = await store.privacy.delete_user_data(USER_ID)
    assert counts["archive_excerpts"] == 1 and await store.excerpts.rows(USER_ID) == []
    assert "archive_excerpts" not in await store.privacy.rows_about_user(USER_ID)


async def test_an_excerpt_is_found_by_its_words_before_it_has_a_vector_and_the_backfill_embeds_it(
        store: Store) -> None:
    await store.people.ensure_user(USER_ID, "alice")
    await store.consolidation.commit_consolidation(ConsolidationBatch("k", USER_ID, (), excerpts=(
        NewExcerpt(11, 5, None, True, "alice", True, "my sister named her greyhound Biscuit", NOW),
        NewExcerpt(12, 5, None, True, "alice", True, "busy week at the bakery", NOW))))
    cache = episodes.ExcerptCache(store.excerpts)
    embedder = HashEmbedder()
    question = "what did my sister call her greyhound?"
    index = await cache.get(USER_ID)
    assert len(index.positions) == 0  # indexed by its words only, as consolidation leaves it
    order, _ = episodes.ranked(index, embedder.encode([question])[0], question,
                               index.allowed(private=True, channel_id=5))
    assert [index.rows[i].message_id for i in order][:1] == [11]

    assert await episodes.embed_pending(store.excerpts, embedder, batch=1) == 2
    assert all(r.embedding for r in await store.excerpts.rows(USER_ID))
    again = await cache.get(USER_ID)
    assert len(again.positions) == 2  # the stamp moved: recall re-reads them with their vectors
    order, _ = episodes.ranked(again, embedder.encode([question])[0], question,
                               again.allowed(private=True, channel_id=5))
    assert [again.rows[i].message_id for i in order][:1] == [11]
    assert await episodes.embed_pending(store.excerpts, embedder) == 0  # nothing left


# --------------------------------------------------------------------------- over the wire


async def _prompt_after(h: Harness, channel: int, n: int) -> str:
    await h.replies(channel, n)
    return h.claude.last_request("claude-test-default").all_text()


async def test_a_detail_said_once_in_a_dm_weeks_ago_is_found_there_never_in_a_channel_and_forgotten(
        make_harness: MakeHarness) -> None:
    h = await make_harness()
    h.claude.responder = consolidation_responder()  # extraction keeps no fact of these messages
    await h.store.people.ensure_user(USER_ID, "alice")
    dm = await h.dm_channel_id()
    await h.dm("my sister got a greyhound puppy and named it Biscuit, it hides from umbrellas")
    await h.replies(dm, 1)
    await h.dm("anyway, busy week at the bakery")
    await h.replies(dm, 2)
    await h.bot.in_flight.drain()
    weeks_ago = datetime.now(UTC) - timedelta(days=21)
    async with h.store.engine.begin() as conn:  # said three weeks ago
        await conn.execute(update(LoggedMessage).values(created_at=weeks_ago))
    report = await consolidate(h)
    assert report.committed >= 1 and await h.store.facts.rows(USER_ID) == []  # never extracted as a fact
    assert report.excerpts >= 2
    # The vectors come after the run, in the background.
    assert await h.bot.services.memory.consolidator.embedded() == report.excerpts
    assert all(r.embedding for r in await h.store.excerpts.rows(USER_ID))

    # The DM's history still holds those lines verbatim: recall never quotes them back while it does. Once
    # the conversation is reset, the archive is what is left of them.
    await h.store.conversations.reset_conversation(h.bot.services.pipeline.character_key, USER_ID, "dm")
    await h.dm("do you remember what my sister called her puppy?")
    body = await _prompt_after(h, dm, 3)
    assert "[Words from your earlier conversations with alice" in body
    assert f'{weeks_ago:%-d %B %Y}:\n- alice: "my sister got a greyhound puppy and named it Biscuit' in body

    await h.say("do you remember what my sister called her puppy?", mention=True)
    channel_body = await _prompt_after(h, CHANNEL_ID, 1)
    assert "Biscuit" not in channel_body and "greyhound" not in channel_body  # a DM's words stay in DMs

    listed = await (await memory(h, "said", dm=True)).message()
    assert "named it Biscuit" in listed["content"] and "🔒" in listed["content"]

    assert (await forget(h)).startswith("Done: I deleted")
    assert await h.store.excerpts.rows(USER_ID) == []
    await h.dm("do you remember what my sister called her puppy?")
    after = await _prompt_after(h, dm, 1)
    assert "Biscuit" not in after and "[Words from your earlier conversations" not in after


async def test_the_person_deletes_one_excerpt_with_memory_said(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await h.store.people.ensure_user(USER_ID, "alice")
    await h.store.consolidation.commit_consolidation(ConsolidationBatch("k", USER_ID, (), excerpts=(
        NewExcerpt(11, CHANNEL_ID, 1, False, "alice", True, "the concert in June was loud", NOW),
        NewExcerpt(12, CHANNEL_ID, 1, False, "alice", True, "I liked the encore", NOW))))
    first = (await h.store.excerpts.listed(USER_ID))[-1]
    answer: Any = await (await h.slash("memory", [{"type": 1, "name": "said", "options": [
        {"type": 4, "name": "forget", "value": first.id}]}])).message()
    assert f"Deleted #{first.id}" in answer["content"]
    assert [e.content for e in await h.store.excerpts.listed(USER_ID)] == ["I liked the encore"]
    again: Any = await (await h.slash("memory", [{"type": 1, "name": "said", "options": [
        {"type": 4, "name": "forget", "value": first.id}]}])).message()
    assert "nothing was deleted" in again["content"]


def test_many_excerpts_are_searched_through_their_nearest_clusters(monkeypatch: Any) -> None:
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((6, 16))
    vectors = np.vstack([c + 0.05 * rng.standard_normal((60, 16)) for c in centres]).astype("<f4")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = [ExcerptRow(i, i, 5, 1, False, "alice", True, f"line {i}", NOW, to_bytes(v))
            for i, v in enumerate(vectors)]
    monkeypatch.setattr(episodes, "IVF_MIN", 100)
    monkeypatch.setattr(episodes, "PROBE_VECTORS", 60)
    index = ExcerptIndex.build(rows)
    assert index.centroids is not None and index.starts[-1] == len(rows)
    found, values = index.search(vectors[130][None, :])
    similarity = values[:, 0]
    # Only the nearest clusters are scored (not all 360 vectors), and they hold the vector itself.
    assert 60 <= len(found) < len(rows) and found[int(np.argmax(similarity))] == 130
    assert np.isclose(similarity.max(), 1.0, atol=1e-5)
    # With the message's topic, the same excerpts (those the message reached), a column for each.
    again, pair = index.search(vectors[[130, 7]])
    assert again.tolist() == found.tolist() and pair.shape == (len(found), 2)
    assert np.allclose(pair[:, 0], similarity, atol=1e-6)
    assert np.allclose(pair[:, 1], vectors[found] @ vectors[7], atol=1e-6)
