"""Function calling on the openai backend, against the fake OpenAI-compatible server over real HTTP: a reply's
client tool is declared as a function, called (whole or streamed in pieces), run by Kindred and answered
with a ``role: tool`` message; Claude's server tools never go there; a server that refuses tools gets the
reply without them and the operator one log line (``openai_tools=auto``)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.core.claude import ClaudeClient, ClaudeUnavailable, Prompt
from bot.core.models.openai import chat_request
from bot.core.models.openai_tools import FunctionCall, tool_use_blocks
from bot.reply.generation import Generation, ModelCall, Toolbox
from bot.reply.media import Media
from database.store import Store
from tests.dbtools import api_calls
from tests.fakes.claude_server import FakeClaude
from tests.fakes.claude_tools import WEB_SEARCH
from tests.fakes.openai_server import Calls, FakeOpenAI
from tests.test_openai_backend import settings_for
from tests.test_tool_loop import DECLARED, PROMPT, Dictionary

LOCAL = "llama3.2:3b"
SEARCH = {"type": WEB_SEARCH, "name": "web_search", "max_uses": 3}
FUNCTION = {"type": "function", "function": {"name": "define", "description": "What a word means.",
                                             "parameters": DECLARED["input_schema"], "strict": True}}


@pytest.fixture
async def make_client(store: Store, tmp_path: Path, fake_openai: FakeOpenAI,
                      fake_claude: FakeClaude) -> AsyncIterator[Callable[..., ClaudeClient]]:
    made: list[ClaudeClient] = []

    def make(**env: str) -> ClaudeClient:
        base = {"LLM_BACKEND": "openai", "OPENAI_BASE_URL": fake_openai.base_url,
                "ANTHROPIC_BASE_URL": fake_claude.base_url, "DEFAULT_MODEL": LOCAL, "VOTING_MODEL": LOCAL}
        client = ClaudeClient(settings_for(tmp_path, **{**base, **env}), store.usage)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


def generation(client: ClaudeClient, tools: Toolbox) -> Generation:
    return Generation(client, Prompt(PROMPT.system, PROMPT.messages, tools=tools.declared), Media(),
                      ModelCall(LOCAL, 1, None, 300, None, "low"), ("", "", ""), tools=tools)


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_client_tool_is_called_and_answered_through_the_openai_backend(
        make_client: Any, fake_openai: FakeOpenAI, store: Store, streamed: bool) -> None:
    fake_openai.chunk_size = 4  # streamed: the arguments arrive in several pieces
    fake_openai.script(Calls("Let me check.", calls=[("define", json.dumps({"word": "quokka"}))]))
    fake_openai.script("A quokka is a small wallaby.")
    dictionary = Dictionary()
    box = Toolbox((SEARCH, DECLARED), {"define": dictionary}, 4)
    done = await generation(make_client(STREAM_REPLIES=str(streamed).lower()), box).write(streamed=streamed)
    assert dictionary.asked == ["quokka"]
    assert done.text == "Let me check.\n\nA quokka is a small wallaby."
    asked, answered = fake_openai.requests
    assert asked.status == answered.status == 200 and asked.stream == answered.stream == streamed
    # the client tool as a function; web search (Claude's, run on Anthropic's side) never sent here
    assert asked.body["tools"] == answered.body["tools"]
    assert FUNCTION in asked.body["tools"] and all(t["type"] == "function" for t in asked.body["tools"])
    call, result = answered.body["messages"][-2:]
    assert call["role"] == "assistant" and call["content"] == "Let me check."
    [called] = call["tool_calls"]
    assert called["function"] == {"name": "define", "arguments": '{"word": "quokka"}'}
    assert result["role"] == "tool" and result["tool_call_id"] == called["id"]
    # fenced as data: the tool's text cannot end its fence
    assert result["content"].startswith('<tool_output name="define">')
    assert result["content"].count("</tool_output>") == 1
    calls = await api_calls(store)
    assert len(calls) == 2 and all(c.ok and c.output_tokens > 0 for c in calls)


async def test_a_server_that_refuses_tools_gets_the_reply_without_them_and_the_log_one_line(
        make_client: Any, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    fake_openai.rejects_tools = True
    client = make_client()
    with caplog.at_level(logging.WARNING):
        for streamed in (False, True):
            box = Toolbox((DECLARED,), {"define": Dictionary()}, 4)
            done = await generation(client, box).write(streamed=streamed)
            assert done.text == "Hello from the fake model."
    refused, *answered = fake_openai.requests
    assert refused.status == 400 and "tools" in refused.body
    # asked again at once without them, and from then on never with them
    assert [r.status for r in answered] == [200, 200] and all("tools" not in r.body for r in answered)
    lines = [r for r in caplog.records if "refused function calling" in r.getMessage()]
    assert len(lines) == 1 and "openai_tools=auto" in lines[0].getMessage()


async def test_openai_tools_on_keeps_a_refusal_an_error_and_off_sends_none(
        make_client: Any, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    fake_openai.rejects_tools = True
    with pytest.raises(ClaudeUnavailable, match="does not support tools"):
        await generation(make_client(OPENAI_TOOLS="on"), Toolbox((DECLARED,), {}, 4)).write(streamed=False)
    with caplog.at_level(logging.WARNING):
        off = make_client(OPENAI_TOOLS="off")
        for _ in range(2):
            await generation(off, Toolbox((DECLARED,), {}, 4)).write(streamed=False)
    assert [r.status for r in fake_openai.requests] == [400, 200, 200]
    assert all("tools" not in r.body for r in fake_openai.requests[1:])
    assert caplog.text.count("openai_tools=off") == 1


async def test_server_tools_alone_are_left_out_and_the_operator_told_once(
        make_client: Any, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    client = make_client()
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            await generation(client, Toolbox((SEARCH,), {}, 4)).write(streamed=False)
    assert len(fake_openai.requests) == 2 and all("tools" not in r.body for r in fake_openai.requests)
    assert caplog.text.count("asked without web search and fetch") == 1


def test_tool_turns_translate_to_tool_calls_and_tool_messages() -> None:
    request = {"model": LOCAL, "max_tokens": 100, "tools": [SEARCH, DECLARED], "messages": [
        {"role": "user", "content": "define two words"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_a", "name": "define", "input": {"word": "quokka"}},
            {"type": "tool_use", "id": "call_b", "name": "define", "input": {"word": "zzz"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_a", "content": "a wallaby"},
            {"type": "tool_result", "tool_use_id": "call_b", "is_error": True, "content": "no such word"},
            {"type": "text", "text": "(and be quick)"}]}]}
    body = chat_request(request)
    assert FUNCTION in body["tools"] and all(t["type"] == "function" for t in body["tools"])  # no search
    _, asked, first, second, rest = body["messages"]
    assert asked == {"role": "assistant", "content": "Checking.", "tool_calls": [
        {"id": f"call_{n}", "type": "function",
         "function": {"name": "define", "arguments": json.dumps({"word": w})}}
        for n, w in (("a", "quokka"), ("b", "zzz"))]}
    assert first == {"role": "tool", "tool_call_id": "call_a", "content": "a wallaby"}
    assert second == {"role": "tool", "tool_call_id": "call_b", "content": "error: no such word"}
    assert rest == {"role": "user", "content": "(and be quick)"}
    # an answer's calls read back: arguments that are not a JSON object are read as none
    blocks = tool_use_blocks("", [FunctionCall("", "define", "{not json")])
    assert blocks == ({"type": "tool_use", "id": "call_0", "name": "define", "input": {}},)
