"""/voice join and /voice leave over the wire: the fake Discord's slash interactions, its main gateway's voice
states and its voice server. Who may call the character in (/bot voice, voice_channels), what it says when
it cannot listen, and when it leaves by itself (switched off, alone, shutdown)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ADMIN_ID, GUILD_ID, USER_ID, Harness, ephemeral
from tests.voice_support import VOICE_ID, voice_harness

Start = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def start(db_url: str, tmp_path: Path) -> AsyncIterator[Start]:
    made: list[Harness] = []

    async def make(**config: str) -> Harness:
        h = await voice_harness(db_url, tmp_path, dave=True, **config)
        made.append(h)
        return h

    yield make
    for h in made:
        await h.close()


async def voice_command(h: Harness, sub: str, *, user: int = USER_ID) -> str:
    ix = await h.slash("voice", [{"name": sub, "type": 1, "options": []}], user=user)
    return str((await ephemeral(ix))["content"])


async def bot_command(h: Harness, sub: str, options: list[dict[str, Any]]) -> str:
    ix = await h.slash("bot", [{"name": sub, "type": 1, "options": options}], user=ADMIN_ID)
    return str((await ephemeral(ix))["content"])


def bot_in_voice(h: Harness) -> int | None:
    assert h.bot is not None and h.bot.user is not None
    return h.discord.in_voice(GUILD_ID, h.bot.user.id)


async def test_voice_channels_are_off_until_a_server_admin_turns_them_on(start: Start) -> None:
    h = await start(stt_backend="openai")
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    assert "off in this server" in await voice_command(h, "join")
    assert bot_in_voice(h) is None
    assert "**on**" in await bot_command(h, "voice", [{"name": "state", "type": 3, "value": "on"}])
    assert "in your voice channel" in await voice_command(h, "join")
    assert bot_in_voice(h) == VOICE_ID
    assert "already" in await voice_command(h, "join")
    assert "left" in await voice_command(h, "leave")
    await h.discord.wait_for(lambda _: bot_in_voice(h) is None, what="the bot leaving the call")
    assert "not in a voice channel" in await voice_command(h, "leave")
    # Switched off while in a call: it leaves.
    await voice_command(h, "join")
    assert bot_in_voice(h) == VOICE_ID
    await bot_command(h, "voice", [{"name": "state", "type": 3, "value": "off"}])
    await h.discord.wait_for(lambda _: bot_in_voice(h) is None, what="the bot leaving when switched off")


async def test_a_member_outside_any_voice_channel_is_told_to_join_one(start: Start) -> None:
    h = await start(stt_backend="openai", voice_channels="true")
    assert "Join a voice channel first" in await voice_command(h, "join")
    assert bot_in_voice(h) is None


async def test_without_speech_to_text_it_says_why_and_stays_out(start: Start) -> None:
    h = await start(voice_channels="true")
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    answer = await voice_command(h, "join")
    assert "can't listen" in answer and "stt_backend" in answer
    assert bot_in_voice(h) is None


async def test_it_leaves_on_deactivate_when_alone_and_at_shutdown(start: Start) -> None:
    h = await start(stt_backend="openai", voice_channels="true", voice_idle_seconds="0.5")
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    await voice_command(h, "join")
    assert bot_in_voice(h) == VOICE_ID
    await bot_command(h, "deactivate", [{"name": "scope", "type": 3, "value": "server"}])
    await h.discord.wait_for(lambda _: bot_in_voice(h) is None, what="the bot leaving a deactivated server")
    assert "not active" in await voice_command(h, "join")
    await bot_command(h, "activate", [{"name": "scope", "type": 3, "value": "server"}])
    # Alone for voice_idle_seconds: it leaves, and may be called in again.
    await voice_command(h, "join")
    await h.discord.member_leaves_voice(GUILD_ID, USER_ID)
    await h.discord.wait_for(lambda _: bot_in_voice(h) is None, what="the bot leaving the empty call")
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    assert "in your voice channel" in await voice_command(h, "join")
    assert h.bot is not None
    await h.bot.close()
    await h.discord.wait_for(lambda _: bot_in_voice(h) is None, what="the bot leaving at shutdown")


async def test_a_dave_group_it_cannot_rejoin_makes_it_leave_with_one_log_line(
        start: Start, caplog: pytest.LogCaptureFixture) -> None:
    h = await start(stt_backend="openai", voice_channels="true")
    voice = h.discord.voice
    assert voice is not None
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    assert "in your voice channel" in await voice_command(h, "join")
    await voice.wait_for(lambda v: v.group is not None and v.group.active, what="the DAVE group")
    conn = voice.connection(h.bot.user.id) if h.bot is not None and h.bot.user is not None else None
    assert conn is not None
    caplog.set_level(logging.INFO, logger="bot")
    seen = len(caplog.records)
    # A commit it cannot process, then another before its recovery (a new session, welcomed back) is done:
    # the recovery failed too (one such commit alone is recovered from: tests/test_voice_dave.py).
    first = await voice.group.announce_garbage(conn)
    second = await voice.group.announce_garbage(conn)

    await h.discord.wait_for(lambda _: bot_in_voice(h) is None, what="the bot leaving the broken call")
    assert voice.group.invalid[:2] == [first, second]  # the voice server was told each time (op 31)
    lines = [r.getMessage() for r in caplog.records[seen:] if "voice channel" in r.getMessage()]
    assert len(lines) == 2 and "rejoining" in lines[0], lines
    assert "leaving" in lines[1] and "DAVE" in lines[1] and "failed" in lines[1], lines
    # Nothing joined is left: /voice leave finds no call, /voice join starts afresh.
    assert "not in a voice channel" in await voice_command(h, "leave")
    assert "in your voice channel" in await voice_command(h, "join")


async def test_a_voice_state_update_alone_tells_it_the_call_is_empty(start: Start) -> None:
    h = await start(stt_backend="openai", voice_channels="true", voice_idle_seconds="0.5")
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    assert "in your voice channel" in await voice_command(h, "join")
    # The voice gateway's CLIENT_DISCONNECT never comes: the main gateway's voice state update is enough.
    await h.discord.member_leaves_voice(GUILD_ID, USER_ID, disconnect_lost=True)
    await h.discord.wait_for(lambda _: bot_in_voice(h) is None, what="the bot leaving the empty call")
    assert "not in a voice channel" in await voice_command(h, "leave")
