"""Consent (``memory_consent``, /memory opt-in | opt-out) over the wire: someone not remembered still gets
answers, but nothing about them outlives the short-term log, and the consolidation deletes that too."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from database.models import (
    ArchivedMessage,
    Conversation,
    CoreMemory,
    HistoryMessage,
    LoggedMessage,
    Relationship,
    UserFact,
)
from database.store import Store
from memory.consent import Consent
from tests.fakes.claude_server import Reply
from tests.harness import (
    CHANNEL_ID,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    consolidate,
    ephemeral,
    exchange,
)
from tests.memory_support import HashEmbedder, consolidation_responder


async def memory_rows(store: Store, user_id: int) -> dict[str, int]:
    """Rows of each kind of memory about a user (the log and the archive included)."""
    counts: dict[str, int] = {}
    async with store.engine.connect() as conn:
        for name, query in {
            "history": select(func.count()).select_from(HistoryMessage).join(
                Conversation, HistoryMessage.conversation_id == Conversation.id).where(
                    Conversation.user_id == user_id),
            "core_memories": select(func.count()).select_from(CoreMemory).where(
                CoreMemory.user_id == user_id),
            "facts": select(func.count()).select_from(UserFact).where(UserFact.user_id == user_id),
            "relationships": select(func.count()).select_from(Relationship).where(
                Relationship.user_id == user_id),
            "logged": select(func.count()).select_from(LoggedMessage).where(
                LoggedMessage.author_id == user_id),
            "archived": select(func.count()).select_from(ArchivedMessage).where(
                ArchivedMessage.author_id == user_id),
        }.items():
            counts[name] = int((await conn.execute(query)).scalar_one())
    return counts


async def memory_command(h: Harness, name: str, *, user: int = USER_ID) -> str:
    ix = await h.slash("memory", [{"type": 1, "name": name, "options": []}], user=user)
    return str((await ephemeral(ix))["content"])


def use_test_embedder(h: Harness) -> None:
    """Consolidation facts here need no real model: what is tested is who gets remembered."""
    embedder = HashEmbedder()
    memory = h.bot.services.memory
    memory.embedder = memory.consolidator.embedder = memory.recall.embedder = embedder


def test_the_consent_rule() -> None:
    opt_in = Consent(None, None, "opt_in")  # type: ignore[arg-type]
    everyone = Consent(None, None, "all")  # type: ignore[arg-type]
    assert [opt_in.allows(v) for v in (None, True, False)] == [False, True, False]
    assert [everyone.allows(v) for v in (None, True, False)] == [True, True, False]


async def test_opt_in_mode_keeps_nothing_about_people_who_did_not_opt_in(make_harness: MakeHarness) -> None:
    h = await make_harness(memory_consent="opt_in", conversation_token_threshold="30",
                           history_keep_messages="1")
    use_test_embedder(h)
    h.claude.responder = consolidation_responder()
    await exchange(h, "FACT[work]: Alice repairs lobster pots for a living, all week long.", 1)
    await exchange(h, "FACT[hobbies]: Alice plays the accordion at the harbour festival.", 2)
    await h.dm("FACT[health]: Alice has a bad knee.\nFEEL[trust]: 1")
    await h.replies(await h.dm_channel_id(), 1)
    await h.bot.in_flight.drain()
    await exchange(h, "FACT[work]: Bob sells sea glass.\nFEEL[rapport]: 1", 3, user=USER2_ID)
    ix = await h.slash("memory", [{"type": 1, "name": "opt-in", "options": []}], user=USER2_ID)
    assert "from now on I remember" in (await ix.message())["content"]
    await exchange(h, "FACT[hobbies]: Bob surfs at dawn.", 4, user=USER2_ID)

    key = h.bot.services.pipeline.character_key
    assert (await h.store.conversations.history(key, USER_ID, f"channel:{CHANNEL_ID}")).turns == []
    assert (await h.store.conversations.history(key, USER_ID, "dm")).turns == []
    # After opting in:
    assert len((await h.store.conversations.history(key, USER2_ID, f"channel:{CHANNEL_ID}")).turns) == 2
    assert (await memory_rows(h.store, USER_ID))["logged"] == 3  # only the short-term log holds them

    report = await consolidate(h)
    assert report.skipped == 0
    assert await memory_rows(h.store, USER_ID) == {"history": 0, "core_memories": 0, "facts": 0,
                                                   "relationships": 0, "logged": 0, "archived": 0}
    dm_channel = await h.dm_channel_id()
    assert not [m for _, m in await h.store.consolidation.logged_through(
                    await h.store.consolidation.log_watermark())
                if m.channel_id == dm_channel]  # the character's DM answers to them went too
    assert [r.fact for r in await h.store.facts.rows(USER2_ID)] == ["Bob sells sea glass.",
                                                                    "Bob surfs at dawn."]
    bob = await memory_rows(h.store, USER2_ID)
    assert bob["archived"] == 2 and bob["relationships"] == 1  # a message from before the opt-in counts too
    assert not any("Alice" in r.all_text() for r in h.claude.requests if '"facts"' in r.all_text())


async def test_opting_out_stops_new_memories_and_recall(make_harness: MakeHarness) -> None:
    h = await make_harness()  # memory_consent=all: everyone until they opt out
    use_test_embedder(h)
    key = h.bot.services.pipeline.character_key
    await exchange(h, "Hello Finn, one kelp tea please.", 1)
    assert len((await h.store.conversations.history(key, USER_ID, f"channel:{CHANNEL_ID}")).turns) == 2
    await h.store.facts.add(USER_ID, "Alice loves kelp tea",
                                   embedding=HashEmbedder().encode(["Alice loves kelp tea"])[0].tobytes())
    await exchange(h, "Some kelp tea again?", 2)
    assert "Alice loves kelp tea" in h.claude.last_request("claude-test-default").all_text()

    text = await memory_command(h, "opt-out")
    assert "no longer keep anything new" in text and "/forget_me" in text
    assert (await h.store.people.get_user(USER_ID)).memory_consent is False  # type: ignore[union-attr]
    await exchange(h, "Kelp tea, as always?", 3)
    assert "Alice loves kelp tea" not in h.claude.last_request("claude-test-default").all_text()
    # Nothing new kept.
    assert len((await h.store.conversations.history(key, USER_ID, f"channel:{CHANNEL_ID}")).turns) == 4

    assert "from now on I remember" in await memory_command(h, "opt-in")
    await exchange(h, "Back again!", 4)
    assert len((await h.store.conversations.history(key, USER_ID, f"channel:{CHANNEL_ID}")).turns) == 6


async def test_an_opt_out_while_the_reply_is_written_keeps_it_out(make_harness: MakeHarness) -> None:
    """Consent is read in the transaction that stores the exchange, not before the model call: an opt-out
    made while the character is still answering already keeps that exchange out of the history."""
    h = await make_harness()  # memory_consent=all
    key, scope = h.bot.services.pipeline.character_key, f"channel:{CHANNEL_ID}"
    held = asyncio.Event()
    h.claude.script(Reply("One kelp tea, coming up.", held=held), model="claude-test-default")
    await h.say("One kelp tea please.", mention=True)
    await h.claude.wait_for_requests(1)  # the prompt was read (the person still consenting), the model asked
    assert "no longer keep anything new" in await memory_command(h, "opt-out")
    held.set()
    [reply] = await h.replies(CHANNEL_ID, 1)
    assert reply["content"] == "One kelp tea, coming up."
    await h.bot.in_flight.drain()  # the reply's turns would be saved after it is posted
    assert (await h.store.conversations.history(key, USER_ID, scope)).turns == []

    assert "from now on I remember" in await memory_command(h, "opt-in")
    await exchange(h, "Another, please.", 2)
    assert len((await h.store.conversations.history(key, USER_ID, scope)).turns) == 2


async def test_a_failing_consent_check_stores_nothing(make_harness: MakeHarness, caplog: Any) -> None:
    h = await make_harness()

    class Broken:
        async def for_exchange(self, msg: Any) -> bool:
            raise RuntimeError("database unavailable")

    h.bot.services.memory.consent.for_exchange = Broken().for_exchange  # type: ignore[method-assign]
    await exchange(h, "hello", 1)
    assert (await h.store.conversations.history(h.bot.services.pipeline.character_key, USER_ID,
                                                f"channel:{CHANNEL_ID}")).turns == []
    assert "memory consent check failed" in caplog.text


async def test_the_engines_consent_rule_decides_what_is_stored(make_harness: MakeHarness) -> None:
    """The consent may answer yes or no at once, or with a rule for the stored consent, checked as the
    exchange is written."""
    h = await make_harness()
    key, scope = h.bot.services.pipeline.character_key, f"channel:{CHANNEL_ID}"
    asked: list[bool | None] = []

    class NeverStored:
        async def for_exchange(self, msg: Any) -> Any:
            return lambda consent: asked.append(consent) or False

    consent = h.bot.services.memory.consent  # the one the root hands every character's replies
    assert isinstance(consent, Consent)
    consent.for_exchange = NeverStored().for_exchange  # type: ignore[method-assign]
    await exchange(h, "hello", 1)
    assert asked == [None]  # the stored answer: never given
    assert (await h.store.conversations.history(key, USER_ID, scope)).turns == []
    del consent.for_exchange  # the class's own again
    await exchange(h, "hello again", 2)
    assert len((await h.store.conversations.history(key, USER_ID, scope)).turns) == 2
