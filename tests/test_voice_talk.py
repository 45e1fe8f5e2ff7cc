"""Talking with the character in a voice channel, over the wire: a member's speech (espeak-ng through the
fake peer's Opus, under DAVE and without) -> a transcription request with that audio -> the reply request,
naming the member and the voice channel -> the answer posted in the voice channel's chat and spoken into
the call, which the member's client decodes to the line. A member talking to someone else is answered only
if the votes let it in; /forget_me removes the member's [voice] lines."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from bot.core.text import first_clause
from bot.features.voice.aloud import SPOKEN
from bot.features.voice.speech import VoiceService
from tests.fakes.claude_server import Reply, content_text
from tests.fakes.speech_book import SpeechBook
from tests.harness import (
    CHANNEL_ID,
    GUILD_ID,
    USER2_ID,
    USER_ID,
    Harness,
    ephemeral,
    eventually,
    reply_requests,
)
from tests.test_voice_channel import wav
from tests.voice_support import VOICE_ID, speech, voice_harness

ASKED = "Finn, what tea would you make me?"
ANSWER = "Chamomile, with a little honey."
ASIDE = "Carol, pass me the biscuits please."
VOTER = "claude-test-voter"


@pytest.fixture
async def call(dave: bool, db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    h = await voice_harness(db_url, tmp_path, dave=dave, stt_backend="openai", voice_channels="true")
    try:
        yield h
    finally:
        await h.close()


async def in_the_call(h: Harness, *members: int) -> None:
    """Members in the voice channel and the character called in by the first (its DAVE group formed)."""
    voice = h.discord.voice
    assert voice is not None
    for member in members:
        await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, member)
    ix = await h.slash("voice", [{"name": "join", "type": 1, "options": []}], user=members[0])
    assert "in your voice channel" in (await ephemeral(ix))["content"]
    if voice.dave:
        await voice.wait_for(lambda v: v.group is not None and v.group.active, what="the DAVE group")


async def test_a_member_asks_and_the_character_answers_aloud_and_in_the_chat(call: Harness) -> None:
    h = call
    voice = h.discord.voice
    assert voice is not None and h.bot is not None
    h.openai.speech_book = book = SpeechBook()
    for line in (ASKED, ASIDE):
        book.learn(line, speech(line))
    tts_voice = h.bot.services.part(VoiceService).voice.tts_voice or "en"
    book.learn(ANSWER, speech(ANSWER, tts_voice))
    h.claude.script("no", model=VOTER, times=None)  # nothing said to someone else gets in
    # the model's judgement of the message (bot/reply/felt.py) is neither posted nor spoken
    h.claude.script(f"<felt>warmth</felt>\n{ANSWER}")
    await in_the_call(h, USER_ID, USER2_ID)

    await voice.speak(USER_ID, speech(ASKED))
    await voice.wait_for(lambda _: h.openai.heard, what="the transcription request")
    assert h.openai.heard[0].content_type == "audio/wav" and book.recognize(h.openai.heard[0].data) == ASKED
    [posted] = await h.discord.wait_for_messages(VOICE_ID, 1)
    assert posted["content"] == ANSWER
    [asked] = reply_requests(h)
    said = h.claude.all_text(asked)
    assert f"[voice] {ASKED}" in said and "alice" in said and "Lounge" in said
    # Spoken: the member's client decodes the line.
    pcm = await h.bot.services.part(VoiceService).speak_in_call(ANSWER)
    await voice.wait_for(lambda v: len(v.heard.get(USER_ID, [])) >= len(pcm) // 3840 - 5, what="the answer")
    heard = np.frombuffer(b"".join(voice.heard[USER_ID]), dtype="<i2")
    assert book.recognize(wav(heard[::2].tobytes())) == ANSWER
    logged = [m.content for m in await h.store.log.recent_messages(VOICE_ID, limit=10)]
    assert f"[voice] {ASKED}" in logged and ANSWER in logged

    # bob to someone else: heard and logged, not answered without a vote.
    await voice.speak(USER2_ID, speech(ASIDE))

    async def bob_logged() -> bool:
        rows = await h.store.log.recent_messages(VOICE_ID, limit=10)
        return any(m.author_id == USER2_ID and m.content == f"[voice] {ASIDE}" for m in rows)

    await eventually(bob_logged, "bob's [voice] line logged")
    await h.bot.in_flight.drain()  # its reply sequence, decided
    assert len(reply_requests(h)) == 1 and len(h.discord.posted(VOICE_ID)) == 1

    # /forget_me: alice's [voice] lines go.
    prompt = await (await h.slash("forget_me")).message()
    confirm = next(c for row in prompt["components"] for c in row["components"]
                   if "confirm" in c.get("custom_id", ""))
    await (await h.click(prompt, confirm["custom_id"])).response()
    await h.discord.wait_for(lambda d: "Done: I deleted" in (prompt.get("content") or ""), what="/forget_me")
    rows = await h.store.log.recent_messages(VOICE_ID, limit=10)
    assert not any(m.author_id == USER_ID for m in rows)
    assert any(m.author_id == USER2_ID for m in rows)


async def test_the_reply_is_asked_as_speech_and_its_actions_are_not_said(call: Harness) -> None:
    """A reply in a call is told it will be spoken (after the history, where instructions go); a text
    channel's is not. The card's roleplay actions in it are posted, never read out."""
    h = call
    voice = h.discord.voice
    assert voice is not None and h.bot is not None
    h.openai.speech_book = book = SpeechBook()
    book.learn(ASKED, speech(ASKED))
    book.learn(ANSWER, speech(ANSWER, h.bot.services.part(VoiceService).voice.tts_voice or "en"))
    h.claude.script("no", model=VOTER, times=None)
    h.claude.script(f"*pours the tea* {ANSWER}")
    await in_the_call(h, USER_ID, USER2_ID)
    await voice.speak(USER_ID, speech(ASKED))
    [posted] = await h.discord.wait_for_messages(VOICE_ID, 1)
    assert posted["content"] == f"*pours the tea* {ANSWER}"
    [asked] = reply_requests(h)
    last = content_text(asked.body["messages"][-1]["content"])
    assert SPOKEN in last and last.index(f"[voice] {ASKED}") < last.index(SPOKEN)
    pcm = await h.bot.services.part(VoiceService).speak_in_call(ANSWER)
    await voice.wait_for(lambda v: len(v.heard.get(USER_ID, [])) >= len(pcm) // 3840 - 5, what="the answer")
    heard = np.frombuffer(b"".join(voice.heard[USER_ID]), dtype="<i2")
    assert book.recognize(wav(heard[::2].tobytes())) == ANSWER  # said without "pours the tea"
    # written in the server's text channel, the same words are not asked as speech
    h.claude.script("Glub.")
    await h.say("finn, tea?", mention=True)
    await h.replies(CHANNEL_ID, 1)
    assert SPOKEN not in h.claude.all_text(reply_requests(h)[-1])


LONG_ANSWER = ("Chamomile, with a little honey and a slice of lemon in it. Then we sit by the window "
               "and watch the rain come down over the harbour. And after that a second cup, because one "
               "is never enough.")
# Its first two sentences: for a test that needs a sentence after the first, not a third (the bot's voice
# is played in real time).
TWO_SENTENCES = LONG_ANSWER.split(" And after")[0]


async def test_a_member_speaking_over_the_answer_stops_it_at_once(call: Harness) -> None:
    h = call
    voice = h.discord.voice
    assert voice is not None and h.bot is not None
    h.openai.speech_book = book = SpeechBook()
    for line in (ASKED, ASIDE):
        book.learn(line, speech(line))
    h.claude.script("no", model=VOTER, times=None)
    h.claude.script(LONG_ANSWER)
    await in_the_call(h, USER_ID, USER2_ID)
    first, *_ = LONG_ANSWER.split(". ")
    first_frames = len(await h.bot.services.part(VoiceService).speak_in_call(first + ".")) // 3840
    whole_frames = len(await h.bot.services.part(VoiceService).speak_in_call(LONG_ANSWER)) // 3840

    await voice.speak(USER_ID, speech(ASKED))
    await voice.wait_for(lambda v: len(v.heard.get(USER2_ID, [])) >= 10, what="the answer begun")
    await voice.speak(USER_ID, speech(ASIDE))  # alice speaks over it

    async def aside_logged() -> bool:
        rows = await h.store.log.recent_messages(VOICE_ID, limit=10)
        return any(m.content == f"[voice] {ASIDE}" for m in rows)

    await eventually(aside_logged, "alice's aside logged")
    await h.bot.in_flight.drain()  # the answer's speaking done
    heard = len(voice.heard[USER2_ID])
    assert heard < first_frames < whole_frames, (first_frames, heard, whole_frames)  # mid-sentence
    [posted] = h.discord.posted(VOICE_ID)
    assert posted["content"] == LONG_ANSWER  # the text is whole


async def test_the_first_sentence_is_spoken_while_the_rest_is_still_written(call: Harness) -> None:
    h = call
    voice = h.discord.voice
    assert voice is not None and h.bot is not None
    h.openai.speech_book = book = SpeechBook()
    book.learn(ASKED, speech(ASKED))
    first = TWO_SENTENCES.split(". ")[0] + "."
    writing = asyncio.Event()  # the model writes the rest once the test lets it
    h.claude.script(Reply(TWO_SENTENCES, writing=writing, written_until=len(first) + 1))
    await in_the_call(h, USER_ID)
    first_frames = len(await h.bot.services.part(VoiceService).speak_in_call(first)) // 3840
    whole_frames = len(await h.bot.services.part(VoiceService).speak_in_call(TWO_SENTENCES)) // 3840

    await voice.speak(USER_ID, speech(ASKED))
    # The first sentence is heard whole, and posted, while the rest is not written yet.
    await voice.wait_for(lambda v: len(v.heard.get(USER_ID, [])) >= first_frames - 5,
                         what="the first sentence")
    [posted] = h.discord.posted(VOICE_ID)
    assert posted["content"] == first
    # Posted as every reply is: a nonce naming the part, the one mention policy.
    [body] = [r.body for r in h.discord.requests
              if r.method == "POST" and r.path.endswith(f"/channels/{VOICE_ID}/messages")]
    assert body["nonce"].endswith(".a0") and "everyone" not in body["allowed_mentions"]["parse"]
    writing.set()
    await h.discord.wait_for(lambda _: posted["content"] == TWO_SENTENCES, what="the answer edited in whole")
    await h.bot.in_flight.drain()  # the rest spoken
    assert len(voice.heard[USER_ID]) >= whole_frames * 3 // 4, (len(voice.heard[USER_ID]), whole_frames)


async def test_a_sentence_whose_playback_stalls_ends_all_the_same(call: Harness,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    h = call
    voice = h.discord.voice
    assert voice is not None and h.bot is not None and h.bot.user is not None
    h.openai.speech_book = book = SpeechBook()
    book.learn(ASKED, speech(ASKED))
    h.claude.script(LONG_ANSWER)
    await in_the_call(h, USER_ID)
    caplog.set_level(logging.WARNING, logger="bot.discord.voicechat")
    voice.resumes_stall = True  # the voice server fails mid-sentence and never takes the bot back

    await voice.speak(USER_ID, speech(ASKED))
    await voice.wait_for(lambda v: len(v.heard.get(USER_ID, [])) >= 10, what="the answer begun")
    await voice.crash(h.bot.user.id)
    # discord.py's player waits for the connection to come back; the sentence is given up instead, and
    # the answer's work ends (the text posted whole).
    await h.bot.in_flight.drain()
    assert any("did not finish playing" in r.getMessage() for r in caplog.records)
    [posted] = h.discord.posted(VOICE_ID)
    assert posted["content"] == LONG_ANSWER


CLAUSED = ("Well, if you ask me honestly, I would make you a pot of chamomile with a spoon of honey. "
           "Then we sit by the window.")


@pytest.fixture
async def openai_speech(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    h = await voice_harness(db_url, tmp_path, dave=True, stt_backend="openai", voice_channels="true",
                            tts_backend="openai")
    try:
        yield h
    finally:
        await h.close()


async def test_a_long_first_sentence_is_said_from_its_first_clause_while_the_rest_is_written(
        openai_speech: Harness) -> None:
    h = openai_speech
    voice = h.discord.voice
    assert voice is not None and h.bot is not None
    h.openai.speech_per_character = 0.01  # shorter clips: what is checked is what was asked to be said
    h.openai.speech_book = book = SpeechBook()
    book.learn(ASKED, speech(ASKED))
    clause = "Well, if you ask me honestly,"  # "Well," alone is too short to be said by itself
    writing = asyncio.Event()  # the model writes the rest of the sentence once the test lets it
    h.claude.script(Reply(CLAUSED, writing=writing, written_until=len(clause) + len(" I would")))
    await in_the_call(h, USER_ID)
    before = len(h.openai.heard)

    def said() -> list[str]:
        return [str(r.fields.get("input")) for r in h.openai.heard[before:]
                if r.path.endswith("/audio/speech")]

    await voice.speak(USER_ID, speech(ASKED))
    # The clause goes to text-to-speech while the sentence it begins is still being written (nothing of it
    # posted yet: the chat shows whole sentences).
    await voice.wait_for(lambda _: said(), what="the first clause's speech requested")
    assert said() == [clause] and h.discord.posted(VOICE_ID) == []
    writing.set()
    await h.bot.in_flight.drain()
    [posted] = h.discord.posted(VOICE_ID)
    assert posted["content"] == CLAUSED
    # Said in three requests, nothing twice, nothing left out.
    assert said() == [clause, "I would make you a pot of chamomile with a spoon of honey.",
                      "Then we sit by the window."]
    assert " ".join(said()) == CLAUSED


def test_the_first_clause_is_long_enough_to_be_said_alone_in_any_script() -> None:
    assert first_clause("Well, I think") == ""
    assert first_clause("Well, if you ask me honestly, I") == "Well, if you ask me honestly,"
    assert first_clause("It costs 1,000 dollars, more or less") == "It costs 1,000 dollars,"  # (not 1,)
    assert first_clause("Chamomile, with a little honey") == ""
    assert first_clause("At 9:30 we meet at the harbour, then") == "At 9:30 we meet at the harbour,"
    assert first_clause("今日はとても良い天気ですね、散歩に") == "今日はとても良い天気ですね、"
    assert first_clause("今日は、散歩") == ""
    assert first_clause("Сегодня я весь день гулял по городу, и") == "Сегодня я весь день гулял по городу,"
