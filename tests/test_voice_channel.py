"""Voice channels over the wire: the real discord.py VoiceClient joins a call of the fake Discord (main
gateway op 4 -> VOICE_STATE_UPDATE + VOICE_SERVER_UPDATE -> the fake voice gateway over TLS -> IP discovery
and RTP over UDP on loopback), with DAVE and without it, and what it plays reaches the fake peer, which
decrypts and decodes it. What the fake refuses, Discord refuses."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import discord
import numpy as np
import pytest

from bot.features.voice.speech import VoiceService
from tests.fakes.voice_server import client_ssl
from tests.harness import GUILD_ID, USER_ID, Harness
from tests.voice_support import VOICE_ID, tone, voice_harness


def pitch(frames: list[bytes]) -> float:
    """The frequency of decoded stereo PCM, by its zero crossings (left channel, the codec's start left
    out)."""
    left = np.frombuffer(b"".join(frames), dtype="<i2")[::2].astype(float)
    left = left[len(left) // 4: -len(left) // 4]
    crossings = np.count_nonzero(np.diff(np.signbit(left)))
    return crossings / 2 / (len(left) / 48_000)


@pytest.fixture
async def call(dave: bool, db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    h = await voice_harness(db_url, tmp_path, dave=dave)
    try:
        yield h
    finally:
        await h.close()


async def test_the_bot_joins_a_call_and_plays_a_sound_the_peer_decodes(call: Harness) -> None:
    voice = call.discord.voice
    assert voice is not None
    await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    assert call.bot is not None
    channel = call.bot.get_channel(VOICE_ID)
    assert isinstance(channel, discord.VoiceChannel)
    client = await channel.connect()
    assert call.discord.in_voice(GUILD_ID, call.bot.user.id) == VOICE_ID  # type: ignore[union-attr]
    if voice.dave:
        await voice.wait_for(lambda v: v.group is not None and v.group.active, what="the DAVE group")
    client.play(discord.PCMAudio(io.BytesIO(tone(440, 1.0))))
    # A second of audio is fifty 20 ms frames; the peer decoded (and under DAVE decrypted) most of them.
    await voice.wait_for(lambda v: len(v.heard.get(USER_ID, [])) >= 40, what="the bot's audio")
    assert abs(pitch(voice.heard[USER_ID]) - 440) < 20
    conn = voice.connection(call.bot.user.id)  # type: ignore[union-attr]
    assert conn is not None and conn.mode == "aead_xchacha20_poly1305_rtpsize"
    assert any(s["speaking"] for s in conn.speaking)  # it said it speaks before it did
    if voice.dave:  # end-to-end encrypted, and decrypted by the other member of the MLS group
        assert voice.e2ee_frames >= 40 and voice.undecryptable == 0
        assert client.voice_privacy_code
    else:
        assert voice.e2ee_frames == 0 and voice.group is None
    await client.disconnect()
    assert call.discord.in_voice(GUILD_ID, call.bot.user.id) is None  # type: ignore[union-attr]


async def test_the_fake_voice_gateway_refuses_what_discord_refuses() -> None:
    """Close codes as Discord's voice gateway gives them: the fake is only worth its tests if a client that
    gets the protocol wrong fails against it as it would against Discord."""
    from tests.fakes.voice_server import FakeVoiceServer, Grant

    server = await FakeVoiceServer(dave=True, require_dave=True).start()
    server.grant(Grant(1, 2, 3, "voice-session", "voice-token"))
    identify = {"server_id": "1", "user_id": "3", "session_id": "voice-session", "token": "voice-token",
                "max_dave_protocol_version": 1}

    async def closing_code(*frames: dict[str, object], version: str = "8") -> int | None:
        async with aiohttp.ClientSession() as http, http.ws_connect(
                f"wss://{server.endpoint}/?v={version}", ssl=client_ssl()) as ws:
            for frame in frames:
                await ws.send_json(frame)
            async for _ in ws:
                pass
            return ws.close_code

    try:
        assert await closing_code(version="4") == 4012
        assert await closing_code({"op": 3, "d": {"t": 1, "seq_ack": -1}}) == 4003
        assert await closing_code({"op": 0, "d": {**identify, "token": "stolen"}}) == 4004
        assert await closing_code({"op": 0, "d": {**identify, "max_dave_protocol_version": 0}}) == 4017
        assert await closing_code({"op": 0, "d": identify}, {"op": 0, "d": identify}) == 4005
        select = {"protocol": "udp", "data": {"address": "127.0.0.1", "port": 1, "mode": "xsalsa20_poly1305"}}
        assert await closing_code({"op": 0, "d": identify}, {"op": 1, "d": select}) == 4016
    finally:
        await server.close()


async def test_what_the_character_says_in_a_call_is_heard_as_its_words(call: Harness) -> None:
    """Its voice (the text-to-speech backend of voice messages, espeak-ng here) played into the call: the
    other member's client decodes it, and a speech-to-text ear makes out the line."""
    from bot.discord.voicechat.speaking import play
    from tests.fakes.speech_book import SpeechBook
    from tests.voice_support import speech

    line = "Hello Alice, the kettle is on."
    voice = call.discord.voice
    assert voice is not None and call.bot is not None
    await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    channel = call.bot.get_channel(VOICE_ID)
    assert isinstance(channel, discord.VoiceChannel)
    client = await channel.connect()
    if voice.dave:
        await voice.wait_for(lambda v: v.group is not None and v.group.active, what="the DAVE group")
    # Markdown marks are not read out
    pcm = await call.bot.services.part(VoiceService).speak_in_call(f"**{line}**")
    assert await play(client, pcm)
    await voice.wait_for(lambda v: len(v.heard.get(USER_ID, [])) >= len(pcm) // 3840 - 5, what="the line")
    book = SpeechBook()
    book.learn(line, speech(line, call.bot.services.part(VoiceService).voice.tts_voice or "en"))
    heard = np.frombuffer(b"".join(voice.heard[USER_ID]), dtype="<i2")
    assert book.recognize(wav(heard[::2].tobytes())) == line
    # Stopped part-way (a member speaking over it): play says so.
    playing = asyncio.create_task(play(client, pcm))
    await voice.wait_for(lambda v: len(v.heard[USER_ID]) > len(pcm) // 3840 + 10, what="the second time")
    client.stop()
    assert await playing is False
    await client.disconnect()


def wav(mono: bytes) -> bytes:
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(mono)
    return out.getvalue()
