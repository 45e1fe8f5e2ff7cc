"""/forget_me, /memory map, /memory list and the command registration, over the wire."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from bot.core.tokens import counted
from database.records import Archived, ConsolidationBatch, Turn, VersionReason
from memory.svgmap import render_fact_map, shade
from tests.fakes.discord_components import walk_components
from tests.fakes.discord_lead import panel_texts
from tests.harness import (
    CHANNEL_ID,
    USER2_ID,
    USER_ID,
    Harness,
    button,
    ephemeral,
    eventually,
    panel_text,
    press,
)

SVG = "{http://www.w3.org/2000/svg}"



async def memory(h: Harness, name: str, *, user: int = USER_ID, dm: bool = False) -> Any:
    return await h.slash("memory", [{"type": 1, "name": name, "options": []}], user=user, dm=dm)


async def logged_from(h: Harness, channel: int, author: int, n: int) -> None:
    """Wait until the log (or the archive) holds ``n`` messages of ``author`` in ``channel``: the bot logs its
    own messages when the gateway echoes them back, a moment after they were posted."""
    async def enough() -> bool:
        return sum(m.author_id == author for m in await h.store.log.recent_messages(channel, limit=100)) >= n
    await eventually(enough, f"{n} messages of {author} in the log of channel {channel}")


async def remember_everything(h: Harness, user: int, name: str, replies: int) -> int:
    """Something in every table that can hold data about a user (``replies``: channel messages of the bot
    expected so far), and two DM exchanges over the wire: the first archived, the second still in the log.
    Returns the user's DM channel."""
    key = h.bot.services.pipeline.character_key
    await h.say(f"hello from {name}", user=user, mention=True)
    await h.replies(CHANNEL_ID, replies)
    for n in (1, 2):
        await h.dm(f"a secret from {name}, number {n}", user=user)
        dm = await h.dm_channel_id(user)
        await h.replies(dm, n)
        await logged_from(h, dm, h.bot_user_id, n)
        if n == 1:
            logged = await h.store.consolidation.logged_through(await h.store.consolidation.log_watermark())
            assert await h.store.consolidation.archive_logged([i for i, m in logged
                                                               if m.channel_id == dm]) == 2
    await h.bot.in_flight.drain()
    await h.store.conversations.append_turns(key, user, "dm", [counted(Turn("user", "a secret")),
                                                               counted(Turn("assistant", "kept"))])
    await h.store.memories.add_core_memory(key, user, f"{name} likes kelp")
    fact = await h.store.facts.add(user, f"{name} keeps bees", category="hobbies")
    await h.store.people.set_relationship(key, user, rapport=8)
    await h.store.checkins.set(user, name, True)  # /checkin on (the writing style came with the exchanges)
    # An archived version:
    await h.store.memories.replace_core_memories(key, user, [f"{name} is kind"],
                                                 reason=VersionReason(Archived.FACTS_CHANGED))
    rows = await h.store.consolidation.logged_through(await h.store.consolidation.log_watermark())
    mine = tuple(i for i, m in rows if m.author_id == user)
    await h.store.consolidation.commit_consolidation(
        ConsolidationBatch(key, user, mine[:1], mentioned=((fact, True),)))
    return dm


async def forget(h: Harness, user: int = USER_ID) -> str:
    """Run /forget_me and confirm; the outcome as the caller sees it."""
    prompt = await (await h.slash("forget_me", user=user)).message()
    await (await press(h, prompt, "confirm", user=user)).response()
    await h.discord.wait_for(lambda d: "Done: I deleted" in (prompt.get("content") or ""), 5,
                             what="the outcome")
    return str(prompt["content"])


async def test_memory_commands_are_registered(harness: Harness) -> None:
    await harness.lead_work_done()  # the commands' sync is lead work
    registered = {c["name"]: c for c in harness.discord.registered_commands()}
    assert "forget_me" in registered
    subs = {o["name"] for o in registered["memory"]["options"]}
    assert subs == {"opt-in", "opt-out", "servers", "timezone", "map", "list", "said"}


async def test_forget_me_deletes_everything_after_confirmation(harness: Harness) -> None:
    h = harness
    alice_dm = await remember_everything(h, USER_ID, "alice", 1)
    bob_dm = await remember_everything(h, USER2_ID, "bob", 2)
    before = await h.store.privacy.rows_about_user(USER_ID, [alice_dm])
    assert set(before) >= {"users", "nicknames", "conversations", "history_messages", "core_memories",
                           "core_memory_versions", "user_facts", "relationships", "message_log",
                           "message_archive",
                           "api_calls", "style_profiles", "checkins"}
    bot_dm_rows = [m for m in await h.store.log.recent_messages(alice_dm, limit=100)
                   if m.author_id == h.bot_user_id]
    assert len(bot_dm_rows) == 2  # the character's answers: one archived, one in the log
    bob_before = await h.store.privacy.rows_about_user(USER2_ID, [bob_dm])

    prompt = await ephemeral(await h.slash("forget_me"))
    assert "Delete **everything**" in prompt["content"]
    await (await press(h, prompt, "cancel")).response()
    assert "Cancelled" in prompt["content"]
    assert await h.store.privacy.rows_about_user(USER_ID, [alice_dm]) == before

    prompt = await (await h.slash("forget_me")).message()
    intruder = await press(h, prompt, "confirm", user=USER2_ID)
    assert "belong to whoever ran the command" in (await intruder.message())["content"]
    assert await h.store.privacy.rows_about_user(USER_ID, [alice_dm]) == before
    await (await press(h, prompt, "confirm")).response()
    await h.discord.wait_for(lambda d: "Done: I deleted" in (prompt.get("content") or ""), 5,
                             what="the outcome")
    assert "I start from nothing" in prompt["content"]
    assert await h.store.privacy.rows_about_user(USER_ID, [alice_dm]) == {}
    assert await h.store.privacy.rows_about_user(USER2_ID, [bob_dm]) == bob_before

    # They can start again from nothing.
    await h.say("hello again", mention=True)
    await h.replies(CHANNEL_ID, 3)
    await h.bot.in_flight.drain()
    assert (await h.store.people.get_user(USER_ID)) is not None
    assert await h.store.facts.rows(USER_ID) == []


async def test_forget_me_keeps_an_opt_out_and_nothing_else(harness: Harness) -> None:
    h = harness
    key = h.bot.services.pipeline.character_key
    dm = await remember_everything(h, USER_ID, "alice", 1)
    assert "no longer keep anything new" in (await (await memory(h, "opt-out")).message())["content"]
    outcome = await forget(h)
    assert "you opted out" in outcome and "start from nothing" not in outcome
    assert await h.store.privacy.rows_about_user(USER_ID, [dm]) == {"users": 1}
    user = await h.store.people.get_user(USER_ID)
    # A bare row: the opt-out only.
    assert user is not None and user.memory_consent is False and user.name == ""

    # Still not remembered: answered, but nothing new is kept.
    await h.say("hello again", mention=True)
    await h.replies(CHANNEL_ID, 2)
    await h.bot.in_flight.drain()
    assert (await h.store.conversations.history(key, USER_ID, f"channel:{CHANNEL_ID}")).turns == []


async def test_memory_map_is_an_svg_attachment_of_the_callers_facts(harness: Harness) -> None:
    h = harness
    await h.store.people.ensure_user(USER_ID, "alice")
    await h.store.people.ensure_user(USER2_ID, "bob")
    key = h.bot.services.pipeline.character_key
    nasty = "Alice wrote <script>alert('x')</script> & \"quoted\" ]]> things"
    ids = [await h.store.facts.add(USER_ID, text, category=cat, pinned=pin) for text, cat, pin in (
        ("Alice keeps bees", "hobbies", False), ("Alice sails on Sundays", "hobbies", False),
        ("Alice is a nurse", "work", True), (nasty, "other", False))]
    for _ in range(4):
        await h.store.consolidation.commit_consolidation(
            ConsolidationBatch(key, USER_ID, (), mentioned=((ids[0], True),)))
    await h.store.facts.add(USER2_ID, "Bob's fact", category="work")

    message = await ephemeral(await memory(h, "map"))
    text = panel_text(message)  # a Components V2 panel, the picture shown through its file component
    assert "4 facts in 3 topics" in text and "Bob" not in text
    files = [c for c in walk_components(message["components"]) if c["type"] == 13]
    assert [f["file"]["url"] for f in files] == ["attachment://memory-map.svg"]
    sections = {t.partition("\n")[0]: t.splitlines()[1:] for t in panel_texts(message)}
    assert [line.split(" · ")[0] for line in sections["**Hobbies** · 2"]] == [
        "• Alice keeps bees", "• Alice sails on Sundays"]  # the most mentioned first
    assert sections["**Hobbies** · 2"][0].endswith("×5, today")
    assert sections["**Work** · 1"] == ["• Alice is a nurse 📌 · ×1, today"]
    [attachment] = message["attachments"]
    assert attachment["filename"] == "memory-map.svg"
    root = ET.fromstring(attachment["_data"])
    assert root.tag == f"{SVG}svg"
    facts = root.findall(f".//{SVG}g[@class='fact']")
    assert len(facts) == 4
    labels = ["".join(g.find(f"{SVG}text").itertext()) for g in facts]  # type: ignore[union-attr]
    assert any(label.startswith("Alice wrote <script>alert('x')</script> & \"quoted\"") for label in labels)
    assert not any("Bob" in label for label in labels)
    categories = [g.get("data-category") for g in root.findall(f".//{SVG}g[@class='category']")]
    assert categories == ["hobbies", "other", "work"]
    radii = {int(g.get("data-references")): float(g.find(f"{SVG}circle").get("r")) for g in facts}  # type: ignore[union-attr]
    assert radii[5] > radii[1]
    assert b"<script>" not in attachment["_data"]

    empty = await (await memory(h, "map", user=USER2_ID, dm=True)).message()
    assert empty["attachments"] and "Bob's fact" in panel_text(empty)  # bob has one fact
    await h.store.facts.delete(USER2_ID, (await h.store.facts.rows(USER2_ID))[0].id)
    none = await (await memory(h, "map", user=USER2_ID)).message()
    assert "don't have any long-term facts" in none["content"] and not none["attachments"]


async def test_memory_map_of_many_long_facts_pages_within_the_v2_limits(harness: Harness) -> None:
    h = harness
    await h.store.people.ensure_user(USER_ID, "alice")
    for i in range(40):  # 40 facts of 400 characters in 15 topics: far past one V2 message
        await h.store.facts.add(USER_ID, f"fact {i:02d} " + "long words " * 36, category=f"topic{i % 15:02d}")
    message = await ephemeral(await memory(h, "map"))  # the fake refuses a panel past the limits
    every = walk_components(message["components"])
    assert len(every) <= 40 and sum(len(t) for t in panel_texts(message)) <= 4000
    assert "(page 1/4)" in panel_text(message) and panel_text(message).count("• fact ") == 12
    await (await press(h, message, "next")).response()
    await (await press(h, message, "next")).response()
    await (await press(h, message, "next")).response()
    last = panel_text(message)
    assert "(page 4/4)" in last and last.count("• fact ") == 4 and button(message, "next")["disabled"]
    assert [a["filename"] for a in message["attachments"]] == ["memory-map.svg"]  # kept by the edits
    assert [c["file"]["url"] for c in walk_components(message["components"]) if c["type"] == 13] == [
        "attachment://memory-map.svg"]


def test_the_map_shades_by_recency_and_renders_without_facts() -> None:
    now = datetime(2026, 1, 31, tzinfo=UTC)
    assert shade(now, now) == "#2e8b57" and shade(datetime(2025, 1, 1, tzinfo=UTC), now) == "#b0b0b0"
    root = ET.fromstring(render_fact_map([], user_name="<b>", character="Finn & co", now=now))
    assert "Nothing remembered yet." in "".join(root.itertext())
    assert "What Finn & co remembers about <b>" in "".join(root.itertext())


async def test_memory_list_pages_through_the_facts(harness: Harness) -> None:
    h = harness
    await h.store.people.ensure_user(USER_ID, "alice")
    for i in range(1, 20):
        await h.store.facts.add(USER_ID, f"Alice fact number {i:02d}",
                                category="hobbies" if i % 2 else "work", lasting=bool(i % 2))
    message = await ephemeral(await memory(h, "list"))
    # A Components V2 panel whose buttons are in its layout; each page is an edit of the same panel.
    first_page = panel_text(message)
    assert "(page 1/3, 19 facts" in first_page and first_page.count("Alice fact number") == 8
    assert f"told {datetime.now(UTC):%Y-%m-%d}, lasting" in panel_text(message)  # the hobbies here last
    assert button(message, "prev")["disabled"] and not button(message, "next").get("disabled")
    await (await press(h, message, "next")).response()
    assert "(page 2/3" in panel_text(message) and panel_text(message) != first_page
    await (await press(h, message, "next")).response()
    assert "(page 3/3" in panel_text(message) and panel_text(message).count("Alice fact number") == 3
    assert button(message, "next")["disabled"]
    await (await press(h, message, "prev")).response()
    assert "(page 2/3" in panel_text(message)
    stranger = await (await press(h, message, "prev", user=USER2_ID)).response()
    assert "belong to whoever ran the command" in stranger["data"]["content"]
    assert "(page 2/3" in panel_text(message)  # only its owner turns the pages
    assert max(len(line) for line in panel_text(message).splitlines()) < 250

    nothing = await (await memory(h, "list", user=USER2_ID)).message()
    assert "don't have any long-term facts" in nothing["content"]
