"""The shared Claude client against the fake Messages API: retries, deadlines, usage and cost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.claude import ClaudeClient, ClaudeUnavailable, Prompt
from bot.core.config import load_settings
from bot.core.config.holder import SettingsHolder
from bot.core.config.live import live_settings
from bot.reply.deciding.voting import Ballot, majority_yes, parse_yes_no
from database.store import Store
from tests.dbtools import api_calls
from tests.fakes.claude_server import FakeClaude, Reply
from tests.harness import check, eventually

pytestmark = pytest.mark.fake_claude(min_cache_tokens=0)  # its prompts are a few words

PROMPT = Prompt(system=[{"type": "text", "text": "You are Finn.", "cache_control": {"type": "ephemeral"}}],
                messages=[{"role": "user", "content": [{"type": "text", "text": "hello"}]}])


@pytest.fixture
async def client(fake_claude: FakeClaude, store: Store, tmp_path: Path) -> AsyncIterator[ClaudeClient]:
    (tmp_path / "character.env").write_text('core_prompt="x"\n')
    settings = load_settings(
        tmp_path,
        None,
        environ={
            "ANTHROPIC_API_KEY": "k",
            "DISCORD_TOKEN": "t",
            "ANTHROPIC_BASE_URL": fake_claude.base_url,
            "LLM_TIMEOUT": "3",
            "SHOULD_REPLY_TIMEOUT": "2",
            "DEFAULT_MODEL": "claude-sonnet-test",
            "VOTING_MODEL": "claude-haiku-test",
            "DEFAULT_TEMPERATURE": "0.7",
            # the made-up names follow the 4.x families (sampling accepted, no thinking by default); their
            # few-word prompts cache, as in the fake here (min_cache_tokens=0)
            "MODEL_CAPABILITIES": "claude-sonnet-test=sonnet-4.6,claude-haiku-test=haiku-4.5,"
                                  "claude-sonnet-test[min_cache_tokens]=0,claude-haiku-test[min_cache_tokens]=0",
        },
    )
    c = ClaudeClient(settings, store.usage)
    yield c
    await c.close()


# Every 5xx (including ones the API does not document, e.g. a proxy's 520) plus 408, 409 and 429.
@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 520, 529])
async def test_retryable_errors_are_retried_within_the_deadline(
    fake_claude: FakeClaude, client: ClaudeClient, status: int
) -> None:
    fake_claude.script(status=status, times=2)
    fake_claude.script("finally")
    completion = await client.generate(PROMPT, model="claude-sonnet-test", user_id=7, guild_id=None)
    assert completion.text == "finally"
    assert [r.status for r in fake_claude.requests] == [status, status, 200]


async def test_overload_in_the_middle_of_a_stream_is_retried(fake_claude: FakeClaude,
                                                             client: ClaudeClient) -> None:
    fake_claude.script("partial answer that breaks off", stream_error="overloaded_error")
    fake_claude.script("a whole answer")
    completion = await client.generate(PROMPT, model="claude-sonnet-test", user_id=7, guild_id=None,
                                       stream=True)
    assert completion.text == "a whole answer" and len(fake_claude.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 404, 413])
async def test_client_errors_are_not_retried(fake_claude: FakeClaude, client: ClaudeClient,
                                             status: int) -> None:
    fake_claude.script(status=status)
    with pytest.raises(ClaudeUnavailable):
        await client.generate(PROMPT, model="claude-sonnet-test", user_id=7, guild_id=None)
    assert len(fake_claude.requests) == 1


async def test_deadline_bounds_retries(fake_claude: FakeClaude, client: ClaudeClient, store: Store) -> None:
    fake_claude.fail_all(529)
    with pytest.raises(ClaudeUnavailable, match="timed out"):
        await client.generate(PROMPT, model="claude-sonnet-test", user_id=7, guild_id=None, timeout=0.8)
    [call] = await api_calls(store, user_id=7)
    assert not call.ok and "529" in call.error


async def test_an_outage_costs_a_handful_of_requests_and_everyone_waits_on_one_breaker(
        fake_claude: FakeClaude, client: ClaudeClient, store: Store) -> None:
    """A 529 outage with a tiny retry-after: one message makes at most four requests; six people writing
    at once during it wait on the breaker's one probe instead of each retrying; once the API is back the
    next message is answered."""
    fake_claude.fail_all(529, retry_after=0.001)
    with pytest.raises(ClaudeUnavailable, match="529"):
        await client.generate(PROMPT, model="claude-sonnet-test", user_id=7, guild_id=None)
    one = len(fake_claude.requests)
    assert 1 <= one <= 4 and not client.breaker("anthropic").closed
    results = await asyncio.gather(*(client.generate(PROMPT, model="claude-sonnet-test", user_id=person,
                                                     guild_id=None) for person in range(10, 16)),
                                   return_exceptions=True)
    assert all(isinstance(r, ClaudeUnavailable) for r in results)
    assert len(fake_claude.requests) - one < 6  # fewer requests than people, not four each
    fake_claude.recover()
    fake_claude.script("back again")
    completion = await client.generate(PROMPT, model="claude-sonnet-test", user_id=7, guild_id=None,
                                       timeout=40)
    assert completion.text == "back again" and client.breaker("anthropic").closed
    assert fake_claude.requests[-1].status == 200


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "direct"])
async def test_a_raised_llm_timeout_applies_to_the_next_request(fake_claude: FakeClaude, store: Store,
                                                                tmp_path: Path, stream: bool) -> None:
    """llm_timeout raised by a live reload: the next request to the API waits the new time, where the
    client made at start-up would cut each attempt at the start-up value and retry in vain."""
    (tmp_path / "character.env").write_text('core_prompt="x"\n')
    environ = {"ANTHROPIC_API_KEY": "k", "DISCORD_TOKEN": "t", "ANTHROPIC_BASE_URL": fake_claude.base_url,
               "LLM_TIMEOUT": "1", "SHOULD_REPLY_TIMEOUT": "1", "SUMMARIZE_TIMEOUT": "1",
               "DEFAULT_MODEL": "claude-sonnet-test", "MODEL_CAPABILITIES": "claude-sonnet-test=sonnet-4.6"}
    holder = SettingsHolder(load_settings(tmp_path, None, environ=environ))
    client = ClaudeClient(holder.current, store.usage)  # as the bot makes it: the running settings
    try:
        holder.update(live_settings(holder.current,
                                  load_settings(tmp_path, None, environ={**environ, "LLM_TIMEOUT": "3"})))
        fake_claude.script(Reply("never sent", held=asyncio.Event()), times=None)  # it never comes
        with pytest.raises(ClaudeUnavailable, match="timed out after 3s"):
            await client.generate(PROMPT, model="claude-sonnet-test", user_id=7, guild_id=None, stream=stream)
        # the fake's handler is cancelled just after the client closes the connection
        await eventually(check(lambda: all(r.cut_at or r.finished_at for r in fake_claude.requests)),
                         "the request cut")
        [request] = fake_claude.requests  # one attempt, not one a second
        assert request.cut_at is not None and request.cut_at - request.received_at > 2
        assert request.headers["x-stainless-read-timeout"] == "3.0"  # what the SDK says it waits
    finally:
        await client.close()


async def test_streaming_and_usage_with_cache_and_cost(
    fake_claude: FakeClaude, client: ClaudeClient, store: Store
) -> None:
    seen: list[str] = []
    fake_claude.script("streamed " * 50)
    first = await client.generate(PROMPT, model="claude-sonnet-test", user_id=7, guild_id=None,
                                  on_text=seen.append)
    second = await client.generate(PROMPT, model="claude-sonnet-test", user_id=7, guild_id=None, stream=False)
    assert seen and seen[-1].strip() == first.text and fake_claude.requests[0].stream \
            and not fake_claude.requests[1].stream
    assert first.usage.cache_creation_tokens > 0 and second.usage.cache_read_tokens > 0
    assert fake_claude.requests[0].body["temperature"] == 0.7  # non-default temperature travels in the body
    usage = await store.usage.totals(7)
    assert usage.calls == 2 and usage.cost == pytest.approx(first.usage.cost + second.usage.cost)
    # cache reads cost a tenth of input: the second call is cheaper although it carries the same prompt
    assert second.usage.cost < first.usage.cost


def expected_cost(usage: dict[str, int]) -> float:
    """Sonnet 4.6's published prices per million tokens, written out independently of the capability table:
    input $3, output $15, 5-minute cache write $3.75, cache read $0.30."""
    return (3 * usage["input_tokens"] + 15 * usage["output_tokens"]
            + 3.75 * usage["cache_creation_input_tokens"] + 0.30 * usage["cache_read_input_tokens"]) / 1e6


async def test_recorded_cost_is_exact_for_cache_writes_and_reads(
    fake_claude: FakeClaude, client: ClaudeClient, store: Store
) -> None:
    cached = {"type": "ephemeral"}
    first_turn = Prompt(
        system=PROMPT.system,
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "hello " * 40, "cache_control": cached}]}
        ],
    )
    # The next turn repeats the first (read from cache) and adds to it (written to cache) and to its tail.
    second_turn = Prompt(
        system=PROMPT.system,
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "hello " * 40}]},
            {"role": "assistant", "content": [{"type": "text", "text": "and hello to you " * 10}]},
            {
                "role": "user",
                "content": [{"type": "text", "text": "how are you? " * 20, "cache_control": cached}],
            },
        ],
    )
    fake_claude.script("first answer " * 8)
    fake_claude.script("second answer " * 8)
    await client.generate(first_turn, model="claude-sonnet-test", user_id=7, guild_id=None, stream=False)
    await client.generate(second_turn, model="claude-sonnet-test", user_id=7, guild_id=None, stream=True)
    writes, reads = (r.usage for r in fake_claude.requests)
    assert writes["cache_creation_input_tokens"] > 0 and writes["cache_read_input_tokens"] == 0
    assert reads["cache_read_input_tokens"] > 0 and reads["cache_creation_input_tokens"] > 0
    calls = list(reversed(await api_calls(store, user_id=7)))  # oldest first, like fake.requests
    assert len(calls) == 2
    for call, usage in zip(calls, (writes, reads), strict=True):
        assert (
            call.input_tokens,
            call.output_tokens,
            call.cache_creation_tokens,
            call.cache_read_tokens,
        ) == (
            usage["input_tokens"],
            usage["output_tokens"],
            usage["cache_creation_input_tokens"],
            usage["cache_read_input_tokens"],
        )
        assert call.cost == pytest.approx(expected_cost(usage), rel=1e-12)
    assert (await store.usage.totals(7)).cost == pytest.approx(
        sum(expected_cost(u) for u in (writes, reads)), rel=1e-12
    )


async def test_votes_run_concurrently(fake_claude: FakeClaude, client: ClaudeClient) -> None:
    # No vote is answered until all of them have arrived: votes asked one after another would never get
    # past the first, which would time out (should_reply_timeout) and count as no.
    count, arrived, all_in = 5, 0, asyncio.Event()

    async def answer_when_all_arrived(body: dict[str, Any]) -> Reply:
        nonlocal arrived
        arrived += 1
        if arrived == count:
            all_in.set()
        await all_in.wait()
        return Reply("Yes.")

    fake_claude.responder = answer_when_all_arrived
    votes = await Ballot(client, client.settings).ask(PROMPT, count=count, user_id=None, guild_id=None)
    assert votes == [True] * count
    requests = fake_claude.requests_for("claude-haiku-test")
    assert len(requests) == count
    # The fake's own record says the same: every vote arrived before the first one was answered.
    assert all(r.finished_at is not None for r in requests)
    assert max(r.received_at for r in requests) < min(r.finished_at for r in requests)  # type: ignore[type-var]


async def test_failed_votes_count_as_no(fake_claude: FakeClaude, client: ClaudeClient) -> None:
    fake_claude.script("Yes.", model="claude-haiku-test", times=2)
    fake_claude.script(status=400, model="claude-haiku-test", times=1)
    votes = await Ballot(client, client.settings).ask(PROMPT, count=3, user_id=None, guild_id=None)
    assert sorted(votes, key=str) == sorted([True, True, None], key=str)
    assert majority_yes(votes)
    assert not majority_yes([True, None, False, None])


def test_parse_yes_no() -> None:
    assert parse_yes_no("Yes") is True and parse_yes_no("**no**, because") is False
    assert parse_yes_no("maybe") is None
