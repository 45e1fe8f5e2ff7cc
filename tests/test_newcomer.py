"""A newcomer's first hour, tried again: main.py as a subprocess against the fake Discord and the fake Claude,
each plausible mistake answered by one line naming what to fix, before anything is contacted that the mistake
does not concern.

A database file that cannot be made is a database_url error, not a network one; the README's own
placeholders and a token pasted with its "Bot " prefix are caught before any request; a placeholder in the
shipped character.env never hides a real token set in config.env; a second process on one SQLite file
refuses to start instead of answering every message twice.
"""

from __future__ import annotations

import asyncio
import os
import pty
import shutil
from pathlib import Path

from bot.core.config import PROJECT_ROOT
from tests.fakes import PROCESS_WAIT
from tests.harness import Harness, run_main, stop_process
from tests.test_startup import exit_of, lines_of, main_env, start_fakes, stop_fakes

FINN = PROJECT_ROOT / "characters" / "finn"


async def test_a_database_file_that_cannot_be_made_is_a_database_url_error(tmp_path: Path) -> None:
    """Its folder is a file (as /etc/hostname/kindred.db): exit 2 naming database_url, before Discord."""
    (tmp_path / "hostname").write_text("a file, not a folder\n")
    h = await start_fakes(tmp_path)
    database = tmp_path / "hostname" / "kindred.db"
    code, output = await exit_of(h, DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    assert code == 2, output
    [line] = lines_of(output)
    assert line.startswith("config error: environment: database_url: cannot create the SQLite database "
                           f"{tmp_path / 'hostname' / 'kindred.db'}"), line
    assert "Not a directory" in line and "cannot reach Discord" not in line
    assert h.discord.requests == [] and h.discord.gateway_log == []


async def test_the_readmes_own_placeholders_are_placeholders(tmp_path: Path) -> None:
    """`DISCORD_TOKEN=your-bot-token ANTHROPIC_API_KEY=your-api-key make run` as the README writes it."""
    h = await start_fakes(tmp_path)
    code, output = await exit_of(h, DISCORD_TOKEN="your-bot-token", ANTHROPIC_API_KEY="your-api-key")
    assert code == 2, output
    [line] = lines_of(output)
    assert line.startswith("config error: environment: discord_token: still the example placeholder"), line
    assert "rejected" not in line and "Reset Token" not in line
    assert h.discord.requests == [] and h.discord.gateway_log == []


async def test_a_token_with_its_bot_prefix_is_named_before_login(tmp_path: Path) -> None:
    h = await start_fakes(tmp_path)
    code, output = await exit_of(h, DISCORD_TOKEN="Bot fake-discord-token")
    assert code == 2, output
    [line] = lines_of(output)
    assert line.startswith("config error: environment: discord_token: "), line
    assert "'Bot '" in line and "without" in line and "rejected" not in line
    assert "fake-discord-token" not in output  # never the secret itself
    assert h.discord.requests == [] and h.discord.gateway_log == []


async def test_a_token_not_shaped_like_discords_is_named_before_any_request(tmp_path: Path) -> None:
    """Against discord.com itself (no fake Discord named): a token that cannot be one is said at once, not
    sent (here there is no network: a request would end as "cannot reach Discord", exit 1)."""
    h = await start_fakes(tmp_path)
    code, output = await exit_of(h, drop={"discord_api_base_url", "discord_gateway_url"},
                                 DISCORD_TOKEN="my discord token")
    assert code == 2, output
    [line] = lines_of(output)
    assert line.startswith("config error: environment: discord_token: "
                           "does not look like a Discord bot token"), line
    assert "my discord token" not in output


async def test_a_placeholder_in_character_env_never_hides_the_token_in_config_env(tmp_path: Path) -> None:
    """The shipped characters/finn/character.env holds placeholders; the newcomer put the real token and key
    in config.env: those are used, and the bot connects."""
    folder = tmp_path / "finn"
    shutil.copytree(FINN, folder)
    assert 'discord_token="your_Discord_bot_token"' in (folder / "character.env").read_text()
    h = await start_fakes(tmp_path)
    h.character_dir = folder
    config = tmp_path / "config.env"
    config.write_text("discord_token=fake-discord-token\nanthropic_api_key=fake-anthropic-key\n")
    env = main_env(h, drop={"discord_token", "anthropic_api_key"}, LOG_LEVEL="INFO")
    proc = await h.spawn_main("--config", str(config), env=env)
    try:
        seen = await read_until(proc, "connected as")
        text = await h.shut_down(proc)
    finally:
        await h.end_process(proc)
    assert any("connected as Kindred" in line for line in seen), "\n".join(seen)
    assert "config error" not in text


async def read_until(proc: asyncio.subprocess.Process, marker: str) -> list[str]:
    """The process's lines up to the first that holds ``marker`` (all of them if it exits first)."""
    assert proc.stdout is not None
    seen: list[str] = []
    while not any(marker in line for line in seen):
        raw = await asyncio.wait_for(proc.stdout.readline(), timeout=PROCESS_WAIT)
        if not raw:
            break
        seen.append(raw.decode(errors="replace").rstrip("\n"))
    return seen


async def test_a_second_process_on_one_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    """`make run` in two terminals: the second says so in one line and never logs in to Discord; the first
    goes on alone."""
    h: Harness = await start_fakes(tmp_path)
    env = main_env(h, LOG_LEVEL="INFO")
    first = await h.spawn_main(env=env)
    try:
        seen = await read_until(first, "connected as")
        assert any("connected as" in line for line in seen), "\n".join(seen)
        logins = len([g for g in h.discord.gateway_log if g[0] == "2"])
        second = await h.spawn_main(env=env)
        try:
            output, _ = await asyncio.wait_for(second.communicate(), timeout=PROCESS_WAIT)
        finally:
            await stop_process(second)
        text = output.decode(errors="replace")
        assert second.returncode == 2, text
        line = lines_of(text)[-1]
        assert line.startswith("config error: ") and "database_url" in line, text
        assert "another Kindred bot" in line and str(tmp_path / "kindred.db") in line, line
        assert "Traceback" not in text
        assert len([g for g in h.discord.gateway_log if g[0] == "2"]) == logins  # no second login
        await h.shut_down(first)
    finally:
        await stop_process(first)
        await stop_fakes(h)


async def test_a_wrong_model_id_is_said_before_the_embedding_model_has_loaded(tmp_path: Path) -> None:
    """The model check answers in a moment, the embedding model (loaded in the background from the start)
    takes seconds: the line comes at once and the process ends without waiting for the load."""
    h = await start_fakes(tmp_path)
    env = main_env(h, LOG_LEVEL="INFO", DEFAULT_MODEL="gpt-4o", PRELOAD_EMBEDDING_MODEL="true")
    proc = await h.spawn_main(env=env)
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=PROCESS_WAIT)
    finally:
        await stop_process(proc)
        await stop_fakes(h)
    text = output.decode(errors="replace")
    assert proc.returncode == 2, text
    lines = lines_of(text)
    assert lines[-1].startswith("config error: environment: default_model: gpt-4o is not a model"), text
    assert not any("loaded embedding model" in line for line in lines), text  # never waited for
    assert "Traceback" not in text


# -- small words


def test_a_missing_character_folder_lists_the_folders_and_the_likeliest(tmp_path: Path) -> None:
    result = run_main("--character", "characters/fin", env={"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y"})
    assert result.returncode == 2, result.stderr
    [line] = lines_of(result.stderr)
    characters = PROJECT_ROOT / "characters"
    assert line.startswith("config error: characters/fin: character_dir: no such character folder ("), line
    assert f"{characters} holds atlas, finn" in line and "_template" not in line
    assert line.endswith(f"; did you mean {characters / 'finn'}?)"), line


def test_max_typing_time_below_min_shows_both_values(tmp_path: Path) -> None:
    result = run_main("--character", str(FINN), env={"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y",
                                                     "MAX_TYPING_TIME": "-3"})
    assert result.returncode == 2, result.stderr
    assert lines_of(result.stderr) == ["config error: environment: max_typing_time: must be at least "
                                       "min_typing_time, got max_typing_time=-3 and min_typing_time=2"]


def test_export_card_says_it_leaves_identity_json_out(tmp_path: Path) -> None:
    out = tmp_path / "finn.json"
    result = run_main("export-card", str(FINN), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.is_file()
    assert result.stdout.strip() == (
        f"exported {FINN} as {out} (left out: {FINN / 'identity.json'}, the identity entries Kindred keeps "
        "in its database; a SillyTavern card has no field for them: copy the file beside the card to keep "
        "them)")


def test_the_first_screen_says_what_a_first_run_costs_and_how_to_try_it_briskly() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    first = readme.split("## Contents", 1)[0]
    assert "1.6 GB" in first and "minutes" in first and "up to 15" in first  # the set-up, the reply pace
    assert "`TYPING_SPEED_CPM=3000 MAX_TYPING_TIME=3 ` before `make run`" in " ".join(first.split())
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert not any(tool in quick for tool in ("ruff", "lint-imports", "mypy"))  # for contributors, later


async def test_the_console_shows_a_prompt_in_a_terminal(tmp_path: Path) -> None:
    """At a terminal the console says where to type (``NAME> ``); piped input gets none (other tests)."""
    h = await start_fakes(tmp_path)
    master, slave = pty.openpty()
    proc = await h.spawn_main("--console", "--as", "alice", env=main_env(h), stdin=slave,
                              stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    os.close(slave)
    try:
        assert proc.stderr is not None
        said = b""
        while b"Ctrl-D leaves" not in said:  # the console's start-up note: it reads what is typed now
            chunk = await asyncio.wait_for(proc.stderr.read(200), timeout=PROCESS_WAIT)
            assert chunk, said.decode(errors="replace")  # it ended before reading
            said += chunk
        os.write(master, b"/quit\n")
        _, rest = await asyncio.wait_for(proc.communicate(), timeout=PROCESS_WAIT)
    finally:
        os.close(master)
        await stop_process(proc)
        await stop_fakes(h)
    assert proc.returncode == 0
    assert b"alice> " in said + rest, (said + rest).decode(errors="replace")
