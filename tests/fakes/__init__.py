"""Fakes of the far ends of Kindred's wires: a Discord server, the Claude Messages API and an
OpenAI-compatible server (chat completions, models, transcriptions, speech)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

# How long a test waits for something it is sure will happen before calling it a failure. Generous on
# purpose: the suite runs in parallel on a loaded 2-core machine, and a wait ends the moment its event comes,
# so a long limit costs nothing when things work. Tests never wait out a fixed time instead.
EVENT_WAIT = 30.0  # an event inside the test's own process: a post, a Claude request, a log line
PROCESS_WAIT = 300.0  # a child `python main.py` process: its imports, start-up, or its exit


async def serve_local(app: web.Application, **runner_options: Any) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on 127.0.0.1 on a free port; returns the runner (for cleanup) and the port."""
    runner = web.AppRunner(app, access_log=None, **runner_options)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
