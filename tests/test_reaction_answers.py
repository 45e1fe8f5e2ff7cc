"""Answers to correction reactions, over the wire: where a place asks for it (``/bot corrections on``; in a DM
the ``correction_answers`` setting), a 👎 on one of the character's replies gets one short reply to that
reply, written through the unprompted path (the request carries the reacted reply and the cue in the
``<state>``), once per message, at most ``correction_answers_per_hour`` a channel, and the next ordinary reply
is not told of it again. Switched off, a reaction is never answered (tests/test_reactions_felt.py)."""

from __future__ import annotations

from typing import Any

from bot.features.corrections import CorrectionAnswers
from tests.fakes.claude_server import Recorded
from tests.harness import USER2_ID, USER_ID, Harness, MakeHarness, bot_posts, check, eventually, exchange
from tests.test_feelings_in_context import Clock, afternoon, dm, set_clock
from tests.test_reactions_felt import CUE, FakeClaudeText, felt, react

MODEL = "claude-test-default"


def answers(h: Harness) -> CorrectionAnswers:
    """The feature's answers, as the reactions felt hand each correction to them."""
    assert h.bot is not None
    answering = h.bot.services.alive.felt.answers
    assert isinstance(answering, CorrectionAnswers)
    return answering


async def start(make_harness: MakeHarness, **settings: Any) -> Harness:
    h = await make_harness(timezone="UTC", **settings)
    set_clock(h, Clock(afternoon()))
    felt(h).delay = 0.01
    return h


async def corrections(h: Harness, state: str) -> str:
    options = [{"type": 3, "name": "state", "value": state}]
    answer = await (await h.slash("bot", [{"type": 1, "name": "corrections", "options": options}],
                                  user=h.admin_id)).message()
    return str(answer["content"])


async def thumbs_down(h: Harness, message: dict[str, Any], *, user: int = USER_ID) -> None:
    """A 👎 on ``message``, kept, and whatever answer it got posted."""
    await react(h, message, "👎", user=user)
    await answers(h).settled()


def answer_requests(h: Harness) -> list[Recorded]:
    return [r for r in h.claude.requests if "<reacted_reply" in h.claude.all_text(r)]


async def test_switched_off_a_correction_gets_no_answer_of_its_own(make_harness: MakeHarness) -> None:
    h = await start(make_harness)
    reply = await exchange(h, "finn, what tea is good for a cold?", 1)
    requests, posts = len(h.claude.requests), len(bot_posts(h))
    await thumbs_down(h, reply)
    assert len(h.claude.requests) == requests and len(bot_posts(h)) == posts
    assert answers(h).answered == 0


async def test_switched_on_a_thumbs_down_gets_one_answer_replying_to_the_reacted_message(
        make_harness: MakeHarness) -> None:
    h = await start(make_harness)
    assert "Corrections is **on**" in await corrections(h, "on")
    h.claude.script("Nettle tea, it was a guess.", model=MODEL)
    reply = await exchange(h, "finn, what tea is good for a cold?", 1)
    await exchange(h, "and for a cough?", 2, user=USER2_ID)  # bob is remembered too
    h.claude.script("You're right, I got that wrong: ginger and honey, not nettle.", model=MODEL)
    await thumbs_down(h, reply)
    [request] = answer_requests(h)
    text = h.claude.all_text(request)
    assert "Nettle tea, it was a guess." in text.split("<reacted_reply")[1]  # the reacted reply, quoted
    assert f"alice {CUE}" in text and "<state>" in text.split(CUE)[0]  # the cue, in the fenced state
    answer = bot_posts(h)[-1]
    assert answer["content"].startswith("You're right, I got that wrong")
    assert answer["message_reference"]["message_id"] == reply["id"]  # a reply to the reacted message

    await thumbs_down(h, reply)  # the same again: taken back first by Discord, so a second add
    await thumbs_down(h, reply, user=USER2_ID)  # someone else's on the same message
    assert len(answer_requests(h)) == 1 and answers(h).answered == 1  # one answer per message

    await exchange(h, "ok, thanks finn", 4)
    assert CUE not in FakeClaudeText.of(h)  # answered already: the next reply does not acknowledge again


async def test_a_flood_of_corrections_costs_at_most_the_channels_cap(make_harness: MakeHarness) -> None:
    h = await start(make_harness, correction_answers_per_hour=2)
    await corrections(h, "on")
    replies = [await exchange(h, f"finn, question {n}?", n + 1) for n in range(4)]
    for reply in replies:
        for person in range(5):  # several people, on every reply
            await react(h, reply, "👎", user=920_000_000_000_000_000 + person)
    await felt(h).flush()
    await answers(h).settled()
    assert len(answer_requests(h)) == 2 and answers(h).answered == 2  # the cap, whatever the flood


async def test_in_a_dm_the_setting_stands_and_a_failure_answers_in_character(
        make_harness: MakeHarness) -> None:
    h = await start(make_harness, correction_answers=True)
    await dm(h, "what tea is good for a cold?", 1)
    channel = await h.dm_channel_id()
    reply = (await h.replies(channel, 1))[0]
    h.claude.script(status=400, model=MODEL, times=None, match=lambda body: "<reacted_reply" in str(body))
    await thumbs_down(h, reply)
    answer = bot_posts(h, channel)[-1]
    assert answer["id"] != reply["id"] and "my thoughts scattered" in answer["content"]  # the fallback line
    assert answer["message_reference"]["message_id"] == reply["id"]
    await dm(h, "hm", 3)
    assert CUE not in FakeClaudeText.of(h)
    await eventually(check(lambda: answers(h).answered == 1), "one answer")


async def test_an_answer_in_a_channel_shows_no_dm_feeling_and_a_closed_place_gets_none(
        make_harness: MakeHarness) -> None:
    h = await start(make_harness)
    await corrections(h, "on")
    first = await exchange(h, "finn, which kelp is best?", 1)
    second = await exchange(h, "and the oolong?", 2)
    await dm(h, "hi finn", 1)
    await react(h, (await h.replies(await h.dm_channel_id(), 1))[0], "❤️")  # fondness from her DM
    await thumbs_down(h, first)
    [request] = answer_requests(h)
    state = h.claude.all_text(request).split("<state>")[-1].split("</state>")[0]  # the fenced one
    assert f"alice {CUE}" in state and "fond" not in state  # the DM's feeling stays in the DM

    await h.slash("bot", [{"type": 1, "name": "deactivate", "options": []}], user=h.admin_id)
    await answers(h).settled()
    await h.at_rest()  # what the exchanges still ask of the model (off the answer's path) has been asked
    await thumbs_down(h, second)  # the place is closed: the rule gives no permit, no call is made
    await answers(h).settled()
    assert len(answer_requests(h)) == 1 and answers(h).answered == 1
