"""The model client on the openai backend, against the fake OpenAI-compatible server over real HTTP: the
same guarantees as on Claude (retries, deadlines, streaming, usage and cost, votes), and the translation
of the one prompt (system blocks, cache breakpoints, content and image blocks)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.core.claude import ClaudeClient, ClaudeUnavailable, ModelClient, Prompt, models_in_use
from bot.core.config import load_settings
from bot.core.errors import ConfigError
from bot.core.models.base import parse_model_costs, route
from bot.reply.deciding.voting import Ballot
from database.store import Store
from tests.dbtools import api_calls
from tests.fakes.claude_server import FakeClaude, Reply, estimate_tokens
from tests.fakes.openai_server import FakeOpenAI
from tests.ports import free_port

CACHED = {"type": "ephemeral"}
PROMPT = Prompt(
    system=[{"type": "text", "text": "You are Finn.", "cache_control": CACHED},
            {"type": "text", "text": "You run a tea stall.", "cache_control": CACHED}],
    messages=[{"role": "user", "content": [{"type": "text", "text": "hello", "cache_control": CACHED}]},
              {"role": "assistant", "content": "Glub."},
              {"role": "user", "content": [{"type": "text", "text": "tea?"},
                                           {"type": "text", "text": "(it is raining)"}]}])
LOCAL = "llama3.2:3b"  # an Ollama name: its own colon must not be read as a backend prefix


def settings_for(folder: Path, **env: str) -> Any:
    (folder / "character.env").write_text('core_prompt="x"\n')
    return load_settings(folder, None, environ={"DISCORD_TOKEN": "t", "LLM_TIMEOUT": "3",
                                                "SHOULD_REPLY_TIMEOUT": "2", **env})


@pytest.fixture
async def make_client(store: Store, tmp_path: Path, fake_openai: FakeOpenAI,
                      fake_claude: FakeClaude) -> AsyncIterator[Callable[..., ClaudeClient]]:
    made: list[ClaudeClient] = []

    def make(**env: str) -> ClaudeClient:
        base = {"LLM_BACKEND": "openai", "OPENAI_BASE_URL": fake_openai.base_url,
                "ANTHROPIC_BASE_URL": fake_claude.base_url, "DEFAULT_MODEL": LOCAL,
                "VOTING_MODEL": "tiny-voter", "DEFAULT_TEMPERATURE": "0.7"}
        client = ClaudeClient(settings_for(tmp_path, **{**base, **env}), store.usage)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


async def test_the_one_prompt_is_translated_and_nothing_else_is_added(make_client: Any,
                                                                      fake_openai: FakeOpenAI,
                                                                     store: Store) -> None:
    client = make_client()
    fake_openai.script("Tea it is.")
    completion = await client.generate(PROMPT, model=LOCAL, user_id=7, guild_id=None, stream=False)
    assert completion.text == "Tea it is." and completion.model == LOCAL
    [request] = fake_openai.requests
    assert request.status == 200  # the fake refuses cache_control, Anthropic blocks and a top-level system
    assert request.body == {
        "model": LOCAL, "max_tokens": 1250, "temperature": 0.7,
        "messages": [{"role": "system", "content": "You are Finn.\n\nYou run a tea stall."},
                     {"role": "user", "content": "hello"},
                     {"role": "assistant", "content": "Glub."},
                     {"role": "user", "content": "tea?\n\n(it is raining)"}]}
    assert request.headers["authorization"] == "Bearer not-needed"  # a local server takes no key
    [call] = await api_calls(store, user_id=7)
    assert (call.model, call.purpose, call.ok) == (LOCAL, "reply", True)
    assert call.input_tokens == request.usage["prompt_tokens"]
    assert call.output_tokens == estimate_tokens("Tea it is.")
    assert call.cost == 0.0  # a model missing from model_costs is local and free


async def test_image_blocks_become_image_url_parts(make_client: Any, fake_openai: FakeOpenAI) -> None:
    client = make_client()
    prompt = Prompt(messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.invalid/kelp.jpg"}}]}])
    await client.generate(prompt, model=LOCAL, user_id=None, guild_id=None, stream=False)
    assert fake_openai.requests[0].status == 200
    assert fake_openai.requests[0].body["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.invalid/kelp.jpg"}}]}]


async def test_streaming_gets_the_usage_from_the_last_chunk_and_prices_it(make_client: Any,
                                                                          fake_openai: FakeOpenAI,
                                                                        store: Store) -> None:
    client = make_client(MODEL_COSTS=f"{LOCAL}=0.000002/0.000008, other=1")
    seen: list[str] = []
    text = "The kelp tea steeps slowly while the kettle sings by the tide pool."
    fake_openai.script(text, usage={"prompt_tokens": 40, "prompt_tokens_details": {"cached_tokens": 30}})
    completion = await client.generate(PROMPT, model=LOCAL, user_id=7, guild_id=None, on_text=seen.append)
    request = fake_openai.requests[0]
    assert request.stream and request.body["stream_options"] == {"include_usage": True}
    assert len(seen) > 2 and seen[-1] == text and completion.text == text
    assert (completion.usage.input_tokens, completion.usage.cache_read_tokens) == (10, 30)
    assert completion.usage.output_tokens == estimate_tokens(text)
    expected = 0.000002 * (10 + 0.1 * 30) + 0.000008 * estimate_tokens(text)
    [call] = await api_calls(store, user_id=7)
    assert call.cost == pytest.approx(expected, rel=1e-12) and call.cache_read_tokens == 30


async def test_a_server_that_ignores_include_usage_is_still_counted(make_client: Any,
                                                                   fake_openai: FakeOpenAI) -> None:
    client = make_client()
    fake_openai.stream_usage = False
    completion = await client.generate(PROMPT, model=LOCAL, user_id=None, guild_id=None, stream=True)
    assert completion.text == fake_openai.default_text
    assert completion.usage.input_tokens > 5 and completion.usage.output_tokens > 2


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503])
async def test_retryable_errors_are_retried_within_the_deadline(make_client: Any, fake_openai: FakeOpenAI,
                                                                status: int) -> None:
    client = make_client()
    fake_openai.script(status=status, times=2, retry_after=0.01)
    fake_openai.script("finally")
    completion = await client.generate(PROMPT, model=LOCAL, user_id=7, guild_id=None, stream=True)
    assert completion.text == "finally"
    assert [r.status for r in fake_openai.requests] == [status, status, 200]


async def test_retry_after_is_honoured(make_client: Any, fake_openai: FakeOpenAI) -> None:
    client = make_client()
    fake_openai.script(status=429, retry_after=0.4)
    started = asyncio.get_running_loop().time()
    await client.generate(PROMPT, model=LOCAL, user_id=None, guild_id=None, stream=False)
    assert asyncio.get_running_loop().time() - started >= 0.38
    # The SDK's own retries are off: the client's loop made the second attempt.
    assert [r.headers.get("x-stainless-retry-count", "0") for r in fake_openai.requests] == ["0", "0"]


async def test_a_stream_that_breaks_off_is_retried(make_client: Any, fake_openai: FakeOpenAI) -> None:
    client = make_client()
    fake_openai.script("a partial answer that breaks off", stream_error="server_error")
    fake_openai.script("a whole answer")
    assert (await client.generate(PROMPT, model=LOCAL, user_id=None, guild_id=None,
                                  stream=True)).text == "a whole answer"
    assert len(fake_openai.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 404])
async def test_client_errors_are_not_retried(make_client: Any, fake_openai: FakeOpenAI, store: Store,
                                             status: int) -> None:
    client = make_client()
    fake_openai.script("no such model", status=status)
    with pytest.raises(ClaudeUnavailable, match=f"HTTP {status}"):
        await client.generate(PROMPT, model=LOCAL, user_id=7, guild_id=None)
    assert len(fake_openai.requests) == 1
    [call] = await api_calls(store, user_id=7)
    assert not call.ok and str(status) in call.error


async def test_the_deadline_bounds_retries_and_a_slow_server(make_client: Any, fake_openai: FakeOpenAI,
                                                             store: Store) -> None:
    client = make_client()
    fake_openai.fail_all(503, retry_after=0.05)
    with pytest.raises(ClaudeUnavailable, match="timed out"):
        await client.generate(PROMPT, model=LOCAL, user_id=7, guild_id=None, timeout=0.5)
    # A 50 ms retry-after does not shorten the half-second floor: one request in the 0.5 s deadline.
    assert len(fake_openai.requests) == 1
    fake_openai.recover()
    fake_openai.script("too late", delay=5)
    with pytest.raises(ClaudeUnavailable, match="timed out after 0.3s"):
        await client.generate(PROMPT, model=LOCAL, user_id=7, guild_id=None, timeout=0.3)
    calls = await api_calls(store, user_id=7)
    assert len(calls) == 2 and not any(c.ok for c in calls)


async def test_votes_run_concurrently_and_are_parsed(make_client: Any, fake_openai: FakeOpenAI) -> None:
    client = make_client(YES_NO_VOTE_COUNT="5")
    fake_openai.script("Yes.", model="tiny-voter", times=3, delay=0.2)
    fake_openai.script("**No**", model="tiny-voter", times=1, delay=0.2)
    fake_openai.script(status=400, model="tiny-voter")
    started = asyncio.get_running_loop().time()
    votes = await Ballot(client, client.settings).ask(PROMPT, count=5, user_id=None, guild_id=None)
    assert asyncio.get_running_loop().time() - started < 0.6  # together, not one after another
    assert sorted(votes, key=str) == sorted([True, True, True, False, None], key=str)
    assert all(r.body["max_tokens"] == 5 for r in fake_openai.requests_for("tiny-voter"))


async def test_each_purpose_may_use_its_own_backend(make_client: Any, fake_openai: FakeOpenAI,
                                                    fake_claude: FakeClaude) -> None:
    # Replies on Claude, votes on a small local model, background work on another local model.
    # (a prompt of a few words keeps its breakpoints only where the minimum cacheable length allows it)
    client = make_client(LLM_BACKEND="anthropic", ANTHROPIC_API_KEY="k", DEFAULT_MODEL="claude-test-sonnet",
                         VOTING_MODEL=f"openai:{LOCAL}", SUMMARY_MODEL="openai:summarizer",
                         MODEL_CAPABILITIES="claude-test-sonnet[min_cache_tokens]=0")
    fake_claude.script("a Claude reply")
    fake_openai.script("yes", model=LOCAL, times=None)
    assert (await client.generate(PROMPT, model="claude-test-sonnet", user_id=None,
                                  guild_id=None)).text == "a Claude reply"
    assert await Ballot(client, client.settings).ask(PROMPT, count=3, user_id=None,
                                                     guild_id=None) == [True, True, True]
    await client.summarize(PROMPT, user_id=None, guild_id=None)
    await client.complete(PROMPT, guild_id=None, purpose="mood")
    assert [r.model for r in fake_claude.requests] == ["claude-test-sonnet"]
    assert [r.model for r in fake_openai.requests] == [LOCAL] * 3 + ["summarizer"] * 2
    assert "cache_control" in str(fake_claude.requests[0].body)  # Claude's request keeps its breakpoints
    used = models_in_use(client.settings.models, client.settings.replies.voting_model)
    assert used == {"anthropic": ["claude-test-sonnet", "claude-opus-5-5"], "openai": [LOCAL, "summarizer"]}


async def test_the_start_up_check_names_the_url(make_client: Any, fake_openai: FakeOpenAI,
                                                caplog: pytest.LogCaptureFixture) -> None:
    fake_openai.models = [LOCAL, "tiny-voter"]
    assert await make_client().check_backends() == [] and fake_openai.model_lists == 1
    fake_openai.models = ["something-else"]
    [problem] = await make_client().check_backends()
    assert fake_openai.base_url in problem and LOCAL in problem and "something-else" in problem
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nobody listens there
    caplog.set_level("WARNING")
    [problem] = await make_client(OPENAI_BASE_URL=closed).check_backends()
    assert f"{closed} is unreachable" in problem
    assert closed in caplog.text and "fall back in character" in caplog.text


async def test_model_client_is_the_one_client() -> None:
    assert ModelClient is ClaudeClient


def test_route_and_model_costs() -> None:
    assert route("llama3.2:3b", "openai") == ("openai", "llama3.2:3b")
    assert route("openai:llama3.2:3b", "anthropic") == ("openai", "llama3.2:3b")
    assert route("anthropic:claude-haiku-4-5", "openai") == ("anthropic", "claude-haiku-4-5")
    assert route("claude-sonnet-4-5", "anthropic") == ("anthropic", "claude-sonnet-4-5")
    assert parse_model_costs("") == {}
    assert parse_model_costs("meta-llama/llama-3.1-8b=0.0000001/0.0000002, openai:qwen3:4b=0") == {
        "meta-llama/llama-3.1-8b": (1e-7, 2e-7), "qwen3:4b": (0.0, 0.0)}
    for bad in ("nothing", "x=cheap", "=1", "x=1/2/3", "x=-1", "x=nan"):
        with pytest.raises(ValueError, match="MODEL=PRICE"):
            parse_model_costs(bad)


def test_settings_for_the_openai_backend(tmp_path: Path) -> None:
    # Every model on a local server: no Anthropic key is needed, and one model named serves every purpose.
    settings = settings_for(tmp_path, LLM_BACKEND="OpenAI", OPENAI_BASE_URL="http://localhost:11434/v1",
                            DEFAULT_MODEL="llama3.2")
    assert settings.models.llm_backend == "openai" and settings.secrets.anthropic_api_key == ""
    assert settings.models.premium_model == settings.replies.voting_model == "llama3.2"
    assert settings.models.summary_model == ""
    assert models_in_use(settings.models, settings.replies.voting_model) == {"openai": ["llama3.2"]}
    with pytest.raises(ConfigError, match="default_model: missing: name the model"):  # not claude-* there
        settings_for(tmp_path, LLM_BACKEND="openai")
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):  # one model still on Claude: it is
        settings_for(tmp_path, LLM_BACKEND="openai", DEFAULT_MODEL="x",
                     VOTING_MODEL="anthropic:claude-haiku-4-5")
    with pytest.raises(ConfigError, match="llm_backend: must be one of anthropic, openai, got 'gemini'"):
        settings_for(tmp_path, LLM_BACKEND="gemini", ANTHROPIC_API_KEY="k")
    with pytest.raises(ConfigError, match="model_costs"):
        settings_for(tmp_path, LLM_BACKEND="openai", DEFAULT_MODEL="x", MODEL_COSTS="llama=free")
    with pytest.raises(ConfigError, match="voice_replies"):
        settings_for(tmp_path, LLM_BACKEND="openai", DEFAULT_MODEL="x", VOICE_REPLIES="sometimes")


async def test_a_claude_user_sees_no_change(make_client: Any, fake_openai: FakeOpenAI,
                                            fake_claude: FakeClaude,
                                            store: Store) -> None:
    # The default backend: nothing reaches the OpenAI-compatible server, and Claude's request is built as
    # before (system blocks with their breakpoints, temperature in the body, prices by model family).
    # A 4.x model: sampling accepted, no thinking by default (the 5.x requests: tests/test_models_5x.py).
    # (PROMPT is a few words: its breakpoints stay only with the minimum cacheable length lowered to 0)
    client = make_client(LLM_BACKEND="anthropic", ANTHROPIC_API_KEY="k", DEFAULT_MODEL="claude-sonnet-4-6",
                         VOTING_MODEL="claude-haiku-4-5",
                         MODEL_CAPABILITIES="claude-sonnet-4-6[min_cache_tokens]=0")
    fake_claude.script(Reply("Glub."))
    await client.generate(PROMPT, model="claude-sonnet-4-6", user_id=7, guild_id=None, stream=False)
    body = fake_claude.requests[0].body
    assert body["system"] == PROMPT.system and body["messages"] == PROMPT.messages
    assert body["temperature"] == 0.7
    assert set(body) == {"model", "max_tokens", "messages", "system", "temperature"}
    assert fake_openai.requests == [] and fake_openai.model_lists == 0
    [call] = await api_calls(store, user_id=7)
    assert call.cost > 0
