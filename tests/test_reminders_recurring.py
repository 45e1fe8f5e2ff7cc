"""Recurring reminders (bot/features/reminders/recurrence.py, book.py, delivery.py; cogs/reminders.py).

Units: RRULEs read in local wall-clock time across a DST change, and the rules refused. Over the wire (fake
Discord + fake Claude asking for ``set_reminder`` with ``repeat``), time driven by the bot's own clocks set
to a fake time (never waited for): "every Friday at 6pm" in London across the clocks changing is delivered at
18:00 local on both Fridays, once each, with a restart between them; ``/reminders`` skips, pauses, resumes
and cancels; occurrences that came due while the bot was down are skipped and said in one message; the
caps refuse a one-minute rule with one line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.core.timers import Timers
from bot.features.reminders.book import ASKED, ReminderBook
from bot.features.reminders.config import ReminderSettings
from bot.features.reminders.recurrence import RuleRefused, due_by, next_after, plan
from database.reminders import reminder_key
from database.store import Store
from tests.fakes.claude_server import FakeClaude, Reply
from tests.fakes.claude_tools import UseTool
from tests.harness import Harness, MakeHarness, bot_posts, ephemeral, eventually
from tests.place_support import place_switch
from tests.test_reminders import asking

LONDON = ZoneInfo("Europe/London")
WEEKLY_FRIDAY = "FREQ=WEEKLY;BYDAY=FR"
FIVE = timedelta(minutes=5)


def dst_change_fridays(after: datetime) -> tuple[datetime, datetime]:
    """The Fridays (local dates, naive midnight) either side of London's first clock change at least two
    weeks after ``after``: the fake time stays ahead of the wall clock, so a bot started on the real clock
    finds nothing due."""
    day = after.astimezone(LONDON).replace(hour=12, minute=0, second=0, microsecond=0, tzinfo=None)
    day += timedelta(days=14)
    while (day.replace(tzinfo=LONDON).utcoffset() == (day + timedelta(days=1)).replace(tzinfo=LONDON)
           .utcoffset()):
        day += timedelta(days=1)
    sunday = (day + timedelta(days=1)).replace(hour=0)  # the clocks change in the small hours of a Sunday
    assert sunday.weekday() == 6
    return sunday - timedelta(days=2), sunday + timedelta(days=5)


# -- the rule


def test_every_friday_at_six_stays_at_six_local_across_the_clocks_changing() -> None:
    first = datetime(2026, 10, 23, 18, 0)  # BST; the clocks go back on Sunday the 25th
    planned = plan(WEEKLY_FRIDAY, first, LONDON, FIVE)
    after = next_after(planned.rule, planned.first.local, LONDON)
    assert planned.first.due == datetime(2026, 10, 23, 17, 0, tzinfo=UTC)
    assert after is not None and after.due == datetime(2026, 10, 30, 18, 0, tzinfo=UTC)
    assert after.local == datetime(2026, 10, 30, 18, 0)
    # Spring forward: 01:30 does not exist on the 28th of March 2027; RFC 5545 reads it at the offset
    # before the gap, and the next day is 01:30 again.
    daily = "FREQ=DAILY;BYHOUR=1;BYMINUTE=30"
    gap = next_after(daily, datetime(2027, 3, 27, 1, 30), LONDON)
    assert gap is not None and gap.due == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    following = next_after(daily, gap.local, LONDON)
    assert following is not None and following.local == datetime(2027, 3, 29, 1, 30)


def test_the_rules_people_ask_for_and_those_refused() -> None:
    tuesday = datetime(2026, 12, 1, 8, 0)
    weekdays = plan("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", tuesday, LONDON, FIVE)
    nxt = next_after(weekdays.rule, datetime(2026, 12, 4, 8, 0), LONDON)  # a Friday: then Monday
    assert nxt is not None and nxt.local == datetime(2026, 12, 7, 8, 0)
    other = plan("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=FR", datetime(2026, 12, 4, 18, 0), LONDON, FIVE)
    nxt = next_after(other.rule, other.first.local, LONDON)
    assert nxt is not None and nxt.local == datetime(2026, 12, 18, 18, 0)
    # from any time on, read from its own occurrence: its time of day, not the time asked at
    later = next_after("FREQ=DAILY", datetime(2026, 12, 3, 9, 30), LONDON, anchor=tuesday)
    assert later is not None and later.local == datetime(2026, 12, 4, 8, 0)
    monthly = plan("FREQ=MONTHLY;BYMONTHDAY=1", datetime(2026, 12, 2, 9, 0), LONDON, FIVE)
    assert monthly.first.local == datetime(2027, 1, 1, 9, 0)
    counted = plan("FREQ=DAILY;COUNT=3", tuesday, LONDON, FIVE)  # COUNT kept as the UNTIL of its last
    assert "COUNT" not in counted.rule and "UNTIL=20261203T080000" in counted.rule
    assert next_after(counted.rule, datetime(2026, 12, 3, 8, 0), LONDON) is None  # it has ended
    for rule, why in (("FREQ=MINUTELY", "1 minute apart"), ("FREQ=SECONDLY", "seconds"),
                      ("FREQ=DAILY;BYHOUR=8,9;BYMINUTE=0,2", "2 minutes apart"),
                      ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "no occurrence"),
                      ("FREQ=MINUTELY;INTERVAL=10;BYMONTHDAY=3", "may not name"),
                      ("every friday", "not a valid RRULE"), ("FREQ=DAILY;COUNT=5000", "COUNT")):
        with pytest.raises(RuleRefused, match=why):
            plan(rule, tuesday, LONDON, FIVE)


def test_occurrences_gone_by_are_counted_not_caught_up() -> None:
    daily = "FREQ=DAILY"
    start = next_after(daily, datetime(2026, 12, 1, 8, 0), LONDON, inclusive=True)
    assert start is not None
    due = due_by(daily, start, LONDON, datetime(2026, 12, 4, 10, 0, tzinfo=UTC))
    assert due.latest.local == datetime(2026, 12, 4, 8, 0) and due.passed == 3
    assert due.next is not None and due.next.local == datetime(2026, 12, 5, 8, 0)


async def test_the_caps_per_person_and_per_server(store: Store) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    await store.people.ensure_user(asking().author_id, "alice")
    await store.people.set_timezone(asking().author_id, "Europe/London")
    book = ReminderBook(ReminderSettings(reminders_recurring_max=1, reminders_recurring_per_server=5),
                        store.reminders, place_switch(store, ASKED), Timers(store.timers), clock=lambda: now)
    done = await book.set(asking(), "water the plants", "2026-12-02T08:00", None, "FREQ=DAILY")
    assert not done.error and "Recurring reminder #" in done.text, done.text
    again = await book.set(asking(), "stretch", "2026-12-02T09:00", None, "FREQ=DAILY")
    assert again.error and "1 recurring reminders, the most" in again.text
    assert not (await book.set(asking(), "once", None, 5)).error  # a one-shot is not held by that cap
    server = ReminderBook(ReminderSettings(reminders_recurring_per_server=1), store.reminders,
                          place_switch(store, ASKED), Timers(store.timers), clock=lambda: now)
    assert not (await server.set(asking(dm=False), "raid", "2026-12-04T18:00", None, WEEKLY_FRIDAY)).error
    full = await server.set(asking(2, dm=False), "raid again", "2026-12-04T19:00", None, WEEKLY_FRIDAY)
    assert full.error and "this server already has 1 recurring" in full.text


# -- over the wire


def repeating(text: str, local_time: str | None, repeat: str, in_minutes: int | None = None) -> UseTool:
    return UseTool("set_reminder", {"text": text, "local_time": local_time, "in_minutes": in_minutes,
                                    "repeat": repeat}, answer="Every Friday, got it!")


def at_fake_time(h: Harness, now: list[datetime]) -> None:
    """The bot's clocks (the book's, the timer loop's, the delivery's) read ``now[0]``."""
    assert h.bot is not None
    clock: Callable[[], datetime] = lambda: now[0]  # noqa: E731
    services = h.bot.services
    services.part(ReminderBook).clock = clock
    services.timers.clock = clock
    services.timers.handlers["reminder"].__self__.clock = clock  # type: ignore[attr-defined]


async def fire(h: Harness, when: datetime, now: list[datetime]) -> None:
    """Move the fake time to ``when`` and wake the timer loop, as its alarm would."""
    assert h.bot is not None
    now[0] = when
    h.bot.services.timers.timers.sooner.set()


def delivering(body: dict[str, Any]) -> bool:
    return "to remind them of what is quoted above" in FakeClaude.all_text(body)


async def in_london(h: Harness) -> None:
    done = await ephemeral(await h.slash("timezone", [{"name": "zone", "type": 3, "value": "Europe/London"}],
                                         dm=True))
    assert "Europe/London" in done["content"]


async def test_every_friday_at_six_across_the_clocks_changing_and_a_restart(
        make_harness: MakeHarness) -> None:
    h = await make_harness()
    first, second = dst_change_fridays(datetime.now(UTC))
    now = [(first - timedelta(days=3)).replace(hour=9).replace(tzinfo=LONDON).astimezone(UTC)]
    at_fake_time(h, now)
    await in_london(h)
    tool = repeating("call mum", f"{first:%Y-%m-%d}T18:00", WEEKLY_FRIDAY)
    h.claude.script(Reply(tools=tool), times=2)
    sent = await h.dm("remind me every Friday at 6pm to call mum")
    dm = int(sent["channel_id"])
    await h.replies(dm)
    [result] = tool.results
    assert not result["is_error"] and "Recurring reminder #" in result["content"], result["content"]
    [row] = await h.store.reminders.open_for(h.user_id)
    six = [d.replace(hour=18).replace(tzinfo=LONDON).astimezone(UTC) for d in (first, second)]
    assert six[0].utcoffset() == timedelta(0) and six[0] != six[1] - timedelta(days=7)  # an hour apart
    assert (row.rule, row.zone, row.due_at) == (WEEKLY_FRIDAY, "Europe/London", six[0])

    def reminded() -> list[dict[str, Any]]:
        return [m for m in bot_posts(h, dm) if "Call mum" in m["content"]]

    async def moved_to(due: datetime) -> bool:
        current = await h.store.reminders.get(row.id)
        timer = await h.store.timers.get(reminder_key(row.id))
        return current is not None and current.due_at == due and timer is not None and timer.due == due

    h.claude.script("Call mum, it's Friday six o'clock!", match=delivering)
    await fire(h, six[0], now)
    await h.discord.wait_for(lambda _: reminded(), what="the first Friday's reminder")
    await eventually(lambda: moved_to(six[1]), "the reminder moved to the next Friday")
    assert six[1].astimezone(LONDON).hour == 18 and six[0].astimezone(LONDON).hour == 18

    await h.stop_bot()
    await h.start_bot()  # on the real clock: the next Friday is weeks ahead, nothing is due
    assert len(reminded()) == 1
    at_fake_time(h, now)
    h.claude.script("Call mum, it's Friday six o'clock again!", match=delivering)
    await fire(h, six[1], now)
    await h.discord.wait_for(lambda _: len(reminded()) == 2, what="the second Friday's reminder")
    third = six[1] + timedelta(days=7)
    await eventually(lambda: moved_to(third), "the reminder moved to the Friday after")
    await h.at_rest()
    assert [m["content"] for m in reminded()] == ["Call mum, it's Friday six o'clock!",
                                                  "Call mum, it's Friday six o'clock again!"]  # once each
    assert reminded()[0]["nonce"] != reminded()[1]["nonce"]

    # /reminders: it lists as recurring; skip its next time, pause, resume, cancel; one at a time
    listed = await ephemeral(await h.slash("reminders", dm=True))
    assert "repeats every Friday (Europe/London)" in str(listed) and WEEKLY_FRIDAY not in str(listed)
    skipped = await ephemeral(await h.slash("reminders", [{"name": "skip", "type": 4, "value": row.id}],
                                            dm=True))
    assert f"Skipped reminder #{row.id}" in skipped["content"]
    assert await moved_to(third + timedelta(days=7))
    both = await ephemeral(await h.slash("reminders", [{"name": "skip", "type": 4, "value": row.id},
                                                       {"name": "cancel", "type": 4, "value": row.id}],
                                         dm=True))
    assert both["content"] == ("One at a time: give `/reminders` only one of `cancel`, `pause`, `resume` or "
                               "`skip`.")
    cancelled = await ephemeral(await h.slash("reminders", [{"name": "cancel", "type": 4, "value": row.id}],
                                              dm=True))
    assert f"Cancelled reminder #{row.id}" in cancelled["content"]
    timer = await h.store.timers.get(reminder_key(row.id))
    assert timer is not None and "gone" in await h.bot.services.timers.handlers["reminder"](timer)
    assert len(reminded()) == 2


async def test_pause_and_resume(make_harness: MakeHarness) -> None:
    h = await make_harness()
    first, _ = dst_change_fridays(datetime.now(UTC))
    now = [first.replace(hour=9).replace(tzinfo=LONDON).astimezone(UTC)]
    at_fake_time(h, now)
    await in_london(h)
    h.claude.script(Reply(tools=repeating("stretch", f"{first:%Y-%m-%d}T10:00", "FREQ=DAILY")), times=2)
    sent = await h.dm("remind me every day at 10 to stretch")
    await h.replies(int(sent["channel_id"]))
    [row] = await h.store.reminders.open_for(h.user_id)
    paused = await ephemeral(await h.slash("reminders", [{"name": "pause", "type": 4, "value": row.id}],
                                           dm=True))
    assert f"Paused reminder #{row.id}" in paused["content"]
    timer = await h.store.timers.get(reminder_key(row.id))
    assert timer is not None and "paused" in await h.bot.services.timers.handlers["reminder"](timer)
    assert "**paused**" in str(await ephemeral(await h.slash("reminders", dm=True)))
    again = await ephemeral(await h.slash("reminders", [{"name": "pause", "type": 4, "value": row.id}],
                                          dm=True))
    assert "no running recurring reminder" in again["content"]
    # resumed two days on, at nine: its ten o'clock that day
    now[0] = (first + timedelta(days=2)).replace(hour=9).replace(tzinfo=LONDON).astimezone(UTC)
    resumed = await ephemeral(await h.slash("reminders", [{"name": "resume", "type": 4, "value": row.id}],
                                            dm=True))
    assert f"Resumed reminder #{row.id}" in resumed["content"]
    current = await h.store.reminders.get(row.id)
    expected = (first + timedelta(days=2)).replace(hour=10).replace(tzinfo=LONDON).astimezone(UTC)
    assert current is not None and current.due_at == expected and not current.paused
    assert (await h.store.timers.get(reminder_key(row.id))).due == expected  # type: ignore[union-attr]


async def test_occurrences_missed_while_down_are_skipped_and_said_once(make_harness: MakeHarness) -> None:
    h = await make_harness()
    first, _ = dst_change_fridays(datetime.now(UTC))
    now = [first.replace(hour=7).replace(tzinfo=LONDON).astimezone(UTC)]
    at_fake_time(h, now)
    await in_london(h)
    h.claude.script(Reply(tools=repeating("take the pills", f"{first:%Y-%m-%d}T08:00", "FREQ=DAILY")),
                    times=2)
    sent = await h.dm("remind me every morning at 8 to take my pills")
    dm = int(sent["channel_id"])
    await h.replies(dm)
    [row] = await h.store.reminders.open_for(h.user_id)
    before = len(bot_posts(h, dm))

    await h.stop_bot()  # down over three mornings: back at 10:00 on the third, two hours after its 08:00
    await h.start_bot()
    at_fake_time(h, now)

    def missed(body: dict[str, Any]) -> bool:
        return "You were away when it came due" in FakeClaude.all_text(body)

    h.claude.script("I was away and skipped your pill reminders, sorry! Tomorrow at 8 again.", match=missed)
    await fire(h, (first + timedelta(days=2)).replace(hour=10).replace(tzinfo=LONDON).astimezone(UTC), now)
    posts = await h.discord.wait_for(
        lambda _: [m for m in bot_posts(h, dm)[before:] if "skipped" in m["content"]], what="the missed line")
    tomorrow = (first + timedelta(days=3)).replace(hour=8).replace(tzinfo=LONDON).astimezone(UTC)

    async def moved() -> bool:
        current = await h.store.reminders.get(row.id)
        return current is not None and current.due_at == tomorrow

    await eventually(moved, "the reminder moved to tomorrow morning")
    await h.at_rest()
    assert len(posts) == 1 and bot_posts(h, dm)[before:] == posts  # one line, not three reminders
    asked = [r for r in h.claude.requests if missed(r.body)]
    assert len(asked) == 1 and "came due 3 times" in FakeClaude.all_text(asked[0].body)


# By default occurrences are an hour apart at least: one person's ten recurring reminders cost at most 240
# model calls a day (a half-hourly one used to pass).
@pytest.mark.parametrize(("rule", "apart"), [("FREQ=MINUTELY", "1 minute"),
                                             ("FREQ=MINUTELY;INTERVAL=30", "30 minutes")])
async def test_the_caps_refuse_a_one_minute_recurrence_with_one_line(make_harness: MakeHarness, rule: str,
                                                                     apart: str) -> None:
    h = await make_harness()
    await in_london(h)
    tool = repeating("drink water", None, rule, in_minutes=1)
    h.claude.script(Reply(tools=tool), times=2)
    sent = await h.dm("remind me every minute to drink water")
    await h.replies(int(sent["channel_id"]))
    [result] = tool.results
    assert result["is_error"]
    line = result["content"].split(">", 1)[1].rsplit("<", 1)[0].strip()  # inside its <tool_output> fence
    assert "\n" not in line and f"{apart} apart are too close: at least 60 minutes apart" in line, line
    assert await h.store.reminders.open_for(h.user_id) == []


async def test_two_processes_move_an_occurrence_on_once(store: Store, db_url: str) -> None:
    """Two processes' runs holding the same occurrence (a lease run out under a slow one, say): the one
    transaction that moves the row and its timer on is made by one of them; the other sees it moved."""
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    await store.people.ensure_user(asking().author_id, "alice")
    await store.people.set_timezone(asking().author_id, "Europe/London")
    book = ReminderBook(ReminderSettings(), store.reminders, place_switch(store, ASKED), Timers(store.timers),
                        clock=lambda: now)
    assert not (await book.set(asking(), "stand up", "2026-12-01T10:00", None, "FREQ=DAILY")).error
    [row] = await store.reminders.open_for(asking().author_id)
    after = next_after(row.rule, datetime(2026, 12, 1, 10, 0), LONDON)
    assert after is not None
    other = await Store(db_url).open()
    try:
        key, payload = reminder_key(row.id), {"reminder": row.id}
        moved = [await s.reminders.advance(row.id, row.due_at, after.due, "2026-12-02T10:00:00", key, payload)
                 for s in (store, other)]
        assert moved == [True, False]
        current = await other.reminders.get(row.id)
        timer = await other.timers.get(key)
        assert current is not None
        assert (current.due_at, current.local_at) == (after.due, "2026-12-02T10:00:00")
        assert timer is not None and timer.due == after.due
    finally:
        await other.close()
