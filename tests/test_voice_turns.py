"""The end of a member's turn in a call, over the wire (DAVE on and off), the client sending its quiet
as audio (no silence frames: the end is the receiver's to find): a finished sentence at a short pause is
answered at once; an answer begun at a pause (speculative) is withdrawn unseen and unheard when the member
goes on before its first audio, and their words are answered whole, once; a member who goes on after its
audio began stops it and is heard with their earlier words, one turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.features.voice.calls import Calls
from bot.features.voice.hearing import Hearing
from tests.fakes.claude_server import Reply
from tests.fakes.speech_book import SpeechBook
from tests.harness import GUILD_ID, USER_ID, Harness, reply_requests
from tests.test_voice_talk import in_the_call
from tests.voice_support import VOICE_ID, speech, voice_harness

PCM_FRAME = 3840  # 20 ms of 48 kHz 16-bit stereo
QUESTION = "Finn, what tea would you make me?"
FIRST = "It is late."
REST = "Shall we go home?"
ANSWER = "Chamomile, with a little honey."
TOO_SOON = "Yes, it is very late."
WHOLE = "Yes, let us walk home together."


def quiet(seconds: float) -> bytes:
    """Silence sent as audio, as a client without its own voice detection sends it."""
    return bytes(PCM_FRAME * round(seconds / 0.02))


@pytest.fixture
async def call(dave: bool, db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    h = await voice_harness(db_url, tmp_path, dave=dave, stt_backend="openai", voice_channels="true")
    try:
        yield h
    finally:
        await h.close()


def hearing_of(h: Harness) -> Hearing:
    assert h.bot is not None
    hearing = getattr(h.bot.services.part(Calls).current(GUILD_ID), "hearing", None)
    assert isinstance(hearing, Hearing)
    return hearing


def bot_audio(h: Harness) -> list[float]:
    """When each audio packet of the bot's reached the voice server."""
    voice = h.discord.voice
    assert voice is not None and h.bot is not None and h.bot.user is not None
    conn = voice.connection(h.bot.user.id)
    return conn.audio_at if conn is not None else []


async def voice_lines(h: Harness) -> list[str]:
    return [m.content for m in await h.store.log.recent_messages(VOICE_ID, limit=20)]


async def test_a_finished_sentence_at_a_short_pause_is_answered(call: Harness) -> None:
    h = call
    voice = h.discord.voice
    assert voice is not None and h.bot is not None
    h.openai.speech_book = book = SpeechBook()
    book.learn(QUESTION, speech(QUESTION))
    h.claude.script(ANSWER)
    await in_the_call(h, USER_ID)
    await voice.speak(USER_ID, speech(QUESTION) + quiet(1.2), silence_frames=False)
    [posted] = await h.discord.wait_for_messages(VOICE_ID, 1)
    assert posted["content"] == ANSWER
    await voice.wait_for(lambda v: len(v.heard.get(USER_ID, [])) >= 20, what="the answer said")
    await h.bot.in_flight.drain()
    hearing = hearing_of(h)
    assert hearing.early == 1 and hearing.withdrawn == 0  # answered at its pause, not after the full wait
    [asked] = reply_requests(h)
    assert f"[voice] {QUESTION}" in h.claude.all_text(asked)
    lines = await voice_lines(h)
    assert lines.count(f"[voice] {QUESTION}") == 1 and ANSWER in lines
    assert len([r for r in h.openai.heard if "transcriptions" in r.path]) == 1  # heard once


async def test_an_answer_begun_at_a_pause_is_withdrawn_when_the_member_goes_on(call: Harness) -> None:
    """The model's answer to "It is late." is held until alice goes on: withdrawn, it was neither posted nor
    said nor kept, and the one answer is to her whole words, under the same message."""
    h = call
    voice = h.discord.voice
    assert voice is not None and h.bot is not None
    # (espeak-ng ends each line with 0.3 s of quiet: a pause, short of the full wait)
    first, whole = speech(FIRST), speech(FIRST) + speech(REST)
    h.openai.speech_book = book = SpeechBook()
    book.learn(FIRST, speech(FIRST))
    book.learn(f"{FIRST} {REST}", whole)
    held = asyncio.Event()
    h.claude.script(Reply(TOO_SOON, held=held))  # the answer begun at the pause, still being written
    h.claude.script(WHOLE)
    await in_the_call(h, USER_ID)
    try:
        # "It is late." and a pause: 0.3 s of quiet by her client's clock, the full wait (0.6 s) not reached
        await voice.speak(USER_ID, first, silence_frames=False)
        await voice.wait_for(lambda _: reply_requests(h), what="the answer begun at the pause")
        [early] = reply_requests(h)
        assert f"[voice] {FIRST}" in h.claude.all_text(early) and REST not in h.claude.all_text(early)
        # she goes on (her clock continuous: the same utterance)
        await voice.speak(USER_ID, speech(REST) + quiet(1.2), silence_frames=False)
        [posted] = await h.discord.wait_for_messages(VOICE_ID, 1)
        assert posted["content"] == WHOLE
        await voice.wait_for(lambda v: len(v.heard.get(USER_ID, [])) >= 20, what="the answer said")
        await h.bot.in_flight.drain()
    finally:
        held.set()
    hearing = hearing_of(h)
    assert hearing.withdrawn == 1
    asked = reply_requests(h)
    assert len(asked) == 2 and f"[voice] {FIRST} {REST}" in h.claude.all_text(asked[1])
    # nothing of the withdrawn answer posted or said: one post, and no audio before the second request
    assert [m["content"] for m in h.discord.posted(VOICE_ID)] == [WHOLE]
    assert min(bot_audio(h)) > asked[1].received_at
    # kept: her whole words once (the withdrawn turn's message rewritten), and the one answer
    lines = await voice_lines(h)
    assert [x for x in lines if x.startswith("[voice]")] == [f"[voice] {FIRST} {REST}"]
    assert TOO_SOON not in lines and WHOLE in lines


async def test_going_on_after_the_answer_began_stops_it_and_is_heard_with_the_earlier_words(
        call: Harness) -> None:
    h = call
    voice = h.discord.voice
    assert voice is not None and h.bot is not None
    h.openai.speech_book = book = SpeechBook()
    book.learn(FIRST, speech(FIRST))
    book.learn(REST, speech(REST))
    h.claude.script(TOO_SOON + " The lamps are lit along the harbour, and the last boats are in.")
    h.claude.script(WHOLE)
    await in_the_call(h, USER_ID)
    await voice.speak(USER_ID, speech(FIRST), silence_frames=False)  # and its 0.3 s of quiet
    await voice.wait_for(lambda v: v.heard.get(USER_ID), what="the answer begun aloud")
    client = getattr(h.bot.services.part(Calls).current(GUILD_ID), "client", None)
    assert client is not None
    # she goes on at once: by her clock, within the full wait of her words
    await voice.speak(USER_ID, speech(REST) + quiet(1.2), silence_frames=False)
    await voice.wait_for(lambda _: len(reply_requests(h)) >= 2, what="her whole words answered")
    await h.bot.in_flight.drain()
    assert client.interrupted == 1  # barge-in stopped the first answer
    asked = reply_requests(h)
    assert f"[voice] {FIRST} {REST}" in h.claude.all_text(asked[1])
    assert [m["content"] for m in h.discord.posted(VOICE_ID)][-1] == WHOLE


THANKS = "Thank you, good night."


async def test_after_a_withdrawn_answer_the_next_requests_carry_the_whole_words_once(call: Harness) -> None:
    """A conversation under way (an earlier exchange, its prompt prefix cached), then an answer begun at a
    pause and withdrawn: the request that answers the whole words, and the one after it, read the member's
    words once, whole; never the fragment the withdrawn answer was begun on."""
    h = call
    voice = h.discord.voice
    assert voice is not None and h.bot is not None
    h.openai.speech_book = book = SpeechBook()
    book.learn(QUESTION, speech(QUESTION))
    book.learn(FIRST, speech(FIRST))
    book.learn(f"{FIRST} {REST}", speech(FIRST) + speech(REST))
    book.learn(THANKS, speech(THANKS))
    held = asyncio.Event()
    h.claude.script(ANSWER)
    h.claude.script(Reply(TOO_SOON, held=held))
    h.claude.script(WHOLE)
    h.claude.script("Good night.")
    await in_the_call(h, USER_ID)
    try:
        await voice.speak(USER_ID, speech(QUESTION) + quiet(1.2), silence_frames=False)
        await h.discord.wait_for_messages(VOICE_ID, 1)
        await h.bot.in_flight.drain()
        await voice.speak(USER_ID, speech(FIRST), silence_frames=False)
        await voice.wait_for(lambda _: len(reply_requests(h)) >= 2, what="the answer begun at the pause")
        await voice.speak(USER_ID, speech(REST) + quiet(1.2), silence_frames=False)
        await h.discord.wait_for_messages(VOICE_ID, 2)
        await h.bot.in_flight.drain()
    finally:
        held.set()
    await voice.speak(USER_ID, speech(THANKS) + quiet(1.2), silence_frames=False)
    await h.discord.wait_for_messages(VOICE_ID, 3)
    await h.bot.in_flight.drain()
    asked = reply_requests(h)
    assert len(asked) == 4 and hearing_of(h).withdrawn == 1
    assert FIRST in h.claude.all_text(asked[1]) and REST not in h.claude.all_text(asked[1])
    # the answer to the whole words (they end its request), then the next (they are a line of its history)
    for request in asked[2:]:
        text = h.claude.all_text(request)
        assert text.count(f"[voice] {FIRST} {REST}") == 1 and text.count(FIRST) == 1
    assert h.claude.all_text(asked[3]).index(f"[voice] {FIRST} {REST}") < h.claude.all_text(asked[3]).index(
        WHOLE) < h.claude.all_text(asked[3]).index(f"[voice] {THANKS}")
