"""What every model backend shares: the prompt, the answer, usage, and how a failed call is judged.

The one request shape is the Anthropic Messages call's keyword arguments (``model``, ``max_tokens``,
``messages``, ``system`` when there is one, a non-default temperature in ``extra_body``), as prompt
assembly (bot/reply/prompting.py) builds it: the Anthropic backend sends it as it is, others translate it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from database.boundary import Json, JsonObject

BACKENDS = ("anthropic", "openai")
KEY_REJECTED = "rejected the API key"  # how a backend's probe says its key was refused (401/403)
MODELS_NOT_CHECKED = "the configured model ids are not checked"  # a probe that could not read the list

Request = JsonObject  # a model request as its API takes it (model, system, messages, ...): JSON


@dataclass(frozen=True)
class CallUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    cost: float = 0.0
    cache_creation_1h_tokens: int = 0  # of cache_creation_tokens, those written with the one-hour ttl
    web_search_requests: int = 0  # Anthropic's server tools: each search is billed on top of the tokens
    web_fetch_requests: int = 0  # (fetches cost only the tokens of what they read)


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    usage: CallUsage
    stop_reason: str | None = None
    # The answer's content blocks as JSON (server and client tool blocks, thinking with its signature): what
    # goes back to the model when a turn paused or asked for a client tool. Empty where not kept (OpenAI,
    # but for an answer that called functions: its text and tool_use blocks).
    content: tuple[JsonObject, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()  # (url, title) the answer cited or fetched, in order, once each


@dataclass
class Prompt:
    """A request's content: ``system`` blocks (stable ones first, carrying cache_control) and messages."""

    system: list[JsonObject] = field(default_factory=list)
    messages: list[JsonObject] = field(default_factory=list)
    # Seconds between the conversation's recent messages, oldest first: how long its cache entries should
    # live (bot/core/models/caching.py). Empty: no pauses known (5-minute entries).
    gaps: tuple[float, ...] = ()
    # What the layout placed, as (label, text): the operator's prompt inspector (bot/core/models/sent.py)
    # itemizes the request by these; the model never sees them.
    parts: tuple[tuple[str, str], ...] = ()
    # Whose words it quotes besides the person it is for (a channel's transcript): their /forget_me takes
    # the request out of the prompt inspector too. Never sent either.
    people: frozenset[int] = frozenset()
    # The tools the request declares (bot/core/models/tools.py), first in cache order: the same bytes from
    # request to request, or the cached prefix is lost. Left out by a backend that cannot call them.
    tools: tuple[JsonObject, ...] = ()
    # Whose private memories the request carries (the person it is for, when any): web_fetch is never
    # declared in a request carrying anyone else's (what a fetched page says could carry them away).
    memories_of: frozenset[int] = frozenset()

    def text(self) -> str:
        parts = [b.get("text", "") for b in self.system]
        for m in self.messages:
            content = m["content"]
            parts.extend([content] if isinstance(content, str) else [b.get("text", "") for b in content])
        return "\n".join(parts)


@runtime_checkable
class ToolAware(Protocol):
    """A streamed answer's reader that wants to know when a server tool starts (a search runs on the API's
    side in the middle of the stream): ``text`` is what was written before it."""

    def __call__(self, text: str) -> None: ...

    def tool_started(self, text: str) -> None: ...


class SoFar:
    """The text of a streamed answer written so far: the backend writes into it as the text comes, a reader
    (delivery) waits on ``changed`` and reads ``text``. A value handed down, so the one who reads is never
    called back from the model client."""

    def __init__(self) -> None:
        self.text = ""
        self.changed = asyncio.Event()
        self.working = False  # a tool runs between the answer's calls: nothing is written meanwhile

    def wrote(self, text: str) -> None:
        self.text = text
        self.working = False
        self.changed.set()

    def tools_running(self) -> None:
        self.working = True
        self.changed.set()


class SoFarRound:
    """What one call of a streamed answer of several calls (a reply using tools) writes into ``written``,
    after the text of the calls before it (``before``, a paragraph each); told when a server tool starts in
    the middle of the stream, the text so far is whole and typing shows. A value of the core like
    :class:`SoFar`, so the model client calls nothing above it."""

    def __init__(self, written: SoFar, before: str) -> None:
        self.written, self.before = written, before

    def __call__(self, text: str) -> None:
        self.written.wrote(self._joined(text))

    def tool_started(self, text: str) -> None:
        said = self._joined(text)
        self.written.wrote(f"{said}\n\n" if said else "")
        self.written.tools_running()

    def _joined(self, text: str) -> str:
        return f"{self.before}\n\n{text}" if self.before and text else self.before or text


@dataclass(frozen=True)
class Failure:
    """How a backend judges an exception its SDK (or its own HTTP call) raised: the line to log, whether
    another try is worth it, and how long the server asked us to wait first (None: our own backoff)."""

    message: str
    retryable: bool
    retry_after: float | None = None


class Backend(Protocol):
    """One kind of model server. Calls raise the SDK's own exceptions (or the backend's own, for a call it
    makes without the SDK); ``failure`` judges them."""

    name: str  # "anthropic" or "openai"
    label: str  # how log lines name it ("Claude", ...)
    base_url: str

    def shape(self, request: Request, *, background: bool, effort: str | None,
              gaps: Sequence[float] = (), schema: Mapping[str, Json] | None = None) -> Request:
        """The request as its model accepts it (background: the least thinking the model allows; ``gaps``:
        the conversation's pace, for its cache lifetimes; ``schema``: a JSON schema the answer must follow,
        where the model can be held to one)."""
        ...

    # ``timeout``: this request's own (seconds per connect and per read), the call's deadline as the
    # settings have it now; the client's start-up value would outlive a live reload.
    async def create(self, request: Request, *, timeout: float) -> Completion: ...

    async def stream(self, request: Request, on_text: Callable[[str], None] | None, *,
                     timeout: float) -> Completion: ...

    def failure(self, exc: Exception) -> Failure | None:
        """The exception judged, or None when it is not a failure of the server or the wire (a bug)."""
        ...

    async def probe(self, models: list[str]) -> str | None:
        """A start-up check: None when the server answers, else what is wrong (one line)."""
        ...

    async def close(self) -> None: ...


def route(model: str, default: str) -> tuple[str, str]:
    """(backend, model name) for a configured model: ``openai:<name>`` or ``anthropic:<name>`` pick their
    backend (Ollama names such as ``llama3.2:3b`` keep their own colon), anything else goes to ``default``."""
    prefix, sep, rest = model.partition(":")
    if sep and prefix in BACKENDS and rest:
        return prefix, rest
    return default, model


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """A server's ``retry-after-ms`` / ``retry-after`` (seconds), capped at 10 s; None when absent."""
    if headers is None:
        return None
    try:
        if headers.get("retry-after-ms") is not None:
            return min(float(headers["retry-after-ms"]) / 1000, 10.0)
        if headers.get("retry-after") is not None:
            return min(float(headers["retry-after"]), 10.0)
    except ValueError:
        pass
    return None


def temperature_of(request: Request) -> float | None:
    """The non-default temperature a request carries (see bot.core.claude._set_temperature), if any."""
    extra = request.get("extra_body")
    return extra.get("temperature") if isinstance(extra, dict) else None


def parse_model_costs(text: str) -> dict[str, tuple[float, float]]:
    """``model_costs``: comma-separated ``MODEL=USD per input token[/USD per output token]`` (output
    defaults to the input price) -> {model: (input, output)}. Raises ValueError naming the bad entry."""
    costs: dict[str, tuple[float, float]] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        model, sep, prices = entry.rpartition("=")  # model names may hold "/" and ":", never "="
        try:
            if not sep or not model.strip():
                raise ValueError
            values = [float(p) for p in prices.split("/")]
            if len(values) not in (1, 2) or any(not 0 <= v < float("inf") for v in values):
                raise ValueError
        except ValueError:
            raise ValueError(f"expected MODEL=PRICE[/OUTPUT PRICE], got {entry!r}") from None
        costs[route(model.strip(), "")[1]] = (values[0], values[-1])
    return costs
