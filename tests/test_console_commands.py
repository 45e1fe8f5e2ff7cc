"""Console mode as a person at a terminal meets it (issue 17): console commands that never reach Claude, no
typing delay, logs in a file, the greeting only for a new conversation, the user's name, and Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import PROJECT_ROOT
from tests.fakes import PROCESS_WAIT
from tests.fakes.claude_models import lineup_capabilities
from tests.fakes.claude_server import FakeClaude
from tests.harness import said_in_dm, spawn_main

FINN = PROJECT_ROOT / "characters" / "finn"

GREETING = "Oh! A visitor. Welcome to the stall."  # Finn's first_message

# The tests take sqlite_db_url: they test main.py as a process, on SQLite only; its database work is proven
# on both backends in-process (tests/conftest.py).


def console_env(claude: FakeClaude, db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"discord_token", "anthropic_api_key"}}
    # A typing delay of ten minutes: a console that simulated typing would not answer within the timeout.
    env.update({"ANTHROPIC_API_KEY": "fake", "ANTHROPIC_BASE_URL": claude.base_url, "DATABASE_URL": db_url,
                "MODEL_CAPABILITIES": lineup_capabilities(),  # the test names as the lineup's models
                "DEFAULT_MODEL": "claude-test-default", "MIN_TYPING_TIME": "600", "MAX_TYPING_TIME": "600",
                "CONSOLE_LOG_FILE": str(tmp_path / "logs" / "console.log"), "LOG_LEVEL": "INFO", **extra})
    return env


async def console(claude: FakeClaude, db_url: str, tmp_path: Path, lines: list[str], *args: str,
                  **extra: str) -> tuple[str, str]:
    proc = await spawn_main("--console", "--character", str(FINN), *args, cwd=tmp_path,
                            env=console_env(claude, db_url, tmp_path, **extra), stdin=asyncio.subprocess.PIPE,
                            stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate("".join(f"{line}\n" for line in lines).encode()),
                                      timeout=PROCESS_WAIT)
    assert proc.returncode == 0 and "Traceback" not in err.decode(), err.decode()
    return out.decode(), err.decode()


async def test_console_commands_never_reach_claude_and_logs_stay_out_of_the_chat(
        fake_claude: FakeClaude, tmp_path: Path, sqlite_db_url: str) -> None:
    fake_claude.script("Glub! Hello, Sam.", model="claude-test-default")
    out, err = await console(fake_claude, sqlite_db_url, tmp_path,
                             ["/help", "/name Sam", "/status", "hello there", "/bogus thing", "/STATUS",
                              "/quit", "never sent"])
    [request] = fake_claude.requests  # the one message; no command, and nothing after /quit
    assert said_in_dm(request.body) == "hello there"
    assert "[Where: a private direct message with Sam]" in FakeClaude.all_text(request)
    sent = FakeClaude.all_text(request)
    assert not any(word in sent for word in ("/help", "/name", "/status", "/bogus", "never sent"))
    greeting, reply = out.splitlines()
    assert greeting.startswith("Finn: ") and GREETING in greeting and reply == "Finn: Glub! Hello, Sam."
    assert "/reset" in err and "/name NAME" in err  # /help
    assert "you are now Sam" in err and "unknown console command /bogus" in err
    assert "this conversation: 0 messages" in err and "this conversation: 2 messages" in err
    # Logs went to the file, not between the lines of the chat.
    assert " INFO " not in out + err.split("chatting with Finn")[1]
    logged = (tmp_path / "logs" / "console.log").read_text()
    assert " INFO " in logged and "from Sam" in logged


async def test_the_greeting_opens_only_a_new_conversation(fake_claude: FakeClaude, tmp_path: Path,
        sqlite_db_url: str) -> None:
    fake_claude.script("Kelp tea coming up.", model="claude-test-default")
    out, _ = await console(fake_claude, sqlite_db_url, tmp_path, ["tea please"])  # Ctrl-D: end of input
    assert out.count(GREETING) == 1
    out, err = await console(fake_claude, sqlite_db_url, tmp_path, ["/status", "/reset", "/status", "/quit"])
    assert "continuing your conversation with Finn" in err
    assert "this conversation: 2 messages" in err and "this conversation: 0 messages" in err
    assert out.count(GREETING) == 1 and out.startswith("Finn: ")  # the greeting after /reset only
    assert len(fake_claude.requests) == 1


async def test_the_user_is_named_by_as_else_by_the_login(fake_claude: FakeClaude, tmp_path: Path,
        sqlite_db_url: str) -> None:
    fake_claude.script("Hi!", model="claude-test-default")
    fake_claude.script("Hi again!", model="claude-test-default")
    await console(fake_claude, sqlite_db_url, tmp_path, ["hello"], "--as", "Robin", LOGNAME="pat")
    await console(fake_claude, sqlite_db_url, tmp_path, ["hello"], LOGNAME="pat", USER="pat")
    first, second = fake_claude.requests
    assert said_in_dm(first.body) == said_in_dm(second.body) == "hello"
    assert "[Where: a private direct message with Robin]" in FakeClaude.all_text(first)
    assert "[Where: a private direct message with pat]" in FakeClaude.all_text(second)


@pytest.mark.parametrize("ready", [
    "character folder",  # still starting: settings read, the database not yet open
    "chatting with Finn",  # at the prompt: the console's first line comes after its Ctrl-C handler exists
])
async def test_ctrl_c_before_and_at_the_prompt_leaves_cleanly(
        fake_claude: FakeClaude, tmp_path: Path, sqlite_db_url: str, ready: str) -> None:
    proc = await spawn_main("--console", "--character", str(FINN), cwd=tmp_path,
                            env=console_env(fake_claude, sqlite_db_url, tmp_path),
                            stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None and proc.stdin is not None
    seen = b""
    while ready.encode() not in seen:  # stdin stays open: at the prompt it waits for a line
        line = await asyncio.wait_for(proc.stderr.readline(), timeout=PROCESS_WAIT)
        assert line, seen.decode()
        seen += line
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=PROCESS_WAIT)
    assert proc.returncode == 0, (seen + err).decode()
    assert "Traceback" not in err.decode() and "KeyboardInterrupt" not in err.decode()
    assert err.decode().count("(bye)") == 1 and fake_claude.requests == [], (seen + err).decode()


async def test_ctrl_c_while_a_reply_is_coming_leaves_cleanly(tmp_path: Path, sqlite_db_url: str) -> None:
    claude = FakeClaude()
    asked, release = asyncio.Event(), asyncio.Event()

    async def responder(body: dict[str, Any]) -> str:
        asked.set()
        await release.wait()  # the reply never comes before Ctrl-C
        return "too late"

    claude.responder = responder
    await claude.start()
    try:
        proc = await spawn_main("--console", "--character", str(FINN), cwd=tmp_path,
                                env=console_env(claude, sqlite_db_url, tmp_path),
                                stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert proc.stdin is not None
        proc.stdin.write(b"tell me a long story\n")
        await proc.stdin.drain()
        await asyncio.wait_for(asked.wait(), timeout=PROCESS_WAIT)
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=PROCESS_WAIT)
        release.set()
        assert proc.returncode == 0 and "Traceback" not in err.decode(), err.decode()
        assert "(bye)" in err.decode() and b"too late" not in out
    finally:
        release.set()
        await claude.close()
