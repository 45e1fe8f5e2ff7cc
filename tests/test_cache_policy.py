"""The cache lifetime policy (bot/core/models/caching.py): breakpoints under the model's minimum dropped, each
other one 5 minutes or 1 hour from the conversation's pace, 1-hour ones first; and over the wire, a DM that
pauses for ten minutes reads its history from the cache (the fake's clock and the fake Discord's advanced)."""

from __future__ import annotations

from typing import Any

from bot.core.models.caching import hour_pays, long_gap_share, place_cache
from tests.fakes.prompt_cache import PromptCache
from tests.harness import Harness

MARK = {"type": "ephemeral"}


def body(system: list[str], turns: list[str]) -> dict[str, Any]:
    """System blocks and a history, each marked; the last turn, the new message, unmarked."""
    messages: list[dict[str, Any]] = []
    for i, text in enumerate(turns):
        role = "user" if i % 2 == 0 else "assistant"
        messages.append({"role": role, "content": [{"type": "text", "text": text, "cache_control": MARK}]
                         if i == len(turns) - 2 else text})
    return {"model": "m", "max_tokens": 10,
            "system": [{"type": "text", "text": s, "cache_control": MARK} for s in system],
            "messages": messages}


def marks(request: dict[str, Any]) -> list[str | None]:
    out = [b.get("cache_control", {}).get("ttl", "5m") if "cache_control" in b else None
           for b in request["system"]]
    for m in request["messages"]:
        if isinstance(m["content"], list):
            out += [b["cache_control"].get("ttl", "5m") if "cache_control" in b else None
                    for b in m["content"]]
    return out


WORDS = "word " * 400  # 401 tokens (local tokenizer), 501 at 4 characters each: the policy takes the larger
HISTORY = [f"turn {i} " + "chat " * 300 for i in range(11)]


def test_back_to_back_keeps_five_minute_entries() -> None:
    request = body([WORDS, WORDS], HISTORY)
    out = place_cache(request, min_tokens=100, token_factor=1.0, gaps=[40, 90, 20, 60])
    assert marks(out) == ["5m", "5m", "5m"]
    assert PromptCache.problem(out) is None


def test_a_conversation_that_pauses_gets_hour_entries_first_in_order() -> None:
    request = body([WORDS, WORDS], HISTORY)
    out = place_cache(request, min_tokens=100, token_factor=1.0, gaps=[40, 700, 20, 60, 90])
    assert marks(out) == ["1h", "1h", "1h"]
    assert PromptCache.problem(out) is None
    # the caller's blocks are left as they were
    assert request["system"][0]["cache_control"] == MARK


def test_pauses_longer_than_an_hour_do_not_pay_for_an_hour() -> None:
    assert long_gap_share([7200, 9000, 30]) == 0.0
    assert long_gap_share([400, 30]) == 0.5
    assert long_gap_share([290, 30]) == 0.5  # just under 5 minutes loses a 5-minute entry already


def test_the_hour_pays_only_when_the_prefix_outweighs_what_each_request_writes() -> None:
    # 1/12 of pauses long: a 5,000-token history writing 200 a turn pays; one writing 5,000 a turn does not
    assert hour_pays(1 / 12, 5000, 200)
    assert not hour_pays(1 / 12, 5000, 5000)
    assert not hour_pays(0.0, 5000, 0)
    # one long pause among a dozen: the stable system block (written once, read after) takes the hour; a
    # short history whose every request writes most of it again keeps 5 minutes (after the hour: allowed)
    short = body(["s " * 40], ["hi", "hello " * 30, "more"])
    out = place_cache(short, min_tokens=10, token_factor=1.0, gaps=[30] * 11 + [600])
    assert marks(out) == ["1h", "5m"]
    assert PromptCache.problem(out) is None


def test_breakpoints_under_the_minimum_are_dropped() -> None:
    request = body(["short system", "short person"], HISTORY)
    out = place_cache(request, min_tokens=1024, token_factor=1.0, gaps=[])
    assert marks(out) == [None, None, "5m"]  # the history's prefix reaches 1,024; the two system ones do not
    nothing = place_cache(body(["a"], ["b", "c", "d"]), min_tokens=1024, token_factor=1.0)
    assert marks(nothing) == [None, None]
    # the model's own tokenizer counts more tokens of the same text (token_factor)
    near = body([WORDS], ["x", "y", "z"])
    assert marks(place_cache(near, min_tokens=400, token_factor=1.0)) == ["5m", "5m"]
    assert marks(place_cache(near, min_tokens=520, token_factor=1.0))[0] is None
    assert marks(place_cache(near, min_tokens=520, token_factor=1.3))[0] == "5m"


async def test_a_dm_after_a_ten_minute_pause_reads_its_history(harness: Harness) -> None:
    """Over the wire: the fake Claude's cache and the fake Discord's message times on one clock that a
    person's pauses move forward. Once the conversation has paused for longer than 5 minutes, its history
    is cached for an hour, and the next pause of ten minutes still reads it."""
    h = harness
    offset = [0.0]
    h.claude.cache.clock = lambda: offset[0]
    dm = 0
    for i, pause in enumerate([0, 60, 600, 60, 600]):
        offset[0] += pause
        h.discord.time_offset = offset[0]
        await h.dm(f"message {i}: " + "something to say about the tide pools " * 20)
        dm = dm or await h.dm_channel_id()
        await h.replies(dm, i + 1)
        await h.settled()
    replies = [r for r in h.claude.requests if r.status == 200 and r.body.get("system")
               and "message " in str(r.body["messages"][-1]["content"])]
    assert len(replies) == 5

    def ttls(n: int) -> list[str]:
        return [b["cache_control"].get("ttl", "5m") for m in replies[n].body["messages"]
                if isinstance(m["content"], list) for b in m["content"] if "cache_control" in b]

    # The person's quoted block and the history are the DM's two message breakpoints (bot/reply/prompting.py).
    assert ttls(1) == ["5m", "5m"]  # one pause of a minute so far: 5-minute entries, as before
    assert ttls(3) == ["1h", "1h"] and ttls(4) == ["1h", "1h"]  # after a ten-minute pause, the hour
    # the first ten-minute pause found the 5-minute entries gone: it wrote the history again
    assert replies[2].usage["cache_read_input_tokens"] < replies[1].usage["cache_read_input_tokens"]
    # the second (reply 5) still reads what the fourth request cached for an hour
    last = replies[4].usage
    assert last["cache_read_input_tokens"] > replies[3].usage["cache_read_input_tokens"]
    assert last["cache_creation"]["ephemeral_1h_input_tokens"] > 0
