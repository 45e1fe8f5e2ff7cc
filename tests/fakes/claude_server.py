"""A fake Anthropic Messages API, served over real HTTP so the real ``anthropic`` SDK drives it in tests.

Why a server rather than a mocked SDK: the bot's retry, timeout, streaming and usage code paths only get
exercised honestly when the SDK parses real JSON and SSE off a socket.

What it speaks (checked against anthropic 2.12's parsers):

* ``POST /v1/messages``: a JSON Message, or an SSE stream when the body says ``"stream": true``
  (message_start, content_block_start, ping, content_block_delta*, content_block_stop, message_delta,
  message_stop). Errors use the API's envelope ``{"type": "error", "error": {"type", "message"}}``.
* ``POST /v1/messages/count_tokens``: ``{"input_tokens": n}``.
* ``/v1/messages/batches``: the Message Batches API (tests/fakes/claude_batches.py).
* Both reject with 400 ``invalid_request_error`` what the real API rejects before reading the prompt: a
  missing field, no messages, a message with empty content (``messages.N: all messages must have non-empty
  content ...``), an empty or whitespace-only text block (``messages: text content blocks must be
  non-empty``, ``system: ...`` for the system prompt) and a bad image block (see :func:`image_problem`: media
  type not one of the four, base64 that does not decode, over 5 MB of base64, bytes of another type than
  declared, a file cut short). Set ``validate = False`` to let anything through.

* Every route first checks the headers the real API requires: no key (``x-api-key`` or, as anthropic 2.x
  sends it, ``Authorization: Bearer``) is a 401 ``x-api-key header is required``, a key other than
  ``api_key`` (when set) a 401, no ``anthropic-version`` a 400 ``anthropic-version: header is required``,
  and a POST body not sent as ``application/json`` a 400.
* Each model family's rules (tests/fakes/claude_models.py): 400s for sampling parameters, thinking modes,
  effort levels, prefill and forced tool choice a model refuses, with the real wording. A 5.x model thinks
  by default: its answer starts with a ``thinking`` block (text omitted, as by default), in JSON and SSE,
  and the thinking tokens count against ``max_tokens``; a request that leaves no room ends in thinking
  alone (``stop_reason: max_tokens``, no text). Text past ``max_tokens`` is cut (``max_tokens`` too).
  ``Reply(stop_reason="refusal")`` answers as the safety classifier does.

Token counts and prompt caching follow tests/fakes/prompt_cache.py: Anthropic's documented rules (order
tools, system, messages; at most 4 breakpoints, more is a 400; exact-prefix hits with the 20-block lookback;
the model's minimum cacheable length; a 5-minute ttl) on a deterministic ``len(text) // 4 + 1`` tokens per
block. ``min_cache_tokens`` overrides the per-model minimum (0 for tests whose prompts are a few words).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import inspect
import itertools
import json
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

from aiohttp import web

from tests.fakes import EVENT_WAIT, serve_local
from tests.fakes.claude_batches import BatchRoutes
from tests.fakes.claude_models import (
    THINKING_TOKENS,
    effort_of,
    hold,
    read_into,
    rules_for,
    schema_of,
    thinks,
    token_factor,
    violation,
)
from tests.fakes.claude_tools import Answer, tool_problem
from tests.fakes.prompt_cache import LOOKBACK, PromptCache, blocks, estimate_tokens


class ToolScript(Protocol):
    """What the model does with a request's tools (tests/fakes/claude_tools.py's Search, Fetch)."""

    def answer_to(self, body: dict[str, Any]) -> Answer: ...

# The Models API's list as the real one reads: newer models by undated ids, older ones dated (their undated
# names are aliases the API also accepts, as bot/core/models/listed.py knows).
LISTED_MODELS = (
    "claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-fable-5", "claude-opus-5",
    "claude-sonnet-5", "claude-opus-4-7", "claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-5-20251101",
    "claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805",
    "claude-opus-4-20250514", "claude-sonnet-4-20250514", "claude-3-7-sonnet-20250219",
    "claude-3-5-haiku-20241022", "claude-3-haiku-20240307",
)

__all__ = ["CACHE_LOOKBACK", "ERROR_TYPES", "FakeClaude", "Recorded", "Reply", "Rule", "estimate_tokens"]

CACHE_LOOKBACK = LOOKBACK
"""How many block boundaries before a breakpoint a cache read may end at (as in the real API)."""

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
    503: "api_error", 504: "timeout_error",
    529: "overloaded_error",
}
_STATUS_FOR_TYPE: dict[str, int] = {"overloaded_error": 529, "api_error": 500, "rate_limit_error": 429,
                                    "invalid_request_error": 400, "authentication_error": 401,
                                    "permission_error": 403, "not_found_error": 404, "timeout_error": 504}
_DEFAULT_MESSAGES: dict[str, str] = {"overloaded_error": "Overloaded",
                                     "rate_limit_error": "Rate limited (fake)",
                                     "api_error": "Internal server error (fake)"}

Match = Callable[[dict[str, Any]], bool]


@dataclass
class Reply:
    """One answer. ``status`` other than 200 answers with the API's error envelope instead of a message.

    ``retry_after`` (seconds, None: no header) is sent on 429 and 5xx as ``retry-after`` *and*
    ``retry-after-ms`` (at least 1 ms): the SDK ignores a zero wait and would fall back to its own
    0.5-8 s backoff, so the millisecond header is what keeps SDK retries instant.
    ``stream_error`` (an error type such as ``"overloaded_error"``) makes a streamed answer break off with
    an SSE ``error`` event after ``stream_error_after`` text deltas; a non-streamed request gets the
    matching HTTP status instead.
    """

    text: str = ""
    status: int = 200
    delay: float = 0.0
    stream_delay: float = 0.0
    usage: dict[str, int] | None = None
    stop_reason: str = "end_turn"
    error_type: str | None = None
    error_message: str | None = None
    retry_after: float | None = 0.0
    stream_error: str | None = None
    stream_error_after: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    held: asyncio.Event | None = None  # the answer waits until the test sets it (no guess at a delay)
    thinking_tokens: int | None = None  # None: the model's own (by effort) when it thinks, else none
    # What the model does with the request's tools (tests/fakes/claude_tools.py: a Search or a Fetch); its
    # blocks, stop reason and billed searches replace ``text`` and ``stop_reason``.
    tools: ToolScript | None = None
    content: list[dict[str, Any]] | None = None  # the answer's blocks after thinking (None: one text block)
    server_tool_use: dict[str, int] | None = None  # usage.server_tool_use, when server tools ran
    searching: asyncio.Event | None = None  # a streamed tool turn waits after its server_tool_use until set
    # A streamed answer sends its first ``written_until`` characters, then waits until ``writing`` is set (the
    # model still writing the rest, for as long as the test needs).
    writing: asyncio.Event | None = None
    written_until: int = 0


Responder = Callable[[dict[str, Any]], Reply | str | None | Awaitable[Reply | str | None]]
"""The ``FakeClaude.responder`` hook: request JSON in, answer out (None: fall through to the default)."""


@dataclass
class Rule:
    """A scripted answer serving the next ``remaining`` matching requests (None: forever)."""

    reply: Reply
    model: str | None = None
    match: Match | None = None
    remaining: int | None = 1
    served: int = 0

    def applies(self, body: dict[str, Any]) -> bool:
        return ((self.model is None or body.get("model") == self.model)
                and (self.match is None or self.match(body)))


@dataclass
class Recorded:
    """One request as the fake saw it, and what it answered."""

    path: str
    model: str
    body: dict[str, Any]
    headers: dict[str, str]  # lower-case names
    stream: bool
    received_at: float  # time.monotonic()
    status: int = 200
    text: str = ""
    error_type: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    finished_at: float | None = None
    thinking_tokens: int = 0  # of the answer's output tokens, those spent thinking
    cut_at: float | None = None  # when the client hung up before the answer was whole (its timeout, say)
    connection: str = ""  # the client's end of the TCP connection it came on ("host:port")

    @property
    def json(self) -> dict[str, Any]:
        """The request body (alias of ``body``)."""
        return self.body

    @property
    def retry_count(self) -> int:
        """The SDK's own attempt counter (``x-stainless-retry-count``): 0 on a first attempt."""
        return int(self.headers.get("x-stainless-retry-count", "0") or 0)

    @property
    def api_key(self) -> str | None:
        """The key the client sent, as ``x-api-key`` or (anthropic 2.x) ``Authorization: Bearer``."""
        return _api_key(self.headers)

    def system_text(self) -> str:
        return FakeClaude.system_text(self)

    def all_text(self) -> str:
        return FakeClaude.all_text(self)


def _api_key(headers: Any) -> str | None:
    """anthropic 2.x sends ``api_key`` as ``Authorization: Bearer``; older SDKs and curl use ``x-api-key``."""
    key = headers.get("x-api-key")
    if key:
        return str(key)
    auth = str(headers.get("authorization") or "")
    return auth[7:] if auth.lower().startswith("bearer ") else None


def content_text(content: Any) -> str:
    """One message's content as text, whether a plain string or a list of blocks."""
    return "\n\n".join(_texts(content))


def _texts(content: Any) -> list[str]:
    """The human-readable text inside a message content / system value (strings, text blocks, tool
    results)."""
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    if isinstance(content, list):
        for block in content:
            out.extend(_texts(block))
    elif isinstance(content, dict):
        if isinstance(content.get("text"), str):
            out.append(content["text"])
        elif "content" in content:  # tool_result
            out.extend(_texts(content["content"]))
    return out


def _blank_text(where: str, blocks: Any) -> str | None:
    """The API's complaint about an empty or whitespace-only text block among ``blocks``, if any."""
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            if not block["text"]:
                return f"{where}: text content blocks must be non-empty"
            if block["text"].isspace():
                return f"{where}: text content blocks must contain non-whitespace text"
    return None


def _blank_content(body: dict[str, Any]) -> str | None:
    """What the real API says of a request with blank content: every message needs some (only a final
    assistant message, a prefill, may be empty), and no text block, system ones included, may be empty or
    whitespace only (a plain string content is one text block). Consecutive same-role messages are fine:
    the API joins them into one turn."""
    system = body.get("system")
    problem = _blank_text("system", system) if isinstance(system, list) else None
    if problem is not None:
        return problem
    messages = body["messages"] if isinstance(body["messages"], list) else []
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if content == "" or content == []:
            if i == len(messages) - 1 and message.get("role") == "assistant":
                continue
            return (f"messages.{i}: all messages must have non-empty content except for the optional final "
                    "assistant message")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        problem = _blank_text("messages", blocks)
        if problem is not None:
            return problem
    return None


IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
MAX_IMAGE_BASE64 = 5 * 1024 * 1024  # the API's limit is on the base64 text, not the decoded bytes
MAX_IMAGES = 100
MAX_IMAGE_SIDE = 8000  # pixels, either side


def _dimensions(data: bytes, media_type: str) -> tuple[int, int] | None:
    """An image's (width, height) as its header states it (None: no header the API could read). Written
    apart from the bot's reader (bot/reply/media.py) so that a mistake in one is not hidden by the other."""
    if media_type == "image/png":
        return (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) \
            if data[12:16] == b"IHDR" and len(data) >= 24 else None
    if media_type == "image/gif":
        return (int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")) \
            if len(data) >= 10 else None
    if media_type == "image/jpeg":
        i = 2
        while i + 9 <= len(data) and data[i] == 0xFF:
            marker, size = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
            if marker == 0xDA or size < 2:
                return None
            i += 2 + size
        return None
    kind = data[12:16]
    if kind == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if kind == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1
    if kind == b"VP8 " and len(data) >= 30:
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    return None


def _image_type(data: bytes) -> str | None:
    """What the bytes are, by magic number (as the API tells a mislabelled image)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _decodable(data: bytes, media_type: str) -> bool:
    """Whether the whole image is there (the API cannot process a file cut short): each format's end."""
    if media_type == "image/png":  # and its pixel data (the IDAT chunks) must inflate
        if not data.endswith(b"IEND\xaeB`\x82"):
            return False
        pos, pixels = 8, b""
        while pos + 8 <= len(data):
            length, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
            pixels += data[pos + 8:pos + 8 + length] if kind == b"IDAT" else b""
            pos += 12 + length
        try:
            return bool(zlib.decompress(pixels))
        except zlib.error:
            return False
    if media_type == "image/jpeg":
        return b"\xff\xd9" in data[-64:]
    if media_type == "image/gif":
        return data.endswith(b";")
    return len(data) >= 12 and int.from_bytes(data[4:8], "little") + 8 <= len(data)


def image_problem(body: dict[str, Any]) -> str | None:
    """What the API says of a bad image block (base64 source): unknown media type, undecodable base64, over
    5 MB, empty, bytes of another type than declared, not a whole image or no readable size, a side over
    8,000 px; and more than 100 images."""
    count = 0
    for i, message in enumerate(body.get("messages") or []):
        content = message.get("content") if isinstance(message, dict) else None
        for j, block in enumerate(content if isinstance(content, list) else []):
            if not isinstance(block, dict) or block.get("type") != "image":
                continue
            count += 1
            where = f"messages.{i}.content.{j}.image.source"
            source = block.get("source")
            if not isinstance(source, dict) or source.get("type") not in ("base64", "url"):
                return f"{where}: Input tag does not match any of the expected tags: 'base64', 'url'"
            if source["type"] == "url":
                continue
            media_type, data = source.get("media_type"), source.get("data")
            if media_type not in IMAGE_MEDIA_TYPES:
                return (f"{where}.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' "
                        "or 'image/webp'")
            if not isinstance(data, str):
                return f"{where}.base64.data: Field required"
            if len(data) > MAX_IMAGE_BASE64:
                return (f"{where}.base64: image exceeds 5 MB maximum: {len(data)} bytes > "
                        f"{MAX_IMAGE_BASE64} bytes")
            try:
                raw = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                return f"{where}.base64.data: The image data is not valid base64"
            if not raw:
                return f"{where}.base64.data: image cannot be empty"
            actual = _image_type(raw)
            if actual is not None and actual != media_type:
                return (f"{where}.base64.data: The image was specified using the {media_type} media type, "
                        f"but the image appears to be a {actual} image")
            size = None if actual is None else _dimensions(raw, actual)
            if actual is None or not _decodable(raw, actual) or not size or min(size) < 1:
                return f"{where}.base64.data: Could not process image"
            if max(size) > MAX_IMAGE_SIDE:
                return (f"{where}.base64.data: At least one of the image dimensions exceed max allowed size: "
                        f"{MAX_IMAGE_SIDE} pixels")
    if count > MAX_IMAGES:
        return f"messages: Too many images in the request: {count} > {MAX_IMAGES}"
    return None


def retry_headers(reply: Reply) -> dict[str, str]:
    """``retry-after`` and ``retry-after-ms`` on a 429 or 5xx, as both APIs send them (see :class:`Reply`)."""
    if reply.retry_after is None or not (reply.status == 429 or reply.status >= 500):
        return {}
    return {"retry-after": f"{reply.retry_after:g}",
            "retry-after-ms": str(max(1, round(reply.retry_after * 1000)))}


class ModelServer:
    """What the fake Claude and the fake OpenAI-compatible server share: serving on a free local port, the
    answer choice (``fail_all`` > scripted rules in order > ``responder`` hook > ``default_text``) and the
    record of requests. A subclass adds its routes in :meth:`add_routes`."""

    def __init__(self, *, zero_latency: bool, default_text: str, chunk_size: int,
                 api_key: str | None) -> None:
        self.zero_latency = zero_latency
        self.default_text = default_text
        self.chunk_size = chunk_size  # characters per streamed text piece
        self.api_key = api_key  # when set, any other key gets 401
        self.responder: Responder | None = None
        self.rules: list[Rule] = []
        self.requests: list[Recorded] = []
        self.model_lists = 0  # how often GET /v1/models was asked
        self._failing: Reply | None = None
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._connections: dict[str, asyncio.Task[None]] = {}  # each client connection's handling, by name
        self.port = 0

    # -- lifecycle

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self.add_routes(app)
        # handler_cancellation: a client that timed out stops its handler, as a real server stops generating
        self._runner, self.port = await serve_local(app, handler_cancellation=True, shutdown_timeout=0.5)
        return self

    async def close(self) -> None:
        for task in list(self._tasks):  # slow answers nobody waits for any more must not hold up shutdown
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def tracked(self, answer: Awaitable[web.StreamResponse]) -> web.StreamResponse:
        """Await a handler's answer, cancelled by :meth:`close` if it is still running then."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            return await answer
        finally:
            if task is not None:
                self._tasks.discard(task)

    # -- scripting and observation

    def recover(self) -> None:
        self._failing = None

    def connection_of(self, request: web.Request) -> str:
        """The client's end of the connection ``request`` came on ("host:port"), watched until it closes."""
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        name = f"{peer[0]}:{peer[1]}" if peer else "?"
        self._connections[name] = request.task  # aiohttp's task serving the connection: each request of it
        return name

    async def wait_for_hangup(self, connection: str, timeout: float = EVENT_WAIT) -> None:
        """Wait until the client closed ``connection`` (a request's :attr:`Recorded.connection`)."""
        done, _ = await asyncio.wait({self._connections[connection]}, timeout=timeout)
        if not done:
            raise AssertionError(f"the client kept connection {connection} open")

    def requests_for(self, model: str) -> list[Recorded]:
        return [r for r in self.requests if r.model == model]

    async def _choose(self, body: dict[str, Any]) -> Reply:
        if self._failing is not None:
            return self._failing
        for rule in self.rules:
            if rule.applies(body):
                rule.served += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self.rules.remove(rule)
                return rule.reply
        if self.responder is not None:
            answer = self.responder(body)
            if inspect.isawaitable(answer):
                answer = await answer
            if isinstance(answer, Reply):
                return answer
            if isinstance(answer, str):
                return Reply(answer)
        return Reply(self.default_text)


class FakeClaude(ModelServer):
    """The fake API server. Answer choice per request: ``fail_all`` > scripted rules (in order) >
    ``responder`` hook > ``default_text``.

    ``zero_latency=True`` is for benchmarks: scripted delays are ignored and a stream is one write with a
    single text delta and no ping.
    """

    def __init__(self, *, zero_latency: bool = False, default_text: str = "Hello from fake Claude.",
                 chunk_size: int = 16, min_cache_tokens: int | None = None,
                 api_key: str | None = None) -> None:
        super().__init__(zero_latency=zero_latency, default_text=default_text, chunk_size=chunk_size,
                         api_key=api_key)  # api_key: checked against x-api-key or Bearer
        # None: each model's documented minimum cacheable length; a number: that one for every model
        self.cache = PromptCache(min_tokens=min_cache_tokens)
        # 400 for bodies the real API would reject: no model, messages or max_tokens; blank content
        self.validate = True
        self.count_requests: list[Recorded] = []
        # GET /v1/models: what it lists (newest first, as the real API orders them: the lineup of
        # tests/fakes/claude_models.py, dated ids for the older models)
        self.models: list[str] = list(LISTED_MODELS)
        self._lock = threading.Lock()  # requests/waiters may be read from another thread's loop (benchmarks)
        self._waiters: list[tuple[int, str | None, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.batches = BatchRoutes(self)  # the Message Batches routes (tests/fakes/claude_batches.py)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)
        self.batches.add_routes(app)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_get("/v1/models", self._models)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting

    def script(self, text: str | Reply | None = None, *, model: str | None = None, status: int | None = None,
               delay: float = 0.0, stream_delay: float = 0.0, times: int | None = 1,
               match: Match | None = None, usage: dict[str, int] | None = None, stop_reason: str = "end_turn",
               retry_after: float | None = 0.0,
               stream_error: str | None = None, error_type: str | None = None) -> Rule:
        """Answer the next ``times`` requests (None: all) for ``model`` (None: any) that ``match`` accepts.

        Rules are tried in the order they were added; ``text`` may be a ready :class:`Reply`.
        """
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        if isinstance(text, Reply):
            reply = text
        else:
            reply = Reply(text or "", status or 200, delay, stream_delay, usage, stop_reason, error_type,
                          text if status not in (None, 200) else None, retry_after, stream_error)
        rule = Rule(reply, model, match, times)
        self.rules.append(rule)
        return rule

    def fail_all(self, status: int = 529, *, retry_after: float | None = 0.0,
                 error_type: str | None = None) -> None:
        """Answer every request with this error until :meth:`recover` (scripted rules stay queued)."""
        self._failing = Reply(status=status, retry_after=retry_after, error_type=error_type)

    def clear_cache(self) -> None:
        self.cache.clear()

    def reset(self) -> None:
        """Forget rules, failures, recorded requests and the prompt cache."""
        self.rules.clear()
        self._failing = None
        self.responder = None
        with self._lock:
            self.requests.clear()
            self.count_requests.clear()
        self.cache.clear()
        self.batches.reset()

    # -- observation

    def last_request(self, model: str | None = None) -> Recorded:
        found = self.requests if model is None else self.requests_for(model)
        if not found:
            raise AssertionError(f"no Claude request{'' if model is None else ' for ' + model} recorded")
        return found[-1]

    @staticmethod
    def system_text(req: Recorded | dict[str, Any]) -> str:
        """All system text, whether ``system`` is a string or a list of blocks."""
        body = req.body if isinstance(req, Recorded) else req
        return "\n".join(_texts(body.get("system") or ""))

    @classmethod
    def all_text(cls, req: Recorded | dict[str, Any]) -> str:
        """System text plus the text of every message, in order."""
        body = req.body if isinstance(req, Recorded) else req
        parts = [cls.system_text(body)]
        for message in body.get("messages") or []:
            parts.extend(_texts(message.get("content", "")))
        return "\n".join(parts)

    async def wait_for_requests(self, n: int, timeout: float = EVENT_WAIT, *,
                                model: str | None = None) -> list[Recorded]:
        """Wait until at least ``n`` messages requests (for ``model``, if given) arrived; works from any
        loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        waiter = (n, model, loop, future)
        with self._lock:
            if self._count(model) >= n:
                return self._matching(model)
            self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await future
        except TimeoutError:
            raise AssertionError(f"expected {n} Claude requests{'' if model is None else ' for ' + model}, "
                                 f"got {self._count(model)}") from None
        finally:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return self._matching(model)

    def _matching(self, model: str | None) -> list[Recorded]:
        return list(self.requests) if model is None else self.requests_for(model)

    def _count(self, model: str | None) -> int:
        return len(self.requests) if model is None else sum(r.model == model for r in self.requests)

    def _record(self, record: Recorded) -> None:
        with self._lock:
            self.requests.append(record)
            for n, model, loop, future in self._waiters:
                if self._count(model) >= n:
                    loop.call_soon_threadsafe(_resolve, future)

    # -- prompt caching

    def _usage(self, body: dict[str, Any], output_text: str, *, remember: bool = True) -> dict[str, Any]:
        """Input tokens split into cache read / cache write / plain (tests/fakes/prompt_cache.py)."""
        split = self.cache.usage(body, remember=remember)
        return {
            "input_tokens": split.input_tokens,
            "output_tokens": estimate_tokens(output_text, str(body.get("model"))),
            "cache_creation_input_tokens": split.cache_creation_input_tokens,
            "cache_read_input_tokens": split.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": split.cache_creation_input_tokens - split.written_1h,
                "ephemeral_1h_input_tokens": split.written_1h},
            "service_tier": "standard",
        }

    # -- handlers

    async def _read_body(self, request: web.Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    def _invalid(self, request: web.Request, body: dict[str, Any] | None, *,
                 need_max_tokens: bool) -> Reply | None:
        """The 4xx the real API would give this request before looking at the prompt, if any."""
        refused = self._headers_refused(request, json_body=True)
        if refused is not None:
            return refused
        if body is None:
            return Reply(status=400, error_message="Request body is not a valid JSON object")
        return self._invalid_body(body, need_max_tokens=need_max_tokens)

    def _invalid_body(self, body: dict[str, Any], *, need_max_tokens: bool = True) -> Reply | None:
        """The 400 the real API gives this body (a batch's request gets it as its errored result)."""
        if not self.validate:
            return None
        for name in ("model", "messages", *(("max_tokens",) if need_max_tokens else ())):
            if name not in body:
                return Reply(status=400, error_message=f"{name}: Field required")
        if not body["messages"]:
            return Reply(status=400, error_message="messages: at least one message is required")
        blank = _blank_content(body) or tool_problem(body) or PromptCache.problem(body)
        if blank is not None:
            return Reply(status=400, error_message=blank)
        bad_image = image_problem(body)
        if bad_image is not None:
            return Reply(status=400, error_message=bad_image)
        refused = violation(body)
        if refused is not None:
            return Reply(status=400, error_message=refused)
        return None

    def _headers_refused(self, request: web.Request, *, json_body: bool) -> Reply | None:
        """What the real API answers a request missing a header it requires, before anything else: no key
        is a 401, no ``anthropic-version`` a 400 (both in the API's words); a body not sent as
        ``application/json`` is a 400 here too (in the fake's words)."""
        key = _api_key(request.headers)
        if not key:
            return Reply(status=401, error_message="x-api-key header is required")
        if self.api_key is not None and key != self.api_key:
            return Reply(status=401, error_message="invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return Reply(status=400, error_message="anthropic-version: header is required")
        if json_body and request.content_type != "application/json":
            return Reply(status=400, error_message=f"content-type must be application/json, not "
                                                   f"{request.content_type!r}")
        return None

    async def _count_tokens(self, request: web.Request) -> web.Response:
        body = await self._read_body(request)
        record = Recorded(request.path, str((body or {}).get("model")), body or {},
                          {k.lower(): v for k, v in request.headers.items()}, False, time.monotonic())
        with self._lock:
            self.count_requests.append(record)
        invalid = self._invalid(request, body, need_max_tokens=False)
        if invalid is not None:
            return self._error_response(invalid, record)
        assert body is not None
        tokens = sum(estimate_tokens(b.text, str(body.get("model"))) for b in blocks(body))
        record.finished_at = time.monotonic()
        return web.json_response({"input_tokens": tokens})

    async def _models(self, request: web.Request) -> web.Response:
        """The Models API's list: authenticated like every route, paged with ``limit`` (1..1000, default
        20), ``after_id`` and ``before_id``."""
        self.model_lists += 1
        refused = self._headers_refused(request, json_body=False)
        if refused is not None:
            error_type = ERROR_TYPES[refused.status]
            return web.json_response({"type": "error", "error": {"type": error_type,
                                                                 "message": refused.error_message}},
                                     status=refused.status)
        if self._failing is not None:  # an outage (fail_all) fails this route too
            return self._error_response(self._failing, Recorded(request.path, "", {}, {}, False,
                                                                time.monotonic()))
        try:
            limit = int(request.query.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            return web.json_response({"type": "error", "error": {
                "type": "invalid_request_error", "message": "limit: must be between 1 and 1000"}}, status=400)
        ids = list(self.models)
        if request.query.get("after_id") in ids:
            ids = ids[ids.index(request.query["after_id"]) + 1:]
        elif request.query.get("before_id") in ids:
            ids = ids[:ids.index(request.query["before_id"])]
        page = ids[:limit]
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in page]
        return web.json_response({"data": data, "has_more": len(ids) > limit, "first_id": page[0] if page
                                  else None, "last_id": page[-1] if page else None})

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        return await self.tracked(self._answer(request))

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        received = time.monotonic()
        body = await self._read_body(request)
        reply = self._invalid(request, body, need_max_tokens=True)
        body = body or {}
        if reply is None:
            reply = await self._choose(body)
        stream = bool(body.get("stream"))
        record = Recorded(request.path, str(body.get("model")), body,
                          {k.lower(): v for k, v in request.headers.items()}, stream, received,
                          connection=self.connection_of(request))
        if reply.status == 200 and reply.stream_error and not stream:
            reply = Reply(status=_STATUS_FOR_TYPE.get(reply.stream_error, 500), error_type=reply.stream_error,
                          retry_after=reply.retry_after)
        thinking = 0
        if reply.status == 200 and reply.tools is not None:
            answer = reply.tools.answer_to(body)
            used = {"web_search_requests": answer.searches, "web_fetch_requests": answer.fetches}
            reply = dataclasses.replace(reply, text=answer.text, stop_reason=answer.stop_reason,
                                        content=answer.content, tools=None,
                                        server_tool_use=used if answer.searches or answer.fetches else None)
        if reply.status == 200:
            reply, thinking = self._spend(body, self.constrained(body, reply))
        record.status, record.text = reply.status, reply.text if reply.status == 200 else ""
        if reply.status == 200:
            record.usage = self._usage(body, reply.text)
            record.usage["output_tokens"] = ((estimate_tokens(reply.text, record.model) if reply.text else 0)
                                             + thinking)
            record.thinking_tokens = thinking
            if reply.usage:
                record.usage.update(reply.usage)
            if reply.server_tool_use:
                record.usage["server_tool_use"] = dict(reply.server_tool_use)
        self._record(record)
        try:
            if reply.delay and not self.zero_latency:
                await asyncio.sleep(reply.delay)
            if reply.held is not None:
                await reply.held.wait()
            if reply.status != 200:
                return self._error_response(reply, record)
            message = self._message(body, reply, thinking, record.usage)
            if not stream:
                record.finished_at = time.monotonic()
                return web.json_response(message, headers={"request-id": f"req_fake_{message['id'][9:]}",
                                                           **reply.headers})
            return await self._stream(request, message, reply, record)
        except asyncio.CancelledError:  # handler_cancellation: the client closed the connection
            record.cut_at = time.monotonic()
            raise

    def _message(self, body: dict[str, Any], reply: Reply, thinking: int, usage: dict[str, Any]
                 ) -> dict[str, Any]:
        """The Message JSON of a successful answer."""
        content: list[dict[str, Any]] = []
        if thinking:  # first, its text omitted (the default display); the signature is what comes back
            content.append({"type": "thinking", "thinking": "", "signature": f"sig_fake_{thinking}"})
        if reply.content is not None:
            content.extend(reply.content)
        elif reply.text or not thinking:
            content.append({"type": "text", "text": reply.text})
        return {"id": f"msg_fake_{next(self._ids):06d}", "type": "message", "role": "assistant",
                "model": body.get("model"), "content": content,
                "stop_reason": reply.stop_reason, "stop_sequence": None, "usage": usage}

    @staticmethod
    def constrained(body: dict[str, Any], reply: Reply) -> Reply:
        """Under ``output_config.format`` the answer is JSON, as the real model's decoding is held to the
        schema: a scripted JSON object stands for what the model decoded (tests script partial ones), held to
        the schema as decoding holds the model (:func:`hold`: no key it does not list, no value off it); a
        scripted text that is not JSON is read into the schema (a vote script's "yes" becomes
        ``{"vote": "yes"}``), else the smallest value that follows it."""
        schema = schema_of(body)
        if schema is None or reply.status != 200:
            return reply
        try:
            scripted = json.loads(reply.text)
        except ValueError:
            scripted = None
        if isinstance(scripted, dict):  # held to the schema: no key it does not list, no value off it
            held = hold(scripted, schema)
            return reply if held == scripted else dataclasses.replace(
                reply, text=json.dumps(held, ensure_ascii=False))
        return dataclasses.replace(reply, text=json.dumps(read_into(reply.text, schema)))

    @staticmethod
    def _output_tokens(text: str, model: str) -> int:
        return estimate_tokens(text, model) if text else 0

    def _error_body(self, reply: Reply) -> dict[str, Any]:
        error_type = reply.error_type or ERROR_TYPES.get(reply.status, "api_error")
        message = reply.error_message or _DEFAULT_MESSAGES.get(error_type,
                                                               f"fake {error_type} ({reply.status})")
        return {"type": "error", "error": {"type": error_type, "message": message}}

    @staticmethod
    def _spend(body: dict[str, Any], reply: Reply) -> tuple[Reply, int]:
        """The answer within ``max_tokens``: thinking first (the model's, by effort, when it thinks), then
        as much text as fits. Thinking that fills ``max_tokens`` leaves no text."""
        rules = rules_for(str(body.get("model")))
        if reply.thinking_tokens is not None:
            thinking = reply.thinking_tokens
        else:
            thinking = THINKING_TOKENS[effort_of(body, rules)] if thinks(body, rules) else 0
        if reply.stop_reason == "refusal":
            return reply, 0
        if reply.content is not None:  # a tool turn's blocks go out whole
            return reply, thinking
        limit = int(body.get("max_tokens") or 0)
        if thinking >= limit > 0:
            return Reply(text="", stop_reason="max_tokens", headers=reply.headers,
                         stream_delay=reply.stream_delay), limit
        room = limit - thinking
        model = str(body.get("model"))
        if reply.text and estimate_tokens(reply.text, model) > room > 0:
            cut = reply.text[:max(0, int((room - 1) * 4 / token_factor(model)))]
            return Reply(text=cut, stop_reason="max_tokens", headers=reply.headers,
                         stream_delay=reply.stream_delay, usage=reply.usage), thinking
        return reply, thinking

    def _error_response(self, reply: Reply, record: Recorded) -> web.Response:
        error_type = reply.error_type or ERROR_TYPES.get(reply.status, "api_error")
        record.status, record.error_type, record.finished_at = reply.status, error_type, time.monotonic()
        headers = {"request-id": f"req_fake_err_{next(self._ids):06d}", **reply.headers,
                   **retry_headers(reply)}
        message = reply.error_message or _DEFAULT_MESSAGES.get(error_type,
                                                               f"fake {error_type} ({reply.status})")
        return web.json_response({"type": "error", "error": {"type": error_type, "message": message}},
                                 status=reply.status, headers=headers)

    @staticmethod
    def _stream_block(event: Callable[[str, dict[str, Any]], None], index: int,
                      block: dict[str, Any]) -> None:
        for data in _stream_block_events(index, block):
            event(data["type"], data)

    async def _stream(self, request: web.Request, message: dict[str, Any], reply: Reply,
                      record: Recorded) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                               "Cache-Control": "no-cache",
                                               "request-id": f"req_fake_{message['id'][9:]}",
                                               **reply.headers})
        await response.prepare(request)
        usage = message["usage"]
        text = reply.text
        size = max(1, len(text)) if self.zero_latency else max(1, self.chunk_size)
        parts = [text[:reply.written_until], text[reply.written_until:]] if reply.writing else [text]
        chunks = [part[i:i + size] for part in parts for i in range(0, len(part), size)]
        paused_at = len(range(0, reply.written_until, size)) if reply.writing else -1  # first chunk held
        pace = 0.0 if self.zero_latency else reply.stream_delay
        pending: list[bytes] = []

        def event(name: str, data: dict[str, Any]) -> None:
            pending.append(b"event: " + name.encode() + b"\ndata: " + json.dumps(data).encode() + b"\n\n")

        async def flush() -> None:
            if pending:
                await response.write(b"".join(pending))
                pending.clear()

        event("message_start", {"type": "message_start", "message": {
            **message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}})
        index = 0
        if message["content"] and message["content"][0]["type"] == "thinking":
            thinking = message["content"][0]
            event("content_block_start", {"type": "content_block_start", "index": 0,
                                          "content_block": {"type": "thinking", "thinking": "",
                                                            "signature": ""}})
            event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "signature_delta",
                                                    "signature": thinking["signature"]}})
            event("content_block_stop", {"type": "content_block_stop", "index": 0})
            index = 1
        if reply.content is not None:  # a tool turn: each block as the API streams its kind
            for offset, block in enumerate(message["content"][index:]):
                self._stream_block(event, index + offset, block)
                if block["type"] == "server_tool_use" and reply.searching is not None:
                    await flush()  # the search runs on the server until the test lets it end
                    await reply.searching.wait()
            chunks = []
        has_text = reply.content is None and any(b["type"] == "text" for b in message["content"])
        if has_text:
            event("content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "text", "text": ""}})
        if not self.zero_latency:
            event("ping", {"type": "ping"})
        for n, chunk in enumerate(chunks):
            if reply.stream_error and n == reply.stream_error_after:
                break
            if pace:
                await flush()
                await asyncio.sleep(pace)
            if n == paused_at and reply.writing is not None:
                await flush()
                await reply.writing.wait()
            event("content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "text_delta", "text": chunk}})
        if reply.stream_error:
            error_type = reply.stream_error
            event("error", {"type": "error", "error": {
                "type": error_type, "message": _DEFAULT_MESSAGES.get(error_type, f"fake {error_type}")}})
            record.status, record.error_type = _STATUS_FOR_TYPE.get(error_type, 500), error_type
        else:
            if has_text:
                event("content_block_stop", {"type": "content_block_stop", "index": index})
            event("message_delta", {"type": "message_delta",
                                    "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                                    # the API repeats the input side here (cumulative counts)
                                    "usage": {k: usage[k] for k in (
                                        "output_tokens", "input_tokens", "cache_creation_input_tokens",
                                        "cache_read_input_tokens", "server_tool_use") if k in usage}})
            event("message_stop", {"type": "message_stop"})
        await flush()
        await response.write_eof()
        record.finished_at = time.monotonic()
        return response


def _stream_block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    """One content block of a tool turn as SSE events: a text's pieces and citations as deltas, a tool
    call's input as JSON deltas, a tool result whole at its start."""
    kind = block["type"]
    events: list[dict[str, Any]] = []

    def delta(d: dict[str, Any]) -> None:
        events.append({"type": "content_block_delta", "index": index, "delta": d})

    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        if block.get("citations"):
            start["citations"] = []
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        delta({"type": "text_delta", "text": block["text"]})
        for citation in block.get("citations") or []:
            delta({"type": "citations_delta", "citation": citation})
    elif kind in ("server_tool_use", "tool_use"):
        events.append({"type": "content_block_start", "index": index,
                       "content_block": {**block, "input": {}}})
        delta({"type": "input_json_delta", "partial_json": json.dumps(block["input"])})
    else:
        events.append({"type": "content_block_start", "index": index, "content_block": block})
    events.append({"type": "content_block_stop", "index": index})
    return events


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
