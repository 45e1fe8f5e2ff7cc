"""The OpenAI-compatible Chat Completions backend: Ollama, llama.cpp's server, vLLM, LM Studio, OpenRouter,
OpenAI itself. It translates the one request (Anthropic Messages keyword arguments, see
bot/core/models/base.py): system blocks become one system message, cache breakpoints are dropped (these
servers cache on their own), text blocks are joined, image blocks become ``image_url`` parts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import httpx2
import openai
from openai import NOT_GIVEN, AsyncOpenAI, NotGiven
from openai.types import CompletionUsage

from bot.core.models.base import (
    KEY_REJECTED,
    CallUsage,
    Completion,
    Failure,
    Request,
    retry_after,
    temperature_of,
)
from bot.core.tokens import count_tokens
from database.boundary import Json, JsonObject

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 409, 429}
PROBE_TIMEOUT = 10.0  # the start-up check runs beside start-up: a busy machine may answer slowly


class OpenAIBackend:
    name = "openai"
    label = "Model (openai backend)"

    def __init__(self, *, api_key: str, base_url: str, timeout: float,
                 sdk: AsyncOpenAI | None = None) -> None:
        self.sdk = sdk or AsyncOpenAI(
            api_key=api_key or "not-needed",  # local servers take no key; the SDK insists on one
            base_url=base_url or None,
            max_retries=0,  # retries happen in the model client, inside each call's own deadline
            timeout=timeout,
        )
        self.base_url = str(self.sdk.base_url).rstrip("/")
        self.told_tools = False  # the operator was told replies go without tools here

    def shape(self, request: Request, *, background: bool, effort: str | None,
              gaps: Sequence[float] = (), schema: Mapping[str, Json] | None = None) -> Request:
        if "tools" in request:  # Claude's server tools, and function calling here is not built yet
            if not self.told_tools:
                self.told_tools = True
                log.warning("%s is served by the OpenAI-compatible backend: its replies are asked without "
                            "tools (web search and fetch need Claude; function calling there is not built "
                            "yet)", request["model"])
            return {k: v for k, v in request.items() if k != "tools"}
        return request  # an OpenAI-compatible server takes the request as it is

    async def create(self, request: Request, *, timeout: float | None = None) -> Completion:
        """``timeout``: this call's own (None: the one the client was made with)."""
        body = chat_request(request)
        response = await self.sdk.chat.completions.create(**_sdk_args(body), timeout=_own(timeout))
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "") if choice is not None else ""
        finish = choice.finish_reason if choice is not None else None
        return _completion(body, text, response.model, response.usage, finish)

    async def stream(self, request: Request, on_text: Callable[[str], None] | None, *,
                     timeout: float | None = None) -> Completion:
        body = chat_request(request)
        # include_usage: the server adds a last chunk with the call's token counts (no choices in it).
        stream = await self.sdk.chat.completions.create(**_sdk_args(body), stream=True, timeout=_own(timeout),
                                                        stream_options={"include_usage": True})
        text, model, usage, finish = "", "", None, None
        async with stream:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    if choice.delta is not None and choice.delta.content:
                        text += choice.delta.content
                        if on_text is not None:
                            on_text(text)
                    finish = choice.finish_reason or finish
        return _completion(body, text, model, usage, finish)

    def failure(self, exc: Exception) -> Failure | None:
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            retryable = status in RETRYABLE_STATUS or status >= 500
            after = retry_after(exc.response.headers)
            return Failure(f"HTTP {status}: {_error_message(exc)}", retryable, after)
        if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
            return Failure(f"{type(exc).__name__}: {exc}", True)
        if isinstance(exc, openai.APIError):  # an error event in the middle of a stream: the server broke off
            return Failure(f"stream error: {_error_message(exc)}", True)
        return None

    async def probe(self, models: list[str]) -> str | None:
        try:
            page = await self.sdk.with_options(timeout=PROBE_TIMEOUT).models.list()
        except openai.APIStatusError as exc:
            if exc.status_code in (401, 403):
                return f"{self.base_url} {KEY_REJECTED} (HTTP {exc.status_code}: {_error_message(exc)})"
            return None  # it answers; not every server lists its models
        except openai.APIError as exc:
            return f"{self.base_url} is unreachable ({type(exc).__name__}: {exc})"
        served = {m.id for m in page.data}
        missing = [m for m in models if served and m not in served]
        if missing:
            return (f"{self.base_url} does not serve {', '.join(missing)} "
                    f"(it lists {', '.join(sorted(served)[:10])})")
        return None

    async def close(self) -> None:
        await self.sdk.close()


def chat_request(request: Request) -> JsonObject:
    """The Chat Completions body for one request (translation only: nothing is added or left out)."""
    messages: list[JsonObject] = []
    system = request.get("system")
    if system:
        text = system if isinstance(system, str) else "\n\n".join(t for b in system if (t := _text(b)))
        messages.append({"role": "system", "content": text})
    for message in request["messages"]:
        messages.append({"role": message["role"], "content": _content(message["content"])})
    body: JsonObject = {"model": request["model"], "messages": messages,
                            "max_tokens": request["max_tokens"]}
    temperature = temperature_of(request)
    if temperature is not None:
        body["temperature"] = temperature
    return body


def _sdk_args(body: JsonObject) -> JsonObject:
    """create()'s arguments for a body. The messages travel in ``extra_body``, which the SDK merges over its
    own body as it is: given as ``messages``, each would be walked through the SDK's typed-dict transform
    (about 0.7 ms per message, 150 ms for a 200-turn conversation) to come out unchanged."""
    return {**{k: v for k, v in body.items() if k != "messages"}, "messages": [],
            "extra_body": {"messages": body["messages"]}}


def _text(block: Json) -> str:
    """A block's text: a text block, a plain string, or the text inside a tool result."""
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return ""
    if isinstance(block.get("text"), str):
        return str(block["text"])
    inner = block.get("content")
    if isinstance(inner, str):
        return inner
    if isinstance(inner, list):
        return "\n\n".join(t for b in inner if (t := _text(b)))
    return ""


def _content(content: Json) -> str | list[JsonObject]:
    """Text only: one string (what every server accepts). With images: text and ``image_url`` parts."""
    if isinstance(content, str):
        return content
    parts: list[JsonObject] = []
    for block in content:
        image = _image_url(block)
        if image is not None:
            parts.append({"type": "image_url", "image_url": {"url": image}})
        elif text := _text(block):
            parts.append({"type": "text", "text": text})
    if all(p["type"] == "text" for p in parts):
        return "\n\n".join(p["text"] for p in parts)
    return parts


def _image_url(block: Json) -> str | None:
    """An Anthropic image block as a URL (``data:`` for inline base64 images), else None."""
    if not isinstance(block, dict) or block.get("type") != "image":
        return None
    source = block.get("source") or {}
    if source.get("type") == "base64":
        return f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    if source.get("type") == "url":
        return str(source.get("url", ""))
    return None


def _completion(body: JsonObject, text: str, model: str | None, usage: CompletionUsage | None,
                finish: str | None) -> Completion:
    if usage is not None:
        details = getattr(usage, "prompt_tokens_details", None)
        cached = int(getattr(details, "cached_tokens", 0) or 0)
        prompt = int(usage.prompt_tokens or 0)
        counts = CallUsage(max(0, prompt - cached), int(usage.completion_tokens or 0), 0, cached)
    else:  # a server that ignores include_usage: counted here, so accounting and budgets still see the call
        counts = CallUsage(count_tokens(_body_text(body)), count_tokens(text))
    return Completion(text=text.strip(), model=model or body["model"], usage=counts, stop_reason=finish)


def _body_text(body: JsonObject) -> str:
    out = []
    for message in body["messages"]:
        content = message["content"]
        out.append(content if isinstance(content, str) else "\n".join(p.get("text", "") for p in content))
    return "\n".join(out)


def _own(timeout: float | None) -> float | NotGiven:
    """A call's own timeout for the SDK: NOT_GIVEN keeps the client's (None would mean none at all)."""
    return NOT_GIVEN if timeout is None else timeout


def _error_message(exc: openai.APIError) -> str:
    """The server's own message (the SDK keeps the envelope's inner ``error`` object as the body)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error")
    return str((inner if isinstance(inner, dict) else body).get("message") or exc.message)[:200]
