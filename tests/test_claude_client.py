"""The shared Claude client against the fake Messages API: retries, deadlines, usage and cost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.claude import ClaudeClient, ClaudeUnavailable, Prompt, majority_yes, parse_yes_no
from bot.config import load_settings
from database.store import Store
from tests.fakes.claude_server import FakeClaude

PROMPT = Prompt(system=[{"type": "text", "text": "You are Finn.", "cache_control": {"type": "ephemeral"}}],
                messages=[{"role": "user", "content": [{"type": "text", "text": "hello"}]}])


@pytest.fixture
async def fake() -> AsyncIterator[FakeClaude]:
    f = await FakeClaude().start()
    yield f
    await f.close()


@pytest.fixture
async def client(fake: FakeClaude, store: Store, tmp_path: Path) -> AsyncIterator[ClaudeClient]:
    (tmp_path / "character.env").write_text('core_prompt="x"\n')
    settings = load_settings(tmp_path, None, environ={
        "ANTHROPIC_API_KEY": "k", "DISCORD_TOKEN": "t", "ANTHROPIC_BASE_URL": fake.base_url, "LLM_TIMEOUT": "3",
        "SHOULD_REPLY_TIMEOUT": "2", "DEFAULT_MODEL": "claude-sonnet-test", "VOTING_MODEL": "claude-haiku-test",
        "DEFAULT_TEMPERATURE": "0.7"})
    c = ClaudeClient(settings, store)
    yield c
    await c.close()


@pytest.mark.parametrize("status", [429, 529, 500, 503])
async def test_retryable_errors_are_retried_within_the_deadline(fake: FakeClaude, client: ClaudeClient,
                                                                status: int) -> None:
    fake.script(status=status, times=2)
    fake.script("finally")
    completion = await client.generate(PROMPT, model="claude-sonnet-test", user_id=7)
    assert completion.text == "finally" and len(fake.requests) == 3


async def test_overload_in_the_middle_of_a_stream_is_retried(fake: FakeClaude, client: ClaudeClient) -> None:
    fake.script("partial answer that breaks off", stream_error="overloaded_error")
    fake.script("a whole answer")
    completion = await client.generate(PROMPT, model="claude-sonnet-test", user_id=7, stream=True)
    assert completion.text == "a whole answer" and len(fake.requests) == 2


async def test_bad_request_is_not_retried(fake: FakeClaude, client: ClaudeClient) -> None:
    fake.script(status=400)
    with pytest.raises(ClaudeUnavailable):
        await client.generate(PROMPT, model="claude-sonnet-test", user_id=7)
    assert len(fake.requests) == 1


async def test_deadline_bounds_retries(fake: FakeClaude, client: ClaudeClient, store: Store) -> None:
    fake.fail_all(529)
    with pytest.raises(ClaudeUnavailable, match="timed out"):
        await client.generate(PROMPT, model="claude-sonnet-test", user_id=7, timeout=0.8)
    [call] = await store.api_calls(user_id=7)
    assert not call.ok and "529" in call.error


async def test_streaming_and_usage_with_cache_and_cost(fake: FakeClaude, client: ClaudeClient, store: Store) -> None:
    seen: list[str] = []
    fake.script("streamed " * 50)
    first = await client.generate(PROMPT, model="claude-sonnet-test", user_id=7, on_text=seen.append)
    second = await client.generate(PROMPT, model="claude-sonnet-test", user_id=7, stream=False)
    assert seen and seen[-1].strip() == first.text and fake.requests[0].stream and not fake.requests[1].stream
    assert first.usage.cache_creation_tokens > 0 and second.usage.cache_read_tokens > 0
    assert fake.requests[0].body["temperature"] == 0.7  # non-default temperature travels in the body
    usage = await store.usage(7)
    assert usage.calls == 2 and usage.cost == pytest.approx(first.usage.cost + second.usage.cost)
    # cache reads cost a tenth of input: the second call is cheaper although it carries the same prompt
    assert second.usage.cost < first.usage.cost


async def test_votes_run_concurrently_and_failures_count_as_no(fake: FakeClaude, client: ClaudeClient) -> None:
    fake.script("Yes.", model="claude-haiku-test", times=2, delay=0.3)
    fake.script(status=400, model="claude-haiku-test", times=1)
    votes = await client.vote(PROMPT, count=3, user_id=None)
    assert sorted(votes, key=str) == sorted([True, True, None], key=str)
    assert majority_yes(votes)
    assert not majority_yes([True, None, False, None])


def test_parse_yes_no() -> None:
    assert parse_yes_no("Yes") is True and parse_yes_no("**no**, because") is False
    assert parse_yes_no("maybe") is None
