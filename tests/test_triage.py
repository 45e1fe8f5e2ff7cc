"""Fewer votes, same judgement (bot/reply/deciding/triage.py) and intent routing
(bot/reply/deciding/intent.py), proven over
the wire: the votes and replies that reach the fake Claude, the decisions mirrored to the log channel, the
log rows.

Unit tests of the pure parts (the acknowledgement and command rules, the classifier, the window) sit beside
them at the end."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.core.attachments import Attachment, Carried
from bot.core.lines import Line
from bot.core.stages import Decision, Incoming
from bot.reply.deciding.intent import Intent, classify
from bot.reply.deciding.triage import (
    bot_command,
    is_acknowledgement,
    is_laughter,
    is_question,
    parse_prefixes,
)
from bot.reply.deciding.voting import BurstWindow
from tests.dbtools import logged_count
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    LOG_CHANNEL_ID,
    USER2_ID,
    USER_ID,
    AnnouncedDecisions,
    Harness,
    MakeHarness,
    check,
    eventually,
)
from tests.place_support import place

VOTER, DEFAULT, CODE = "claude-test-voter", "claude-test-default", "claude-test-code"


def votes(h: Harness) -> list[Any]:
    return h.claude.requests_for(VOTER)


def replies(h: Harness) -> list[Any]:
    return [r for r in h.claude.requests if r.model != VOTER]


def log_lines(h: Harness) -> list[str]:
    return [m["content"] for m in h.discord.posted(LOG_CHANNEL_ID)]


async def decision_line(h: Harness, said: str) -> str:
    """The decision mirrored to the log channel (verbose mode) for the message that said ``said``."""
    found = await h.discord.wait_for(lambda _: [t for t in log_lines(h) if f"“{said}”" in t],
                                     what=f"the decision on {said!r}")
    return str(found[0])


# --------------------------------------------------------------------------- the priority filter


async def test_each_filter_reason_skips_the_vote_and_is_logged(make_harness: MakeHarness) -> None:
    h = await make_harness(verbose_logging="true")
    bob_says = await h.say("k", user=USER2_ID)  # a bare acknowledgement; also what alice replies to below
    await h.say("lol")
    await h.say("👍 <:pog:123456789012345678> :thumbsup:")
    await h.discord.user_message(CHANNEL_ID, USER_ID, f"<@{USER2_ID}> did you see the tide chart?",
                                 mentions=[USER2_ID])
    await h.say("what time is the tide tonight?", reply_to=int(bob_says["id"]))
    await h.say("!play sea shanties")
    await h.say(";;skip")
    await h.discord.webhook_message(CHANNEL_ID, "New video: how to read tide charts?", creator=ADMIN_ID)

    assert "stay quiet (filtered: a bare acknowledgement)" in await decision_line(h, "k")
    assert "filtered: a bare acknowledgement" in await decision_line(h, "lol")
    emoji = "👍 <:pog:123456789012345678> :thumbsup:"
    assert "filtered: a bare acknowledgement" in await decision_line(h, emoji)
    assert "filtered: @mentions someone else" in await decision_line(h, "@bob did you see the tide chart?")
    assert "filtered: a reply to someone else" in await decision_line(h, "what time is the tide tonight?")
    assert "filtered: another bot's command (!)" in await decision_line(h, "!play sea shanties")
    assert "filtered: another bot's command (;;)" in await decision_line(h, ";;skip")
    hooked = await decision_line(h, "New video: how to read tide charts?")
    assert "filtered: a webhook I do not know" in hooked
    assert votes(h) == [] and replies(h) == []
    logged = await h.store.log.recent_messages(CHANNEL_ID, limit=50)
    assert len(logged) == 8  # every skipped message is still in the log

    # Addressed messages are never filtered, however they look.
    await h.say("lol", mention=True)
    await h.replies(CHANNEL_ID, 1)
    await h.say("!play Finn's favourite song")
    await h.replies(CHANNEL_ID, 2)
    await h.dm("ok")
    await h.replies(await h.dm_channel_id(), 1)  # (a first DM may be the character's greeting, no request)
    assert votes(h) == [] and len(replies(h)) >= 2


async def test_other_bot_prefixes_are_configurable(make_harness: MakeHarness) -> None:
    h = await make_harness(other_bot_prefixes=">>", verbose_logging="true")
    h.claude.script("no", model=VOTER, times=3)
    await h.say("!play is what I typed yesterday, does that ring a bell?")
    await h.say(">>rank")
    assert "filtered: another bot's command (>>)" in await decision_line(h, ">>rank")
    await h.claude.wait_for_requests(3, model=VOTER)  # "!" is not a prefix here: that one was judged


async def test_a_question_to_the_room_in_a_quiet_channel_gets_its_vote_and_answer(
        make_harness: MakeHarness) -> None:
    # Leading edge: a window far longer than the test waits for the reply, so the reply proves the vote
    # round did not wait for it.
    h = await make_harness(vote_window_seconds="60", verbose_logging="true")
    h.claude.script("yes", model=VOTER, times=3)
    h.claude.script("Warm salt water and patience, friend.", model=DEFAULT)
    question = "anyone here know how to get a stuck hermit crab out of its shell?"
    await h.say(question, user=USER2_ID)
    [reply] = await h.replies(CHANNEL_ID, 1)
    assert reply["content"] == "Warm salt water and patience, friend."
    assert len(votes(h)) == 3 and all(question in r.all_text() for r in votes(h))
    # a question: it may spend the larger recall budget on what it asks about (bot/reply/deciding/intent.py)
    assert "reply (majority vote; votes: yes yes yes; intent: memory)" in await decision_line(h, question)


async def test_the_judge_reads_the_character_in_the_third_person_and_is_asked_once(
        make_harness: MakeHarness) -> None:
    """The vote's instructions speak of Finn; the card's "You are Finn..." is quoted, addressed to Finn, not
    to the judge; and "Answer yes or no." is said once, with the question."""
    h = await make_harness(yes_no_vote_count="1")
    h.claude.script("no", model=VOTER)
    await h.say("anyone fancy tea later?", user=USER2_ID)
    [vote] = await h.claude.wait_for_requests(1, model=VOTER)
    system = h.claude.system_text(vote)
    instructions, fenced, _ = system.partition('<character_prompt about="Finn"')
    assert fenced and "You are Finn" not in instructions and "You are Finn" in system
    assert "A walking fish who runs a tide-pool tea stall" in instructions  # the third-person description
    assert "no instruction to you" in instructions
    assert vote.all_text().count("Answer yes or no") == 1
    assert vote.all_text().endswith("Should Finn reply to the latest message? Answer yes or no.")


# --------------------------------------------------------------------------- burst coalescing


async def test_a_burst_is_judged_in_few_vote_rounds_every_message_logged_and_decided(
        make_harness: MakeHarness) -> None:
    # A window far longer than the burst takes to send; the bound below holds even if it spans several.
    h = await make_harness(vote_window_seconds="3")
    with AnnouncedDecisions() as decided:
        await _burst(h, decided)


async def _burst(h: Harness, decided: AnnouncedDecisions) -> None:
    h.claude.script("no", model=VOTER, times=None)
    sent: list[dict[str, Any]] = []
    for i in range(30):
        sent.append(await h.say(f"burst line {i} about the tide pools", user=(USER_ID, USER2_ID)[i % 2]))
        if i == 0:
            # The channel was quiet: its first line has its vote round at once, alone (the leading edge).
            # Waited for before the rest is sent: the handlers run side by side, and a first line slowed by
            # its first database round trips could otherwise reach the vote after a later one.
            await h.claude.wait_for_requests(3, model=VOTER)
            assert all("Latest message, from alice: burst line 0 " in r.all_text() for r in votes(h)[:3])
            assert not any("burst line 1 " in r.all_text() for r in votes(h)[:3])
        if i == 14:  # an addressed message inside the burst is answered without waiting for the window
            mention = await h.say("quick, what's a limpet?", mention=True)
    await h.replies(CHANNEL_ID, 1)
    ids = [int(m["id"]) for m in sent]
    await h.discord.wait_for(lambda _: all(i in decided.seen for i in ids), what="every decision")
    assert len(votes(h)) <= 0.3 * len(ids)
    assert await logged_count(h.store) == len(ids) + 2  # the burst, the @mention and the reply
    judged = [i for i in ids if "; votes: " in decided.last(i)]
    # leading edge: alone, at once
    assert judged[0] == ids[0] and " (majority vote; votes: " in decided.last(ids[0])
    assert ids[-1] in judged  # trailing edge: the latest message of the burst is the one voted on
    for i in ids:
        if i not in judged:
            assert decided.last(i).startswith("stay quiet (coalesced into ")
    latest_vote = votes(h)[-1].all_text()
    assert "burst line 28 about the tide pools" in latest_vote  # the others are shown as context
    assert "Latest message, from bob: burst line 29" in latest_vote and "join in now" in latest_vote
    assert int(mention["id"]) in decided.seen and decided.last(int(mention["id"])).startswith("reply (")


# --------------------------------------------------------------------------- intent routing


async def test_a_code_message_is_answered_by_code_model(make_harness: MakeHarness) -> None:
    h = await make_harness(code_model=CODE, verbose_logging="true")
    await h.dm("why does this fail?\n```python\nprint(1/0)\n```")
    await h.replies(await h.dm_channel_id(), 1)
    await h.dm("good morning, how are the waves?")
    await h.replies(await h.dm_channel_id(), 2)
    await h.say("Traceback (most recent call last):\n  File \"x.py\", line 1\nZeroDivisionError: division",
                mention=True)
    await h.replies(CHANNEL_ID, 1)
    assert [r.model for r in replies(h)] == [CODE, DEFAULT, CODE]
    line = await h.discord.wait_for(lambda _: [t for t in log_lines(h) if "Traceback" in t])
    assert "intent: code" in line[0]


async def test_an_image_is_answered_by_vision_model(make_harness: MakeHarness) -> None:
    h = await make_harness(vision_model="claude-test-vision")
    picture = h.discord.attachment("tidepool.png", content_type="image/png")
    await h.say("what do you make of this?", mention=True, attachments=[picture])
    await h.replies(CHANNEL_ID, 1)
    await h.say("and what about the weather?", mention=True)
    await h.replies(CHANNEL_ID, 2)
    assert [r.model for r in replies(h)] == ["claude-test-vision", DEFAULT]


# --------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize("text", ["lol", "LOOOL", "ok", "k", "kk", "okay", "haha", "hahaha hahaha", "👍",
                                  "😂😂", "<:pog:123456789012345678>", "<a:dance:123456789012345678> lol",
                                  ":thumbsup:", "ty!", "...", "?!", "ok ok ok ok ok",
                                  # the same, in other languages: by shape, with no list of their words
                                  "jajaja", "jajajaj", "genau", "草", "rsrs", "kkkkk", "ㅋㅋㅋ", "хахаха",
                                  "wwww", "555", "ahahah", "gracias!", "ありがとう", "了解",
                                  "감사합니다",
                                  "merci", "спасибо", "dzięki", "tamam", "jaja jaja jajaja"])
def test_acknowledgements(text: str) -> None:
    assert is_acknowledgement(text, card_word=lambda t: "kelp" in t)


@pytest.mark.parametrize("text", ["lol what happened", "ok but how do tides work?", "no idea, anyone?",
                                  "kelp", "5", "", "haha kelp", "¿qué?", "ok？", "genau؟", "wie lange noch",
                                  "今日はいい天気ですね", "jaja pero por qué no vino nadie",
                                  "hablamos mañana en la playa", "Evening, all.", "still here", "sehr gut"])
def test_not_acknowledgements(text: str) -> None:
    assert not is_acknowledgement(text, card_word=lambda t: "kelp" in t)


@pytest.mark.parametrize("text", ["how long?", "¿cuánto?", "どのくらい？", "كم؟", "πόσο\u037e"])
def test_questions_in_any_script(text: str) -> None:
    assert is_question(text)
    assert not is_question("ok; fine")  # a Latin semicolon asks nothing


@pytest.mark.parametrize("word", ["jajaja", "hahah", "rsrs", "kkkk", "ㅋㅋㅋ", "хахаха", "wwww", "555",
                                  "hehe"])
def test_laughter_is_a_syllable_said_over_and_over(word: str) -> None:
    assert is_laughter(word)
    assert not is_laughter("genau") and not is_laughter("aab") and not is_laughter("ha")


def test_bot_commands() -> None:
    prefixes = parse_prefixes("!, ?, $, %, ;;, -")
    assert prefixes[0] == ";;"
    assert bot_command("!play despacito", prefixes) == "!"
    assert bot_command("?rank", prefixes) == "?"
    assert bot_command(";;q", prefixes) == ";;"
    for talk in ("!!!", "$5 for a coffee", "? what", "-_-", "hello!", "anyone?"):
        assert bot_command(talk, prefixes) is None


def _msg(content: str, **extra: Any) -> Incoming:
    return Incoming(message_id=1, author_id=3, author_name="alice", content=content,
                    created_at=datetime.now(UTC), place=place(2, False), **extra)


def test_intents() -> None:
    assert classify(_msg("```js\nconsole.log(1)\n```")) is Intent.CODE
    assert classify(_msg("def f(x):\n    return x.strip()")) is Intent.CODE
    assert classify(_msg("I got KeyError: 'name' when I ran it")) is Intent.CODE
    # a question, in any script, may get the larger recall budget (relevance, not wording, spends it)
    for question in ("Do you remember my cat?", "¿te acuerdas de mi gato?", "Weißt du noch, wie er heißt?",
                     "私の猫を覚えてる？", "هل تتذكر قطتي؟"):
        assert classify(_msg(question)) is Intent.MEMORY, question
    assert classify(_msg("what did I tell you last time about the boat")) is Intent.CASUAL  # no question
    assert classify(_msg("look!", carried=Carried(attachments=(Attachment("cat.PNG", None, 10, "u"),)))) \
        is Intent.IMAGE
    assert classify(_msg("x", carried=Carried(attachments=(Attachment("a", "image/webp", 10, "u"),)))) \
        is Intent.IMAGE
    text_file = Carried(attachments=(Attachment("a.txt", "text/plain", 1, "u"),))
    assert classify(_msg("notes", carried=text_file)) is Intent.CASUAL
    assert classify(_msg("I'm going to import some tea and class it as breakfast")) is Intent.CASUAL


async def test_the_window_judges_a_quiet_channel_at_once_then_the_latest_of_what_follows() -> None:
    judged: list[tuple[int, list[int]]] = []

    async def judge(msg: Incoming, burst: Any) -> Decision:
        judged.append((msg.message_id, [m.message_id for m in burst]))
        return Decision(True, Line("majority vote"), (True,), kind="vote")

    window = BurstWindow(0.05, judge)

    def msg(i: int, channel: int) -> Incoming:
        return Incoming(message_id=i, author_id=1, author_name="a", content="x",
                        created_at=datetime.now(UTC), place=place(channel, False))

    msgs = [msg(i, 7 if i < 5 else 8) for i in range(1, 7)]
    results = await asyncio.gather(*(window.submit(m) for m in msgs))
    # Leading edge: the first of each quiet channel at once, alone; trailing edge: the latest of the rest.
    assert sorted(judged) == [(1, []), (4, [2, 3]), (5, []), (6, [])]
    # Each earlier message of the window is decided as soon as the next one arrives.
    assert [r.reason.english() for r in results] == ["majority vote", "coalesced into 3", "coalesced into 4",
                                           "majority vote", "majority vote", "majority vote"]
    # The trailing round opened another window; once it closes empty, the channel is quiet again and its
    # next message is judged at once.
    await eventually(check(lambda: window.quiet(7)), "channel 7 quiet again")
    judged.clear()
    assert (await window.submit(msg(9, 7))).reason.english() == "majority vote"
    assert judged == [(9, [])]


class WindowTimers:
    """The windows' closes, held (BurstWindow's ``call_later``): the test runs each one, as its timer would,
    when it chooses; the window's length is kept too."""

    def __init__(self) -> None:
        self.due: list[tuple[float, Callable[[], None]]] = []

    def call_later(self, seconds: float, close: Callable[[], None]) -> None:
        self.due.append((seconds, close))

    def close_next(self) -> float:
        """Close the earliest window opened now (its own timer's work); its length."""
        seconds, close = self.due.pop(0)
        close()
        return seconds


async def submitted(window: BurstWindow, msg: Incoming) -> asyncio.Future[Decision]:
    """``window.submit(msg)`` under way: its first step, up to its wait, runs on the loop's next turn."""
    task = asyncio.ensure_future(window.submit(msg))
    await asyncio.sleep(0)
    return task


async def test_a_message_in_an_open_window_waits_for_its_close() -> None:
    """While the window a leading-edge round opened is open, a message is not judged until it closes."""
    leading_judged = asyncio.Event()
    judged: list[int] = []

    async def judge(msg: Incoming, burst: Any) -> Decision:
        judged.append(msg.message_id)
        leading_judged.set()
        return Decision(False, Line("majority vote"), (False,), kind="vote")

    timers = WindowTimers()
    window = BurstWindow(3600, judge, call_later=timers.call_later)  # closed when the test says
    first = Incoming(message_id=1, author_id=1, author_name="a", content="x",
                     created_at=datetime.now(UTC), place=place(7, False))
    assert (await window.submit(first)).reason.english() == "majority vote"
    second = await submitted(window, dataclasses.replace(first, message_id=2))
    await leading_judged.wait()
    assert judged == [1] and not second.done() and not window.quiet(7)
    timers.close_next()  # the window closes: its round judges the message
    assert (await second).reason.english() == "majority vote" and judged == [1, 2]


async def test_vote_rounds_due_together_are_paced_not_capped(make_harness: Callable[..., Awaitable[Any]]
                                                          ) -> None:
    """Rounds due at once start one by one (bot/core/pacing.py), but none waits for another to finish: with
    every answer held at the API, every round still has its calls there (a slow model does not slow the rate
    of rounds a busy server needs)."""
    h: Harness = await make_harness()
    count = h.bot.settings.replies.yes_no_vote_count  # type: ignore[union-attr]
    rounds = 12
    gate = asyncio.Event()
    in_flight = 0
    all_there = asyncio.Event()

    async def responder(body: dict[str, Any]) -> str | None:
        nonlocal in_flight
        if body.get("model") != VOTER:
            return None
        in_flight += 1
        if in_flight == rounds * count:
            all_there.set()
        await gate.wait()
        return "no"

    h.claude.responder = responder
    for n in range(rounds):
        await h.say(f"round {n}: what does everyone make of the tide tables this week?",
                    user=USER_ID if n % 2 else USER2_ID)
    await asyncio.wait_for(all_there.wait(), timeout=60)
    gate.set()
    await h.claude.wait_for_requests(rounds * count, model=VOTER)
    assert len(votes(h)) == rounds * count


class LoopClock:
    """A clock that only sleeping moves, and a loop whose every turn takes ``turn`` seconds while busy."""

    def __init__(self) -> None:
        self.now = 100.0
        self.turn = 0.0  # how long one turn of the loop takes (sleep(0)): 0, a loop that keeps up
        self.quiet_at = float("inf")  # when the loop's queue is worked off (its turns take 0 again)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)
        self.now += seconds if seconds > 0 else self.turn
        if self.now >= self.quiet_at:
            self.turn = 0.0


async def test_the_pacer_spaces_starts_due_together_and_lets_a_lone_one_go_at_once() -> None:
    from bot.core.pacing import Pacer

    clock = LoopClock()
    pacer = Pacer(0.5, clock=lambda: clock.now, sleep=clock.sleep)
    starts: list[float] = []

    async def start() -> None:
        await pacer.turn()
        starts.append(clock.now)

    await asyncio.gather(start(), start(), start())  # due together
    assert starts == [100.0, 100.5, 101.0]  # the first at once, then one per spacing, in line
    clock.now += 10  # quiet for a while
    await start()
    assert starts[-1] == 111.0  # at once


async def test_a_start_waits_while_the_loop_is_behind_but_never_longer_than_its_patience() -> None:
    from bot.core.pacing import Pacer

    clock = LoopClock()
    pacer = Pacer(0.005, patience=0.5, busy=0.001, clock=lambda: clock.now, sleep=clock.sleep)
    await pacer.turn()
    assert clock.now == 100.0  # a loop that keeps up: one turn, no wait
    clock.now += 10
    clock.turn = 0.01  # each turn of the loop takes 10 ms: messages are queued
    began = clock.now
    await pacer.turn()
    assert 0.5 <= clock.now - began <= 0.52  # waited for them, up to its patience, then went anyway
    clock.now += 10
    began = clock.now
    clock.turn, clock.quiet_at = 0.01, began + 0.1  # the queue is worked off after 100 ms
    await pacer.turn()
    assert 0.1 <= clock.now - began < 0.2  # went as soon as the loop kept up again


async def test_an_earlier_message_is_decided_when_the_next_arrives_not_at_the_close() -> None:
    """A busy window's decisions come one by one as messages arrive (not hundreds at each close); a message
    that arrives after a newer one (out of order) is decided at once, into the newer."""
    judged: list[tuple[int, list[int]]] = []

    async def judge(msg: Incoming, burst: Any) -> Decision:
        judged.append((msg.message_id, [m.message_id for m in burst]))
        return Decision(False, Line("majority vote"), (False,), kind="vote")

    timers = WindowTimers()
    window = BurstWindow(3600, judge, call_later=timers.call_later)  # closed when the test says

    def msg(i: int) -> Incoming:
        return Incoming(message_id=i, author_id=1, author_name="a", content="x",
                        created_at=datetime.now(UTC), place=place(7, False))

    assert (await window.submit(msg(10))).reason.english() == "majority vote"  # leading edge
    second = await submitted(window, msg(20))
    assert not second.done()  # the newest: waits for the close
    assert (await window.submit(msg(15))).reason.english() == "coalesced into 20"  # out of order: at once
    third = await submitted(window, msg(30))
    assert (await second).reason.english() == "coalesced into 30"  # decided by the arrival of the next
    assert not third.done() and judged == [(10, [])]
    timers.close_next()  # the window's own timer, called now
    assert (await third).reason.english() == "majority vote"
    assert judged[-1] == (30, [15, 20])  # the earlier ones are the round's context



async def test_a_live_change_of_the_vote_window_applies_to_the_next_window() -> None:
    """vote_window_seconds is read as each window opens (a live reload of config.env), and the pacer reads
    its patience at each start."""
    from bot.core.pacing import Pacer

    seconds = [3600.0]

    async def judge(msg: Incoming, burst: Any) -> Decision:
        return Decision(False, Line("majority vote"), (False,), kind="vote")

    timers = WindowTimers()
    window = BurstWindow(lambda: seconds[0], judge, call_later=timers.call_later)

    def msg(i: int) -> Incoming:
        return Incoming(message_id=i, author_id=1, author_name="a", content="x",
                        created_at=datetime.now(UTC), place=place(7, False))

    await window.submit(msg(1))  # leading edge: a window of an hour opens
    seconds[0] = 0.01  # the operator shortens it
    second = await submitted(window, msg(2))
    assert timers.close_next() == 3600  # the hour's window closes (its timer, called now)
    assert (await second).reason.english() == "majority vote"
    assert [length for length, _ in timers.due] == [0.01]  # the next opened with 10 ms
    third = await submitted(window, msg(3))
    timers.close_next()
    assert (await third).reason.english() == "majority vote"
    seconds[0] = 0.0
    assert (await window.submit(msg(4))).reason.english() == "majority vote"  # 0: judged at once, on its own

    clock = LoopClock()
    patience = [0.5]
    pacer = Pacer(0.005, patience=lambda: patience[0], clock=lambda: clock.now, sleep=clock.sleep)
    clock.turn = 0.01  # a loop that is behind
    patience[0] = 0.0  # vote_window_seconds set to 0: no waiting for it
    began = clock.now
    await pacer.turn()
    assert clock.now == began
