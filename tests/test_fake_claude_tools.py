"""The fake Messages API's tools against the real anthropic SDK (tests/fakes/claude_tools.py): the SDK
parses its search, fetch and paused turns, streamed and not, and the API's 400s for tool turns and
declarations come back as the real ones do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pytest

from bot.core.models.anthropic import completion_of
from tests.fakes.claude_server import FakeClaude, Reply
from tests.fakes.claude_tools import WEB_FETCH, WEB_SEARCH, Fetch, Search

pytestmark = pytest.mark.fake_claude(min_cache_tokens=0)

MODEL = "claude-opus-4-5"
SEARCH = {"type": WEB_SEARCH, "name": "web_search", "max_uses": 2}
LOOKUP = {"name": "look_up", "description": "Look a word up.", "strict": True,
          "input_schema": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"],
                           "additionalProperties": False}}
NEWS = [("https://news.example.com/a", "A storm")]


@pytest.fixture
async def client(fake_claude: FakeClaude) -> AsyncIterator[anthropic.AsyncAnthropic]:
    c = anthropic.AsyncAnthropic(base_url=fake_claude.base_url, api_key="k", max_retries=0, timeout=5.0)
    yield c
    await c.close()


async def create(client: anthropic.AsyncAnthropic, **kwargs: Any) -> anthropic.types.Message:
    """A request as the tests write it (plain dicts, not the SDK's typed params)."""
    return await client.messages.create(**kwargs)  # type: ignore[no-any-return]


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_search_comes_back_with_its_work_citations_and_billed_search(
        fake_claude: FakeClaude, client: anthropic.AsyncAnthropic, stream: bool) -> None:
    fake_claude.script(Reply(tools=Search("storm", NEWS, answer="Windy.")))
    kwargs: dict[str, Any] = {"model": MODEL, "max_tokens": 200, "tools": [SEARCH], "messages": ask("news?")}
    message: anthropic.types.Message
    if stream:
        async with client.messages.stream(**kwargs) as s:
            message = await s.get_final_message()
    else:
        message = await create(client, **kwargs)
    kinds = [b.type for b in message.content]
    assert kinds == ["text", "server_tool_use", "web_search_tool_result", "text", "text"]
    used = message.usage.server_tool_use
    assert used is not None and used.web_search_requests == 1
    done = completion_of(message)
    assert done.sources == (("https://news.example.com/a", "A storm"),)
    assert done.text == "Let me look that up.\n\nWindy. A storm."
    assert done.usage.web_search_requests == 1


async def test_without_the_search_tool_the_model_answers_from_what_it_knows(
        fake_claude: FakeClaude, client: anthropic.AsyncAnthropic) -> None:
    fake_claude.script(Reply(tools=Search("storm", NEWS, plain="No idea, sorry.")))
    message = await create(client, model=MODEL, max_tokens=100, messages=ask("news?"))
    assert [b.type for b in message.content] == ["text"] and message.usage.server_tool_use is None


async def test_a_paused_turn_sent_back_goes_on(fake_claude: FakeClaude,
                                               client: anthropic.AsyncAnthropic) -> None:
    fake_claude.script(Reply(tools=Search("storm", NEWS, answer="Windy.", pause=True)), times=2)
    first = await create(client, model=MODEL, max_tokens=100, tools=[SEARCH], messages=ask("news?"))
    assert first.stop_reason == "pause_turn"
    paused = completion_of(first)
    second = await create(client, model=MODEL, max_tokens=100, tools=[SEARCH], messages=[
        *ask("news?"), {"role": "assistant", "content": list(paused.content)}])
    assert second.stop_reason == "end_turn" and completion_of(second).sources == tuple(NEWS)


async def test_a_fetch_reads_only_a_link_of_the_conversation(fake_claude: FakeClaude,
                                                             client: anthropic.AsyncAnthropic) -> None:
    url = "https://blog.example.org/x"
    fetch = {"type": WEB_FETCH, "name": "web_fetch", "allowed_domains": ["blog.example.org"]}
    fake_claude.script(Reply(tools=Fetch(url, "X", "the page")), times=2)
    read = await create(client, model=MODEL, max_tokens=100, tools=[fetch],
                                        messages=ask(f"see {url}"))
    assert completion_of(read).sources == ((url, "X"),)
    refused = await create(client, model=MODEL, max_tokens=100, tools=[fetch], messages=ask("see it"))
    result = next(b for b in refused.content if b.type == "web_fetch_tool_result")
    assert result.content.type == "web_fetch_tool_result_error"
    assert result.content.error_code == "url_not_allowed"


async def test_a_tool_use_without_its_result_is_a_400(fake_claude: FakeClaude,
                                                      client: anthropic.AsyncAnthropic) -> None:
    asked = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "look_up",
                                               "input": {"word": "otter"}}]}
    with pytest.raises(anthropic.BadRequestError, match="`tool_use` ids were found without `tool_result`"):
        await create(client, model=MODEL, max_tokens=50, tools=[LOOKUP],
                                     messages=[*ask("otter?"), asked, *ask("well?")])
    answered = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                             "content": "a mammal"}]}
    ok = await create(client, model=MODEL, max_tokens=50, tools=[LOOKUP],
                                      messages=[*ask("otter?"), asked, answered])
    assert ok.stop_reason == "end_turn"
    wrong = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "?"}]}
    with pytest.raises(anthropic.BadRequestError, match="unexpected `tool_use_id`"):
        await create(client, model=MODEL, max_tokens=50, tools=[LOOKUP],
                                     messages=[*ask("otter?"), {"role": "assistant", "content": "hm"}, wrong])
    with pytest.raises(anthropic.BadRequestError, match="must define tools"):
        await create(client, model=MODEL, max_tokens=50, messages=[*ask("otter?"), asked, answered])


@pytest.mark.parametrize(("tool", "said"), [
    ({**SEARCH, "max_uses": 0}, "max_uses"),
    ({**SEARCH, "allowed_domains": ["a.com"], "blocked_domains": ["b.com"]}, "both allowed_domains"),
    ({**SEARCH, "name": "search"}, "Input should be 'web_search'"),
    ({**SEARCH, "colour": "blue"}, "Extra inputs are not permitted"),
    ({**LOOKUP, "name": "look up!"}, "String should match pattern"),
    ({**LOOKUP, "input_schema": {"type": "string"}}, "type must be 'object'"),
    ({"type": "web_search_19990101", "name": "web_search"}, "does not match any of the expected tags"),
])
async def test_tool_declarations_are_checked(fake_claude: FakeClaude, client: anthropic.AsyncAnthropic,
                                             tool: dict[str, Any], said: str) -> None:
    with pytest.raises(anthropic.BadRequestError, match=said):
        await create(client, model=MODEL, max_tokens=50, tools=[tool],
                                     messages=ask("hi"))


async def test_strict_tools_keep_to_the_grammar_limits(fake_claude: FakeClaude,
                                                        client: anthropic.AsyncAnthropic) -> None:
    def strict(name: str, unions: int) -> dict[str, Any]:
        props = {f"p{n}": {"type": ["string", "null"]} for n in range(unions)}
        return {"name": name, "description": "x", "strict": True,
                "input_schema": {"type": "object", "properties": props, "required": list(props),
                                 "additionalProperties": False}}

    with pytest.raises(anthropic.BadRequestError, match="Too many strict tools"):
        await create(client, model=MODEL, max_tokens=50, tools=[strict(f"t{n}", 0) for n in range(21)],
                     messages=ask("hi"))
    with pytest.raises(anthropic.BadRequestError, match="union types"):
        await create(client, model=MODEL, max_tokens=50, tools=[strict("a", 9), strict("b", 8)],
                     messages=ask("hi"))
    loose = strict("c", 1)
    loose["input_schema"] = {**loose["input_schema"], "additionalProperties": True}
    with pytest.raises(anthropic.BadRequestError, match="additionalProperties"):
        await create(client, model=MODEL, max_tokens=50, tools=[loose], messages=ask("hi"))
    await create(client, model=MODEL, max_tokens=50, tools=[strict("a", 8), strict("b", 8)],
                 messages=ask("hi"))  # sixteen: within the limit


async def test_tool_names_must_be_unique(fake_claude: FakeClaude, client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="Tool names must be unique"):
        await create(client, model=MODEL, max_tokens=50, tools=[LOOKUP, LOOKUP],
                                     messages=ask("hi"))
