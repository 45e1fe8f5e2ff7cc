"""Console mode: chat with the character in the terminal through the same engine, memory (consent, recall,
background summarization), database and Claude client as Discord, to try a character without a server."""

from __future__ import annotations

import asyncio
import getpass
import logging
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
from bot.persona.runtime import greeting_for
from bot.pipeline import Incoming
from database.store import Store
from memory.service import MemoryService

log = logging.getLogger(__name__)
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
    claude.start_checks()  # a local model server that is down is a warning with its URL
    engine = ReplyEngine(settings, store, claude, character)
    memory = MemoryService(settings.memory, store, claude, engine)
    memory.attach()
    user = getpass.getuser() or "you"
    try:
        await seed_identity(store, settings.character_dir, engine.character_key)
        persona = engine.persona
        print(f"Chatting with {persona.name}. Ctrl-D or /quit to leave.", file=sys.stderr, flush=True)
        # The one a new conversation's prompt opens with.
        greeting = greeting_for(persona, CONSOLE_USER_ID, "dm")
        if greeting:
            print(f"{persona.name}: {persona.render(greeting, user)}", flush=True)
        loop = asyncio.get_running_loop()
        msg: Incoming | None = None
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
            msg = Incoming(message_id=time_snowflake(now), channel_id=CONSOLE_CHANNEL_ID,
                           author_id=CONSOLE_USER_ID,
                           author_name=user, content=text, created_at=now, is_dm=True)
            await engine.handle(msg, ConsoleOutlet(engine.persona.name))
        if msg is not None:
            await _finish_summary(memory, msg, settings)
    finally:
        await memory.close()
        await claude.close()
        await store.close()
    return 0


async def _finish_summary(memory: MemoryService, msg: Incoming, settings: Settings) -> None:
    """On a normal quit, let a summarization pass in flight save its work (replies never waited for it;
    Ctrl-C does not wait either). A pass makes up to three calls of ``summarize_timeout`` each."""
    if not memory.summarizer.running(msg.author_id, msg.scope):
        return
    print("  (saving memories…)", file=sys.stderr, flush=True)
    try:
        async with asyncio.timeout(3 * settings.summarize_timeout + 5):
            await memory.summarizer.wait_idle()
    except TimeoutError:
        log.warning("summarization still running at exit; it is retried next time")
