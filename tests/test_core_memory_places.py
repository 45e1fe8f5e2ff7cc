"""Core memories know where they belong (issue 49, item 3).

A core memory learnt in one server (a summary of one of its public channels, a /remember made there) reaches
that server's prompts only, unless the person shares their memories everywhere (``/memory servers all``); one
learnt in a DM or a private place (a private channel or thread, a ticket's) reaches DMs only. The summary pass
rewrites one place's memories at a time and never shows it another server's or a private one. Migration 0016
makes memories of unknown origin private. Over the wire: the fake Discord's slash commands and messages, and
the requests the fake Claude receives."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from database.records import PRIVATE_NOTE_SOURCE, PRIVATE_SOURCE, Archived, PromptRequest, VersionReason
from memory.passtext import SUMMARY_RULES
from memory.summarizer import CHANNEL_SOURCE
from tests.fakes.claude_server import FakeClaude
from tests.harness import (
    CHANNEL_ID,
    GUILD_ID,
    OTHER_CHANNEL_ID,
    USER_ID,
    Harness,
    MakeHarness,
    panel_text,
    voted_in,
)
from tests.memory_support import last_user_text
from tests.test_private_memories import OTHER_GUILD, OTHER_GUILD_CHANNEL, VIEW_CHANNEL

REPLY_MODEL = "claude-test-default"
MEMORY_CUE = "What just happened with"  # the summarizer's core-memory request (memory/summarizer.py)
WORDS = ("ALPHA", "BRAVO", "DELTA", "PAPA")  # said in server A, server B, the DM, the private place


@pytest.fixture
async def two_servers(db_url: str, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Factory: alice in server A (the harness's, OTHER_CHANNEL_ID made private) and in server B."""
    started: list[Harness] = []

    async def start(**config: str) -> Harness:
        h = Harness(db_url=db_url, tmp_path=tmp_path, config=config)
        started.append(h)
        await h.start_world(other_guild=(OTHER_GUILD, OTHER_GUILD_CHANNEL))
        await h.start_bot()
        channel: dict[str, Any] = h.discord.channels[OTHER_CHANNEL_ID]  # @everyone cannot see it
        channel["permission_overwrites"] = [{"id": str(GUILD_ID), "type": 0, "allow": "0",
                                             "deny": str(VIEW_CHANNEL)}]
        await h.discord.dispatch("CHANNEL_UPDATE", channel, guild_id=GUILD_ID)
        return h

    try:
        yield start
    finally:
        for h in started:
            await h.close()


async def memories_in(h: Harness, channel: int | None, n: int) -> str:
    """The core memories and /remember notes in the prompt of a reply to alice in ``channel`` (None: her
    DMs), her ``n``-th there."""
    await h.ask_remember(channel, n)
    text = FakeClaude.all_text(h.claude.last_request(REPLY_MODEL))
    found = []
    for tag in ("memories", "notes"):
        start = text.find(f"<{tag}")
        if start >= 0:
            found.append(text[start:].split(f"</{tag}>", 1)[0])
    return "\n".join(found)


async def remember(h: Harness, text: str, *, channel: int | None = None, guild: int | None = GUILD_ID) -> str:
    """/remember as alice in ``channel`` of ``guild`` (guild None: her DMs); the ephemeral answer."""
    options = [{"name": "memory", "type": 3, "value": text}]
    ix = await h.discord.interaction_command("remember", options, user_id=USER_ID,
                                             channel_id=None if guild is None else channel or CHANNEL_ID,
                                             guild_id=guild)
    return str((await ix.message())["content"])


async def servers(h: Harness, where: str) -> None:
    await (await h.slash("memory", [{"type": 1, "name": "servers", "options": [
        {"type": 3, "name": "where", "value": where}]}])).message()


BEES, HEALTH, TICKET = "I keep bees", "I have diabetes", "my landlord is suing me"


async def test_a_servers_core_memories_stay_in_it_and_private_ones_in_dms(two_servers: Any) -> None:
    h: Harness = await two_servers()
    assert "I'll remember that" in await remember(h, BEES)  # server A's public channel
    assert "I'll remember that" in await remember(h, HEALTH, guild=None)  # her DMs
    assert "I'll remember that" in await remember(h, TICKET, channel=OTHER_CHANNEL_ID)  # A's private place
    elsewhere = await memories_in(h, OTHER_GUILD_CHANNEL, 1)  # server B's public channel
    assert BEES not in elsewhere and HEALTH not in elsewhere and TICKET not in elsewhere
    here = await memories_in(h, CHANNEL_ID, 1)
    assert BEES in here and HEALTH not in here and TICKET not in here
    private_place = await memories_in(h, OTHER_CHANNEL_ID, 1)  # the server's, never the private ones
    assert BEES in private_place and HEALTH not in private_place and TICKET not in private_place
    dm = await memories_in(h, None, 1)
    assert BEES in dm and HEALTH in dm and TICKET in dm
    key = h.bot.services.pipeline.character_key
    placed = {m.content: (m.source, m.guild_id) for m in await h.store.memories.placed_memories(key, USER_ID)}
    assert placed == {BEES: ("user", GUILD_ID), HEALTH: (PRIVATE_NOTE_SOURCE, None),
                      TICKET: (PRIVATE_NOTE_SOURCE, None)}

    # /memory list says where each is used.
    listed = await h.slash("memory", [{"type": 1, "name": "list", "options": []}])
    listing = panel_text(await listed.message())
    lines = {line.split(" · ")[0]: line for line in listing.splitlines() if line.startswith("**★**")}
    assert lines[f"**★** {BEES}"].endswith("only in Tide Pool")
    assert lines[f"**★** {HEALTH}"].endswith("our DMs only") and lines[f"**★** {TICKET}"].endswith(
        "our DMs only")

    # Shared everywhere: server A's reaches server B; the private ones still never do.
    await servers(h, "all")
    elsewhere = await memories_in(h, OTHER_GUILD_CHANNEL, 2)
    assert BEES in elsewhere and HEALTH not in elsewhere and TICKET not in elsewhere
    await servers(h, "each")
    assert BEES not in await memories_in(h, OTHER_GUILD_CHANNEL, 3)


def summarizing(body: dict[str, Any]) -> str | None:
    """The summarizer's answers: a summary naming the words of its conversation; the complete list of
    memories, those it holds so far (its first paragraph) and one per word of what just happened. Replies
    fall through to the default text."""
    text = last_user_text(body)
    if MEMORY_CUE in text:
        kept = text.split("\n\n", 1)[0] + text.split(MEMORY_CUE, 1)[1]
        return "\n".join(f"- Alice talked about {w}." for w in WORDS if w in kept)
    if SUMMARY_RULES in text:
        return "We talked of " + " and ".join(w for w in WORDS if w in text) + "."
    return None


async def test_the_summary_pass_rewrites_one_places_memories_and_sees_no_others(two_servers: Any) -> None:
    h: Harness = await two_servers(conversation_token_threshold="100000", history_keep_messages="1")
    h.claude.responder = summarizing
    summarizer, key = h.bot.services.memory.summarizer, h.bot.services.pipeline.character_key
    places = ((CHANNEL_ID, "ALPHA", f"channel:{CHANNEL_ID}"), (None, "DELTA", "dm"),
              (OTHER_CHANNEL_ID, "PAPA", f"private:{OTHER_CHANNEL_ID}"),
              (OTHER_GUILD_CHANNEL, "BRAVO", f"channel:{OTHER_GUILD_CHANNEL}"))
    asked: dict[str, str] = {}
    for channel, word, scope in places:
        for n in (1, 2):
            if channel is None:
                await h.dm(f"{word} number {n}")
                await h.replies(await h.dm_channel_id(), n)
            else:
                await h.say(f"{word} number {n}", channel=channel, mention=True)
                await h.replies(channel, n)
        await h.at_rest()
        # The sweep's way in: the conversation alone; the server of a channel is read from the log.
        assert await summarizer.summarize(USER_ID, scope, "alice")
        asked[word] = next(last_user_text(r.body) for r in reversed(h.claude.requests)
                           if MEMORY_CUE in last_user_text(r.body))

    # Server B's pass saw neither server A's memories nor the private ones; the private passes may see all.
    assert not any(w in asked["BRAVO"] for w in ("ALPHA", "DELTA", "PAPA"))
    assert "ALPHA" in asked["PAPA"] and "DELTA" in asked["PAPA"]
    placed = {m.content: (m.source, m.guild_id) for m in await h.store.memories.placed_memories(key, USER_ID)}
    assert placed == {"Alice talked about ALPHA.": (CHANNEL_SOURCE, GUILD_ID),
                      "Alice talked about DELTA.": (PRIVATE_SOURCE, None),
                      "Alice talked about PAPA.": (PRIVATE_SOURCE, None),
                      "Alice talked about BRAVO.": (CHANNEL_SOURCE, OTHER_GUILD)}

    # Server A again: its pass rewrites A's set, from A's memories only; B's and the private ones stay.
    await h.say("ALPHA once more", mention=True)
    await h.replies(CHANNEL_ID, 3)
    await h.at_rest()
    assert await summarizer.summarize(USER_ID, f"channel:{CHANNEL_ID}", "alice")
    again = next(last_user_text(r.body) for r in reversed(h.claude.requests)
                 if MEMORY_CUE in last_user_text(r.body))
    assert "ALPHA" in again and not any(w in again for w in ("BRAVO", "DELTA", "PAPA"))
    assert {m.content for m in await h.store.memories.placed_memories(key, USER_ID)} == {
        f"Alice talked about {w}." for w in WORDS}
    # Every version keeps each memory's place.
    latest = (await h.store.memories.core_memory_versions(key, USER_ID))[0][3]
    assert {(i["content"], i["source"], i["guild_id"]) for i in latest} == {
        (f"Alice talked about {w}.", src, guild) for w, src, guild in (
            ("ALPHA", CHANNEL_SOURCE, GUILD_ID), ("BRAVO", CHANNEL_SOURCE, OTHER_GUILD),
            ("DELTA", PRIVATE_SOURCE, None), ("PAPA", PRIVATE_SOURCE, None))}

    in_b = await memories_in(h, OTHER_GUILD_CHANNEL, 3)
    assert "BRAVO" in in_b and not any(w in in_b for w in ("ALPHA", "DELTA", "PAPA"))
    in_a = await memories_in(h, CHANNEL_ID, 4)
    assert "ALPHA" in in_a and not any(w in in_a for w in ("BRAVO", "DELTA", "PAPA"))
    dm = await memories_in(h, None, 3)
    assert all(w in dm for w in WORDS)


async def test_migration_0016_makes_memories_of_unknown_origin_private(db_url: str) -> None:
    from sqlalchemy import text

    from database.engine import make_engine
    from database.store import Store
    from tests.dbtools import migrate_to as to
    from tests.dbtools import reset_schema

    at = datetime(2026, 5, 1, 8, tzinfo=UTC)
    await reset_schema(db_url)  # the fixture's database is at head: start from 0015, populated
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(to("0015_privacy_integrity"))
        await conn.execute(text("INSERT INTO users (id, name, is_bot, premium, first_seen, last_seen) "
                                "VALUES (7, 'alice', false, false, :t, :t)"), {"t": at})
        rows = (("a channel summary", "summary"), ("a remembered note", "user"), ("an admin's note", "admin"),
                ("a DM summary", "summary_dm"))
        for content, source in rows:  # ids from the sequences (PostgreSQL's would not move past given ones)
            await conn.execute(text(
                "INSERT INTO core_memories (character, user_id, content, source, created_at, updated_at) "
                "VALUES ('finn', 7, :c, :s, :t, :t)"), {"c": content, "s": source, "t": at})
        await conn.execute(text(
            "INSERT INTO core_memory_versions (character, user_id, snapshot, reason, created_at) "
            "VALUES ('finn', 7, :snap, 'before edit', :t)"),
            {"snap": json.dumps([{"content": "an old summary", "source": "summary"},
                                 {"content": "an old admin note", "source": "admin"}]), "t": at})
    async with engine.begin() as conn:
        await conn.run_sync(to("head"))
    await engine.dispose()
    store = await Store(db_url).open()
    try:
        placed = {m.content: (m.source, m.guild_id) for m in await store.memories.placed_memories("finn", 7)}
        assert placed == {"a channel summary": (PRIVATE_SOURCE, None),
                          "a remembered note": (PRIVATE_NOTE_SOURCE, None),
                          "an admin's note": ("admin", None), "a DM summary": (PRIVATE_SOURCE, None)}
        channel = await store.conversations.prompt_data_of(PromptRequest(
            "finn", 7, "channel:10", 10, recent_limit=0, before_id=None, private=False, guild_id=GUILD_ID))
        assert channel.core_memories == ["an admin's note"]
        dm = await store.conversations.prompt_data_of(PromptRequest(
            "finn", 7, "dm", 11, recent_limit=0, before_id=None, private=True))
        # a /remember note is shown apart, in the person's words (issue 44): three memories and the note
        assert len(dm.core_memories) == 3 and dm.notes == ["a remembered note"]
        # A version archived before 0016 comes back the same way.
        old = (await store.memories.core_memory_versions("finn", 7))[0]
        assert old[2] == VersionReason(Archived.EDITED)  # its English sentence now a code
        assert await store.memories.restore_core_memory_version(old[0])
        placed = {m.content: (m.source, m.guild_id) for m in await store.memories.placed_memories("finn", 7)}
        assert placed == {"an old summary": (PRIVATE_SOURCE, None), "an old admin note": ("admin", None)}
    finally:
        await store.close()


async def test_a_reply_read_after_its_decision_sees_its_servers_memories(make_harness: MakeHarness) -> None:
    """A reply the votes let in has its prompt read on its own, not with its message's log write: read for
    its server all the same, with that server's memories in it as in the reply to an @mention."""
    h = await make_harness()
    assert "I'll remember that" in await remember(h, BEES)  # the server's public channel
    await voted_in(h, h.claude, "claude-test-voter", REPLY_MODEL, yes=2, no=1)
    assert BEES in FakeClaude.all_text(h.claude.last_request(REPLY_MODEL))
