"""The fake OpenAI-compatible server against the real openai SDK: if the SDK parses it, and it refuses what a
strict server refuses, the backend's tests prove something."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from tests.fakes.claude_server import estimate_tokens
from tests.fakes.openai_server import SPEECH_RATE, Calls, FakeOpenAI


@pytest.fixture
async def client(fake_openai: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="test-key", max_retries=0, timeout=5.0)
    yield c
    await c.close()


MESSAGES: list[Any] = [{"role": "system", "content": "Be Finn."}, {"role": "user", "content": "hi finn"}]


async def test_json_answer_with_usage(fake_openai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake_openai.script("Glub, hello!")
    response = await client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=50)
    [choice] = response.choices
    assert choice.message.content == "Glub, hello!" and choice.finish_reason == "stop"
    assert response.usage is not None
    assert response.usage.prompt_tokens == estimate_tokens("Be Finn.") + estimate_tokens("hi finn")
    assert response.usage.completion_tokens == estimate_tokens("Glub, hello!")
    assert fake_openai.requests[0].headers["authorization"] == "Bearer test-key"


async def test_stream_sends_the_usage_in_a_last_chunk_without_choices(fake_openai: FakeOpenAI,
                                                                      client: openai.AsyncOpenAI) -> None:
    text = "The kettle sings while the kelp tea steeps, slowly, slowly."
    fake_openai.script(text)
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True,
                                                  stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert chunks[-2].choices[0].finish_reason == "stop" and chunks[-2].usage is None
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == estimate_tokens(text)
    fake_openai.stream_usage = False  # a server that ignores include_usage
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True,
                                                  stream_options={"include_usage": True})
    assert all(c.usage is None and c.choices for c in [chunk async for chunk in stream])


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "x", "cache_control": {}}]}]},
    {"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64"}}]}]},
    {"messages": [{"role": "human", "content": "x"}]},
    {"messages": []},
    {"messages": [{"role": "user", "content": "x"}], "extra": {"system": "Be Finn."}},
    {"messages": [{"role": "user", "content": "x"}], "extra": {"stream_options": {"include_usage": True}}},
])
async def test_what_a_strict_server_refuses(fake_openai: FakeOpenAI, client: openai.AsyncOpenAI,
                                            body: dict[str, Any]) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        await client.chat.completions.create(model="m", messages=body["messages"],
                                             extra_body=body.get("extra"))
    assert refused.value.status_code == 400 and isinstance(refused.value.body, dict)
    assert refused.value.body["type"] == "invalid_request_error"


async def test_errors_carry_openai_s_envelope_and_retry_after(fake_openai: FakeOpenAI,
                                                              client: openai.AsyncOpenAI) -> None:
    fake_openai.script(status=429, retry_after=2)
    with pytest.raises(openai.RateLimitError) as limited:
        await client.chat.completions.create(model="m", messages=MESSAGES)
    assert limited.value.response.headers["retry-after"] == "2"
    assert limited.value.body == {"message": "fake requests (429)", "type": "requests", "param": None,
                                  "code": "rate_limit_exceeded"}
    fake_openai.script(status=500)
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="m", messages=MESSAGES)


async def test_models_transcriptions_and_speech(fake_openai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake_openai.models = ["llama3.2"]
    assert [m.id for m in (await client.models.list()).data] == ["llama3.2"]
    fake_openai.transcript = "tea please"
    result = await client.audio.transcriptions.create(model="whisper-1",
                                                      file=("v.ogg", b"OggS1234", "audio/ogg"))
    assert result.text == "tea please"
    [heard] = fake_openai.heard
    assert (heard.model, heard.filename, heard.content_type) == ("whisper-1", "v.ogg", "audio/ogg")
    assert heard.data == b"OggS1234"
    speech = await client.audio.speech.create(model="tts-1", voice="alloy", input="hello",
                                              response_format="wav")
    with wave.open(io.BytesIO(speech.content)) as w:
        assert w.getframerate() == SPEECH_RATE and abs(w.getnframes() / SPEECH_RATE - 0.5) < 0.01
    with pytest.raises(openai.BadRequestError):  # this fake speaks WAV only, and says so
        await client.audio.speech.create(model="tts-1", voice="alloy", input="hello", response_format="mp3")


TOOL: Any = {"type": "function", "function": {
    "name": "define", "description": "What a word means.", "strict": True,
    "parameters": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"],
                   "additionalProperties": False}}}
CALLED: list[Any] = [{"role": "user", "content": "what is a quokka?"},
                     {"role": "assistant", "content": None, "tool_calls": [
                         {"id": "call_1", "type": "function",
                          "function": {"name": "define", "arguments": '{"word": "quokka"}'}}]}]


async def test_function_calls_whole_and_streamed_in_pieces(fake_openai: FakeOpenAI,
                                                           client: openai.AsyncOpenAI) -> None:
    arguments = '{"word": "quokka"}'
    fake_openai.script(Calls(calls=[("define", arguments)]), times=2)
    response = await client.chat.completions.create(model="m", messages=MESSAGES, tools=[TOOL])
    [choice] = response.choices
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.type == "function" and call.function.name == "define" and call.function.arguments == arguments
    assert response.usage is not None and response.usage.completion_tokens == estimate_tokens("define"
                                                                                              + arguments)
    fake_openai.chunk_size = 4
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, tools=[TOOL], stream=True,
                                                  stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    deltas = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or []]
    assert deltas[0].id and deltas[0].function is not None and deltas[0].function.name == "define"
    pieces = [d.function.arguments for d in deltas[1:] if d.function is not None]
    assert len(pieces) > 1 and "".join(pieces) == arguments and all(d.index == 0 for d in deltas)
    assert chunks[-2].choices[0].finish_reason == "tool_calls" and chunks[-1].usage is not None


async def test_a_tool_answer_follows_its_call(fake_openai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    answered = [*CALLED, {"role": "tool", "tool_call_id": "call_1", "content": "a small wallaby"}]
    response = await client.chat.completions.create(model="m", messages=answered, tools=[TOOL],
                                                    tool_choice={"type": "function",
                                                                 "function": {"name": "define"}})
    assert response.choices[0].message.content == "Hello from the fake model."


@pytest.mark.parametrize(("messages", "extra", "says"), [
    ([{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "call_1", "content": "y"}], {},
     "must be a response to a preceeding message with 'tool_calls'"),
    ([*CALLED, {"role": "tool", "tool_call_id": "call_2", "content": "y"}], {},
     "must be a response to a preceeding message with 'tool_calls'"),
    (CALLED, {}, "did not have response messages: call_1"),
    (MESSAGES, {"tool_choice": {"type": "function", "function": {"name": "spell"}}},
     "no function named 'spell'"),
    (MESSAGES, {"tools": None, "tool_choice": "auto"}, "only allowed when 'tools' are specified"),
    (MESSAGES, {"tools": [{"type": "function", "function": {
        "name": "define", "strict": True, "parameters": {"type": "object", "properties": {"w": {}}}}}]},
     "'additionalProperties' is required"),
    (MESSAGES, {"tools": [{"type": "custom", "name": "define"}]}, "type 'function'"),
])
async def test_what_a_server_refuses_of_function_calling(fake_openai: FakeOpenAI, client: openai.AsyncOpenAI,
                                                         messages: list[Any], extra: dict[str, Any],
                                                         says: str) -> None:
    tools = extra.pop("tools", [TOOL])
    with pytest.raises(openai.BadRequestError) as refused:
        await client.chat.completions.create(model="m", messages=messages, extra_body={
            **({"tools": tools} if tools is not None else {}), **extra})
    assert says in refused.value.message


async def test_a_server_without_function_calling_refuses_any_tools(fake_openai: FakeOpenAI,
                                                                   client: openai.AsyncOpenAI) -> None:
    fake_openai.rejects_tools = True
    with pytest.raises(openai.BadRequestError, match="does not support tools"):
        await client.chat.completions.create(model="m", messages=MESSAGES, tools=[TOOL])
    response = await client.chat.completions.create(model="m", messages=MESSAGES)
    assert response.choices[0].message.content == "Hello from the fake model."
