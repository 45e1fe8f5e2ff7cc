"""/forget_me while a feature writes about the person outside the exchange's own storing: just after a reply
to them is posted (its swipes opened, the reply said again as a voice message), while it is written (a
reminder its tool sets), when a reminder of theirs goes out (the row naming them as the one its post quotes,
database/privacy.py ``posted_for``) or when a swipe button asks for a new answer, over the wire. A forget
before the write means nothing is written; one that begins during it waits for it, then deletes what it
wrote with the rest (database/privacy.py ``writing_about``).
The exchange's own storing: tests/test_forget_in_flight.py."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.features.checkins.rounds import CheckInRound
from bot.features.polls import PollLifecycle
from bot.features.polls.lifecycle import FORGOTTEN as POLL_FORGOTTEN
from bot.features.polls.lifecycle import VOTE_FORGOTTEN
from bot.features.reminders.book import FORGOTTEN, ReminderBook
from bot.features.servertools.tickets import FORGOTTEN as TICKET_FORGOTTEN
from bot.features.servertools.tickets import TicketDesk
from bot.features.swipes import ReplySwipes
from bot.features.swipes.alternatives import Swiper
from bot.features.voice.messages import VoiceMessageReplies
from tests.dbtools import api_calls, logged_ids, open_polls, swipe_rows, timers_of_kind
from tests.fakes import EVENT_WAIT
from tests.fakes.claude_server import Reply
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    GUILD_ID,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    bot_posts,
    buttons,
    check,
    ephemeral,
    eventually,
    exchange,
    press,
    reply_requests,
    run_round,
)
from tests.place_support import place
from tests.server_support import answer, opts
from tests.test_alive_feelings import checkin_request
from tests.test_feelings_in_context import dm as feelings_dm
from tests.test_memory_commands import forget
from tests.test_polls import button_ids
from tests.test_reaction_answers import answers as correction_answers
from tests.test_reaction_answers import corrections
from tests.test_reaction_answers import start as start_answers
from tests.test_reactions_felt import react
from tests.test_reminders import channel_reminder, set_reminder
from tests.test_swipes import swiped_reply
from tests.test_tickets import setup_staff, threads, ticket
from tests.test_voice import needs_audio_tools, speech_requests, voice_posts

MODEL = "claude-test-default"


async def forget_begun(h: Harness) -> None:
    await eventually(check(lambda: h.store.privacy.forgotten_at(USER_ID) is not None), "the forget to begin")


class Held:
    """A write held where it begins: ``entered`` is set once it is reached and ``release()`` lets it go on.
    ``order`` gets "written" once it has run, and "forgotten" when a /forget_me begun during it ends."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.released = asyncio.Event()
        self.order: list[str] = []

    async def reached(self) -> None:
        await asyncio.wait_for(self.entered.wait(), EVENT_WAIT)

    def release(self) -> None:
        self.released.set()


def hold(monkeypatch: pytest.MonkeyPatch, owner: object, method: str) -> Held:
    """``owner``'s coroutine method ``method``, held each time it is called until the test releases it."""
    held = Held()
    original = getattr(owner, method)

    async def holding(*args: Any, **kwargs: Any) -> Any:
        held.entered.set()
        await held.released.wait()
        result = await original(*args, **kwargs)
        held.order.append("written")
        return result

    monkeypatch.setattr(owner, method, holding)
    return held


async def forget_before(h: Harness, held: Held) -> None:
    """/forget_me run to its end while the write waits, not begun (it ends at once), then the write let go."""
    await forget(h)
    held.release()


async def forget_during(h: Harness, held: Held) -> None:
    """/forget_me begun while the write is under way, then the write let go: back once the forget ended."""
    forgetting = asyncio.create_task(forget(h))
    forgetting.add_done_callback(lambda _: held.order.append("forgotten"))
    await forget_begun(h)
    held.release()
    await forgetting


async def test_a_forget_before_a_replys_swipes_open_leaves_none(harness: Harness,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    # posted and stored: its swipes not offered yet
    held = hold(monkeypatch, h.bot.services.part(ReplySwipes), "offer")
    h.claude.script("Once upon a time.", model=MODEL)
    await h.say("tell me a story", mention=True)
    [reply] = await h.replies(CHANNEL_ID)
    await held.reached()
    await forget_before(h, held)
    await h.at_rest()
    assert await swipe_rows(h.store, USER_ID) == []
    assert await h.store.privacy.rows_about_user(USER_ID) == {}
    # it went out with its buttons on: not offered swipes, they come off
    await h.discord.wait_for(lambda _: not buttons(reply), EVENT_WAIT, what="the buttons taken off")


async def test_a_forget_while_a_replys_swipes_open_waits_then_deletes_them(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    held = hold(monkeypatch, h.store.swipes, "open")
    h.claude.script("Once upon a time.", model=MODEL)
    await h.say("tell me a story", mention=True)
    await h.replies(CHANNEL_ID)
    await held.reached()
    await forget_during(h, held)
    await h.at_rest()
    assert held.order == ["written", "forgotten"]  # it waited for the write, then deleted it
    assert await swipe_rows(h.store, USER_ID) == []
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


@needs_audio_tools
async def test_a_forget_before_a_voice_reply_is_spoken_means_none_is(make_harness: MakeHarness,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    h = await make_harness(voice_replies="always", tts_backend="openai")
    held = hold(monkeypatch, h.bot.services.part(VoiceMessageReplies), "say_again")
    sent = await h.dm("hello")
    dm = int(sent["channel_id"])
    await h.replies(dm)
    await held.reached()
    await forget_before(h, held)
    await h.at_rest()
    assert speech_requests(h) == [] and voice_posts(h, dm) == []  # not spoken, not paid for
    assert await h.store.privacy.rows_about_user(USER_ID, [dm]) == {}


@needs_audio_tools
async def test_a_forget_while_a_voice_reply_is_spoken_waits_then_deletes_it(
        make_harness: MakeHarness) -> None:
    h = await make_harness(voice_replies="always", tts_backend="openai")
    speaking = Held()
    h.openai.speech_gate = speaking.released
    sent = await h.dm("hello")
    dm = int(sent["channel_id"])
    await h.replies(dm)
    await asyncio.wait_for(h.openai.speaking.wait(), EVENT_WAIT)
    await forget_during(h, speaking)
    await h.at_rest()
    assert len(voice_posts(h, dm)) == 1  # said to them all the same
    # Its usage row and the voice message in their DMs (logged or on its way) went with the rest.
    assert await api_calls(h.store, user_id=USER_ID) == []
    assert await h.store.privacy.rows_about_user(USER_ID, [dm]) == {}


async def test_a_forget_before_a_reminder_is_set_means_none_is(make_harness: MakeHarness,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    h = await make_harness()
    # the model asked for it: not written yet
    held = hold(monkeypatch, h.bot.services.part(ReminderBook), "set")
    tool = set_reminder(in_minutes=30)
    h.claude.script(Reply(tools=tool), times=2)
    sent = await h.dm("remind me in half an hour to stretch")
    await held.reached()
    await forget_before(h, held)
    await h.replies(int(sent["channel_id"]))
    await h.at_rest()
    [result] = tool.results
    assert result["is_error"] and FORGOTTEN in result["content"]
    assert await h.store.reminders.open_for(USER_ID) == []
    assert await timers_of_kind(h.store, "reminder") == []
    assert await h.store.privacy.rows_about_user(USER_ID, [int(sent["channel_id"])]) == {}


async def test_a_forget_while_a_reminder_is_set_waits_then_deletes_it(
        make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = await make_harness()
    held = hold(monkeypatch, h.store.reminders, "add")
    h.claude.script(Reply(tools=set_reminder(in_minutes=30)), times=2)
    sent = await h.dm("remind me in half an hour to stretch")
    await held.reached()
    await forget_during(h, held)
    await h.replies(int(sent["channel_id"]))
    await h.at_rest()
    assert held.order == ["written", "forgotten"]
    assert await h.store.reminders.open_for(USER_ID) == []
    assert await timers_of_kind(h.store, "reminder") == []
    assert await h.store.privacy.rows_about_user(USER_ID, [int(sent["channel_id"])]) == {}


# -- a reminder going out: its post in a channel quotes them

REMINDED = "Time to call the kelp clinic about your rash!"


async def reminder_going_out(h: Harness) -> asyncio.Task[str]:
    """alice's channel reminder comes due: its delivery, under way."""
    switched = await ephemeral(await h.slash("bot", [{"name": "reminders", "type": 1, "options": [
        {"name": "state", "type": 3, "value": "on"}]}], user=h.admin_id))
    assert "**on**" in switched["content"]
    timer = await channel_reminder(h, "call the kelp clinic")
    h.claude.script(REMINDED)
    return asyncio.create_task(h.bot.services.timers.handlers["reminder"](timer))


def reminder_post(h: Harness) -> int:
    [post] = [m for m in bot_posts(h, CHANNEL_ID) if m["content"].endswith(REMINDED)]
    return int(post["id"])


async def test_a_forget_as_a_reminder_goes_out_leaves_no_post_of_theirs(
        make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = await make_harness()
    # posted (its echo on its way to the log): not yet named theirs
    held = hold(monkeypatch, h.store.privacy, "posted_for")
    delivering = await reminder_going_out(h)
    await held.reached()
    post = reminder_post(h)
    await forget_before(h, held)  # their reminder goes; the post is not known to be theirs yet
    await delivering
    await h.at_rest()
    assert await logged_ids(h.store, [post]) == []  # the post quoting them went from the channel's log
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


async def test_a_forget_while_a_reminders_post_is_named_theirs_waits_then_deletes_it(
        make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = await make_harness()
    held = hold(monkeypatch, h.store.privacy, "_note_posted")
    delivering = await reminder_going_out(h)
    await held.reached()
    post = reminder_post(h)
    await forget_during(h, held)
    await delivering
    await h.at_rest()
    assert held.order == ["written", "forgotten"]
    assert await logged_ids(h.store, [post]) == []
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


# -- a swipe button pressed for a new answer: its model call names them

async def test_a_forget_as_a_new_answer_is_asked_for_means_none_is(harness: Harness,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    reply = await swiped_reply(h)
    # pressed, its row read: no model call yet
    held = hold(monkeypatch, h.bot.services.part(ReplySwipes), "new_alternative")
    h.claude.script("Twice.", model=MODEL)
    pressing = asyncio.create_task(press(h, reply, "new"))
    await held.reached()
    await forget_before(h, held)
    await (await pressing).response()
    await h.at_rest()
    assert len(reply_requests(h)) == 1  # not asked for, not paid for
    assert reply["content"] == "Once."
    assert await api_calls(h.store, user_id=USER_ID) == []
    assert await h.store.privacy.rows_about_user(USER_ID) == {}
    await h.discord.wait_for(lambda _: not buttons(reply), EVENT_WAIT, what="the buttons taken off")


async def test_a_forget_while_a_new_answer_is_written_waits_then_deletes_it(harness: Harness) -> None:
    h = harness
    reply = await swiped_reply(h)
    written = Held()
    h.claude.script(Reply("Twice.", held=written.released), model=MODEL)
    pressed = await press(h, reply, "new")
    await eventually(check(lambda: len(reply_requests(h)) == 2), "the new answer asked for")
    await forget_during(h, written)
    await pressed.response()
    await h.at_rest()
    # Its usage row, its row of swipes and the answer it changed went with the rest.
    assert await api_calls(h.store, user_id=USER_ID) == []
    assert await swipe_rows(h.store, USER_ID) == []
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


async def test_a_swipe_row_read_before_a_forget_changes_nothing_after_it(harness: Harness) -> None:
    """◀ ▶ only update the row and the answer: a row read before the forget finds nothing to change."""
    h = harness
    reply = await swiped_reply(h)
    swipes = h.bot.services.part(ReplySwipes)
    record = await swipes.of_message(int(reply["id"]))
    assert record is not None
    await forget(h)
    assert (await swipes.step(record, 0)).record is None
    assert (await swipes.new_alternative(record, Swiper(USER_ID, "alice", place(CHANNEL_ID, False, GUILD_ID)),
                                         mark=0)).record is None
    assert await swipe_rows(h.store, USER_ID) == []
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


# -- a poll or a ticket being started by someone whose /forget_me runs: its rows name them

async def test_a_forget_before_a_poll_is_started_means_none_is(harness: Harness,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    held = hold(monkeypatch, h.bot.services.part(PollLifecycle), "start")  # asked for: nothing written yet
    asked = asyncio.create_task(h.slash("poll", opts(question="Tea or kelp?", options="Tea | Kelp"),
                                        user=USER_ID))
    await held.reached()
    await forget_before(h, held)
    assert await answer(await asked) == POLL_FORGOTTEN
    await h.at_rest()
    assert await open_polls(h.store) == [] and await timers_of_kind(h.store, "poll") == []
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


async def test_a_forget_while_a_poll_is_started_waits_then_deletes_it(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    held = hold(monkeypatch, h.bot.services.part(PollLifecycle).polls, "create")
    asked = asyncio.create_task(h.slash("poll", opts(question="Tea or kelp?", options="Tea | Kelp"),
                                        user=USER_ID))
    await held.reached()
    await forget_during(h, held)
    message = await (await asked).message()  # posted all the same: it was asked for before the forget
    await h.at_rest()
    assert held.order == ["written", "forgotten"]
    assert await open_polls(h.store) == []
    assert await logged_ids(h.store, [int(message["id"])]) == []  # its question is theirs
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


async def tickets_set_up(h: Harness) -> None:
    staff = await setup_staff(h)
    await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", staff))


async def test_a_forget_before_a_ticket_is_opened_means_none_is(harness: Harness,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    await tickets_set_up(h)
    held = hold(monkeypatch, h.bot.services.part(TicketDesk), "open")
    asked = asyncio.create_task(ticket(h, "open", topic="my shell is stuck"))
    await held.reached()
    await forget_before(h, held)
    assert await asked == TICKET_FORGOTTEN
    await h.at_rest()
    assert threads(h) == []
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


async def test_a_forget_while_a_ticket_is_opened_waits_then_deletes_it(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    await tickets_set_up(h)
    held = hold(monkeypatch, h.store.tickets, "open")
    asked = asyncio.create_task(ticket(h, "open", topic="my shell is stuck"))
    await held.reached()
    await forget_during(h, held)
    await asked
    await h.at_rest()
    assert held.order == ["written", "forgotten"]
    [thread] = threads(h)  # opened all the same: it was asked for before the forget
    [panel] = h.discord.posted(int(thread["id"]))
    assert await logged_ids(h.store, [int(panel["id"])]) == []  # its topic is theirs
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


# -- a check-in DM after their silence: its model call, the DM and the turn kept name them

CHECKED_IN = "Alice! The tide missed you. How are the boats?"


async def checkin_due(make_harness: MakeHarness) -> tuple[Harness, int, datetime]:
    """alice turned check-ins on and fell silent: the DM channel, and a day when her check-in is due."""
    h = await make_harness(checkin_after_days="2", timezone="UTC", quiet_hours="23-7")
    await (await h.slash("checkin", [{"type": 1, "name": "on", "options": []}])).text()
    await h.dm("hello finn")
    dm = await h.dm_channel_id()
    await h.replies(dm, 1)
    await h.bot.in_flight.drain()
    return h, dm, (datetime.now(UTC) + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)


async def test_a_forget_before_a_check_in_is_written_means_none_is(make_harness: MakeHarness,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    h, dm, day = await checkin_due(make_harness)
    held = hold(monkeypatch, CheckInRound, "check_in")  # found due: nothing asked or written yet
    h.claude.script(CHECKED_IN, match=checkin_request)
    running = asyncio.create_task(run_round(h, "checkins", day))
    await held.reached()
    await forget_before(h, held)
    assert await running == "0 of 1 check-in(s) sent"
    await h.at_rest()
    assert not [r for r in h.claude.requests if checkin_request(r.body)]  # not asked for, not paid for
    assert len(bot_posts(h, dm)) == 1
    assert await h.store.privacy.rows_about_user(USER_ID, [dm]) == {}


async def test_a_forget_while_a_check_in_is_written_waits_then_deletes_it(make_harness: MakeHarness) -> None:
    h, dm, day = await checkin_due(make_harness)
    written = Held()
    h.claude.script(Reply(CHECKED_IN, held=written.released), match=checkin_request)
    running = asyncio.create_task(run_round(h, "checkins", day))
    await eventually(check(lambda: any(checkin_request(r.body) for r in h.claude.requests)),
                     "the check-in asked for")
    await forget_during(h, written)
    assert await running == "1 of 1 check-in(s) sent"  # said to them all the same
    await h.at_rest()
    [_, sent] = bot_posts(h, dm)
    assert sent["content"] == CHECKED_IN
    # Its usage row, the DM (logged or on its way) and the turn kept went with the rest.
    assert await api_calls(h.store, user_id=USER_ID) == []
    assert await logged_ids(h.store, [int(sent["id"])]) == []
    assert await h.store.privacy.rows_about_user(USER_ID, [dm]) == {}


# -- an answer of its own to a correction reaction in their DM: its model call, the DM and the turn kept

ANSWERED = "You're right, I got that wrong: ginger and honey, not nettle."


async def a_dm_reply(make_harness: MakeHarness) -> tuple[Harness, int, dict[str, Any]]:
    h = await start_answers(make_harness, correction_answers=True)
    await feelings_dm(h, "what tea is good for a cold?", 1)
    channel = await h.dm_channel_id()
    return h, channel, (await h.replies(channel, 1))[0]


def reacted_answer(body: dict[str, Any]) -> bool:
    return "<reacted_reply" in str(body)


async def test_a_forget_before_a_correction_is_answered_means_none_is(
        make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a channel (a DM's answer needs the history the forget took; a channel's reads its log)."""
    h = await start_answers(make_harness)
    assert "Corrections is **on**" in await corrections(h, "on")
    h.claude.script("Nettle tea, it was a guess.", model=MODEL)
    reply = await exchange(h, "finn, what tea is good for a cold?", 1)
    answering = correction_answers(h)
    held = Held()
    spawn = answering._spawn

    def holding(coro: Coroutine[object, object, None]) -> None:  # not a coroutine method: held by hand
        async def later() -> None:
            held.entered.set()  # the reaction handed over: its answer not begun
            await held.released.wait()
            await coro

        spawn(later())

    monkeypatch.setattr(answering, "_spawn", holding)
    h.claude.script(ANSWERED, model=MODEL, match=reacted_answer)
    await react(h, reply, "👎")
    await held.reached()
    await forget_before(h, held)
    await answering.settled()
    await h.at_rest()
    assert not [r for r in h.claude.requests if reacted_answer(r.body)] and answering.answered == 0
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


async def test_a_forget_while_a_correction_is_answered_waits_then_deletes_it(
        make_harness: MakeHarness) -> None:
    h, channel, reply = await a_dm_reply(make_harness)
    written = Held()
    h.claude.script(Reply(ANSWERED, held=written.released), model=MODEL, match=reacted_answer)
    await react(h, reply, "👎")
    await eventually(check(lambda: any(reacted_answer(r.body) for r in h.claude.requests)),
                     "the answer asked for")
    await forget_during(h, written)
    await correction_answers(h).settled()
    await h.at_rest()
    answer = bot_posts(h, channel)[-1]
    assert answer["content"] == ANSWERED  # said to them all the same
    assert await api_calls(h.store, user_id=USER_ID) == []
    assert await logged_ids(h.store, [int(answer["id"])]) == []
    assert await h.store.privacy.rows_about_user(USER_ID, [channel]) == {}


# -- a vote on someone else's poll, pressed as the voter's /forget_me runs: its row names them

async def bobs_poll(h: Harness) -> dict[str, Any]:
    ix = await h.slash("poll", opts(question="Tea or kelp?", options="Tea | Kelp"), user=USER2_ID)
    return dict(await ix.message())


async def test_a_forget_before_a_vote_is_counted_means_none_is(harness: Harness,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    poll = await bobs_poll(h)
    held = hold(monkeypatch, h.bot.services.part(PollLifecycle), "vote")  # pressed: not written yet
    pressing = asyncio.create_task(h.click(poll, button_ids(poll)[0], user=USER_ID))
    await held.reached()
    await forget_before(h, held)
    assert await answer(await pressing) == VOTE_FORGOTTEN
    await h.at_rest()
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


async def test_a_forget_while_a_vote_is_counted_waits_then_deletes_it(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    poll = await bobs_poll(h)
    held = hold(monkeypatch, h.bot.services.part(PollLifecycle).polls, "vote")
    pressing = asyncio.create_task(h.click(poll, button_ids(poll)[0], user=USER_ID))
    await held.reached()
    await forget_during(h, held)
    await (await pressing).response()
    await h.at_rest()
    assert held.order == ["written", "forgotten"]
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


# -- what a person writes about themselves (/remember, /me set) and the speech calls made for them


def hold_first(monkeypatch: pytest.MonkeyPatch, owner: object, method: str) -> Held:
    """As :func:`hold`, but only the first call is held (later ones, the forget's own, go on)."""
    held = Held()
    original = getattr(owner, method)

    async def holding(*args: Any, **kwargs: Any) -> Any:
        if not held.entered.is_set():
            held.entered.set()
            await held.released.wait()
            result = await original(*args, **kwargs)
            held.order.append("written")
            return result
        return await original(*args, **kwargs)

    monkeypatch.setattr(owner, method, holding)
    return held


NOTE = "I keep a lighthouse key under the mat"


async def test_a_forget_between_remembers_awaits_means_nothing_is_kept(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """/remember reads their user row (their memory choice), then writes: a /forget_me that runs in
    between leaves neither a user row nor the memory, and they are told nothing was kept."""
    h = harness
    held = hold_first(monkeypatch, h.store.people, "get_user")
    asked = await h.slash("remember", [{"name": "memory", "type": 3, "value": NOTE}], dm=True)
    await held.reached()
    await forget_before(h, held)
    told = await asked.message()
    assert "kept nothing" in told["content"]
    await h.at_rest()
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


async def test_a_forget_while_remember_writes_waits_then_deletes_it(harness: Harness,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    held = hold(monkeypatch, h.store.memories, "add_core_memory")
    asked = await h.slash("remember", [{"name": "memory", "type": 3, "value": NOTE}], dm=True)
    await held.reached()
    await forget_during(h, held)
    await asked.message()
    await h.at_rest()
    assert held.order == ["written", "forgotten"]
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


async def test_a_forget_while_me_set_writes_waits_then_deletes_it(harness: Harness,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    held = hold(monkeypatch, h.store.profiles, "set")
    asked = await h.slash("me", [{"type": 1, "name": "set", "options": opts(about=NOTE)}], dm=True)
    await held.reached()
    await forget_during(h, held)
    await asked.message()
    await h.at_rest()
    assert held.order == ["written", "forgotten"]
    assert not await h.store.profiles.get(USER_ID)  # an empty profile: nothing set
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


async def test_a_forget_while_a_voice_message_is_heard_leaves_no_usage_row_of_theirs(
        make_harness: MakeHarness) -> None:
    """The transcription's usage row is written once the speech server answers: a /forget_me that began
    while it listened leaves the call's cost in the totals but not their id on it, and the message it
    heard is neither logged again nor answered."""
    from tests.test_voice import OGG

    h = await make_harness(stt_backend="openai")
    hearing = Held()
    h.openai.transcribe_gate = hearing.released
    sent = await h.discord.voice_message(USER_ID, OGG)
    await asyncio.wait_for(h.openai.transcribing.wait(), EVENT_WAIT)
    await forget_during(h, hearing)
    await h.at_rest()
    assert reply_requests(h) == [] and bot_posts(h, int(sent["channel_id"])) == []
    assert await api_calls(h.store, user_id=USER_ID) == []
    assert await h.store.privacy.rows_about_user(USER_ID, [int(sent["channel_id"])]) == {}
    assert [c.purpose for c in await api_calls(h.store) if c.purpose == "transcription"] == ["transcription"]
