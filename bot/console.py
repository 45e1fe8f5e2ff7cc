"""Console mode: chat with the character in the terminal through the same engine, database and Claude
client as Discord, to try a character without a server."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from discord.utils import time_snowflake

from bot.character import CharacterSource
from bot.claude import ClaudeClient
from bot.client import seed_identity
from bot.config import Settings
from bot.engine import ReplyEngine
from bot.prompting import Incoming
from database.store import Store

CONSOLE_USER_ID = 1  # a stable id so the console conversation is remembered across runs
CONSOLE_CHANNEL_ID = 1


class ConsoleOutlet:
    def __init__(self, name: str) -> None:
        self.name = name

    @asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        print(f"  ({self.name} is typing…)", file=sys.stderr, flush=True)
        yield

    async def send(self, text: str, *, first: bool) -> int | None:
        print(f"{self.name}: {text}" if first else text, flush=True)
        return None


async def run_console(settings: Settings, character: CharacterSource) -> int:
    store = await Store(settings.resolved_database_url()).open()
    claude = ClaudeClient(settings, store)
    engine = ReplyEngine(settings, store, claude, character)
    user = getpass.getuser() or "you"
    try:
        await seed_identity(store, settings.character_dir, engine.character_key)
        persona = engine.persona
        print(f"Chatting with {persona.name}. Ctrl-D or /quit to leave.", file=sys.stderr, flush=True)
        if persona.first_message:
            print(f"{persona.name}: {persona.render(persona.first_message, user)}", flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            text = line.strip()
            if text in {"/quit", "/exit"}:
                break
            if not text:
                continue
            now = datetime.now(UTC)
            msg = Incoming(message_id=time_snowflake(now), channel_id=CONSOLE_CHANNEL_ID, author_id=CONSOLE_USER_ID,
                           author_name=user, content=text, created_at=now, is_dm=True)
            await engine.handle(msg, ConsoleOutlet(engine.persona.name))
    finally:
        await claude.close()
        await store.close()
    return 0
