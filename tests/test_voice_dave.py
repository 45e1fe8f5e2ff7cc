"""DAVE as Discord's voice server enforces it, and joining a call already in progress: the members' clients
formed the call's MLS group before the bot came, the bot is welcomed into it (op 30), hears a member's
end-to-end encrypted speech and is heard. The fake voice server refuses a key package that is not the
user's or does not parse (4020) and drops a commit for another epoch, from another sender or naming
proposals it never sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import davey
import numpy as np
import pytest

from tests.fakes.claude_server import Reply
from tests.fakes.dave_mls import DaveGroup, add_proposal, vec
from tests.fakes.speech_book import SpeechBook
from tests.fakes.voice_server import FakeVoiceServer, Grant, Member, client_ssl
from tests.harness import USER2_ID, USER_ID, Harness, reply_requests
from tests.test_voice_channel import wav
from tests.test_voice_talk import ANSWER, ASKED, in_the_call
from tests.voice_support import VOICE_ID, speech, voice_harness

CHANNEL = 4242


@pytest.fixture
async def dave_call(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    h = await voice_harness(db_url, tmp_path, dave=True, stt_backend="openai", voice_channels="true")
    try:
        yield h
    finally:
        await h.close()


async def test_it_joins_a_call_in_progress_by_welcome_and_answers_a_member_there(dave_call: Harness) -> None:
    h = dave_call
    voice = h.discord.voice
    assert voice is not None and h.bot is not None
    voice.members_group = True  # alice's and bob's clients made the group before the character came
    h.openai.speech_book = book = SpeechBook()
    book.learn(ASKED, speech(ASKED))
    book.learn(ANSWER, speech(ANSWER, h.bot.services.voice.voice.tts_voice or "en"))
    h.claude.script(Reply(ANSWER))
    await in_the_call(h, USER_ID, USER2_ID)
    group = voice.group
    assert group is not None
    # Welcomed into their group, at the epoch after alice's commit adding it; it committed nothing itself.
    assert len(group.welcomes) == 1 and group.epoch == 2 and len(group.commits) == 2
    assert sorted(group.roster.values()) == sorted([USER_ID, USER2_ID, h.bot.user.id])  # type: ignore[union-attr]
    assert not any(op == "28" for op, _ in voice.connection(h.bot.user.id).log)  # type: ignore[union-attr]
    assert group.refused == [] and group.invalid == []

    await voice.speak(USER_ID, speech(ASKED))  # end-to-end encrypted by alice's own DAVE session
    await voice.wait_for(lambda _: h.openai.heard, what="the transcription request")
    assert book.recognize(h.openai.heard[0].data) == ASKED
    [client] = h.bot.voice_clients
    stats = client._connection.dave_session.get_decryption_stats(USER_ID)  # type: ignore[attr-defined]
    assert stats is not None and stats.successes > 0 and stats.passthroughs == 0  # by the welcome's keys
    [posted] = await h.discord.wait_for_messages(VOICE_ID, 1)
    assert posted["content"] == ANSWER and len(reply_requests(h)) == 1
    pcm = await h.bot.services.voice.speak_in_call(ANSWER)
    await voice.wait_for(lambda v: len(v.heard.get(USER_ID, [])) >= len(pcm) // 3840 - 5, what="the answer")
    heard = np.frombuffer(b"".join(voice.heard[USER_ID]), dtype="<i2")
    assert book.recognize(wav(heard[::2].tobytes())) == ANSWER
    assert voice.e2ee_frames >= len(pcm) // 3840 - 5 and voice.undecryptable == 0


def members_group(*users: int) -> tuple[FakeVoiceServer, DaveGroup, list[Member]]:
    """A voice server (not listening) whose members' clients formed the call's group among themselves."""
    server = FakeVoiceServer()
    server.members_group = True
    members = [Member(user, CHANNEL, 2000 + i) for i, user in enumerate(users)]
    server.members = {m.user_id: m for m in members}
    group = DaveGroup(server, CHANNEL)
    group._form_among(members)
    return server, group, members


def test_a_key_package_must_parse_and_be_the_users_own() -> None:
    _, group, _ = members_group(1)
    package = davey.DaveSession(1, 7, CHANNEL).get_serialized_key_package()
    assert group.key_package_refusal(package, 7) is None
    assert "UnexpectedUser" in (group.key_package_refusal(package, 8) or "")  # another user's credential
    corrupted = bytearray(package)
    corrupted[len(package) // 2] ^= 1
    assert group.key_package_refusal(bytes(corrupted), 7) is not None  # its signature no longer holds
    assert group.key_package_refusal(package[:-3], 7) is not None  # cut short
    assert group.key_package_refusal(b"", 7) is not None


def test_a_commit_is_taken_only_for_the_epoch_from_the_committer_naming_sent_proposals() -> None:
    server, group, (alice, bob) = members_group(1, 2)
    assert group.epoch == 1 and group.roster == {0: 1, 1: 2} and bob.dave.epoch == alice.dave.epoch == 1
    stale = group.commits[0]
    carol = Member(3, CHANNEL, 2010)
    server.members[3] = carol
    messages = group._proposals([carol])
    for member in (alice, bob):
        result = member.dave.process_proposals(davey.ProposalsOperationType.append, vec(messages))
    commit = result.commit  # bob's

    assert not group.take_commit(stale, alice.user_id)  # epoch 0's, replayed
    assert not group.take_commit(commit, alice.user_id)  # bob's commit said to be alice's
    assert not group.take_commit(b"\x00\x01\x00\x01garbage", bob.user_id)
    foreign = add_proposal(group.key, group.group_id, group.epoch,
                           davey.DaveSession(1, 9, CHANNEL).get_serialized_key_package())
    unsent = bob.dave.process_proposals(davey.ProposalsOperationType.append, vec(foreign))
    assert not group.take_commit(unsent.commit, bob.user_id)  # names a proposal the server never sent
    assert [why.split(":")[1].split()[0] for why in group.refused] == ["for", "sent", "unreadable", "names"]
    assert group.epoch == 1 and len(group.commits) == 1

    assert group.take_commit(commit, bob.user_id)
    assert group.epoch == 2 and group.roster == {0: 1, 1: 2, 2: 3}
    assert not group.take_commit(commit, bob.user_id)  # the same commit again: now a stale epoch's


async def test_the_voice_gateway_closes_on_a_key_package_not_the_users() -> None:
    server = await FakeVoiceServer(dave=True, require_dave=True).start()
    server.grant(Grant(1, 2, 3, "voice-session", "voice-token"))
    identify = {"server_id": "1", "user_id": "3", "session_id": "voice-session", "token": "voice-token",
                "max_dave_protocol_version": 1}
    select = {"protocol": "udp", "data": {"address": "127.0.0.1", "port": 1,
                                          "mode": "aead_xchacha20_poly1305_rtpsize"}}

    async def close_code(package: bytes) -> int | None:
        async with aiohttp.ClientSession() as http, http.ws_connect(
                f"wss://{server.endpoint}/?v=8", ssl=client_ssl()) as ws:
            await ws.send_json({"op": 0, "d": identify})
            await ws.send_json({"op": 1, "d": select})
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY and msg.data[2] == 25:  # the external sender
                    await ws.send_bytes(bytes([26]) + package)
                    break
            async for _ in ws:
                pass
            return ws.close_code

    try:
        assert await close_code(davey.DaveSession(1, 4, 2).get_serialized_key_package()) == 4020  # user 4's
        assert server.group.refused[-1].startswith("key package")
        assert await close_code(b"\x00\x01\x00\x02" + bytes(60)) == 4020  # does not parse
    finally:
        await server.close()
