"""Speech is paid for like the model, over the wire: each transcription (a voice message, a member's words in
a call) and each spoken answer (a voice-message reply, a sentence said in a call) is an api_calls row with its
purpose, model, person, server and price, which the totals, /status and the daily spend caps count; past a
cap the speech server is not called at all, and the log says why once. Another bot's audio in a call is
never sent to speech-to-text."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.features.voice.audio import audio_seconds, to_voice_clip, wav_seconds
from bot.features.voice.speech import spoken_text
from bot.operator.limits import SpendingLimits
from tests.dbtools import api_calls
from tests.fakes.openai_server import tone
from tests.fakes.speech_book import SpeechBook
from tests.harness import (
    CHANNEL_ID,
    GUILD_ID,
    OTHER_BOT_ID,
    USER_ID,
    Harness,
    MakeHarness,
    check,
    eventually,
)
from tests.test_voice import OGG, needs_audio_tools, speech_requests
from tests.test_voice_talk import in_the_call
from tests.voice_support import VOICE_ID, speech, voice_harness

TALKED_OUT = "I'm all talked out for now"
CAP_LINE = "global daily spend cap $0.01 reached"
ANSWER = "Chamomile. With honey!"


def transcriptions(h: Harness) -> list[Any]:
    return [x for x in h.openai.heard if x.path == "/v1/audio/transcriptions"]


async def rows(h: Harness, purpose: str, n: int) -> list[Any]:
    """The api_calls rows of ``purpose``, oldest first, once there are ``n``."""
    async def enough() -> list[Any] | None:
        found = [r for r in reversed(await api_calls(h.store)) if r.purpose == purpose]
        return found if len(found) >= n else None
    return await eventually(enough, f"{n} {purpose} row(s)")


async def spend_the_day(h: Harness, usd: float) -> None:
    """Today's spend already at ``usd`` (someone else's replies)."""
    await h.store.usage.record(user_id=None, purpose="reply", model="claude-test-default", input_tokens=0,
                               output_tokens=0, cache_creation_tokens=0, cache_read_tokens=0, cost=usd,
                               latency_ms=1.0, ok=True)


def cap_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and "daily spend cap" in r.getMessage()]


@pytest.fixture
async def calls(db_url: str, tmp_path: Path) -> AsyncIterator[list[Harness]]:
    made: list[Harness] = []
    yield made
    for h in made:
        await h.close()


async def a_call(made: list[Harness], db_url: str, tmp_path: Path, **config: str) -> Harness:
    h = await voice_harness(db_url, tmp_path, dave=False, stt_backend="openai", voice_channels="true",
                            **config)
    made.append(h)
    return h


# --------------------------------------------------------------------------- recorded


async def test_a_voice_messages_transcription_is_recorded_priced_and_counted(
        make_harness: MakeHarness) -> None:
    h = await make_harness(stt_backend="openai", stt_model="whisper-large-v3")
    sent = await h.discord.voice_message(USER_ID, OGG, channel_id=CHANNEL_ID, duration=30.0)
    await h.handled(sent)
    [row] = await rows(h, "transcription", 1)
    # Half a minute (Discord's duration_secs) at the default $0.006 a minute.
    assert (row.model, row.user_id, row.guild_id, row.ok) == ("whisper-large-v3", USER_ID, GUILD_ID, True)
    assert row.cost == pytest.approx(0.003) and row.latency_ms > 0
    assert row.input_tokens == row.output_tokens == 0
    # Seen wherever spend is read: the totals, the per-model listing (/status, the dashboard), the caps' sums.
    assert (await h.store.usage.totals(USER_ID, purpose="transcription")).cost == pytest.approx(0.003)
    by_model = dict(await h.store.usage.by_model())
    whisper = by_model["whisper-large-v3"]
    assert whisper.calls == 1 and whisper.cost == pytest.approx(0.003)
    assert "`whisper-large-v3`: $0.0030 · 1 call" in await h.bot.services.claude.status_lines()
    limits = h.bot.services.limits
    spent = await h.store.spending.today(limits.day_start(limits.clock()), guild_id=GUILD_ID, everyone=True)
    everything = (await h.store.usage.totals()).cost  # the transcription and the vote on its words
    assert everything > 0.003 and spent.server_usd == spent.global_usd == pytest.approx(everything)


async def test_a_failed_transcription_is_recorded_unpriced(make_harness: MakeHarness) -> None:
    h = await make_harness(stt_backend="openai")
    h.openai.audio_errors = [500, 503]  # the first try and the SDK's one retry
    sent = await h.discord.voice_message(USER_ID, OGG)
    await h.replies(int(sent["channel_id"]))
    [row] = await rows(h, "transcription", 1)
    assert not row.ok and row.cost == 0 and "503" in row.error and row.user_id == USER_ID
    assert row.guild_id is None  # a DM is no server's spend


@needs_audio_tools
async def test_a_spoken_voice_message_reply_is_recorded_per_character(make_harness: MakeHarness) -> None:
    h = await make_harness(stt_backend="openai", voice_replies="mirror", tts_backend="openai",
                           tts_model="kokoro", tts_usd_per_million_chars="20")
    h.claude.script("*Finn bubbles happily.* Tea's ready!", model="claude-test-default")
    sent = await h.discord.voice_message(USER_ID, OGG, duration=6.0)
    await h.replies(int(sent["channel_id"]), 2)  # the text reply, then the voice one
    [speech_row] = await rows(h, "speech", 1)
    [said] = speech_requests(h)
    chars = len(said.fields["input"])
    assert chars == len(spoken_text("*Finn bubbles happily.* Tea's ready!"))
    assert (speech_row.model, speech_row.user_id, speech_row.guild_id, speech_row.ok) == (
        "kokoro", USER_ID, None, True)
    assert speech_row.cost == pytest.approx(chars * 20 / 1_000_000)
    assert "kokoro" in dict(await h.store.usage.by_model())
    await h.handled(sent)


@needs_audio_tools
async def test_a_call_meters_each_members_words_and_each_sentence_spoken(
        calls: list[Harness], db_url: str, tmp_path: Path) -> None:
    h = await a_call(calls, db_url, tmp_path, tts_backend="openai", tts_model="kokoro")
    assert h.discord.voice is not None
    h.claude.script(ANSWER)
    await in_the_call(h, USER_ID)
    pcm = speech("Finn, what tea would you make me?")
    await h.discord.voice.speak(USER_ID, pcm)
    [heard] = await rows(h, "transcription", 1)
    assert (heard.user_id, heard.guild_id, heard.model) == (USER_ID, GUILD_ID, "whisper-1")
    seconds = len(pcm) / 4 / 48_000  # what the member said, and about as long as the utterance cut from it
    assert 0.5 * seconds * 0.0001 < heard.cost <= (seconds + 1) * 0.0001  # $0.006 a minute
    [posted] = await h.discord.wait_for_messages(VOICE_ID, 1)
    await h.discord.wait_for(lambda _: posted["content"] == ANSWER, what="the answer posted whole")
    await h.bot.in_flight.drain()  # and spoken: a speech call per sentence
    said = [x.fields["input"] for x in speech_requests(h)]
    assert len(said) >= 2 and " ".join(said) == ANSWER
    spoken = await rows(h, "speech", len(said))
    assert {(r.user_id, r.guild_id, r.model, r.ok) for r in spoken} == {(USER_ID, GUILD_ID, "kokoro", True)}
    assert [r.cost for r in spoken] == pytest.approx([len(words) * 15e-6 for words in said])  # $15 a million


# --------------------------------------------------------------------------- past a cap


async def test_past_the_global_cap_a_voice_message_is_not_transcribed_and_said_once(
        make_harness: MakeHarness, caplog: pytest.LogCaptureFixture) -> None:
    h = await make_harness(stt_backend="openai", global_daily_spend_usd="0.01")
    await spend_the_day(h, 0.02)
    first = await h.discord.voice_message(USER_ID, OGG)
    channel = int(first["channel_id"])
    [reply] = await h.replies(channel)
    assert TALKED_OUT in reply["content"]  # the limit's own line, in character, not "I can't listen"
    second = await h.discord.voice_message(USER_ID, OGG)
    await h.handled(first, second)
    assert transcriptions(h) == [] and h.claude.requests == []
    assert len(h.discord.posted(channel)) == 1  # told once
    [line] = cap_lines(caplog)
    assert CAP_LINE in line and "Speech-to-text not called" in line
    assert [r.purpose for r in await api_calls(h.store)] == ["reply"]  # no row for a call not made


async def test_past_the_global_cap_an_utterance_in_a_call_is_not_transcribed(
        calls: list[Harness], db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    h = await a_call(calls, db_url, tmp_path, global_daily_spend_usd="0.01")
    voice = h.discord.voice
    assert voice is not None
    caplog.set_level(logging.DEBUG, logger="bot.discord.voicechat")
    await in_the_call(h, USER_ID)  # called in before the day's spend reached the cap
    await spend_the_day(h, 0.02)
    assert h.bot is not None
    h.bot.services.limits.add_spend(None, 0.02)  # as this process's model client does after its own calls
    for _ in range(2):
        await voice.speak(USER_ID, speech("Good evening."))

    def dropped() -> int:
        return sum(("utterance was not transcribed" in r.getMessage() or "not heard" in r.getMessage())
                   and r.levelno == logging.DEBUG for r in caplog.records)

    await eventually(check(lambda: dropped() >= 2), "both utterances dropped")
    assert transcriptions(h) == []
    [line] = cap_lines(caplog)
    assert CAP_LINE in line and f"channel {VOICE_ID}" in line


# --------------------------------------------------------------------------- another bot in the call


async def test_another_bots_audio_in_a_call_is_never_transcribed(
        calls: list[Harness], db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    h = await a_call(calls, db_url, tmp_path)
    voice = h.discord.voice
    assert voice is not None
    h.openai.speech_book = book = SpeechBook()
    book.learn("Good evening.", speech("Good evening."))
    caplog.set_level(logging.DEBUG, logger="bot.features.voice.hearing")
    await in_the_call(h, USER_ID, OTHER_BOT_ID)
    await voice.speak(OTHER_BOT_ID, speech("Beep boop, I am a bot."))
    await eventually(check(lambda: f"an utterance of {OTHER_BOT_ID}, a bot" in caplog.text),
                     "the bot's utterance dropped")
    assert transcriptions(h) == []
    # A person's words in the same call are heard.
    await voice.speak(USER_ID, speech("Good evening."))
    await eventually(check(lambda: transcriptions(h)), "the member's transcription")
    [heard] = transcriptions(h)
    assert book.recognize(heard.data) == "Good evening."
    await h.bot.in_flight.drain()


# --------------------------------------------------------------------------- the parts


@needs_audio_tools
async def test_how_long_audio_lasts() -> None:
    import io
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(bytes(2 * 16_000 * 3))
    assert wav_seconds(out.getvalue()) == pytest.approx(3.0)
    assert wav_seconds(b"OggS" + bytes(100)) is None
    clip = await to_voice_clip(tone(2.0))
    assert await audio_seconds(clip.ogg) == pytest.approx(2.0, abs=0.05)  # ffprobe's reading
    assert await audio_seconds(b"not audio at all") is None


async def test_no_cap_set_asks_nothing_of_the_database() -> None:
    """Voice asks the limits before every call: with no daily cap that is no query at all."""
    from bot.core.config.sections import LimitSettings

    class NoQueries:
        async def today(self, *_: Any, **__: Any) -> Any:
            raise AssertionError("queried")

    limits = SpendingLimits(LimitSettings(), "UTC", NoQueries(),  # type: ignore[arg-type]
                            is_admin=lambda _: False, addressed=lambda _: False, name=lambda: "Finn",
                            mirror=lambda _: None)
    assert await limits.paid_call_refusal(USER_ID, GUILD_ID, CHANNEL_ID, what="speech-to-text") is None
