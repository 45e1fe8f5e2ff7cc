"""Reminders and time zones (bot/features/reminders/: book.py, delivery.py; cogs/reminders.py).

Units: a local wall-clock time converted with the person's IANA zone across a DST change, a time the
clocks skip refused and one they pass twice asked back. Over the wire (fake Discord + fake Claude asking
for ``set_reminder``): a DM reminder set, the bot restarted, delivered once in that DM (never a channel);
``/reminders`` lists and cancels; ``/forget_me`` removes them; ``/timezone`` autocompletes IANA names, the
one proposed from what the person said first; in a server's channel reminders are off until an admin turns
them on. The cluster's two processes: tests/test_cluster.py."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.core.stages import Incoming
from bot.core.timers import Dispatcher, Timers
from bot.features.reminders.book import (
    ASKED,
    ReminderBook,
    TimeRefused,
    clock_minutes,
    local_to_utc,
    zone_choices,
)
from bot.features.reminders.config import ReminderSettings
from bot.features.reminders.delivery import reminder_nonce
from database.alive_models import ScheduledJob
from database.reminders import TIMER, NewReminder, Reminder, reminder_key
from database.store import Store
from database.threads import NewThread, ThreadChanges
from tests.dbtools import timers_of_kind
from tests.fakes import EVENT_WAIT
from tests.fakes.claude_server import FakeClaude, Reply
from tests.fakes.claude_tools import Search, UseTool
from tests.fakes.discord_lead import panel_texts
from tests.harness import (
    CHANNEL_ID,
    COMPONENTS_V2,
    GUILD_ID,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    bot_posts,
    check,
    ephemeral,
    eventually,
    reply_requests,
    run_due,
    start_main,
    stop_process,
)
from tests.place_support import place, place_switch
from tests.test_activation import bot_command
from tests.test_alive_proactive import bot_switch
from tests.test_memory_commands import forget

# the state line as the check-in or reminder has it; the character's own night, by the clock, adds to it
AT_EASE = re.compile(r"<state>\nToward alice you feel at ease\."
                     r"( It is late at night for you: a little tired\.)?\n"
                     r"(Write to alice in \w+; address alice [^\n]*\n)?</state>")  # her language, register

LONDON = ZoneInfo("Europe/London")


# -- converting a local time


def test_friday_18_00_in_london_is_the_right_instant_on_each_side_of_the_clocks_going_back() -> None:
    # The last Sunday of October 2026 is the 25th: British Summer Time ends at 02:00 local.
    before = local_to_utc("2026-10-23T18:00", LONDON)  # the Friday before: BST, UTC+1
    after = local_to_utc("2026-10-30T18:00", LONDON)  # the Friday after: GMT, UTC+0
    assert before.due == datetime(2026, 10, 23, 17, 0, tzinfo=UTC)
    assert after.due == datetime(2026, 10, 30, 18, 0, tzinfo=UTC)
    assert (after.due - before.due) == timedelta(days=7, hours=1)  # a week and the hour given back


def test_a_time_the_clocks_skip_is_refused_and_one_they_pass_twice_is_asked_back() -> None:
    with pytest.raises(TimeRefused, match="does not exist"):
        local_to_utc("2026-03-29T01:30", LONDON)  # 01:00 -> 02:00 BST: never shown on a London clock
    with pytest.raises(TimeRefused, match="happens twice") as asked:
        local_to_utc("2026-10-25T01:30", LONDON)
    assert "+01:00" in str(asked.value) and "+00:00" in str(asked.value)
    # The person said which: the offset chooses one of the two, and only one of those two.
    assert local_to_utc("2026-10-25T01:30+01:00", LONDON).due == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert local_to_utc("2026-10-25T01:30+00:00", LONDON).due == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    with pytest.raises(TimeRefused):
        local_to_utc("2026-10-25T01:30+05:00", LONDON)
    with pytest.raises(TimeRefused):
        local_to_utc("2026-10-30T18:00+05:00", LONDON)  # no ambiguity: the zone decides, not the model
    for bad in ("Friday 6pm", "2026-02-30T18:00", "2026-10-30"):
        with pytest.raises(TimeRefused):
            local_to_utc(bad, LONDON)


def test_times_of_day_and_zone_choices() -> None:
    assert [clock_minutes(t) for t in ("21:00", "9pm", "9:30 a.m.", "12am", "25:00", "13pm")] == [
        1260, 1260, 570, 0, None, None]
    assert zone_choices("london")[0] == "Europe/London"
    assert "America/New_York" in zone_choices("new york")
    assert zone_choices("", proposed="Asia/Tokyo")[0] == "Asia/Tokyo"
    assert len(zone_choices("")) == 25


def asking(msg_id: int = 1, *, dm: bool = True) -> Incoming:
    return Incoming(message_id=msg_id, author_id=USER_ID,
                    author_name="alice", content="remind me", created_at=datetime(2026, 10, 20, tzinfo=UTC),
                    place=place(555, True) if dm else place(CHANNEL_ID, False, GUILD_ID))


async def test_a_reminder_for_friday_is_stored_for_the_right_utc_instant(store: Store) -> None:
    now = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    book = ReminderBook(ReminderSettings(), store.reminders, place_switch(store, ASKED), Timers(store.timers),
                        clock=lambda: now)
    msg = asking()
    # No zone yet: a local time is not guessed, a relative one is fine.
    refused = await book.set(msg, "call mum", "2026-10-30T18:00", None)
    assert refused.error and "time zone is unknown" in refused.text
    await store.people.ensure_user(USER_ID, "alice")
    await store.people.set_timezone(USER_ID, "Europe/London")
    done = await book.set(msg, "call mum", "2026-10-30T18:00", None)
    assert not done.error, done.text
    [row] = await store.reminders.open_for(USER_ID)
    assert row.due_at == datetime(2026, 10, 30, 18, 0, tzinfo=UTC) and row.zone == "Europe/London"
    assert f"<t:{int(row.due_at.timestamp())}:F>" in done.text
    assert "Friday 30 October 2026, 18:00" in done.text
    [timer] = await timers_of_kind(store, "reminder")
    assert (timer.key, timer.due, timer.payload) == (reminder_key(row.id), row.due_at, {"reminder": row.id})
    skipped = await book.set(msg, "x", "2027-03-28T01:30", None)
    assert skipped.error and "does not exist" in skipped.text
    past = await book.set(msg, "x", "2026-10-19T18:00", None)
    assert past.error and "passed" in past.text
    # The caps: waiting at once, and set in a day.
    few = ReminderBook(ReminderSettings(reminders_max_open=2), store.reminders, place_switch(store, ASKED),
                       Timers(store.timers), clock=lambda: now)
    assert not (await few.set(msg, "two", None, 5)).error
    third = await few.set(msg, "three", None, 5)
    assert third.error and "2 reminders waiting" in third.text
    daily = ReminderBook(ReminderSettings(reminders_per_day=2), store.reminders, place_switch(store, ASKED),
                         Timers(store.timers), clock=lambda: now)
    fourth = await daily.set(msg, "four", None, 5)
    assert fourth.error and "in the last 24 hours" in fourth.text
    assert await few.cancel(USER_ID, row.id) and not await few.cancel(USER_ID, row.id)


async def test_two_processes_deliver_a_reminder_once(store: Store, db_url: str) -> None:
    """Two processes' timer loops on one database, both seeing the reminder due: one delivers it."""
    now = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    book = ReminderBook(ReminderSettings(), store.reminders, place_switch(store, ASKED), Timers(store.timers),
                        clock=lambda: now)
    await book.set(asking(), "stretch", None, 2)
    other = await Store(db_url).open()
    delivered: list[int] = []

    async def deliver(row: Any) -> str:
        delivered.append(int(row.payload["reminder"]))
        return "delivered"

    try:
        loops = [Dispatcher(Timers(s.timers), handlers={"reminder": deliver}, clock=lambda: now)
                 for s in (store, other)]
        due = now + timedelta(minutes=3)
        results = [r for run in [await run_due(loop, due) for loop in loops] for r in run]
        assert results == ["delivered"] and len(delivered) == 1
        assert await timers_of_kind(store, "reminder") == []
    finally:
        await other.close()


# -- over the wire


def set_reminder(**input_: Any) -> UseTool:
    return UseTool("set_reminder", {"text": "stretch", "local_time": None, "in_minutes": None, "repeat": None,
                                    **input_},
                   answer="Will do, I'll nudge you!")


def tool_names(body: dict[str, Any]) -> list[str]:
    return [str(t.get("name")) for t in body.get("tools") or []]


async def due_now(h: Harness, reminder_id: int) -> None:
    """Move a reminder and its timer to now, while the bot is down (time driven, not waited for)."""
    now = datetime.now(UTC)
    async with h.store.engine.begin() as conn:
        await conn.execute(update(Reminder).where(Reminder.id == reminder_id).values(due_at=now))
        await conn.execute(update(ScheduledJob).where(ScheduledJob.name == reminder_key(reminder_id))
                           .values(next_due=now))


async def test_a_dm_reminder_is_delivered_in_that_dm_after_a_restart_once(make_harness: MakeHarness) -> None:
    h = await make_harness()
    tool = set_reminder(in_minutes=2)
    h.claude.script(Reply(tools=tool), times=2)
    sent = await h.dm("remind me in 2 minutes to stretch")
    dm = int(sent["channel_id"])
    [reply] = await h.replies(dm)
    assert reply["content"] == "Will do, I'll nudge you!"  # the character confirms, in its own words
    [result] = tool.results
    assert not result["is_error"] and "Reminder #" in result["content"]
    assert result["content"].startswith("<tool_output")  # fenced as data
    [row] = await h.store.reminders.open_for(USER_ID)
    asked_at = datetime.fromisoformat(sent["timestamp"])
    assert row.is_dm and row.text == "stretch" and row.channel_id == dm and row.guild_id is None
    assert timedelta(minutes=2) <= row.due_at - asked_at < timedelta(minutes=2, seconds=30)
    # The declaration is the same bytes in every request (the cached prefix starts with the tools).
    first, second = [r for r in h.claude.requests if r.body.get("tools")][:2]
    assert json.dumps(first.body["tools"]) == json.dumps(second.body["tools"])
    assert {"set_reminder", "suggest_timezone"} <= set(tool_names(first.body))

    await h.stop_bot()
    # Even a row pointing at a server channel: a DM reminder goes to the DM.
    async with h.store.engine.begin() as conn:
        await conn.execute(update(Reminder).where(Reminder.id == row.id).values(channel_id=CHANNEL_ID))
    await due_now(h, row.id)
    h.claude.script("Oi! Time to stretch those fins.")
    await h.start_bot()
    posts = await h.discord.wait_for(
        lambda d: [m for m in bot_posts(h, dm) if "stretch those fins" in m["content"]], what="the reminder")
    assert len(posts) == 1

    async def retired() -> bool:
        return await h.store.timers.get(reminder_key(row.id)) is None

    await eventually(retired, "the reminder's timer to retire")
    assert (await h.store.reminders.get(row.id)).delivered  # type: ignore[union-attr]
    assert await h.store.reminders.open_for(USER_ID) == []
    assert [m for m in bot_posts(h, dm) if "stretch" in m["content"]] == posts  # once
    assert bot_posts(h, CHANNEL_ID) == []  # never in a channel
    delivery = h.claude.requests[-1].body
    assert "<reminder" in json.dumps(delivery["messages"]) and "stretch" in json.dumps(delivery["messages"])
    # how the character feels toward her, in the state a reply is told (bot/reply/prompting.py state_part)
    assert AT_EASE.search(FakeClaude.all_text(delivery))


async def test_the_plain_line_goes_out_when_the_model_fails(make_harness: MakeHarness) -> None:
    h = await make_harness()
    h.claude.script(Reply(tools=set_reminder(in_minutes=1)), times=2)
    sent = await h.dm("remind me in a minute to drink water")
    dm = int(sent["channel_id"])
    await h.replies(dm)
    [row] = await h.store.reminders.open_for(USER_ID)
    h.claude.fail_all(500)
    result = await h.bot.services.timers.handlers["reminder"](
        await h.store.timers.get(reminder_key(row.id)))  # type: ignore[arg-type]
    assert result == f"reminder {row.id} delivered"
    [post] = [m for m in bot_posts(h, dm) if "remind you" in m["content"]]
    assert post["content"] == "alice, you asked me to remind you: stretch"
    h.claude.recover()


async def test_a_reminder_tool_and_a_web_search_share_a_request(make_harness: MakeHarness) -> None:
    h = await make_harness(web_search="dms")
    h.claude.script(Reply(tools=Search("news today", [("https://news.example.com/a", "A storm")],
                                       answer="Big day.")))
    sent = await h.dm("what's in the news today?")
    [reply] = await h.replies(int(sent["channel_id"]))
    assert "Big day." in reply["content"]
    assert {"web_search", "set_reminder", "suggest_timezone"} <= set(tool_names(h.claude.requests[-1].body))


# What would tell the model what to do: a tool's guidance is in its description, its result is data.
INSTRUCTION = re.compile(r"\b(ask|tell|confirm|say|give|choose)\b|your own words|have them", re.IGNORECASE)


async def test_tools_are_the_characters_own_and_their_results_are_plain_data(
        make_harness: MakeHarness) -> None:
    h = await make_harness(web_search="dms")
    unknown_zone = set_reminder(local_time="2026-11-27T18:00")
    relative = set_reminder(in_minutes=5)
    proposed = UseTool("suggest_timezone", {"zone": "Europe/London", "their_local_time": None}, answer="ok")
    h.claude.script(Reply(tools=unknown_zone), times=2)
    h.claude.script(Reply(tools=relative), times=2)
    h.claude.script(Reply(tools=proposed), times=2)
    asked = ("remind me friday at 6pm to call mum", "then in 5 minutes", "I live in London")
    for n, text in enumerate(asked):
        sent = await h.dm(text)
        await h.replies(int(sent["channel_id"]), n + 1)
    results = [r for tool in (unknown_zone, relative, proposed) for r in tool.results]
    assert len(results) == 3 and results[0]["is_error"] and not results[1]["is_error"]
    for result in results:  # fenced as data, and nothing in them speaks to the model
        assert result["content"].startswith("<tool_output") and not INSTRUCTION.search(result["content"]), \
            result["content"]
    request = [r for r in h.claude.requests if r.body.get("tools")][0]
    system = FakeClaude.system_text(request)
    # one sentence per family of the tools declared, in the cached system prompt; the data rule names them
    assert "You can look things up on the web (web_search)" in system
    assert "You can set reminders for people here (set_reminder)" in system
    assert "<tool_output> is what your own tools found or did" in system
    assert "cache_control" in request.body["system"][-1]
    # the guidance is the tool's own description
    [declared] = [t for t in request.body["tools"] if t.get("name") == "set_reminder"]
    assert "confirm it to them in your own words" in declared["description"]


async def test_reminders_lists_and_cancels(make_harness: MakeHarness) -> None:
    h = await make_harness()
    h.claude.script(Reply(tools=set_reminder(in_minutes=90)), times=2)
    sent = await h.dm("remind me in 90 minutes to stretch")
    await h.replies(int(sent["channel_id"]))
    [row] = await h.store.reminders.open_for(USER_ID)
    unix = int(row.due_at.timestamp())
    panel = await ephemeral(await h.slash("reminders", dm=True))
    assert panel["flags"] & COMPONENTS_V2 and not panel["content"]  # a Components V2 panel
    listed = "\n".join(panel_texts(panel))
    assert f"#{row.id}" in listed and f"<t:{unix}:F>" in listed and f"<t:{unix}:R>" in listed
    assert "stretch" in listed and "in our DMs" in listed
    ix = await h.discord.interaction_autocomplete(
        "reminders", [{"name": "cancel", "type": 4, "value": "", "focused": True}], user_id=USER_ID,
        channel_id=None, guild_id=None)
    await ix.response()
    [choice] = ix.callbacks[0]["choices"]
    assert choice["value"] == row.id and "stretch" in choice["name"]
    # Someone else cannot cancel it.
    other = await ephemeral(await h.slash("reminders", [{"name": "cancel", "type": 4, "value": row.id}],
                                          user=h.user2_id, dm=True))
    assert "no reminder" in other["content"]
    done = await ephemeral(await h.slash("reminders", [{"name": "cancel", "type": 4, "value": row.id}],
                                         dm=True))
    assert f"Cancelled reminder #{row.id}" in done["content"]
    assert await h.store.reminders.open_for(USER_ID) == []
    # Its timer finds it gone and posts nothing.
    timer = await h.store.timers.get(reminder_key(row.id))
    assert timer is not None
    assert "gone" in await h.bot.services.timers.handlers["reminder"](timer)
    assert "no reminders waiting" in (await ephemeral(await h.slash("reminders", dm=True)))["content"]


async def test_forget_me_removes_their_reminders(make_harness: MakeHarness) -> None:
    h = await make_harness()
    h.claude.script(Reply(tools=set_reminder(in_minutes=30)), times=2)
    sent = await h.dm("remind me in half an hour to stretch")
    await h.replies(int(sent["channel_id"]))
    [row] = await h.store.reminders.open_for(USER_ID)
    h.bot.services.part(ReminderBook).propose(asking(), "Asia/Tokyo", None)
    await forget(h)
    assert h.bot.services.part(ReminderBook).proposed(USER_ID) == ""
    assert await h.store.reminders.open_for(USER_ID) == []
    assert await timers_of_kind(h.store, "reminder") == []
    assert "reminders" not in await h.store.privacy.rows_about_user(USER_ID)


async def test_timezone_autocompletes_and_offers_the_zone_proposed_from_what_was_said(
        make_harness: MakeHarness) -> None:
    h = await make_harness()
    here = datetime.now(ZoneInfo("Asia/Tokyo"))
    tool = UseTool("suggest_timezone", {"zone": "Asia/Tokyo", "their_local_time": f"{here:%H:%M}"},
                   answer="Tokyo? Run /timezone to confirm.")
    h.claude.script(Reply(tools=tool), times=2)
    sent = await h.dm(f"it's {here:%H:%M} here")
    await h.replies(int(sent["channel_id"]))
    assert "Proposed Asia/Tokyo" in tool.results[0]["content"]
    assert (await h.store.reminders.zone_of(USER_ID)) == ""  # not set until they confirm
    ix = await h.discord.interaction_autocomplete(
        "timezone", [{"name": "zone", "type": 3, "value": "", "focused": True}], user_id=USER_ID,
        channel_id=None, guild_id=None)
    await ix.response()
    first = ix.callbacks[0]["choices"][0]
    assert first["value"] == "Asia/Tokyo" and "from what you told me" in first["name"]
    done = await ephemeral(await h.slash("timezone", [{"name": "zone", "type": 3, "value": "Asia/Tokyo"}],
                                         dm=True))
    assert "Asia/Tokyo" in done["content"]
    assert await h.store.reminders.zone_of(USER_ID) == "Asia/Tokyo"
    bad = await ephemeral(await h.slash("timezone", [{"name": "zone", "type": 3, "value": "Mars/Base"}],
                                        dm=True))
    assert "don't know" in bad["content"]
    # Its time is in the <now> of their next request.
    h.claude.script("Evening!")
    sent = await h.dm("hi again")
    await h.replies(int(sent["channel_id"]), 2)
    assert "(Asia/Tokyo)" in json.dumps(h.claude.requests[-1].body["messages"])


async def test_in_a_channel_reminders_wait_for_an_admin_and_are_delivered_there(
        make_harness: MakeHarness) -> None:
    h = await make_harness()
    h.claude.script("Sure.")
    await h.say("remind me in 5 minutes to stretch", mention=True)
    await h.replies(CHANNEL_ID)
    assert "set_reminder" not in tool_names(h.claude.requests[-1].body)  # off in servers by default
    switched = await ephemeral(await h.slash("bot", [{"name": "reminders", "type": 1, "options": [
        {"name": "state", "type": 3, "value": "on"}]}], user=h.admin_id))
    assert "**on**" in switched["content"]
    h.claude.script(Reply(tools=set_reminder(in_minutes=5)), times=2)
    await h.say("remind me in 5 minutes to stretch", mention=True)
    await h.replies(CHANNEL_ID, 2)
    [row] = await h.store.reminders.open_for(USER_ID)
    assert not row.is_dm and row.channel_id == CHANNEL_ID and row.guild_id == GUILD_ID
    h.claude.script("Stretch time!")
    assert await h.bot.services.timers.handlers["reminder"](
        await h.store.timers.get(reminder_key(row.id))) == f"reminder {row.id} delivered"  # type: ignore[arg-type]
    [post] = [m for m in bot_posts(h) if "Stretch time!" in m["content"]]
    assert post["content"] == f"<@{USER_ID}> Stretch time!"
    assert AT_EASE.search(FakeClaude.all_text(h.claude.requests[-1]))


async def test_a_channel_reminders_post_goes_with_its_persons_forget_me(make_harness: MakeHarness) -> None:
    """The post a channel reminder makes quotes what its person asked for: after their /forget_me it is
    gone from the channel's log, so it never reaches anyone else's request there."""
    h = await make_harness()
    switched = await ephemeral(await h.slash("bot", [{"name": "reminders", "type": 1, "options": [
        {"name": "state", "type": 3, "value": "on"}]}], user=h.admin_id))  # answered: the switch is kept
    assert "**on**" in switched["content"]
    h.claude.script(Reply(tools=set_reminder(text="call the kelp clinic", in_minutes=5)), times=2)
    await h.say("remind me in 5 minutes to call the kelp clinic", mention=True)
    await h.replies(CHANNEL_ID)
    [row] = await h.store.reminders.open_for(USER_ID)
    h.claude.script("Time to call the kelp clinic about your rash!")
    assert await h.bot.services.timers.handlers["reminder"](
        await h.store.timers.get(reminder_key(row.id))) == f"reminder {row.id} delivered"  # type: ignore[arg-type]
    await h.at_rest()  # the post's echo logged
    assert "posted_for" in await h.store.privacy.rows_about_user(USER_ID)

    await forget(h)

    assert await h.store.privacy.rows_about_user(USER_ID) == {}
    h.claude.script("Hi Bob!")
    before = len(h.claude.requests)
    await h.say("hey, what's new here?", user=USER2_ID, mention=True)
    await h.discord.wait_for(lambda d: [m for m in bot_posts(h) if m["content"] == "Hi Bob!"],
                             what="the answer to bob")
    asked = json.dumps([r.body for r in h.claude.requests[before:]])
    assert "your rash" not in asked


async def test_a_reminder_waits_for_a_reply_in_flight_in_its_place(make_harness: MakeHarness) -> None:
    h = await make_harness()
    h.claude.script(Reply(tools=set_reminder(in_minutes=3)), times=2)
    sent = await h.dm("remind me in 3 minutes to stretch")
    dm = int(sent["channel_id"])
    await h.replies(dm)
    [row] = await h.store.reminders.open_for(USER_ID)
    timer = await h.store.timers.get(reminder_key(row.id))
    assert timer is not None
    locks = h.bot.services.conversation_locks  # the replies' conversation locks, the reminder's too
    h.claude.script("Stretch, now!")
    async with locks((USER_ID, "dm")):  # a reply to them is being written in the DM
        delivery = asyncio.create_task(h.bot.services.timers.handlers["reminder"](timer))

        async def waiting() -> bool:
            return locks.waiting((USER_ID, "dm")) == 2  # the reply's hold and the reminder's wait

        await eventually(waiting, "the reminder to wait for the reply")
        assert not delivery.done() and not [m for m in bot_posts(h, dm) if "Stretch, now!" in m["content"]]
    assert await delivery == f"reminder {row.id} delivered"
    assert [m["content"] for m in bot_posts(h, dm) if "Stretch" in m["content"]] == ["Stretch, now!"]


async def test_a_reminder_whose_posts_keep_failing_is_dropped_after_a_day(make_harness: MakeHarness) -> None:
    h = await make_harness()
    h.claude.script(Reply(tools=set_reminder(in_minutes=3)), times=2)
    sent = await h.dm("remind me in 3 minutes to stretch")
    await h.replies(int(sent["channel_id"]))
    [row] = await h.store.reminders.open_for(USER_ID)
    timer = await h.store.timers.get(reminder_key(row.id))
    assert timer is not None
    handler = h.bot.services.timers.handlers["reminder"]
    async with h.store.engine.begin() as conn:  # two days late: the bot was down, it still goes out
        await conn.execute(update(Reminder).where(Reminder.id == row.id)
                           .values(due_at=datetime.now(UTC) - timedelta(days=2)))
    h.claude.script("Late, but: stretch!")
    late = dataclasses.replace(timer, last_result="")
    assert await handler(late) == f"reminder {row.id} delivered"
    async with h.store.engine.begin() as conn:  # as if that post had failed, and the run before it too
        await conn.execute(update(Reminder).where(Reminder.id == row.id).values(delivered_at=None))
    failed = dataclasses.replace(timer, last_result="failed: 403 Forbidden")
    assert await handler(failed) == f"reminder {row.id} dropped: a day late"
    assert await h.store.reminders.open_for(USER_ID) == []


@pytest.mark.parametrize("killed", ["writing", "posted"])
async def test_kill_9_while_a_reminder_goes_out_then_restart_posts_it_once(db_url: str, tmp_path: Path,
                                                                         killed: str) -> None:
    """The real main.py is killed (kill -9) while a channel reminder goes out: while Claude writes it, or
    once its post is made on Discord but its answer has not come back. Once its timer's lease has run out
    (moved to now here, as time would), the restarted process delivers it: the reminder is in the channel
    once (the post sent again carries the same nonce, and Discord returns the one made), and marked
    delivered."""
    h = Harness(db_url=db_url, tmp_path=tmp_path)
    await h.start_fakes()
    store = await Store(db_url).open()
    procs: list[asyncio.subprocess.Process] = []
    key = ""

    def about_kelp(body: dict[str, Any]) -> bool:
        return "water the kelp" in FakeClaude.all_text(body)

    def writing() -> bool:
        return any(about_kelp(r.body) for r in h.claude.requests)

    def posted() -> list[dict[str, Any]]:
        return [m for m in bot_posts(h, CHANNEL_ID) if "Water the kelp" in m["content"]]

    async def retired() -> bool:
        return await store.timers.get(key) is None

    try:
        now = datetime.now(UTC)
        await store.switches.set("reminders", "channel", CHANNEL_ID, True)  # the channel takes reminders
        reminder_id = await store.reminders.add(NewReminder(USER_ID, "alice", CHANNEL_ID, GUILD_ID, False,
                                                            "water the kelp", now), now)
        key = reminder_key(reminder_id)
        await store.timers.put(key, TIMER, now, {"reminder": reminder_id})  # as ReminderBook arms it
        if killed == "writing":
            h.claude.script("never finished", delay=60, match=about_kelp)
        else:
            h.claude.script(f"<@{USER_ID}> Water the kelp, now!", match=about_kelp)
            h.discord.stall_posts()  # made on Discord, the answer held back
        procs.append(await start_main(h))
        if killed == "writing":
            await eventually(check(writing), "the reminder being written")
        else:
            await h.discord.wait_for(lambda _: posted(), timeout=EVENT_WAIT, what="the reminder made")
        await stop_process(procs[0])  # kill -9
        h.discord.release_posts()
        assert len(posted()) == (killed == "posted")

        await store.timers.put(key, TIMER, datetime.now(UTC), {"reminder": reminder_id})  # the lease ran out
        h.claude.script(f"<@{USER_ID}> Water the kelp, now!", match=about_kelp)
        procs.append(await start_main(h))
        await eventually(retired, "the reminder's timer to retire")
        [post] = posted()
        assert post["nonce"] == f"{reminder_nonce(reminder_id)}.0"
        assert h.discord.duplicate_nonces == ([post["nonce"]] if killed == "posted" else [])
        assert (await store.reminders.get(reminder_id)).delivered  # type: ignore[union-attr]
    finally:
        for proc in procs:
            await stop_process(proc)
        h.discord.release_posts()
        await store.close()
        await h.claude.close()
        await h.discord.close()
async def test_cancelling_does_not_lift_the_daily_cap(make_harness: MakeHarness) -> None:
    """The cap counts reminders set that day, cancelled ones too: set, cancel, set, cancel, and the third
    is refused (deleting a cancelled one stopped it counting, so any number could be set)."""
    h = await make_harness(reminders_per_day="2")
    results: list[dict[str, Any]] = []
    for n in range(3):
        tool = set_reminder(in_minutes=30)
        h.claude.script(Reply(tools=tool), times=2)
        sent = await h.dm(f"remind me in half an hour to stretch ({n})")
        await h.replies(int(sent["channel_id"]), n + 1)
        results += tool.results
        for row in await h.store.reminders.open_for(USER_ID):
            cancel = [{"name": "cancel", "type": 4, "value": row.id}]
            done = await ephemeral(await h.slash("reminders", cancel, dm=True))
            assert f"Cancelled reminder #{row.id}" in done["content"]
    assert [r["is_error"] for r in results] == [False, False, True]
    assert "2 reminders in the last 24 hours" in results[2]["content"]
    assert await h.store.reminders.open_for(USER_ID) == []
    await forget(h)  # /forget_me still removes them all, cancelled ones too
    assert "reminders" not in await h.store.privacy.rows_about_user(USER_ID)


async def channel_reminder(h: Harness, text: str, channel: int = CHANNEL_ID) -> Any:
    """A reminder alice set in ``channel`` (as set_reminder sets it), and its timer."""
    book = h.bot.services.part(ReminderBook)
    asked = dataclasses.replace(asking(dm=False), place=place(channel, False, GUILD_ID))
    done = await book.set(asked, text, None, 5)
    assert not done.error, done.text
    row = next(r for r in await h.store.reminders.open_for(USER_ID) if r.text == text)
    return await h.store.timers.get(reminder_key(row.id))


async def test_a_reminder_for_a_channel_closed_since_goes_to_the_persons_dm(
        make_harness: MakeHarness) -> None:
    """A channel an admin deactivated, or switched reminders off in, after the reminder was set is not posted
    in: the reminder reaches its person by DM instead."""
    h = await make_harness()
    await bot_switch(h, "reminders", "on")
    deliver = h.bot.services.timers.handlers["reminder"]
    closed, switched = await channel_reminder(h, "stretch"), await channel_reminder(h, "water the plants")
    await bot_command(h, "deactivate")
    h.claude.script("Time to stretch!")
    assert await deliver(closed) == f"reminder {closed.payload['reminder']} delivered"
    dm = await h.dm_channel_id()
    assert [m["content"] for m in bot_posts(h, dm)] == ["Time to stretch!"]  # no mention in a DM
    await bot_command(h, "activate")
    await bot_switch(h, "reminders", "off")
    h.claude.script("The plants are thirsty!")
    assert await deliver(switched) == f"reminder {switched.payload['reminder']} delivered"
    assert [m["content"] for m in bot_posts(h, dm)][-1] == "The plants are thirsty!"
    assert not [m for m in bot_posts(h) if "stretch" in m["content"] or "plants" in m["content"]]
    # A thread follows its channel's switch (off), not its server's (on).
    await bot_switch(h, "reminders", "on", "server")
    thread = await h.discord.open_thread(CHANNEL_ID, USER_ID, "plans")
    in_thread = await channel_reminder(h, "call mum", thread)
    h.claude.script("Call your mum!")
    await deliver(in_thread)
    assert bot_posts(h, thread) == [] and bot_posts(h, dm)[-1]["content"] == "Call your mum!"


async def test_a_reminder_delivered_or_cancelled_closes_the_open_thread_it_stood_for(
        make_harness: MakeHarness) -> None:
    h = await make_harness()
    now = datetime.now(UTC)
    await h.store.people.ensure_user(USER_ID, "alice")
    stretch, plants, exam = ("alice will stretch after the long meeting", "alice must water the plants",
                             "alice has her chemistry exam")
    await h.store.threads.apply(USER_ID, ThreadChanges(opened=tuple(
        NewThread(t, None, now, True) for t in (stretch, plants, exam))))
    h.claude.script(Reply(tools=set_reminder(in_minutes=2)), times=2)
    sent = await h.dm("remind me in 2 minutes to stretch")
    dm = int(sent["channel_id"])
    await h.replies(dm)
    assert f"- {stretch}" in FakeClaude.all_text(reply_requests(h)[-1])  # open while it waits
    [row] = await h.store.reminders.open_for(USER_ID)

    await h.stop_bot()
    await due_now(h, row.id)
    h.claude.script("Oi! Time to stretch those fins.")
    await h.start_bot()
    await h.discord.wait_for(lambda d: [m for m in bot_posts(h, dm) if "stretch those fins" in m["content"]],
                             what="the reminder")

    async def delivered() -> bool:
        return bool((await h.store.reminders.get(row.id)).delivered)  # type: ignore[union-attr]

    await eventually(delivered, "the reminder to be delivered")

    async def served() -> bool:  # closed just after the reminder is marked delivered
        return stretch not in [t.thread for t in await h.store.threads.rows(USER_ID)]

    await eventually(served, "the thread the reminder stood for to close")
    h.claude.script(Reply(tools=set_reminder(text="water the plants", in_minutes=90)), times=2)
    await h.dm("and remind me in 90 minutes to water the plants")
    await h.replies(dm, 3)
    shown = FakeClaude.all_text(reply_requests(h)[-1])
    assert stretch not in shown and f"- {plants}" in shown and f"- {exam}" in shown  # said: done with

    [waiting] = await h.store.reminders.open_for(USER_ID)
    done = await ephemeral(await h.slash("reminders", [{"name": "cancel", "type": 4, "value": waiting.id}],
                                         dm=True))
    assert f"Cancelled reminder #{waiting.id}" in done["content"]
    h.claude.script("Righto.")
    await h.dm("thanks")
    await h.replies(dm, 4)
    shown = FakeClaude.all_text(reply_requests(h)[-1])
    assert plants not in shown and f"- {exam}" in shown  # called off with it; the exam is another thing
