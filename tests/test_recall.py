"""Recall of long-term facts into the reply prompt: the selection rules, the per-user vector cache and its
invalidation, and over the wire with the real embedding model (loaded once per test process)."""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

import memory.recall
from bot.core.config import MemorySettings
from bot.core.tokens import count_tokens
from database.records import ConsolidationBatch, FactRow, NewFact
from database.store import Store
from memory import embeddings
from memory.consent import Consent
from memory.embeddings import to_bytes
from memory.factlines import line as prompt_line
from memory.factlines import render
from memory.facts import ExtractedFact, FactCache, FactIndex, match_facts
from memory.recall import Recall, choose, topic
from tests.harness import CHANNEL_ID, USER2_ID, USER_ID, MakeHarness
from tests.memory_support import HashEmbedder

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def row(i: int, fact: str, *, refs: int = 1, pinned: bool = False, private: bool = False, days: float = 0,
        embedder: HashEmbedder | None = None, category: str = "other") -> FactRow:
    vector = to_bytes((embedder or HashEmbedder()).encode([fact])[0])
    when = NOW - timedelta(days=days)
    return FactRow(i, fact, category, pinned, private, refs, when, when, vector)


# --------------------------------------------------------------------------- selection


def test_pinned_then_similar_then_most_referenced_within_the_budget() -> None:
    e = HashEmbedder()
    rows = [row(1, "Alice works at the lighthouse", refs=9), row(2, "Alice has a cat named Miso", refs=1),
            row(3, "Alice is allergic to shellfish", pinned=True, days=100),
            row(4, "Alice sings in a choir", refs=5), row(5, "Alice hates fog", refs=20, days=30),
            row(6, "Alice is pregnant", refs=50, private=True)]
    index = FactIndex.build(rows)
    query = e.encode(["how is your cat Miso doing"])[0]
    # (hashed words' cosines are no model's: no floor, so the most referenced follow the similar one)
    chosen = choose(index, query, budget=1000, private=False, now=NOW, expiry_days=14, floors=e.floors)
    # Pinned first (even when old), then the similar one, then by references; expired and private left out.
    assert [r.id for r in chosen] == [3, 2, 1, 4]
    assert [r.id for r in choose(index, query, budget=1000, private=True, now=NOW,
                                 expiry_days=14, floors=e.floors)] == [3, 2, 6, 1, 4]
    assert 5 in [r.id for r in choose(index, query, budget=1000, private=False, now=NOW, expiry_days=0,
                                      floors=e.floors)]
    # Each line costs about 8 tokens, and each day it was told heads its facts once (6 tokens; 3 when a
    # heading before it already named the year).
    tight = choose(index, query, budget=30, private=False, now=NOW, expiry_days=14, floors=e.floors)
    assert [r.id for r in tight] == [3, 2]
    assert [r.id for r in choose(index, query, budget=35, private=False, now=NOW,
                                 expiry_days=14, floors=e.floors)] == [3, 2, 1]
    assert choose(index, None, budget=0, private=False, now=NOW, expiry_days=14, floors=e.floors) == []
    text = render(chosen, "alice")
    assert text.startswith("21 February 2026:") and "- Alice has a cat named Miso" in text  # data; the layout
    # fences and names it (bot/reply/prompting.py)
    # Grouped under the day they were told, oldest day first.
    assert text.index("21 February 2026:\n- Alice is allergic") < text.index("\n1 June:\n")  # year named once


def test_a_broad_question_is_also_ranked_by_its_topic() -> None:
    # The topic: the message's words less question words and those most of the person's facts share (their
    # name); a fact found only by the topic's ranking is still recalled.
    rows = [row(i, f"Melanie {what}") for i, what in enumerate(
        ("paints sunsets", "went camping", "runs a race", "reads to her kids", "plays the clarinet"), 1)]
    index = FactIndex.build(rows)
    assert topic(index, "What kinds of activities does Melanie do?") == "kinds activities"
    assert topic(index, "Melanie?") == ""  # nothing left to ask about
    assert topic(index, "camping") == ""  # the whole message: no second ranking
    # less only particles (in a language without a list of function words, one in most of a few facts) it
    # is the whole message again, its punctuation gone: no second ranking, no second reach at the floor
    french = FactIndex.build([row(1, "Alice habite à Leeds"), row(2, "Alice a un chat")])
    assert topic(french, "bonne nuit à tous, dormez bien !") == ""
    assert topic(french, "un verre à la maison ?") == ""
    assert topic(french, "un chat noir à la maison ?") == "noir la maison"  # "chat" set aside: a word
    assert topic(french, "dans quelle ville habite Alice ?") == "dans quelle ville"  # a word of hers aside
    e = HashEmbedder()
    found = choose(index, e.encode(["What kinds of activities does Melanie do?"])[0], budget=1000,
                   private=False, now=NOW, expiry_days=0, about=e.encode(["went camping"])[0],
                   text="What kinds of activities does Melanie do?")
    assert found[0].id == 2


# (the person's facts, a broad question about them, the word it asks about) in several languages
ACTIVITIES = [
    (("Melanie paints sunsets", "Melanie went camping", "Melanie plays the clarinet"),
     "What kinds of activities does Melanie do?", "activities"),
    (("Melanie pinta atardeceres", "Melanie fue de campamento", "Melanie toca el clarinete"),
     "¿Qué actividades hace Melanie?", "actividades"),
    (("Melanie malt Sonnenuntergänge", "Melanie war zelten", "Melanie spielt Klarinette"),
     "Welche Aktivitäten macht Melanie?", "Aktivitäten"),
    (("メラニーは夕日の絵を描く", "メラニーはキャンプに行った", "メラニーはクラリネットを吹く"),
     "メラニーはどのような活動をしていますか？", "活動"),
    (("멜라니는 노을을 그린다", "멜라니는 캠핑을 갔다", "멜라니는 클라리넷을 분다"),
     "멜라니는 어떤 활동을 하나요?", "활동을"),
]


@pytest.mark.parametrize(("facts", "question", "word"), ACTIVITIES)
def test_a_broad_question_has_a_topic_without_the_persons_name_in_any_language(
        facts: tuple[str, ...], question: str, word: str) -> None:
    index = FactIndex.build([row(i, fact) for i, fact in enumerate(facts, 1)])
    about = topic(index, question)
    assert word in about.split()
    assert not {"Melanie", "メラニー", "멜라니는"} & set(about.split())


# (the person's facts, "what kind of music does she like?", the word naming the category, the thing asked)
KIND_OF = [
    (("Mia plays the piano", "Mia went to a jazz concert", "Mia has a cat", "Mia lives in Leeds"),
     "What kind of music does Mia like?", "kind", "music"),
    (("Mia spielt Klavier", "Mia war auf einem Jazzkonzert", "Mia hat eine Katze", "Mia wohnt in Leeds"),
     "Welche Art von Musik mag Mia?", "Art", "Musik"),
    (("Mia toca el piano", "Mia fue a un concierto de jazz", "Mia tiene un gato", "Mia vive en Leeds"),
     "¿Qué tipo de música le gusta a Mia?", "tipo", "música"),
    (("ミアはピアノを弾く", "ミアはジャズのコンサートに行った", "ミアは猫を飼っている",
      "ミアはリーズに住んでいる"),
     "ミアはどんな種類の音楽が好き？", "種類", "音楽"),
    (("米娅弹钢琴", "米娅去听了爵士音乐会", "米娅养了一只猫", "米娅住在利兹"),
     "米娅喜欢什么类型的音乐？", "类型", "音乐"),
]


@pytest.mark.parametrize(("facts", "question", "category", "thing"), KIND_OF)
def test_a_word_naming_a_category_is_read_alike_in_every_language(
        facts: tuple[str, ...], question: str, category: str, thing: str) -> None:
    # No language's list of category words: the word ("kind", "Art", "tipo", 種類) stays beside what it
    # qualifies, which the topic holds, in every language alike; never the topic alone. Chinese, written
    # in one run, has no topic: the whole message ranks (as before).
    about = topic(FactIndex.build([row(i, fact) for i, fact in enumerate(facts, 1)]), question).split()
    if category == "类型":
        assert about == []
        return
    assert thing in about and category in about and about != [category]
    assert "Mia" not in about


def test_another_languages_noun_spelt_like_an_english_category_word_stays_in_the_topic() -> None:
    # German "Kind" and Dutch "kind" (a child) are what the question asks about, not "kind of".
    things = ("Tee Katzen Jazz Berge Regen Äpfel Schach Kaffee Romane Gärten Züge Hunde Käse Segeln Tango "
              "Brot Eulen Kino Wolken Musik").split()
    german = FactIndex.build([row(i, fact) for i, fact in enumerate(
        ["Mia hat ein Kind"] + [f"Mia liebt {t}" for t in things], 1)])
    assert "Kind" in topic(german, "Wie alt ist das Kind von Mia?").split()
    dutch = FactIndex.build([row(i, fact) for i, fact in enumerate(
        ["Mia heeft een kind"] + [f"Mia houdt van {t.lower()}" for t in things], 1)])
    assert "kind" in topic(dutch, "Hoe oud is het kind van Mia?").split()


def test_a_japanese_question_is_read_in_its_words() -> None:
    # Written without spaces, Japanese is cut where its script changes; its hiragana (particles, endings,
    # question words) is set aside as another language's function words are, and the name by its bigrams.
    things = ["夕日の絵を描く", "クラリネットを吹く", "陶芸教室に通う", "本を読む", "犬を飼っている",
              "公園を走る", "バイオリンを弾く", "博物館に行った", "ケーキを焼いた", "花を育てている",
              "夫と旅行した", "猫が好きだ", "海で泳いだ", "ギターを習っている", "映画を見た", "写真を撮る",
              "料理教室に通う", "山に登った", "手紙を書いた", "友人と会った", "庭を手入れする", "歌を歌う",
              "詩を書く", "自転車に乗る", "キャンプに行った"]
    index = FactIndex.build([row(i, f"キャロラインは{thing}") for i, thing in enumerate(things, 1)])
    assert topic(index, "キャロラインはどのような活動をしていますか？") == "活動"
    assert topic(index, "キャロラインはどこでキャンプをしましたか？") == "キャンプ"  # begins like her name
    assert topic(index, "キャロライン？") == ""  # nothing left to ask about
    assert topic(index, "陶芸教室") == ""  # the whole message: no second ranking
    assert topic(index, "おはよう") == ""  # hiragana alone: nothing named
    assert topic(index, "キャロラインが日の出の絵を描いたのはいつですか？") == "日 出 絵 描"
    # of facts kept in English, the name written in katakana is in none of them: no topic, as before
    english = FactIndex.build([row(1, "Caroline paints sunsets"), row(2, "Caroline went camping")])
    assert topic(english, "キャロラインはどのような活動をしていますか？") == ""


def test_an_english_question_of_facts_kept_in_another_language_sets_the_name_aside() -> None:
    # The name an English question shares with the facts is in their English wordings (user_facts.gloss),
    # not in their own words: set aside there as it is among English facts.
    kept = [("メラニーは夕日の絵を描く", "Melanie paints sunsets"),
            ("メラニーはキャンプに行った", "Melanie went camping"),
            ("Melanie pinta atardeceres", "Melanie paints sunsets"),
            ("Melanie fue de campamento", "Melanie went camping")]
    for pair in (kept[:2], kept[2:]):
        rows = [replace(row(i, fact), gloss=english) for i, (fact, english) in enumerate(pair, 1)]
        assert topic(FactIndex.build(rows), "What kinds of activities does Melanie do?") == "kinds activities"


def test_the_message_and_its_topic_are_scored_in_one_pass_with_the_same_results(monkeypatch: Any) -> None:
    monkeypatch.setattr(embeddings, "BLOCK_ROWS", 4)  # several blocks and a short last one
    e = HashEmbedder()
    topics = "bees cats fog tea choir".split() * 3
    rows = [row(i, f"Alice fact number {i} about {w}") for i, w in enumerate(topics)]
    index = FactIndex.build(rows)
    pair = e.encode(["how are the bees", "bees"])
    both = index.scores_of(pair)
    assert both.shape == (len(rows), 2)
    assert np.allclose(both[:, 0], index.scores(pair[0]), atol=1e-6)
    assert np.allclose(both[:, 1], index.matrix @ pair[1], atol=1e-6)
    # A fact without a usable vector scores -inf in each column.
    index = FactIndex.build([*rows, FactRow(99, "odd", "other", False, False, 1, NOW, NOW, None)])
    assert np.isneginf(index.scores_of(pair)[-1]).all()


def test_vectors_of_another_model_are_ignored_not_mixed() -> None:
    rows = [row(1, "Alice keeps bees"), FactRow(2, "odd", "other", False, False, 1, NOW, NOW,
                                                 np.ones(3, dtype="<f4").tobytes())]
    index = FactIndex.build(rows)
    assert index.dim == HashEmbedder.dim and list(index.positions) == [0]
    assert [r.id for r in index.unembedded(HashEmbedder.dim)] == [2]
    scores = index.scores(HashEmbedder().encode(["Alice keeps bees"])[0])
    assert scores[0] == pytest.approx(1.0) and scores[1] == -np.inf


def test_matching_merges_near_duplicates_within_a_batch() -> None:
    e = HashEmbedder()
    index = FactIndex.build([row(7, "Alice keeps bees")])
    facts = [ExtractedFact("Alice keeps bees", "hobbies"), ExtractedFact("Alice sells honey", "work"),
             ExtractedFact("alice sells honey", "work")]
    matched = match_facts(index, facts, e.encode([f.fact for f in facts]), 0.8)
    assert list(matched.mentioned) == [7] and [f.fact for f, _ in matched.new] == ["Alice sells honey"]


# --------------------------------------------------------------------------- the cache


async def test_the_vector_cache_rereads_a_user_only_after_a_change(store: Store) -> None:
    e = HashEmbedder()
    await store.people.ensure_user(USER_ID, "alice")
    await store.people.ensure_user(USER2_ID, "bob")
    cache = FactCache(store.facts)
    first = await store.facts.add(USER_ID, "Alice keeps bees", embedding=to_bytes(e.encode(["bees"])[0]))
    assert len((await cache.get(USER_ID)).rows) == 1 and cache.loads == 1
    await cache.get(USER_ID)
    assert cache.loads == 1  # unchanged: no re-read
    await store.facts.add(USER2_ID, "Bob rows", embedding=None)  # another user's change
    await cache.get(USER_ID)
    assert cache.loads == 1

    changes: list[Callable[[], Awaitable[Any]]] = [
        lambda: store.facts.add(USER_ID, "Alice sings"),
        lambda: store.facts.edit(USER_ID, first, fact="Alice keeps wasps", embedding=None),
        lambda: store.facts.pin(USER_ID, first, True),
        lambda: store.facts.set_embeddings([(first, "Alice keeps wasps", None,
                                             to_bytes(e.encode(["wasps"])[0]))]),
        lambda: store.consolidation.commit_consolidation(
            ConsolidationBatch("finn", USER_ID, (), mentioned=((first, True),))),
        lambda: store.facts.delete(USER_ID, first),
    ]
    for n, change in enumerate(changes, 2):
        await change()
        index = await cache.get(USER_ID)
        assert cache.loads == n, f"change {n - 2} was not seen"
    assert [r.fact for r in index.rows] == ["Alice sings"]


async def test_every_way_a_fact_is_deleted_moves_the_stamp(store: Store) -> None:
    """The stamp takes no count of the facts: each way of deleting some (never the newest here, whose id
    is in the stamp anyway) marks the person instead, and only them."""
    await store.people.ensure_user(USER_ID, "alice")
    await store.people.ensure_user(USER2_ID, "bob")
    cache = FactCache(store.facts)
    now = datetime.now(UTC)
    await store.facts.add(USER2_ID, "Bob rows")
    for fact in ("Alice sings", "Alice hums", "Alice whistles", "Alice keeps bees"):
        await store.facts.add(USER_ID, fact)
    ids = {r.fact: r.id for r in (await cache.get(USER_ID)).rows}
    await cache.get(USER2_ID)
    loads = cache.loads

    async def seen(change: Callable[[], Awaitable[Any]], left: set[str]) -> None:
        nonlocal loads
        await change()
        index = await cache.get(USER_ID)
        await cache.get(USER2_ID)  # bob's facts were not touched: his stamp stays
        loads += 1
        assert cache.loads == loads and {r.fact for r in index.rows} == left

    # consolidation retiring a fact that is not kept as history
    await seen(lambda: store.consolidation.commit_consolidation(
        ConsolidationBatch("finn", USER_ID, (), retired=((ids["Alice sings"], None),))),
        {"Alice hums", "Alice whistles", "Alice keeps bees"})
    # coming back after the soft expiry (the facts that expire go in the same transaction)
    await store.facts.pin(USER_ID, ids["Alice keeps bees"], True)
    await store.people.touch_interaction(USER_ID, now - timedelta(days=30), None)
    await cache.get(USER_ID)  # the pin seen
    loads = cache.loads
    await seen(lambda: store.people.touch_interaction(USER_ID, now, now - timedelta(days=14)),
               {"Alice keeps bees"})
    # the daily prune of a silent person's expiring facts
    await store.facts.add(USER_ID, "Alice hums")
    await store.facts.add(USER_ID, "Alice dances", pinned=True)  # (the newest fact is not the one deleted)
    await store.people.touch_interaction(USER_ID, now - timedelta(days=30), None)
    await cache.get(USER_ID)  # the new facts seen
    loads = cache.loads
    await seen(lambda: store.facts.delete_expired(now - timedelta(days=14)),
               {"Alice keeps bees", "Alice dances"})


# --------------------------------------------------------------------------- over the wire


async def test_relevant_facts_reach_the_reply_prompt_and_dm_facts_stay_in_dms(
        make_harness: MakeHarness) -> None:
    # (a question may spend a larger budget on what it asks about: the same here, so 30 tokens bound it)
    h = await make_harness(recall_token_budget="30", memory_recall_token_budget="30")
    key = h.bot.services.pipeline.character_key
    await h.store.people.ensure_user(USER_ID, "alice")
    embed = h.bot.services.memory.embed  # what the admin fact commands use too
    facts = {
        "Alice has a cat called Miso": dict(category="personal"),
        "Alice works night shifts at the lighthouse": dict(category="work"),
        "Alice is allergic to shellfish": dict(category="health", pinned=True),
        "Alice is secretly pregnant": dict(category="health"),
        "Alice builds model ships": dict(category="hobbies"),
    }
    ids = {}
    for text, extra in facts.items():
        ids[text] = await h.store.facts.add(USER_ID, text, embedding=await embed(text), **extra)
    await _make_private(h.store, ids["Alice is secretly pregnant"])
    for text in ("Alice builds model ships", "Alice works night shifts at the lighthouse"):
        for _ in range(3):
            await h.store.consolidation.commit_consolidation(
                ConsolidationBatch(key, USER_ID, (), mentioned=((ids[text], True),)))
    await h.store.people.set_relationship(key, USER_ID, anger=7, trust=8)
    await h.store.state.set("daily_mood", "Grumpy about the fog.")

    await h.say("How is your kitty Miso doing these days?", mention=True)
    await h.replies(CHANNEL_ID, 1)
    prompt = h.claude.last_request("claude-test-default")
    recalled = prompt.all_text().split('<recalled_facts about="alice"', 1)[1].split("</recalled_facts>", 1)[0]
    lines = [line for line in recalled.splitlines() if line.startswith("- ")]
    assert lines[:2] == ["- Alice is allergic to shellfish", "- Alice has a cat called Miso"]
    assert "secretly" not in prompt.all_text()
    heads = [line for line in recalled.splitlines() if line[:1].isdigit() and line.endswith(":")]
    assert len(heads) == 1  # all told today: one date heads them
    assert sum(count_tokens(line + "\n") for line in lines + heads) <= 30
    assert "- Alice works night shifts at the lighthouse" not in lines  # over the budget
    system = prompt.system_text()
    assert "## Your mood today\nGrumpy about the fog." in system  # the character's own: system
    relationship = prompt.all_text().split("Toward alice you feel ", 1)[1].split("\n", 1)[0]
    assert relationship.startswith("angry with them and trusting of them: let it show")
    assert "angry" not in system

    await h.dm("I'm so tired with the pregnancy, is there a tea for that?")
    await h.replies(await h.dm_channel_id(), 1)
    dm_prompt = h.claude.last_request("claude-test-default").all_text()
    assert "- Alice is secretly pregnant" in dm_prompt  # learnt in DMs, recalled in DMs


async def _make_private(store: Store, fact_id: int) -> None:
    from sqlalchemy import update

    from database.models import UserFact

    async with store.engine.begin() as conn:
        await conn.execute(update(UserFact).where(UserFact.id == fact_id).values(private=True))


async def test_a_failing_recall_never_costs_the_reply(make_harness: MakeHarness, caplog: Any) -> None:
    h = await make_harness()

    class Broken:
        def encode(self, sentences: Any) -> Any:
            raise RuntimeError("model file missing")

    h.bot.services.memory.recall.embedder = Broken()
    await h.store.people.ensure_user(USER_ID, "alice")
    await h.store.facts.add(USER_ID, "Alice keeps bees", embedding=to_bytes(HashEmbedder().encode(["x"])[0]))
    with caplog.at_level(logging.ERROR):
        await h.say("hello there", mention=True)
        [reply] = await h.replies(CHANNEL_ID, 1)
    assert reply["content"] == "Hello from fake Claude."
    assert "recall failed" in caplog.text


# --------------------------------------------------------------------------- thousands of facts


class KeyedEmbedder:
    """A random unit vector per fact number: "... fact 123 ..." (or the message's topic, "123") is encoded as
    fact 123's vector, which no other fact's vector resembles (384 random dimensions). Counts its calls."""

    dim = 384

    def __init__(self, n: int) -> None:
        vectors = np.random.default_rng(7).standard_normal((n, self.dim)).astype("<f4")
        self.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        self.calls = 0

    def encode(self, sentences: Any) -> np.ndarray:
        self.calls += 1
        return np.vstack([self.vectors[int(re.search(r"(\d+)", s)[1])] for s in sentences])  # type: ignore[index]


async def test_recall_among_thousands_of_facts_reads_their_vectors_once(store: Store,
                                                                       monkeypatch: Any) -> None:
    n, budget = 3000, 60
    embedder = KeyedEmbedder(n)
    scored_in: list[str] = []  # the threads recall scored in: past THREAD_ITEMS, never the event loop's
    choose_both = memory.recall.choose_both

    def spy(*args: Any, **kwargs: Any) -> Any:
        scored_in.append(threading.current_thread().name)
        return choose_both(*args, **kwargs)

    monkeypatch.setattr(memory.recall, "choose_both", spy)
    await store.people.ensure_user(USER_ID, "alice")
    await store.consolidation.commit_consolidation(ConsolidationBatch("finn", USER_ID, (), new_facts=tuple(
        NewFact(f"Alice remembers fact {i}", "other", to_bytes(embedder.vectors[i]), private=i % 10 == 0)
        for i in range(n))))
    cache = FactCache(store.facts)
    recall = Recall(cache, store.people, embedder, MemorySettings(recall_token_budget=budget),
                    Consent(store.servers, store.people, "all"))
    for i in random.Random(3).sample(range(1, n), 20):
        in_dm = i % 10 == 0  # a fact learnt in DMs is asked about in DMs
        chosen, _ = await recall.recall_for(USER_ID, f"Do you remember fact {i}?", private=in_dm,
                                            channel_id=0)
        assert chosen[0].fact == f"Alice remembers fact {i}"  # the one fact like the message, out of 3,000
        assert sum(count_tokens(prompt_line(r)) for r in chosen) <= budget
        assert in_dm or not any(r.private for r in chosen)
    chosen, _ = await recall.recall_for(USER_ID, "Do you remember fact 10?", private=False, channel_id=0)
    # a DM fact, asked about in a channel
    assert not [r for r in chosen if r.fact == "Alice remembers fact 10"]
    assert cache.loads == 1  # 21 recalls, the vectors read and decoded once
    assert embedder.calls == 21  # only the messages (each with its topic, in the same call) were encoded
    assert len(scored_in) == 21 and threading.main_thread().name not in scored_in


# --------------------------------------------------------------------------- the model, warmed at start-up


async def test_the_model_is_loaded_in_the_background_at_start_up_when_there_is_something_to_recall(
        make_harness: MakeHarness, tmp_path: Any, caplog: Any) -> None:
    h = await make_harness()
    assert h.bot.services.memory.warming is not None
    assert await h.bot.services.memory.warming is False  # no facts yet: nothing would need the model
    await h.store.people.ensure_user(USER_ID, "alice")
    await h.store.facts.add(USER_ID, "Alice keeps bees", embedding=to_bytes(HashEmbedder().encode(["x"])[0]))
    await h.restart()
    assert await h.bot.services.memory.warming is True
    assert h.bot.services.memory.embedder.loaded

    # A model that cannot be loaded costs a log line, never the bot.
    with caplog.at_level(logging.WARNING):
        await h.restart(embedding_model=str(tmp_path / "no-such-model"))
        assert await h.bot.services.memory.warming is False
        await h.say("hello there", mention=True)
        [reply] = await h.replies(CHANNEL_ID, 1)
    assert reply["content"] == "Hello from fake Claude."
    assert "could not load the embedding model" in caplog.text


async def test_a_new_bot_loads_the_model_at_start_up_so_the_first_fact_waits_for_nothing(
        make_harness: MakeHarness) -> None:
    """The first /facts add on a new bot waited 16 s for the model (issue 46): by default it is loaded in the
    background at start-up, facts or not."""
    h = await make_harness(preload_embedding_model="true")
    assert await h.bot.services.memory.warming is True
    assert h.bot.services.memory.embedder.loaded


async def test_a_fact_the_core_memories_already_hold_is_not_recalled_again(make_harness: MakeHarness) -> None:
    h = await make_harness()
    key = h.bot.services.pipeline.character_key
    await h.store.people.ensure_user(USER_ID, "alice")
    await h.store.memories.add_core_memory(key, USER_ID, "Alice has a cat called Biscuit.")
    for text in ("alice has a cat called  Biscuit", "Alice's cat Biscuit hates the vacuum"):
        memory = h.bot.services.memory
        await h.store.facts.add(USER_ID, text, embedding=await memory.embed(text), category="personal",
                                pinned=True)
    await h.say("How is Biscuit?", mention=True)
    await h.replies(CHANNEL_ID, 1)
    text = h.claude.last_request("claude-test-default").all_text()
    recalled = text.split('<recalled_facts about="alice"', 1)[1].split("</recalled_facts>", 1)[0]
    assert "- Alice's cat Biscuit hates the vacuum" in recalled and "called" not in recalled.casefold()
    assert text.count("has a cat called") == 1  # once, in the core memories
