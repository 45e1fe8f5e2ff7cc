"""Console mode: the same pipeline, memory, database and Claude client, driven from a terminal."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from bot.core.config import PROJECT_ROOT
from bot.runtime.console import CONSOLE_USER_ID
from database.store import Store
from tests.fakes import PROCESS_WAIT
from tests.fakes.claude_models import lineup_capabilities
from tests.fakes.claude_server import FakeClaude, Reply
from tests.fakes.claude_tools import WEB_SEARCH
from tests.harness import spawn_main
from tests.memory_support import last_user_text
from tests.test_summarization import CHAT, SMALL, SUMMARY_CUE, Script

FINN = PROJECT_ROOT / "characters" / "finn"

# The tests take sqlite_db_url: they test main.py as a process, on SQLite only; its database work is proven
# on both backends in-process (tests/conftest.py).


async def run_console(claude: FakeClaude, db_url: str, cwd: Path, lines: list[str],
                      **config: str) -> tuple[str, str]:
    """``main.py --console`` with Finn, fed ``lines`` on stdin; returns (stdout, stderr) after a clean
    exit."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"discord_token", "anthropic_api_key"}}
    env.update({"ANTHROPIC_API_KEY": "fake", "ANTHROPIC_BASE_URL": claude.base_url, "DATABASE_URL": db_url,
                "MODEL_CAPABILITIES": lineup_capabilities(),  # the test names as the lineup's models
                "DEFAULT_MODEL": "claude-test-default", "MIN_TYPING_TIME": "0", "MAX_TYPING_TIME": "0.01",
                **{k.upper(): v for k, v in config.items()}})
    proc = await spawn_main("--console", "--character", str(FINN), cwd=cwd, env=env,
                            stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate("".join(f"{line}\n" for line in lines).encode()),
                                      timeout=PROCESS_WAIT)
    assert proc.returncode == 0, err.decode()
    return out.decode(), err.decode()


async def test_console_chats_and_remembers(fake_claude: FakeClaude, tmp_path: Path,
        sqlite_db_url: str) -> None:
    fake_claude.script("Glub, welcome to my tea stall!", model="claude-test-default")
    fake_claude.script("You said your name was Sam.", model="claude-test-default")
    text, _ = await run_console(fake_claude, sqlite_db_url, tmp_path,
                                ["hi, I'm Sam", "what's my name?", "/quit"])
    assert "Glub, welcome to my tea stall!" in text and "You said your name was Sam." in text
    second = fake_claude.requests_for("claude-test-default")[-1]
    assert "hi, I'm Sam" in fake_claude.all_text(second)  # history came from the database


async def test_console_lends_the_web_search_its_feature_registers(fake_claude: FakeClaude, tmp_path: Path,
                                                                   sqlite_db_url: str) -> None:
    """The console is a DM: the search the feature lends a running bot's replies there, with its settings;
    off, nothing is declared."""
    fake_claude.script("Glub, a storm.", model="claude-test-default")
    await run_console(fake_claude, sqlite_db_url, tmp_path, ["what's in the news?", "/quit"],
                      web_search="dms", web_search_max_uses="2")
    [search] = [t for t in fake_claude.requests_for("claude-test-default")[-1].body.get("tools") or []
                if t.get("type") == WEB_SEARCH]
    assert search["max_uses"] == 2
    fake_claude.script("Glub.", model="claude-test-default")
    await run_console(fake_claude, sqlite_db_url, tmp_path, ["and now?", "/quit"], web_search="off")
    assert not [t for t in fake_claude.requests_for("claude-test-default")[-1].body.get("tools") or []
                if t.get("type") == WEB_SEARCH]


async def test_console_summarizes_a_long_conversation_without_holding_up_replies(tmp_path: Path,
                                                                                 sqlite_db_url: str) -> None:
    # The third exchange passes the 60-token threshold (as over Discord, see test_summarization). The fake
    # holds the summary until the reply to the fourth message has been asked for, and that reply until the
    # summary has been asked for: a console that waited for summarization before reading on would stall.
    script = Script()
    summary_asked, fourth_reply_asked = asyncio.Event(), asyncio.Event()

    async def responder(body: dict[str, Any]) -> Reply | str:
        answer = script(body)
        kind = script.kinds[-1]
        if kind == "summary" and not summary_asked.is_set():
            summary_asked.set()
            await _within(fourth_reply_asked.wait())
        elif kind == "reply" and script.replies == 4:
            fourth_reply_asked.set()
            await _within(summary_asked.wait())
        return answer

    claude = FakeClaude()
    await claude.start()
    claude.responder = responder
    try:
        text, err = await run_console(claude, sqlite_db_url, tmp_path, CHAT, **SMALL, summarize_timeout="20",
                                      llm_timeout="20")
        assert all(f"Reply number {n}, glub." in text for n in range(1, len(CHAT) + 1)), text + err
        assert script.kinds.count("summary") >= 1 and "memory" in script.kinds
        summary = next(r for r in claude.requests if SUMMARY_CUE in claude.all_text(r))
        fourth = [r for r in claude.requests if CHAT[3] in last_user_text(r.body)]
        assert summary.status == 200 and fourth and fourth[0].received_at < summary.finished_at  # type: ignore[operator]
        assert CHAT[0] in claude.all_text(summary)
    finally:
        await claude.close()
    # The quit waited for the pass to save: the history now starts with the summary.
    store = await Store(sqlite_db_url).open()
    try:
        history = await store.conversations.history("finn", CONSOLE_USER_ID, "dm")
        assert history.summary == script.summary
        assert CHAT[0] not in [t.content for t in history.turns]
        assert [m for _, m, _ in await store.memories.core_memories("finn", CONSOLE_USER_ID)]
    finally:
        await store.close()


async def _within(waiting: Any, seconds: float = 10.0) -> None:
    """Wait, but never hang the fake: on timeout answer anyway and let the test's ordering checks fail."""
    try:
        await asyncio.wait_for(waiting, seconds)
    except TimeoutError:
        pass


async def test_ctrl_c_during_a_reply_leaves_nothing_owed(tmp_path: Path, sqlite_db_url: str) -> None:
    """A console line is marked owed like a Discord message; Ctrl-C in the middle of its reply left the mark,
    and the next Discord start warned about a message it could not find (issue 46). The console clears its
    own marks as it leaves."""
    claude = FakeClaude()
    await claude.start()
    held = asyncio.Event()
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"discord_token", "anthropic_api_key"}}
    env.update({"ANTHROPIC_API_KEY": "fake", "ANTHROPIC_BASE_URL": claude.base_url,
                "DATABASE_URL": sqlite_db_url, "MODEL_CAPABILITIES": lineup_capabilities(),
                "DEFAULT_MODEL": "claude-test-default"})
    try:
        claude.script(Reply("Never finished.", held=held), model="claude-test-default")
        proc = await spawn_main("--console", "--character", str(FINN), cwd=tmp_path, env=env,
                                stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert proc.stdin is not None
        proc.stdin.write(b"tell me a long story\n")
        await proc.stdin.drain()
        await claude.wait_for_requests(1, timeout=PROCESS_WAIT, model="claude-test-default")
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=PROCESS_WAIT)
        assert "Traceback" not in err.decode(), err.decode()
    finally:
        held.set()
        await claude.close()
    store = await Store(sqlite_db_url).open()
    try:
        assert [o for key in ("finn",) for o in await store.owed.pending(key)] == []
    finally:
        await store.close()
