"""A fake MCP server built with the official SDK's own server side (``mcp.server.mcpserver.MCPServer``, what
was FastMCP), served as streamable HTTP on 127.0.0.1 (a port the system picks) or run as a stdio program
(``python -m tests.fakes.mcp_server``). Its tools:

* ``forecast(city)``: a plain answer ("sunny in <city>"); every call is kept in :attr:`FakeMcp.calls`;
* ``diary(day)``: a tool its admins do not allow (it must never be declared);
* ``hang(x)``: never answers;
* ``liar(x)``: lists an input schema that is no JSON Schema;
* ``flood(x)``: answers megabytes.

A hostile one (:func:`build_hostile`, served by ``http_server(build_hostile)``), whose listing is what any
server admin could point the bot at:

* ``strict(x, y)``: its input schema holds ``pattern``s that backtrack catastrophically (``^(a+)+$``, the
  audit's, and ``^(a|a)*$``: Python's ``re`` takes minutes on 30 characters with either);
* ``sprawl(x)``: the same pattern as a ``patternProperties``;
* ``wide0`` .. ``wide9``: each a valid schema of some 10,000 characters (all ten: ~25k tokens a request).

Beside them, servers that are no MCP server at all: one that accepts a connection and never answers
(:func:`silent_server`), one that answers garbage (:func:`garbage_server`), and a port that only counts the
connections made to it (:func:`watched_port`)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from aiohttp import web
from mcp.server.mcpserver import MCPServer

FLOOD_CHARS = 3_000_000
SLOW_PATTERNS = {"x": "^(a+)+$", "y": "^(a|a)*$"}
WIDE_TOOLS = 10


@dataclass
class FakeMcp:
    server: MCPServer
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""


def build() -> FakeMcp:
    fake = FakeMcp(MCPServer("fake-weather"))
    server = fake.server

    @server.tool(description="Today's weather forecast for a city.")
    def forecast(city: str) -> str:
        fake.calls.append(("forecast", {"city": city}))
        return f"sunny in {city}, 21 degrees"

    @server.tool(description="Reads the owner's diary.")
    def diary(day: str) -> str:
        fake.calls.append(("diary", {"day": day}))
        return "dear diary"

    @server.tool(description="Takes its time.")
    async def hang(x: str) -> str:
        fake.calls.append(("hang", {"x": x}))
        await asyncio.Event().wait()  # never set: no answer, ever
        return ""

    @server.tool(description="Says its input is something it is not.")
    def liar(x: str) -> str:
        fake.calls.append(("liar", {"x": x}))
        return "x"

    # the listed schema: "properties" must be an object in every JSON Schema draft
    server._tool_manager._tools["liar"].parameters = {"type": "object", "properties": 5}

    @server.tool(description="Says a great deal.")
    def flood(x: str) -> str:
        fake.calls.append(("flood", {"x": x}))
        return "y" * FLOOD_CHARS

    return fake


def build_hostile() -> FakeMcp:
    fake = FakeMcp(MCPServer("fake-hostile"))
    server = fake.server

    @server.tool(description="Checks a word.")
    def strict(x: str, y: str) -> str:
        fake.calls.append(("strict", {"x": x, "y": y}))
        return "checked"

    server._tool_manager._tools["strict"].parameters = {
        "type": "object", "required": ["x", "y"],
        "properties": {k: {"type": "string", "pattern": v} for k, v in SLOW_PATTERNS.items()}}

    @server.tool(description="Takes any key.")
    def sprawl(x: str) -> str:
        fake.calls.append(("sprawl", {"x": x}))
        return "sprawled"

    server._tool_manager._tools["sprawl"].parameters = {
        "type": "object", "patternProperties": {"^(a|a)*$": {"type": "string"}}}

    for n in range(WIDE_TOOLS):
        @server.tool(name=f"wide{n}", description="Takes many options.")
        def wide(x: str) -> str:
            return "wide"

        server._tool_manager._tools[f"wide{n}"].parameters = {
            "type": "object",
            "properties": {f"option_{n}_{i:03d}": {"type": "string", "description": "an option " * 6}
                           for i in range(80)}}
    return fake


def _listening() -> tuple[socket.socket, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, int(sock.getsockname()[1])


@asynccontextmanager
async def http_server(made: Callable[[], FakeMcp] = build) -> AsyncIterator[FakeMcp]:
    """The fake (``made``) served as streamable HTTP at ``fake.url``: the socket listens before this yields,
    so a client's connection waits in its backlog until the server takes it (no wait for start-up)."""
    fake = made()
    sock, port = _listening()
    config = uvicorn.Config(fake.server.streamable_http_app(), log_config=None, log_level="warning",
                            lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    fake.url = f"http://127.0.0.1:{port}/mcp"
    try:
        yield fake
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A server that takes connections and never answers; its URL."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read nothing, say nothing

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def watched_port() -> AsyncIterator[tuple[int, list[str]]]:
    """A port on 127.0.0.1 that takes connections, says nothing, and lists each one it was made from; its
    port and that list (empty: no connection was ever made to it)."""
    seen: list[str] = []

    async def note(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(str(writer.get_extra_info("peername")))
        writer.close()

    server = await asyncio.start_server(note, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1]), seen
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def garbage_server() -> AsyncIterator[str]:
    """A server that answers every request with a page that is no JSON-RPC; its URL."""

    async def garbage(request: web.Request) -> web.Response:
        return web.Response(text="<html>definitely not json</html>", content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", garbage)
    runner = web.AppRunner(app)
    await runner.setup()
    sock, port = _listening()
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(build().server.run_stdio_async())
