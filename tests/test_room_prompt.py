"""The room and the time in a reply prompt (bot/reply/room.py, bot/reply/transcript.py), read in the requests
the fake Claude receives: why the character speaks, who replied to whom, who is here, and the time between
lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.reply.transcript import DmStamps, history_messages, transcript_messages
from database.records import History, SeenMessage, Turn
from tests.fakes.claude_server import content_text
from tests.harness import CHANNEL_ID, USER2_ID, Clock, MakeHarness, reply_requests

EPOCH_MS = 1_420_070_400_000


def final_turn(request: Any) -> str:
    return content_text(request.body["messages"][-1]["content"])


async def test_an_unaddressed_reply_says_the_character_chose_to_join_in(make_harness: MakeHarness) -> None:
    h = await make_harness(yes_no_vote_count="1")
    bob_says = await h.say("carol are you coming to the festival tonight?", user=USER2_ID)
    await h.handled(bob_says)  # nobody asked Finn: the vote says no
    h.claude.script("yes", model="claude-test-voter")
    await h.say("the lanterns go up at nine", user=USER2_ID)
    await h.replies(CHANNEL_ID, 1)
    final = final_turn(reply_requests(h)[-1])
    assert "[Why you answer: bob did not address you; you chose to join in. Keep it brief and light" in final
    assert "[Here lately: bob" in final
    assert "@mentioned you" not in final
    # addressed by an @mention: said so, with no advice to keep out of it
    await h.say("what do you think, finn?", mention=True)
    await h.replies(CHANNEL_ID, 2)
    final = final_turn(reply_requests(h)[-1])
    assert "[Why you answer: alice @mentioned you]" in final and "chose to join" not in final
    assert "[Here lately: alice, bob]" in final


async def test_a_discord_reply_is_marked_with_whom_it_answers(make_harness: MakeHarness) -> None:
    h = await make_harness(timezone="Europe/Paris")
    Clock(h, datetime(2026, 11, 18, 20, 5, tzinfo=UTC))
    bob_says = await h.say("carol are you coming to the festival tonight?", user=USER2_ID)
    await h.handled(bob_says)
    await h.say("finn, is bob right about the festival?", reply_to=int(bob_says["id"]), mention=True)
    [answer] = await h.replies(CHANNEL_ID, 1)
    final = final_turn(reply_requests(h)[-1])
    assert "alice, replying to bob: @Finn finn, is bob right about the festival?" in final
    said = h.claude.all_text(reply_requests(h)[-1])
    # the transcript's lines carry their time, in the character's zone (21:05 in Paris)
    assert "[Wed 18 Nov, 21:05] bob: carol are you coming to the festival tonight?" in said
    await h.at_rest()
    # the next request: the character's answer records whom it answered, alice's line whom she replied to
    await h.say("and you, finn?", user=USER2_ID, reply_to=int(answer["id"]))
    await h.replies(CHANNEL_ID, 2)
    request = reply_requests(h)[-1]
    said = h.claude.all_text(request)
    assert "[21:05] alice, replying to bob: @Finn finn, is bob right about the festival?" in said
    assert "[your reply to alice:]" not in said  # it answered the line just before: nothing to say
    final = final_turn(request)
    assert "bob, replying to you: and you, finn?" in final
    assert "[Why you answer: bob replied to your message]" in final


async def test_a_two_day_gap_shows_between_two_lines_of_a_dm(make_harness: MakeHarness) -> None:
    h = await make_harness(timezone="Europe/Paris")
    clock = Clock(h, datetime(2026, 11, 18, 21, 30, tzinfo=UTC))
    sent = await h.dm("thank you")
    dm = int(sent["channel_id"])
    await h.replies(dm, 1)
    await h.at_rest()
    clock.at += timedelta(days=2, hours=10)
    await h.dm("morning!")
    await h.replies(dm, 2)
    await h.at_rest()
    clock.at += timedelta(minutes=3)
    await h.dm("slept well?")
    await h.replies(dm, 3)
    first, second, third = reply_requests(h)[-3:]
    assert "alice last wrote 2 days ago" in h.claude.all_text(second)
    history = [content_text(m["content"]) for m in third.body["messages"]]
    assert history[0].endswith("[Wed 18 Nov, 22:30] thank you")  # the first turn says when
    assert "[2 days later, Sat 21 Nov, 08:30] morning!" in history  # the gap, where it happened
    assert third.usage["cache_read_input_tokens"] > 0  # the history, markers and all, read from cache
    assert "slept well?" in history[-1] and "[Sat" not in history[-1]


def test_an_answer_to_an_earlier_line_records_whom_it_answered() -> None:
    at = datetime(2026, 11, 18, 20, 5, tzinfo=UTC)

    def line(i: int, author: int, name: str, text: str, reply_to: int | None = None) -> SeenMessage:
        return SeenMessage(snowflake(at) + i, 10, 5, author, name, author == 1, False, text, at, reply_to)

    lines = [line(1, 2, "alice", "finn, tea?"), line(2, 3, "bob", "me too"),
             line(3, 1, "Finn", "Kettle's on, alice.", reply_to=snowflake(at) + 1),
             line(4, 3, "bob", "and mine?"), line(5, 1, "Finn", "Yours too.", reply_to=snowflake(at) + 4)]
    messages = transcript_messages("[h]", lines, {1}, "Finn", UTC)
    assert [(m["role"], [b["text"] for b in m["content"]]) for m in messages] == [
        ("user", ["[h]", "[Wed 18 Nov, 20:05] alice: finn, tea?", "[20:05] bob: me too",
                  "[your reply to alice:]"]),
        ("assistant", ["Kettle's on, alice."]),
        ("user", ["[20:05] bob: and mine?"]),  # the line just before: whom it answers goes without saying
        ("assistant", ["Yours too."])]


def snowflake(at: datetime) -> int:
    return (int(at.timestamp() * 1000) - EPOCH_MS) << 22


def test_a_check_in_days_later_is_not_merged_into_the_answer_before() -> None:
    start = datetime(2026, 11, 18, 21, 30, tzinfo=UTC)
    turns = [Turn("user", "thank you", discord_message_id=snowflake(start)),
             Turn("assistant", "Any time!", discord_message_id=snowflake(start + timedelta(seconds=5))),
             Turn("assistant", "How did the interview go?",
                  discord_message_id=snowflake(start + timedelta(days=9))),
             Turn("user", "it went great",
                  discord_message_id=snowflake(start + timedelta(days=9, minutes=2)))]
    messages = history_messages(History(1, "", turns), stamps=DmStamps(UTC))
    assert messages == [
        {"role": "user", "content": "[Wed 18 Nov, 21:30] thank you"},
        {"role": "assistant", "content": "Any time!"},
        {"role": "user", "content": "[9 days later, Fri 27 Nov, 21:30: no message from them in between]"},
        {"role": "assistant", "content": "How did the interview go?"},
        {"role": "user", "content": "it went great"}]
    # without the times (no zone known) the turns read as before
    assert [m["role"] for m in history_messages(History(1, "", turns))] == ["user", "assistant", "user"]


async def test_a_persons_time_zone_when_they_gave_it(make_harness: MakeHarness) -> None:
    h = await make_harness(timezone="UTC")  # the character lives on UTC
    Clock(h, datetime(2026, 11, 20, 23, 40, tzinfo=UTC))
    bad = await (await h.slash("memory", [{"type": 1, "name": "timezone", "options": [
        {"type": 3, "name": "zone", "value": "Mars/Olympus"}]}])).message()
    assert "I don't know that time zone" in bad["content"]
    ok = await (await h.slash("memory", [{"type": 1, "name": "timezone", "options": [
        {"type": 3, "name": "zone", "value": "Asia/Tokyo"}]}])).message()
    assert "Asia/Tokyo" in ok["content"]
    sent = await h.dm("still up?")
    await h.replies(int(sent["channel_id"]), 1)
    said = h.claude.all_text(reply_requests(h)[-1])
    assert "11:40 PM where you are (UTC). For alice it is Saturday 8:40 AM (Asia/Tokyo).</now>" in said
    await (await h.slash("memory", [{"type": 1, "name": "timezone", "options": []}])).message()
    await h.dm("and now?")
    await h.replies(int(sent["channel_id"]), 2)
    assert "For alice it is" not in h.claude.all_text(reply_requests(h)[-1])
