"""Recall never repeats what the request already holds, and recalls nothing for a message about nothing:
the live history's lines are not quoted back as earlier conversations, a fact a core memory says is left
out (by their vectors), and the relevance floor (memory/recall.py FLOORS); over the wire with the real
embedding model, and the rules on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from database.models import Conversation, LoggedMessage
from database.records import PRIVATE_SOURCE, ExcerptRow, FactRow
from memory.embeddings import to_bytes
from memory.episodes import ExcerptIndex
from memory.facts import FactIndex
from memory.present import MemoryVectors, Present, said_once
from memory.recall import FLOORS, choose_both
from memory.sources import Recalled
from tests.harness import USER2_ID, USER_ID, Harness, MakeHarness, consolidate
from tests.memory_support import HashEmbedder, consolidation_responder, recalled_repeats

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
EXCERPTS = "[Words from your earlier conversations with alice"


def _bot(h: Harness) -> Any:
    assert h.bot is not None
    return h.bot


def _recalled(body: str) -> str:
    start = body.find("<recalled_facts")
    return "" if start < 0 else body[start:].split("</recalled_facts>", 1)[0]


async def _dm_prompt(h: Harness, text: str, n: int) -> str:
    dm = await h.dm_channel_id()
    await h.dm(text)
    await h.replies(dm, n)
    return h.claude.last_request("claude-test-default").all_text()


async def _archived_dm(h: Harness, *, ago: timedelta = timedelta(days=2), at: datetime | None = None) -> None:
    """alice tells the character about her sister's dog in a DM, then the daily consolidation archives it
    (extraction keeps no fact: only the words remain, as excerpts with their vectors). Said ``ago`` (or
    ``at``)."""
    h.claude.responder = consolidation_responder()
    await h.store.people.ensure_user(USER_ID, "alice")
    dm = await h.dm_channel_id()
    await h.dm("my sister got a greyhound puppy and named it Biscuit, it hides from umbrellas")
    await h.replies(dm, 1)
    await h.dm("anyway, busy week at the bakery")
    await h.replies(dm, 2)
    await _bot(h).in_flight.drain()
    async with h.store.engine.begin() as conn:  # said a while ago: the run archives it
        await conn.execute(update(LoggedMessage).values(created_at=at or datetime.now(UTC) - ago))
    report = await consolidate(h)
    assert report.excerpts >= 2 and await _bot(h).services.memory.consolidator.embedded() == report.excerpts


async def test_after_a_consolidation_no_excerpt_repeats_a_line_of_the_history(
        make_harness: MakeHarness) -> None:
    h = await make_harness()
    await _archived_dm(h)
    body = await _dm_prompt(h, "do you remember what my sister called her puppy?", 3)
    # The history holds the lines verbatim: they are there once, never quoted again as earlier words.
    assert body.count("named it Biscuit, it hides from umbrellas") == 1
    assert EXCERPTS not in body
    # Once the history is gone (reset), the archive is what is left of them, and it is quoted.
    await h.store.conversations.reset_conversation(_bot(h).services.pipeline.character_key, USER_ID, "dm")
    again = await _dm_prompt(h, "do you remember what my sister called her puppy?", 4)
    assert EXCERPTS in again and "named it Biscuit" in again


async def test_a_summary_hides_only_what_it_tells_what_came_before_it_is_recalled(
        make_harness: MakeHarness) -> None:
    from tests.test_summarization import CHAT, SMALL, Script, chat, summarized

    h = await make_harness(**SMALL)
    await _archived_dm(h)  # the puppy, two days ago: then a reset, and a new conversation
    key = _bot(h).services.pipeline.character_key
    await h.store.conversations.reset_conversation(key, USER_ID, "dm")
    assert (await h.store.conversations.history(key, USER_ID, "dm")).summary_since is None
    script = Script()
    h.claude.responder = consolidation_responder(script)
    await chat(h, CHAT[:3], start=2, dm=True)
    await summarized(h, "dm")
    history = await h.store.conversations.history(key, USER_ID, "dm")
    # it tells from the new conversation's first message on: the puppy was before it
    said = [r.said_at for r in await _bot(h).services.memory.said(USER_ID)]
    assert history.summary_since is not None and history.summary_since.replace(tzinfo=UTC) > max(
        s.replace(tzinfo=UTC) for s in said)
    body = await _dm_prompt(h, "do you remember what my sister called her puppy?", 6)
    assert "<summary" in body and EXCERPTS in body and "named it Biscuit" in body
    # a second summary tells from the same start; a reset forgets it
    script.summary = "Alice told me about Miso, the lighthouse and her sister's visit."
    await chat(h, CHAT[3:], start=6, dm=True)
    await summarized(h, "dm", previous=history.summary)
    again = await h.store.conversations.history(key, USER_ID, "dm")
    assert again.summary_since == history.summary_since
    await h.store.conversations.reset_conversation(key, USER_ID, "dm")
    assert (await h.store.conversations.history(key, USER_ID, "dm")).summary_since is None


async def test_night_after_a_reset_recalls_nothing(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await _archived_dm(h)
    for text in ("Alice is training for the Leeds half marathon", "Alice works at a bakery"):
        vector = await _bot(h).services.memory.embed(text)
        await h.store.facts.add(USER_ID, text, embedding=vector, category="personal")
    await h.store.conversations.reset_conversation(_bot(h).services.pipeline.character_key, USER_ID, "dm")
    body = await _dm_prompt(h, "night!", 3)
    assert "<recalled_facts" not in body and EXCERPTS not in body
    assert "half marathon" not in body and "Biscuit" not in body
    # A message about something still recalls it: the floor is not a wall.
    about = await _dm_prompt(h, "how is my half marathon training going?", 4)
    assert "- Alice is training for the Leeds half marathon" in _recalled(about)


async def test_a_fact_a_core_memory_says_in_other_words_is_left_out(make_harness: MakeHarness) -> None:
    h = await make_harness()
    key = _bot(h).services.pipeline.character_key
    await h.store.people.ensure_user(USER_ID, "alice")
    memory = "Alice told me she has been vegetarian since she was twelve."
    await h.store.memories.add_core_memory(key, USER_ID, memory)
    for text in ("Alice is vegetarian.", "Alice cooks a vegetarian lasagne every Sunday"):
        vector = await _bot(h).services.memory.embed(text)
        await h.store.facts.add(USER_ID, text, embedding=vector, category="personal")
    body = await _dm_prompt(h, "any vegetarian recipe ideas for Sunday?", 1)
    recalled = _recalled(body)
    assert "- Alice cooks a vegetarian lasagne every Sunday" in recalled
    assert "Alice is vegetarian." not in recalled  # the core memory says it (0.87 cosine, other words)
    # Embedded once, with the message: the next reply asks the model for the message alone.
    # (added by the person: a note, compared as their words)
    assert f"alice: {memory}" in _bot(h).services.memory.recall.memories.vectors


# --------------------------------------------------------------------------- the rules


def _fact(i: int, text: str, e: HashEmbedder, *, pinned: bool = False) -> FactRow:
    return FactRow(i, text, "other", pinned, False, 1, NOW, NOW, to_bytes(e.encode([text])[0]))


def _excerpt(i: int, text: str, e: HashEmbedder, *, channel: int = 5, at: datetime = NOW) -> ExcerptRow:
    return ExcerptRow(i, 1000 + i, channel, None, True, "alice", True, text, at,
                      to_bytes(e.encode([f"alice: {text}"])[0]))


def test_the_floor_recalls_nothing_for_nothing_and_keeps_the_pinned() -> None:
    e = HashEmbedder()
    index = FactIndex.build([
        _fact(1, "kayaking on the lake", e), _fact(2, "allergic to shellfish", e, pinned=True),
        _fact(3, "kayak club on Sundays", e)])
    floors = (0.3, 0.3, 0.0)
    night = choose_both(index, e.encode(["night!"])[0], budget=1000, private=True, now=NOW, expiry_days=0,
                        text="night!", floors=floors)[0]
    assert [r.id for r in night] == [2]  # the pinned fact only: a message about nothing recalls nothing
    lake = choose_both(index, e.encode(["the lake"])[0], budget=1000, private=True, now=NOW, expiry_days=0,
                       text="the lake", floors=floors)[0]
    assert [r.id for r in lake] == [2, 1]  # a ceiling, not a target: the kayak club is not about the lake
    # Without the floor (the old behaviour) the message recalled the third fact too.
    flat = choose_both(index, e.encode(["the lake"])[0], budget=1000, private=True, now=NOW, expiry_days=0,
                       text="the lake", floors=(0.0, 0.0, 0.0), fill=True)[0]
    assert [r.id for r in flat] == [2, 1, 3]


def test_excerpts_the_request_holds_are_never_recalled() -> None:
    e = HashEmbedder()
    lines = [_excerpt(1, "the lake was freezing", e, at=NOW - timedelta(days=9)),
             _excerpt(2, "the lake froze over", e, at=NOW - timedelta(days=3)),
             _excerpt(3, "swimming in the lake", e, at=NOW - timedelta(hours=2)),
             _excerpt(4, "a lake in another DM", e, channel=6, at=NOW - timedelta(hours=1))]
    archive = ExcerptIndex.build(lines)
    empty = FactIndex.build([])

    def quoted(present: Present) -> list[int]:
        said = choose_both(empty, e.encode(["the lake"])[0], budget=1000, private=True, now=NOW,
                           expiry_days=0, text="the lake", excerpts=archive, present=present,
                           floors=(0.0, 0.0, 0.0))[1]
        return sorted(r.id for r in said)

    assert quoted(Present()) == [1, 2, 3, 4]
    assert quoted(Present(frozenset({1002}))) == [1, 3, 4]  # by id: a line of the history
    # by time: the live history starts 5 hours ago in channel 5 (a reply's earlier parts keep no id there)
    assert quoted(Present(channel_id=5, since=NOW - timedelta(hours=5))) == [1, 2, 4]
    # a summary tells what came before the live lines there: all of it when its start is not known
    assert quoted(Present(channel_id=5, since=NOW - timedelta(hours=5), summarized=True)) == [4]
    # from where it starts telling: what was said there before (before a reset) is recalled
    told = NOW - timedelta(days=5)
    live = NOW - timedelta(hours=5)
    assert quoted(Present(channel_id=5, since=live, summarized=True, told_from=told)) == [1, 4]
    assert quoted(Present(channel_id=5, summarized=True, told_from=told)) == [1, 4]


def test_a_fact_said_by_a_memory_is_found_by_vectors_not_strings() -> None:
    e = HashEmbedder()
    index = FactIndex.build([_fact(1, "Alice is vegetarian", e), _fact(2, "Alice runs", e),
                             _fact(3, "Alice is vegetarian", e, pinned=True)])
    vectors = MemoryVectors()
    memory = "alice IS vegetarian!"  # other case and punctuation: no string matches
    assert vectors.missing([memory, memory]) == [memory]
    vectors.keep([memory], e.encode([memory]))
    assert vectors.missing([memory]) == []
    shown = vectors.said(index, [memory], 0.85)
    assert shown is not None and shown.tolist() == [True, False, True]
    chosen = choose_both(index, e.encode(["vegetarian food"])[0], budget=1000, private=True, now=NOW,
                         expiry_days=0, text="vegetarian food", shown=shown, floors=FLOORS)[0]
    assert [r.id for r in chosen] == [3]  # pinned facts stay; the other says what the memory says
    assert vectors.said(index, ["never embedded"], 0.85) is None
    nothing = vectors.said(index, [memory], 1.01)
    assert nothing is not None and not nothing.any()


def test_the_excerpt_a_recalled_fact_was_drawn_from_is_left_out() -> None:
    e = HashEmbedder()
    day = NOW - timedelta(days=3)
    text = "alice moved to York with her dog"
    vector = to_bytes(e.encode([text])[0])
    index = FactIndex.build([FactRow(1, text, "other", False, False, 1, day, day, vector, said_at=day)])
    archive = ExcerptIndex.build([
        _excerpt(1, "I moved to York last week", e, at=day + timedelta(hours=1)),  # the line it came from
        _excerpt(2, "the dog loves York", e, at=day + timedelta(hours=2)),  # that day, less like it
        _excerpt(3, "York again, moved my dog's bed", e, at=NOW - timedelta(days=10))])  # another day

    def recalled(facts: FactIndex) -> tuple[list[int], list[int]]:
        chosen, said = choose_both(facts, e.encode(["York"])[0], budget=1000, private=True, now=NOW,
                                   expiry_days=0, text="York", excerpts=archive, floors=(0.0, 0.0, 0.0))
        return [r.id for r in chosen], sorted(r.id for r in said)

    assert recalled(FactIndex.build([])) == ([], [1, 2, 3])
    # the fact says what its own line said; the day's other line and another day's are other words
    assert recalled(index) == ([1], [2, 3])
    # quoted before the fact drawn from it came: the fact says it, and it is let go
    drawn = Recalled(10, index, archive)
    drawn.quote(1)
    drawn.quote(0)
    assert drawn.add(0) == 0 and drawn.says(0, archive.vector(0)) and not drawn.says(1, archive.vector(1))



def test_the_line_a_question_asks_about_stays_beside_a_fact_drawn_from_another_part_of_it() -> None:
    # The trip's line also names the diet: the diet's fact was drawn from it, but the question asks about the
    # trip, which only the line says. Letting the line go for the fact lost the answer.
    e = HashEmbedder()
    day = NOW - timedelta(days=3)
    diet = "alice is on a low sodium diet now"
    vector = to_bytes(e.encode([diet])[0])
    index = FactIndex.build([FactRow(1, diet, "other", False, False, 1, day, day, vector, said_at=day)])
    archive = ExcerptIndex.build([
        _excerpt(1, "we are planning a trip to Lisbon and I am on a low sodium diet now", e, at=day)])
    asked = "are we planning a trip to Lisbon?"
    chosen, said = choose_both(index, e.encode([asked])[0], budget=1000, private=True, now=NOW, expiry_days=0,
                               text=asked, excerpts=archive, floors=(0.0, 0.0, 0.0))
    assert [r.id for r in said] == [1]
    drawn = Recalled(10, index, archive)
    drawn.quote(0)
    assert drawn.add(0, lambda j: True) is None  # kept: nearer what is asked than the fact


# --------------------------------------------------------------------------- what earns its place


async def _told(h: Harness, user: int, text: str, *, said_at: datetime | None = None) -> None:
    embedding = await _bot(h).services.memory.embed(text)
    await h.store.facts.add(user, text, embedding=embedding, category="personal", said_at=said_at)


def _person_block(body: str, name: str) -> str:
    """What the request says of a person: the person block (core memories, notes, summary) and the recalled
    facts and excerpts."""
    start = body.find(f'<person name="{name}">')
    person = "" if start < 0 else body[start:].split("</person>", 1)[0]
    return person + _recalled(body)


async def test_a_message_recalls_only_the_facts_it_is_about(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await h.store.people.ensure_user(USER_ID, "alice")
    unrelated = ("Alice's birthday is on 14 March", "Alice is vegetarian", "Alice has a cat called Miso")
    told = datetime.now(UTC) - timedelta(days=3)  # all told last week: what she says of it is no question
    for text in ("Alice lives in Leeds", *unrelated):
        await _told(h, USER_ID, text, said_at=told)
    recalled = _recalled(await _dm_prompt(h, "I moved to York last week!", 1))
    assert not [f for f in unrelated if f in recalled]
    # a question about that time still opens it
    asked = _recalled(await _dm_prompt(h, "what did I tell you last week?", 2))
    assert all(f"- {f}" in asked for f in unrelated)


async def test_small_talk_after_a_reset_quotes_nothing_of_the_reset_conversation(
        make_harness: MakeHarness) -> None:
    h = await make_harness()
    await _archived_dm(h, ago=timedelta(0))  # today's conversation, archived, then reset
    await h.store.conversations.reset_conversation(_bot(h).services.pipeline.character_key, USER_ID, "dm")
    for n, text in enumerate(("how are you doing today?", "busy this week?"), 3):
        body = await _dm_prompt(h, text, n)
        assert EXCERPTS not in body and "Biscuit" not in body and "bakery" not in body
        assert "Hello from fake Claude." not in _recalled(body)  # the character's filler, never an excerpt


async def test_a_question_about_yesterday_still_recalls_it(make_harness: MakeHarness) -> None:
    h = await make_harness()
    yesterday = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    await _archived_dm(h, at=yesterday)
    await h.store.conversations.reset_conversation(_bot(h).services.pipeline.character_key, USER_ID, "dm")
    body = await _dm_prompt(h, "what did we talk about yesterday?", 3)
    recalled = _recalled(body)
    assert EXCERPTS in body and "named it Biscuit" in recalled and "busy week at the bakery" in recalled
    assert "Hello from fake Claude." not in recalled  # what the character said tells nothing of alice


async def test_the_person_block_says_leeds_once(make_harness: MakeHarness) -> None:
    """A fact the person's note or the summary already says, in other words, is not recalled again."""
    h = await make_harness()
    for user, name in ((USER_ID, "alice"), (USER2_ID, "bob")):
        await h.store.people.ensure_user(user, name)
        for text in (f"{name.title()} lives in Leeds", f"{name.title()} bakes sourdough every Sunday"):
            await _told(h, user, text)
    # alice's note, in her own words
    await (await h.slash("remember", [{"name": "memory", "type": 3, "value": "I live in Leeds"}], dm=True)
           ).message()
    question = "any good bakeries around Leeds for my sourdough?"
    alice = _person_block(await _dm_prompt(h, question, 1), "alice")
    assert "<notes" in alice and "- Bob" not in alice
    assert alice.count("Leeds") == 1 and "- Alice bakes sourdough every Sunday" in alice
    # bob's summary says it, in a clause of a longer sentence
    bob_dm = await h.dm_channel_id(USER2_ID)
    await h.dm("hello finn", user=USER2_ID)
    await h.replies(bob_dm, 1)
    await _bot(h).in_flight.drain()  # the exchange kept: bob's conversation is there to summarise
    async with h.store.engine.begin() as conn:
        await conn.execute(update(Conversation).where(Conversation.user_id == USER2_ID).values(
            summary="Bob lives in Leeds and bakes bread for a living. He is planning a trip to the coast."))
    await h.dm(question, user=USER2_ID)
    await h.replies(bob_dm, 2)
    bob = _person_block(h.claude.last_request("claude-test-default").all_text(), "bob")
    assert "<summary" in bob and bob.count("Leeds") == 1


async def test_the_person_block_itself_says_each_thing_once(make_harness: MakeHarness) -> None:
    """A core memory, a note and a summary clause saying the same thing: the person block says it once
    (the memory), and still says what only the summary tells."""
    h = await make_harness()
    await h.store.people.ensure_user(USER_ID, "alice")
    key = _bot(h).services.pipeline.character_key
    await h.store.memories.add_core_memory(key, USER_ID, "Alice lives in Leeds", source=PRIVATE_SOURCE)
    await (await h.slash("remember", [{"name": "memory", "type": 3, "value": "I live in Leeds"}], dm=True)
           ).message()
    await _dm_prompt(h, "hello finn", 1)
    await _bot(h).in_flight.drain()  # the exchange kept: her conversation is there to summarise
    async with h.store.engine.begin() as conn:
        await conn.execute(update(Conversation).where(Conversation.user_id == USER_ID).values(
            summary="Alice has a sister, Maya. Alice lives in Leeds."))
    body = await _dm_prompt(h, "what should I cook tonight?", 2)
    start = body.find('<person name="alice">')
    person = body[start:].split("</person>", 1)[0]
    assert start >= 0 and "<summary" in person and "Maya" in person
    assert person.count("Leeds") == 1 and "- Alice lives in Leeds" in person


# A memory, a summary telling it in a whole clause or sentence of its own, the place it names and what only
# the summary tells: clauses part at each script's punctuation (a sentence's end, a comma, 、, ，).
IN_A_CLAUSE = {
    "en": ("Alice lives in Leeds", "Alice has a sister, Maya. Alice lives in Leeds.", "Leeds", "Maya"),
    "es": ("Alice vive en Leeds", "Alice tiene una hermana, Maya. Alice vive en Leeds.", "Leeds", "Maya"),
    "de": ("Alice wohnt in Leeds", "Alice hat eine Schwester, Maya. Alice wohnt in Leeds.", "Leeds", "Maya"),
    "ja": ("アリスはリーズに住んでいる", "アリスはリーズに住んでいて、妹のマヤがいる。", "リーズ", "マヤ"),
    "zh": ("爱丽丝住在利兹", "爱丽丝住在利兹，有一个妹妹玛雅。", "利兹", "玛雅"),
}


@pytest.mark.parametrize("language", list(IN_A_CLAUSE))
async def test_the_person_block_says_once_what_a_summary_clause_repeats_in_any_language(
        make_harness: MakeHarness, language: str) -> None:
    """A core memory and a summary clause that says it and more, in each language: the person block says the
    place once (the memory) and keeps what only the summary tells, by the words the two share, never by the
    word that joins the clauses."""
    memory, summary, place, new = IN_A_CLAUSE[language]
    h = await make_harness()
    await h.store.people.ensure_user(USER_ID, "alice")
    key = _bot(h).services.pipeline.character_key
    await h.store.memories.add_core_memory(key, USER_ID, memory, source=PRIVATE_SOURCE)
    await _dm_prompt(h, "hello finn", 1)
    await _bot(h).in_flight.drain()
    async with h.store.engine.begin() as conn:
        await conn.execute(update(Conversation).where(Conversation.user_id == USER_ID).values(
            summary=summary))
    person = _person_block(await _dm_prompt(h, "what should I cook tonight?", 2), "alice")
    assert f"- {memory}" in person and "<summary" in person and new in person
    assert person.count(place) == 1


def test_a_clause_keeps_what_no_memory_says_whole() -> None:
    """Only a whole clause a memory says goes: a clause naming part of a memory, saying a memory and more, or
    joined to the next without punctuation, is kept as written (nothing is cut inside it)."""
    whole = "Alice's partner Sam teaches at a primary school."
    assert said_once("alice", ["Alice's partner is Sam"], [], whole)[2] == whole
    long = "Alice lives in Leeds with her partner Sam and their greyhound Biscuit."
    ill = "Alice's partner Sam is very ill with flu."
    assert said_once("alice", [long], [], ill)[2] == ill
    for memory, summary in (("Alice starts night shifts at the lighthouse.",
                             "Alice told me Miso broke the teapot and she starts at the lighthouse."),
                            ("Alice wohnt in Leeds", "Alice hat eine Schwester und wohnt in Leeds."),
                            ("アリスはリーズに住んでいる", "アリスはリーズに住んでいて妹のマヤがいる。")):
        assert said_once("alice", [memory], [], summary)[2] == summary
    # a whole clause said, in Spanish: the sentence before it ends there
    spanish = "Bea tiene dos gatos, vive en Sevilla. Le gusta correr."
    assert said_once("bea", ["Bea vive en Sevilla"], [], spanish)[2] == \
        "Bea tiene dos gatos. Le gusta correr."


# A memory and a summary that says it beside a parenthesis, a quotation and a sentence half of which the
# memory says; what only the summary tells.
CUT_CLEANLY = {
    "en": ("Lucía moved to Madrid",
           "Lucía moved to Madrid (she had lived in Seville, her home town, for years) and is leaving the "
           "hospital for a clinic. She said \"I moved to Madrid, at last\" and laughed. "
           "Lucía moved to Madrid.",
           "clinic"),
    "es": ("Lucía se ha mudado a Madrid",
           "Lucía se ha mudado a Madrid (antes vivía en Sevilla, su ciudad natal) y deja el hospital por una "
           "clínica. Dijo «me he mudado a Madrid, por fin» y se rió. Lucía se ha mudado a Madrid.",
           "clínica"),
    "ja": ("ルシアはマドリードに引っ越した",
           "ルシアはマドリードに引っ越して（前は故郷のセビリアに住んでいた、長く）病院を辞めてクリニックに移る。"
           "「マドリードに引っ越した、やっと」と笑った。ルシアはマドリードに引っ越した。",
           "クリニック"),
}


def _whole(text: str) -> bool:
    """No pair of brackets or quotes left open or closed alone, and no "…" standing for words left out."""
    pairs = ("()", "（）", "「」", "«»", "“”")
    return "\u2026" not in text and text.count('"') % 2 == 0 and \
        all(text.count(a) == text.count(b) for a, b in pairs)


@pytest.mark.parametrize("language", list(CUT_CLEANLY))
def test_the_trimmer_cuts_only_whole_clauses_never_inside_brackets_or_quotes(language: str) -> None:
    memory, summary, new = CUT_CLEANLY[language]
    trimmed = said_once("lucia", [memory], [], summary)[2]
    assert _whole(trimmed) and new in trimmed and trimmed != summary  # the repeated sentence went
    assert trimmed.rstrip()[-1] in ".。"
    # the sentence with the parenthesis and the one with the quotation, their commas inside, are there whole
    assert trimmed == summary[:summary.rindex(memory)].rstrip()


@pytest.mark.parametrize("language", list(CUT_CLEANLY))
async def test_no_request_holds_a_cut_clause_in_the_person_block(make_harness: MakeHarness,
                                                                 language: str) -> None:
    memory, summary, new = CUT_CLEANLY[language]
    h = await make_harness()
    await h.store.people.ensure_user(USER_ID, "alice")
    key = _bot(h).services.pipeline.character_key
    await h.store.memories.add_core_memory(key, USER_ID, memory.replace("Lucía", "Alice").replace(
        "ルシア", "アリス"), source=PRIVATE_SOURCE)
    await _dm_prompt(h, "hello finn", 1)
    await _bot(h).in_flight.drain()
    async with h.store.engine.begin() as conn:
        await conn.execute(update(Conversation).where(Conversation.user_id == USER_ID).values(
            summary=summary.replace("Lucía", "Alice").replace("ルシア", "アリス")))
    body = await _dm_prompt(h, "what should I cook tonight?", 2)
    start = body.find('<person name="alice">')
    person = body[start:].split("</person>", 1)[0]
    shown = person.split("<summary", 1)[1]
    assert _whole(shown) and new in shown


def test_said_once_keeps_the_more_telling_of_a_note_and_a_memory_and_the_summarys_own_clauses() -> None:
    # the note tells more than the memory that says it: the note stays, the memory goes
    memories, notes, summary = said_once("alice", ["Alice lives in Leeds"], ["I live in Leeds near the park"],
                                         "Alice has a sister, Maya. She lives in Leeds near the park.")
    assert (memories, notes, summary) == ([], ["I live in Leeds near the park"], "Alice has a sister, Maya.")
    # nothing said twice: all as stored
    assert said_once("alice", ["Alice has no fish"], ["I like kelp"], "Alice went to the interview.") == \
        (["Alice has no fish"], ["I like kelp"], "Alice went to the interview.")


async def test_recalled_lines_repeat_the_request_under_five_percent_for_each_kind_of_request(
        make_harness: MakeHarness) -> None:
    """The redundancy of recall per kind of request: a person with a core memory, a note, a summary, facts and
    an archived conversation (reset since), asked a greeting, small talk naming a day, a question about a
    fact, a memory question and a question about yesterday."""
    h = await make_harness()
    yesterday = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    await _archived_dm(h, at=yesterday)
    key = _bot(h).services.pipeline.character_key
    await h.store.conversations.reset_conversation(key, USER_ID, "dm")
    await h.store.memories.add_core_memory(key, USER_ID, "Alice lives in Leeds with her partner Sam.",
                                           source="summary_dm")
    await (await h.slash("remember", [{"name": "memory", "type": 3, "value": "I am vegetarian"}], dm=True)
           ).message()
    for text in ("Alice lives in Leeds", "Alice is vegetarian", "Alice bakes sourdough every Sunday",
                 "Alice's sister has a greyhound called Biscuit", "Alice is training for a half marathon"):
        await _told(h, USER_ID, text)
    kinds = {"greeting": "hi finn!", "small talk naming a day": "how are you doing today?",
             "a question about a fact": "any good vegetarian bakeries around Leeds?",
             "a memory question": "do you remember what my sister called her puppy?",
             "a question about yesterday": "what did we talk about yesterday?"}
    shares: dict[str, float] = {}
    for n, (kind, text) in enumerate(kinds.items(), 3):
        body = await _dm_prompt(h, text, n)
        if n == 3:  # a summary of the conversation since the reset
            await _bot(h).in_flight.drain()
            async with h.store.engine.begin() as conn:
                await conn.execute(update(Conversation).where(Conversation.user_id == USER_ID).values(
                    summary="Alice said hi and told me she bakes sourdough every Sunday.",
                    summary_since=datetime.now(UTC) - timedelta(minutes=5)))
        total, repeated = recalled_repeats(body)
        shares[kind] = repeated / total if total else 0.0
    assert all(share < 0.05 for share in shares.values()), shares


async def test_a_fact_the_person_block_says_in_other_words_or_another_language_is_not_recalled(
        make_harness: MakeHarness) -> None:
    """The core memories say where alice lives, with whom, her dog and her work; the facts consolidation kept
    say parts of it in other words, or in Spanish (her words): a reply's request says each once, in the block,
    by the facts' and memories' vectors with what all her facts share set aside (memory/present.py). What the
    block does not say (the dog's fear of thunder) is still recalled."""
    h = await make_harness()
    key = _bot(h).services.pipeline.character_key
    await h.store.people.ensure_user(USER_ID, "alice")
    for memory in ("Alice lives in Leeds with her partner Sam and their greyhound Biscuit.",
                   "Alice works night shifts as a nurse at St James's hospital."):
        await h.store.memories.add_core_memory(key, USER_ID, memory, source="summary_dm")
    said = ("Alice has a greyhound called Biscuit", "Alice vive en Leeds con Sam",
            "Alice trabaja de enfermera por la noche")
    for text in (*said, "Biscuit is scared of thunder", "Alice bakes sourdough every Sunday",
                 "Alice plays the cello", "Alice is afraid of swans"):
        await _told(h, USER_ID, text)
    dog = await _dm_prompt(h, "how do you think Biscuit is doing?", 1)
    assert "- Biscuit is scared of thunder" in _recalled(dog)
    assert dog.count("greyhound") == 1 and "greyhound" in _person_block(dog, "alice").split("<recalled")[0]
    for n, text in enumerate(("tell me about Sam", "long night at work again"), 2):
        body = await _dm_prompt(h, text, n)
        assert not [f for f in said if f in body], _recalled(body)
        assert body.count("Leeds") == 1  # the memory's, not the fact's again


@pytest.mark.parametrize(("person", "asked", "said", "new"), [
    (0, "tell me about Sam", "Alice's partner is called Sam",
     "Alice's partner Sam teaches at a primary school"),
    (1, "¿qué recuerdas de mí?", "Bea is an architect", "Bea's brother Luis lives in Madrid")])
async def test_a_fact_a_stretch_of_a_memory_says_is_not_recalled_and_one_adding_to_it_is(
        make_harness: MakeHarness, person: int, asked: str, said: str, new: str) -> None:
    """A memory saying several things ("Alice lives in Leeds with her partner Sam and their greyhound
    Biscuit."; in Spanish, "Bea vive en Sevilla y trabaja como arquitecta en un estudio pequeño."): a fact
    saying one of them in other words, or in English, is near the stretch of the memory that says it and is
    not recalled; a fact adding to it (what Sam does, Bea's brother) is (memory/present.py ``windows``). The
    people of benchmarks/bench_person_recall.py, over the wire."""
    from benchmarks.bench_person_recall import PEOPLE, recalled_lines
    from memory.present import windows
    from memory.recall import WINDOWS_PER_REPLY

    who = PEOPLE[person]
    h = await make_harness()
    key = _bot(h).services.pipeline.character_key
    await h.store.people.ensure_user(USER_ID, who.name)
    for memory in who.memories:
        await h.store.memories.add_core_memory(key, USER_ID, memory, source=PRIVATE_SOURCE)
    for text in (*who.said, *who.new):
        await _told(h, USER_ID, text, said_at=datetime.now(UTC) - timedelta(days=3))
    # the first reply embeds the memories, each one after a few of their stretches (no reply pays for all)
    replies = 2 + -(-len(windows(who.memories, who.name)) // WINDOWS_PER_REPLY)
    for n in range(1, replies):
        await _dm_prompt(h, "hi finn", n)
    recalled = recalled_lines(await _dm_prompt(h, asked, replies))
    assert new in recalled and said not in recalled, recalled


def test_the_memories_aside_cosines_are_worths_about_without_a_copy_of_the_facts() -> None:
    import numpy as np

    from memory.present import _aside
    from memory.worth import about, unit

    rng = np.random.default_rng(7)
    facts, memories = (m / np.linalg.norm(m, axis=1, keepdims=True)
                       for m in (rng.normal(size=(6, 16)), rng.normal(size=(3, 16))))
    common = unit(facts.mean(axis=0))
    assert common is not None
    got = _aside(facts @ memories.T, facts @ common, memories @ common).max(axis=1)
    assert np.allclose(got, about(facts.astype(np.float32), memories.astype(np.float32), common), atol=1e-4)
    # a fact without a vector (its scores -inf) is never said
    scores = facts @ memories.T
    scores[0] = -np.inf
    fc = facts @ common
    fc[0] = -np.inf
    assert np.isneginf(_aside(scores, fc, memories @ common)[0]).all()


def test_the_characters_filler_is_a_short_line_sharing_no_word_with_the_person() -> None:
    import numpy as np

    from memory.lexical import terms
    from memory.worth import FILLER_TERMS, filler

    def row(n: int, own: bool, content: str) -> ExcerptRow:
        return ExcerptRow(n, n, 10, None, True, "alice" if own else "Finn", own, content, NOW, None)

    told = [NOW + timedelta(minutes=k) for k in range(4)]
    long_news = ("Spent the whole weekend painting a mural of the harbour at sunset with my cousin "
                 "Marta, orange everywhere")
    rows = [row(1, True, "I adopted a greyhound"),
            row(2, False, "Glub! The kettle is on."),  # an aside: filler
            row(3, False, "A greyhound! Lovely."),  # answers her: stays
            row(4, False, long_news)]  # what the character tells of itself: stays
    assert len(set(terms(long_news))) > FILLER_TERMS
    got = filler(rows, np.array([t.timestamp() for t in told]))
    assert got.tolist() == [False, True, False, False]
