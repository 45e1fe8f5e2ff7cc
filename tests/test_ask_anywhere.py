"""The app installed to a person, over the wire: ``/ask`` and the message menus "Ask <character>" and
"Remember this" in a server that never invited the bot and in a group DM. Discord's payloads for these carry
no guild member (a ``user`` object), a guild the bot does not know, ``context`` and
``authorizing_integration_owners``; the answer comes through the interaction (deferred, then edited and
followed up) and what is said stays in the person's private scope."""

from __future__ import annotations

import json
from datetime import UTC, datetime, tzinfo
from typing import Any

import pytest
from sqlalchemy import select

from bot.reply.pipeline import ReplyPipeline
from database.models import LoggedMessage
from database.records import PRIVATE_NOTE_SOURCE
from tests.harness import CHANNEL_ID, USER2_ID, USER_ID, Harness, stored_history
from tests.test_consent import memory_command
from tests.test_forget_in_flight import tables_saying
from tests.test_memory_commands import forget

ELSEWHERE_GUILD = 900_000_000_000_000_501  # a server the bot was never invited to
ELSEWHERE_CHANNEL = 900_000_000_000_000_510
GROUP_DM = 900_000_000_000_000_520
EPHEMERAL = 64


def pipeline(h: Harness) -> ReplyPipeline:
    assert h.bot is not None
    return h.bot.services.pipeline


def asked(h: Harness, needle: str) -> bool:
    return any(needle in json.dumps(r.body) for r in h.claude.requests)


async def test_ask_is_registered_for_both_installs_and_every_context(harness: Harness) -> None:
    await harness.lead_work_done()  # the commands' sync is lead work
    registered = {c["name"]: c for c in harness.discord.registered_commands()}
    menu = f"Ask {pipeline(harness).persona.name}"[:32]
    for name in ("ask", menu, "Remember this"):
        assert sorted(registered[name]["integration_types"]) == [0, 1], name
        assert sorted(registered[name]["contexts"]) == [0, 1, 2], name
    assert registered[menu]["type"] == 3 and registered["Remember this"]["type"] == 3


async def test_ask_in_a_server_the_bot_is_not_in_is_answered_and_kept_private(harness: Harness) -> None:
    h = harness
    h.discord.add_outside_channel(ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD)
    h.claude.script("Cobalt blue, every time.", model="claude-test-default")
    ask = await h.discord.interaction_installed(
        "ask", [{"name": "message", "type": 3, "value": "which glaze for the zebra mug"}],
        user_id=USER_ID, channel_id=ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD)
    assert (await ask.response())["type"] == 5  # deferred: a reply takes longer than three seconds
    shown = await ask.message()
    assert "Cobalt blue" in shown["content"] and shown["flags"] & EPHEMERAL  # drawn from private memory
    assert asked(h, "which glaze for the zebra mug")
    history = await stored_history(h, "dm", 2)  # the person's private scope, as their DMs
    assert "zebra mug" in history.turns[0].content
    assert (await h.store.conversations.history(pipeline(h).character_key, USER_ID,
                                                f"channel:{ELSEWHERE_CHANNEL}")).turns == []
    # Later, in a real server channel: the private exchange is not in that reply's prompt.
    h.claude.script("Hello!", model="claude-test-default")
    before = len(h.claude.requests)
    await h.say("hi there", mention=True)
    await h.replies(CHANNEL_ID, 1)
    later = h.claude.requests[before:]
    assert later and not any("zebra mug" in json.dumps(r.body) for r in later)


async def test_a_long_answer_is_split_into_follow_ups(harness: Harness) -> None:
    h = harness
    h.discord.add_outside_channel(ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD)
    long_answer = " ".join(f"Sentence number {i} about kilns." for i in range(160))
    h.claude.script(long_answer, model="claude-test-default")
    ask = await h.discord.interaction_installed(
        "ask", [{"name": "message", "type": 3, "value": "tell me everything about kilns"}],
        user_id=USER_ID, channel_id=ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD)
    first = await ask.message()
    last = await ask.followup(2)
    assert len(first["content"]) <= 2000 and len(ask.followups) == 2
    assert "Sentence number 0 " in first["content"] and "Sentence number 159" in last["content"]


async def test_ask_menu_in_a_group_dm_answers_the_message(harness: Harness) -> None:
    h = harness
    h.discord.add_outside_channel(GROUP_DM, recipients=(USER_ID, USER2_ID))
    target = h.discord.post_outside(GROUP_DM, USER2_ID, "should I fire the vase at cone 6?")
    h.claude.script("Cone 6 suits that clay.", model="claude-test-default")
    menu = f"Ask {pipeline(h).persona.name}"[:32]
    ask = await h.discord.interaction_installed(menu, user_id=USER_ID, channel_id=GROUP_DM, target=target)
    shown = await ask.message()
    assert "Cone 6 suits" in shown["content"] and shown["flags"] & EPHEMERAL  # the group sees none of it
    assert asked(h, "should I fire the vase at cone 6?")
    await stored_history(h, "dm", 2)


async def test_remember_this_stores_a_private_attributed_note(harness: Harness) -> None:
    h = harness
    h.discord.add_outside_channel(ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD)
    target = h.discord.post_outside(ELSEWHERE_CHANNEL, USER2_ID, "the studio closes at nine on Fridays")
    done = await h.discord.interaction_installed("Remember this", user_id=USER_ID,
                                                 channel_id=ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD,
                                                 target=target)
    answer = await done.message()
    assert "I'll remember" in answer["content"] and answer["flags"] & EPHEMERAL
    notes = await h.store.memories.core_memories(pipeline(h).character_key, USER_ID)
    assert [(content, source) for _, content, source in notes] == [
        ("bob said: the studio closes at nine on Fridays".replace("bob", target["author"]["username"]),
         PRIVATE_NOTE_SOURCE)]


async def test_where_external_apps_are_disabled_the_answer_is_ephemeral(harness: Harness) -> None:
    h = harness
    h.discord.add_outside_channel(ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD)
    h.claude.script("Quietly: yes.", model="claude-test-default")
    ask = await h.discord.interaction_installed(
        "ask", [{"name": "message", "type": 3, "value": "can you hear me"}], user_id=USER_ID,
        channel_id=ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD, external_apps_allowed=False)
    shown = await ask.message()
    assert "Quietly" in shown["content"] and shown["flags"] & EPHEMERAL
    assert (await ask.response())["data"].get("flags", 0) & EPHEMERAL  # the app asked for it itself


async def test_ask_in_a_channel_the_bot_is_in_stays_out_of_that_channel(harness: Harness) -> None:
    h = harness
    h.claude.script("Between us: teal.", model="claude-test-default")
    ask = await h.slash("ask", [{"name": "message", "type": 3, "value": "my secret glaze is teal"}])
    assert "teal" in (await ask.message())["content"]
    await stored_history(h, "dm", 2)
    h.claude.script("Hello!", model="claude-test-default")
    before = len(h.claude.requests)
    await h.say("hi there", user=USER2_ID, mention=True)
    await h.replies(CHANNEL_ID, 1)  # the /ask answer was shown to its asker alone, never posted
    later = h.claude.requests[before:]
    body = json.dumps(later[-1].body) if later else ""
    i = body.find("secret glaze")
    assert later and i < 0, body[max(0, i - 600):i + 200]


async def test_two_asks_in_one_millisecond_are_both_kept(harness: Harness,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each /ask is its own message, even when two come at the same instant: both are logged and the
    second's request holds the first."""
    h = harness
    instant = datetime.now(UTC)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Frozen:
            return cls.fromtimestamp(instant.timestamp(), tz)

    monkeypatch.setattr("bot.operator.asking.datetime", Frozen)
    h.claude.script("Kelp, of course.", model="claude-test-default")
    question = "what do otters eat for breakfast"
    first = await h.slash("ask", [{"name": "message", "type": 3, "value": question}])
    assert "Kelp" in (await first.message())["content"]
    h.claude.script("Krill, sometimes.", model="claude-test-default")
    before = len(h.claude.requests)
    second = await h.slash("ask", [{"name": "message", "type": 3, "value": "and what about for supper"}])
    assert "Krill" in (await second.message())["content"]
    later = json.dumps([r.body for r in h.claude.requests[before:]])
    assert "and what about for supper" in later and "otters eat for breakfast" in later
    await h.at_rest()
    logged = [m.content for m in await h.store.db.rows(
        select(LoggedMessage.content).where(LoggedMessage.author_id == USER_ID))]
    assert any("breakfast" in c for c in logged) and any("supper" in c for c in logged), logged


# -- "Remember this" on someone else's words: their consent applies


async def remember_this(h: Harness, target: dict[str, Any]) -> str:
    """Alice uses "Remember this" on ``target`` (in the outside server); the ephemeral answer."""
    done = await h.discord.interaction_installed("Remember this", user_id=USER_ID,
                                                 channel_id=ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD,
                                                 target=target)
    answer = await done.message()
    assert answer["flags"] & EPHEMERAL
    return str(answer["content"])


async def dm_request(h: Harness, text: str, answer: str) -> str:
    """Alice DMs the bot; the requests her message made, as sent to the fake Claude."""
    h.claude.script(answer, model="claude-test-default")
    before = len(h.claude.requests)
    sent = await h.dm(text)
    await h.discord.wait_for(lambda d: [m for m in h.discord.posted(int(sent["channel_id"]))
                                        if m["content"] == answer], what="the DM answer")
    return json.dumps([r.body for r in h.claude.requests[before:]])


async def test_a_note_quoting_someone_goes_with_their_forget_me(harness: Harness) -> None:
    h = harness
    h.discord.add_outside_channel(ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD)
    target = h.discord.post_outside(ELSEWHERE_CHANNEL, USER2_ID, "my new address is 7 Anemone Row")
    assert "I'll remember" in await remember_this(h, target)
    # Alice keeps a note of her own too: the version it archives holds bob's words.
    mine = await h.slash("remember", [{"name": "memory", "type": 3, "value": "I like tide pools"}], dm=True)
    await mine.message()
    assert "7 Anemone Row" in await dm_request(h, "hello", "Hi!")  # sent with her DMs
    proof = await h.store.privacy.rows_about_user(USER2_ID)
    assert proof.keys() >= {"core_memories", "core_memory_versions"}

    await forget(h, user=USER2_ID)

    assert await h.store.privacy.rows_about_user(USER2_ID) == {}
    assert "7 Anemone Row" not in await dm_request(h, "hello again", "Hey again!")
    notes = await h.store.memories.core_memories(pipeline(h).character_key, USER_ID)
    assert [content for _, content, _ in notes] == ["I like tide pools"]  # hers stays
    assert await tables_saying(h, "Anemone Row") == {}
    # Her words written before the forget may not be noted again.
    refused = await remember_this(h, target)
    assert "forget" in refused and "I'll remember" not in refused
    assert len(await h.store.memories.core_memories(pipeline(h).character_key, USER_ID)) == 1


async def test_remember_this_is_refused_for_someone_who_opted_out(harness: Harness) -> None:
    h = harness
    h.discord.add_outside_channel(ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD)
    assert "no longer keep anything new" in await memory_command(h, "opt-out", user=USER2_ID)
    target = h.discord.post_outside(ELSEWHERE_CHANNEL, USER2_ID, "my new address is 7 Anemone Row")
    refused = await remember_this(h, target)
    assert "not agreed to be remembered" in refused
    assert await h.store.memories.core_memories(pipeline(h).character_key, USER_ID) == []


async def test_a_later_opt_out_keeps_the_note_out_of_prompts(harness: Harness) -> None:
    h = harness
    h.discord.add_outside_channel(ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD)
    target = h.discord.post_outside(ELSEWHERE_CHANNEL, USER2_ID, "my new address is 7 Anemone Row")
    assert "I'll remember" in await remember_this(h, target)
    assert "7 Anemone Row" in await dm_request(h, "hello", "Hi!")
    assert "no longer keep anything new" in await memory_command(h, "opt-out", user=USER2_ID)
    assert "7 Anemone Row" not in await dm_request(h, "hello again", "Hey again!")
