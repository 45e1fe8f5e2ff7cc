"""Kindred's receiver of a voice channel (bot/discord/voicechat/), over the wire: two members of a call of
the fake Discord say lines rendered by espeak-ng, at once, their clients' packets encrypted for transport
and, under DAVE, end to end with each member's own MLS keys; the bot's listening VoiceClient hands on one
utterance per member, that member's, as long as what they said. And the segmenter alone, on real speech."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import discord
import pytest

from bot.discord.voicechat.client import ListeningVoiceClient, listening
from bot.features.voice.hearing import Hearing
from bot.features.voice.segmenter import FRAME_BYTES, Segmenter, Utterance
from bot.features.voice.speech import VoiceService
from tests.fakes.speech_book import SpeechBook
from tests.harness import GUILD_ID, USER2_ID, USER_ID, Harness
from tests.voice_support import VOICE_ID, speech, spoken_seconds, voice_harness

SHORT = "Good evening."
LONG = "The tide comes in twice a day, and the rock pools fill with little crabs."
# A whole utterance told apart from SHORT by its length, for the tests that need no more (a member's audio
# is sent in real time).
LINE = "The tide comes in twice a day,"


@pytest.fixture
async def call(dave: bool, db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    h = await voice_harness(db_url, tmp_path, dave=dave, stt_backend="openai")
    try:
        yield h
    finally:
        await h.close()


async def join(call: Harness, heard: list[Utterance], *,
               on_utterance: Callable[[Utterance], None] | None = None,
               idle_seconds: float | None = None, barge_in: bool = False,
               pause_seconds: float | None = None) -> ListeningVoiceClient:
    assert call.bot is not None
    channel = call.bot.get_channel(VOICE_ID)
    assert isinstance(channel, discord.VoiceChannel)
    client = await channel.connect(cls=listening(on_utterance or heard.append, max_seconds=15,
                                                 idle_seconds=idle_seconds, barge_in=barge_in,
                                                 pause_seconds=pause_seconds))
    assert isinstance(client, ListeningVoiceClient)
    voice = call.discord.voice
    assert voice is not None
    if voice.dave:
        await voice.wait_for(lambda v: v.group is not None and v.group.active, what="the DAVE group")
    return client


async def test_two_members_speaking_at_once_become_one_utterance_each(call: Harness) -> None:
    voice = call.discord.voice
    assert voice is not None
    for member in (USER_ID, USER2_ID):
        await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, member)
    heard: list[Utterance] = []
    client = await join(call, heard)
    await asyncio.gather(voice.speak(USER_ID, speech(SHORT)), voice.speak(USER2_ID, speech(LINE)))
    await voice.wait_for(lambda _: len(heard) >= 2, what="two utterances")
    by_member = {u.user_id: u for u in heard}
    assert set(by_member) == {USER_ID, USER2_ID} and len(heard) == 2
    for member, line in ((USER_ID, SHORT), (USER2_ID, LINE)):
        said = spoken_seconds(speech(line))
        assert abs(spoken_seconds(by_member[member].pcm, channels=1) - said) < 0.4, member
    counters = client.receiver.counters
    assert counters.undecrypted == 0 and counters.unopened == 0
    await client.disconnect()


async def test_a_member_who_joins_later_is_heard_too(call: Harness) -> None:
    """Under DAVE the newcomer is added to the MLS group (a proposal, the bot's commit, a welcome) before
    its frames can be read."""
    voice = call.discord.voice
    assert voice is not None
    await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    heard: list[Utterance] = []
    client = await join(call, heard)
    await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER2_ID)
    if voice.dave:
        await voice.wait_for(lambda v: v.group.epoch >= 2 and not v.group.pending, what="the second commit")
    await voice.speak(USER2_ID, speech(SHORT))
    await voice.wait_for(lambda _: heard, what="an utterance")
    assert [u.user_id for u in heard] == [USER2_ID]
    await client.disconnect()


async def test_a_member_still_heard_after_another_left(call: Harness) -> None:
    """Under DAVE the one who left is removed from the MLS group (a proposal, the bot's commit): the keys
    move to a new epoch, which the receiver follows."""
    voice = call.discord.voice
    assert voice is not None
    for member in (USER_ID, USER2_ID):
        await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, member)
    heard: list[Utterance] = []
    client = await join(call, heard)
    epoch = voice.group.epoch if voice.group is not None else 0
    await call.discord.member_leaves_voice(GUILD_ID, USER2_ID)
    if voice.dave:
        await voice.wait_for(lambda v: v.group.epoch > epoch and not v.group.pending, what="the removal")
    await voice.speak(USER_ID, speech(SHORT))
    await voice.wait_for(lambda _: heard, what="an utterance")
    assert [u.user_id for u in heard] == [USER_ID] and client.receiver.counters.undecrypted == 0
    await client.disconnect()


async def test_the_bot_stays_while_someone_is_there_and_leaves_when_alone(call: Harness) -> None:
    voice = call.discord.voice
    assert voice is not None and call.bot is not None and call.bot.user is not None
    await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    heard: list[Utterance] = []
    client = await join(call, heard, idle_seconds=0.5)
    await voice.wait_for(lambda _: client.present == {USER_ID}, what="the call's members")
    await voice.speak(USER_ID, speech(LINE))  # longer than the idle time: someone is there all along
    await voice.wait_for(lambda _: heard, what="an utterance")
    assert call.discord.in_voice(GUILD_ID, call.bot.user.id) == VOICE_ID
    await call.discord.member_leaves_voice(GUILD_ID, USER_ID)
    bot_id = call.bot.user.id
    await voice.wait_for(lambda _: call.discord.in_voice(GUILD_ID, bot_id) is None,
                         what="the bot leaving the empty call")
    assert not client.is_connected()


async def test_a_member_who_speaks_over_the_bot_stops_it(call: Harness) -> None:
    """Barge-in: the bot's playback stops when a member begins an utterance, and what the member says is
    heard whole."""
    from bot.discord.voicechat.speaking import play

    voice = call.discord.voice
    assert voice is not None
    await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    heard: list[Utterance] = []
    client = await join(call, heard, barge_in=True)
    playing = asyncio.create_task(play(client, speech(LONG) * 3))
    await voice.wait_for(lambda v: len(v.heard.get(USER_ID, [])) > 10, what="the bot speaking")
    await voice.speak(USER_ID, speech(SHORT))
    assert await playing is False and client.interrupted == 1
    await voice.wait_for(lambda _: heard, what="the member's utterance")
    assert [u.user_id for u in heard] == [USER_ID]
    await client.disconnect()


async def test_forged_repeated_and_cut_off_packets_leave_one_true_utterance(call: Harness) -> None:
    """A packet sealed with another key is dropped unheard; a packet that arrives twice is played once;
    a client whose silence frames were lost still ends its utterance when its packets stop."""
    voice = call.discord.voice
    assert voice is not None
    await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    heard: list[Utterance] = []
    client = await join(call, heard)
    voice.forge(USER_ID)
    await voice.speak(USER_ID, speech(LINE), silence_frames=False, duplicates=True)
    await voice.wait_for(lambda _: heard, what="the utterance")
    assert [u.user_id for u in heard] == [USER_ID]
    assert abs(spoken_seconds(heard[0].pcm, channels=1) - spoken_seconds(speech(LINE))) < 0.4
    counters = client.receiver.counters
    assert counters.unopened == 1 and counters.late > 0 and counters.undecrypted == 0
    await client.disconnect()


async def test_what_each_member_said_is_transcribed_as_their_words(call: Harness) -> None:
    """The speech-to-text backend of voice messages hears each utterance (the fake knows the lines by
    their sound, as they came through Opus, DAVE and the detector)."""
    voice = call.discord.voice
    assert voice is not None and call.bot is not None
    call.openai.speech_book = book = SpeechBook()
    for line in (SHORT, LINE):
        book.learn(line, speech(line))
    for member in (USER_ID, USER2_ID):
        await call.discord.member_joins_voice(GUILD_ID, VOICE_ID, member)
    said: list[tuple[int, str]] = []

    async def heard(member: int, content: str, _: Utterance) -> None:
        said.append((member, content))

    hearing = Hearing(call.bot.services.part(VoiceService), heard)
    client = await join(call, [], on_utterance=hearing.utterance)
    await asyncio.gather(voice.speak(USER_ID, speech(SHORT)), voice.speak(USER2_ID, speech(LINE)))
    await voice.wait_for(lambda _: len(said) >= 2, what="two transcripts")
    assert sorted(said) == sorted([(USER_ID, f"[voice] {SHORT}"), (USER2_ID, f"[voice] {LINE}")])
    await hearing.close()
    await client.disconnect()


def frames(pcm: bytes) -> list[bytes]:
    """Stereo PCM as the receiver hands the segmenter: 20 ms frames of the left channel."""
    import array

    mono = array.array("h", pcm)[::2].tobytes()
    return [mono[i:i + FRAME_BYTES] for i in range(0, len(mono) - FRAME_BYTES + 1, FRAME_BYTES)]


def cut(segmenter: Segmenter, pcm: bytes) -> list[bytes]:
    out = [piece for frame in frames(pcm) if (piece := segmenter.push(frame)) is not None]
    last = segmenter.finish()
    return out + ([last] if last is not None else [])


def test_speech_between_silences_is_one_utterance_and_a_pause_makes_two() -> None:
    quiet = bytes(48_000 * 2 * 2)  # a second of stereo silence
    one = cut(Segmenter(max_seconds=15), quiet + speech(SHORT) + quiet)
    assert len(one) == 1
    two = cut(Segmenter(max_seconds=15), quiet + speech(SHORT) + quiet + speech(SHORT) + quiet)
    assert len(two) == 2


def test_an_utterance_is_cut_at_its_length_limit_and_a_click_is_none() -> None:
    pieces = cut(Segmenter(max_seconds=1.0), speech(LONG))
    assert len(pieces) >= 3 and all(len(p) <= 48_000 * 2 for p in pieces)
    click = speech("t")[: 48_000 * 2 * 2 // 10]  # a tenth of a second
    assert cut(Segmenter(max_seconds=15), bytes(48_000 * 4) + click + bytes(48_000 * 4)) == []
