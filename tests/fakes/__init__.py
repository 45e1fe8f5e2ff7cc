"""Fakes of the far ends of Kindred's wires: a Discord server, the Claude Messages API and an
OpenAI-compatible server (chat completions, models, transcriptions, speech)."""

from __future__ import annotations

from aiohttp import web


async def serve_local(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on 127.0.0.1 on a free port; returns the runner (for cleanup) and the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
