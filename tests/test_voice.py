"""Voice messages over the wire: the fake Discord serves a voice message's audio from its CDN and enforces
Discord's rules for a voice-message upload; the fake OpenAI-compatible server plays the speech-to-text and
text-to-speech servers and records what they were sent. ffmpeg and espeak-ng (Debian packages installed by
`make setup` and CI) do the real audio work."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
from array import array
from pathlib import Path
from typing import Any

import discord
import pytest
from discord.http import Route

from bot.core.config import load_settings
from bot.discord.flow import VOICE_MESSAGE_FLAG
from bot.discord.voice import send_voice_message
from bot.features.voice.audio import VoiceClip, missing_programs, to_voice_clip, waveform
from bot.features.voice.config import VoiceSettings
from bot.features.voice.speech import VoiceService, spoken_text, transcript_content
from tests.fakes.openai_server import tone
from tests.harness import CHANNEL_ID, USER_ID, Harness, MakeHarness, check, eventually, said_in_dm
from tests.memory_support import FINN
from tests.test_e2e_openai import stored_turns

OGG = b"OggS\x00\x02" + bytes(range(256)) * 4  # a user's voice message: passed on, never decoded
UNHEARD = "*Finn tilts their head.* I can't listen to voice messages, sorry. Could you type it?"
# Never skipped in CI, where a missing program is a failure of the setup that should have installed it.
needs_audio_tools = pytest.mark.skipif(
    bool(missing_programs("ffmpeg", "espeak-ng")) and not os.environ.get("CI"),
    reason="ffmpeg and espeak-ng are installed by `make setup`")


async def logged_texts(h: Harness, channel_id: int, n: int) -> list[str]:
    """The channel's logged message contents, once there are ``n``."""
    async def enough() -> list[str] | None:
        seen = await h.store.log.recent_messages(channel_id, limit=20)
        return [m.content for m in seen] if len(seen) >= n else None
    return await eventually(enough, f"{n} messages in the log of channel {channel_id}")


def speech_requests(h: Harness) -> list[Any]:
    return [x for x in h.openai.heard if x.path == "/v1/audio/speech"]


def voice_posts(h: Harness, channel_id: int) -> list[dict[str, Any]]:
    return [m for m in h.discord.posted(channel_id) if m["flags"] & VOICE_MESSAGE_FLAG]


# --------------------------------------------------------------------------- hearing


async def test_a_voice_dm_is_transcribed_and_answered_like_text(make_harness: MakeHarness) -> None:
    h = await make_harness(stt_backend="openai", stt_model="whisper-large-v3")
    h.openai.transcript = "  is the kelp tea\nready?  "
    h.claude.script("Almost! Two more minutes.", model="claude-test-default")
    sent = await h.discord.voice_message(USER_ID, OGG)
    channel = int(sent["channel_id"])
    [reply] = await h.replies(channel)
    assert reply["content"] == "Almost! Two more minutes." and not reply["flags"] & VOICE_MESSAGE_FLAG
    [heard] = h.openai.heard
    assert (heard.path, heard.model, heard.filename, heard.content_type) == (
        "/v1/audio/transcriptions", "whisper-large-v3", "voice-message.ogg", "audio/ogg")
    assert heard.data == OGG and h.discord.cdn_requests == [int(sent["attachments"][0]["id"])]
    assert said_in_dm(h.claude.requests[0].body) == "[voice] is the kelp tea ready?"
    assert (await logged_texts(h, channel, 2))[0] == "[voice] is the kelp tea ready?"
    assert await stored_turns(h, "dm", 2) == ["[voice] is the kelp tea ready?", "Almost! Two more minutes."]


async def test_without_speech_to_text_the_character_says_it_cannot_listen(make_harness: MakeHarness) -> None:
    h = await make_harness()
    sent = await h.discord.voice_message(USER_ID, OGG)
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == UNHEARD
    assert h.claude.requests == [] and h.openai.heard == [] and h.discord.cdn_requests == []
    assert (await logged_texts(h, int(sent["channel_id"]), 2))[0] == "[voice message]"  # never an empty turn
    # In a server, a voice message nobody addressed is only logged; one replying to the character is answered.
    await h.discord.voice_message(USER_ID, OGG, channel_id=CHANNEL_ID)
    await logged_texts(h, CHANNEL_ID, 1)
    await h.settled()  # every event read and handled: what did not happen, will not
    assert h.discord.posted(CHANNEL_ID) == [] and h.claude.requests == []
    ours = await h.discord.user_message(CHANNEL_ID, h.bot_user_id, "Fresh tea at the stall!")
    await h.discord.voice_message(USER_ID, OGG, channel_id=CHANNEL_ID, reply_to=int(ours["id"]))
    [answer] = await h.replies(CHANNEL_ID, 1)
    assert answer["content"] == UNHEARD


async def test_a_voice_message_from_someone_refused_is_not_even_heard(make_harness: MakeHarness) -> None:
    """Who may talk is the pipeline's to ask, before the audio is fetched: a blocked person's voice DM is
    logged as ``[voice message]`` and refused as any message, nothing downloaded nor transcribed."""
    h = await make_harness(stt_backend="openai", blocked_users=str(USER_ID))
    sent = await h.discord.voice_message(USER_ID, OGG)
    await h.handled(sent)
    assert (await logged_texts(h, int(sent["channel_id"]), 1)) == ["[voice message]"]
    await h.settled()  # every event read and handled: what did not happen, will not
    assert h.discord.posted(int(sent["channel_id"])) == [] and h.claude.requests == []
    assert h.discord.cdn_requests == [] and h.openai.heard == []


async def test_a_failing_transcription_server_is_like_none(make_harness: MakeHarness,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    h = await make_harness(stt_backend="openai")
    h.openai.audio_errors = [500, 503]  # the first try and the SDK's one retry
    sent = await h.discord.voice_message(USER_ID, OGG)
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == UNHEARD and h.claude.requests == []
    assert [x.status for x in h.openai.heard] == [500, 503]
    assert "could not be transcribed" in caplog.text


async def test_a_voice_message_is_logged_and_owed_before_it_is_heard(make_harness: MakeHarness) -> None:
    """A crash while transcribing must lose nothing: the message is in the log and its answer owed while
    the transcription server still has it (held here until the test has looked)."""
    h = await make_harness(stt_backend="openai")
    h.openai.transcribe_gate = asyncio.Event()
    h.openai.transcript = "is the tide in?"
    h.claude.script("Not yet.", model="claude-test-default")
    sent = await h.discord.voice_message(USER_ID, OGG)
    channel = int(sent["channel_id"])
    await asyncio.wait_for(h.openai.transcribing.wait(), 30)
    assert (await logged_texts(h, channel, 1)) == ["[voice message]"]
    owed = await h.store.owed.pending(h.bot.services.pipeline.character_key)
    assert [o.message_id for o in owed] == [int(sent["id"])]
    h.openai.transcribe_gate.set()
    [reply] = await h.replies(channel)
    assert reply["content"] == "Not yet."
    assert (await logged_texts(h, channel, 2))[0] == "[voice] is the tide in?"  # the transcript replaced it
    await h.bot.in_flight.drain()
    await h.store.log.flush()
    assert await h.store.owed.pending(h.bot.services.pipeline.character_key) == []


async def test_a_voice_message_over_max_voice_bytes_is_not_downloaded(make_harness: MakeHarness) -> None:
    h = await make_harness(stt_backend="openai", max_voice_bytes=str(len(OGG) - 1))
    sent = await h.discord.voice_message(USER_ID, OGG)
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == UNHEARD
    assert h.discord.cdn_requests == [] and h.openai.heard == []  # not one byte fetched
    await h.bot.in_flight.drain()
    await h.store.log.flush()  # the owed mark is cleared with the log's next batch
    key = h.bot.services.pipeline.character_key
    assert await h.store.owed.pending(key) == []  # the unheard line answered it


async def test_a_stalled_voice_download_times_out(make_harness: MakeHarness) -> None:
    h = await make_harness(stt_backend="openai", voice_timeout="0.5")
    h.discord.cdn_stall = asyncio.Event()  # never set: the CDN never answers
    sent = await h.discord.voice_message(USER_ID, OGG)
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == UNHEARD
    assert h.discord.cdn_requests == [int(sent["attachments"][0]["id"])] and h.openai.heard == []
    h.discord.cdn_stall.set()


# --------------------------------------------------------------------------- speaking


@needs_audio_tools
async def test_mirror_answers_a_voice_message_with_a_voice_message(make_harness: MakeHarness) -> None:
    h = await make_harness(stt_backend="openai", voice_replies="mirror", tts_backend="openai",
                           tts_model="kokoro", tts_voice="nova")
    h.claude.script("*Finn bubbles happily.* Tea's ready!", model="claude-test-default")
    sent = await h.discord.voice_message(USER_ID, OGG)
    channel = int(sent["channel_id"])
    text, voice = await h.replies(channel, 2)
    assert text["content"] == "*Finn bubbles happily.* Tea's ready!"
    [speech] = speech_requests(h)
    assert speech.fields == {"model": "kokoro", "input": "Tea's ready!",
                             "voice": "nova", "response_format": "wav"}
    # The upload as Discord requires it (the fake refuses anything else): flag, no content, one Ogg file
    # with its duration and waveform in payload_json.
    assert voice["flags"] == VOICE_MESSAGE_FLAG and voice["content"] == ""
    [attachment] = voice["attachments"]
    assert attachment["filename"] == "voice-message.ogg" and attachment["content_type"] == "audio/ogg"
    assert attachment["_data"].startswith(b"OggS")
    expected = h.openai.speech_seconds(speech.fields["input"])
    assert abs(attachment["duration_secs"] - expected) < 0.1
    assert 1 <= len(base64.b64decode(attachment["waveform"])) <= 256
    [upload] = [r for r in h.discord.requests
                if r.method == "POST" and r.body and r.body.get("flags") == VOICE_MESSAGE_FLAG]
    assert upload.body["attachments"][0]["id"] == 0 and "duration_secs" in upload.body["attachments"][0]
    # Our own voice message is logged with a placeholder, not as an empty message.
    assert (await logged_texts(h, channel, 3))[-1] == "[voice message]"
    # mirror: a typed message gets a typed answer only
    await h.dm("and a biscuit?")
    await h.replies(channel, 3)
    await h.settled()  # every event read and handled: what did not happen, will not
    assert len(voice_posts(h, channel)) == 1 and len(speech_requests(h)) == 1


@needs_audio_tools
async def test_always_speaks_every_reply_with_espeak(make_harness: MakeHarness) -> None:
    h = await make_harness(voice_replies="always", tts_voice="en-gb")
    h.claude.script("Welcome to the tide pool.", model="claude-test-default")
    await h.say("hello there", mention=True)
    text, voice = await h.replies(CHANNEL_ID, 2)
    assert text["content"] == "Welcome to the tide pool." and voice["flags"] == VOICE_MESSAGE_FLAG
    [attachment] = voice["attachments"]
    assert attachment["_data"].startswith(b"OggS") and attachment["duration_secs"] > 0.5
    assert h.openai.heard == []  # spoken locally


@needs_audio_tools
async def test_a_failing_speech_server_leaves_the_text_reply(make_harness: MakeHarness,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    h = await make_harness(voice_replies="always", tts_backend="openai")
    h.openai.audio_errors = [500, 500]
    sent = await h.dm("hello")
    [reply] = await h.replies(int(sent["channel_id"]))
    await eventually(check(lambda: "voice reply" in caplog.text), "the failed voice reply's log line")
    assert "the voice reply to message" in caplog.text and "speech failed" in caplog.text
    assert reply["content"] == "Hello from fake Claude." and voice_posts(h, int(sent["channel_id"])) == []


async def test_the_fake_discord_refuses_broken_voice_messages(harness: Harness) -> None:
    http = harness.bot.http  # type: ignore[union-attr]
    good = VoiceClip(b"OggS" + bytes(100), 1.5, base64.b64encode(bytes(10)).decode())
    await send_voice_message(http, CHANNEL_ID, good)  # accepted
    for clip in (VoiceClip(b"RIFF" + bytes(100), 1.5, good.waveform),  # not Ogg
                 VoiceClip(good.ogg, 0, good.waveform),  # no duration
                 VoiceClip(good.ogg, 1.5, base64.b64encode(bytes(257)).decode()),  # waveform too long
                 VoiceClip(good.ogg, 1.5, "not base64!")):
        with pytest.raises(discord.HTTPException) as refused:
            await send_voice_message(http, CHANNEL_ID, clip)
        assert refused.value.status == 400 and refused.value.code in (50160, 50161)

    async def post(payload: dict[str, Any], files: int = 1) -> None:
        parts = [discord.File(io.BytesIO(good.ogg), filename="voice-message.ogg") for _ in range(files)]
        form = [{"name": "payload_json", "value": json.dumps(payload)}] + [
            {"name": f"files[{i}]", "value": f.fp, "filename": f.filename, "content_type": "audio/ogg"}
            for i, f in enumerate(parts)]
        await http.request(Route("POST", "/channels/{channel_id}/messages", channel_id=CHANNEL_ID),
                           files=parts, form=form)

    meta = [{"id": 0, "filename": "voice-message.ogg", "duration_secs": 1.5, "waveform": good.waveform}]
    for payload, files, code in (({"content": "hi", "flags": 8192, "attachments": meta}, 1, 50159),
                                 ({"flags": 8192, "attachments": meta}, 2, 50160),
                                 ({"flags": 8192, "attachments": []}, 1, 50161)):
        with pytest.raises(discord.HTTPException) as refused:
            await post(payload, files)
        assert refused.value.code == code
    assert len(voice_posts(harness, CHANNEL_ID)) == 1


# --------------------------------------------------------------------------- the parts


@needs_audio_tools
async def test_any_audio_becomes_an_ogg_opus_clip_with_duration_and_waveform() -> None:
    clip = await to_voice_clip(tone(2.0))
    assert clip.ogg.startswith(b"OggS") and b"OpusHead" in clip.ogg[:200]
    assert abs(clip.duration - 2.0) < 0.05
    points = base64.b64decode(clip.waveform)
    assert len(points) == 20  # one point per 100 ms
    assert max(points) == 255 and points[0] < 80 and points[-1] < 80  # the tone swells and fades
    long = await to_voice_clip(tone(40.0))
    assert len(base64.b64decode(long.waveform)) == 256  # never more than Discord takes


def test_waveform_points() -> None:
    assert waveform(array("h", [0] * 800), 0.1) == b"\x00"
    rising = array("h", [i * 10 for i in range(1600)])  # 0.2 s at 8 kHz
    assert list(waveform(rising, 0.2)) == [127, 255]  # peaks 7990 and 15990


def test_transcripts_and_spoken_text() -> None:
    assert transcript_content("  hello\n there ") == "[voice] hello there"
    assert transcript_content("   ") == "[voice] (nothing could be made out)"  # never an empty turn
    assert spoken_text("*waves* **Hello** _there_, `friend` ~~no~~") == "Hello there , friend no"
    # roleplay actions are not said, bold and sums are
    assert spoken_text("*sips her tea.* Hi! *smiles*") == "Hi!"
    assert spoken_text("**Two** is 2*3*4, or 2 * 3") == "Two is 2 3 4, or 2 3"
    assert spoken_text("*bows*") == ""


def test_a_missing_program_is_one_clear_line_when_voice_is_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing installed
    env = {"DISCORD_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}
    off = VoiceService(load_settings(FINN, None, environ=env).section(VoiceSettings))
    assert off.startup_problems() == []  # voice off: silent
    on = VoiceService(load_settings(FINN, None, environ={**env, "VOICE_REPLIES": "mirror"})
                      .section(VoiceSettings))
    ffmpeg, espeak = on.startup_problems()
    assert "voice_replies=mirror needs ffmpeg, which is not installed (Debian: apt-get install ffmpeg)" \
        in ffmpeg
    assert "espeak-ng" in espeak and ffmpeg in caplog.text
    remote = VoiceService(load_settings(FINN, None, environ={**env, "VOICE_REPLIES": "always",
                                                             "TTS_BACKEND": "openai"}).section(VoiceSettings))
    assert len(remote.startup_problems()) == 1  # speech from a server still needs ffmpeg's conversion
    # Voice channels need ffmpeg too: one line names both settings, and what each goes without.
    both = VoiceService(load_settings(FINN, None, environ={**env, "VOICE_REPLIES": "always",
                                                           "TTS_BACKEND": "openai", "VOICE_CHANNELS": "true",
                                                           "STT_BACKEND": "openai"}).section(VoiceSettings))
    [line] = both.startup_problems()
    assert line.startswith("voice_replies=always and voice_channels=true need ffmpeg, which is not installed")
    assert "replies stay text only and answers in a call are posted, not spoken, until it is" in line


async def test_a_wav_is_made_call_audio_in_process_as_ffmpeg_makes_it() -> None:
    """espeak-ng's WAV in three scripts' voices: the call's 48 kHz stereo PCM made without ffmpeg is ffmpeg's
    own (same length, same loudness, the same waveform); what is not a plain WAV goes to ffmpeg."""
    import numpy as np

    from bot.features.voice.audio import _run, espeak, to_call_pcm, wav_to_call_pcm

    for line, voice in (("Chamomile, with a little honey.", "en"), ("Il est tard.", "fr-fr"),
                        ("我们明天应该走。", "cmn")):
        wav = await espeak(line, voice)
        ours = np.frombuffer(await to_call_pcm(wav), dtype="<i2").astype(float)
        ffmpeg = ["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ar", "48000", "-ac", "2",
                  "pipe:1"]
        theirs = np.frombuffer(await _run(ffmpeg, wav, "conversion"), dtype="<i2").astype(float)
        assert len(ours) == len(theirs), voice
        assert np.corrcoef(ours, theirs)[0, 1] > 0.999, voice
        assert abs(np.sqrt(np.mean(ours ** 2)) / np.sqrt(np.mean(theirs ** 2)) - 1) < 0.01, voice
    assert wav_to_call_pcm(b"OggS not a wav") is None
    assert len(await to_call_pcm(tone(0.2))) > 0  # (the fake speech server's WAV tone)
