"""Admin slash commands over the wire: registration, refusal, autocomplete, bad input, and every change
visible in the very next reply's prompt (what the fake Claude is asked)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memory.relationships import clamp_metrics
from tests.harness import ADMIN_ID, CHANNEL_ID, GUILD_ID, USER2_ID, USER_ID, Harness, ephemeral
from tests.memory_support import HashEmbedder
from tests.server_support import answer, sub

VOTER = "claude-test-voter"
GROUPS = {
    "identity": {"add", "list", "edit", "delete"},
    "facts": {"add", "list", "edit", "delete", "pin"},
    "memories": {"list", "add", "edit", "delete", "history", "restore"},
    "relationship": {"show", "set", "reset"},
    "state": {"list", "get", "set", "delete"},
}


# --------------------------------------------------------------------------- helpers


async def run(h: Harness, group: str, name: str, *, as_user: int = ADMIN_ID, **options: Any) -> str:
    """Run ``/group name`` as ``as_user`` and return the ephemeral answer's text."""
    return await answer(await h.slash(group, sub(name, **options), user=as_user))


async def complete(h: Harness, group: str, name: str, focused: str, typed: str, *, as_user: int = ADMIN_ID,
                   **options: Any) -> list[dict[str, Any]]:
    """The autocomplete choices offered for ``focused`` while ``typed`` is typed."""
    opts = sub(name, **options)
    opts[0]["options"].append({"name": focused, "type": 3, "value": typed, "focused": True})
    ix = await h.discord.interaction_autocomplete(group, opts, user_id=as_user, channel_id=CHANNEL_ID,
                                                  guild_id=GUILD_ID)
    response = await ix.response()
    assert response["type"] == 8
    return list(response["choices"])


class Replies:
    """Talks to the character and returns what the reply request each message caused says about the
    person and the character: the system text and the final turn (where a channel prompt keeps the person's
    memories and relationship, after the cached transcript: bot/reply/transcript.py)."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.count = 0

    async def system(self, user: int = USER_ID) -> str:
        self.count += 1
        await self.h.say(f"message number {self.count}", user=user, mention=True)
        await self.h.replies(CHANNEL_ID, self.count)
        request = [r for r in self.h.claude.requests if r.model != VOTER][-1]
        assert f"message number {self.count}" in self.h.claude.all_text(request)
        # the system text and the person's data, wherever the layout puts it (bot/reply/prompting.py)
        return self.h.claude.all_text(request)


# --------------------------------------------------------------------------- registration and refusal


async def test_groups_are_registered_for_administrators(harness: Harness) -> None:
    await harness.lead_work_done()  # the commands' sync is lead work
    registered = {c["name"]: c for c in harness.discord.registered_commands()}
    for group, subcommands in GROUPS.items():
        assert int(registered[group]["default_member_permissions"]) == 8, group  # administrator
        assert {o["name"] for o in registered[group]["options"]} == subcommands
    edit = next(o for o in registered["identity"]["options"] if o["name"] == "edit")
    assert next(o for o in edit["options"] if o["name"] == "entry")["autocomplete"] is True


async def test_non_admins_are_refused_and_get_no_suggestions(harness: Harness) -> None:
    h = harness
    await h.store.state.set("daily_mood", "sunny")
    for group, name, options in (("state", "list", {}),
                                 ("state", "set", {"key": "daily_mood", "value": "stormy"}),
                                 ("identity", "add", {"kind": "trait", "text": "evil"})):
        text = await run(h, group, name, as_user=USER_ID, **options)
        assert text == "Only the bot's admins can use this command."
    assert await h.store.state.get("daily_mood") == "sunny"
    assert await complete(h, "state", "get", "key", "d", as_user=USER_ID) == []
    assert await complete(h, "memories", "list", "user", "", as_user=USER_ID) == []
    assert [c["value"] for c in await complete(h, "state", "get", "key", "mood")] == ["daily_mood"]


async def test_admin_commands_are_refused_in_dms(harness: Harness) -> None:
    """Discord hides guild-only commands in DMs, but discord.py runs whatever arrives: an admin's client
    sending /state set from a DM must be refused, not obeyed."""
    h = harness
    await h.store.state.set("daily_mood", "sunny")
    for group, name, options in (("state", "set", {"key": "daily_mood", "value": "stormy"}),
                                 ("identity", "add", {"kind": "trait", "text": "sneaky"})):
        ix = await h.slash(group, sub(name, **options), user=ADMIN_ID, dm=True)
        message = await ephemeral(ix)
        assert message["content"] == "This command only works in a server channel, not in direct messages."
    assert await h.store.state.get("daily_mood") == "sunny"
    assert "sneaky" not in await run(h, "identity", "list", kind="trait")  # and in the server it still works
    opts = sub("get")
    opts[0]["options"].append({"name": "key", "type": 3, "value": "mood", "focused": True})
    ix = await h.discord.interaction_autocomplete("state", opts, user_id=ADMIN_ID, channel_id=None,
                                                  guild_id=None)
    assert (await ix.response())["choices"] == []


# --------------------------------------------------------------------------- identity


async def test_identity_edits_reach_the_next_reply(harness: Harness) -> None:
    h = harness
    replies = Replies(h)
    old = "Easily flustered by compliments"
    assert old in await replies.system()
    [choice] = await complete(h, "identity", "edit", "entry", "flustered")
    assert choice["name"].endswith(f"trait: {old}")
    entry = int(choice["value"])

    text = await run(h, "identity", "edit", entry=entry, text="Takes compliments with calm grace")
    assert f"Changed trait #{entry}" in text and old in text
    system = await replies.system()
    assert "Takes compliments with calm grace" in system and old not in system

    added = await run(h, "identity", "add", kind="quirk", text="Hums sea shanties off-key")
    assert "Added quirk #" in added
    assert "Hums sea shanties off-key" in await replies.system()
    listing = await run(h, "identity", "list", kind="quirk")
    assert "Hums sea shanties off-key" in listing and "trait:" not in listing

    quirk = int(added.split("#")[1].split(":")[0])
    assert "Deleted quirk" in await run(h, "identity", "delete", entry=quirk)
    assert "Hums sea shanties" not in await replies.system()

    assert await run(h, "identity", "edit", entry=987654, text="x") == "There is no identity entry #987654."
    assert await run(h, "identity", "add", kind="lore", text="   ") == "The lore cannot be empty."


# --------------------------------------------------------------------------- core memories


async def test_core_memory_edits_reach_the_next_reply_and_versions_restore(harness: Harness) -> None:
    h = harness
    replies = Replies(h)
    await replies.system()  # alice is now a known user
    uid = str(USER_ID)
    assert [c["value"] for c in await complete(h, "memories", "add", "user", "ali")] == [uid]
    by_id = await complete(h, "memories", "add", "user", uid[:-1])  # an id's beginning finds it too
    assert [c["name"] for c in by_id] == [f"alice ({uid})"]
    assert await complete(h, "memories", "add", "user", "100%_") == []  # LIKE wildcards are taken literally

    added = await run(h, "memories", "add", user=uid, text="Alice keeps a pet crab named Sir Pinch.")
    assert "Added core memory #" in added
    assert "Sir Pinch" in await replies.system()

    [choice] = await complete(h, "memories", "edit", "memory", "pinch", user=uid)
    memory = int(choice["value"])
    assert "Changed core memory" in await run(h, "memories", "edit", user=uid, memory=memory,
                                              text="Alice keeps a pet crab named Lady Pinch.")
    system = await replies.system()
    assert "Lady Pinch" in system and "Sir Pinch" not in system

    history = await run(h, "memories", "history", user=uid)
    assert "before an edit" in history and "Sir Pinch" in history
    versions = await complete(h, "memories", "restore", "version", "edit", user=uid)
    assert await run(h, "memories", "restore", user=uid, version=int(versions[0]["value"]))
    system = await replies.system()
    assert "Sir Pinch" in system and "Lady Pinch" not in system
    assert "Sir Pinch" in await run(h, "memories", "list", user=uid)

    [choice] = await complete(h, "memories", "delete", "memory", "", user=uid)
    assert "Deleted core memory" in await run(h, "memories", "delete", user=uid, memory=int(choice["value"]))
    assert "Pinch" not in await replies.system()

    assert "I don't know user 424242" in await run(h, "memories", "list", user="424242")
    assert "is not a user id" in await run(h, "memories", "list", user="alice")
    await h.store.people.ensure_user(USER2_ID, "bob")
    key = h.bot.services.pipeline.character_key
    bobs = await h.store.memories.add_core_memory(key, USER2_ID, "Bob fears gulls.",
                                                  source="admin")
    assert f"has no core memory #{bobs}" in await run(h, "memories", "edit", user=uid, memory=bobs, text="x")
    assert "has no archived version #987654" in await run(h, "memories", "restore", user=uid, version=987654)


# --------------------------------------------------------------------------- relationship


def test_clamping_names_the_range() -> None:
    values, notes = clamp_metrics({"trust": 15.0, "formality": -9.0, "anger": 2.0, "rapport": None})
    assert values == {"trust": 10.0, "formality": -5.0, "anger": 2.0}
    assert notes == ["trust must be within 0..10; set to 10", "formality must be within -5..5; set to -5"]


async def test_relationship_changes_the_tone_of_the_next_reply(harness: Harness) -> None:
    h = harness
    replies = Replies(h)
    assert "How you feel about" not in await replies.system()
    uid = str(USER_ID)
    text = await run(h, "relationship", "set", user=uid, trust=15.0, rapport=8.0)
    assert "trust must be within 0..10; set to 10" in text and "trusting of them; be familiar" in text
    system = await replies.system()
    # said in the reply's one feeling line (bot/alive/regard.py), with how to let it show
    assert ("Toward alice you feel close to them and trusting of them: be familiar and playful; you can be "
            "open.") in system
    assert "trust 10/10" in await run(h, "relationship", "show", user=uid)

    text = await run(h, "relationship", "set", user=uid, anger=7.0, formality=-9.0)
    assert "formality must be within -5..5; set to -5" in text
    system = await replies.system()
    assert "you feel angry with them, close to them and trusting of them: let it show" in system
    assert "speak casually" in system and system.count("Toward alice") == 1

    assert "Reset the relationship" in await run(h, "relationship", "reset", user=uid)
    assert "How you feel about" not in await replies.system()
    assert "already at its defaults" in await run(h, "relationship", "reset", user=uid)
    assert "Give at least one of" in await run(h, "relationship", "set", user=uid)


# --------------------------------------------------------------------------- global state


async def test_state_commands_and_the_daily_mood(harness: Harness) -> None:
    h = harness
    replies = Replies(h)
    assert "Your mood today" not in await replies.system()
    assert "Set `daily_mood`" in await run(h, "state", "set", key="daily_mood", value="Grumpy about the fog")
    assert "## Your mood today\nGrumpy about the fog" in await replies.system()
    assert await run(h, "state", "get", key="daily_mood") == "`daily_mood` = Grumpy about the fog"
    assert "`daily_mood` = Grumpy about the fog" in await run(h, "state", "list")
    [choice] = await complete(h, "state", "delete", "key", "mood")
    assert choice == {"name": "daily_mood = Grumpy about the fog", "value": "daily_mood"}
    assert await run(h, "state", "delete", key="daily_mood") == "Deleted `daily_mood`."
    assert "Your mood today" not in await replies.system()
    assert await run(h, "state", "get", key="nope") == "There is no state key `nope`."

    assert not h.bot.mirror.enabled
    assert "Verbose mode is now on" in await run(h, "state", "set", key="verbose", value="on")
    assert h.bot.mirror.enabled
    assert await run(h, "state", "set", key="verbose", value="maybe") == "`verbose` takes on or off."
    assert "Verbose mode is now off" in await run(h, "state", "delete", key="verbose")  # back to the setting
    assert not h.bot.mirror.enabled


# --------------------------------------------------------------------------- facts


async def test_fact_changes_reach_the_next_reply(harness: Harness) -> None:
    h = harness
    replies = Replies(h)
    assert "<recalled_facts about=" not in await replies.system()  # alice is now a known user
    embedder = HashEmbedder()  # the real model is not needed: a pinned fact is recalled whatever it says
    h.bot.services.memory.embedder = embedder  # type: ignore[attr-defined]
    h.bot.services.memory.recall.embedder = embedder  # type: ignore[attr-defined]
    uid = str(USER_ID)

    text = await run(h, "facts", "add", user=uid, text="Alice keeps a lighthouse cat called Biscuit",
                     pinned=True)
    fact = int(text.split("#")[1].split()[0].rstrip(":"))

    def recalled(request_text: str) -> list[str]:
        if '<recalled_facts about="alice"' not in request_text:
            return []
        block = request_text.split('<recalled_facts about="alice"', 1)[1].split("</recalled_facts>", 1)[0]
        return [line[2:] for line in block.splitlines() if line.startswith("- ")]

    def last_reply_text() -> str:
        return h.claude.all_text([r for r in h.claude.requests if r.model != VOTER][-1])

    await replies.system()
    assert recalled(last_reply_text()) == ["Alice keeps a lighthouse cat called Biscuit"]
    await run(h, "facts", "edit", user=uid, fact=fact, text="Alice keeps a lighthouse cat called Crumpet")
    await replies.system()
    assert recalled(last_reply_text()) == ["Alice keeps a lighthouse cat called Crumpet"]
    await run(h, "facts", "delete", user=uid, fact=fact)
    await replies.system()
    assert recalled(last_reply_text()) == [] and "lighthouse cat" not in last_reply_text()



async def test_facts_add_edit_pin_delete_with_and_without_an_embedder(harness: Harness) -> None:
    h = harness
    await h.store.people.ensure_user(USER_ID, "alice")
    await h.store.people.ensure_user(USER2_ID, "bob")
    uid = str(USER_ID)
    facts = h.bot.services.admin.facts
    facts.embed = None  # first: admin tools without a memory engine to embed with

    text = await run(h, "facts", "add", user=uid, text="Works night shifts at the lighthouse",
                     category="work")
    assert "Added fact #" in text and "Stored without an embedding" in text
    [row] = await h.store.facts.rows(USER_ID)
    assert (row.fact, row.category, row.pinned, row.embedding) == (
        "Works night shifts at the lighthouse", "work", False, None)

    seen: list[str] = []

    class Recording:  # the sentence model behind the memory engine's embed
        def encode(self, sentences: Sequence[str]) -> np.ndarray:
            seen.extend(sentences)
            return np.asarray([[0.5, 0.25, float(len(s))] for s in sentences], dtype="<f4")

    h.bot.services.memory.embedder = Recording()
    facts.embed = h.bot.services.memory.embed
    text = await run(h, "facts", "add", user=uid, text="Allergic to shellfish", pinned=True)
    assert "(pinned)" in text and "without an embedding" not in text
    second = (await h.store.facts.rows(USER_ID))[1]
    assert np.frombuffer(second.embedding, dtype="<f4").tolist() == [0.5, 0.25, 21.0]

    [choice] = await complete(h, "facts", "edit", "fact", "lighthouse", user=uid)
    assert choice["value"] == row.id
    text = await run(h, "facts", "edit", user=uid, fact=row.id, text="Works days at the harbour")
    assert "now: [work] Works days at the harbour" in text
    edited = await h.store.facts.get(USER_ID, row.id)
    assert edited is not None and np.frombuffer(edited.embedding, dtype="<f4").tolist()[2] == 25.0
    assert seen == ["Allergic to shellfish", "Works days at the harbour"]

    class One:
        def encode(self, sentences: Sequence[str]) -> np.ndarray:
            return np.ones((len(sentences), 1), dtype="<f4")

    h.bot.services.memory.embedder = One()
    await run(h, "facts", "edit", user=uid, fact=row.id, text="Works days at the old harbour")
    edited = await h.store.facts.get(USER_ID, row.id)
    assert edited is not None and np.frombuffer(edited.embedding, dtype="<f4").tolist() == [1.0]

    assert "Pinned fact" in await run(h, "facts", "pin", user=uid, fact=row.id)
    listing = await run(h, "facts", "list", user=uid)
    assert "[work] 📌 Works days at the old harbour" in listing and "Allergic to shellfish" in listing
    assert f"(told {datetime.now(UTC):%Y-%m-%d})" in listing  # when it was told (not lasting: said nothing)
    assert "Unpinned fact" in await run(h, "facts", "pin", user=uid, fact=row.id, pinned=False)
    assert (await h.store.facts.get(USER_ID, row.id)).pinned is False  # type: ignore[union-attr]

    # Another user's fact id is refused; so is an edit without anything to change.
    assert f"has no fact #{row.id}" in await run(h, "facts", "delete", user=str(USER2_ID), fact=row.id)
    assert "Give a new text, a new category, or both." in await run(h, "facts", "edit", user=uid, fact=row.id)
    assert "Deleted fact" in await run(h, "facts", "delete", user=uid, fact=row.id)
    assert [r.fact for r in await h.store.facts.rows(USER_ID)] == ["Allergic to shellfish"]
    assert "No long-term facts about bob" in await run(h, "facts", "list", user=str(USER2_ID))


# --------------------------------------------------------------------------- failures


async def test_an_unexpected_failure_is_answered_even_without_the_user_commands_cog(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The error handler belongs to the bot, not to a cog: with only the admin slash commands loaded, an
    admin command that breaks still gets the apology (and the traceback is logged)."""
    h = Harness(db_url=db_url, tmp_path=tmp_path, cog_modules=["cogs.admin_slash"])
    try:
        await h.start()
        assert h.bot is not None
        assert h.bot.get_cog("UserCommands") is None and h.bot.get_cog("AdminSlash") is not None

        async def broken(*_: Any) -> str:
            raise RuntimeError("identity table full of barnacles")

        monkeypatch.setattr(h.bot.services.admin.identity, "show", broken)
        with caplog.at_level(logging.ERROR, logger="bot.discord.ui"):
            text = await run(h, "identity", "list")
        assert text.startswith("Sorry, something went wrong on my side.")
        [record] = [r for r in caplog.records if "/identity list failed" in r.getMessage()]
        assert record.exc_info and "barnacles" in str(record.exc_info[1])
        # An expected refusal is explained by the same handler.
        refused = await run(h, "identity", "list", as_user=USER_ID)
        assert refused == "Only the bot's admins can use this command."
    finally:
        await h.close()
