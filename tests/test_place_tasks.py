"""Place tasks (bot/features/reminders/tasks.py, delivery.py; ``/bot tasks`` in cogs/activation.py), over the
wire: an admin gives the character a daily task in a channel; at each of its times the durable timer fires
(the bot's clocks set to a fake time and its timer loop woken, never waited for), the fake Claude is asked to
carry the instruction out, shown the task's earlier posts, and the channel gets a new post each time, once,
a restart between them.
A non-admin is refused ephemerally; a deactivated channel, or one the bot may no longer send in, skips its
time with one log line and no model call; the caps refuse with one line."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakes.claude_server import FakeClaude
from tests.fakes.discord_guild import SEND_MESSAGES
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    GUILD_ID,
    USER_ID,
    Harness,
    MakeHarness,
    bot_posts,
    ephemeral,
    eventually,
    invited,
)
from tests.test_activation import bot_command
from tests.test_reminders_recurring import at_fake_time, fire

QUESTION = "post a question of the day"


def carrying_out(body: dict[str, Any]) -> bool:
    return "set you a task for this channel" in FakeClaude.all_text(body)


async def tasks(h: Harness, sub: str, options: dict[str, Any] | None = None, *, user: int = ADMIN_ID,
                channel: int = CHANNEL_ID) -> str:
    """``/bot tasks <sub>`` with string (or, for ``task``, integer) options; its ephemeral answer (a panel's
    whole message)."""
    given = [{"name": k, "type": 4 if k == "task" else 3, "value": v} for k, v in (options or {}).items()]
    ix = await h.slash("bot", [{"type": 2, "name": "tasks", "options": [
        {"type": 1, "name": sub, "options": given}]}], user=user, channel=channel)
    message = await ephemeral(ix)
    return str(message["content"] or message)


def tomorrow_at(hour: int) -> datetime:
    """A fake time ahead of the wall clock (a bot restarted on the real clock finds nothing due)."""
    day = datetime.now(UTC) + timedelta(days=3)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


async def daily_question(h: Harness, now: list[datetime]) -> Any:
    answer = await tasks(h, "add", {"what": QUESTION, "time": "09:00", "zone": "UTC"})
    assert answer.startswith("Place task #") and ": every day at 09:00 " in answer, answer
    assert "\n" not in answer and "FREQ=" not in answer, answer
    [row] = await h.store.reminders.tasks_of(GUILD_ID)
    assert row.task and row.channel_id == CHANNEL_ID and row.due_at == now[0].replace(hour=9)
    assert await h.store.reminders.open_for(ADMIN_ID) == []  # not one of the admin's own reminders
    return row


async def test_an_admin_sets_a_daily_question_and_each_day_brings_a_new_one(
        make_harness: MakeHarness) -> None:
    h = await make_harness()
    now = [tomorrow_at(8)]
    at_fake_time(h, now)
    row = await daily_question(h, now)
    listed = await tasks(h, "list")
    assert f"#{row.id}" in listed and QUESTION in listed

    first, second = "Which sea creature would you be, and why?", "What's the oddest shell you've found?"
    h.claude.script(first, match=carrying_out)
    await fire(h, row.due_at, now)
    await h.discord.wait_for(lambda _: [m for m in bot_posts(h) if m["content"] == first],
                             what="the first question of the day")
    day2 = row.due_at + timedelta(days=1)

    async def moved_to(due: datetime) -> bool:
        current = await h.store.reminders.get(row.id)
        return current is not None and current.due_at == due

    await eventually(lambda: moved_to(day2), "the task moved to the next day")
    [asked] = [r.body for r in h.claude.requests if carrying_out(r.body)]
    text = FakeClaude.all_text(asked)
    assert QUESTION in text and "your_earlier_posts" not in text

    await h.stop_bot()  # durable: the task and its timer outlive a restart
    await h.start_bot()  # on the real clock: its next time is days ahead, nothing is due
    at_fake_time(h, now)
    h.claude.script(second, match=carrying_out)
    await fire(h, day2, now)
    await h.discord.wait_for(lambda _: [m for m in bot_posts(h) if m["content"] == second],
                             what="the second question of the day")
    await eventually(lambda: moved_to(day2 + timedelta(days=1)), "the task moved to the day after")
    await h.at_rest()
    asked_again = [r.body for r in h.claude.requests if carrying_out(r.body)][-1]
    shown = FakeClaude.all_text(asked_again)
    assert "your_earlier_posts" in shown and first in shown
    posts = [m for m in bot_posts(h) if m["content"] in (first, second)]
    assert [m["content"] for m in posts] == [first, second]  # once each
    assert posts[0]["nonce"] != posts[1]["nonce"]
    assert "<@" not in posts[0]["content"]  # said to the channel, nobody named

    # managed by the server's admins: skip, pause, resume, cancel
    skipped = await tasks(h, "skip", {"task": row.id})
    assert f"Skipped place task #{row.id}" in skipped
    assert await moved_to(day2 + timedelta(days=2))
    assert f"Paused place task #{row.id}" in await tasks(h, "pause", {"task": row.id})
    timer = await h.store.timers.get(f"reminder:{row.id}")
    assert timer is not None and "paused" in await h.bot.services.timers.handlers["reminder"](timer)
    assert "**paused**" in await tasks(h, "list")
    assert f"Resumed place task #{row.id}" in await tasks(h, "resume", {"task": row.id})
    assert f"Cancelled place task #{row.id}" in await tasks(h, "cancel", {"task": row.id})
    assert await h.store.reminders.tasks_of(GUILD_ID) == []


async def test_a_non_admin_is_refused(make_harness: MakeHarness) -> None:
    h = await make_harness()
    answer = await tasks(h, "add", {"what": QUESTION, "time": "09:00"}, user=USER_ID)
    assert answer == "Only the bot's admins can use this command."
    assert await h.store.reminders.tasks_of(GUILD_ID) == []


async def test_a_deactivated_place_or_one_without_send_messages_skips_with_one_log_line(
        make_harness: MakeHarness, caplog: pytest.LogCaptureFixture) -> None:
    h = await make_harness()
    now = [tomorrow_at(8)]
    at_fake_time(h, now)
    row = await daily_question(h, now)
    deliver = h.bot.services.timers.handlers["reminder"]
    await bot_command(h, "deactivate")
    caplog.set_level(logging.INFO, logger="bot.features.reminders.delivery")
    now[0] = row.due_at
    timer = await h.store.timers.get(f"reminder:{row.id}")
    assert timer is not None
    assert await deliver(timer) == f"place task {row.id} skipped: the place is inactive"
    moved = await h.store.reminders.get(row.id)
    assert moved is not None and moved.due_at == row.due_at + timedelta(days=1)  # that time is gone

    await bot_command(h, "activate")
    bot_role = h.discord.bot_role_id(GUILD_ID)  # the bot's role as the invite gives it, then denied there
    await h.discord.set_role_permissions(GUILD_ID, bot_role, invited())
    channel = h.discord.channels[CHANNEL_ID]
    channel["permission_overwrites"] = [{"id": str(bot_role), "type": 0, "allow": "0",
                                         "deny": str(SEND_MESSAGES)}]
    await h.discord.dispatch("CHANNEL_UPDATE", {k: v for k, v in channel.items() if not k.startswith("_")},
                             guild_id=GUILD_ID)
    await eventually(lambda: _cannot_send(h), "the bot sees it lost Send Messages")
    now[0] = moved.due_at
    timer = await h.store.timers.get(f"reminder:{row.id}")
    assert timer is not None
    assert (await deliver(timer)).startswith(f"place task {row.id} skipped: I may not send messages there")
    lines = [r.getMessage() for r in caplog.records if f"place task {row.id}" in r.getMessage()]
    assert len(lines) == 2 and all("skipped" in line for line in lines), lines
    assert not [r for r in h.claude.requests if carrying_out(r.body)]  # no model call
    assert not [m for m in bot_posts(h) if "?" in m["content"]]


async def _cannot_send(h: Harness) -> bool:
    assert h.bot is not None
    found = h.bot.get_channel(CHANNEL_ID)
    guild = h.bot.get_guild(GUILD_ID)
    return guild is not None and not found.permissions_for(guild.me).send_messages  # type: ignore[union-attr]


async def test_the_caps_refuse_with_one_line(make_harness: MakeHarness) -> None:
    h = await make_harness(place_tasks_per_server="1")
    too_close = await tasks(h, "add", {"what": "say hi", "time": "09:00",
                                       "repeat": "FREQ=MINUTELY;INTERVAL=30"})
    assert too_close == "Not set: occurrences 30 minutes apart are too close: at least 60 minutes apart."
    not_a_time = await tasks(h, "add", {"what": "post a riddle", "time": "teatime"})
    assert not_a_time == "Not set: 'teatime' is not a time of day like 09:00 or 9am."
    assert (await tasks(h, "add", {"what": QUESTION, "time": "9am"})).startswith("Place task #")
    full = await tasks(h, "add", {"what": "post a riddle", "time": "18:00"})
    assert full == ("Not set: this server already has 1 place task, the most it may have (`/bot tasks "
                    "cancel` ends one).")
    assert len(await h.store.reminders.tasks_of(GUILD_ID)) == 1


async def test_a_server_past_its_spending_cap_skips_its_task_with_one_line_and_no_model_call(
        make_harness: MakeHarness, caplog: pytest.LogCaptureFixture) -> None:
    h = await make_harness(server_daily_spend_usd="0.01")
    now = [tomorrow_at(8)]
    at_fake_time(h, now)
    row = await daily_question(h, now)
    caplog.set_level(logging.INFO, logger="bot.features.reminders.delivery")
    now[0] = row.due_at
    await h.store.usage.record(user_id=None, guild_id=GUILD_ID, purpose="reply", model="claude-test-default",
                               input_tokens=0, output_tokens=0, cache_creation_tokens=0, cache_read_tokens=0,
                               cost=0.02, latency_ms=1.0, ok=True)  # its messages spent the day's allowance
    timer = await h.store.timers.get(f"reminder:{row.id}")
    assert timer is not None
    said = await h.bot.services.timers.handlers["reminder"](timer)
    assert said.startswith(f"place task {row.id} skipped: ") and "spend" in said, said
    lines = [r.getMessage() for r in caplog.records if f"place task {row.id}" in r.getMessage()]
    assert len(lines) == 1 and "skipped" in lines[0]
    assert not [r for r in h.claude.requests if carrying_out(r.body)]  # no model call
    moved = await h.store.reminders.get(row.id)
    assert moved is not None and moved.due_at == row.due_at + timedelta(days=1)  # that time is gone
