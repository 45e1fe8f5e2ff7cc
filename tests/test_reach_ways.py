"""The one rule of whom the character may reach (bot/operator/reach.py), proven over the wire way by way: each
way it speaks or listens asks it, and a refusal costs no model call.

- Check-ins: a person blocked (the global ``blocked_users``), or every DM closed (``allow_dms=false``), gets
  none: the round sends "0 of 1", no check-in request reaches Claude, nothing is posted in their DM; lifted,
  the same round sends one.
- Reminders: a DM reminder set before its person was blocked is not delivered (no model call, no post, the
  handler says so and the reminder is closed); one due for a person past their daily token budget goes out
  as the plain fallback line, with no model call for it.
- Voice calls: a member blocked on the server (``/settings set blocked_users``) cannot call the character
  in, and in a call someone else called it into their speech is never sent to speech-to-text while the
  caller's is. They cannot send it out with ``/voice leave`` either; nor can a member who is not in the
  call; the caller can. ``/voice join`` from another voice channel does not pull it out of a call others
  are in; a server admin can move it.
- ``/ask`` is asked in the server it comes from: with ``allow_dms=false`` it is still answered there; a
  blocked person's ``/ask`` is refused to them alone, with no model call.
- A swipe and ``/reroll`` by a person blocked since the answer are refused to them alone, with no model call.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.features.voice.calls import Calls
from database.reminders import reminder_key
from tests.fakes.claude_server import FakeClaude, Reply
from tests.fakes.speech_book import SpeechBook
from tests.fakes.voice_server import client_ssl
from tests.harness import (
    ADMIN_ID,
    GUILD_ID,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    bot_posts,
    check,
    dm_reply,
    ephemeral,
    eventually,
    press,
    reply_requests,
    run_round,
)
from tests.server_support import answer, sub
from tests.test_reminders import set_reminder
from tests.test_swipes import swiped_reply
from tests.voice_support import VOICE_ID, speech

NOT_ALLOWED = "I'm not taking requests from you here."
MODEL = "claude-test-default"
VOTER = "claude-test-voter"
DEN_ID = 900_000_000_000_000_021  # a second voice channel of the server
CAROL_ID = 900_000_000_000_000_103  # a member who is in no call, neither blocked nor an admin
# One exchange of 2,000 input and 200 output tokens: past a daily token budget of 1,000.
BIG = {"input_tokens": 2000, "output_tokens": 200, "cache_creation_input_tokens": 0,
       "cache_read_input_tokens": 0}


async def server_setting(h: Harness, key: str, value: str) -> str:
    """A server admin's ``/settings set key value``."""
    return await answer(await h.slash("settings", sub("set", key=key, value=value), user=ADMIN_ID))


# --------------------------------------------------------------------------- check-ins


def checkin_request(body: dict[str, Any]) -> bool:
    return "asking how they are" in FakeClaude.all_text(body)


def checkins_asked(h: Harness) -> int:
    return sum(1 for r in h.claude.requests if checkin_request(r.body))


async def due_for_a_checkin(h: Harness) -> tuple[int, datetime]:
    """alice turns check-ins on and DMs once: (her DM channel, a day three days on, at noon, when she is
    due)."""
    turned_on = await h.slash("checkin", [{"type": 1, "name": "on", "options": []}])
    assert "check on you" in await turned_on.text()
    await h.dm("hello finn")
    dm = await h.dm_channel_id()
    await h.replies(dm, 1)
    assert h.bot is not None
    await h.bot.in_flight.drain()
    return dm, (datetime.now(UTC) + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)


async def no_checkin_then_one(h: Harness, dm: int, day: datetime, closed: dict[str, str],
                              opened: dict[str, str]) -> None:
    """Restarted with ``closed``: the round sends her nothing, asks Claude nothing; restarted with ``opened``:
    the same round sends her one."""
    await h.restart(**closed)
    assert await run_round(h, "checkins", day) == "0 of 1 check-in(s) sent"
    assert checkins_asked(h) == 0
    await h.settled()
    assert len(bot_posts(h, dm)) == 1  # the answer to her "hello finn", nothing since

    await h.restart(**opened)  # control: the same round, the way open
    h.claude.script("Alice! The tide missed you.", match=checkin_request)
    assert await run_round(h, "checkins", day + timedelta(hours=1)) == "1 of 1 check-in(s) sent"
    assert checkins_asked(h) == 1
    assert (await h.replies(dm, 2))[1]["content"] == "Alice! The tide missed you."


async def test_a_blocked_person_gets_no_check_in(make_harness: MakeHarness) -> None:
    h = await make_harness(checkin_after_days="2", timezone="UTC", quiet_hours="23-7")
    dm, day = await due_for_a_checkin(h)
    await no_checkin_then_one(h, dm, day, {"blocked_users": str(USER_ID)}, {"blocked_users": ""})


async def test_with_dms_closed_no_check_in_is_sent(make_harness: MakeHarness) -> None:
    h = await make_harness(checkin_after_days="2", timezone="UTC", quiet_hours="23-7")
    dm, day = await due_for_a_checkin(h)
    await no_checkin_then_one(h, dm, day, {"allow_dms": "false"}, {"allow_dms": "true"})


# --------------------------------------------------------------------------- reminders


async def dm_reminder(h: Harness, usage: dict[str, int] | None = None) -> tuple[int, Any]:
    """alice asks in her DM to be reminded to stretch (each request of the exchange costing ``usage``): (her
    DM channel, the reminder's timer)."""
    h.claude.script(Reply(tools=set_reminder(in_minutes=30)), times=2, usage=usage)
    sent = await h.dm("remind me in half an hour to stretch")
    dm = int(sent["channel_id"])
    assert (await h.replies(dm))[0]["content"] == "Will do, I'll nudge you!"
    [row] = await h.store.reminders.open_for(USER_ID)
    return dm, await h.store.timers.get(reminder_key(row.id))


async def test_a_reminder_set_before_a_block_is_not_delivered_after_it(make_harness: MakeHarness) -> None:
    h = await make_harness()
    dm, timer = await dm_reminder(h)
    await h.restart(blocked_users=str(USER_ID))
    await h.bot.in_flight.drain()
    asked = len(h.claude.requests)
    result = await h.bot.services.timers.handlers["reminder"](timer)
    assert result.startswith(f"reminder {timer.payload['reminder']} not delivered"), result
    assert len(h.claude.requests) == asked  # no model call
    await h.settled()
    assert [m["content"] for m in bot_posts(h, dm)] == ["Will do, I'll nudge you!"]  # no post
    assert await h.store.reminders.open_for(USER_ID) == []  # closed


async def test_a_reminder_past_the_daily_token_budget_is_the_plain_line_with_no_model_call(
        make_harness: MakeHarness) -> None:
    h = await make_harness(daily_token_budget="1000")
    dm, timer = await dm_reminder(h, BIG)  # the exchange that set it spent past the budget
    assert "all talked out" in await dm_reply(h, "thanks!", 2)
    await h.bot.in_flight.drain()
    asked = len(h.claude.requests)
    result = await h.bot.services.timers.handlers["reminder"](timer)
    assert result == f"reminder {timer.payload['reminder']} delivered", result
    assert len(h.claude.requests) == asked  # no model call for it
    assert bot_posts(h, dm)[-1]["content"] == "alice, you asked me to remind you: stretch"


# --------------------------------------------------------------------------- voice calls


VoiceStart = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def voice_start(db_url: str, tmp_path: Path) -> AsyncIterator[VoiceStart]:
    """The usual world plus two voice channels (Lounge, Den) and carol, a member; a voice server without
    DAVE; speech-to-text on the fake OpenAI; voice channels on."""
    made: list[Harness] = []

    async def make() -> Harness:
        h = Harness(db_url=db_url, tmp_path=tmp_path,
                    config={"stt_backend": "openai", "voice_channels": "true"},
                    bot_options={"connector": aiohttp.TCPConnector(ssl=client_ssl())})
        made.append(h)
        await h.start_world()
        h.discord.add_voice_channel(GUILD_ID, VOICE_ID, "Lounge")
        h.discord.add_voice_channel(GUILD_ID, DEN_ID, "Den")
        h.discord.add_user(CAROL_ID, "carol")
        h.discord.add_member(GUILD_ID, CAROL_ID)
        await h.discord.start_voice(dave=False, require_dave=False)
        await h.start_bot()
        return h

    yield make
    for h in made:
        await h.close()


async def voice_command(h: Harness, sub_: str, *, user: int = USER_ID) -> str:
    ix = await h.slash("voice", [{"name": sub_, "type": 1, "options": []}], user=user)
    return str((await ephemeral(ix))["content"])


def in_call(h: Harness) -> int | None:
    """The voice channel of the character's call, as the bot holds it (None: none), after checking the fake
    Discord agrees."""
    assert h.bot is not None and h.bot.user is not None
    call = h.bot.services.part(Calls).current(GUILD_ID)
    channel = call.channel_id if call is not None else None
    assert h.discord.in_voice(GUILD_ID, h.bot.user.id) == channel
    return channel


ALICE_SAYS = "Finn, what tea would you make me?"
BOB_SAYS = "Carol, pass me the biscuits please."


async def test_a_blocked_member_cannot_call_it_in_and_is_not_heard_in_a_call(
        voice_start: VoiceStart, caplog: pytest.LogCaptureFixture) -> None:
    h = await voice_start()
    voice = h.discord.voice
    assert voice is not None
    h.openai.speech_book = book = SpeechBook()
    for line in (ALICE_SAYS, BOB_SAYS):
        book.learn(line, speech(line))
    h.claude.script("no", model=VOTER, times=None)
    h.claude.script("Chamomile.", model=MODEL)
    assert f"<@{USER2_ID}>" in await server_setting(h, "blocked_users", f"<@{USER2_ID}>")

    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER2_ID)
    assert await voice_command(h, "join", user=USER2_ID) == NOT_ALLOWED
    assert in_call(h) is None

    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    assert "in your voice channel" in await voice_command(h, "join")
    assert in_call(h) == VOICE_ID
    caplog.set_level(logging.DEBUG, logger="bot.discord.voicechat.calls")
    await voice.speak(USER2_ID, speech(BOB_SAYS))
    await eventually(check(lambda: [r for r in caplog.records
                                    if f"voice of user {USER2_ID}" in r.getMessage()
                                    and "not heard" in r.getMessage()]), "bob's speech dropped unheard")
    assert h.openai.heard == []
    await voice.speak(USER_ID, speech(ALICE_SAYS))
    await voice.wait_for(lambda _: h.openai.heard, what="alice's transcription request")
    [heard] = h.openai.heard
    assert book.recognize(heard.data) == ALICE_SAYS
    [posted] = await h.discord.wait_for_messages(VOICE_ID, 1)
    assert posted["content"] == "Chamomile."
    await h.bot.in_flight.drain()
    assert len(h.openai.heard) == 1  # bob's words never left the process


async def test_who_may_send_it_out_of_a_call_or_pull_it_into_another(voice_start: VoiceStart) -> None:
    h = await voice_start()
    await server_setting(h, "blocked_users", f"<@{USER2_ID}>")
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
    assert "in your voice channel" in await voice_command(h, "join")
    await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER2_ID)  # bob, blocked, in the call

    assert await voice_command(h, "leave", user=USER2_ID) == NOT_ALLOWED
    assert in_call(h) == VOICE_ID
    assert "Only someone in the call" in await voice_command(h, "leave", user=CAROL_ID)  # not in it
    assert in_call(h) == VOICE_ID
    assert await voice_command(h, "leave") == "I left the voice channel."  # alice, who is in it
    await h.discord.wait_for(lambda _: in_call(h) is None, what="the bot leaving the call")

    assert "in your voice channel" in await voice_command(h, "join")  # alice calls it in again
    await server_setting(h, "blocked_users", "empty")  # bob may talk to it now
    await h.discord.member_leaves_voice(GUILD_ID, USER2_ID)
    await h.discord.member_joins_voice(GUILD_ID, DEN_ID, USER2_ID)
    said = await voice_command(h, "join", user=USER2_ID)
    assert "in a call with others" in said and f"<#{VOICE_ID}>" in said
    assert in_call(h) == VOICE_ID  # not pulled away from alice
    await h.discord.member_joins_voice(GUILD_ID, DEN_ID, ADMIN_ID)
    assert "in your voice channel" in await voice_command(h, "join", user=ADMIN_ID)  # an admin moves it
    await h.discord.wait_for(lambda _: in_call(h) == DEN_ID, what="the bot in the Den")


# --------------------------------------------------------------------------- /ask


async def test_ask_in_a_server_is_answered_with_dms_closed_and_refused_to_a_blocked_person(
        make_harness: MakeHarness) -> None:
    h = await make_harness(allow_dms="false", blocked_users=str(USER2_ID))
    h.claude.script("Between us: teal.", model=MODEL)
    ask = await h.slash("ask", [{"name": "message", "type": 3, "value": "which glaze for the mug?"}])
    assert "Between us: teal." in (await ask.message())["content"]
    asked = len(h.claude.requests)
    refused = await h.slash("ask", [{"name": "message", "type": 3, "value": "and for the jug?"}],
                            user=USER2_ID)
    assert (await ephemeral(refused))["content"] == NOT_ALLOWED
    await h.at_rest()
    assert len(h.claude.requests) == asked  # no model call


# --------------------------------------------------------------------------- swipes


async def test_a_swipe_or_reroll_by_a_person_blocked_since_is_refused(make_harness: MakeHarness) -> None:
    h = await make_harness()
    reply = await swiped_reply(h)
    await server_setting(h, "blocked_users", f"<@{USER_ID}>")
    asked = len(reply_requests(h))
    refusal = await ephemeral(await press(h, reply, "new"))
    assert refusal["content"] == NOT_ALLOWED
    refusal = await ephemeral(await h.slash("reroll"))
    assert refusal["content"] == NOT_ALLOWED
    await h.at_rest()
    assert len(reply_requests(h)) == asked and reply["content"] == "Once."
