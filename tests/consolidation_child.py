"""One consolidation in a process of its own, for the crash-safety test (tests/test_consolidation.py) to kill.

The test starts :func:`child_main` through multiprocessing's forkserver with this module preloaded, so each
child is a fork of a process that has already imported everything: a case costs a consolidation, not a Python
start-up. The child reports through ``conn``: with ``pause_at`` = "<step>:<n>" it sends "PAUSED <step>:<n>"
on the n-th time the consolidation reports that step and waits to be killed; with "trace" it sends
"STEP <step>" at every step and carries on; at the end it sends "DONE <report>".
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from bot.alive.mood import ensure_daily_mood
from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient
from database.store import Store
from memory.consolidation import Consolidator
from tests.memory_support import FINN, HashEmbedder, memory_settings


async def consolidate(url: str, claude_url: str, on_step: Any = None) -> str:
    """One run, as the bot's nightly job does it (only the embedder is the test's deterministic one): the
    consolidation, then the day's mood (bot/alive/mood.py), a step of its own."""
    store = await Store(url).open()
    settings = memory_settings(url, claude_url)
    claude = ClaudeClient(settings, store.usage)
    try:
        persona = CharacterSource(FINN, None, environ={}).current
        consolidator = Consolidator(store, claude, settings.memory, settings.character_name_slug, persona,
                                    HashEmbedder(), on_step=on_step)
        report = await consolidator.run()
        if on_step is not None:
            await on_step("mood", {})
        await ensure_daily_mood(store.state, claude, persona(), datetime.now(UTC).date())
        return report.describe()
    finally:
        await claude.close()
        await store.close()


async def _run(url: str, claude_url: str, pause_at: str, conn: Connection) -> None:
    seen: dict[str, int] = {}

    async def on_step(name: str, detail: dict[str, Any]) -> None:
        seen[name] = seen.get(name, 0) + 1
        # Report every step and carry on (the parent kills at a moment of its choosing).
        if pause_at == "trace":
            conn.send(f"STEP {name}")
        elif pause_at and f"{name}:{seen[name]}" == pause_at:
            conn.send(f"PAUSED {pause_at}")
            await asyncio.sleep(3600)

    conn.send(f"DONE {await consolidate(url, claude_url, on_step)}")


def child_main(url: str, claude_url: str, pause_at: str, conn: Connection) -> None:
    """The process target."""
    asyncio.run(_run(url, claude_url, pause_at, conn))
