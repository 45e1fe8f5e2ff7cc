"""Nightly consolidation through the Message Batches API, over the wire (the real anthropic SDK against the
fake Claude's batch routes, tests/fakes/claude_batches.py): the same stored facts and relationships as the
direct path, requests that errored or expired asked again directly, a batch over its wait cancelled and its
requests asked directly; and the fake's routes themselves as the API documents them."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import pytest

import memory.consolidation
from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient
from database.store import Store
from memory.batching import Batch
from memory.consolidation import Consolidator, answer_key
from tests.dbtools import logged_count
from tests.fakes import EVENT_WAIT
from tests.fakes.claude_server import FakeClaude
from tests.harness import consolidate as consolidate_bot
from tests.harness import run_due
from tests.memory_support import (
    FINN,
    HashEmbedder,
    consolidation_responder,
    is_extraction,
    memory_settings,
    on_a_copy,
    seen,
)

pytestmark = pytest.mark.fake_claude(consolidating=True)

ALICE, BOB, CAROL = 5, 6, 7
SONNET = "claude-sonnet-4-6"


def the_log() -> list[Any]:
    old = datetime.now(UTC) - timedelta(days=2)
    return [
        seen(1, ALICE, "FACT[work]: Alice works as a night nurse\nFEEL[rapport]: 0.5", name="alice", at=old),
        seen(2, ALICE, "FACT[health]: Alice is allergic to shellfish", name="alice", dm=True, channel=77),
        seen(3, BOB, "FACT[hobbies]: Bob collects sea glass HAPPENED[2026-01-10]\nFEEL[anger]: 3",
             name="bob"),
        seen(4, CAROL, "FACT[preferences]: Carol's favourite drink is cocoa\nFEEL[trust]: 1", name="carol"),
    ]


async def consolidate(store: Store, fc: FakeClaude, *, batch: bool, **settings: Any) -> Any:
    """Log the same messages and consolidate them; what was stored: facts and relationships per person."""
    await asyncio.gather(*(store.log.log_message(m) for m in the_log()))  # in order, sharing commits
    config = memory_settings(store.url, fc.base_url, **settings)
    claude = ClaudeClient(config, store.usage)
    try:
        consolidator = Consolidator(store, claude, config.memory, config.character_name_slug,
                                    CharacterSource(FINN, None, environ={}).current, HashEmbedder())
        consolidator.batch_poll = 0.01  # the test's fake answers at once: no need to wait 5 s to ask
        report = await consolidator.run(batch=batch)
        assert report.skipped == 0 and await logged_count(store) == 0
        facts = {}
        rels = {}
        for person in (ALICE, BOB, CAROL):
            facts[person] = sorted((r.fact, r.category, r.private, r.lasting, utc(r.happened_at))
                                   for r in await store.facts.rows(person))
            rel = await store.people.relationship(config.character_name_slug, person)
            rels[person] = (rel.anger, rel.rapport, rel.trust, rel.formality) if rel else None
        return facts, rels
    finally:
        await claude.close()


def utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@pytest.fixture
async def direct(fake_claude: FakeClaude, sqlite_template: Path, tmp_path: Path) -> Any:
    """What the direct path stores (on a database of its own), and the fake made ready for the batch run."""
    stored = await on_a_copy(sqlite_template, tmp_path / "direct.db",
                             lambda other: consolidate(other, fake_claude, batch=False))
    assert all(r.path == "/v1/messages" for r in fake_claude.requests)
    # alice here and in her DM, bob, carol
    assert sum(is_extraction(r.body) for r in fake_claude.requests) == 4
    fake_claude.requests.clear()
    return stored


async def test_the_batch_path_stores_what_the_direct_path_does(store: Store, fake_claude: FakeClaude,
                                                               direct: Any) -> None:
    fake_claude.batches.polls = 3  # two polls find it in progress: the back-off loop runs
    stored = await consolidate(store, fake_claude, batch=True)
    assert stored == direct
    assert fake_claude.batches.created == 1 and fake_claude.batches.canceled == 0
    assert [r.path for r in fake_claude.requests] == ["/v1/messages/batches"] * 4
    # recorded as batch calls, at half the price the same tokens cost directly
    batch_usage = await store.usage.totals(purpose="consolidation batch")
    assert batch_usage.calls == 4 and batch_usage.cost > 0
    assert await store.usage.totals(purpose="consolidation") == await store.usage.totals(purpose="nothing")


async def test_errored_and_expired_requests_are_asked_directly(store: Store, fake_claude: FakeClaude,
                                                               direct: Any) -> None:
    fake_claude.script(status=529, times=1)  # the batch's first request errors (overloaded)
    fake_claude.batches.held = {"b1"}  # the second is never processed: the batch expires with it
    fake_claude.batches.expire_at_poll = 2
    stored = await consolidate(store, fake_claude, batch=True)
    assert stored == direct
    batched = [r for r in fake_claude.requests if r.path == "/v1/messages/batches"]
    asked = [r for r in fake_claude.requests if r.path == "/v1/messages"]
    assert [r.status for r in batched] == [529, 200, 200]  # b1 never answered in the batch
    (batch,) = fake_claude.batches.batches.values()
    assert batch.results["b0"]["type"] == "errored" and batch.results["b1"] == {"type": "expired"}
    # the errored one and the expired one, asked directly (the same prompts)
    assert sorted(str(r.body["messages"]) for r in asked) == sorted(
        str(params["messages"]) for cid, params in batch.requests if cid in ("b0", "b1"))


async def test_a_batch_over_its_wait_is_cancelled_and_asked_directly(store: Store, fake_claude: FakeClaude,
                                                                     direct: Any) -> None:
    fake_claude.batches.held = {"*"}  # nothing is processed
    stored = await consolidate(store, fake_claude, batch=True, consolidation_batch_wait=0)
    assert stored == direct
    assert fake_claude.batches.canceled == 1
    (batch,) = fake_claude.batches.batches.values()
    assert batch.status == "ended" and batch.counts()["canceled"] == len(batch.requests)
    assert [r.path for r in fake_claude.requests] == ["/v1/messages"] * len(batch.requests)


async def test_an_answer_read_ahead_goes_only_to_the_batch_it_answers(
        store: Store, fake_claude: FakeClaude, monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer read ahead and left unused (its batch failed before asking) must not reach a later batch:
    another person's facts. Answers are kept by what they answer (answer_key), never by the Batch object:
    CPython hands a new object a freed one's address, which is all ``id()`` knows."""
    alice = Batch(ALICE, "alice", False, [(1, seen(1, ALICE, "FACT[work]: Alice works as a night nurse",
                                                    name="alice"))], guild_id=1)
    asked = answer_key(alice)
    # The same messages in another object are the same question: the answer read ahead serves it.
    assert answer_key(dataclasses.replace(alice)) == asked
    bob = alice  # the address Alice's batch had, now Bob's: another question
    bob.user_id, bob.user_name = BOB, "bob"
    bob.messages = [(3, seen(3, BOB, "FACT[hobbies]: Bob collects sea glass", name="bob"))]
    assert answer_key(bob) != asked

    # A run of one window per logged message: Alice's answer is read ahead in the first window's batch, and
    # her batch fails before using it; Bob's batch request errors in the second's, so his extraction is
    # asked directly, with her answer still held.
    monkeypatch.setattr(memory.consolidation, "WINDOW", 1)
    await store.log.log_message(seen(1, ALICE, "FACT[work]: Alice works as a night nurse", name="alice"))
    await store.log.log_message(seen(3, BOB, "FACT[hobbies]: Bob collects sea glass", name="bob"))
    fake_claude.script(status=529, times=1, match=lambda body: "sea glass" in str(body["messages"]))

    async def on_step(name: str, detail: dict[str, object]) -> None:
        if name == "batch" and detail["user_id"] == ALICE:
            raise RuntimeError("Alice's batch fails before asking")

    config = memory_settings(store.url, fake_claude.base_url)
    claude = ClaudeClient(config, store.usage)
    try:
        consolidator = Consolidator(store, claude, config.memory, config.character_name_slug,
                                    CharacterSource(FINN, None, environ={}).current, HashEmbedder(),
                                    on_step=on_step)
        consolidator.batch_poll = 0.01
        report = await consolidator.run(batch=True)
        assert report.skipped == 1 and fake_claude.batches.created == 2
        assert [(r.path, r.status) for r in fake_claude.requests] == [
            ("/v1/messages/batches", 200), ("/v1/messages/batches", 529),
            ("/v1/messages", 200)]  # Bob's own question, asked directly
        assert [r.fact for r in await store.facts.rows(BOB)] == ["Bob collects sea glass"]
        assert await store.facts.rows(ALICE) == [] and await logged_count(store) == 1  # hers wait
    finally:
        await claude.close()


# --------------------------------------------------------------------------- the fake's routes


async def test_fake_batch_routes_as_documented(fake_claude: FakeClaude) -> None:
    client = anthropic.AsyncAnthropic(base_url=fake_claude.base_url, api_key="k", max_retries=0)
    fake_claude.responder = lambda body: "answer"
    try:
        ok = {"model": SONNET, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        bad = {"model": SONNET, "max_tokens": 10, "messages": []}  # refused by the Messages API
        with pytest.raises(anthropic.BadRequestError, match="custom_id"):
            await client.messages.batches.create(requests=[{"custom_id": "a b", "params": ok}])
        with pytest.raises(anthropic.BadRequestError, match="duplicate"):
            await client.messages.batches.create(requests=[{"custom_id": "a", "params": ok},
                                                           {"custom_id": "a", "params": ok}])
        with pytest.raises(anthropic.BadRequestError, match="at least one"):
            await client.messages.batches.create(requests=[])
        fake_claude.batches.polls = 2
        batch = await client.messages.batches.create(requests=[{"custom_id": "good", "params": ok},
                                                               {"custom_id": "bad", "params": bad}])
        assert batch.processing_status == "in_progress" and batch.results_url is None
        assert batch.request_counts.processing == 2
        assert batch.expires_at - batch.created_at == timedelta(hours=24)
        with pytest.raises(anthropic.AnthropicError, match="finished processing"):
            await client.messages.batches.results(batch.id)  # its retrieve was the first poll
        batch = await client.messages.batches.retrieve(batch.id)
        assert batch.processing_status == "ended" and batch.results_url
        assert (batch.request_counts.succeeded, batch.request_counts.errored) == (1, 1)
        results = {r.custom_id: r.result async for r in await client.messages.batches.results(batch.id)}
        assert results["good"].type == "succeeded" and results["good"].message.content[0].text == "answer"
        assert results["good"].message.usage.service_tier == "batch"
        assert results["bad"].type == "errored" and results["bad"].error.error.type == "invalid_request_error"
        with pytest.raises(anthropic.NotFoundError):
            await client.messages.batches.retrieve("msgbatch_nope")
        # cancel: what was not processed ends canceled; expiry: what was not processed ends expired
        fake_claude.batches.held = {"*"}
        waiting = await client.messages.batches.create(requests=[{"custom_id": "w", "params": ok}])
        cancelling = await client.messages.batches.cancel(waiting.id)
        assert cancelling.processing_status == "canceling" and cancelling.cancel_initiated_at is not None
        done = await client.messages.batches.retrieve(waiting.id)
        assert done.processing_status == "ended" and done.request_counts.canceled == 1
        late = await client.messages.batches.create(requests=[{"custom_id": "x", "params": ok}])
        await fake_claude.batches.expire()
        assert [r.result.type async for r in await client.messages.batches.results(late.id)] == ["expired"]
    finally:
        await client.close()


async def test_the_daily_job_extracts_through_a_batch_by_default(make_harness: Any) -> None:
    h = await make_harness()
    h.claude.responder = consolidation_responder()
    await h.say("FACT[work]: Alice mends fishing nets", mention=True)
    await h.replies(h.channel_id, 1)
    await h.bot.in_flight.drain()
    h.claude.requests.clear()
    report = await consolidate_bot(h)
    assert report.committed == 1
    assert [r.fact for r in await h.store.facts.rows(h.user_id)] == ["Alice mends fishing nets"]
    extraction = [r for r in h.claude.requests if is_extraction(r.body)]
    assert [r.path for r in extraction] == ["/v1/messages/batches"]
    assert h.claude.batches.created == 1


async def test_a_batch_waited_on_when_the_bot_stops_is_cancelled(make_harness: Any) -> None:
    """The bot stops while the nightly consolidation waits on its batch (up to consolidation_batch_wait):
    the batch is cancelled through the cancel endpoint before the model client closes, rather than left
    processing (billed, its answers never read, the same work sent again at the next start)."""
    h = await make_harness(consolidation_batch_wait="3600")
    h.claude.responder = consolidation_responder()
    await h.say("FACT[work]: Alice mends fishing nets", mention=True)
    await h.replies(h.channel_id, 1)
    await h.bot.in_flight.drain()
    h.claude.batches.held = {"*"}  # nothing is processed: the consolidation waits on it
    timers = h.bot.services.timers  # the nightly round, run by the bot's own timer loop
    row = await h.store.timers.get(f"consolidation:{h.bot.services.pipeline.character_key}")
    assert row is not None
    nightly = asyncio.create_task(run_due(timers, row.due))
    await h.claude.batches.wait_for(lambda b: any(x.polls for x in b.batches.values()), EVENT_WAIT,
                                    "the nightly batch created and polled")
    await h.stop_bot()
    assert h.claude.batches.canceled == 1
    (batch,) = h.claude.batches.batches.values()
    assert batch.status == "ended" and batch.cancel_initiated_at is not None
    assert batch.counts()["canceled"] == len(batch.requests)
    assert nightly.done() and nightly.cancelled()
    store = await Store(h.store.url).open()  # the bot's own is closed
    try:
        assert await logged_count(store) == 2  # the exchange waits for the next run
    finally:
        await store.close()
