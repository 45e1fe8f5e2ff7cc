"""What a new operator meets in the first hour (issue 27): `main.py health` (Docker's HEALTHCHECK) over a
real bot's heartbeat, the config-error exit code the image uses, and one line instead of a traceback when
main.py runs with a Python that lacks Kindred's packages."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.character import CharacterSource
from bot.core.config import PROJECT_ROOT, load_settings
from bot.runtime.cluster import health_problem
from database.cluster import NodeRow
from tests.fakes import PROCESS_WAIT
from tests.harness import Harness, eventually, rewrite, run_main

FINN = PROJECT_ROOT / "characters" / "finn"


def main_py(*args: str, python: tuple[str, ...] = (sys.executable,),
            **env: str) -> subprocess.CompletedProcess[str]:
    return run_main(*args, env=env, python=python,
                    drop={"discord_token", "anthropic_api_key", "database_url"})


def row(host: str, seen_ago: float, stopped: bool = False) -> NodeRow:
    now = datetime.now(UTC)
    return NodeRow("n", "finn", host, 1, "0", 1, True, now - timedelta(hours=1),
                   now - timedelta(seconds=seen_ago), now if stopped else None)


def test_health_counts_a_fresh_heartbeat_on_this_machine_only() -> None:
    now = datetime.now(UTC)
    assert health_problem([row("here", 2)], "here", now, 5.0) is None
    assert "16s ago" in (health_problem([row("here", 16)], "here", now, 5.0) or "")  # three beats missed
    # None running here: said as such, with whether one ever ran (not "none has started" when one stopped).
    assert health_problem([row("elsewhere", 1)], "here", now, 5.0) == (
        "unhealthy: no Kindred process is running on here (none has run on this database yet)")
    assert health_problem([row("here", 1, stopped=True)], "here", now, 5.0) == (
        "unhealthy: no Kindred process is running on here (the last one stopped 0s ago)")


async def test_main_py_health_follows_the_bots_heartbeat(make_harness: Any, db_url: str) -> None:
    h: Harness = await make_harness()
    assert socket.gethostname()  # the bot's row names this machine, as `main.py health` looks for it
    # The bot's heartbeat, as an event: its row written. The check runs beside the bot (its loop keeps
    # beating meanwhile) and lets a beat be as late as this child process may take, so a loaded machine
    # never makes a running bot look stale; how late is too late is test_health_counts_a_fresh_heartbeat's.
    await eventually(lambda: h.store.cluster.nodes("finn"), "the bot's first heartbeat")
    patient = {"DATABASE_URL": db_url, "CLUSTER_HEARTBEAT_SECONDS": str(PROCESS_WAIT / 3)}
    healthy = await main_py_beside("health", "--character", str(FINN), **patient)
    assert healthy.returncode == 0 and healthy.stdout.startswith("healthy"), healthy.stderr
    await h.stop_bot()  # signs off: stopped
    gone = await main_py_beside("health", "--character", str(FINN), **patient)
    assert gone.returncode == 1 and "Traceback" not in gone.stderr
    assert gone.stderr.strip().startswith("unhealthy: no Kindred process is running on"), gone.stderr
    assert "the last one stopped" in gone.stderr


async def main_py_beside(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """:func:`main_py` without holding up this process's event loop (the bot under test keeps running)."""
    return await asyncio.to_thread(main_py, *args, **env)


def test_a_config_error_exits_with_the_code_the_environment_asks_for(tmp_path: Path) -> None:
    args = ("--character", str(FINN), "--config", str(tmp_path / "absent.env"))
    default = main_py(*args)
    assert default.returncode == 2 and default.stderr.startswith("config error:")
    in_docker = main_py(*args, KINDRED_CONFIG_ERROR_EXIT_CODE="0")
    assert in_docker.returncode == 0 and in_docker.stderr == default.stderr  # the same one line


def test_a_python_without_kindreds_packages_gets_one_line(tmp_path: Path) -> None:
    # -S: no site-packages, as with a system python on a fresh clone (README: make setup, then .venv).
    result = main_py("new-character", "Captain Mira", "--dir", str(tmp_path), python=(sys.executable, "-S"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "is missing" in line and "make setup" in line and ".venv/bin/python main.py" in line
    assert list(tmp_path.iterdir()) == []


async def test_settled_waits_for_a_reply_in_progress(harness: Harness) -> None:
    """Harness.settled(), which tests use instead of a sleep to prove an absence, really waits for the bot:
    a slow answer is posted by the time it returns."""
    h = harness
    h.claude.script("Slowly, but here.", model="claude-test-default", delay=0.5)
    await h.say("are you there?", mention=True)
    await h.settled()
    assert [p["content"] for p in h.discord.posted(h.channel_id)] == ["Slowly, but here."]


def test_a_key_other_programs_use_gets_kindreds_spelling(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "config.env"
    config.write_text("temperature=0.5\nmax_tokens=300\n")
    caplog.set_level(logging.WARNING, logger="bot.core.config")
    load_settings(FINN, config, environ={"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y"})
    warned = [r.getMessage() for r in caplog.records if "unknown key" in r.getMessage()]
    assert any("temperature: unknown key" in w and "did you mean default_temperature?" in w for w in warned)
    assert any("did you mean default_max_tokens?" in w for w in warned), warned


def test_an_edit_of_config_env_alone_is_not_called_a_character_change(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "finn"
    shutil.copytree(FINN, folder)
    config = tmp_path / "config.env"
    config.write_text("reply_cooldown=1\n")
    source = CharacterSource(folder, config, environ={})
    source.load()
    caplog.set_level(logging.INFO, logger="bot.core.character")
    rewrite(config, "reply_cooldown=2\n")  # a new stamp, however coarse the clock
    source.current()
    assert not any("character files changed" in m for m in caplog.messages), caplog.messages
    env = folder / "character.env"
    rewrite(env, env.read_text().replace('default_name="Finn"', 'default_name="Finnegan"'))
    assert source.current().name == "Finnegan"
    assert any(m == "character files changed: reloaded Finnegan" for m in caplog.messages), caplog.messages


def test_a_card_with_a_description_but_no_personality_imports_without_a_warning(tmp_path: Path) -> None:
    """SillyTavern's own default card keeps everything in its description: that is a character."""
    card = tmp_path / "default.json"
    card.write_text(json.dumps({"spec": "chara_card_v2", "spec_version": "2.0", "data": {
        "name": "Seraphina", "description": "Seraphina is a guardian of the forest glade, kind and calm.",
        "personality": "", "first_mes": "You are safe here."}}))
    characters = tmp_path / "characters"
    characters.mkdir()
    result = main_py("import-card", str(card), "--dir", str(characters))
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr and (characters / "seraphina").is_dir()
