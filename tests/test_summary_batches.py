"""The nightly summaries through the Message Batches API (issue 48), over the wire (the real anthropic SDK
against the fake Claude's batch routes): the conversations due a summary get the same stored summaries and
core memories as by the direct path, a request that expired or a batch over its wait is asked directly, and
the daily job sends them as batches while the daytime passes stay direct."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient
from bot.core.tokens import counted
from database.records import Turn
from database.store import Store
from memory.consent import Consent
from memory.summarizer import Summarizer
from tests.fakes.claude_models import lineup, token_factor
from tests.fakes.claude_server import FakeClaude
from tests.harness import consolidate
from tests.memory_support import FINN, last_user_text, memory_settings, on_a_copy

PEOPLE = {5: "alice", 6: "bob"}
SUMMARY_CUE = "look back over this conversation"  # Finn's summarization_prompt
MEMORY_CUE = "update what you remember about"  # Finn's core_memory_prompt
SMALL = {"conversation_token_threshold": str(round(60 * token_factor(lineup()["reply"]))),
         "history_keep_messages": "2"}


def answer(body: dict[str, Any]) -> str:
    """An answer that depends on the whole prompt: a summary or memory sent to the wrong pass would show."""
    text = last_user_text(body)
    tag = hashlib.sha256(text.encode()).hexdigest()[:8]
    if SUMMARY_CUE in text:
        return f"Summary {tag}: they talked about tea and tides."
    if MEMORY_CUE in text:
        return f"- Memory {tag}\n- Likes kelp tea"
    return "reply"


@pytest.fixture(autouse=True)
def answering(fake_claude: FakeClaude) -> None:
    fake_claude.responder = answer


async def summarize(store: Store, fc: FakeClaude, *, batch: bool, **overrides: Any) -> dict[int, Any]:
    """Seed the same two conversations and summarize them; what was stored, per person."""
    settings = memory_settings(store.url, fc.base_url, **{**SMALL, **overrides})
    claude = ClaudeClient(settings, store.usage)
    summarizer = Summarizer(store, claude, settings.memory, settings.character_name_slug,
                            CharacterSource(FINN, None, environ={}).current,
                            Consent(store.servers, store.people, settings.memory.memory_consent))
    summarizer.batch_poll = 0.01
    key = summarizer.character_key
    for user_id, name in PEOPLE.items():
        await store.people.ensure_user(user_id, name)
        turns = []
        for i in range(4):
            turns += [counted(Turn("user", f"{name} line {i}: the tide, the tea stall and the gulls again.")),
                      counted(Turn("assistant", f"answer {i} to {name}"))]
        await store.conversations.append_turns(key, user_id, "channel:1", turns)
    try:
        if batch:
            assert await summarizer.summarize_batched(max_wait=settings.memory.consolidation_batch_wait) == 2
        else:
            assert await summarizer.sweep() == 2
            await summarizer.wait_idle()
        stored = {}
        for user_id in PEOPLE:
            history = await store.conversations.history(key, user_id, "channel:1")
            memories = [(m, s) for _, m, s in await store.memories.core_memories(key, user_id)]
            stored[user_id] = (history.summary, len(history.turns), memories)
        return stored
    finally:
        await claude.close()


@pytest.fixture
async def direct(fake_claude: FakeClaude, sqlite_template: Path, tmp_path: Path) -> Any:
    """What the direct path stores (on a database of its own), and the fake made ready for the batch run."""
    stored = await on_a_copy(sqlite_template, tmp_path / "direct.db",
                             lambda other: summarize(other, fake_claude, batch=False))
    assert [r.path for r in fake_claude.requests] == ["/v1/messages"] * 4  # a summary and memories each
    assert all(summary.startswith("Summary ") and turns == 2 for summary, turns, _ in stored.values())
    fake_claude.requests.clear()
    return stored


async def test_the_batch_path_stores_what_the_direct_path_does(store: Store, fake_claude: FakeClaude,
                                                               direct: Any) -> None:
    fake_claude.batches.polls = 2  # the first poll finds it in progress
    assert await summarize(store, fake_claude, batch=True) == direct
    # two batches (the summaries, then the memories that need them), no direct call
    assert [r.path for r in fake_claude.requests] == ["/v1/messages/batches"] * 4
    assert fake_claude.batches.created == 2
    purposes = [SUMMARY_CUE in last_user_text(r.body) for r in fake_claude.requests]
    assert purposes == [True, True, False, False]


async def test_an_expired_summary_is_asked_directly(store: Store, fake_claude: FakeClaude,
                                                   direct: Any) -> None:
    fake_claude.batches.held = {"s1"}  # bob's summary is never processed: its batch expires with it
    fake_claude.batches.expire_at_poll = 2
    assert await summarize(store, fake_claude, batch=True) == direct
    asked = [r for r in fake_claude.requests if r.path == "/v1/messages"]
    assert [SUMMARY_CUE in last_user_text(r.body) for r in asked] == [True, False]  # bob's, directly
    first = next(iter(fake_claude.batches.batches.values()))
    assert first.results["s1"] == {"type": "expired"}


async def test_a_summary_batch_over_its_wait_is_cancelled(store: Store, fake_claude: FakeClaude,
                                                          direct: Any) -> None:
    fake_claude.batches.held = {"*"}
    assert await summarize(store, fake_claude, batch=True, consolidation_batch_wait=0) == direct
    # no memories batch: no summary came back
    assert fake_claude.batches.canceled == 1 and fake_claude.batches.created == 1
    assert [r.path for r in fake_claude.requests].count("/v1/messages") == 4


async def test_the_daily_job_sends_the_summaries_due_as_batches(make_harness: Any) -> None:
    h = await make_harness(**SMALL)
    h.claude.responder = answer
    summarizer = h.bot.services.memory.summarizer
    summarizer.batch_poll = 0.01
    turns = []
    for i in range(4):  # written straight to the store: no turn of the day scheduled a pass
        turns += [counted(Turn("user", f"line {i}: the tide, the tea stall and the gulls again.")),
                  counted(Turn("assistant", f"answer {i}"))]
    await h.store.people.ensure_user(h.user_id, "alice")
    await h.store.conversations.append_turns(summarizer.character_key, h.user_id, "channel:1", turns)
    await consolidate(h)
    history = await h.store.conversations.history(summarizer.character_key, h.user_id, "channel:1")
    assert history.summary.startswith("Summary ") and len(history.turns) == 2
    asked = [r.path for r in h.claude.requests if SUMMARY_CUE in last_user_text(r.body)
             or MEMORY_CUE in last_user_text(r.body)]
    assert asked == ["/v1/messages/batches"] * 2
