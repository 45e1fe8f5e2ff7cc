"""The daily consolidation, driven directly (real store on SQLite and PostgreSQL, real anthropic SDK against
the fake Claude API): facts extracted and matched, relationships bounded per day, messages archived exactly
once, consent purges, expiry, the daily rounds (once at their anchor, once after a restart, once per
cluster), the CLI with its progress bar, and crash safety
proven by SIGKILLing a subprocess mid-run."""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import random
import re
import signal
import threading
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.alive.mood import MOOD_KEY, ensure_daily_mood
from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient
from bot.core.timers import Dispatcher, Timers, next_daily
from database.records import RelationshipRecord
from database.store import Store
from memory.batching import make_batches
from memory.consolidation import Consolidator
from memory.consolidation_report import ConsolidationReport
from memory.embeddings import to_bytes
from memory.facts import MalformedExtraction, parse_extraction
from memory.relationships import bound_daily_change
from tests.consolidation_child import child_main, consolidate
from tests.dbtools import archived_count, logged_count
from tests.fakes.claude_models import lineup_capabilities
from tests.fakes.claude_server import FakeClaude, Reply
from tests.harness import check, eventually, run_due
from tests.memory_support import (
    FINN,
    HashEmbedder,
    consolidate_round,
    consolidation_responder,
    fact_texts,
    first_user_text,
    is_extraction,
    memory_settings,
    real_embedder,
    seen,
)
from tests.test_retention import call

pytestmark = pytest.mark.fake_claude(consolidating=True)

ALICE, BOB, CAROL, BOT = 5, 6, 7, 99


class Rig:
    def __init__(self, store: Store, fc: FakeClaude, **overrides: Any) -> None:
        self.store = store
        self.fc = fc
        self.settings = memory_settings(store.url, fc.base_url, **overrides)
        self.claude = ClaudeClient(self.settings, store.usage)
        self.persona = CharacterSource(FINN, None, environ={}).current
        self.key = self.settings.character_name_slug

    def consolidator(self, embedder: Any = None, **kwargs: Any) -> Consolidator:
        """A consolidator of its own, for a test that watches or changes its steps."""
        return Consolidator(self.store, self.claude, self.settings.memory, self.key, self.persona,
                            embedder or HashEmbedder(), **kwargs)

    async def consolidate(self, now: datetime | None = None) -> ConsolidationReport:
        """A consolidation as the bot runs it, through the memory's daily round on a timer loop."""
        return await consolidate_round(self.store, self.claude, self.settings, HashEmbedder(), now)


@pytest.fixture
async def rig_factory(store: Store, fake_claude: FakeClaude) -> AsyncIterator[Any]:
    made: list[Rig] = []

    def make(**overrides: Any) -> Rig:
        rig = Rig(store, fake_claude, **overrides)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        await rig.claude.close()


async def log_all(store: Store, messages: list[Any]) -> None:
    """The messages logged as a busy server's burst is, in their order: awaited one by one, each would wait
    the log's linger for company (database/log.py GroupCommit)."""
    await asyncio.gather(*(store.log.log_message(m) for m in messages))


async def archived_ids(store: Store) -> list[int]:
    from sqlalchemy import select

    from database.models import ArchivedMessage

    async with store.engine.connect() as conn:
        return sorted(int(r[0]) for r in (await conn.execute(select(ArchivedMessage.message_id))).all())


# --------------------------------------------------------------------------- pure parts


def test_extraction_parsing_validates_and_bounds() -> None:
    parsed = parse_extraction('```json\n{"facts": [{"fact": " Alice  keeps bees ", "category": "Hobbies"}, '
                              '{"fact": "alice keeps bees"}, "Alice is 34", '
                              '{"fact": "x", "category": "weird"}], '
                              '"relationship": {"rapport": 4, "trust": -0.25, "mood": 3}}\n```', 1.0)
    assert [(f.fact, f.category) for f in parsed.facts] == [("Alice keeps bees", "hobbies"),
                                                            ("Alice is 34", "other"),
                                                            ("x", "other")]
    assert parsed.relationship == {"rapport": 1.0, "trust": -0.25}
    assert parse_extraction('{"facts": []}', 1.0).relationship == {}
    for bad in ("Sure! Here are the facts.", '{"facts": "none"}', '{"facts": [{"text": "no fact key"}]}',
                '{"facts": [], "relationship": {"anger": "lots"}}', '[1, 2]',
                '{"facts": [], "relationship": []}'):
        with pytest.raises(MalformedExtraction):
            parse_extraction(bad, 1.0)


# Answers built to break the parser rather than the schema: numbers no float holds, an integer of more digits
# than Python converts, nesting past the interpreter's depth. Each is a malformed answer like any other.
HOSTILE_ANSWERS = (
    '{"facts": [], "relationship": {"rapport": ' + "9" * 400 + "}}",  # int -> float overflows
    '{"facts": [], "relationship": {"trust": 1e999}}',  # a float literal beyond the range: infinity
    '{"facts": [], "relationship": {"anger": -Infinity}}',
    '{"facts": [], "relationship": {"rapport": ' + "7" * 5000 + "}}",  # past int's digit limit
    '{"facts": ' + "[" * 100_000 + "]" * 100_000 + "}",  # nested past the recursion limit
)


def test_hostile_numbers_and_nesting_are_a_malformed_answer() -> None:
    for bad in HOSTILE_ANSWERS:
        with pytest.raises(MalformedExtraction):
            parse_extraction(bad, 1.0)


async def test_a_hostile_answer_is_asked_again_like_any_malformed_one(rig_factory: Any,
                                                                       fake_claude: FakeClaude) -> None:
    rig: Rig = rig_factory(model_capabilities=lineup_capabilities()
                           + ",claude-test-default[structured_outputs]=false")
    facts = ["Alice sells kites", "Alice owns a grey cat", "Alice swims at dawn", "Alice hates olives",
             "Alice speaks Welsh"]
    await log_all(rig.store, [seen(i, ALICE, f"case {i}\nFACT[hobbies]: {fact}", name="alice")
                              for i, fact in enumerate(facts)])
    asked: dict[str, int] = {}

    def respond(body: dict[str, Any]) -> str | None:
        if not is_extraction(body):
            return consolidation_responder()(body)
        text = first_user_text(body)
        number = int(re.findall(r"case (\d+)", text)[0])
        key = str(number)
        asked[key] = asked.get(key, 0) + 1
        return HOSTILE_ANSWERS[number] if asked[key] == 1 else consolidation_responder()(body)

    fake_claude.responder = respond
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("memory.batching.BATCH_MESSAGES", 1)  # one message, one batch, one hostile answer each
        report = await rig.consolidate()
    assert report.malformed == len(HOSTILE_ANSWERS) and report.skipped == 0, report.errors
    assert asked == {str(i): 2 for i in range(len(HOSTILE_ANSWERS))}  # each asked again once
    assert fact_texts(await rig.store.facts.rows(ALICE)) == sorted(facts)
    assert await logged_count(rig.store) == 0


def test_daily_bound_holds_over_several_steps_and_ranges() -> None:
    current = RelationshipRecord().__dict__
    values, used = bound_daily_change(current, {}, {"rapport": 0.7, "anger": -3}, 1.0)
    assert values["rapport"] == pytest.approx(5.7) and values["anger"] == 0.0  # anger cannot go below 0
    assert used == {"rapport": pytest.approx(0.7), "anger": 0.0}
    values, used = bound_daily_change(values, used, {"rapport": 0.7}, 1.0)
    assert values["rapport"] == pytest.approx(6.0) and used["rapport"] == pytest.approx(1.0)
    values, used = bound_daily_change(values, used, {"rapport": -0.5}, 1.0)  # back down is still allowed
    assert values["rapport"] == pytest.approx(5.5)


def test_batches_split_per_user_privacy_and_size() -> None:
    rows = [(i, seen(i, ALICE, "x" * 900)) for i in range(1, 60)]
    rows += [(100, seen(100, ALICE, "a secret", dm=True)), (101, seen(101, BOT, "hi", bot=True))]
    batches, rest = make_batches(rows)
    assert rest == [101]
    channel = [b for b in batches if not b.private]
    assert len(channel) == 3 and sum(len(b.messages) for b in channel) == 59  # ~24k characters per batch
    assert [b.log_ids for b in batches if b.private] == [(100,)]


# --------------------------------------------------------------------------- a full run


async def test_consolidation_learns_matches_archives_and_sets_the_mood(rig_factory: Any, caplog: Any) -> None:
    rig: Rig = rig_factory()
    store = rig.store
    embedder = real_embedder()
    await store.people.ensure_user(ALICE, "alice")
    tea = await store.facts.add(ALICE, "Alice loves green tea", category="preferences",
                                       embedding=to_bytes(embedder.encode(["Alice loves green tea"])[0]))
    cat = await store.facts.add(ALICE, "Alice has a cat called Miso", category="personal")  # no vector yet
    old = datetime.now(UTC) - timedelta(days=3)
    messages = [
        seen(1, ALICE, "FACT[preferences]: Alice's favourite drink is green tea", name="alice", at=old),
        seen(2, ALICE, "FACT[work]: Alice works as a night nurse\nFEEL[rapport]: 0.5\n"
                       "FACT[personal]: alice has a cat called Miso",
                       name="alice"),  # worded as known: no embedding
        seen(3, ALICE, "FACT[health]: Alice is allergic to shellfish", name="alice", dm=True, channel=77),
        seen(4, BOT, "Noted, glub.", bot=True, channel=77, dm=True),
        seen(5, BOB, "FACT[hobbies]: Bob collects sea glass HAPPENED[2026-01-10]\nFEEL[anger]: 3\n"
                     "FEEL[trust]: -0.4", name="bob"),
        seen(6, BOB, "", name="bob"),  # an attachment only: archived, nothing to learn
        seen(7, 42, "beep", bot=True),
    ]
    await log_all(store, messages)
    steps: list[str] = []

    async def on_step(name: str, detail: dict[str, Any]) -> None:
        steps.append(name)

    with caplog.at_level(logging.INFO, logger="memory.consolidation"):
        report = await rig.consolidator(embedder, on_step=on_step).run()
    # The mood is no memory: the nightly job sets it after the consolidation (bot/alive/mood.py).
    assert await store.state.get(MOOD_KEY) == ""  # nothing set
    assert await ensure_daily_mood(store.state, rig.claude, rig.persona(), date.today()) is not None

    assert report.skipped == 0 and report.conflicts == 0 and report.messages == 7
    assert await logged_count(store) == 0 and await archived_ids(store) == [1, 2, 3, 4, 5, 6, 7]
    alice = {r.fact: r for r in await store.facts.rows(ALICE)}
    assert set(alice) == {"Alice loves green tea", "Alice has a cat called Miso",
                          "Alice works as a night nurse",
                          "Alice is allergic to shellfish"}
    assert alice["Alice loves green tea"].id == tea and alice["Alice loves green tea"].reference_count == 2
    assert alice["Alice works as a night nurse"].category == "work"
    assert (alice["Alice is allergic to shellfish"].private
            and not alice["Alice works as a night nurse"].private)
    assert all(r.embedding is not None and len(r.embedding) == 384 * 4 for r in alice.values())
    assert alice["Alice has a cat called Miso"].id == cat  # backfilled, not duplicated
    assert alice["Alice has a cat called Miso"].reference_count == 2
    assert fact_texts(await store.facts.rows(BOB)) == ["Bob collects sea glass"]
    # When it was said (its message's day), when it happened where said, and whether it lasts.
    nurse = alice["Alice works as a night nurse"]
    assert nurse.said_at is not None and nurse.said_at.date() == messages[1].created_at.date()
    assert not nurse.lasting and alice["Alice loves green tea"].lasting  # said again as a preference
    (glass,) = await store.facts.rows(BOB)
    assert glass.happened_at == datetime(2026, 1, 10, 12, tzinfo=UTC) and not glass.lasting
    request = next(r for r in rig.fc.requests if is_extraction(r.body))
    asked, rules = first_user_text(request.body), FakeClaude.system_text(request.body)
    assert '"happened"' in rules
    # the messages are fenced as data, dated, and facts keep absolute dates
    assert re.search(r"<messages>\n\[\d{4}-\d\d-\d\d \d\d:\d\d\] ", asked) and "</messages>" in asked
    assert "times as absolute dates" in rules
    rel = await store.people.relationship(rig.key, ALICE)
    assert rel.rapport == pytest.approx(5.5)
    bob = await store.people.relationship(rig.key, BOB)
    assert bob.anger == pytest.approx(1.0) and bob.trust == pytest.approx(4.6)  # +3 bounded to the daily 1.0
    assert await store.state.get(MOOD_KEY) == "Bright as a spring tide."
    assert (report.new_facts, report.mentioned_facts) == (3, 2)
    assert steps[0] == "snapshot" and steps[-1] == "done" and "committed" in steps
    extraction = [r for r in rig.fc.requests if is_extraction(r.body)]
    assert len(extraction) == 3  # alice channel, alice DM, bob (the empty message needs no call)
    dm_request = next(r for r in extraction if "shellfish" in first_user_text(r.body))
    dm_lines = first_user_text(dm_request.body).split("</messages>")[0]
    assert "night nurse" not in dm_lines  # DM and channel messages never mixed (known facts are shown)
    assert "consolidation:" in caplog.text

    # Twice is harmless: nothing left to do, nothing counted again.
    again = await rig.consolidator(embedder).run()
    assert again.messages == 0
    assert await ensure_daily_mood(store.state, rig.claude, rig.persona(), date.today()) is None  # set today
    assert {r.fact: r.reference_count for r in await store.facts.rows(ALICE)}["Alice loves green tea"] == 2


async def test_malformed_answers_are_retried_once_then_skipped_keeping_the_messages(
        rig_factory: Any, fake_claude: FakeClaude, caplog: Any) -> None:
    # a model without structured outputs (with them prose cannot come back: test_consolidation_batches.py)
    rig: Rig = rig_factory(model_capabilities=lineup_capabilities()
                           + ",claude-test-default[structured_outputs]=false")
    await log_all(rig.store, [seen(1, ALICE, "FACT[work]: Alice sells kites", name="alice"),
                              seen(2, BOB, "FACT[work]: Bob fixes boats", name="bob", channel=11)])
    alice_calls: list[dict[str, Any]] = []
    bob_calls: list[dict[str, Any]] = []

    def respond(body: dict[str, Any]) -> str | None:
        text = first_user_text(body)
        if "kites" in text:
            alice_calls.append(body)
            return ("Here you go: facts!" if len(alice_calls) == 1
                    else '{"facts": [{"fact": "Alice sells kites"}]}')
        if "boats" in text:
            bob_calls.append(body)
            return '{"facts": [{"fact": 12}]}'
        return consolidation_responder()(body)

    fake_claude.responder = respond
    with caplog.at_level(logging.INFO, logger="memory.consolidation"):
        report = await rig.consolidate()
    assert (report.committed, report.skipped) == (1, 1)
    assert len(alice_calls) == 2 and len(bob_calls) == 2
    retry = alice_calls[1]["messages"]
    assert retry[1]["role"] == "assistant" and "not usable" in retry[2]["content"]
    assert fact_texts(await rig.store.facts.rows(ALICE)) == ["Alice sells kites"]
    assert await rig.store.facts.rows(BOB) == []
    [(_, kept)] = await rig.store.consolidation.logged_through(10**9)  # Bob's message waits for the next run
    assert kept.author_id == BOB
    assert f"malformed answer for bob ({BOB}) twice" in caplog.text  # named as people know them

    fake_claude.fail_all(400)  # Claude down: skipped the same way
    report = await rig.consolidate()
    assert report.skipped == 1 and await logged_count(rig.store) == 1
    fake_claude.recover()
    fake_claude.responder = consolidation_responder()
    report = await rig.consolidate()
    assert report.committed == 1 and await logged_count(rig.store) == 0
    assert fact_texts(await rig.store.facts.rows(BOB)) == ["Bob fixes boats"]


async def test_relationship_change_is_bounded_per_day_across_runs(rig_factory: Any) -> None:
    rig: Rig = rig_factory(relationship_max_daily_change="0.8")
    day = datetime(2026, 5, 1, 4, tzinfo=UTC)
    for n in range(3):
        await log_all(rig.store, [seen(10 + n, ALICE, "FEEL[rapport]: 0.5\nFEEL[anger]: -2", name="alice")])
        await rig.consolidate(day + timedelta(hours=n))
    rel = await rig.store.people.relationship(rig.key, ALICE)
    assert rel.rapport == pytest.approx(5.8) and rel.anger == 0.0
    # An admin's change is not undone by the bound.
    await rig.store.people.set_relationship(rig.key, ALICE, anger=6)
    await log_all(rig.store, [seen(20, ALICE, "FEEL[rapport]: 0.5\nFEEL[anger]: -0.5", name="alice")])
    await rig.consolidate(day + timedelta(hours=5))
    rel = await rig.store.people.relationship(rig.key, ALICE)
    assert rel.rapport == pytest.approx(5.8) and rel.anger == pytest.approx(5.5)
    await log_all(rig.store, [seen(21, ALICE, "FEEL[rapport]: 0.5", name="alice")])
    await rig.consolidate(day + timedelta(days=1))  # a new day, a new allowance
    assert (await rig.store.people.relationship(rig.key, ALICE)).rapport == pytest.approx(6.3)


async def test_relationship_is_asked_on_one_scale_the_change_that_is_applied(rig_factory: Any) -> None:
    """Each metric is asked for as the day's change, its two ends said on that same -1..+1 scale (never the
    stored 0..10 or -5..+5 range, a second scale Claude would mix in), and an answer moves the stored
    metric by exactly that change."""
    rig: Rig = rig_factory()  # relationship_max_daily_change: 1.0
    await log_all(rig.store, [seen(30, ALICE, "FEEL[anger]: 0.5\nFEEL[formality]: -1", name="alice")])
    await rig.consolidate()
    request = next(r for r in rig.fc.requests if is_extraction(r.body))
    rules = FakeClaude.system_text(request.body)
    part = rules[rules.index('"relationship":'):].split("\n\n")[0]
    assert "between -1 and +1" in part and "the change" in part
    assert not re.search(r"\b10\b|-5|\+5|\b0 (calm|distant|not)", part)  # no second or third scale
    metric_lines = {m.group(1): m.group(0) for m in re.finditer(r'^  - "(\w+)": .*$', part, re.M)}
    assert set(metric_lines) == {"anger", "rapport", "trust", "formality"}
    for line in metric_lines.values():
        assert re.search(r'": \+1 \S.* \.\. -1 \S', line), line  # both ends of the change, in its scale
    assert "angrier" in metric_lines["anger"] and "calmer" in metric_lines["anger"]
    rel = await rig.store.people.relationship(rig.key, ALICE)
    assert rel.anger == pytest.approx(0.5) and rel.formality == pytest.approx(-1.0)  # +0.5 and -1 applied
    assert rel.rapport == pytest.approx(5.0)  # unanswered: unchanged


async def test_opt_in_mode_purges_the_unconsented_and_their_dms(rig_factory: Any, monkeypatch: Any) -> None:
    import memory.consolidation

    monkeypatch.setattr(memory.consolidation, "WINDOW", 3)  # Bob's DM and the answer in it: two windows
    rig: Rig = rig_factory(memory_consent="opt_in")
    await log_all(rig.store, [
        seen(1, ALICE, "FACT[work]: Alice sells kites", name="alice"),
        seen(2, BOB, "FACT[work]: Bob fixes boats", name="bob"),
        seen(3, BOB, "FACT[health]: Bob has asthma", name="bob", dm=True, channel=60),
        seen(4, BOT, "Take care, Bob.", bot=True, dm=True, channel=60),
        seen(5, CAROL, "FACT[work]: Carol paints", name="carol"),
        seen(6, BOT, "Lovely!", bot=True),
    ])
    await rig.store.people.set_memory_consent(ALICE, True)
    await rig.store.people.set_memory_consent(CAROL, False)
    report = await rig.consolidate()
    assert report.purged == 4
    assert await archived_ids(rig.store) == [1, 6]
    assert await logged_count(rig.store) == 0
    assert fact_texts(await rig.store.facts.rows(ALICE)) == ["Alice sells kites"]
    for uid in (BOB, CAROL):
        assert await rig.store.facts.rows(uid) == []
    assert not any("Bob" in first_user_text(r.body) for r in rig.fc.requests)  # never even sent to Claude


async def test_expired_facts_are_pruned_unless_pinned(rig_factory: Any) -> None:
    rig: Rig = rig_factory(fact_expiry_days="14")
    await rig.store.people.ensure_user(ALICE, "alice")
    for text, pinned in (("old and pinned", True), ("old", False), ("recent", False)):
        await rig.store.facts.add(ALICE, text, pinned=pinned)
    from sqlalchemy import update

    from database.models import UserFact

    async with rig.store.engine.begin() as conn:
        await conn.execute(update(UserFact).where(UserFact.fact.like("old%"))
                           .values(last_mentioned=datetime.now(UTC) - timedelta(days=15)))
    report = await rig.consolidate()
    assert report.pruned_facts == 1
    assert fact_texts(await rig.store.facts.rows(ALICE)) == ["old and pinned", "recent"]


async def test_mood_falls_back_to_the_list_when_claude_fails(rig_factory: Any,
                                                             fake_claude: FakeClaude) -> None:
    from bot.alive.mood import FALLBACK_MOODS, fallback_mood

    rig: Rig = rig_factory()
    fake_claude.script(Reply(status=400), times=1)
    now = datetime(2026, 7, 1, 4, tzinfo=UTC)
    mood = await ensure_daily_mood(rig.store.state, rig.claude, rig.persona(), now.date())
    assert mood == fallback_mood(now.date()) and mood in FALLBACK_MOODS
    assert await rig.store.state.get(MOOD_KEY) == mood


async def test_concurrent_runs_count_every_fact_once(rig_factory: Any) -> None:
    rig: Rig = rig_factory()
    await log_all(rig.store, [seen(i, ALICE + i % 3, f"FACT[work]: p{i % 3} owns item{i}", name=f"p{i % 3}")
                              for i in range(1, 31)])
    one, two = rig.consolidator(), rig.consolidator()
    reports = await asyncio.gather(one.run(), two.run())
    assert sum(r.committed for r in reports) == 3 and sum(r.conflicts for r in reports) <= 3
    assert await logged_count(rig.store) == 0 and len(await archived_ids(rig.store)) == 30
    facts = [r for uid in (ALICE, BOB, CAROL) for r in await rig.store.facts.rows(uid)]
    assert len(facts) == 30 and all(r.reference_count == 1 for r in facts)


# --------------------------------------------------------------------------- the schedule, over the wire


AWAY = (datetime.now(UTC).hour + 12) % 24  # an anchor hours away: the clock reaches none during a test
ANCHOR_MINUTE = {"consolidation": 0, "mood": 0, "retention": 30}  # retention half an hour after it
FORGOTTEN = timedelta(days=40)  # a model call past usage_retention_days
FORGETFUL = 4242  # who made it


async def daily_world(make_harness: Any) -> Any:
    """A bot whose daily rounds are hours away, with one exchange for the consolidation to learn, a model
    call for the retention to prune, and no mood yet."""
    h = await make_harness(consolidation_hour_utc=str(AWAY), usage_retention_days="30")
    h.claude.responder = consolidation_responder()
    await h.say("FACT[work]: Alice mends fishing nets", mention=True)
    await h.replies(h.channel_id, 1)
    await h.bot.in_flight.drain()
    await h.store.usage.record_all([call("opus", datetime.now(UTC) - FORGOTTEN, user=FORGETFUL)])
    assert await forgotten_calls(h) == 1
    return h


async def forgotten_calls(h: Any) -> int:
    """The forgotten call, until the retention prunes it (added up per day, no longer a call of its own)."""
    return (await h.store.usage.totals(FORGETFUL)).calls


async def round_row(h: Any, name: str) -> Any:
    key = f"{name}:{h.bot.services.pipeline.character_key}"
    return await eventually(lambda: h.store.timers.get(key), f"the {name} round's row")


async def round_done(h: Any, name: str) -> bool:
    """What the round does, seen from outside: the exchange learnt and archived, the old call pruned, the
    day's mood asked of Claude and kept."""
    if name == "consolidation":  # one extraction batch sent to Claude
        return (await archived_count(h.store) == 2 and h.claude.batches.created == 1
                and [r.fact for r in await h.store.facts.rows(h.user_id)] == ["Alice mends fishing nets"])
    if name == "retention":
        return await forgotten_calls(h) == 0
    return bool(await h.store.state.get(MOOD_KEY) == "Bright as a spring tide.")


async def not_done(h: Any, name: str) -> None:
    if name == "consolidation":
        assert await archived_count(h.store) == 0 and h.claude.batches.created == 0
    elif name == "retention":
        assert await forgotten_calls(h) == 1
    else:
        assert await h.store.state.get(MOOD_KEY) == ""


def mood_asked(h: Any) -> int:
    return sum(1 for r in h.claude.requests if "what mood you are in today" in FakeClaude.all_text(r.body))


DAILY = pytest.mark.parametrize("name", ["consolidation", "retention", "mood"])


@DAILY
async def test_a_daily_round_runs_once_at_its_anchor(make_harness: Any, name: str) -> None:
    """Each daily round is a durable row due at its anchor (``consolidation_hour_utc``, the retention half
    an hour later): not before it, once at it, then due at the next day's anchor."""
    h = await daily_world(make_harness)
    row = await round_row(h, name)
    anchor = row.due
    assert (anchor.hour, anchor.minute) == (AWAY, ANCHOR_MINUTE[name])
    assert timedelta(0) < anchor - datetime.now(UTC) <= timedelta(days=1)
    # The bot's own round, in a dispatcher whose clock the test moves (the bot's loop sleeps until then).
    clock = Dispatcher(Timers(h.store.timers), rounds=[h.bot.services.timers.rounds[row.key]])
    assert await run_due(clock, anchor - timedelta(seconds=1)) == []
    await not_done(h, name)
    assert len(await run_due(clock, anchor)) == 1
    await eventually(lambda: round_done(h, name), f"the {name} round's work")
    assert await run_due(clock, anchor + timedelta(minutes=1)) == []
    after = await h.store.timers.get(row.key)
    assert after.due == anchor + timedelta(days=1) and after.last_run == anchor and after.last_result
    assert mood_asked(h) == (1 if name == "mood" else 0)


async def test_a_fresh_bot_runs_no_daily_round_at_start(make_harness: Any) -> None:
    """A database with no rows yet: each daily round's first due time is its next anchor, tomorrow's even
    when today's hour has just passed (this very hour), never "now"; nothing ran when the loop first slept."""
    hour = datetime.now(UTC).hour
    h = await make_harness(consolidation_hour_utc=str(hour), usage_retention_days="30")
    await h.store.usage.record_all([call("opus", datetime.now(UTC) - FORGOTTEN, user=FORGETFUL)])
    loop = h.bot.services.timers.timers
    await eventually(check(lambda: loop.waking_at), "the timer loop asleep after its first pass")
    for name, minute in ANCHOR_MINUTE.items():
        row = await round_row(h, name)
        assert row.last_run is None and row.due > datetime.now(UTC)
        assert (row.due.hour, row.due.minute) == (hour, minute)
    assert await archived_count(h.store) == 0 and h.claude.batches.created == 0
    assert await h.store.state.get(MOOD_KEY) == "" and mood_asked(h) == 0


@DAILY
async def test_a_daily_round_missed_while_down_runs_once_at_the_next_start(make_harness: Any,
                                                                             name: str) -> None:
    """The bot was down when the round was due (two days running): at the next start it runs once, then
    waits for its next anchor."""
    h = await daily_world(make_harness)
    row = await round_row(h, name)
    await h.stop_bot()
    store = await Store(h.store.url).open()  # the bot's own is closed
    try:
        missed = row.due - timedelta(days=2)
        assert await store.timers.claim(row.key, row.due, missed)
    finally:
        await store.close()
    await h.start_bot()

    async def ran() -> Any:
        again = await h.store.timers.get(row.key)
        return again if again is not None and again.last_run is not None else None

    again = await eventually(ran, "the missed round run at start-up")
    await not_done_elsewhere(h, name)
    await eventually(lambda: round_done(h, name), f"the missed {name} round's work")
    assert again.due == next_daily(datetime.now(UTC), AWAY, ANCHOR_MINUTE[name])  # the next anchor
    assert again.last_run > missed
    assert mood_asked(h) == (1 if name == "mood" else 0)


async def not_done_elsewhere(h: Any, name: str) -> None:
    """Only the missed round ran: the others are still due at their anchors, hours away."""
    for other in ANCHOR_MINUTE:
        if other != name:
            row = await h.store.timers.get(f"{other}:{h.bot.services.pipeline.character_key}")
            assert row is not None and row.last_run is None
            await not_done(h, other)


@DAILY
async def test_a_daily_round_runs_once_for_two_processes_on_one_database(make_harness: Any, db_url: str,
                                                                          name: str) -> None:
    """Two processes on one database (PostgreSQL when TEST_DATABASE_URL is set), each listing the round,
    both looking when it is due: the row's compare-and-set lets one of them run it."""
    h = await daily_world(make_harness)
    row = await round_row(h, name)
    other = await Store(db_url).open()  # the second process: its own connections to the same database
    try:
        daily = h.bot.services.timers.rounds[row.key]
        here = Dispatcher(Timers(h.store.timers), rounds=[daily])
        there = Dispatcher(Timers(other.timers), rounds=[daily])
        ran = await asyncio.gather(run_due(here, row.due), run_due(there, row.due))
        assert sorted(len(r) for r in ran) == [0, 1]
        await eventually(lambda: round_done(h, name), f"the {name} round's work")
        assert (await other.timers.get(row.key)).due == row.due + timedelta(days=1)
    finally:
        await other.close()
    assert mood_asked(h) == (1 if name == "mood" else 0)


# --------------------------------------------------------------------------- the CLI


CLI_FACTS = ("Bob repairs fishing boats", "Alice flies red kites", "Bob hates mornings",
             "Alice is learning Portuguese", "Bob plays the cello", "Alice has two daughters",
             "Bob lives by the harbour", "Alice bakes sourdough")


def test_cli_consolidates_with_a_progress_bar(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    """`python main.py consolidate --now` as an operator runs it (in-process, so the model loaded by the other
    tests is shared); the fake Claude runs on a loop of its own in another thread."""
    import main

    loop = asyncio.new_event_loop()
    fc = FakeClaude()
    fc.responder = consolidation_responder()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(fc.start(), loop).result(10)
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def seed() -> None:
        store = await Store(url).open()
        await log_all(store, [seen(i, ALICE + i % 2, f"FACT[other]: {fact}")
                              for i, fact in enumerate(CLI_FACTS, 1)])
        await store.close()

    asyncio.run(seed())
    for key, value in {"DATABASE_URL": url, "ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": fc.base_url,
                       "MODEL_CAPABILITIES": lineup_capabilities(),  # the test names as the lineup's models
                       "DEFAULT_MODEL": "claude-test-default", "LOG_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(key, value)
    try:
        code = main.run(["--character", str(FINN), "consolidate", "--now"])
        fc.fail_all(400)
        asyncio.run(seed_more(url))
        failed = main.run(["--character", str(FINN), "consolidate", "--now"])
    finally:
        asyncio.run_coroutine_threadsafe(fc.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    err = capsys.readouterr().err
    assert code == 0 and failed == 1
    assert "consolidating" in err and "8/8" in err and "consolidation done: 8 messages" in err

    async def check() -> None:
        store = await Store(url).open()
        assert await logged_count(store) == 1 and await archived_count(store) == 8
        assert len(await store.facts.rows(ALICE)) + len(await store.facts.rows(BOB)) == 8
        await store.close()

    asyncio.run(check())


async def seed_more(url: str) -> None:
    store = await Store(url).open()
    await store.log.log_message(seen(100, ALICE, "FACT[work]: more"))
    await store.close()


# --------------------------------------------------------------------------- crash safety

WORDS = ("kites", "boats", "tea", "crabs", "gulls", "tides", "shells", "kelp", "lanterns")
STEPS = ("snapshot", "purged", "batch", "extracted", "matched", "committed", "archived", "pruned", "mood")


async def seed_crash_log(store: Store) -> int:
    rng = random.Random(7)
    messages = []
    for i in range(1, 121):
        author = 10 + i % 6
        dm = i % 11 == 0
        text = f"FACT[{rng.choice(['work', 'hobbies', 'plans'])}]: p{author} likes {WORDS[i % len(WORDS)]}"
        if i % 5 == 0:
            text += "\nFEEL[rapport]: 0.3"
        messages.append(seen(i, author, text, dm=dm, channel=500 + author if dm else 10, name=f"p{author}"))
        if i % 4 == 0:
            messages.append(seen(10_000 + i, BOT, f"answer {i}", bot=True, dm=dm,
                                 channel=500 + author if dm else 10))
    await log_all(store, messages)
    return len(messages)


async def snapshot(store: Store, key: str) -> tuple[list[tuple[int, str, int]], list[tuple[int, float]]]:
    facts = sorted([(uid, r.fact, r.reference_count)
                    for uid in range(10, 16) for r in await store.facts.rows(uid)])
    rels = [(uid, round((await store.people.relationship(key, uid)).rapport, 6)) for uid in range(10, 16)]
    return facts, rels


def forkserver() -> Any:
    """Children are forked from a server that imported the child module once: no Python start-up per case."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.consolidation_child"])
    return ctx


async def run_child(db_url: str, claude_url: str, pause_at: str | None = None, *,
                    kill_after: tuple[int, float] | None = None) -> int | None:
    """Run the consolidation in a child process; SIGKILL it when it reports ``pause_at``, or (``kill_after``)
    ``seconds`` after its ``n``-th committed batch, wherever it is then (mid-transaction included).
    Returns its exit code."""
    ctx = forkserver()
    receiver, sender = ctx.Pipe(duplex=False)
    mode = pause_at or ("trace" if kill_after is not None else "")
    proc = ctx.Process(target=child_main, args=(db_url, claude_url, mode, sender), daemon=True)
    proc.start()
    sender.close()  # the child holds the only writing end: its death ends the pipe

    async def receive() -> str:
        if not await asyncio.to_thread(receiver.poll, 60):
            raise AssertionError("the child said nothing for 60 seconds")
        try:
            return str(receiver.recv())
        except EOFError:
            return ""

    try:
        if pause_at is not None:
            while (line := await receive()) != f"PAUSED {pause_at}":
                assert line and not line.startswith("DONE"), (
                    f"the child ended before step {pause_at}: {line!r}")
        else:  # counted in batches, not seconds: how long a run takes varies a lot
            commits, seconds = kill_after or (0, 0.0)
            while commits >= 0:
                line = await receive()
                if not line or line.startswith("DONE"):
                    break
                if line in ("STEP snapshot", "STEP committed"):
                    commits -= 1
            await asyncio.sleep(seconds)
    finally:
        if proc.is_alive():
            proc.kill()
        await asyncio.to_thread(proc.join, 30)
        receiver.close()
    return proc.exitcode


_REFERENCE: list[Any] = []


async def reference_result(fake_claude: FakeClaude) -> Any:
    """The crash log consolidated without interruption (a separate SQLite file; computed once per session)."""
    if not _REFERENCE:
        import tempfile

        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/reference.db"
        ref = await Store(url).open()
        total = await seed_crash_log(ref)
        await ref.close()
        await consolidate(url, fake_claude.base_url)  # in-process: the same code the child runs
        ref = await Store(url).open()
        assert await logged_count(ref) == 0 and await archived_count(ref) == total
        _REFERENCE.append(await snapshot(ref, memory_settings(url).character_name_slug))
        await ref.close()
    return _REFERENCE[0]


async def seeded(db_url: str) -> int:
    store = await Store(db_url).open()
    try:
        return await seed_crash_log(store)
    finally:
        await store.close()


async def assert_recovers(db_url: str, fake_claude: FakeClaude, total: int, expected: Any, note: str) -> None:
    """After the kill every message is in exactly one of log and archive; a new run then finishes the job
    with every fact counted once and every relationship change applied once."""
    store = await Store(db_url).open()
    try:
        logged = [m.message_id for _, m in await store.consolidation.logged_through(
            await store.consolidation.log_watermark())]
        archived = await archived_ids(store)
        assert len(logged) + len(archived) == total and not set(logged) & set(archived), note
    finally:
        await store.close()
    await consolidate(db_url, fake_claude.base_url)  # the next run, in-process: the same code the child runs
    store = await Store(db_url).open()
    try:
        assert await logged_count(store) == 0 and len(await archived_ids(store)) == total, note
        assert await snapshot(store, memory_settings(db_url).character_name_slug) == expected, note
    finally:
        await store.close()


PER_BATCH = ("batch", "extracted", "matched", "committed")
# Every step of a run; the per-batch ones at their fourth time, when some of the dozen batches are committed
# and others are not.
KILL_POINTS = [f"{step}:{4 if step in PER_BATCH else 1}" for step in STEPS]


@pytest.mark.parametrize("pause_at", KILL_POINTS)
async def test_killing_the_process_at_any_step_loses_and_duplicates_nothing(db_url: str,
                                                                            fake_claude: FakeClaude,
                                                                            pause_at: str) -> None:
    expected = await reference_result(fake_claude)
    total = await seeded(db_url)
    assert await run_child(db_url, fake_claude.base_url, pause_at) == -signal.SIGKILL
    await assert_recovers(db_url, fake_claude, total, expected, f"killed at {pause_at}")


async def test_killing_the_process_at_a_random_moment_loses_and_duplicates_nothing(
        db_url: str, fake_claude: FakeClaude) -> None:
    """Between steps and inside transactions alike. The moment is drawn from a seed that is printed (shown
    with a failure); ``KINDRED_CRASH_SEED=<seed>`` draws the same one again."""
    seed = int(os.environ.get("KINDRED_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"KINDRED_CRASH_SEED={seed}")
    rng = random.Random(seed)
    expected = await reference_result(fake_claude)
    total = await seeded(db_url)
    code = await run_child(db_url, fake_claude.base_url,
                           kill_after=(rng.randint(0, 9), rng.uniform(0.0, 0.03)))
    assert code in (-signal.SIGKILL, 0), f"KINDRED_CRASH_SEED={seed}"
    await assert_recovers(db_url, fake_claude, total, expected, f"KINDRED_CRASH_SEED={seed}")


# --------------------------------------------------------------------------- context (issue 44, item 9)


async def test_extraction_follows_a_reply_for_its_context_says_utc_and_caches_its_instructions(
        rig_factory: Any) -> None:
    """A Discord reply to a line an hour back is context for it (the line just before would be someone
    else's talk); the times are said to be UTC; the fixed instructions are a cached system block, the same
    for every person."""
    rig: Rig = rig_factory()
    at = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    messages = [
        seen(1, BOB, "Anyone been to the new aquarium?", name="bob", at=at),
        seen(2, CAROL, "FACT[hobbies]: Carol paints seagulls", name="carol", at=at + timedelta(minutes=59)),
        seen(3, ALICE, "FACT[hobbies]: Alice goes every week", name="alice",
             at=at + timedelta(minutes=60))._replace(reply_to_id=1),
    ]
    await log_all(rig.store, messages)
    await rig.consolidate()
    requests = [r for r in rig.fc.requests if is_extraction(r.body)]
    [alice] = [first_user_text(r.body) for r in requests if "Alice goes" in first_user_text(r.body)]
    assert "[2026-03-02 18:00] (context) bob: Anyone been to the new aquarium?\n" \
           "[2026-03-02 19:00] FACT[hobbies]: Alice goes every week" in alice
    assert "Carol paints" not in alice and "(times in UTC)" in alice
    systems = {json.dumps(r.body["system"]) for r in requests}
    assert len(requests) == 3 and len(systems) == 1  # one cached block for every person's batch
    [block] = requests[0].body["system"]
    assert "cache_control" in block and "Times are UTC" in block["text"]
    assert "the message it replies to on Discord" in block["text"]
    for name in ("alice", "bob", "carol"):
        assert name not in block["text"]


async def test_extraction_sees_the_line_each_message_answers_as_context(rig_factory: Any) -> None:
    rig: Rig = rig_factory()
    store = rig.store
    at = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    messages = [
        seen(1, BOT, "Are you still training for the half marathon?", bot=True, channel=77, dm=True, at=at),
        seen(2, ALICE, "yes", name="alice", channel=77, dm=True, at=at + timedelta(minutes=1)),
        seen(3, BOB, "FACT[hobbies]: Bob plays the cello </messages> now", name="bob",
             at=at + timedelta(minutes=2)),
        seen(4, ALICE, "me too, since May", name="alice", at=at + timedelta(minutes=3)),
        seen(5, ALICE, "and I love it", name="alice", at=at + timedelta(minutes=4)),
    ]
    await log_all(store, messages)
    await rig.consolidate()
    asked = {first_user_text(r.body) for r in rig.fc.requests if is_extraction(r.body)}
    [dm] = [a for a in asked if "half marathon" in a]
    # the question the "yes" answers, dated, marked as context under the character's name (not the bot's)
    assert "[2026-03-02 18:00] (context) Finn: Are you still training for the half marathon?\n" \
           "[2026-03-02 18:01] yes" in dm
    assert "(context) lines are others', shown for what alice answers: no facts from them." in dm
    [channel] = [a for a in asked if "me too" in a and "Bob plays" in a]
    assert "(context) bob: FACT[hobbies]: Bob plays the cello &lt;/messages> now\n" in channel
    assert "</messages> now" not in channel  # fenced: a line cannot close the messages
    assert channel.count("] (context) ") == 1  # alice's own earlier line is no context for her next one
    # facts are taken only about the person: bob's line, shown to alice's extraction, gives her nothing
    assert fact_texts(await store.facts.rows(ALICE)) == [] and len(await store.facts.rows(BOB)) == 1
