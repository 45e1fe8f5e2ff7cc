"""Voice channels as the operator and the server's admins meet them, over the wire: what start-up says of
each thing a call lacks (one log line each; the speech servers asked in the background), the invite's
permissions, the voice channel's status while the character is in a call (and Discord's refusal of it, the
fake enforcing Discord's rules on that route), and /bot deactivate and /bot voice off while it speaks."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import discord.opus
import pytest

from bot.discord.voicechat.status import listening_status
from bot.features.voice import setup as voicesetup
from bot.features.voice.speech import VoiceService
from tests.fakes.discord_voice import SET_VOICE_CHANNEL_STATUS
from tests.fakes.openai_server import FakeOpenAI
from tests.harness import ADMIN_ID, GUILD_ID, USER2_ID, USER_ID, Harness, ephemeral, invited
from tests.ports import free_port
from tests.test_voice_stops import bot_id, speaking_an_answer
from tests.voice_support import VOICE_ID, voice_harness

SECRET = "sk-proj-do-not-log-this-key-4321"


@pytest.fixture
async def made() -> AsyncIterator[list[Harness]]:
    harnesses: list[Harness] = []
    yield harnesses
    for h in harnesses:
        await h.close()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def said(lines: list[str], *parts: str) -> str:
    """The one line holding every part."""
    found = [line for line in lines if all(p in line for p in parts)]
    assert len(found) == 1, (parts, lines)
    return found[0]



async def started(made: list[Harness], db_url: str, tmp_path: Path, **config: str) -> Harness:
    h = Harness(db_url=db_url, tmp_path=tmp_path, config=config)
    made.append(h)
    await h.start_world()
    return h


async def server_checks(h: Harness) -> list[str]:
    """The speech servers' lines, once start-up's background check is done."""
    assert h.bot is not None
    checks = h.bot.services.part(VoiceService).checks
    assert checks is not None
    return await checks


# -- set-up said at start-up

async def test_start_up_says_each_thing_a_call_lacks_in_one_line(
        made: list[Harness], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(discord.opus, "is_loaded", lambda: False)  # no libopus on this machine
    monkeypatch.setattr(discord.opus, "_load_default", lambda: False)
    h = await started(made, db_url, tmp_path, voice_channels="true")  # and no stt_backend
    caplog.set_level(logging.INFO)
    path = os.environ.get("PATH", "")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-installed"))  # no ffmpeg, no espeak-ng
    try:
        await h.start_bot()
    finally:
        monkeypatch.setenv("PATH", path)
    lines = warnings(caplog)
    assert "/voice join refuses" in said(lines, "voice_channels=true but stt_backend is empty")
    assert "apt-get install ffmpeg" in said(lines, "voice_channels=true needs ffmpeg")
    said(lines, "voice_channels=true needs espeak-ng")  # the default tts_backend
    assert "apt-get install libopus0" in said(lines, "voice_channels=true needs libopus")
    assert h.bot is not None and h.bot.services.part(VoiceService).checks is None  # no speech server to ask


async def test_voice_off_says_nothing_and_the_invite_asks_for_no_call(
        made: list[Harness], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(discord.opus, "is_loaded", lambda: False)
    monkeypatch.setattr(discord.opus, "_load_default", lambda: False)
    h = await started(made, db_url, tmp_path)
    caplog.set_level(logging.INFO)
    await h.start_bot()
    assert not [line for line in warnings(caplog) if "voice" in line]
    [invite] = [r.getMessage() for r in caplog.records if "invite link" in r.getMessage()]
    assert invite.endswith(f"&permissions={invited()}")  # no call's, and no note


async def test_speech_servers_that_cannot_be_reached_or_refuse_the_key_are_said_without_the_key(
        made: list[Harness], db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens there: connection refused
    h = await started(made, db_url, tmp_path, voice_channels="true", stt_backend="openai",
                      stt_base_url=f"http://whisper:{SECRET}@127.0.0.1:{port}/v1?token={SECRET}",
                      tts_backend="openai", OPENAI_API_KEY=SECRET)
    h.openai.api_key = "the-right-key"  # the speech server (openai_base_url) takes another key
    caplog.set_level(logging.INFO)
    await h.start_bot()
    lines = await server_checks(h)
    assert len(lines) == 2, lines
    stt = said(warnings(caplog), "speech-to-text server", "cannot be reached")
    assert f"127.0.0.1:{port}/v1 " in stt and "members are not heard in a call" in stt
    tts = said(warnings(caplog), "text-to-speech server", "rejected the API key (HTTP 401")
    assert "openai_api_key: environment variable OPENAI_API_KEY" in tts
    assert "posted, not spoken" in tts
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET not in everything and "whisper:" not in everything  # nor the URL's user and password


async def test_a_server_without_a_models_list_is_tried_with_a_test_request(
        made: list[Harness], db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    whisper = await FakeOpenAI().start()  # answers a transcription, has no models list
    whisper.models_status = 404
    try:
        h = await started(made, db_url, tmp_path, voice_channels="true", stt_backend="openai",
                          stt_base_url=whisper.base_url, tts_backend="openai", tts_model="kokoro")
        h.openai.models_status = 404  # the speech server: no models list, and its test speech fails
        h.openai.audio_errors = [500]
        caplog.set_level(logging.INFO)
        await h.start_bot()
        [line] = await server_checks(h)
        assert "text-to-speech" in line
        assert "answers neither its models list (HTTP 404) nor a test speech (HTTP 500)" in line
        [tested] = [r for r in whisper.heard if r.path.endswith("/audio/transcriptions")]
        assert tested.model == "whisper-1" and tested.data.startswith(b"RIFF")  # a second of silence
        [spoken] = [r for r in h.openai.heard if r.path.endswith("/audio/speech")]
        assert spoken.model == "kokoro" and spoken.status == 500
    finally:
        await whisper.close()


async def test_a_model_the_server_does_not_list_is_said(
        made: list[Harness], db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    h = await started(made, db_url, tmp_path, voice_channels="true", tts_backend="openai", tts_model="tts-1")
    h.openai.models = ["kokoro", "piper"]
    caplog.set_level(logging.INFO)
    await h.start_bot()
    [tts] = await server_checks(h)
    assert "text-to-speech" in tts
    assert "does not list the model tts-1 (tts_model; it lists kokoro, piper)" in tts


async def test_a_hanging_server_is_said_once_the_check_gives_up(
        made: list[Harness], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # The only server asked is the one that never answers, so the short wait decides nothing else.
    monkeypatch.setattr(voicesetup, "PROBE_SECONDS", 0.3)
    hanging = await FakeOpenAI().start()
    hanging.hangs = True
    try:
        h = await started(made, db_url, tmp_path, voice_channels="true", stt_backend="openai",
                          stt_base_url=hanging.base_url)
        caplog.set_level(logging.INFO)
        await h.start_bot()  # ready while the check waits on its own
        [stt] = await server_checks(h)
        assert hanging.held.is_set()
        assert "speech-to-text" in stt and "did not answer its models list within 0.3s" in stt
    finally:
        await hanging.close()


async def test_healthy_speech_servers_say_nothing(
        made: list[Harness], db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    h = await started(made, db_url, tmp_path, voice_channels="true", stt_backend="openai",
                      tts_backend="openai")
    h.openai.models = ["whisper-1", "tts-1"]
    caplog.set_level(logging.INFO)
    await h.start_bot()
    assert await server_checks(h) == []
    assert h.openai.model_lists >= 2  # each was asked
    assert not [r for r in h.openai.heard if "audio" in r.path]  # a listed model needs no test request


# -- the invite

async def test_the_invite_asks_for_a_calls_permissions_and_they_are_enough_for_one(
        made: list[Harness], db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    voice = discord.Permissions(invited(voice_channels=True))
    assert voice.connect and voice.speak and voice.use_voice_activation and voice.set_voice_channel_status
    caplog.set_level(logging.INFO)
    h = await voice_harness(db_url, tmp_path, dave=True, stt_backend="openai", voice_channels="true")
    made.append(h)
    [invite] = [r.getMessage() for r in caplog.records if "invite link" in r.getMessage()]
    assert f"&permissions={voice.value} (with Connect, Speak, Use Voice Activity" in invite
    # A bot given exactly what the link asks for joins a call, speaks in it and shows its status there.
    await h.discord.set_role_permissions(GUILD_ID, h.discord.bot_role_id(GUILD_ID), voice.value)
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    assert "listening" in await voice_command(h, "join")
    assert h.discord.voice_status(VOICE_ID) == listening_status(character_name(h))


# -- the voice channel's status

async def voice_command(h: Harness, sub: str, *, user: int = USER_ID) -> str:
    ix = await h.slash("voice", [{"name": sub, "type": 1, "options": []}], user=user)
    return str((await ephemeral(ix))["content"])


async def test_the_status_says_it_listens_while_in_the_call_and_is_cleared_on_leaving(
        made: list[Harness], db_url: str, tmp_path: Path) -> None:
    h = await voice_harness(db_url, tmp_path, dave=False, stt_backend="openai", voice_channels="true",
                            voice_idle_seconds="0.3")
    made.append(h)
    shown = listening_status(character_name(h))
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    assert "listening" in await voice_command(h, "join")
    assert h.discord.voice_status(VOICE_ID) == shown and "is listening" in shown
    assert "left" in await voice_command(h, "leave")
    await h.discord.wait_for(lambda d: d.in_voice(GUILD_ID, bot_id(h)) is None, what="the bot gone")
    assert h.discord.voice_status(VOICE_ID) is None
    # set, then cleared while still in the call (Discord takes it only from a member of the call)
    assert h.discord.voice_status_requests == [(VOICE_ID, shown, 204), (VOICE_ID, None, 204)]
    # Alone too long, it leaves by itself: the status goes with it.
    assert "listening" in await voice_command(h, "join")
    assert h.discord.voice_status(VOICE_ID) == shown
    await h.discord.member_leaves_voice(GUILD_ID, USER_ID)
    await h.discord.wait_for(lambda d: d.in_voice(GUILD_ID, bot_id(h)) is None, what="the bot leaving alone")
    assert h.discord.voice_status(VOICE_ID) is None
    assert [code for *_, code in h.discord.voice_status_requests] == [204] * 4


async def test_shutdown_during_a_call_clears_the_status(
        made: list[Harness], db_url: str, tmp_path: Path) -> None:
    h = await voice_harness(db_url, tmp_path, dave=True, stt_backend="openai", voice_channels="true")
    made.append(h)
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    assert "listening" in await voice_command(h, "join")
    assert h.discord.voice_status(VOICE_ID) is not None
    assert h.bot is not None
    await h.bot.close()
    assert h.discord.in_voice(GUILD_ID, bot_id(h)) is None
    assert h.discord.voice_status(VOICE_ID) is None
    assert [code for *_, code in h.discord.voice_status_requests] == [204, 204]


def character_name(h: Harness) -> str:
    assert h.bot is not None
    return h.bot.services.pipeline.persona.name


async def test_a_refused_status_is_logged_once_and_the_call_goes_on(
        made: list[Harness], db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    h = await voice_harness(db_url, tmp_path, dave=True, stt_backend="openai", voice_channels="true")
    made.append(h)
    without = invited(voice_channels=True) & ~SET_VOICE_CHANNEL_STATUS
    await h.discord.set_role_permissions(GUILD_ID, h.discord.bot_role_id(GUILD_ID), without)
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    caplog.set_level(logging.INFO)
    for _ in range(2):
        assert "listening" in await voice_command(h, "join")
        assert h.discord.in_voice(GUILD_ID, bot_id(h)) == VOICE_ID
        assert "left" in await voice_command(h, "leave")
        await h.discord.wait_for(lambda d: d.in_voice(GUILD_ID, bot_id(h)) is None, what="the bot gone")
    # Discord refused it each time (nothing to clear after a refusal), and said so once.
    assert h.discord.voice_status_requests == [(VOICE_ID, listening_status(character_name(h)), 403)] * 2
    assert h.discord.voice_status(VOICE_ID) is None
    line = said(warnings(caplog), "status of voice channel")
    assert "HTTP 403" in line and "Set Voice Channel Status" in line


async def test_the_fake_holds_the_status_route_to_discords_rules(
        made: list[Harness], db_url: str, tmp_path: Path) -> None:
    h = await voice_harness(db_url, tmp_path, dave=False, stt_backend="openai", voice_channels="true")
    made.append(h)
    assert h.bot is not None
    channel = h.bot.get_channel(VOICE_ID)
    assert isinstance(channel, discord.VoiceChannel)
    with pytest.raises(discord.Forbidden):  # not connected to it
        await channel.edit(status="hello")
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    assert "listening" in await voice_command(h, "join")
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.edit(status="x" * 501)
    assert too_long.value.status == 400
    await channel.edit(status="x" * 500)
    assert h.discord.voice_status(VOICE_ID) == "x" * 500
    await h.discord.set_role_permissions(GUILD_ID, h.discord.bot_role_id(GUILD_ID),
                                         invited(voice_channels=True) & ~SET_VOICE_CHANNEL_STATUS)
    with pytest.raises(discord.Forbidden):  # connected, without the permission
        await channel.edit(status="hello")
    await h.discord.set_role_permissions(GUILD_ID, h.discord.bot_role_id(GUILD_ID),
                                         (invited(voice_channels=True) & ~SET_VOICE_CHANNEL_STATUS)
                                         | discord.Permissions(manage_channels=True).value)
    await channel.edit(status=None)  # Manage Channels does as well
    assert h.discord.voice_status(VOICE_ID) is None


# -- /bot deactivate and /bot voice off while it speaks

@pytest.mark.parametrize("command", ["deactivate", "voice off"])
async def test_switching_it_off_while_it_speaks_is_answered_in_time_and_it_leaves(
        made: list[Harness], db_url: str, tmp_path: Path, command: str) -> None:
    h = await voice_harness(db_url, tmp_path, dave=True, stt_backend="openai", voice_channels="true")
    made.append(h)
    voice = h.discord.voice
    assert voice is not None and h.bot is not None
    await speaking_an_answer(h)
    assert h.discord.voice_status(VOICE_ID) is not None
    sub, option = (("deactivate", {"name": "scope", "type": 3, "value": "server"}) if command == "deactivate"
                   else ("voice", {"name": "state", "type": 3, "value": "off"}))
    options = [{"name": sub, "type": 1, "options": [option]}]
    asked = time.perf_counter()
    ix = await h.slash("bot", options, user=ADMIN_ID)
    answer = str((await ephemeral(ix))["content"])
    assert "inactive" in answer or "**off**" in answer
    await h.discord.wait_for(lambda d: d.in_voice(GUILD_ID, bot_id(h)) is None, what="the bot gone")
    # Answered first, whatever the character was saying: the interaction's response came before the
    # leave's first request (the status cleared while still in the call), the leave itself bounded.
    answered = (await ix.response())["at"]
    [cleared] = [r for r in h.discord.requests if r.method == "PUT" and r.path.endswith("/voice-status")
                 and r.body == {"status": None}]
    assert answered < cleared.at
    leaves = [r for r in h.discord.voice_requests if r.get("channel_id") is None]
    assert len(leaves) == 1, leaves
    heard = len(voice.heard[USER2_ID])
    await h.bot.in_flight.drain()
    assert len(voice.heard[USER2_ID]) - heard <= 5  # its audio stopped as it left
    assert h.discord.voice_status(VOICE_ID) is None
    print(f"\n/bot {command} while speaking: answered in {(answered - asked) * 1000:.0f} ms")
