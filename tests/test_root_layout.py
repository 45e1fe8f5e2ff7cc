"""ClaudeMask's own layout: a character's ``character.env`` copied to the folder ``python main.py`` runs from
is the character (no ``--character``, no ``CHARACTER_DIR``); the start-up log says which folder and why."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from bot.core.config import PROJECT_ROOT, choose_character_dir
from tests.fakes import EVENT_WAIT, PROCESS_WAIT
from tests.harness import USER_ID, Harness, spawn_main

FINN = PROJECT_ROOT / "characters" / "finn"

MASK = '''# A ClaudeMask character.env, copied to the root as its README says
DISCORD_TOKEN="fake-discord-token"
ANTHROPIC_API_KEY="sk-ant-fake"
DEFAULT_NAME="Mask"
CORE_PROMPT="You are Mask, a porcelain theatre mask who speaks only in stage directions."
'''

# The tests take sqlite_db_url: they test main.py as a process, on SQLite only; its database work is proven
# on both backends in-process (tests/conftest.py).


def test_the_root_character_env_is_used_when_nothing_else_is_given(tmp_path: Path) -> None:
    assert choose_character_dir(None, {}, roots=(tmp_path,)).folder == FINN
    (tmp_path / "character.env").write_text(MASK)
    choice = choose_character_dir(None, {}, roots=(tmp_path,))
    assert choice.folder == tmp_path and choice.root_layout
    assert (
        choice.why
        == f"the character.env in {tmp_path}: ClaudeMask layout, no --character or CHARACTER_DIR given"
    )
    # Both: the explicit choice wins, and the log says the root's character.env is not used.
    chosen = choose_character_dir(None, {"CHARACTER_DIR": str(FINN)}, roots=(tmp_path,))
    assert chosen.folder == FINN and not chosen.root_layout
    assert chosen.why == (
        f"from CHARACTER_DIR; the character.env in {tmp_path} is not used, as --character and "
        "CHARACTER_DIR come first"
    )
    assert choose_character_dir(str(FINN), {}, roots=(tmp_path,)).why.startswith("from --character; the ")
    assert choose_character_dir(None, {}, roots=(tmp_path,)).folder == tmp_path


def environment(**extra: str) -> dict[str, str]:
    drop = {"discord_token", "anthropic_api_key", "character_dir"}
    return {**{k: v for k, v in os.environ.items() if k.lower() not in drop}, "LOG_LEVEL": "INFO", **extra}


async def test_main_plays_the_character_env_in_the_folder_it_runs_from(sqlite_db_url: str,
                                                                       tmp_path: Path) -> None:
    """The real process, run as a ClaudeMask operator would: token and prompt from the root's file."""
    root = tmp_path / "claudemask"
    root.mkdir()
    (root / "character.env").write_text(MASK)
    h = Harness(db_url=sqlite_db_url, tmp_path=tmp_path)
    await h.start_fakes()
    settings = {k: v for k, v in h.environ().items() if k not in {"DISCORD_TOKEN", "ANTHROPIC_API_KEY"}}
    proc = await spawn_main(cwd=root, env=environment(**settings))
    try:
        await h.process_identified()
        await h.discord.dm_message(USER_ID, "hello there")
        await h.discord.wait_for_messages(h.discord.dm_channel_for(USER_ID), 1, timeout=EVENT_WAIT)
        text = await h.shut_down(proc, "Mask")
    finally:
        await h.end_process(proc)
    assert f"character folder: {root} (the character.env in {root}: ClaudeMask layout" in text, text[-3000:]
    [request] = h.claude.requests_for("claude-test-default")
    assert h.claude.system_text(request).startswith("You are Mask, a porcelain theatre mask")
    assert request.api_key == "sk-ant-fake", "the key came from the root's character.env"


async def test_main_says_which_character_it_plays_when_both_are_given(sqlite_db_url: str,
                                                                      tmp_path: Path) -> None:
    root = tmp_path / "claudemask"
    root.mkdir()
    (root / "character.env").write_text(MASK)
    proc = await spawn_main(
        "--console",
        cwd=root,
        env=environment(CHARACTER_DIR=str(FINN), ANTHROPIC_API_KEY="k", DATABASE_URL=sqlite_db_url),
        stdin=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(b"/quit\n"), timeout=PROCESS_WAIT)
    text = err.decode(errors="replace")
    assert proc.returncode == 0, text
    assert (
        f"character folder: {FINN} (from CHARACTER_DIR; the character.env in {root} is not used, as "
        "--character and CHARACTER_DIR come first)"
    ) in text
    assert "chatting with Finn as" in text
