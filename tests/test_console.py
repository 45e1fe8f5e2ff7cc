"""Console mode: the same pipeline, database and Claude client, driven from a terminal."""

from __future__ import annotations

import asyncio
import os
import sys

from bot.config import PROJECT_ROOT
from tests.fakes.claude_server import FakeClaude


async def test_console_chats_and_remembers(tmp_path, db_url: str) -> None:  # type: ignore[no-untyped-def]
    claude = FakeClaude()
    await claude.start()
    try:
        claude.script("Glub, welcome to my tea stall!", model="claude-test-default")
        claude.script("You said your name was Sam.", model="claude-test-default")
        env = {k: v for k, v in os.environ.items() if k.lower() not in {"discord_token", "anthropic_api_key"}}
        env.update({"ANTHROPIC_API_KEY": "fake", "ANTHROPIC_BASE_URL": claude.base_url, "DATABASE_URL": db_url,
                    "DEFAULT_MODEL": "claude-test-default", "MIN_TYPING_TIME": "0", "MAX_TYPING_TIME": "0.01"})
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(PROJECT_ROOT / "main.py"), "--console", "--character",
            str(PROJECT_ROOT / "characters" / "finn"), cwd=tmp_path, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(b"hi, I'm Sam\nwhat's my name?\n/quit\n"), timeout=60)
        assert proc.returncode == 0, err.decode()
        text = out.decode()
        assert "Glub, welcome to my tea stall!" in text and "You said your name was Sam." in text
        second = claude.requests_for("claude-test-default")[-1]
        assert "hi, I'm Sam" in claude.all_text(second)  # history came from the database
    finally:
        await claude.close()
