"""The Anthropic Messages API backend (Claude): the request goes out exactly as prompt assembly built it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
from anthropic import AsyncAnthropic, DefaultAioHttpClient

from bot.core.models.base import KEY_REJECTED, CallUsage, Completion, Failure, Request, retry_after

# Besides every 5xx: request timeout, conflict and rate limit are worth another try (as the SDK judges them).
RETRYABLE_STATUS = {408, 409, 429}
PROBE_TIMEOUT = 10.0  # seconds for the start-up check of the key


class AnthropicBackend:
    name = "anthropic"
    label = "Claude"

    def __init__(self, *, api_key: str, base_url: str, timeout: float,
                 sdk: AsyncAnthropic | None = None) -> None:
        self.sdk = sdk or AsyncAnthropic(
            api_key=api_key or "missing",
            base_url=base_url or None,
            max_retries=0,  # retries happen in the model client, inside each call's own deadline
            timeout=timeout,
            # The SDK's aiohttp transport (aiohttp's C parser; aiohttp is here for discord.py anyway): about
            # half the CPU of its default httpx one per call, and a vote round is three calls.
            http_client=DefaultAioHttpClient(timeout=timeout),
        )
        self.base_url = str(getattr(self.sdk, "base_url", base_url))

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


def completion_of(message: Any) -> Completion:
    text = "".join(getattr(b, "text", "") for b in message.content if getattr(b, "type", "") == "text")
    raw = message.usage
    usage = CallUsage(int(getattr(raw, "input_tokens", 0) or 0), int(getattr(raw, "output_tokens", 0) or 0),
                      int(getattr(raw, "cache_creation_input_tokens", 0) or 0),
                      int(getattr(raw, "cache_read_input_tokens", 0) or 0))
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
