"""Console mode: chat with the character in the terminal through the same pipeline, memory (consent, recall,
background summarization), database and Claude client as Discord, to try a character without a server.

A terminal is not Discord: replies come without a simulated typing delay, lines starting with ``/`` are
console commands (never sent to the character), logs go to a file (``console_log_file``; warnings still
show), and Ctrl-C leaves cleanly at any moment.
"""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import logging
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from discord.utils import time_snowflake

from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient
from bot.core.config import PROJECT_ROOT, Settings
from bot.core.localtime import load_zone
from bot.core.persona.macros import Moment
from bot.core.place import Place
from bot.core.stages import Incoming
from bot.reply.persona_runtime import dm_greeted_key, greeting_for
from bot.reply.pipeline import ReplyPipeline, ReplySequence, Solo
from bot.runtime.composition import (
    compose_character,
    compose_console_features,
    compose_memory,
    compose_model,
    intent_router,
    open_store,
)
from database.store import Store
from memory.consent import Consent
from memory.identity import seed_identity
from memory.service import MemoryService

log = logging.getLogger(__name__)
CONSOLE_USER_ID = 1  # a stable id so the console conversation is remembered across runs
CONSOLE_CHANNEL_ID = 1
SCOPE = "dm"
HELP = """console commands (never sent to the character):
  /help         this list
  /reset        start a new conversation (its history and summary go; memories stay)
  /status       who you are talking to, and what is remembered
  /name NAME    your name in the chat
  /quit         leave (also /exit, Ctrl-D or Ctrl-C)"""
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def console_logging(settings: Settings) -> Path:
    """Log to ``console_log_file`` at the configured level; the terminal only shows warnings and errors, so
    log lines never land in the middle of the chat."""
    path = Path(settings.console.console_log_file).expanduser()
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in root.handlers:
        if type(handler) is logging.StreamHandler:
            handler.setLevel(logging.WARNING)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(file_handler)
    return path


def login_name() -> str:
    try:
        return getpass.getuser() or "you"
    except (OSError, KeyError):  # no login name in the environment nor in the password database
        return "you"


def note(text: str) -> None:
    """A line of the console itself (not the character's): on stderr, so stdout is the conversation."""
    print(f"  ({text})", file=sys.stderr, flush=True)


class ConsoleOutlet:
    def __init__(self, name: str) -> None:
        self.name = name

    @asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        note(f"{self.name} is typing…")
        yield

    async def send(self, text: str, *, first: bool) -> int | None:
        print(f"{self.name}: {text}" if first else text, flush=True)
        return None

    def resume_at(self, part: int) -> None:
        pass  # a terminal: nothing to post twice


class LineReader:
    """Lines of stdin, read by a daemon thread: a read waiting for input never keeps the process from
    exiting (the default executor's threads are joined at exit, so Ctrl-C would hang on one)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        threading.Thread(target=self._read, args=(loop,), daemon=True, name="console-stdin").start()

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            try:
                line = sys.stdin.readline()
            except (OSError, ValueError):
                line = ""
            try:
                loop.call_soon_threadsafe(self.queue.put_nowait, line or None)
            except RuntimeError:  # the loop has closed: the console is gone
                return
            if not line:
                return

    async def next(self) -> str | None:
        """The next line without its newline; None at the end of input."""
        line = await self.queue.get()
        return None if line is None else line.rstrip("\r\n")


class Console:
    """One console session: commands, greeting, messages to the pipeline."""

    def __init__(self, settings: Settings, store: Store, pipeline: ReplyPipeline, user: str) -> None:
        self.settings = settings
        self.store = store
        self.pipeline = pipeline
        self.replies = ReplySequence(Solo(pipeline))  # the same sequence as Discord's, one character
        self.user = user
        self.last: Incoming | None = None

    @property
    def key(self) -> str:
        return self.pipeline.character_key

    async def greet(self) -> None:
        """The greeting, only when the conversation is new; else a word that it goes on."""
        persona = self.pipeline.persona
        history = await self.store.conversations.history(self.key, CONSOLE_USER_ID, SCOPE)
        if history.turns or history.summary:
            note(f"continuing your conversation with {persona.name}; /reset starts a new one")
            return
        greeting = greeting_for(persona, CONSOLE_USER_ID, SCOPE)
        if greeting and self.settings.replies.greetings:
            moment = Moment(datetime.now(UTC).astimezone(load_zone(self.settings.alive.timezone)))
            shown = persona.render(greeting, self.user, moment)
            print(f"{persona.name}: {shown}", flush=True)
            # Marked as shown: the pipeline puts it before the first message, and never posts it again.
            await self.store.state.set(dm_greeted_key(self.key, CONSOLE_USER_ID, SCOPE), shown)

    async def command(self, text: str) -> bool:
        """Run a console command; False when it was /quit."""
        name, _, rest = text.partition(" ")
        name, rest = name.lower(), rest.strip()
        if name in {"/quit", "/exit"}:
            return False
        if name == "/help":
            print(HELP, file=sys.stderr, flush=True)
        elif name == "/reset":
            await self.store.conversations.reset_conversation(self.key, CONSOLE_USER_ID, SCOPE)
            await self.store.state.delete(dm_greeted_key(self.key, CONSOLE_USER_ID, SCOPE))
            note("a new conversation: the history is cleared, memories stay")
            await self.greet()
        elif name == "/status":
            await self.status()
        elif name == "/name":
            if rest:
                self.user = rest
                note(f"you are now {rest}")
            else:
                note(f"you are {self.user}; /name NAME changes it")
        else:
            note(f"unknown console command {name}; /help lists them (nothing was sent)")
        return True

    async def status(self) -> None:
        persona = self.pipeline.persona
        history = await self.store.conversations.history(self.key, CONSOLE_USER_ID, SCOPE)
        memories = await self.store.memories.core_memories(self.key, CONSOLE_USER_ID)
        lines = [f"{persona.name} ({self.settings.character_dir}), "
                 f"model {self.settings.models.default_model}",
                 f"you are {self.user}",
                 f"this conversation: {len(history.turns)} messages"
                 + (", with a summary of what came before" if history.summary else ""),
                 f"core memories of you: {len(memories)}"]
        print("\n".join(f"  {line}" for line in lines), file=sys.stderr, flush=True)

    async def say(self, text: str) -> None:
        now = datetime.now(UTC)
        self.last = Incoming(message_id=time_snowflake(now), author_id=CONSOLE_USER_ID, author_name=self.user,
                             content=text, created_at=now, place=Place.dm(CONSOLE_CHANNEL_ID))
        outlet = ConsoleOutlet(self.pipeline.persona.name)
        await self.replies.handle(self.last, lambda key: outlet)

    def prompt(self) -> None:
        """``NAME> `` where the person types, in a terminal only (piped input is not a person waiting);
        on stderr, so stdout stays the conversation."""
        if sys.stdin.isatty():
            print(f"{self.user}> ", end="", file=sys.stderr, flush=True)

    async def chat(self, lines: LineReader) -> None:
        await self.greet()
        while True:
            self.prompt()
            line = await lines.next()
            if line is None:
                return
            text = line.strip()
            if text.startswith("/"):
                if not await self.command(text):
                    return
            elif text:
                await self.say(text)


def without_typing_delay(settings: Settings) -> Settings:
    """No simulated typing in a terminal: the reply shows as soon as it is there."""
    return dataclasses.replace(settings, typing=dataclasses.replace(
        settings.typing, min_typing_time=0.0, max_typing_time=0.0))


async def run_console(settings: Settings, character: CharacterSource, user: str | None = None, *,
                      interrupted_while_starting: Callable[[], bool] = lambda: False) -> int:
    """Chat until /quit, end of input or Ctrl-C. Ctrl-C is handled the same wherever it arrives (opening the
    database, at the prompt, while a reply is coming): one "(bye)", exit 0. The handler is installed before
    anything is printed, so a person (or a test) who sees the first line can rely on it.
    ``interrupted_while_starting``: whether a Ctrl-C came while main.py was starting, before this handler."""
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        if not interrupted:  # a second Ctrl-C while leaving changes nothing
            interrupted = True
            main_task.cancel()

    with suppress(NotImplementedError):  # no signal handlers on this platform: KeyboardInterrupt then
        loop.add_signal_handler(signal.SIGINT, interrupt)
    if interrupted_while_starting():
        interrupt()
    try:
        try:
            await _chat(settings, character, user)
        except asyncio.CancelledError:
            if not interrupted:
                raise
            main_task.uncancel()
        if interrupted:
            say_bye()
    finally:
        with suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGINT)
    return 0


def say_bye() -> None:
    print(file=sys.stderr)
    note("bye")  # Ctrl-C does not wait for a summarization in flight: it is retried next time


async def _chat(settings: Settings, character: CharacterSource, user: str | None) -> None:
    settings = without_typing_delay(settings)
    # Built as a running bot's are (bot/runtime/composition.py), without Discord's gates and tools.
    store = await open_store(settings)
    memory: MemoryService | None = None
    pipeline: ReplyPipeline | None = None
    claude: ClaudeClient | None = None
    try:
        consent = Consent(store.servers, store.people, settings.memory.memory_consent)
        claude = compose_model(settings, store)
        intents = intent_router(settings)
        memory = compose_memory(settings.memory, store, claude, character, settings.character_name_slug,
                                intents, consent=consent)
        # what it may use while writing: the tools of the features that need no Discord (the web search)
        lent = compose_console_features(settings, store, character, consent)
        pipeline = compose_character(settings, store, claude, character, consent, memory, lent,
                                     intents=intents)
        console = Console(settings, store, pipeline, user or login_name())
        await seed_identity(store, settings.character_dir, pipeline.character_key)
        await claude.verify_models()  # a model id that does not exist: exit 2 now, not at the first line
        note(f"chatting with {pipeline.persona.name} as {console.user}; /help lists the console commands, "
             "/quit or Ctrl-D leaves")
        await console.chat(LineReader(asyncio.get_running_loop()))
        if console.last is not None:
            await _finish_summary(memory, console.last, settings)
    finally:
        if pipeline is not None:
            await _settle_console_lines(store, pipeline.character_key)
        await _close(memory, claude, store)  # after Ctrl-C too: a second one is ignored (see run_console)


async def _settle_console_lines(store: Store, character: str) -> None:
    """A line left unanswered by Ctrl-C is not owed: the console that could answer it is gone, and a later
    Discord start would look for it in vain (and warn) as a message of its own."""
    try:
        for owed in await store.owed.pending(character):
            if owed.channel_id == CONSOLE_CHANNEL_ID:
                await store.owed.settle(character, owed.message_id)
    except Exception:  # leaving must never fail on it; the Discord start drops it with a warning at worst
        log.exception("could not clear the console's unanswered line")


async def _close(memory: MemoryService | None, claude: ClaudeClient | None, store: Store) -> None:
    if memory is not None:
        await memory.close()
    if claude is not None:
        await claude.close()
    await store.close()


async def _finish_summary(memory: MemoryService, msg: Incoming, settings: Settings) -> None:
    """On a normal quit, let a summarization pass in flight save its work (replies never waited for it;
    Ctrl-C does not wait either). A pass makes up to three calls of ``summarize_timeout`` each."""
    if not memory.summarizer.running(msg.author_id, msg.scope):
        return
    note("saving memories…")
    try:
        async with asyncio.timeout(3 * settings.timeouts.summarize_timeout + 5):
            await memory.summarizer.wait_idle()
    except TimeoutError:
        log.warning("summarization still running at exit; it is retried next time")
