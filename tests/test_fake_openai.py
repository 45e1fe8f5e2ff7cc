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
from tests.fakes.openai_server import SPEECH_RATE, FakeOpenAI


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
