"""Runs one consolidation in its own process for the crash-safety test (tests/test_consolidation.py).

Environment: KINDRED_TEST_DB (database URL), KINDRED_TEST_CLAUDE (fake Claude base URL), KINDRED_TEST_PAUSE_AT
("<step>:<n>": on the n-th time the consolidation reports that step, print "PAUSED <step>:<n>" and wait to
be killed; "trace": print "STEP <step>" at every step and carry on).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.character import CharacterSource  # noqa: E402
from bot.claude import ClaudeClient  # noqa: E402
from database.store import Store  # noqa: E402
from memory.consolidation import Consolidator  # noqa: E402
from tests.memory_support import FINN, HashEmbedder, memory_settings  # noqa: E402


async def consolidate(url: str, claude_url: str, on_step: Any = None) -> str:
    """One run, as the bot would do it (only the embedder is the test's deterministic one)."""
    store = await Store(url).open()
    settings = memory_settings(url, claude_url)
    claude = ClaudeClient(settings, store)
    try:
        consolidator = Consolidator(store, claude, settings, settings.character_name_slug,
                                    CharacterSource(FINN, None, environ={}).current, HashEmbedder(), on_step=on_step)
        return (await consolidator.run()).describe()
    finally:
        await claude.close()
        await store.close()


async def main() -> None:
    pause = os.environ.get("KINDRED_TEST_PAUSE_AT", "")
    seen: dict[str, int] = {}

    async def on_step(name: str, detail: dict[str, Any]) -> None:
        seen[name] = seen.get(name, 0) + 1
        if pause == "trace":  # report every step and carry on (the parent kills at a moment of its choosing)
            print(f"STEP {name}", flush=True)
        elif pause and f"{name}:{seen[name]}" == pause:
            print(f"PAUSED {pause}", flush=True)
            await asyncio.sleep(3600)

    report = await consolidate(os.environ["KINDRED_TEST_DB"], os.environ["KINDRED_TEST_CLAUDE"], on_step)
    print(f"DONE {report}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
