"""The Anthropic Messages API backend (Claude): each request is shaped for its model's family
(bot/core/models/capabilities.py) before it goes out: sampling only where accepted, no prefill where
refused, thinking and effort by purpose, and room in ``max_tokens`` for the thinking a 5.x model does.
Answers are read by block type: thinking blocks never become text."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
from anthropic import AsyncAnthropic, DefaultAioHttpClient

from bot.core.models.base import KEY_REJECTED, CallUsage, Completion, Failure, Request, retry_after
from bot.core.models.capabilities import EFFORTS, MIN_THINKING_ROOM, THINKING_ROOM, Family, ModelTable

# Besides every 5xx: request timeout, conflict and rate limit are worth another try (as the SDK judges them).
RETRYABLE_STATUS = {408, 409, 429}
PROBE_TIMEOUT = 10.0  # seconds for the start-up check of the key


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The SDK's own TLS context, built once per process: building one reads the system's CA bundle (about
    50 ms of CPU), and every client (one per character, a new one on each live reload) can share it."""
    return httpx2.create_ssl_context()


class AnthropicBackend:
    name = "anthropic"
    label = "Claude"

    def __init__(self, *, api_key: str, base_url: str, timeout: float,
                 sdk: AsyncAnthropic | None = None, table: ModelTable | None = None) -> None:
        self.table = table or ModelTable()
        self.sdk = sdk or AsyncAnthropic(
            api_key=api_key or "missing",
            base_url=base_url or None,
            max_retries=0,  # retries happen in the model client, inside each call's own deadline
            timeout=timeout,
            # The SDK's aiohttp transport (aiohttp's C parser; aiohttp is here for discord.py anyway): about
            # half the CPU of its default httpx one per call, and a vote round is three calls.
            http_client=DefaultAioHttpClient(timeout=timeout, verify=tls_context()),
        )
        self.base_url = str(getattr(self.sdk, "base_url", base_url))

    def shape(self, request: Request, *, background: bool, effort: str | None) -> Request:
        family = self.table.family(str(request["model"]))
        return request if family is None else shape_request(request, family, background=background,
                                                            effort=effort)

    async def create(self, request: Request) -> Completion:
        return completion_of(await self.sdk.messages.create(**request))

    async def stream(self, request: Request, on_text: Callable[[str], None] | None) -> Completion:
        async with self.sdk.messages.stream(**request) as stream:
            text = ""
            async for chunk in stream.text_stream:
                text += chunk
                if on_text is not None:
                    on_text(text)
            message = await stream.get_final_message()
        return completion_of(message)

    def failure(self, exc: Exception) -> Failure | None:
        if isinstance(exc, anthropic.APIStatusError):
            after = retry_after(exc.response.headers) if exc.response is not None else None
            return Failure(f"HTTP {exc.status_code}: {_error_message(exc)}", _retryable(exc), after)
        # The SDK leaves a read timeout in the middle of a stream unwrapped (httpx2's own error).
        if isinstance(exc, anthropic.APIConnectionError | anthropic.APITimeoutError | httpx2.TransportError):
            return Failure(f"{type(exc).__name__}: {exc}", True)
        return None

    async def probe(self, models: list[str]) -> str | None:
        """One free, authenticated request (a one-model page of the models list): a wrong key or an API
        that cannot be reached is known at start-up rather than at the first message. Model names are not
        checked: the list holds dated ids, not the aliases operators write."""
        try:
            await self.sdk.with_options(timeout=PROBE_TIMEOUT).models.list(limit=1)
        except anthropic.APIStatusError as exc:
            if exc.status_code in (401, 403):
                return f"{self.base_url} {KEY_REJECTED} (HTTP {exc.status_code}: {_error_message(exc)})"
            return None  # it answers; anything else shows on the first call, as it would have
        except anthropic.APIError as exc:
            return f"{self.base_url} is unreachable ({type(exc).__name__}: {exc})"
        return None

    async def close(self) -> None:
        await self.sdk.close()


def shape_request(request: Request, family: Family, *, background: bool, effort: str | None) -> Request:
    """The request as ``family`` accepts it. Background work (votes, status, summaries, extraction,
    consolidation) thinks as little as the model allows; a reply thinks at ``effort`` (the family's default
    when None) with that effort's room added to ``max_tokens``, so thinking never eats the answer."""
    out = dict(request)
    extra = dict(out.pop("extra_body", None) or {})
    for name in ("temperature", "top_p", "top_k"):
        if name in extra and name not in family.sampling:
            del extra[name]  # refused with a 400 (start-up has said so once, naming the setting)
    if extra:
        out["extra_body"] = extra
    messages = list(out.get("messages") or [])
    while not family.prefill and len(messages) > 1 and messages[-1].get("role") == "assistant":
        messages.pop()  # a prefill is a 400 here; the prompt's instructions carry the format instead
    out["messages"] = messages
    room = 0
    if background:
        if not family.thinks_by_default:
            pass  # 4.x: no thinking unless asked for
        elif "disabled" in family.thinking:
            out["thinking"] = {"type": "disabled"}  # accepted at effort high or lower: low is sent
            if family.efforts:
                out["output_config"] = {"effort": "low"}
        elif "between_tools" in family.thinking:
            out["thinking"] = {"type": "between_tools"}  # no up-front thinking (no tools here)
            out["output_config"] = {"effort": "low"}
        else:  # always on (Opus 5.5, Fable): the least effort, and room for that little thinking
            if family.efforts:
                out["output_config"] = {"effort": "low"}
            room = MIN_THINKING_ROOM
    elif family.thinks_by_default:
        level = effort or family.effort_default or "high"
        if family.efforts:
            if level not in family.efforts:  # the nearest level the model has, below if any
                lower = [e for e in family.efforts if EFFORTS.index(e) <= EFFORTS.index(level)]
                level = lower[-1] if lower else family.efforts[0]
            out["output_config"] = {"effort": level}
        room = THINKING_ROOM.get(level, THINKING_ROOM["high"])
    out["max_tokens"] = min(int(out["max_tokens"]) + room, family.max_output)
    return out


def completion_of(message: Any) -> Completion:
    text = "".join(getattr(b, "text", "") for b in message.content if getattr(b, "type", "") == "text")
    raw = message.usage
    creation = getattr(raw, "cache_creation", None)
    usage = CallUsage(int(getattr(raw, "input_tokens", 0) or 0), int(getattr(raw, "output_tokens", 0) or 0),
                      int(getattr(raw, "cache_creation_input_tokens", 0) or 0),
                      int(getattr(raw, "cache_read_input_tokens", 0) or 0),
                      cache_creation_1h_tokens=int(getattr(creation, "ephemeral_1h_input_tokens", 0) or 0))
    return Completion(text=text.strip(), model=message.model, usage=usage, stop_reason=message.stop_reason)


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
