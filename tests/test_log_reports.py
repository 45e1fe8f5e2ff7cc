"""The log channel's periodic report, over the wire: the daily consolidation's figures as a Components V2
panel when verbose mode is on (counts only: what was said, in a DM above all, never reaches the channel).
The users list's buttons in its panel after a restart, and on a page posted as text before the panels. The
other admin commands' reports (status, user data, list users) are in tests/test_admin_log_channel.py."""

from __future__ import annotations

from typing import Any

import discord

from bot.discord.logchannel import UsersPageButton
from tests.fakes.discord_components import V2_FLAG, refuse_v2_edit
from tests.harness import (
    ADMIN_ID,
    EPHEMERAL,
    LOG_CHANNEL_ID,
    USER_ID,
    Harness,
    button,
    consolidate,
    panel_fields,
    panel_text,
)
from tests.memory_support import consolidation_responder


async def test_the_daily_consolidation_reports_its_figures_as_a_panel(make_harness: Any) -> None:
    h = await make_harness(verbose_logging="true")
    h.claude.responder = consolidation_responder()
    await h.say("FACT[work]: Alice mends fishing nets", mention=True)
    await h.replies(h.channel_id, 1)
    sent = await h.dm("FACT[home]: my secret diary says the attic leaks", user=USER_ID)
    await h.replies(int(sent["channel_id"]), 1)
    await h.bot.in_flight.drain()
    await h.bot.mirror.drain()
    before = len(h.discord.posted(LOG_CHANNEL_ID))

    report = await consolidate(h)
    assert report.new_facts == 2
    await h.bot.mirror.drain()
    [posted] = [m for m in h.discord.posted(LOG_CHANNEL_ID)[before:] if not m["content"]]
    text, fields = panel_text(posted), panel_fields(posted)  # the fake refuses a panel past V2's rules
    assert text.startswith("### Daily memory consolidation")
    assert fields["Facts"].startswith("2 new") and fields["Batches"].startswith("2/2 of 1 users committed")
    assert "mends fishing nets" not in text and "diary" not in text and "attic" not in text
    assert not any("attic" in (m["content"] or panel_text(m)) for m in h.discord.posted(LOG_CHANNEL_ID))


async def test_the_users_panel_pages_after_a_restart_and_an_old_text_page_becomes_a_panel(
        harness: Harness) -> None:
    h = harness
    for i in range(12):
        await h.store.people.ensure_user(700_000_000_000_000_000 + i, f"user{i:02d}")
    await h.say("list users", user=ADMIN_ID, channel=LOG_CHANNEL_ID)
    [page] = await h.replies(LOG_CHANNEL_ID, 1)
    assert "(page 1/2)" in panel_text(page)
    await h.restart()  # the page travels in the button's custom id: no view is kept in memory
    await (await h.click(page, button(page, "next")["custom_id"], user=ADMIN_ID)).response()
    assert "11–12 of 12 (page 2/2)" in panel_text(h.discord.messages[int(page["id"])])

    # A page posted as text with legacy buttons, before the reports were panels: a click turns it into one.
    old = discord.ui.View(timeout=None)
    old.add_item(UsersPageButton(0, "prev", disabled=True))
    old.add_item(UsersPageButton(1, "next"))
    sent = await h.bot.log_channel.post("**Known users** 1–10 of 12 (page 1/2)", view=old)
    assert sent is not None
    legacy = h.discord.messages[sent.id]
    await (await h.click(legacy, button(legacy, "next")["custom_id"], user=ADMIN_ID)).response()
    assert "(page 2/2)" in panel_text(h.discord.messages[sent.id])  # the V2 flag, no content left


def test_the_fake_turns_a_message_into_v2_on_edit_only_without_its_old_content() -> None:
    old = {"flags": 0, "content": "**Known users** 1–10 of 12", "embeds": []}
    panel = {"type": 17, "components": [{"type": 10, "content": "### Known users"}]}
    assert refuse_v2_edit(old, {"flags": V2_FLAG, "components": [panel]}) is not None  # the text would stay
    assert refuse_v2_edit(old, {"flags": V2_FLAG, "content": None, "components": [panel]}) is None
    assert refuse_v2_edit(old, {"content": "still text"}) is None


async def test_a_users_page_turns_for_an_admin_in_the_log_channel_only(harness: Harness) -> None:
    """Admin powers need the right person and the right place: a page left in a channel that stopped being
    the log channel (LOG_CHANNEL_ID moved) lists no one there, and a person who is no admin is told so, in
    their own language. Refused, the page stays as it was."""
    h = harness
    for i in range(12):
        await h.store.people.ensure_user(700_000_000_000_000_000 + i, f"user{i:02d}")
    await h.say("list users", user=ADMIN_ID, channel=LOG_CHANNEL_ID)
    [page] = await h.replies(LOG_CHANNEL_ID, 1)
    next_id = button(page, "next")["custom_id"]

    h.discord.set_locale(USER_ID, "de")
    refusal = await (await h.click(page, next_id, user=USER_ID)).response()
    assert refusal["data"]["flags"] & EPHEMERAL
    assert refusal["data"]["content"] == (
        "Nur die Admins des Bots können durch die Nutzer blättern, und nur im Log-Kanal.")

    await h.restart(LOG_CHANNEL_ID=h.channel_id)  # the operator moved the log channel
    refusal = await (await h.click(page, next_id, user=ADMIN_ID)).response()
    assert refusal["data"]["flags"] & EPHEMERAL and "log channel" in refusal["data"]["content"]
    assert "(page 1/2)" in panel_text(h.discord.messages[int(page["id"])])
