"""A member's packets as a network and a client really deliver them, over the wire with the fake voice
server (DAVE on and off): sent faster than real time (taken no faster than real time), out of order (put
back in order within 60 ms), held up on the way (one utterance, not two), sent unencrypted during a DAVE
transition (heard when the session lets them through), and a finished sentence answered at a short pause
rather than after the full end-of-silence wait. Every assertion counts packets, frames or utterances."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.discord.voicechat.jitter import Jitter
from bot.discord.voicechat.receiver import BURST_FRAMES
from bot.discord.voicechat.rtp import RtpFrame
from bot.features.voice.audio import wav_seconds
from bot.features.voice.hearing import Hearing, ends_sentence
from bot.features.voice.segmenter import Utterance
from bot.features.voice.speech import VoiceService
from tests.fakes.speech_book import SpeechBook
from tests.harness import GUILD_ID, USER_ID, Harness
from tests.test_voice_receiver import LINE, LONG, join
from tests.voice_support import VOICE_ID, speech, spoken_seconds, voice_harness

PCM_FRAME = 3840  # 20 ms of 48 kHz 16-bit stereo
QUESTION = "What tea would you make me?"
UNFINISHED = "The tide comes in twice a day,"


@pytest.fixture
async def call(dave: bool, db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    h = await voice_harness(db_url, tmp_path, dave=dave, stt_backend="openai")
    try:
        yield h
    finally:
        await h.close()


def transcribed(h: Harness) -> list[float]:
    """The seconds of audio in each transcription request the fake speech-to-text got."""
    return [wav_seconds(x.data) or 0.0 for x in h.openai.heard if x.path == "/v1/audio/transcriptions"]


async def test_audio_sent_faster_than_real_time_is_taken_at_real_time(call: Harness) -> None:
    voice = call.discord.voice
    assert voice is not None and call.bot is not None
    await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    said: list[str] = []

    async def heard(_member: int, content: str, _u: Utterance) -> None:
        said.append(content)

    hearing = Hearing(call.bot.services.part(VoiceService), heard)
    client = await join(call, [], on_utterance=hearing.utterance)
    loop = asyncio.get_running_loop()
    pcm = speech(LONG) * 4
    began = loop.time()
    sent = await voice.speak(USER_ID, pcm, pace=0.001)  # 17 s of audio in a fraction of that
    counters = client.receiver.counters
    await voice.wait_for(lambda _: counters.frames + counters.paced + counters.late >= sent - 5 and said,
                         what="every packet taken or dropped, and a transcript")
    took = loop.time() - began  # (an upper bound on the real time the packets' arrival spanned)
    assert counters.paced > 0
    assert counters.frames <= took * 50 + BURST_FRAMES + 5
    heard_seconds = sum(transcribed(call))
    sent_seconds = len(pcm) / 4 / 48_000
    assert heard_seconds <= took + BURST_FRAMES / 50 + 0.2 and heard_seconds < sent_seconds / 2
    await hearing.close()
    await client.disconnect()


async def test_packets_reordered_within_60_ms_are_one_whole_utterance(call: Harness) -> None:
    voice = call.discord.voice
    assert voice is not None
    await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    heard: list[Utterance] = []
    client = await join(call, heard)
    await voice.speak(USER_ID, speech(LINE), reorder=3)  # every tenth packet 60 ms late
    await voice.wait_for(lambda _: heard, what="the utterance")
    assert len(heard) == 1 and client.receiver.counters.late == 0
    assert abs(spoken_seconds(heard[0].pcm, channels=1) - spoken_seconds(speech(LINE))) < 0.4
    await voice.speak(USER_ID, speech(LINE), reorder=5)  # 100 ms late: past the buffer, dropped
    await voice.wait_for(lambda _: len(heard) == 2, what="the second utterance")
    assert client.receiver.counters.late > 0
    await client.disconnect()


async def test_packets_held_up_on_the_way_do_not_cut_an_utterance(call: Harness) -> None:
    """Packets that stop for longer than the end-of-silence wait and then come on, their clock continuous
    (a network or a starved process held them up, the member did not pause): one utterance."""
    voice = call.discord.voice
    assert voice is not None
    await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    heard: list[Utterance] = []
    client = await join(call, heard)
    await voice.speak(USER_ID, speech(LINE), stall=(40, 0.7))  # held up mid-word
    await voice.wait_for(lambda _: heard, what="the utterance")
    await voice.speak(USER_ID, speech(QUESTION))  # a second utterance, after which nothing more of the first
    await voice.wait_for(lambda _: len(heard) >= 2, what="the second utterance")
    assert len(heard) == 2
    assert abs(spoken_seconds(heard[0].pcm, channels=1) - spoken_seconds(speech(LINE))) < 0.4
    await client.disconnect()


def plain_frames(pcm: bytes, every: int) -> int:
    return sum(1 for n in range(-(-len(pcm) // PCM_FRAME)) if n % every == every - 1)


async def test_frames_dave_passes_through_are_heard_only_when_the_session_allows(call: Harness) -> None:
    voice = call.discord.voice
    assert voice is not None
    if not voice.dave:
        return  # without DAVE every frame is plain
    await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    heard: list[Utterance] = []
    client = await join(call, heard)
    counters = client.receiver.counters
    pcm = speech(LINE)
    await voice.speak(USER_ID, pcm, plain_every=10)  # no transition under way: dropped, as forged ones
    await voice.wait_for(lambda _: heard, what="the first utterance")
    assert counters.undecrypted == plain_frames(pcm, 10) and counters.passthrough == 0
    await voice.prepare_downgrade(USER_ID)
    session = client.e2ee()
    assert session is not None
    await voice.wait_for(lambda _: session.can_passthrough(USER_ID), what="passthrough allowed")
    await voice.speak(USER_ID, pcm, plain_every=10)
    await voice.wait_for(lambda _: len(heard) == 2, what="the second utterance")
    assert counters.passthrough == plain_frames(pcm, 10) and counters.undecrypted == plain_frames(pcm, 10)
    assert abs(spoken_seconds(heard[1].pcm, channels=1) - spoken_seconds(pcm)) < 0.4
    await client.disconnect()


async def test_a_finished_question_is_answered_at_a_short_pause_and_an_unfinished_line_waits(
        call: Harness) -> None:
    """The client sends its quiet as audio (no silence frames): the end is the receiver's to find. A
    transcript ending a sentence, at a 0.3 s pause, ends the utterance there; one that does not waits the
    full 0.6 s (30 frames), and its early transcription is its only one."""
    voice = call.discord.voice
    assert voice is not None and call.bot is not None
    call.openai.speech_book = book = SpeechBook()
    for line in (QUESTION, UNFINISHED):
        book.learn(line, speech(line))
    await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    said: list[tuple[str, Utterance]] = []

    async def heard(_member: int, content: str, utterance: Utterance) -> None:
        said.append((content, utterance))

    hearing = Hearing(call.bot.services.part(VoiceService), heard)
    client = await join(call, [], on_utterance=hearing.utterance, pause_seconds=0.3)
    hearing.conclude = client.receiver.conclude
    quiet = bytes(PCM_FRAME * 60)  # 1.2 s
    # Then nothing: the 0.3 s pause is reached, the full wait never by packets (only the wall clock's, 1.2 s
    # after the last packet, however long the transcription takes on a loaded machine)
    await voice.speak(USER_ID, speech(QUESTION) + bytes(PCM_FRAME * 16), silence_frames=False)
    await voice.wait_for(lambda _: said, what="the question answered")
    [(words, utterance)] = said
    assert words == f"[voice] {QUESTION}" and hearing.early == 1
    assert not utterance.final and utterance.silence == 15  # 0.3 s of silence frames, not 30
    await voice.speak(USER_ID, speech(UNFINISHED) + quiet, silence_frames=False)
    await voice.wait_for(lambda _: len(said) == 2, what="the unfinished line heard")
    words, utterance = said[1]
    assert words == f"[voice] {UNFINISHED}" and hearing.early == 1
    assert utterance.final and utterance.silence == 30
    assert len(transcribed(call)) == 2  # each heard once: the pause's transcription reused at the end
    await hearing.close()
    await client.disconnect()


async def test_passthrough_and_reordered_packets_transcribe_the_same_words_as_a_clean_run(
        call: Harness) -> None:
    """5 % of the frames unencrypted during a DAVE transition, a tenth of the packets 60 ms late: the same
    words as the clean line."""
    voice = call.discord.voice
    assert voice is not None and call.bot is not None
    call.openai.speech_book = book = SpeechBook()
    book.learn(LINE, speech(LINE))
    await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    said: list[str] = []

    async def heard(_member: int, content: str, _u: Utterance) -> None:
        said.append(content)

    hearing = Hearing(call.bot.services.part(VoiceService), heard)
    client = await join(call, [], on_utterance=hearing.utterance)
    if voice.dave:
        await voice.prepare_downgrade(USER_ID)
        session = client.e2ee()
        assert session is not None
        await voice.wait_for(lambda _: session.can_passthrough(USER_ID), what="passthrough allowed")
    await voice.speak(USER_ID, speech(LINE), plain_every=20, reorder=3)
    await voice.wait_for(lambda _: said, what="the transcript")
    counters = client.receiver.counters
    assert said == [f"[voice] {LINE}"] and counters.late == 0 and counters.undecrypted == 0
    if voice.dave:
        assert counters.passthrough == plain_frames(speech(LINE), 20)
    await hearing.close()
    await client.disconnect()


def rtp(sequence: int) -> RtpFrame:
    return RtpFrame(sequence & 0xFFFF, sequence * 960, 1, b"x")


def played(jitter: Jitter, order: list[int]) -> list[tuple[int, int]]:
    """(lost before it, sequence) of each packet played, fed in ``order``."""
    return [(lost, f.sequence) for s in order for lost, f in jitter.put(rtp(s))]


def test_the_jitter_buffer_puts_back_in_order_what_comes_within_three_frames() -> None:
    assert played(Jitter(), [0, 1, 2, 3]) == [(0, 0), (0, 1), (0, 2), (0, 3)]  # in order: at once
    jitter = Jitter()
    assert played(jitter, [0, 2, 3, 4, 1, 5]) == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (0, 5)]
    assert jitter.late == 0
    jitter = Jitter()  # four frames past the missing one: it is taken for lost, and dropped when it comes
    assert played(jitter, [0, 2, 3, 4, 5, 1, 6]) == [(0, 0), (1, 2), (0, 3), (0, 4), (0, 5), (0, 6)]
    assert jitter.late == 1
    jitter = Jitter()  # across the sequence number's wrap, and a repeat
    assert played(jitter, [65_534, 0, 65_535, 65_535, 1]) == [(0, 65_534), (0, 65_535), (0, 0), (0, 1)]
    assert jitter.late == 1
    jitter = Jitter()  # what is held when the packets stop: flushed in order
    played(jitter, [0, 2, 3])
    assert [(lost, f.sequence) for lost, f in jitter.flush()] == [(1, 2), (0, 3)] and not jitter.holding


def test_a_sentence_end_is_known_in_any_script() -> None:
    for words in ("What tea would you make me?", "Il est tard.", "¡Vamos!", "很晚了。", "你好吗？",
                  "देर हो गई है।", "هل نعود إلى البيت؟", "Он сказал: «Пойдём».", 'She said "yes."'):
        assert ends_sentence(words), words
    for words in ("I went down to the harbour,", "I think that", "我走到港口，", "Well...", "", "   "):
        assert not ends_sentence(words), words
