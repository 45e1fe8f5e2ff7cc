"""The fake Messages API against the real anthropic SDK: if the SDK parses it, the suite's fakes are
honest."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import pytest

from tests.fakes import EVENT_WAIT
from tests.fakes.claude_server import FakeClaude, Reply, estimate_tokens

pytestmark = pytest.mark.fake_claude(min_cache_tokens=0)  # prompts of a few words still cache here

MODEL = "claude-opus-4-5"  # a 4.x model: no thinking by default, prefill accepted (the basics of the wire)
HAIKU = "claude-haiku-4-5"
SYSTEM = [{"type": "text", "text": "You are Finn, a fish who runs a tea stall. " * 20,
           "cache_control": {"type": "ephemeral"}}]


@pytest.fixture
async def client(fake_claude: FakeClaude) -> AsyncIterator[anthropic.AsyncAnthropic]:
    c = anthropic.AsyncAnthropic(base_url=fake_claude.base_url, api_key="test-key", max_retries=2,
                                 timeout=5.0)
    yield c
    await c.close()


def user(text: str, *, cache: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if cache:
        block["cache_control"] = {"type": "ephemeral"}
    return {"role": "user", "content": [block]}


async def test_create_returns_a_message_and_records_the_request(fake_claude: FakeClaude,
                                                                client: anthropic.AsyncAnthropic) -> None:
    fake_claude.script("Glub, hello!", model=MODEL)
    message = await client.messages.create(model=MODEL, max_tokens=100, system="Be Finn.",
                                           messages=[{"role": "user", "content": "hi finn"}])
    assert isinstance(message, anthropic.types.Message)
    assert message.content[0].type == "text" and message.content[0].text == "Glub, hello!"
    assert message.model == MODEL and message.stop_reason == "end_turn" and message.id.startswith("msg_")
    assert message.usage.output_tokens == estimate_tokens("Glub, hello!")
    assert message.usage.input_tokens == estimate_tokens("Be Finn.") + estimate_tokens("hi finn")
    assert message.usage.cache_read_input_tokens == message.usage.cache_creation_input_tokens == 0

    req = fake_claude.last_request()
    assert req.model == MODEL and not req.stream and req.status == 200 and req.text == "Glub, hello!"
    assert req.api_key == "test-key" and "anthropic-version" in req.headers
    assert fake_claude.system_text(req) == "Be Finn." and fake_claude.all_text(req) == "Be Finn.\nhi finn"
    # the next request falls through to the default answer
    again = await client.messages.create(model=MODEL, max_tokens=10, messages=[user("and?")])
    assert again.content[0].text == fake_claude.default_text  # type: ignore[union-attr]


async def test_stream_yields_chunks_and_a_final_message_with_usage(fake_claude: FakeClaude,
                                                                   client: anthropic.AsyncAnthropic) -> None:
    text = "The kettle sings while the kelp tea steeps, slowly, slowly."
    fake_claude.script(text)
    chunks: list[str] = []
    async with client.messages.stream(model=MODEL, max_tokens=200, system=SYSTEM,
                                      messages=[user("tea?")]) as stream:
        async for chunk in stream.text_stream:
            chunks.append(chunk)
        final = await stream.get_final_message()
    assert len(chunks) > 1 and "".join(chunks) == text
    assert final.content[0].text == text and final.stop_reason == "end_turn"  # type: ignore[union-attr]
    assert final.usage.output_tokens == estimate_tokens(text)
    assert final.usage.cache_creation_input_tokens == estimate_tokens(SYSTEM[0]["text"])
    assert final.usage.input_tokens == estimate_tokens("tea?")
    assert fake_claude.last_request().stream


async def test_overloaded_then_success_is_retried_quickly_by_the_sdk(fake_claude: FakeClaude,
                                                                    client: anthropic.AsyncAnthropic) -> None:
    fake_claude.script(status=529, times=1)
    fake_claude.script("made it")
    # The wait the SDK chose, read from the SDK itself, not from a clock a loaded machine slows down.
    waits: list[float] = []
    chosen = client._calculate_retry_timeout

    def calculate(*args: Any, **kwargs: Any) -> float:
        waits.append(chosen(*args, **kwargs))
        return waits[-1]

    client._calculate_retry_timeout = calculate  # type: ignore[method-assign]
    message = await client.messages.create(model=MODEL, max_tokens=10, messages=[user("hi")])
    assert message.content[0].text == "made it"  # type: ignore[union-attr]
    assert [r.status for r in fake_claude.requests] == [529, 200]
    assert [r.retry_count for r in fake_claude.requests] == [0, 1]
    [wait] = waits
    assert wait < 0.5  # retry-after-ms beat the SDK's 0.5 s minimum backoff


async def test_persistent_overload_raises_after_the_sdk_retries(fake_claude: FakeClaude,
                                                               client: anthropic.AsyncAnthropic) -> None:
    fake_claude.fail_all(529)
    with pytest.raises(anthropic.APIStatusError) as caught:
        await client.messages.create(model=MODEL, max_tokens=10, messages=[user("hi")])
    error = caught.value
    assert isinstance(error, anthropic.OverloadedError) and isinstance(error, anthropic.InternalServerError)
    assert error.status_code == 529 and error.type == "overloaded_error"
    assert error.response.headers["retry-after"] == "0"
    assert len(fake_claude.requests) == 3  # first attempt + max_retries
    fake_claude.recover()
    assert (await client.messages.create(model=MODEL, max_tokens=10, messages=[user("hi")])).content


async def test_bad_request_is_not_retried_and_rate_limit_is(fake_claude: FakeClaude,
                                                           client: anthropic.AsyncAnthropic) -> None:
    fake_claude.script("prompt is too long", status=400)
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(model=MODEL, max_tokens=10, messages=[user("hi")])
    assert caught.value.api_message == "prompt is too long" and len(fake_claude.requests) == 1
    assert "retry-after" not in caught.value.response.headers

    fake_claude.script(status=429, times=None)
    with pytest.raises(anthropic.RateLimitError):
        await client.with_options(max_retries=1).messages.create(model=MODEL, max_tokens=10,
                                                                 messages=[user("hi")])
    assert [r.error_type for r in fake_claude.requests[1:]] == ["rate_limit_error"] * 2


async def test_slow_answer_times_out_in_the_client(fake_claude: FakeClaude,
                                                   client: anthropic.AsyncAnthropic) -> None:
    # a connection already open, so the timed request goes out at once however loaded the machine is
    await client.messages.create(model=MODEL, max_tokens=10, messages=[user("hello")])
    fake_claude.script(Reply("too late", held=asyncio.Event()))  # never released: later than any timeout
    with pytest.raises(anthropic.APITimeoutError):
        await client.with_options(max_retries=0).messages.create(model=MODEL, max_tokens=10,
                                                                 messages=[user("hi")], timeout=1.0)
    [_, late] = await fake_claude.wait_for_requests(2)
    await fake_claude.wait_for_hangup(late.connection)  # the client gave up on it
    assert late.finished_at is None  # the handler was cancelled, not left waiting


async def test_identical_prefix_is_read_from_cache_and_turns_build_on_it(
        fake_claude: FakeClaude, client: anthropic.AsyncAnthropic) -> None:
    system_tokens = estimate_tokens(SYSTEM[0]["text"])
    first = await client.messages.create(model=MODEL, max_tokens=10, system=SYSTEM, messages=[user("one")])
    second = await client.messages.create(model=MODEL, max_tokens=10, system=SYSTEM, messages=[user("two")])
    assert (first.usage.cache_creation_input_tokens,
            first.usage.cache_read_input_tokens) == (system_tokens, 0)
    assert (second.usage.cache_creation_input_tokens,
            second.usage.cache_read_input_tokens) == (0, system_tokens)
    assert second.usage.input_tokens == estimate_tokens("two")

    # a growing conversation with the breakpoint on the newest turn reads the previous turn's prefix
    turn1 = [user("hello", cache=True)]
    await client.messages.create(model=MODEL, max_tokens=10, system=SYSTEM, messages=turn1)
    turn2 = [user("hello"), {"role": "assistant", "content": "hi!"}, user("tea please", cache=True)]
    later = await client.messages.create(model=MODEL, max_tokens=10, system=SYSTEM, messages=turn2)
    assert later.usage.cache_read_input_tokens == system_tokens + estimate_tokens("hello")
    assert later.usage.cache_creation_input_tokens == estimate_tokens("hi!") + estimate_tokens("tea please")
    assert later.usage.input_tokens == 0
    # caches are per model
    other = await client.messages.create(model=HAIKU, max_tokens=10, system=SYSTEM, messages=[user("one")])
    assert other.usage.cache_read_input_tokens == 0


async def test_mid_stream_error_event_raises(fake_claude: FakeClaude,
                                             client: anthropic.AsyncAnthropic) -> None:
    fake_claude.script("a long answer that will never finish", stream_error="overloaded_error")
    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with client.messages.stream(model=MODEL, max_tokens=50, messages=[user("hi")]) as stream:
            async for chunk in stream.text_stream:
                seen.append(chunk)
    # HTTP 200 already sent:
    assert caught.value.type == "overloaded_error" and caught.value.status_code == 200
    assert len(seen) == 1 and fake_claude.last_request().status == 529


async def test_rules_match_model_predicate_and_count(fake_claude: FakeClaude,
                                                     client: anthropic.AsyncAnthropic) -> None:
    fake_claude.script("yes", model=HAIKU, times=2)
    fake_claude.script("special", match=lambda body: "secret" in FakeClaude.all_text(body))
    fake_claude.responder = lambda body: Reply("from the hook") if body["model"] == MODEL else None

    async def ask(model: str, text: str) -> str:
        message = await client.messages.create(model=model, max_tokens=10, messages=[user(text)])
        return message.content[0].text  # type: ignore[union-attr]

    assert [await ask(HAIKU, "vote"), await ask(MODEL, "chat"), await ask(HAIKU, "vote")] == \
        ["yes", "from the hook", "yes"]
    assert await ask(HAIKU, "vote") == fake_claude.default_text  # rule used up, hook declined
    assert await ask(MODEL, "the secret word") == "special"
    assert len(fake_claude.requests_for(HAIKU)) == 3 and fake_claude.rules == []


async def test_wait_for_requests_and_count_tokens(fake_claude: FakeClaude,
                                                  client: anthropic.AsyncAnthropic) -> None:
    fake_claude.script("slow", delay=0.2)
    pending = asyncio.create_task(client.messages.create(model=MODEL, max_tokens=10, messages=[user("hi")]))
    [req] = await fake_claude.wait_for_requests(1)
    assert req.finished_at is None  # recorded on arrival, still being answered
    await pending
    with pytest.raises(AssertionError, match="expected 2"):
        await fake_claude.wait_for_requests(2, timeout=0.05)

    counted = await client.messages.count_tokens(model=MODEL, system="Be Finn.", messages=[user("hi")])
    assert counted.input_tokens == estimate_tokens("Be Finn.") + estimate_tokens("hi")
    assert len(fake_claude.requests) == 1 and len(fake_claude.count_requests) == 1


async def test_zero_latency_ignores_delays_and_streams_in_one_piece() -> None:
    async with FakeClaude(zero_latency=True) as fake_claude:
        client = anthropic.AsyncAnthropic(base_url=fake_claude.base_url, api_key="k", max_retries=0)
        # Delays far past any wait of the test: honoured, they would fail it by its timeout, loaded or not.
        fake_claude.script("instant " * 20, delay=10 * EVENT_WAIT, stream_delay=10 * EVENT_WAIT)

        async def read() -> list[str]:
            async with client.messages.stream(model=MODEL, max_tokens=100, messages=[user("hi")]) as stream:
                return [chunk async for chunk in stream.text_stream]

        assert await asyncio.wait_for(read(), EVENT_WAIT) == ["instant " * 20]
        await client.close()


HEADERS = {"x-api-key": "test-key", "anthropic-version": "2023-06-01"}


async def test_requests_the_real_api_would_reject_get_400(fake_claude: FakeClaude) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{fake_claude.base_url}/v1/messages", headers=HEADERS,
                                json={"model": MODEL, "messages": [user("hi")]}) as response:
            assert response.status == 400
            body = await response.json()
    assert body == {"type": "error", "error": {"type": "invalid_request_error",
                                               "message": "max_tokens: Field required"}}


@pytest.mark.parametrize(("path", "leave_out", "status", "message"), [
    ("/v1/messages", "x-api-key", 401, "x-api-key header is required"),
    ("/v1/messages", "anthropic-version", 400, "anthropic-version: header is required"),
    ("/v1/messages", "content-type", 400, "content-type must be application/json"),
    ("/v1/messages/count_tokens", "x-api-key", 401, "x-api-key header is required"),
    ("/v1/models", "x-api-key", 401, "x-api-key header is required"),
    ("/v1/models", "anthropic-version", 400, "anthropic-version: header is required"),
])
async def test_headers_the_real_api_requires(fake_claude: FakeClaude, path: str, leave_out: str, status: int,
                                             message: str) -> None:
    """As the real API: a request without its key, ``anthropic-version`` or (with a body) JSON's content type
    is refused before its body is read; with all three it goes through."""
    body = {"model": MODEL, "max_tokens": 5, "messages": [user("hi")]}

    async def send(headers: dict[str, str]) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session:
            if path == "/v1/models":
                call = session.get(f"{fake_claude.base_url}{path}", headers=headers)
            else:
                data = json.dumps(body).encode()
                call = session.post(f"{fake_claude.base_url}{path}", data=data, headers=headers)
            async with call as response:
                return response.status, await response.json()

    allowed = {**HEADERS, "content-type": "application/json"}
    assert (await send(allowed))[0] == 200
    got, answer = await send({k: v for k, v in allowed.items() if k != leave_out})
    assert got == status and answer["error"]["message"].startswith(message)


async def test_blank_content_gets_400_as_from_the_real_api(fake_claude: FakeClaude,
                                                            client: anthropic.AsyncAnthropic) -> None:
    """An empty turn stored in a history broke every later request of that conversation (issue 19): the
    fake refuses blank content the way the real API does, so such a request cannot pass in the suite."""
    fine = {"role": "assistant", "content": "Glub."}
    not_empty = "all messages must have non-empty content except for the optional final assistant message"
    cases: list[tuple[dict[str, Any], list[dict[str, Any]], str]] = [
        ({}, [{"role": "user", "content": ""}, fine, user("hi")],
         f"messages.0: {not_empty}"),
        ({}, [user("hi"), {"role": "assistant", "content": []}, user("and?")],
         f"messages.1: {not_empty}"),
        ({}, [user("hi"), fine, user("")], "messages: text content blocks must be non-empty"),
        ({}, [user("hi"), fine, {"role": "user", "content": " \n "}],
         "messages: text content blocks must contain non-whitespace text"),
        ({"system": [{"type": "text", "text": "", "cache_control": {"type": "ephemeral"}}]}, [user("hi")],
         "system: text content blocks must be non-empty"),
        ({"system": [{"type": "text", "text": "Be Finn."}, {"type": "text", "text": "\n"}]}, [user("hi")],
         "system: text content blocks must contain non-whitespace text"),
    ]
    for extra, messages, expected in cases:
        with pytest.raises(anthropic.BadRequestError) as caught:
            await client.messages.create(model=MODEL, max_tokens=10,
                                         messages=messages, **extra)  # type: ignore[arg-type]
        assert caught.value.api_message == expected
        assert caught.value.type == "invalid_request_error"
    assert [r.status for r in fake_claude.requests] == [400] * len(cases)  # a 400 is never retried
    with pytest.raises(anthropic.BadRequestError):  # token counting checks the same
        await client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": ""}])

    # Allowed: consecutive turns of one role (the API joins them), an empty final assistant message (a
    # prefill), non-text blocks beside text.
    ok = await client.messages.create(model=MODEL, max_tokens=10, messages=[
        user("hi"), user("are you there?"), {"role": "assistant", "content": ""}])
    assert ok.content[0].text == fake_claude.default_text  # type: ignore[union-attr]
    fake_claude.validate = False
    assert (await client.messages.create(model=MODEL, max_tokens=10, messages=[user("")])).content
