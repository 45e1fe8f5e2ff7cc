"""Before the first message (issue 17): main.py as a subprocess against the fake Discord and the fake Claude.

What an operator sees at start-up: the invite link and one "connected" line and no library chatter at INFO;
each way start-up fails (a privileged intent not enabled, Discord unreachable, a bad or unreachable
database, an unquoted multi-line prompt) as one line, the right exit code and no traceback; a wrong API key
or an unreachable model server as a warning, the bot starting anyway.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
from collections.abc import Collection
from pathlib import Path

import pytest

from bot.core.config import PROJECT_ROOT
from tests.fakes import PROCESS_WAIT

# Libraries whose lines an operator should not see at INFO (logger names, or their parents).
from tests.harness import LOG_CHANNEL_ID, Harness, invited, stop_process
from tests.ports import free_port

NOISY = ("alembic", "apscheduler", "sentence_transformers", "transformers", "huggingface_hub", "torch",
         "httpx", "httpx2", "discord")
LINE = re.compile(r"^\S+ \S+ (?P<level>[A-Z]+)\s+(?P<name>[\w.]+): (?P<message>.*)$")


async def test_the_invite_asks_for_what_the_loaded_cogs_use(
        db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Each cog asks for the permissions its feature uses (bot/discord/permissions.py ``AsksPermissions``):
    without the moderation and ticket cogs the link asks for no kick, ban, time-out, purge nor private
    thread, and for the rest as with every cog (the README's link)."""
    import discord

    from bot.discord.client import COG_MODULES

    dropped = ("cogs.moderation", "cogs.tickets")
    h = Harness(db_url=db_url, tmp_path=tmp_path, cog_modules=[e for e in COG_MODULES if e not in dropped])
    caplog.set_level(logging.INFO, logger="kindred")
    try:
        await h.start()
        assert h.bot is not None and h.bot.get_cog("Moderation") is None and h.bot.get_cog("Voice")
    finally:
        await h.close()
    [invite] = [r.getMessage() for r in caplog.records if "invite link" in r.getMessage()]
    found = re.search(r"&permissions=(\d+)$", invite)
    assert found is not None, invite
    theirs = discord.Permissions(kick_members=True, ban_members=True, moderate_members=True,
                                 manage_messages=True, manage_threads=True, create_private_threads=True)
    assert int(found[1]) == invited() & ~theirs.value


async def start_fakes(tmp_path: Path) -> Harness:
    h = Harness(db_url=f"sqlite+aiosqlite:///{tmp_path / 'kindred.db'}", tmp_path=tmp_path)
    await h.start_fakes()
    return h


async def stop_fakes(h: Harness) -> None:
    await h.claude.close()
    await h.discord.close()


def main_env(h: Harness, *, drop: Collection[str] = (), **extra: str) -> dict[str, str]:
    """The fakes' environment for main.py, without the keys of ours it sets (nor ``drop``, lower case)."""
    clean = {k: v for k, v in os.environ.items()
             if k.lower() not in {"discord_token", "anthropic_api_key", "database_url", "log_level"}}
    return {k: v for k, v in {**clean, **h.environ(), **extra}.items() if k.lower() not in drop}


async def run_to_exit(h: Harness, env: dict[str, str], *args: str) -> tuple[int, str]:
    """main.py until it exits on its own; its return code and its stderr+stdout."""
    proc = await h.spawn_main(*args, env=env)
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=PROCESS_WAIT)
    finally:
        await stop_process(proc)
    assert proc.returncode is not None
    return proc.returncode, output.decode(errors="replace")


async def exit_of(h: Harness, *args: str, drop: Collection[str] = (), **env: str) -> tuple[int, str]:
    """main.py against the fakes (LOG_LEVEL=WARNING unless ``env`` says) until it exits, then the fakes
    stopped: its return code and its output."""
    try:
        return await run_to_exit(h, main_env(h, drop=drop, **{"LOG_LEVEL": "WARNING", **env}), *args)
    finally:
        await stop_fakes(h)


def lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


async def test_start_logs_the_invite_and_connected_lines_and_no_library_chatter(tmp_path: Path) -> None:
    h = await start_fakes(tmp_path)
    # A plain sqlite:/// URL is taken as sqlite+aiosqlite.
    env = main_env(h, LOG_LEVEL="INFO", DATABASE_URL=f"sqlite:///{tmp_path / 'plain.db'}")
    proc = await h.spawn_main(env=env)
    seen: list[str] = []

    async def read() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            seen.append(raw.decode(errors="replace").rstrip("\n"))

    reader = asyncio.create_task(read())
    try:
        await h.discord.wait_for(lambda d: any("connected as" in line for line in seen) or reader.done(),
                                 timeout=PROCESS_WAIT, what="the connected line")
        await h.discord.user_message(LOG_CHANNEL_ID, h.admin_id, "shutdown? Finn")
        await asyncio.wait_for(proc.wait(), timeout=PROCESS_WAIT)
        await reader
    finally:
        await h.end_process(proc)
    text = "\n".join(seen)
    assert proc.returncode == 0, text[-3000:]
    assert "Traceback" not in text
    parsed = [m for m in map(LINE.match, seen) if m]
    assert len(parsed) == len(seen), [s for s in seen if not LINE.match(s)]  # every line is a log line
    noisy = [m.group(0) for m in parsed if m.group("name").split(".")[0] in NOISY]
    assert noisy == [], noisy
    assert not any("PyNaCl" in line or "davey" in line for line in seen)
    app_id = h.discord.application_id
    [invite] = [m.group("message") for m in parsed if "invite link" in m.group("message")]
    # what the loaded cogs ask for, as the README's link gives it
    assert invite.endswith(f"https://discord.com/oauth2/authorize?client_id={app_id}"
                           f"&scope=bot+applications.commands&permissions={invited()}")
    [user_install] = [m.group("message") for m in parsed if "user-install link" in m.group("message")]
    assert (f"https://discord.com/oauth2/authorize?client_id={app_id}&integration_type=1"
            "&scope=applications.commands") in user_install
    [connected] = [m.group("message") for m in parsed if m.group("message").startswith("connected as")]
    assert connected == "connected as Kindred in 1 server"
    # Start-up says what it is loading before it connects (it may take a while on a busy machine).
    messages = [m.group("message") for m in parsed]
    progress = [i for i, text in enumerate(messages) if text.startswith("starting: ")]
    assert len(progress) >= 3 and progress[-1] < messages.index(connected), messages
    # The character's time zone is said (Finn's character.env sets none: it is the machine's, and how to
    # set it is said with it).
    [zone] = [text for text in messages if text.startswith("time zone: ")]
    assert "timezone is not set" in zone and "set timezone=" in zone, zone
    assert (tmp_path / "plain.db").is_file()


async def test_a_missing_message_content_intent_is_one_line_and_exit_2(tmp_path: Path) -> None:
    h = await start_fakes(tmp_path)
    h.discord.enabled_intents.discard("message_content")  # as in a new application's developer portal
    code, output = await exit_of(h)
    assert any(g[0] == "2" for g in h.discord.gateway_log)  # it did try to identify, and was refused
    assert code == 2, output
    [line] = lines_of(output)
    assert "Message Content" in line and "developer" in line.lower()
    assert f"/applications/{h.discord.application_id}/bot" in line


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "kindred-test.invalid"])  # refused; no such name
async def test_an_unreachable_discord_is_one_line_and_exit_1(tmp_path: Path, host: str) -> None:
    h = await start_fakes(tmp_path)
    host = host.format(port=free_port())  # .invalid never resolves (RFC 6761)
    code, output = await exit_of(h, DISCORD_API_BASE_URL=f"http://{host}/api/v10",
                                 DISCORD_GATEWAY_URL=f"ws://{host}/gateway")
    assert code == 1, output
    [line] = lines_of(output)
    assert line.startswith(f"network error: cannot reach Discord at http://{host}/api/v10 (")
    assert "Traceback" not in output


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://kindred:pw@localhost/kindred", "supports PostgreSQL and SQLite"),
    ("postgresql+psycopg2://u@localhost/x", "through asyncpg only: write postgresql://"),
    ("sqlite+pysqlite:///x.db", "through aiosqlite only: write sqlite://"),
    ("sqlite://", "names no database file"),
    ("just-a-path.db", "not a database URL"),
])
async def test_a_bad_database_url_stops_before_discord(tmp_path: Path, url: str, says: str) -> None:
    h = await start_fakes(tmp_path)
    code, output = await exit_of(h, DATABASE_URL=url)
    assert code == 2, output
    [line] = lines_of(output)
    assert line.startswith("config error: environment: database_url: ") and says in line, line
    assert "pw" not in line  # never the URL itself: it may hold a password
    assert h.discord.requests == [] and h.discord.gateway_log == []


async def test_an_unreachable_postgresql_stops_before_discord(tmp_path: Path) -> None:
    h = await start_fakes(tmp_path)
    port = free_port()
    url = f"postgres://kindred:secret-pw@127.0.0.1:{port}/kindred"  # also: the postgres:// spelling is taken
    code, output = await exit_of(h, DATABASE_URL=url)
    assert code == 2, output
    [line] = lines_of(output)
    assert "database_url: cannot connect to postgresql+asyncpg://kindred:***@127.0.0.1" in line, line
    assert line.endswith(f"is the server running at 127.0.0.1:{port}?"), line  # refused: nothing listens
    assert "secret-pw" not in output
    assert h.discord.requests == [] and h.discord.gateway_log == []


async def test_sigterm_while_starting_exits_0_with_one_line(tmp_path: Path) -> None:
    """A stop during start-up (here while the database check waits on a server that accepts and never
    answers) is exit 0 and "stopped before connecting", not a silent 143."""
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, says nothing
    port = silent.sockets[0].getsockname()[1]
    h = await start_fakes(tmp_path)
    env = main_env(h, LOG_LEVEL="INFO", DATABASE_URL=f"postgresql+asyncpg://k@127.0.0.1:{port}/k")
    proc = await h.spawn_main(env=env)
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        while not any("starting: checking the database" in line for line in seen):
            raw = await asyncio.wait_for(proc.stdout.readline(), timeout=PROCESS_WAIT)
            assert raw, "\n".join(seen)  # it exited before the database check
            seen.append(raw.decode(errors="replace").rstrip("\n"))
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), timeout=PROCESS_WAIT)
    finally:
        await stop_process(proc)
        silent.close()
        await stop_fakes(h)
    output = "\n".join(seen) + "\n" + rest.decode(errors="replace")
    assert proc.returncode == 0, output
    assert lines_of(output)[-1] == "stopped before connecting (SIGTERM during start-up)"
    assert "Traceback" not in output and h.discord.requests == []


async def test_an_out_of_range_temperature_stops_start_up(tmp_path: Path) -> None:
    h = await start_fakes(tmp_path)
    code, output = await exit_of(h, LOG_LEVEL="INFO", DEFAULT_TEMPERATURE="1.7")
    assert code == 2, output
    assert lines_of(output) == ["config error: environment: default_temperature: must be between 0 and 1, "
                                "got 1.7"]
    assert h.discord.requests == []


async def test_an_unquoted_multi_line_prompt_is_one_line_naming_file_and_key(tmp_path: Path) -> None:
    char = tmp_path / "nyx"
    char.mkdir()
    (char / "character.env").write_text('default_name="Nyx"\ncore_prompt=You are Nyx.\n'
                                        "You speak in terse lines.\nfirst_message=Hi.\n")
    h = await start_fakes(tmp_path)
    h.character_dir = char
    code, output = await exit_of(h, LOG_LEVEL="INFO")
    assert code == 2, output
    [line] = lines_of(output)  # python-dotenv's own warning ("could not parse statement") is not repeated
    assert line.startswith(f"config error: {char / 'character.env'}: core_prompt: ")
    assert "line 3" in line and "double quotes" in line and "core_prompt_file" in line
    assert h.discord.requests == []


# -- the key check at start-up, over the wire (the real SDKs against the fakes)

def key_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.core.claude" and r.levelno ==
    logging.WARNING]


async def check_at_start_up(h: Harness, caplog: pytest.LogCaptureFixture) -> list[str]:
    """Start the bot and close it: the warnings its start-up check of the model server logged, one per
    problem found (start-up waits for the check before the bot is ready; it must have started whatever
    they say)."""
    caplog.set_level(logging.WARNING, logger="bot.core.claude")
    try:
        await h.start()
        assert h.bot is not None and h.bot.is_ready()  # it kept starting
    finally:
        await h.close()
    return key_warnings(caplog)


async def test_a_wrong_anthropic_key_is_a_warning_at_start_up(db_url: str, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(db_url=db_url, tmp_path=tmp_path)
    h.claude.api_key = "sk-ant-the-real-one"  # the fake now answers any other key with 401
    [warning] = await check_at_start_up(h, caplog)
    assert h.claude.model_lists == 1 and h.claude.requests == []  # the free request, not a message
    assert warning.startswith("environment: anthropic_api_key: ")
    assert "rejected the API key (HTTP 401: invalid x-api-key)" in warning and "starting anyway" in warning
    assert "fake-anthropic-key" not in warning


async def test_a_key_rejected_at_start_up_gets_the_fallback_at_once(db_url: str, tmp_path: Path) -> None:
    """Start-up knows the key is refused: a message gets the fallback without a call to Claude and without
    the typing pause (set here to ten minutes, far past the wait: a paced fallback would never arrive)."""
    h = Harness(db_url=db_url, tmp_path=tmp_path,
                config={"min_typing_time": "600", "max_typing_time": "600", "typing_speed_cpm": "1"})
    h.claude.api_key = "sk-ant-the-real-one"  # the fake answers any other key with 401
    try:
        await h.start()  # start-up waited for its check: the refusal is known
        assert h.bot is not None and h.claude.model_lists == 1
        await h.dm("hello?")
        [reply] = await h.replies(await h.dm_channel_id())
        assert h.claude.requests == []  # not called: the key is known to be refused
        assert reply["content"] == h.settings().replies.fallback_reply.replace("{name}", "Finn")
    finally:
        await h.close()


async def test_a_right_anthropic_key_passes_the_check_silently(db_url: str, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(db_url=db_url, tmp_path=tmp_path)
    h.claude.api_key = "fake-anthropic-key"
    assert await check_at_start_up(h, caplog) == []  # no problem found
    assert h.claude.model_lists == 1


async def test_a_wrong_openai_key_names_the_file_it_came_from(db_url: str, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    char = tmp_path / "finn"
    char.mkdir()
    finn = (PROJECT_ROOT / "characters" / "finn" / "character.env").read_text()
    (char / "character.env").write_text(finn)
    (char / "character.local.env").write_text('openai_api_key="sk-wrong-key-7f3a"\n')
    h = Harness(db_url=db_url, tmp_path=tmp_path, character_dir=char,
                config={"llm_backend": "openai", "default_model": "llama3.2", "voting_model": "llama3.2",
                        "premium_model": "llama3.2"})
    h.openai.api_key = "sk-right"
    h.openai.models = ["llama3.2"]
    [warning] = await check_at_start_up(h, caplog)
    assert warning.startswith(f"{char / 'character.local.env'}: openai_api_key: ")
    assert "rejected the API key (HTTP 401)" in warning
    # OpenAI's answer names the key, masked but for its end: none of it is logged
    assert "sk-wrong" not in warning and "7f3a" not in warning and "Incorrect" not in warning


async def test_an_unreachable_model_server_is_a_warning_at_start_up(db_url: str, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(db_url=db_url, tmp_path=tmp_path,
                config={"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{free_port()}"})
    [warning] = await check_at_start_up(h, caplog)
    assert "anthropic backend: http://127.0.0.1:" in warning and "is unreachable" in warning


async def test_a_rejected_discord_token_names_where_it_came_from(tmp_path: Path) -> None:
    h = await start_fakes(tmp_path)
    code, output = await exit_of(h, DISCORD_TOKEN="not-the-token")
    assert code == 2, output
    [line] = lines_of(output)
    assert line.startswith("config error: environment: discord_token: Discord "
                           "rejected the Discord bot token (HTTP 401"), line
    assert "not-the-token" not in output
