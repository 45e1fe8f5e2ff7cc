"""The one shared, async Claude client: replies (streaming-capable), yes/no votes and summaries.

Every call has a total deadline from config; 408, 409, 429 and every 5xx (529 included) are retried
inside that deadline with backoff (the SDK's own retries are off so the deadline really is the deadline). Each
call's tokens, cache reads/writes and cost are recorded per user.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx2
from anthropic import AsyncAnthropic

from bot.config import PROJECT_ROOT, Settings
from database.store import Store

log = logging.getLogger(__name__)

# Output tokens cost 5x input; cache writes 1.25x; cache reads 0.1x (Anthropic's published ratios).
OUTPUT_MULTIPLIER = 5.0
CACHE_WRITE_MULTIPLIER = 1.25
CACHE_READ_MULTIPLIER = 0.1
# Besides every 5xx: request timeout, conflict and rate limit are worth another try (as the SDK judges them).
RETRYABLE_STATUS = {408, 409, 429}


class ClaudeUnavailable(Exception):
    """A call failed for good (timeout, or non-retryable / persistent error)."""


@dataclass(frozen=True)
class CallUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    cost: float = 0.0


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    usage: CallUsage
    stop_reason: str | None = None


@dataclass
class Prompt:
    """A request's content: ``system`` blocks (stable ones first, carrying cache_control) and messages."""

    system: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def text(self) -> str:
        parts = [b.get("text", "") for b in self.system]
        for m in self.messages:
            content = m["content"]
            parts.extend([content] if isinstance(content, str) else [b.get("text", "") for b in content])
        return "\n".join(parts)


def price_per_input_token(settings: Settings, model: str) -> float:
    name = model.lower()
    if "haiku" in name:
        return settings.cost_per_token_haiku
    if "opus" in name:
        return settings.cost_per_token_opus
    return settings.cost_per_token_sonnet


def cost_of(settings: Settings, model: str, usage: CallUsage) -> float:
    p = price_per_input_token(settings, model)
    return p * (usage.input_tokens + usage.output_tokens * OUTPUT_MULTIPLIER
                + usage.cache_creation_tokens * CACHE_WRITE_MULTIPLIER
                + usage.cache_read_tokens * CACHE_READ_MULTIPLIER)


def _usage_from(raw: Any) -> tuple[int, int, int, int]:
    return (int(getattr(raw, "input_tokens", 0) or 0), int(getattr(raw, "output_tokens", 0) or 0),
            int(getattr(raw, "cache_creation_input_tokens", 0) or 0),
            int(getattr(raw, "cache_read_input_tokens", 0) or 0))


class ClaudeClient:
    def __init__(self, settings: Settings, store: Store | None, *, sdk: AsyncAnthropic | None = None) -> None:
        self.settings = settings
        self.store = store
        self.sdk = sdk or AsyncAnthropic(
            api_key=settings.anthropic_api_key or "missing",
            base_url=settings.anthropic_base_url or None,
            max_retries=0,  # retries happen here, inside each call's own deadline
            timeout=max(settings.llm_timeout, settings.summarize_timeout, settings.should_reply_timeout, 1.0),
        )
        self._api_log = self._make_api_logger()
        # Observers (e.g. the admin log-channel mirror) get one line per failed call.
        self.on_error: list[Callable[[str], Awaitable[None]]] = []

    def _make_api_logger(self) -> logging.Logger | None:
        if not self.settings.enable_api_call_logging:
            return None
        path = Path(self.settings.api_log_file)
        if not path.is_absolute():
            path = PROJECT_ROOT / path
        path.parent.mkdir(parents=True, exist_ok=True)
        logger = logging.getLogger(f"kindred.api_calls.{id(self)}")
        logger.propagate = False
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        return logger

    async def close(self) -> None:
        await self.sdk.close()
        if self._api_log:
            for h in list(self._api_log.handlers):
                h.close()
                self._api_log.removeHandler(h)

    # -- public calls

    async def generate(
        self,
        prompt: Prompt,
        *,
        model: str,
        user_id: int | None,
        purpose: str = "reply",
        max_tokens: int | None = None,
        temperature: float | None = None,
        timeout: float | None = None,
        on_text: Callable[[str], None] | None = None,
        stream: bool | None = None,
    ) -> Completion:
        """One reply; streamed when configured (``on_text`` sees the text so far)."""
        kwargs: dict[str, Any] = {
            "model": model,
            "max_tokens": max_tokens or self.settings.default_max_tokens,
            "messages": prompt.messages,
        }
        _set_temperature(kwargs, self.settings.default_temperature if temperature is None else temperature)
        if prompt.system:
            kwargs["system"] = prompt.system
        use_stream = self.settings.stream_replies if stream is None else stream
        return await self._call(kwargs, purpose=purpose, user_id=user_id,
                                timeout=self.settings.llm_timeout if timeout is None else timeout,
                                stream=use_stream, on_text=on_text)

    async def vote(self, prompt: Prompt, *, count: int, user_id: int | None) -> list[bool | None]:
        """Ask the voting model ``count`` times at once; each answer is True/False, None if it failed."""

        async def one() -> bool | None:
            try:
                completion = await self._call(
                    {"model": self.settings.voting_model, "max_tokens": 5,
                     "system": prompt.system, "messages": prompt.messages},
                    purpose="vote", user_id=user_id, timeout=self.settings.should_reply_timeout, stream=False)
            except ClaudeUnavailable:
                return None
            return parse_yes_no(completion.text)

        return list(await asyncio.gather(*(one() for _ in range(count))))

    async def summarize(self, prompt: Prompt, *, user_id: int | None, purpose: str = "summary",
                        max_tokens: int = 2000) -> Completion:
        return await self._call(
            {"model": self.settings.default_model, "max_tokens": max_tokens,
             "system": prompt.system, "messages": prompt.messages},
            purpose=purpose, user_id=user_id, timeout=self.settings.summarize_timeout, stream=False)

    async def complete(self, prompt: Prompt, *, model: str | None = None, user_id: int | None = None,
                       purpose: str, max_tokens: int = 1000, temperature: float | None = None,
                       timeout: float | None = None) -> Completion:
        """A plain non-streamed call (structured extraction and other background work)."""
        kwargs: dict[str, Any] = {"model": model or self.settings.default_model, "max_tokens": max_tokens,
                                  "messages": prompt.messages}
        _set_temperature(kwargs, temperature)
        if prompt.system:
            kwargs["system"] = prompt.system
        return await self._call(kwargs, purpose=purpose, user_id=user_id,
                                timeout=self.settings.summarize_timeout if timeout is None else timeout,
                                stream=False)

    # -- the call loop

    async def _call(self, kwargs: dict[str, Any], *, purpose: str, user_id: int | None, timeout: float,
                    stream: bool, on_text: Callable[[str], None] | None = None) -> Completion:
        model = kwargs["model"]
        started = time.perf_counter()
        attempt = 0
        last_error = "timeout"
        try:
            async with asyncio.timeout(timeout):
                while True:
                    attempt += 1
                    try:
                        completion = await (self._stream(kwargs, on_text) if stream else self._create(kwargs))
                    except anthropic.APIStatusError as exc:
                        last_error = f"HTTP {exc.status_code}: {_error_message(exc)}"
                        if not _retryable(exc):
                            raise ClaudeUnavailable(last_error) from exc
                        await asyncio.sleep(_backoff(attempt, exc))
                    # The SDK leaves a read timeout in the middle of a stream unwrapped (httpx2's own error).
                    except (anthropic.APIConnectionError, anthropic.APITimeoutError,
                            httpx2.TransportError) as exc:
                        last_error = f"{type(exc).__name__}: {exc}"
                        await asyncio.sleep(_backoff(attempt, None))
                    else:
                        break
        except TimeoutError:
            await self._failed(kwargs, purpose, user_id, started,
                               f"timed out after {timeout:g}s ({last_error})")
            raise ClaudeUnavailable(f"{model} timed out after {timeout:g}s: {last_error}") from None
        except ClaudeUnavailable as exc:
            await self._failed(kwargs, purpose, user_id, started, str(exc))
            raise
        latency = (time.perf_counter() - started) * 1000
        await self._record(completion, purpose=purpose, user_id=user_id, latency_ms=latency, ok=True)
        return completion

    async def _create(self, kwargs: dict[str, Any]) -> Completion:
        message = await self.sdk.messages.create(**kwargs)
        return self._completion(message)

    async def _stream(self, kwargs: dict[str, Any], on_text: Callable[[str], None] | None) -> Completion:
        async with self.sdk.messages.stream(**kwargs) as stream:
            text = ""
            async for chunk in stream.text_stream:
                text += chunk
                if on_text is not None:
                    on_text(text)
            message = await stream.get_final_message()
        return self._completion(message)

    def _completion(self, message: Any) -> Completion:
        text = "".join(getattr(b, "text", "") for b in message.content if getattr(b, "type", "") == "text")
        i, o, cw, cr = _usage_from(message.usage)
        usage = CallUsage(i, o, cw, cr)
        usage = CallUsage(i, o, cw, cr, cost_of(self.settings, message.model, usage))
        return Completion(text=text.strip(), model=message.model, usage=usage,
                          stop_reason=message.stop_reason)

    async def _record(self, completion: Completion, *, purpose: str, user_id: int | None, latency_ms: float,
                      ok: bool, error: str = "") -> None:
        u = completion.usage
        if self.store is not None:
            try:
                await self.store.usage.record(
                    user_id=user_id, purpose=purpose, model=completion.model, input_tokens=u.input_tokens,
                    output_tokens=u.output_tokens, cache_creation_tokens=u.cache_creation_tokens,
                    cache_read_tokens=u.cache_read_tokens, cost=u.cost, latency_ms=latency_ms, ok=ok,
                    error=error)
            except Exception:  # usage accounting must never break a reply
                log.exception("could not record API usage")
        if self._api_log is not None:
            self._api_log.info(json.dumps({
                "purpose": purpose, "model": completion.model, "user_id": user_id, "ok": ok, "error": error,
                "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
                "cache_creation_tokens": u.cache_creation_tokens, "cache_read_tokens": u.cache_read_tokens,
                "cost": round(u.cost, 8), "latency_ms": round(latency_ms, 1)}))

    async def _failed(self, kwargs: dict[str, Any], purpose: str, user_id: int | None, started: float,
                      error: str) -> None:
        log.warning("Claude %s call (%s) failed: %s", purpose, kwargs["model"], error)
        await self._record(Completion("", kwargs["model"], CallUsage()), purpose=purpose, user_id=user_id,
                           latency_ms=(time.perf_counter() - started) * 1000, ok=False, error=error)
        for observer in list(self.on_error):
            try:
                await observer(f"Claude {purpose} call failed ({kwargs['model']}): {error}")
            except Exception:
                log.exception("error observer failed")


def _set_temperature(kwargs: dict[str, Any], temperature: float | None) -> None:
    """Temperature left the SDK's signatures in 1.0 (newer models accept only the default, 1.0); the API
    still takes it for older models, so a non-default value travels in ``extra_body``."""
    if temperature is not None and temperature != 1.0:
        kwargs["extra_body"] = {"temperature": temperature}


def _retryable(exc: anthropic.APIStatusError) -> bool:
    """408/409/429 and any 5xx are worth another try; so is an overload reported by an error event in the
    middle of a stream, which reaches us with the stream's status 200 and the real error only in its type."""
    if exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500:
        return True
    return exc.status_code == 200 and getattr(exc, "type", None) in {"overloaded_error", "api_error",
                                                                         "rate_limit_error"}


def _error_message(exc: anthropic.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    err = body.get("error") if isinstance(body.get("error"), dict) else {}
    return str(err.get("message") or exc.message)[:200]


def _backoff(attempt: int, exc: anthropic.APIStatusError | None) -> float:
    """Exponential backoff with jitter, honouring a short retry-after."""
    if exc is not None and exc.response is not None:
        headers = exc.response.headers
        try:
            if headers.get("retry-after-ms") is not None:
                return min(float(headers["retry-after-ms"]) / 1000, 10.0)
            if headers.get("retry-after") is not None:
                return min(float(headers["retry-after"]), 10.0)
        except ValueError:
            pass
    return min(0.25 * 2 ** (attempt - 1), 8.0) * (0.5 + random.random() / 2)


def parse_yes_no(text: str) -> bool | None:
    word = text.strip().lstrip("*_\"'`").lower()
    if word.startswith("yes"):
        return True
    if word.startswith("no"):
        return False
    return None


def majority_yes(votes: Sequence[bool | None]) -> bool:
    """Yes only when strictly more than half of all votes asked said yes (failed votes count as no)."""
    return sum(1 for v in votes if v) * 2 > len(votes)
