"""Tickets over the wire: setup by server admins, a private thread with the opener and the staff, the Close
button, the transcript archived and a summary in the log channel; refusals as one line; and a ticket that
fails half-way leaves neither a thread nor a row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.features.servertools.tickets import TicketDesk
from database.models import LoggedMessage
from tests.fakes.discord_components import V2_FLAG, walk_components
from tests.fakes.discord_guild import CREATE_PRIVATE_THREADS
from tests.fakes.discord_lead import panel_texts
from tests.harness import ADMIN_ID, CHANNEL_ID, GUILD_ID, LOG_CHANNEL_ID, USER2_ID, USER_ID, Harness, invited
from tests.server_support import answer, sub

CAROL_ID = 900_000_000_000_000_103
NOT_SET_UP = "Tickets aren't set up in this server yet: an admin can run `/ticket setup`."


def threads(h: Harness) -> list[dict[str, Any]]:
    return [c for c in h.discord.channels.values() if c["type"] == 12]


async def setup_staff(h: Harness) -> int:
    d = h.discord
    d.add_user(CAROL_ID, "carol")
    d.add_member(GUILD_ID, CAROL_ID)
    await d.set_role_permissions(GUILD_ID, d.bot_role_id(GUILD_ID), invited())
    staff = await d.add_role(GUILD_ID, "Staff", position=1, mentionable=True)
    await d.give_role(GUILD_ID, USER2_ID, staff)  # bob is staff
    await h.store.servers.update(GUILD_ID, reply_mode="addressed")  # ticket talk is not for the character
    return staff


def panel_of(h: Harness, message: dict[str, Any]) -> str:
    """What a panel of the bot's says now (its text displays); a panel has no content or embeds."""
    current = h.discord.messages[int(message["id"])]
    assert current["flags"] & V2_FLAG and not current["content"] and not current["embeds"]
    return "\n".join(panel_texts(current))


def notices(h: Harness) -> list[str]:
    """The ticket notices in the log channel: panels."""
    return [panel_of(h, m) for m in h.discord.posted(LOG_CHANNEL_ID) if int(m.get("flags") or 0) & V2_FLAG]


def buttons(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for c in walk_components(message.get("components") or []) if c["type"] == 2]


async def ticket(h: Harness, name: str, *, user: int = USER_ID, **options: Any) -> str:
    return await answer(await h.slash("ticket", sub(name, **options), user=user))


async def test_a_ticket_before_setup_is_one_line_and_nothing_else(harness: Harness) -> None:
    h = harness
    assert await ticket(h, "open", topic="help") == NOT_SET_UP
    assert threads(h) == [] and await h.store.tickets.open_for(GUILD_ID, USER_ID) == []


async def test_only_server_admins_set_tickets_up(harness: Harness) -> None:
    h = harness
    staff = await setup_staff(h)
    assert (
        await ticket(h, "setup", staff_role=("role", staff))
        == "Only this server's admins (the Manage Server permission) can use this command."
    )
    assert await h.bot.services.part(TicketDesk).setup_of(GUILD_ID) is None
    assert (
        await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", GUILD_ID))
        == "staff_role takes a role some members have; @everyone is every member of the server. Choose "
        "another role."
    )
    text = await ticket(
        h, "setup", user=ADMIN_ID, staff_role=("role", staff), channel=("channel", CHANNEL_ID)
    )
    assert (
        text
        == f"*Finn pins up a sign.* Tickets now open as private threads in <#{CHANNEL_ID}>, with <@&{staff}>."
    )
    config = await h.bot.services.part(TicketDesk).setup_of(GUILD_ID)
    assert config is not None and (config.staff_role_id, config.ticket_channel_id) == (staff, CHANNEL_ID)
    quiet = await h.discord.add_role(GUILD_ID, "Quiet staff", position=1)
    text = await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", quiet))
    assert text.endswith(
        f"Note: <@&{quiet}> is not mentionable, so I can only add the staff I know; make it "
        "mentionable (Server Settings, Roles) so every staff member joins each ticket."
    )


async def test_open_talk_close_and_archive(harness: Harness) -> None:
    h = harness
    d = h.discord
    staff = await setup_staff(h)
    await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", staff))

    text = await ticket(h, "open", topic="my shell is stuck")
    [thread] = threads(h)
    tid = int(thread["id"])
    assert text == f"Your ticket is open: <#{tid}>."
    assert thread["thread_metadata"]["invitable"] is False and thread["parent_id"] == str(CHANNEL_ID)
    assert thread["_members"] == {USER_ID, USER2_ID}  # the opener and the staff, nobody else
    [opening] = d.posted(tid)
    shown = panel_of(h, opening)
    assert "### 🎫 Ticket #1" in shown and f"**Opened by** <@{USER_ID}> · **Staff** <@&{staff}>" in shown
    assert "**Topic**\nmy shell is stuck" in shown and "**Status**\n🟢 Open since <t:" in shown
    assert opening["_pings"] == {"everyone": False, "users": [USER_ID], "roles": [staff]}
    [close_id] = buttons(opening)
    [entry] = d.audit_entries(GUILD_ID, "thread_create")
    assert entry["reason"].endswith("ticket #1")
    [row] = await h.store.tickets.open_for(GUILD_ID, USER_ID)
    assert (row.thread_id, row.topic, row.status) == (tid, "my shell is stuck", "open")
    [opened] = [n for n in notices(h) if "### ticket #1 opened" in n]
    assert f"alice ({USER_ID})" in opened and "my shell is stuck" in opened and f"<#{tid}>" in opened
    assert await ticket(h, "open", topic="again") == f"You already have an open ticket: <#{tid}>."

    await d.user_message(tid, USER_ID, "It won't come off!")
    await d.user_message(tid, USER2_ID, "Try some warm water.")
    refused = await h.click(opening, close_id, user=CAROL_ID)
    assert await answer(refused) == "Only the person who opened this ticket or the staff can close it."

    closing = await h.click(opening, close_id, user=USER2_ID)
    assert await answer(closing) == "Closed. The transcript is archived."
    assert thread["thread_metadata"]["archived"] and thread["thread_metadata"]["locked"]
    closed = await h.store.tickets.get(row.id)
    assert closed is not None and closed.status == "closed" and closed.closed_by == USER2_ID
    transcript = await h.store.tickets.transcript(row.id)
    assert [(line.author_id, line.content) for line in transcript if line.author_id != h.bot_user_id] == [
        (USER_ID, "It won't come off!"),
        (USER2_ID, "Try some warm water."),
    ]
    [summary] = [n for n in notices(h) if "### ticket #1 closed" in n]
    assert f"**Opened by**\n<@{USER_ID}>" in summary and f"**Closed by**\nbob ({USER2_ID})" in summary
    assert "**Topic**\nmy shell is stuck" in summary and "alice and bob" in summary
    # The opening panel now says closed, by whom, and has no Close button; the character said so plainly.
    shown = panel_of(h, opening)
    assert "🔒 Closed <t:" in shown and f"by <@{USER2_ID}>" in shown and "Ticket #1" in shown
    assert buttons(d.messages[int(opening["id"])]) == []
    assert any("turns off the light" in m["content"] for m in d.posted(tid))
    # The conversation keeps the panel by its text, mentions as names (a V2 message has no content).
    await h.at_rest()
    logged = await h.store.db.rows(select(LoggedMessage.content).where(LoggedMessage.channel_id == tid))
    assert any(r.content.startswith("[panel: 🎫 Ticket #1 · Opened by @alice · Staff @Staff · Topic") and
               "Topic · my shell is stuck" in r.content for r in logged), logged

    # A Close that lands after someone else closed the ticket, before its panel lost the button, is refused.
    await ticket(h, "open", topic="another")
    [other_row] = await h.store.tickets.open_for(GUILD_ID, USER_ID)
    [other] = d.posted(other_row.thread_id or 0)
    assert await h.store.tickets.close(other_row.id, USER2_ID, [])
    again = await h.click(other, buttons(other)[0], user=USER_ID)
    assert await answer(again) == "This ticket is already closed."


async def test_a_ticket_that_fails_half_way_leaves_nothing(harness: Harness) -> None:
    h = harness
    d = h.discord
    staff = await setup_staff(h)
    await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", staff))

    # Discord refuses the thread (the bot lost Create Private Threads): no row is left.
    await d.set_role_permissions(
        GUILD_ID, d.bot_role_id(GUILD_ID), invited() & ~CREATE_PRIVATE_THREADS
    )
    text = await ticket(h, "open", topic="help")
    assert text.startswith("I couldn't open the ticket: Discord refused (I need Create Private Threads")
    assert threads(h) == [] and await h.store.tickets.open_for(GUILD_ID, USER_ID) == []

    # The thread is made but its first message fails: the thread is deleted again and the row dropped.
    await d.set_role_permissions(GUILD_ID, d.bot_role_id(GUILD_ID), invited())
    d.fail_next("POST /channels/*/messages", 403, 50001, "Missing Access")
    text = await answer(await h.slash("ticket", sub("open", topic="help"), user=USER_ID))
    assert text.startswith("I couldn't open the ticket")
    assert threads(h) == [] and await h.store.tickets.open_for(GUILD_ID, USER_ID) == []
    assert any(e["action"] == "channel_delete" for e in d.audit_entries(GUILD_ID))


async def test_a_ticket_opened_before_panels_becomes_one_when_closed(harness: Harness) -> None:
    h = harness
    d = h.discord
    staff = await setup_staff(h)
    await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", staff))
    await ticket(h, "open", topic="old trouble")
    [thread] = threads(h)
    [posted] = d.posted(int(thread["id"]))
    opening = d.messages[int(posted["id"])]
    [close_id] = buttons(opening)
    # As the bot opened tickets before: a line of text with a row holding the Close button, no V2 flag.
    opening.update(flags=0, content=f"<@{USER_ID}> <@&{staff}>: Ticket #1 about **old trouble**.",
                   components=[{"type": 1, "components": [{"type": 2, "style": 4, "label": "Close ticket",
                                                           "custom_id": close_id}]}])
    closing = await h.click(opening, close_id, user=USER_ID)
    assert await answer(closing) == "Closed. The transcript is archived."
    shown = panel_of(h, opening)
    assert "**Topic**\nold trouble" in shown and "🔒 Closed <t:" in shown and buttons(opening) == []
