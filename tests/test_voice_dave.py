"""DAVE as Discord's voice server enforces it, and joining a call already in progress: the members' clients
formed the call's MLS group before the bot came, the bot is welcomed into it (op 30), hears a member's
end-to-end encrypted speech and is heard. The fake voice server refuses a key package that is not the
user's or does not parse (4020) and drops a commit for another epoch, from another sender or naming
proposals it never sent or leaving out one it did. Members joining and leaving race the bot's commit: the
voice server takes only the commit that names every proposal of the epoch. A commit or welcome the bot
cannot process is flagged (op 31) and the bot is welcomed back into the group, as the DAVE protocol
recovers; a recovery that fails too makes it leave."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import davey
import numpy as np
import pytest

from bot.features.voice.speech import VoiceService
from tests.fakes.claude_server import Reply
from tests.fakes.dave_mls import DaveGroup, add_proposal, vec
from tests.fakes.speech_book import SpeechBook
from tests.fakes.voice_server import FakeVoiceServer, Grant, Member, client_ssl
from tests.harness import ADMIN_ID, GUILD_ID, USER2_ID, USER_ID, Harness, reply_requests
from tests.test_voice_channel import wav
from tests.test_voice_talk import ANSWER, ASKED, VOTER, in_the_call
from tests.voice_support import VOICE_ID, speech, voice_harness

CHANNEL = 4242
BOB_SAYS = "The kettle is boiling already."
CAROL_SAYS = "Seven apples on the table."


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
    book.learn(ANSWER, speech(ANSWER, h.bot.services.part(VoiceService).voice.tts_voice or "en"))
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
    pcm = await h.bot.services.part(VoiceService).speak_in_call(ANSWER)
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
    group.form_among(members)
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
    messages = group.add_proposals([carol])
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


async def heard_in_the_call(h: Harness, book: SpeechBook, *speakers: tuple[int, str]) -> None:
    """Each speaker's line, end-to-end encrypted by its own DAVE session, reaches the transcription; the
    bot's DAVE session decrypted it (no frame let through unencrypted); and its answer to the last (which
    names the character: the others are not answered), spoken into the call, is decrypted and decoded by
    each of them."""
    voice = h.discord.voice
    assert voice is not None and h.bot is not None
    [client] = h.bot.voice_clients
    session = client._connection.dave_session  # type: ignore[attr-defined]
    heard = {user: len(voice.heard.get(user, [])) for user, _ in speakers}
    undecryptable = voice.undecryptable
    for user, line in speakers:
        before = len(h.openai.heard)
        await voice.speak(user, speech(line))
        await voice.wait_for(lambda _, n=before: len(h.openai.heard) > n, what=f"{line!r} transcribed")
        assert book.recognize(h.openai.heard[before].data) == line
        stats = session.get_decryption_stats(user)
        assert stats is not None and stats.successes > 0 and stats.passthroughs == 0
    frames = len(await h.bot.services.part(VoiceService).speak_in_call(ANSWER)) // 3840
    for user, _ in speakers:
        await voice.wait_for(lambda v, u=user: len(v.heard.get(u, [])) - heard[u] >= frames - 5,
                             what=f"the answer heard by {user}")
        await h.bot.in_flight.drain()
        mine = np.frombuffer(b"".join(voice.heard[user][heard[user]:]), dtype="<i2")
        assert book.recognize(wav(mine[::2].tobytes())) == ANSWER
    assert voice.undecryptable == undecryptable


def answering(h: Harness) -> SpeechBook:
    assert h.bot is not None
    h.openai.speech_book = book = SpeechBook()
    for line in (BOB_SAYS, CAROL_SAYS, ASKED):
        book.learn(line, speech(line))
    book.learn(ANSWER, speech(ANSWER, h.bot.services.part(VoiceService).voice.tts_voice or "en"))
    h.claude.script("no", model=VOTER, times=None)
    h.claude.script(Reply(ANSWER), times=None)
    return book


async def test_two_members_joining_before_the_bots_commit_lands_are_both_in_the_next_epoch(
        dave_call: Harness) -> None:
    h = dave_call
    voice = h.discord.voice
    assert voice is not None and h.bot is not None and h.bot.user is not None
    book = answering(h)
    await in_the_call(h, USER_ID)
    group = voice.group
    assert group is not None and group.epoch == 1
    # The bot's commits are held on the way: bob's and the admin's joins are proposed back to back, each
    # before the bot's commit for the one before reached the voice server.
    group.hold_commits()
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER2_ID)
    await voice.wait_for(lambda _: len(group.held or []) == 1, what="the bot's commit adding bob")
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, ADMIN_ID)
    await voice.wait_for(lambda _: len(group.held or []) == 2, what="the bot's commit adding both")
    await group.release_commits()

    # The first names bob's proposal alone: refused, as Discord refuses it; the second, naming both, taken.
    assert group.refused == ["commit: leaves out a proposal the server sent this epoch"]
    assert group.epoch == 2 and group.invalid == []
    assert sorted(group.roster.values()) == sorted([h.bot.user.id, USER_ID, USER2_ID, ADMIN_ID])
    [client] = h.bot.voice_clients
    await voice.wait_for(lambda _: client._connection.dave_session.epoch == 2,  # type: ignore[attr-defined]
                         what="the bot in the epoch the commit began")
    await heard_in_the_call(h, book, (USER2_ID, BOB_SAYS), (ADMIN_ID, CAROL_SAYS), (USER_ID, ASKED))


async def test_a_member_leaving_and_another_joining_before_the_bots_commit_lands(dave_call: Harness) -> None:
    h = dave_call
    voice = h.discord.voice
    assert voice is not None and h.bot is not None and h.bot.user is not None
    book = answering(h)
    await in_the_call(h, USER_ID, USER2_ID)
    group = voice.group
    assert group is not None and group.epoch == 1
    group.hold_commits()
    await h.discord.member_leaves_voice(GUILD_ID, USER2_ID)  # bob's leaf proposed for removal
    await voice.wait_for(lambda _: len(group.held or []) == 1, what="the bot's commit removing bob")
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, ADMIN_ID)
    await voice.wait_for(lambda _: len(group.held or []) == 2, what="the bot's commit removing and adding")
    await group.release_commits()

    assert group.refused == ["commit: leaves out a proposal the server sent this epoch"]
    assert group.epoch == 2 and group.invalid == []
    assert sorted(group.roster.values()) == sorted([h.bot.user.id, USER_ID, ADMIN_ID])
    await heard_in_the_call(h, book, (ADMIN_ID, CAROL_SAYS), (USER_ID, ASKED))


async def test_a_member_leaving_before_its_add_is_committed_is_revoked(dave_call: Harness) -> None:
    h = dave_call
    voice = h.discord.voice
    assert voice is not None and h.bot is not None and h.bot.user is not None
    book = answering(h)
    await in_the_call(h, USER_ID)
    group = voice.group
    assert group is not None
    group.hold_commits()
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, ADMIN_ID)
    await voice.wait_for(lambda _: len(group.held or []) == 1, what="the bot's commit adding the admin")
    await h.discord.member_leaves_voice(GUILD_ID, ADMIN_ID)  # gone before it was added: its add revoked
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER2_ID)
    await voice.wait_for(lambda _: len(group.held or []) == 2, what="the bot's commit adding bob")
    await group.release_commits()

    assert group.refused == ["commit: names a proposal the server did not send this epoch"]
    assert group.epoch == 2 and group.invalid == []
    assert sorted(group.roster.values()) == sorted([h.bot.user.id, USER_ID, USER2_ID])
    await heard_in_the_call(h, book, (USER2_ID, BOB_SAYS), (USER_ID, ASKED))


async def test_a_commit_it_cannot_process_is_flagged_and_it_is_welcomed_back(dave_call: Harness) -> None:
    h = dave_call
    voice = h.discord.voice
    assert voice is not None and h.bot is not None and h.bot.user is not None
    book = answering(h)
    await in_the_call(h, USER_ID, USER2_ID)
    group = voice.group
    assert group is not None
    conn = voice.connection(h.bot.user.id)
    assert conn is not None
    transition = await group.announce_garbage(conn)

    # Flagged (op 31); its leaf removed by a member's commit; its new key package welcomed (op 30).
    await voice.wait_for(lambda _: group.welcomes, what="the bot welcomed back")
    assert group.invalid == [transition]
    assert sorted(group.roster.values()) == sorted([h.bot.user.id, USER_ID, USER2_ID])
    [client] = h.bot.voice_clients
    await voice.wait_for(lambda _: client._connection.can_encrypt  # type: ignore[attr-defined]
                         and client._connection.dave_session.epoch == group.epoch,  # type: ignore[attr-defined]
                         what="the bot in the group's epoch again")
    assert h.discord.in_voice(GUILD_ID, h.bot.user.id) == VOICE_ID  # still in the call
    await heard_in_the_call(h, book, (USER2_ID, BOB_SAYS), (USER_ID, ASKED))
