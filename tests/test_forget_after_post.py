"""/forget_me while a feature writes about the person outside the exchange's own storing: just after a reply
to them is posted (its swipes opened, the reply said again as a voice message) or while it is written (a
reminder its tool sets), over the wire. A forget before the write means nothing is written; one that begins
during it waits for it, then deletes what it wrote with the rest (database/privacy.py ``writing_about``).
The exchange's own storing: tests/test_forget_in_flight.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.features.reminders.book import FORGOTTEN, ReminderBook
from bot.features.swipes import ReplySwipes
from bot.features.voice.messages import VoiceMessageReplies
from database.reminders import NewReminder
from database.swipes import SwipeRecord
from tests.dbtools import api_calls, swipe_rows, timers_of_kind
from tests.fakes import EVENT_WAIT
from tests.fakes.claude_server import Reply
from tests.harness import CHANNEL_ID, USER_ID, Harness, MakeHarness, buttons, check, eventually
from tests.test_memory_commands import forget
from tests.test_reminders import set_reminder
from tests.test_voice import needs_audio_tools, speech_requests, voice_posts

MODEL = "claude-test-default"


async def forget_begun(h: Harness) -> None:
    await eventually(check(lambda: h.store.privacy.forgotten_at(USER_ID) is not None), "the forget to begin")


async def test_a_forget_before_a_replys_swipes_open_leaves_none(harness: Harness,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    swipes = h.bot.services.part(ReplySwipes)
    entered, release = asyncio.Event(), asyncio.Event()
    offer = swipes.offer

    async def held(*args: Any, **kwargs: Any) -> tuple[list[SwipeRecord], SwipeRecord | None]:
        entered.set()  # posted and stored: its swipes not offered yet
        await release.wait()
        return await offer(*args, **kwargs)

    monkeypatch.setattr(swipes, "offer", held)
    h.claude.script("Once upon a time.", model=MODEL)
    await h.say("tell me a story", mention=True)
    [reply] = await h.replies(CHANNEL_ID)
    await asyncio.wait_for(entered.wait(), EVENT_WAIT)
    await forget(h)  # nothing of theirs is being written: it ends at once
    release.set()
    await h.at_rest()
    assert await swipe_rows(h.store, USER_ID) == []
    assert await h.store.privacy.rows_about_user(USER_ID) == {}
    # it went out with its buttons on: not offered swipes, they come off
    await h.discord.wait_for(lambda _: not buttons(reply), EVENT_WAIT, what="the buttons taken off")


async def test_a_forget_while_a_replys_swipes_open_waits_then_deletes_them(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    entered, release = asyncio.Event(), asyncio.Event()
    order: list[str] = []
    opened = h.store.swipes.open

    async def held(record: SwipeRecord) -> None:
        entered.set()
        await release.wait()
        await opened(record)
        order.append("written")

    monkeypatch.setattr(h.store.swipes, "open", held)
    h.claude.script("Once upon a time.", model=MODEL)
    await h.say("tell me a story", mention=True)
    await h.replies(CHANNEL_ID)
    await asyncio.wait_for(entered.wait(), EVENT_WAIT)
    forgetting = asyncio.create_task(forget(h))
    forgetting.add_done_callback(lambda _: order.append("forgotten"))
    await forget_begun(h)
    release.set()
    await forgetting
    await h.at_rest()
    assert order == ["written", "forgotten"]  # it waited for the write, then deleted it
    assert await swipe_rows(h.store, USER_ID) == []
    assert await h.store.privacy.rows_about_user(USER_ID) == {}


@needs_audio_tools
async def test_a_forget_before_a_voice_reply_is_spoken_means_none_is(make_harness: MakeHarness,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    h = await make_harness(voice_replies="always", tts_backend="openai")
    voice = h.bot.services.part(VoiceMessageReplies)
    entered, release = asyncio.Event(), asyncio.Event()
    say_again = voice.say_again

    async def held(*args: Any, **kwargs: Any) -> int | None:
        entered.set()
        await release.wait()
        return await say_again(*args, **kwargs)

    monkeypatch.setattr(voice, "say_again", held)
    sent = await h.dm("hello")
    dm = int(sent["channel_id"])
    await h.replies(dm)
    await asyncio.wait_for(entered.wait(), EVENT_WAIT)
    await forget(h)
    release.set()
    await h.at_rest()
    assert speech_requests(h) == [] and voice_posts(h, dm) == []  # not spoken, not paid for
    assert await h.store.privacy.rows_about_user(USER_ID, [dm]) == {}


@needs_audio_tools
async def test_a_forget_while_a_voice_reply_is_spoken_waits_then_deletes_it(
        make_harness: MakeHarness) -> None:
    h = await make_harness(voice_replies="always", tts_backend="openai")
    h.openai.speech_gate = asyncio.Event()
    sent = await h.dm("hello")
    dm = int(sent["channel_id"])
    await h.replies(dm)
    await asyncio.wait_for(h.openai.speaking.wait(), EVENT_WAIT)
    forgetting = asyncio.create_task(forget(h))
    await forget_begun(h)
    h.openai.speech_gate.set()
    await forgetting
    await h.at_rest()
    assert len(voice_posts(h, dm)) == 1  # said to them all the same
    # Its usage row and the voice message in their DMs (logged or on its way) went with the rest.
    assert await api_calls(h.store, user_id=USER_ID) == []
    assert await h.store.privacy.rows_about_user(USER_ID, [dm]) == {}


async def test_a_forget_before_a_reminder_is_set_means_none_is(make_harness: MakeHarness,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    h = await make_harness()
    book = h.bot.services.part(ReminderBook)
    entered, release = asyncio.Event(), asyncio.Event()
    setting = book.set

    async def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()  # the model asked for it: not written yet
        await release.wait()
        return await setting(*args, **kwargs)

    monkeypatch.setattr(book, "set", held)
    tool = set_reminder(in_minutes=30)
    h.claude.script(Reply(tools=tool), times=2)
    sent = await h.dm("remind me in half an hour to stretch")
    await asyncio.wait_for(entered.wait(), EVENT_WAIT)
    await forget(h)
    release.set()
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
    entered, release = asyncio.Event(), asyncio.Event()
    order: list[str] = []
    adding = h.store.reminders.add

    async def held(reminder: NewReminder, *args: Any, **kwargs: Any) -> int:
        entered.set()
        await release.wait()
        written = await adding(reminder, *args, **kwargs)
        order.append("written")
        return written

    monkeypatch.setattr(h.store.reminders, "add", held)
    h.claude.script(Reply(tools=set_reminder(in_minutes=30)), times=2)
    sent = await h.dm("remind me in half an hour to stretch")
    await asyncio.wait_for(entered.wait(), EVENT_WAIT)
    forgetting = asyncio.create_task(forget(h))
    forgetting.add_done_callback(lambda _: order.append("forgotten"))
    await forget_begun(h)
    release.set()
    await forgetting
    await h.replies(int(sent["channel_id"]))
    await h.at_rest()
    assert order == ["written", "forgotten"]
    assert await h.store.reminders.open_for(USER_ID) == []
    assert await timers_of_kind(h.store, "reminder") == []
    assert await h.store.privacy.rows_about_user(USER_ID, [int(sent["channel_id"])]) == {}
