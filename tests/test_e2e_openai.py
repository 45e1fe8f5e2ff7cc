"""Kindred on a local model, end to end: the real bot between the fake Discord and the fake OpenAI-compatible
server (``llm_backend=openai``), proven by what crosses the wire: a DM answered (after a 429 and a 500),
votes counted, a summary written, a timeout and an unreachable server falling back in character, one of
Kindred's own tools called as a function."""

from __future__ import annotations

import json

import pytest

from tests.dbtools import api_calls
from tests.fakes.openai_server import Calls
from tests.harness import (
    CHANNEL_ID,
    USER_ID,
    Harness,
    MakeHarness,
    check,
    eventually,
    stored_history,
    voted_in,
)
from tests.memory_support import last_user_text
from tests.ports import free_port
from tests.test_summarization import SMALL, SUMMARY_CUE, Script, chat, summarized

LOCAL = {"llm_backend": "openai", "default_model": "llama3.2:3b", "voting_model": "qwen3:0.6b"}


def fallback(h: Harness) -> str:
    assert h.bot is not None
    return h.bot.settings.replies.fallback_reply.replace("{name}", h.bot.services.pipeline.persona.name)


async def stored_turns(h: Harness, scope: str, n: int, user: int = USER_ID) -> list[str]:
    """The conversation's stored turns, once there are ``n`` (stored just after the reply is sent)."""
    return [t.content for t in (await stored_history(h, scope, n, user=user)).turns]


async def test_a_dm_is_answered_by_a_local_model(make_harness: MakeHarness) -> None:
    h = await make_harness(**LOCAL)
    h.openai.script(status=429, retry_after=0.01)
    h.openai.script(status=500, retry_after=0.01)
    h.openai.script("Glub! Hello from the tide pool.")
    sent = await h.dm("hello finn")
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == "Glub! Hello from the tide pool."
    assert [r.status for r in h.openai.requests] == [429, 500, 200]
    request = h.openai.requests[-1]
    assert request.model == "llama3.2:3b" and request.stream
    assert request.body["stream_options"] == {"include_usage": True}
    system, *sent_turns = request.body["messages"]
    assert system["role"] == "system" and system["content"].startswith("You are Finn")
    assert "hello finn" in sent_turns[-1]["content"] and "cache_control" not in str(request.body)
    assert h.claude.requests == []  # nothing reached Claude
    [call] = await api_calls(h.store, user_id=USER_ID)
    assert call.ok and call.model == "llama3.2:3b" and call.cost == 0.0
    assert call.input_tokens == request.usage["prompt_tokens"] and call.output_tokens > 0
    assert await stored_turns(h, "dm", 2) == ["hello finn", "Glub! Hello from the tide pool."]


async def test_votes_are_counted_on_the_local_model(make_harness: MakeHarness) -> None:
    h = await make_harness(**LOCAL, yes_no_vote_count=3)
    h.openai.script("no", model="qwen3:0.6b", times=3)
    await h.say("the weather is nice today")
    await h.openai.wait_for_requests(3)
    await h.settled()  # every event read and handled: what did not happen, will not
    assert h.discord.posted(CHANNEL_ID) == []
    await voted_in(h, h.openai, "qwen3:0.6b", "llama3.2:3b", yes=2, no=1)
    votes = [r for r in h.openai.requests if r.model == "qwen3:0.6b"]
    assert len(votes) == 6 and all(r.body["max_tokens"] == 5 and not r.stream for r in votes)
    assert len(h.openai.requests) == 7 and h.claude.requests == []
    assert len([c for c in await api_calls(h.store) if c.purpose == "vote"]) == 6


async def test_votes_on_a_small_local_model_while_claude_replies(make_harness: MakeHarness) -> None:
    h = await make_harness(voting_model="openai:qwen3:0.6b", yes_no_vote_count=3)
    h.openai.script("Yes", times=3)
    h.claude.script("A Claude answer.", model="claude-test-default")
    await h.say("what a lovely tide")
    [reply] = await h.replies(CHANNEL_ID)
    assert reply["content"] == "A Claude answer."
    assert [r.model for r in h.openai.requests] == ["qwen3:0.6b"] * 3
    assert [r.model for r in h.claude.requests] == ["claude-test-default"]


async def test_a_summary_is_written_by_the_summary_model(make_harness: MakeHarness) -> None:
    # a local model counts the local tokenizer's tokens (factor 1): the threshold SMALL means for them
    small = {**SMALL, "conversation_token_threshold": "60"}
    h = await make_harness(**LOCAL, **small, summary_model="summarizer")
    script = Script()
    h.openai.responder = script
    await chat(h, ["Hi Finn! My cat Miso knocked the teapot off the shelf.",
                   "I'm starting a new job at the lighthouse next week.",
                   "Do you have any kelp tea left? I could use something calming."])
    summary = await summarized(h, f"channel:{CHANNEL_ID}")
    assert summary == script.summary
    [summary_request] = [r for r in h.openai.requests if SUMMARY_CUE in last_user_text(r.body)]
    assert summary_request.model == "summarizer" and not summary_request.stream
    assert summary_request.body["messages"][0]["content"].startswith("You keep Finn's private notes")
    replies = [r for r in h.openai.requests if r.model == "llama3.2:3b"]
    assert len(replies) == 3 and h.claude.requests == []
    purposes = {c.purpose for c in await api_calls(h.store) if c.model == "summarizer"}
    assert "summary" in purposes


async def test_a_timeout_falls_back_in_character(make_harness: MakeHarness) -> None:
    h = await make_harness(**LOCAL, llm_timeout="0.5")
    h.openai.script("far too late", delay=5)
    sent = await h.dm("are you there?")
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == fallback(h)
    [call] = await api_calls(h.store, user_id=USER_ID)
    assert not call.ok and "timed out after 0.5s" in call.error


async def test_an_unreachable_server_is_a_warning_then_a_fallback(make_harness: MakeHarness,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")
    url = f"http://127.0.0.1:{free_port()}/v1"  # nobody listens there
    h = await make_harness(**LOCAL, openai_base_url=url, llm_timeout="1")
    # the check runs beside start-up
    await eventually(check(lambda: f"{url} is unreachable" in caplog.text), "the unreachable warning")
    assert f"openai backend: {url} is unreachable" in caplog.text and "fall back in character" in caplog.text
    sent = await h.dm("hello?")
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == fallback(h)


async def test_a_local_model_calls_kindred_s_own_tool(make_harness: MakeHarness) -> None:
    # past the day's search cap the search tool is one of Kindred's own: a function the local model may call
    h = await make_harness(**LOCAL, web_search="dms", web_search_daily_cap_person=0, reminders_in_dms="false")
    h.openai.script(Calls("Hmm, let me look.", calls=[("search_web", json.dumps({"query": "tide times"}))]))
    sent = await h.dm("when is high tide today?")
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == ("*Finn rubs their eyes.* I've looked up all I can for today. "
                                "Ask me again tomorrow?")
    [request] = h.openai.requests
    [search] = [t for t in request.body["tools"] if t["function"]["name"] == "search_web"]
    assert search["type"] == "function" and request.stream
    assert h.claude.requests == []
