"""What a new operator meets in the first hour (issue 27): `main.py health` (Docker's HEALTHCHECK) over a
real bot's heartbeat, the config-error exit code the image uses, and one line instead of a traceback when
main.py runs with a Python that lacks Kindred's packages."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.config import PROJECT_ROOT
from bot.runtime.cluster import health_problem
from database.cluster import NodeRow
from tests.fakes import PROCESS_WAIT
from tests.harness import Harness

FINN = PROJECT_ROOT / "characters" / "finn"


def main_py(*args: str, python: tuple[str, ...] = (sys.executable,),
            **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k.lower() not in {"discord_token", "anthropic_api_key", "database_url"}}
    return subprocess.run([*python, str(PROJECT_ROOT / "main.py"), *args], capture_output=True, text=True,
                          env={**clean, **env}, timeout=PROCESS_WAIT, cwd=PROJECT_ROOT)


def row(host: str, seen_ago: float, stopped: bool = False) -> NodeRow:
    now = datetime.now(UTC)
    return NodeRow("n", "finn", host, 1, "0", 1, True, now - timedelta(hours=1),
                   now - timedelta(seconds=seen_ago), now if stopped else None)


def test_health_counts_a_fresh_heartbeat_on_this_machine_only() -> None:
    now = datetime.now(UTC)
    assert health_problem([row("here", 2)], "here", now, 5.0) is None
    assert "16s ago" in (health_problem([row("here", 16)], "here", now, 5.0) or "")  # three beats missed
    assert "no Kindred process on here" in (health_problem([row("elsewhere", 1)], "here", now, 5.0) or "")
    assert "no Kindred process" in (health_problem([row("here", 1, stopped=True)], "here", now, 5.0) or "")


async def test_main_py_health_follows_the_bots_heartbeat(make_harness: Any, db_url: str) -> None:
    h: Harness = await make_harness()
    assert socket.gethostname()  # the bot's row names this machine, as `main.py health` looks for it
    healthy = main_py("health", "--character", str(FINN), DATABASE_URL=db_url)
    assert healthy.returncode == 0 and healthy.stdout.startswith("healthy"), healthy.stderr
    await h.stop_bot()  # signs off: stopped
    gone = main_py("health", "--character", str(FINN), DATABASE_URL=db_url)
    assert gone.returncode == 1 and "Traceback" not in gone.stderr
    assert gone.stderr.strip().startswith("unhealthy: no Kindred process on"), gone.stderr


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
