"""A newcomer's trial, answered: main.py as a subprocess against the fake Discord and the fake Claude.

Start-up's own INFO lines (a mature character, a key no longer needed) reach the operator; a database_url
that is a folder or not SQLite, a channel where the bot may not post and a dropped gateway connection are
each one line, not a traceback; a ``key: value`` line in character.env is named by its file, its line and
itself.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from bot.core.config import PROJECT_ROOT
from tests.fakes import PROCESS_WAIT
from tests.fakes.discord_guild import SEND_MESSAGES
from tests.harness import (
    CHANNEL_ID,
    GUILD_ID,
    LOG_CHANNEL_ID,
    OTHER_CHANNEL_ID,
    USER_ID,
    Harness,
    invited,
    run_main,
)
from tests.test_newcomer import read_until
from tests.test_startup import LINE, exit_of, lines_of, main_env, start_fakes, stop_fakes

FINN = PROJECT_ROOT / "characters" / "finn"


def finn_copy(tmp_path: Path, extra: str = "", replace: tuple[str, str] = ("", "")) -> Path:
    folder = tmp_path / "finn"
    shutil.copytree(FINN, folder)
    env = folder / "character.env"
    text = env.read_text()
    if replace[0]:
        assert replace[0] in text
        text = text.replace(*replace)
    env.write_text(text + extra)
    return folder


async def test_start_ups_own_info_lines_reach_the_operator(tmp_path: Path) -> None:
    """docs/characters.md's "Vel is marked mature: ..." line and the ClaudeMask keys no longer needed are
    logged while the character loads, before the settings are known: the configured level applies already."""
    h: Harness = await start_fakes(tmp_path)
    h.character_dir = finn_copy(tmp_path, "mature=true\nsave_interval_minutes=5\n")
    proc = await h.spawn_main(env=main_env(h, LOG_LEVEL="INFO"))
    try:
        seen = await read_until(proc, "connected as")
        text = await h.shut_down(proc)
    finally:
        await h.end_process(proc)
    lines = seen + lines_of(text)
    messages = [m.group("message") for m in map(LINE.match, lines) if m]
    [mature] = [m for m in messages if "is marked mature" in m]
    assert mature.startswith(f"Finn ({h.character_dir}): Finn is marked mature: it speaks in its full "
                             "register only in age-restricted (NSFW) channels"), mature
    assert (f"{h.character_dir / 'character.env'}: save_interval_minutes is no longer needed "
            "(every change is written to the database at once)") in messages, messages
    assert any(m.startswith("connected as") for m in messages)


async def test_start_ups_info_lines_keep_to_a_warning_level(tmp_path: Path) -> None:
    """LOG_LEVEL=WARNING: the same start-up says nothing at INFO (here it stops at the config error that
    follows the character's load: a token that cannot be Discord's)."""
    h = await start_fakes(tmp_path)
    h.character_dir = finn_copy(tmp_path, "mature=true\nsave_interval_minutes=5\n")
    code, output = await exit_of(h, drop={"discord_api_base_url", "discord_gateway_url"},
                                 DISCORD_TOKEN="my discord token", LOG_LEVEL="WARNING")
    assert code == 2, output
    [line] = lines_of(output)
    assert line.startswith("config error: environment: discord_token: "), output


def test_a_key_colon_value_line_is_named_by_its_file_line_and_text(tmp_path: Path) -> None:
    """`default_name: "Finn"` (YAML's spelling) below `log_channel=0`: not blamed on log_channel as a value
    going on without quotes, but named as it is, with the fix."""
    folder = finn_copy(tmp_path, replace=('default_name="Finn"', 'default_name: "Finn"'))
    env = folder / "character.env"
    number = env.read_text().splitlines().index('default_name: "Finn"') + 1
    result = run_main("--character", str(folder), env={"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y"})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = lines_of(result.stderr)
    assert line == (f"config error: {env}: line {number}: 'default_name: \"Finn\"' is not KEY=VALUE: "
                    "write it with = instead of :, as default_name=\"Finn\""), line


def test_a_secret_written_key_colon_value_is_named_without_its_value(tmp_path: Path) -> None:
    folder = finn_copy(tmp_path, "discord_token: MTIzNDU2Nzg5MDEyMzQ1Njc4.secret-part\n")
    result = run_main("--character", str(folder), env={"ANTHROPIC_API_KEY": "y"})
    assert result.returncode == 2, result.stderr
    [line] = lines_of(result.stderr)
    assert "'discord_token: …' is not KEY=VALUE" in line and "discord_token=…" in line, line
    assert "secret-part" not in result.stderr


@pytest.mark.parametrize("what", ["folder", "text file"])
async def test_a_database_url_at_a_folder_or_a_file_not_sqlite_is_one_line(tmp_path: Path, what: str) -> None:
    """DATABASE_URL at the data folder itself, or at README.md: exit 2, the setting and the fix named, before
    Discord is contacted (not the driver's traceback)."""
    target = tmp_path / "data"
    if what == "folder":
        target.mkdir()
    else:
        target.write_text("# not a database\n")
    h = await start_fakes(tmp_path)
    code, output = await exit_of(h, DATABASE_URL=f"sqlite:///{target}")
    assert code == 2, output
    assert "Traceback" not in output
    [line] = lines_of(output)
    kind = "is a folder, not a SQLite file" if what == "folder" else "is not a SQLite database"
    assert line.startswith(f"config error: environment: database_url: {target} {kind}"), line
    assert "point DATABASE_URL at a SQLite file" in line, line
    assert h.discord.requests == [] and h.discord.gateway_log == []
    if what == "text file":
        assert target.read_text() == "# not a database\n"  # left as it was


async def test_a_channel_where_the_bot_may_not_post_is_said_once_and_costs_no_model_call(
        tmp_path: Path) -> None:
    """The bot's role is denied Send Messages in #general: two mentions there are not answered, with one
    log line naming the channel, the permission and where to grant it; no model call, no typing, no post
    refused with a traceback. #random is answered as ever."""
    h = await start_fakes(tmp_path)
    d = h.discord
    bot_role = d.bot_role_id(GUILD_ID)
    await d.set_role_permissions(GUILD_ID, bot_role, invited())  # as the invite gives
    d.channels[CHANNEL_ID]["permission_overwrites"] = [
        {"id": str(bot_role), "type": 0, "allow": "0", "deny": str(SEND_MESSAGES)}]
    bot_id = d.application_id
    proc = await h.spawn_main(env=main_env(h, LOG_LEVEL="INFO"))
    try:
        seen = await read_until(proc, "connected as")
        for text in ("are you there?", "hello??"):
            await d.user_message(CHANNEL_ID, USER_ID, f"<@{bot_id}> {text}", mentions=[bot_id])
        h.claude.script("Right here, by the kettle.", model="claude-test-default")
        await d.user_message(OTHER_CHANNEL_ID, USER_ID, f"<@{bot_id}> and here?", mentions=[bot_id])
        await d.wait_for(lambda _: d.posted(OTHER_CHANNEL_ID), timeout=PROCESS_WAIT, what="the answer")
        text = await h.shut_down(proc)  # a graceful stop: every message in hand handled first
    finally:
        await h.end_process(proc)
    output = "\n".join(seen) + "\n" + text
    assert "Traceback" not in output and "Forbidden" not in output and "50013" not in output, output
    said = [line for line in lines_of(output) if "cannot post in" in line]
    assert len(said) == 1, said  # once for the channel, not once per message
    assert "WARNING" in said[0] and "#general (Tide Pool" in said[0], said[0]
    assert "lacks Send Messages" in said[0], said[0]
    assert "grant the bot's role Send Messages in that channel" in said[0], said[0]
    assert d.posted(CHANNEL_ID) == [] and d.typing(CHANNEL_ID) == []
    assert [p["content"] for p in d.posted(OTHER_CHANNEL_ID)] == ["Right here, by the kettle."]
    assert len(h.claude.requests) == 1  # the answer in #random only
    posts = [r for r in d.requests
             if r.method == "POST" and r.path.endswith(f"/channels/{CHANNEL_ID}/messages")]
    assert posts == []  # not even tried


async def test_the_fake_discord_refuses_a_post_without_send_messages(tmp_path: Path) -> None:
    """As Discord does: 403, code 50013 (what the bot's check spares it)."""
    import aiohttp

    h = await start_fakes(tmp_path)
    d = h.discord
    try:
        bot_role = d.bot_role_id(GUILD_ID)
        await d.set_role_permissions(GUILD_ID, bot_role, invited())
        d.channels[CHANNEL_ID]["permission_overwrites"] = [
            {"id": str(bot_role), "type": 0, "allow": "0", "deny": str(SEND_MESSAGES)}]
        token = h.environ()["DISCORD_TOKEN"]
        base = h.environ()["DISCORD_API_BASE_URL"].rstrip("/")
        async with aiohttp.ClientSession(headers={"Authorization": f"Bot {token}"}) as http:
            async with http.post(f"{base}/channels/{CHANNEL_ID}/messages", json={"content": "hi"}) as denied:
                assert denied.status == 403 and (await denied.json())["code"] == 50013
    finally:
        await stop_fakes(h)


async def test_a_dropped_gateway_connection_is_one_line_lost_and_one_back(tmp_path: Path) -> None:
    """An outage of the gateway (connections dropped, new ones refused for a few attempts): one line says the
    connection is lost, one that it is back; no traceback per retry. The bot answers afterwards."""
    h = await start_fakes(tmp_path)
    d = h.discord
    proc = await h.spawn_main(env=main_env(h, LOG_LEVEL="INFO"))
    lines: list[str] = []

    async def read() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            lines.append(raw.decode(errors="replace").rstrip("\n"))

    reader = asyncio.create_task(read())
    try:
        await d.wait_for(lambda _: any("connected as" in line for line in lines) or reader.done(),
                         timeout=PROCESS_WAIT, what="the connected line")
        await d.gateway_down()
        await d.wait_for(lambda _: d.refused_connects >= 2 or reader.done(), timeout=PROCESS_WAIT,
                         what="two attempts to reconnect refused")
        before = len(d.gateway_log)
        d.gateway_up()
        await d.wait_for(lambda _: any(op in ("2", "6") for op, _ in d.gateway_log[before:]) or reader.done(),
                         timeout=PROCESS_WAIT, what="a resume (or identify) once the gateway is back")
        bot_id = d.application_id
        h.claude.script("Still brewing.", model="claude-test-default")
        await d.user_message(CHANNEL_ID, USER_ID, f"<@{bot_id}> you back?", mentions=[bot_id])
        await d.wait_for(lambda _: d.posted(CHANNEL_ID), timeout=PROCESS_WAIT, what="the answer")
        await d.user_message(LOG_CHANNEL_ID, h.admin_id, "shutdown? Finn")
        await asyncio.wait_for(proc.wait(), timeout=PROCESS_WAIT)
        await reader
    finally:
        await h.end_process(proc)
    text = "\n".join(lines)
    assert proc.returncode == 0, text[-3000:]
    assert "Traceback" not in text and "Attempting a reconnect" not in text, text
    lost = [line for line in lines if "lost the connection to Discord" in line]
    back = [line for line in lines if "the connection to Discord is back" in line]
    assert len(lost) == 1 and len(back) == 1, lost + back
    assert "WARNING kindred: lost the connection to Discord (" in lost[0] and "reconnecting" in lost[0]
    assert lines.index(lost[0]) < lines.index(back[0])
    assert all(LINE.match(line) for line in lines), [line for line in lines if not LINE.match(line)]
