"""Talking to one MCP server through the official SDK's client (``mcp.Client``): a fresh session per call
(listing its tools, or running one), each held to ``mcp_call_seconds`` whole (connecting included). A
server that hangs, answers garbage, or is gone costs that one bounded call and one log line, and is then
left alone for ``mcp_retry_seconds`` (its tools not declared meanwhile: no reply waits on it again). Its
tools' listing is kept as long, so the declarations are the same bytes from reply to reply (the cached
prefix starts with them)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx2

from bot.core.models.tools import ToolOutput
from bot.features.mcp.address import guarded_transport
from bot.features.mcp.config import McpSettings
from bot.features.mcp.schema import McpTool, checked
from database.boundary import JsonObject

if TYPE_CHECKING:
    from mcp import Client

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class LocalProgram:
    """One of the operator's local MCP servers: a program on this host, spoken to over its stdio."""

    command: str
    args: tuple[str, ...] = ()


Target = str | LocalProgram  # a streamable HTTP URL, or the operator's local program
MAX_LISTED = 100  # tools of one server read from its listing (the rest are not looked at)


class Link:
    """One MCP server as one Discord server added it (its name there, where it is reached)."""

    def __init__(self, name: str, target: Target, settings: McpSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.target, self.settings, self.clock = name, target, settings, clock
        self._listed: tuple[McpTool, ...] | None = None
        self._listed_at = 0.0
        self._down_until = 0.0
        self._lock = asyncio.Lock()  # one listing at a time: replies arriving together share it

    @property
    def down(self) -> bool:
        return self.clock() < self._down_until

    def _failed(self, doing: str, exc: BaseException) -> None:
        self._down_until = self.clock() + self.settings.mcp_retry_seconds
        self._listed = None
        what = "did not answer in time" if isinstance(exc, TimeoutError) else f"failed ({_said(exc)})"
        log.warning("MCP server %s: %s %s; left alone for %.0f s", self.name, doing, what,
                    self.settings.mcp_retry_seconds)

    def _client(self) -> Client:
        # The SDK (some 26 MB of modules) is imported on the first call to an MCP server, not at start-up:
        # most bots never use one.
        from mcp import Client, StdioServerParameters  # noqa: PLC0415

        if isinstance(self.target, str):
            return Client(_capped_http(self.target, self.settings.mcp_response_bytes,
                                       self.settings.mcp_call_seconds,
                                       guarded=not self.settings.mcp_private_hosts), cache=None)
        return Client(StdioServerParameters(command=self.target.command, args=list(self.target.args)),
                      cache=None)

    async def tools(self) -> tuple[McpTool, ...]:
        """Its tools fit to declare (none while it is down); listed again after ``mcp_retry_seconds``."""
        if self.down:
            return ()
        async with self._lock:
            age = self.clock() - self._listed_at
            if self._listed is not None and age < self.settings.mcp_retry_seconds:
                return self._listed
            if self.down:  # it failed while this one waited for the lock
                return ()
            try:
                async with asyncio.timeout(self.settings.mcp_call_seconds), self._client() as client:
                    listing = await client.list_tools()
            except Exception as exc:  # noqa: BLE001 - whatever a third party's server does, it costs one line
                self._failed("listing its tools", exc)
                return ()
            found: list[McpTool] = []
            wrong: list[str] = []
            for tool in listing.tools[:MAX_LISTED]:
                fit = checked(self.name, tool.name, tool.description, tool.input_schema)
                if isinstance(fit, McpTool):
                    found.append(fit)
                else:
                    wrong.append(fit)
            if wrong:
                log.warning("MCP server %s: %s left out: %s", self.name, _count(len(wrong), "tool"),
                            "; ".join(str(w) for w in wrong[:3]))
            self._listed, self._listed_at = tuple(sorted(found, key=lambda t: t.api_name)), self.clock()
            return self._listed

    async def call(self, tool: McpTool, arguments: JsonObject) -> ToolOutput:
        """Run ``tool`` with the model's ``arguments``: its text (cut at ``mcp_result_chars``), or an error
        the model reads (the tool failed, did not answer)."""
        if (problem := await tool.input_problem(arguments, self.settings.mcp_call_seconds)) is not None:
            return ToolOutput(problem, error=True)
        if self.down:
            return ToolOutput("that tool's server is unavailable right now", error=True)
        try:
            async with asyncio.timeout(self.settings.mcp_call_seconds), self._client() as client:
                result = await client.call_tool(tool.name, arguments)
        except Exception as exc:  # noqa: BLE001 - as above
            self._failed(f"running {tool.name}", exc)
            return ToolOutput("the tool did not answer", error=True)
        text = _text(result.content, result.structured_content)
        cap = self.settings.mcp_result_chars
        if len(text) > cap:
            log.warning("MCP server %s: %s answered %d characters; the first %d kept", self.name, tool.name,
                        len(text), cap)
            text = f"{text[:cap]}\n[cut: {len(text) - cap} more characters]"
        return ToolOutput(text or "(no text)", error=bool(result.is_error))


class TooLong(httpx2.StreamError):
    """An MCP server's answer ran past ``mcp_response_bytes`` (a StreamError: the SDK turns it into the
    request's error instead of waiting on)."""


class _CappedBody(httpx2.AsyncByteStream):
    """A response body read up to ``cap`` bytes: past it the read stops with :class:`TooLong`, the rest
    never held in memory."""

    def __init__(self, body: httpx2.AsyncByteStream, cap: int) -> None:
        self.body, self.cap = body, cap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        read = 0
        async for chunk in self.body:
            read += len(chunk)
            if read > self.cap:
                raise TooLong(f"its answer ran past {self.cap} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self.body.aclose()


def _capped_http(url: str, cap: int, seconds: float, *, guarded: bool) -> AbstractAsyncContextManager[Any]:
    """The SDK's streamable HTTP transport to ``url`` over an HTTP client whose every answer is read up to
    ``cap`` bytes (the SDK reads a JSON answer whole; an event of a stream is held to it too). Asked
    uncompressed, so the bytes counted are the bytes held. ``guarded``: every connection it makes goes to
    a public address, checked as it is made (:mod:`.address`): a redirect's connection too."""
    from mcp.client.streamable_http import streamable_http_client  # noqa: PLC0415  (on the first call)

    async def capped(response: httpx2.Response) -> None:  # before its body is read
        response.stream = _CappedBody(response.stream, cap)  # type: ignore[arg-type]

    @asynccontextmanager
    async def connected() -> AsyncIterator[Any]:
        http = httpx2.AsyncClient(timeout=httpx2.Timeout(seconds), headers={"Accept-Encoding": "identity"},
                                  event_hooks={"response": [capped]},
                                  transport=guarded_transport() if guarded else None)
        async with http, streamable_http_client(url, http_client=http, max_sse_event_size=cap) as streams:
            yield streams

    return connected()


def _text(content: list[Any], structured: object) -> str:
    """What a tool's result says as text: its text blocks, or its structured content as JSON; other kinds
    (an image, a resource) named, not read."""
    parts = []
    for block in content:
        kind = getattr(block, "type", "")
        parts.append(str(getattr(block, "text", "")) if kind == "text" else f"[{kind or 'unknown'} left out]")
    if not any(parts) and structured is not None:
        try:
            return json.dumps(structured, ensure_ascii=False)
        except (TypeError, ValueError):
            return ""
    return "\n".join(parts)


def _said(exc: BaseException) -> str:
    """An exception in a few words (an exception group: its first leaf, which is what went wrong)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {str(exc)[:160]}" if str(exc) else type(exc).__name__


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"
