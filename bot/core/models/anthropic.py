"""The Anthropic Messages API backend (Claude): each request is shaped for its model's family
(bot/core/models/capabilities.py) before it goes out: sampling only where accepted, no prefill where
refused, thinking and effort by purpose, and room in ``max_tokens`` for the thinking a 5.x model does.
Answers are read by block type: thinking blocks never become text."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import anthropic
import httpx2
from anthropic import NOT_GIVEN, AsyncAnthropic, DefaultAioHttpClient, NotGiven

from bot.core.models.base import (
    KEY_REJECTED,
    MODELS_NOT_CHECKED,
    CallUsage,
    Completion,
    Failure,
    Request,
    ToolAware,
    retry_after,
)
from bot.core.models.caching import place_cache
from bot.core.models.capabilities import EFFORTS, MIN_THINKING_ROOM, THINKING_ROOM, Family, ModelTable
from bot.core.models.messages_http import (
    CallFailed,
    MessagesHTTP,
    direct_capable,
    error_message,
    retryable_status,
    tls_context,
)
from bot.core.models.tools import paused_turn, sources_of
from database.boundary import Json, JsonObject

PROBE_TIMEOUT = 10.0  # seconds for the start-up check of the key
# The blocks of a plain answer: its words and the thinking before them (no tool's work in between).
PLAIN_BLOCKS = frozenset({"text", "thinking", "redacted_thinking"})


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
        # Non-streamed calls go straight over aiohttp, with the SDK's own headers and body (issue 30: a
        # quarter of the CPU per call); a stand-in SDK keeps them all (see direct_capable).
        self.direct = MessagesHTTP(self.sdk) if direct_capable(self.sdk) else None
        self.listed: list[str] | None = None  # the models list as the start-up check read it

    def shape(self, request: Request, *, background: bool, effort: str | None,
              gaps: Sequence[float] = (), schema: Mapping[str, Json] | None = None) -> Request:
        family = self.table.family(str(request["model"]))
        if family is None:
            return request
        shaped = shape_request(request, family, background=background, effort=effort)
        if schema is not None and family.structured_outputs:
            # decoded to the schema: the answer always parses (the prompt still describes it, for the rest)
            shaped["output_config"] = {**shaped.get("output_config", {}),
                                       "format": {"type": "json_schema", "schema": dict(schema)}}
        return place_cache(shaped, min_tokens=family.min_cache_tokens, token_factor=family.token_factor,
                           gaps=gaps)

    async def create(self, request: Request, *, timeout: float | None = None) -> Completion:
        """``timeout``: this call's own (None: the one the client was made with)."""
        if self.direct is None:
            return completion_of(await self.sdk.messages.create(**request, timeout=_own(timeout)))
        return completion_of(await self.direct.create(request, timeout=timeout))

    async def stream(self, request: Request, on_text: Callable[[str], None] | None, *,
                     timeout: float | None = None) -> Completion:
        async with self.sdk.messages.stream(**request, timeout=_own(timeout)) as stream:
            text = ""
            apart = False  # a tool block came since the last text: what follows is a new paragraph
            async for event in stream:
                if event.type == "content_block_start" and event.content_block.type not in ("text",
                                                                                            "thinking"):
                    apart = bool(text)
                    if event.content_block.type == "server_tool_use" and isinstance(on_text, ToolAware):
                        on_text.tool_started(text)  # the search runs now: typing shows meanwhile
                elif event.type == "text" and event.text:
                    text += ("\n\n" if apart else "") + event.text
                    apart = False
                    if on_text is not None:
                        on_text(text)
            message = await stream.get_final_message()
        return completion_of(message)

    def failure(self, exc: Exception) -> Failure | None:
        if isinstance(exc, CallFailed):  # the direct path judged it already, by the rules below
            return exc.failure
        if isinstance(exc, anthropic.APIStatusError):
            after = retry_after(exc.response.headers) if exc.response is not None else None
            return Failure(f"HTTP {exc.status_code}: {_error_message(exc)}", _retryable(exc), after)
        # The SDK leaves a read timeout in the middle of a stream unwrapped (httpx2's own error).
        if isinstance(exc, anthropic.APIConnectionError | anthropic.APITimeoutError | httpx2.TransportError):
            return Failure(f"{type(exc).__name__}: {exc}", True)
        return None

    async def probe(self, models: list[str]) -> str | None:
        """The models list, read whole (free and authenticated): a wrong key or an API that cannot be reached
        is known at start-up rather than at the first message, and ``listed`` holds the ids it serves for
        the model check (None: the list could not be read, so nothing is checked)."""
        self.listed = None
        listed: list[str] = []
        try:
            page = await self.sdk.with_options(timeout=PROBE_TIMEOUT).models.list(limit=1000)
            async for model in page:  # further pages, if any, are fetched as they are reached
                listed.append(model.id)
        except anthropic.APIStatusError as exc:
            if exc.status_code in (401, 403):
                return f"{self.base_url} {KEY_REJECTED} (HTTP {exc.status_code}: {_error_message(exc)})"
            return (f"{self.base_url} answered its models list with HTTP {exc.status_code} "
                    f"({_error_message(exc)}): {MODELS_NOT_CHECKED}")
        except anthropic.APIError as exc:
            return f"{self.base_url} is unreachable ({type(exc).__name__}: {exc})"
        self.listed = listed
        return None

    async def close(self) -> None:
        try:
            if self.direct is not None:
                await self.direct.close()
        finally:
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
    while (not family.prefill and len(messages) > 1 and messages[-1].get("role") == "assistant"
           and not paused_turn(messages[-1])):
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


def completion_of(message: object) -> Completion:
    """The answer of a message: the JSON dict the direct path reads, or the SDK's Message (a stream's, or a
    stand-in's object). Text comes from text blocks only: thinking never becomes text."""
    content = tuple(_json(b) for b in _field(message, "content") or ())
    raw = _field(message, "usage")
    creation = _field(raw, "cache_creation")
    tools = _field(raw, "server_tool_use")
    usage = CallUsage(int(_field(raw, "input_tokens") or 0), int(_field(raw, "output_tokens") or 0),
                      int(_field(raw, "cache_creation_input_tokens") or 0),
                      int(_field(raw, "cache_read_input_tokens") or 0),
                      cache_creation_1h_tokens=int(_field(creation, "ephemeral_1h_input_tokens") or 0),
                      web_search_requests=int(_field(tools, "web_search_requests") or 0),
                      web_fetch_requests=int(_field(tools, "web_fetch_requests") or 0))
    # only a tool's work or citations can name sources: a plain answer has none to look for
    cited = any(b.get("type") not in PLAIN_BLOCKS or b.get("citations") for b in content)
    return Completion(text=answer_text(content), model=_field(message, "model"), usage=usage,
                      stop_reason=_field(message, "stop_reason"), content=content,
                      sources=sources_of(content) if cited else ())


def answer_text(content: Sequence[JsonObject]) -> str:
    """The text of an answer's blocks: cited pieces of one paragraph joined as they came, a paragraph break
    where a tool's work came between two texts; thinking never becomes text."""
    text = ""
    apart = False
    for block in content:
        kind = block.get("type")
        if kind == "text":
            piece = str(block.get("text") or "")
            if piece:
                text += ("\n\n" if apart and text else "") + piece
                apart = False
        elif kind != "thinking" and kind != "redacted_thinking":
            apart = True
    return text.strip()


def _json(block: object) -> JsonObject:
    """A content block as the JSON that goes back to the API (an SDK model's fields as it set them)."""
    if isinstance(block, dict):
        return block
    # an SDK model dumps itself; a stand-in's plain object (a benchmark's) gives its attributes
    dumped = block.to_dict() if hasattr(block, "to_dict") else dict(getattr(block, "__dict__", {}))
    return dumped if isinstance(dumped, dict) else {}


def _field(value: object, name: str) -> Json:
    """``name`` of a JSON object or of an SDK model alike (None when absent)."""
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def _retryable(exc: anthropic.APIStatusError) -> bool:
    """408/409/429 and any 5xx are worth another try; so is an overload reported by an error event in the
    middle of a stream, which reaches us with the stream's status 200 and the real error only in its type."""
    if retryable_status(exc.status_code):
        return True
    return exc.status_code == 200 and getattr(exc, "type", None) in {"overloaded_error", "api_error",
                                                                         "rate_limit_error"}


def _own(timeout: float | None) -> float | NotGiven:
    """A call's own timeout for the SDK: NOT_GIVEN keeps the client's (None would mean none at all)."""
    return NOT_GIVEN if timeout is None else timeout


def _error_message(exc: anthropic.APIStatusError) -> str:
    return error_message(exc.body, exc.message)
