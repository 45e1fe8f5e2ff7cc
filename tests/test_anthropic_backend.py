"""The Anthropic backend's direct Messages call (issue 30) against the fake Messages API over real HTTP: it
sends what the SDK's messages.create() sends, reads the answer as the SDK path reads it, and judges every
failure (error statuses, a closed port, a slow server) as the SDK path's failures are judged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from bot.core.claude import ClaudeClient, ClaudeUnavailable, Prompt
from bot.core.config import load_settings
from bot.core.models.anthropic import AnthropicBackend, completion_of
from bot.core.models.base import Failure
from bot.core.models.messages_http import CallFailed
from tests.fakes.claude_server import FakeClaude, Reply
from tests.ports import free_port

pytestmark = pytest.mark.fake_claude(min_cache_tokens=0, api_key="sk-test")

SONNET_4 = "claude-sonnet-4-6"  # sampling, thinking modes and effort levels all accepted
SONNET_5 = "claude-sonnet-5-5"  # thinks by default: its answers start with a thinking block

REQUEST: dict[str, Any] = {
    "model": SONNET_4,
    "max_tokens": 300,
    "system": [{"type": "text", "text": "You are Finn, who runs a tea stall. ¿Té? 🍵",
                "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]},
                 {"role": "assistant", "content": "Glub."},
                 {"role": "user", "content": "tea?"}],
    "metadata": {"user_id": "user-7"},
    "thinking": {"type": "disabled"},
    "output_config": {"effort": "low"},
    "extra_body": {"temperature": 0.7},
    "extra_headers": {"x-kindred-test": "1"},
}


@pytest.fixture
async def backend(fake_claude: FakeClaude) -> AsyncIterator[AnthropicBackend]:
    b = AnthropicBackend(api_key="sk-test", base_url=fake_claude.base_url, timeout=5.0)
    yield b
    await b.close()


async def sdk_failure(backend: AnthropicBackend, request: dict[str, Any]) -> Failure | None:
    try:
        await backend.sdk.messages.create(**request)
    except anthropic.APIError as exc:
        return backend.failure(exc)
    raise AssertionError("the SDK call succeeded")


async def direct_failure(backend: AnthropicBackend, request: dict[str, Any]) -> Failure | None:
    with pytest.raises(CallFailed) as caught:
        await backend.create(request)
    return backend.failure(caught.value)


async def test_direct_create_sends_what_the_sdk_sends(fake_claude: FakeClaude,
                                                      backend: AnthropicBackend) -> None:
    via_sdk = completion_of(await backend.sdk.messages.create(**REQUEST))
    fake_claude.clear_cache()  # the same cache write again, not a read
    direct = await backend.create(REQUEST)
    sdk, ours = fake_claude.requests
    assert ours.body == sdk.body and ours.body["temperature"] == 0.7 and "extra_body" not in ours.body
    assert ours.body["metadata"] == {"user_id": "user-7"} and ours.body["output_config"] == {"effort": "low"}
    # Every header alike, the key, anthropic-version, content type, user agent and x-stainless-* among them
    # (content-length too: the same JSON bytes), but two: "connection: keep-alive" (HTTP/1.1's default,
    # which aiohttp leaves implicit) and x-stainless-timeout (the SDK sends its "NOT_GIVEN" marker there).
    def alike(headers: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in headers.items() if k not in ("connection", "x-stainless-timeout")}

    assert alike(ours.headers) == alike(sdk.headers)
    for name in ("authorization", "anthropic-version", "content-type", "user-agent", "x-kindred-test",
                 "x-stainless-retry-count", "content-length"):
        assert ours.headers[name] == sdk.headers[name], name
    assert ours.api_key == "sk-test" and ours.headers["content-type"] == "application/json"
    assert direct == via_sdk and direct.text == fake_claude.default_text
    # One keep-alive connection for every later call (the SDK's pool is its own), closed with the backend.
    await backend.create(REQUEST)
    later = fake_claude.requests[-1]
    assert later.connection == ours.connection != sdk.connection
    await backend.close()
    await fake_claude.wait_for_hangup(ours.connection)


async def test_a_per_call_timeout_is_sent_as_the_sdk_sends_it(fake_claude: FakeClaude,
                                                               backend: AnthropicBackend) -> None:
    """The model client gives each call its own timeout (read from the settings of the moment): the direct
    path says so in the same headers as the SDK, x-stainless-timeout included."""
    await backend.sdk.messages.create(**REQUEST, timeout=7.5)
    fake_claude.clear_cache()
    await backend.create(REQUEST, timeout=7.5)
    sdk, ours = fake_claude.requests
    assert {k: v for k, v in ours.headers.items() if k != "connection"} == \
        {k: v for k, v in sdk.headers.items() if k != "connection"}
    assert ours.headers["x-stainless-timeout"] == ours.headers["x-stainless-read-timeout"] == "7.5"


async def test_headers_are_taken_in_the_running_loop(fake_claude: FakeClaude) -> None:
    """A backend made outside any event loop (as at start-up) still names the loop its calls run in, as
    the SDK does per request (``x-stainless-async``), and its direct path works there (its keep-alive
    session, which needs a running loop, is made at the first call)."""
    made = await asyncio.to_thread(AnthropicBackend, api_key="sk-test", base_url=fake_claude.base_url,
                                   timeout=5.0)
    try:
        await made.sdk.messages.create(**REQUEST)
        await made.create(REQUEST)
        sdk, ours = fake_claude.requests
        assert ours.headers["x-stainless-async"] == sdk.headers["x-stainless-async"] == "async:asyncio"
    finally:
        await made.close()


async def test_usage_and_cache_fields_are_read_as_from_the_sdk(fake_claude: FakeClaude,
                                                               backend: AnthropicBackend) -> None:
    usage = {"input_tokens": 11, "output_tokens": 7, "cache_creation_input_tokens": 120,
             "cache_read_input_tokens": 900,
             "cache_creation": {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 100}}
    fake_claude.script(Reply("Kelp tea, fresh.", usage=usage), times=2)  # type: ignore[arg-type]
    via_sdk = completion_of(await backend.sdk.messages.create(**REQUEST))
    fake_claude.clear_cache()
    direct = await backend.create(REQUEST)
    assert direct == via_sdk
    assert (direct.text, direct.model, direct.stop_reason) == ("Kelp tea, fresh.", SONNET_4, "end_turn")
    u = direct.usage
    assert (u.input_tokens, u.output_tokens, u.cache_creation_tokens, u.cache_read_tokens,
            u.cache_creation_1h_tokens) == (11, 7, 120, 900, 100)


async def test_thinking_never_becomes_text(fake_claude: FakeClaude, backend: AnthropicBackend) -> None:
    request = {"model": SONNET_5, "max_tokens": 2000, "messages": [{"role": "user", "content": "tea?"}]}
    fake_claude.script("Always.", times=2)
    via_sdk = completion_of(await backend.sdk.messages.create(**request))
    fake_claude.clear_cache()
    direct = await backend.create(request)
    assert fake_claude.requests[-1].thinking_tokens > 0  # the answer did start with a thinking block
    assert direct == via_sdk and direct.text == "Always."
    assert direct.usage.output_tokens > fake_claude.requests[-1].thinking_tokens


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (401, False), (403, False), (404, False),
                                                   (408, True), (409, True), (413, False), (429, True),
                                                   (500, True), (520, True), (529, True)])
async def test_error_statuses_fail_as_through_the_sdk(fake_claude: FakeClaude, backend: AnthropicBackend,
                                                      status: int, retryable: bool) -> None:
    fake_claude.script(Reply(status=status, error_message=f"refused with {status}", retry_after=1.5), times=2)
    via_sdk = await sdk_failure(backend, REQUEST)
    direct = await direct_failure(backend, REQUEST)
    assert direct == via_sdk
    assert direct == Failure(f"HTTP {status}: refused with {status}", retryable,
                             1.5 if status == 429 or status >= 500 else None)


async def test_rate_limit_is_retried_after_the_servers_wait(fake_claude: FakeClaude,
                                                            backend: AnthropicBackend) -> None:
    fake_claude.script(Reply(status=429, retry_after=2.5))
    failure = await direct_failure(backend, REQUEST)
    assert failure == Failure("HTTP 429: Rate limited (fake)", True, 2.5)


async def test_bad_request_is_final_in_the_apis_words(fake_claude: FakeClaude,
                                                      backend: AnthropicBackend) -> None:
    request = {**REQUEST, "messages": [{"role": "user", "content": ""}]}
    failure = await direct_failure(backend, request)
    assert failure == Failure("HTTP 400: messages.0: all messages must have non-empty content except for the "
                              "optional final assistant message", False)


async def test_an_error_body_that_is_not_the_apis_envelope(fake_claude: FakeClaude,
                                                             backend: AnthropicBackend) -> None:
    """A proxy's error page: the SDK's own fallback wording, the body as text."""
    fake_claude.responder = lambda body: Reply(status=502, error_message=None, retry_after=None)
    via_sdk = await sdk_failure(backend, REQUEST)
    assert via_sdk == await direct_failure(backend, REQUEST)


async def test_connection_refused_is_retryable(backend: AnthropicBackend) -> None:
    port = free_port()  # nobody listens there
    closed = AnthropicBackend(api_key="sk-test", base_url=f"http://127.0.0.1:{port}", timeout=5.0)
    try:
        failure = await direct_failure(closed, REQUEST)
        assert failure is not None and failure.retryable and failure.retry_after is None
        assert "sk-test" not in failure.message  # never the key in a log line
        assert (await sdk_failure(closed, REQUEST) or failure).retryable
    finally:
        await closed.close()


async def test_a_server_slower_than_the_timeout_is_retryable(fake_claude: FakeClaude) -> None:
    slow = AnthropicBackend(api_key="sk-test", base_url=fake_claude.base_url, timeout=0.3)
    fake_claude.script("too late", delay=2.0)
    try:
        failure = await direct_failure(slow, REQUEST)
        assert failure is not None and failure.retryable
    finally:
        await slow.close()


async def test_a_rejected_key_stops_calls_as_before(fake_claude: FakeClaude, tmp_path: Path) -> None:
    """401 on a non-streamed call: not retried, and the backend is not called again for a while (each
    message gets its fallback at once), as when the SDK made the call."""
    (tmp_path / "character.env").write_text('core_prompt="x"\n')
    settings = load_settings(tmp_path, None, environ={
        "ANTHROPIC_API_KEY": "sk-wrong", "DISCORD_TOKEN": "t", "ANTHROPIC_BASE_URL": fake_claude.base_url,
        "LLM_TIMEOUT": "3", "DEFAULT_MODEL": SONNET_4, "STREAM_REPLIES": "false"})
    client = ClaudeClient(settings, None)
    prompt = Prompt(messages=[{"role": "user", "content": "hello"}])
    try:
        with pytest.raises(ClaudeUnavailable, match="HTTP 401: invalid x-api-key") as first:
            await client.generate(prompt, model=SONNET_4, user_id=None, guild_id=None)
        assert first.value.known and len(fake_claude.requests) == 1  # permanent: its fallback at once too
        with pytest.raises(ClaudeUnavailable, match="rejected the API key") as second:
            await client.generate(prompt, model=SONNET_4, user_id=None, guild_id=None)
        assert second.value.known and len(fake_claude.requests) == 1
    finally:
        await client.close()
