"""The OpenAI-compatible Chat Completions backend: Ollama, llama.cpp's server, vLLM, LM Studio, OpenRouter,
OpenAI itself. It translates the one request (Anthropic Messages keyword arguments, see
bot/core/models/base.py): system blocks become one system message, cache breakpoints are dropped (these
servers cache on their own), text blocks are joined, image blocks become ``image_url`` parts; Kindred's client
tools become function calling (bot/core/models/openai_tools.py) where the server takes it (``openai_tools``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import httpx2
import openai
from openai import NOT_GIVEN, AsyncOpenAI, NotGiven
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionChunk

from bot.core.models.base import (
    KEY_REJECTED,
    CallUsage,
    Completion,
    Failure,
    Request,
    retry_after,
    temperature_of,
)
from bot.core.models.openai_tools import (
    FunctionCall,
    StreamedCalls,
    client_tools,
    functions,
    tool_turn,
    tool_use_blocks,
    whole_calls,
)
from bot.core.tokens import count_tokens
from database.boundary import Json, JsonObject

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 409, 429}
PROBE_TIMEOUT = 10.0  # the start-up check runs beside start-up: a busy machine may answer slowly


class OpenAIBackend:
    name = "openai"
    label = "Model (openai backend)"

    def __init__(self, *, api_key: str, base_url: str, timeout: float, tools: str = "auto",
                 sdk: AsyncOpenAI | None = None) -> None:
        self.sdk = sdk or AsyncOpenAI(
            api_key=api_key or "not-needed",  # local servers take no key; the SDK insists on one
            base_url=base_url or None,
            max_retries=0,  # retries happen in the model client, inside each call's own deadline
            timeout=timeout,
        )
        self.base_url = str(self.sdk.base_url).rstrip("/")
        self.tools = tools  # openai_tools: auto, on or off
        self.tools_refused = False  # auto, and the server refused function calling: no more tools sent
        self.told: set[str] = set()  # what the operator was told once about tools left out

    def shape(self, request: Request, *, background: bool, effort: str | None,
              gaps: Sequence[float] = (), schema: Mapping[str, Json] | None = None) -> Request:
        if "tools" not in request:
            return request  # an OpenAI-compatible server takes the request as it is
        client = client_tools(request["tools"])
        if len(client) < len(request["tools"]):
            self._tell("server", "%s is served by the OpenAI-compatible backend: its replies are asked "
                       "without web search and fetch (they need Claude)", request["model"])
        if client and self.tools == "off":
            self._tell("off", "openai_tools=off: replies on %s are asked without Kindred's tools",
                       request["model"])
        if not client or self.tools == "off" or self.tools_refused:
            return {k: v for k, v in request.items() if k != "tools"}
        return {**request, "tools": client}

    async def create(self, request: Request, *, timeout: float | None = None) -> Completion:
        """``timeout``: this call's own (None: the one the client was made with)."""
        body = chat_request(request)
        try:
            response = await self.sdk.chat.completions.create(**_sdk_args(body), timeout=_own(timeout))
        except openai.BadRequestError as exc:
            body = self._without_tools(body, exc)
            response = await self.sdk.chat.completions.create(**_sdk_args(body), timeout=_own(timeout))
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "") if choice is not None else ""
        finish = choice.finish_reason if choice is not None else None
        calls = whole_calls(choice.message.tool_calls) if choice is not None else []
        return _completion(body, text, response.model, response.usage, finish, calls)

    async def stream(self, request: Request, on_text: Callable[[str], None] | None, *,
                     timeout: float | None = None) -> Completion:
        body = chat_request(request)
        # include_usage: the server adds a last chunk with the call's token counts (no choices in it).
        try:
            stream = await self._streamed(body, timeout)
        except openai.BadRequestError as exc:
            body = self._without_tools(body, exc)
            stream = await self._streamed(body, timeout)
        text, model, usage, finish, calls = "", "", None, None, StreamedCalls()
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
                    if choice.delta is not None:
                        calls.add(choice.delta.tool_calls)
                    finish = choice.finish_reason or finish
        return _completion(body, text, model, usage, finish, calls.done())

    async def _streamed(self, body: JsonObject,
                        timeout: float | None) -> openai.AsyncStream[ChatCompletionChunk]:
        return await self.sdk.chat.completions.create(**_sdk_args(body), stream=True, timeout=_own(timeout),
                                                      stream_options={"include_usage": True})

    def _without_tools(self, body: JsonObject, exc: openai.BadRequestError) -> JsonObject:
        """The body again without its tools, when the server refused them and ``openai_tools`` is auto (the
        operator told once); anything else: the error raised again."""
        message = _error_message(exc)
        # A body already holding tool turns was taken with tools before: its 400 is about something else.
        turns = any(m.get("tool_calls") or m.get("role") == "tool" for m in body["messages"])
        if ("tools" not in body or self.tools != "auto" or turns
                or not any(w in message.lower() for w in ("tool", "function"))):
            raise exc
        self.tools_refused = True
        self._tell("refused", "%s refused function calling (HTTP 400: %s): replies there go without "
                   "Kindred's tools from now on (openai_tools=auto; set it to off to skip the try)",
                   self.base_url, message)
        return {k: v for k, v in body.items() if k not in ("tools", "tool_choice")}

    def _tell(self, reason: str, line: str, *args: object) -> None:
        if reason not in self.told:
            self.told.add(reason)
            log.warning(line, *args)

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
                # The server's words are not quoted: OpenAI's name the rejected key (masked, but its end).
                return f"{self.base_url} {KEY_REJECTED} (HTTP {exc.status_code})"
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
        turn = tool_turn(message, _text)
        if turn is None:
            messages.append({"role": message["role"], "content": _content(message["content"])})
            continue
        messages += turn.messages
        if rest := _content(turn.rest):
            messages.append({"role": "user", "content": rest})
    body: JsonObject = {"model": request["model"], "messages": messages,
                        "max_tokens": request["max_tokens"]}
    tools = request.get("tools")
    if isinstance(tools, list) and tools:
        body["tools"] = functions(client_tools(tools))
    temperature = temperature_of(request)
    if temperature is not None:
        body["temperature"] = temperature
    return body


def _sdk_args(body: JsonObject) -> JsonObject:
    """create()'s arguments for a body. The messages travel in ``extra_body``, which the SDK merges over its
    own body as it is: given as ``messages``, each would be walked through the SDK's typed-dict transform
    (about 0.7 ms per message, 150 ms for a 200-turn conversation) to come out unchanged."""
    inside = ("messages", "tools")  # the tools too: plain JSON already, sent as they are
    return {**{k: v for k, v in body.items() if k not in inside}, "messages": [],
            "extra_body": {k: body[k] for k in inside if k in body}}


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
                finish: str | None, calls: list[FunctionCall]) -> Completion:
    if usage is not None:
        details = getattr(usage, "prompt_tokens_details", None)
        cached = int(getattr(details, "cached_tokens", 0) or 0)
        prompt = int(usage.prompt_tokens or 0)
        counts = CallUsage(max(0, prompt - cached), int(usage.completion_tokens or 0), 0, cached)
    else:  # a server that ignores include_usage: counted here, so accounting and budgets still see the call
        written = text + "".join(c.name + c.arguments for c in calls)
        counts = CallUsage(count_tokens(_body_text(body)), count_tokens(written))
    if calls:  # some servers finish with "stop" beside their calls: the calls decide
        return Completion(text=text.strip(), model=model or body["model"], usage=counts,
                          stop_reason="tool_use", content=tool_use_blocks(text, calls))
    return Completion(text=text.strip(), model=model or body["model"], usage=counts, stop_reason=finish)


def _body_text(body: JsonObject) -> str:
    out = []
    for message in body["messages"]:
        content = message["content"] or ""  # None: an assistant turn that only called functions
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
