"""The fake Claude's prompt caching (tests/fakes/prompt_cache.py) against hand-computed sequences, and its
report over the wire (JSON and SSE, the 400 for a fifth breakpoint) through the real anthropic SDK."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.fakes.claude_models import lineup
from tests.fakes.claude_server import FakeClaude
from tests.fakes.prompt_cache import PromptCache, estimate_tokens, minimum_tokens

SONNET = "claude-sonnet-4-6"  # a model the SDK does not warn about
CACHED = {"type": "ephemeral"}


def text(n_tokens: int, fill: str = "a") -> str:
    """A text the fake counts as exactly ``n_tokens`` tokens (len // 4 + 1)."""
    return fill * ((n_tokens - 1) * 4)


def block(body: str, *, cache: bool = False, ttl: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "text", "text": body}
    if cache:
        out["cache_control"] = {**CACHED, **({"ttl": ttl} if ttl else {})}
    return out


def request(system: list[dict[str, Any]], lines: list[dict[str, Any]], model: str = SONNET) -> dict[str, Any]:
    return {"model": model, "system": system, "messages": [{"role": "user", "content": lines}]}


def split(cache: PromptCache, body: dict[str, Any]) -> tuple[int, int, int]:
    u = cache.usage(body)
    return u.cache_read_input_tokens, u.cache_creation_input_tokens, u.input_tokens


def test_documented_minimums_per_model() -> None:
    assert estimate_tokens(text(1024)) == 1024
    assert [minimum_tokens(m) for m in (
        "claude-sonnet-4-5", "claude-sonnet-4-6", "claude-opus-4-1", "claude-3-7-sonnet-latest",
        "claude-haiku-4-5", "claude-3-5-haiku-latest", "claude-opus-4-5", "claude-sonnet-5-5",
        "claude-haiku-5-5", "claude-opus-5-5", "claude-sonnet-5")] == [
            1024, 1024, 1024, 1024, 4096, 2048, 4096, 512, 512, 512, 1024]
    # the suite's test names stand for the lineup it runs on (KINDRED_TEST_LINEUP)
    assert minimum_tokens("claude-test-voter") == minimum_tokens(lineup()["vote"])


def test_below_the_minimum_nothing_is_cached_and_nothing_fails() -> None:
    cache = PromptCache()
    short = request([block(text(1023), cache=True)], [block(text(10))])
    assert split(cache, short) == (0, 0, 1033)
    assert split(cache, short) == (0, 0, 1033)  # still nothing: it was never written
    enough = request([block(text(1024), cache=True)], [block(text(10))])
    assert split(cache, enough) == (0, 1024, 10)
    assert split(cache, enough) == (1024, 0, 10)
    # the same prefix on a Haiku (2048 minimum) is its own cache, and too short for it
    haiku = request([block(text(1024), cache=True)], [block(text(10))], model="claude-3-haiku-20240307")
    assert split(cache, haiku) == (0, 0, 1034)


def test_the_minimum_counts_the_whole_prefix_up_to_the_breakpoint() -> None:
    cache = PromptCache()
    # system 600 + first message 500: the breakpoint on the message closes a 1100-token prefix
    body = request([block(text(600))], [block(text(500), cache=True), block(text(7))])
    assert split(cache, body) == (0, 1100, 7)
    assert split(cache, body) == (1100, 0, 7)


def test_a_growing_conversation_reads_the_previous_breakpoint_and_writes_the_new_part() -> None:
    cache = PromptCache()
    system = [block(text(1200), cache=True)]
    first = request(system, [block("l1"), block("l2", cache=True), block(text(30))])
    assert split(cache, first) == (0, 1202, 30)
    second = request(system, [block("l1"), block("l2"), block("l3"), block("l4", cache=True),
                              block(text(30))])
    assert split(cache, second) == (1202, 2, 30)
    # a changed line in the middle: only the system prompt's entry matches
    changed = request(system, [block("l1"), block("XX"), block("l3"), block("l4", cache=True)])
    assert split(cache, changed) == (1200, 4, 0)


def test_lookback_is_twenty_blocks_before_each_breakpoint() -> None:
    lines = [block(f"line {i:03d}") for i in range(60)]  # 8 characters: 3 tokens each
    system = [block(text(1100))]

    def with_mark(n: int, *extra_marks: int) -> dict[str, Any]:
        marked = [block(b["text"], cache=i == n - 1 or i in extra_marks) for i, b in enumerate(lines[:n])]
        return request(system, marked)

    cache = PromptCache()
    assert split(cache, with_mark(10)) == (0, 1100 + 30, 0)
    # the new breakpoint sits 19 blocks after the written one: found
    assert split(cache, with_mark(29)) == (1130, 57, 0)
    # 20 blocks after (block 49 vs 29): out of reach, the whole prefix is written again
    assert split(cache, with_mark(49)) == (0, 1100 + 147, 0)
    # a second breakpoint within reach of the old entry (at block 30; the one on block 41 looks back to 22)
    fresh = PromptCache()
    fresh.usage(with_mark(30))
    assert split(fresh, with_mark(60, 40)) == (1190, 90, 0)


def test_more_than_four_breakpoints_is_refused() -> None:
    four = request([block("s", cache=True)], [block(str(i), cache=True) for i in range(3)])
    five = request([block("s", cache=True)], [block(str(i), cache=True) for i in range(4)])
    assert PromptCache.problem(four) is None
    assert PromptCache.problem(five) == "A maximum of 4 blocks with cache_control may be provided. Found 5."


def test_entries_expire_after_five_minutes_unless_read_and_one_hour_lives_longer() -> None:
    now = [0.0]
    cache = PromptCache(clock=lambda: now[0])
    body = request([block(text(1500), cache=True)], [block("hi")])
    assert split(cache, body) == (0, 1500, 1)
    now[0] = 299
    assert split(cache, body) == (1500, 0, 1)  # read: lives 5 more minutes from now
    now[0] = 598
    assert split(cache, body) == (1500, 0, 1)
    now[0] = 899
    assert split(cache, body) == (0, 1500, 1)  # 301 s unused: gone
    hour = request([block(text(1500, "b"), cache=True, ttl="1h")], [block("hi")])
    usage = cache.usage(hour)
    assert usage.cache_creation_input_tokens == usage.written_1h == 1500
    now[0] += 3000
    assert split(cache, hour) == (1500, 0, 1)


async def test_usage_over_the_wire_json_and_stream(fake_claude: FakeClaude) -> None:
    client = anthropic.AsyncAnthropic(base_url=fake_claude.base_url, api_key="k", max_retries=0)
    try:
        system = [block(text(1500), cache=True)]
        first = await client.messages.create(model=SONNET, max_tokens=10, system=system,
                                             messages=[{"role": "user", "content": "hello there"}])
        assert (first.usage.cache_read_input_tokens, first.usage.cache_creation_input_tokens,
                first.usage.input_tokens) == (0, 1500, estimate_tokens("hello there"))
        async with client.messages.stream(model=SONNET, max_tokens=10, system=system,
                                          messages=[{"role": "user", "content": "again"}]) as stream:
            final = await stream.get_final_message()
        assert (final.usage.cache_read_input_tokens, final.usage.cache_creation_input_tokens,
                final.usage.input_tokens) == (1500, 0, estimate_tokens("again"))
        assert fake_claude.last_request().usage["cache_read_input_tokens"] == 1500
        five = [block(f"b{i}", cache=True) for i in range(5)]
        with pytest.raises(anthropic.BadRequestError, match="maximum of 4 blocks with cache_control"):
            await client.messages.create(model=SONNET, max_tokens=10,
                                         messages=[{"role": "user", "content": five}])
    finally:
        await client.close()


def test_ttl_takes_5m_or_1h_and_hour_entries_come_first() -> None:
    hour_then_five = request([block("s", cache=True, ttl="1h")], [block("a", cache=True, ttl="5m"),
                                                                  block("b", cache=True)])
    assert PromptCache.problem(hour_then_five) is None
    five_then_hour = request([block("s", cache=True)], [block("a", cache=True, ttl="1h")])
    assert "longer TTLs must appear first" in str(PromptCache.problem(five_then_hour))
    explicit_five_then_hour = request([block("s", cache=True, ttl="5m")], [block("a", cache=True, ttl="1h")])
    assert PromptCache.problem(explicit_five_then_hour) is not None
    assert "'5m' or '1h'" in str(PromptCache.problem(request([block("s", cache=True, ttl="10m")], [])))


async def test_ttl_rules_over_the_wire(fake_claude: FakeClaude) -> None:
    client = anthropic.AsyncAnthropic(base_url=fake_claude.base_url, api_key="k", max_retries=0)
    try:
        with pytest.raises(anthropic.BadRequestError, match="longer TTLs must appear first"):
            await client.messages.create(
                model=SONNET, max_tokens=10, system=[block("s", cache=True)],
                messages=[{"role": "user", "content": [block("a", cache=True, ttl="1h")]}])
        with pytest.raises(anthropic.BadRequestError, match="'5m' or '1h'"):
            await client.messages.create(model=SONNET, max_tokens=10,
                                         system=[block("s", cache=True, ttl="2h")],
                                         messages=[{"role": "user", "content": "hi"}])
    finally:
        await client.close()
