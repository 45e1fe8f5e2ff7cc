"""SillyTavern macros in prompts and cards ({{char}}, {{user}}, {{date}}, {{time}}, {{weekday}},
{{idle_duration}}), rendered at each reply without breaking the prompt cache: proven by what the fake Claude
receives when the fake Discord delivers two messages hours apart."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.persona.macros import NEUTRAL_USER, Moment, humanize, now_note, render_macros, time_macros_in
from tests.fakes.claude_server import FakeClaude
from tests.harness import Clock, Harness, reply_requests, said_in_dm
from tests.memory_support import last_user_text

CHARACTER = """\
default_name="Wren"
core_prompt="You are {{ Char }}, a night-market fortune teller. Today is {{date}} ({{WEEKDAY}}) and it is \
{{time}} where you live. {{user}} has been away for {{idle_duration}}; greet them accordingly."
post_history_instructions="Mention the hour ({{Time}}) if {{user}} asks."
first_message="*{{char}} shuffles the cards.* Good {{weekday}}, {{user}}."
"""


async def test_time_macros_render_per_message_and_the_system_prompt_stays_cached(
        make_harness: Callable[..., Awaitable[Harness]], tmp_path: Path) -> None:
    folder = tmp_path / "wren"
    folder.mkdir()
    (folder / "character.env").write_text(CHARACTER)
    # Tokyo has no summer time: 00:15 UTC is 9:15 AM there. Feelings and style off: nothing else in the
    # system prompt moves between the two replies.
    h = await make_harness(character_dir=folder, timezone="Asia/Tokyo", emotions="false",
                           style_mirroring="false", greetings="true")
    clock = Clock(h, datetime(2026, 3, 2, 0, 15, tzinfo=UTC))  # a Monday
    sent = await h.dm("hello there, read my cards")
    channel = int(sent["channel_id"])
    greeting, _ = await h.replies(channel, 2)  # the greeting, posted first, then the answer
    clock.at += timedelta(hours=3, minutes=10)
    await h.dm("what time is it?")
    await h.replies(channel, 3)
    first, second = reply_requests(h)[-2:]

    # The cached prefix: byte-identical although the date, time and idle duration differ.
    assert json.dumps(first.body["system"]) == json.dumps(second.body["system"])
    system = FakeClaude.system_text(first)
    assert ("You are Wren, a night-market fortune teller. Today is [date] ([weekday]) and it is [time] where "
            "you live. alice has been away for [idle duration]") in system  # a DM: {{user}} is the person
    assert "{{" not in FakeClaude.all_text(first) + FakeClaude.all_text(second)

    # The per-message part states the values at each reply.
    one, two = last_user_text(first.body), last_user_text(second.body)
    assert ("[date] = March 2, 2026; [time] = 9:15 AM; [weekday] = Monday; "
            "[idle duration] = none: this is their first message here]") in one
    assert ("[date] = March 2, 2026; [time] = 12:25 PM; [weekday] = Monday; "
            "[idle duration] = 3 hours (since alice last wrote)]") in two
    # The time itself, in the character's zone, whatever the character's texts use
    assert "<now>Monday, 2 March 2026, 9:15 AM where you are (Asia/Tokyo).</now>" in one
    assert ("<now>Monday, 2 March 2026, 12:25 PM where you are (Asia/Tokyo). alice last wrote 3 hours "
            "ago.</now>") in two
    # the message (cached as the history will show it), then the notes and the instructions after it
    assert said_in_dm(first.body) == "hello there, read my cards"
    assert said_in_dm(second.body) == "what time is it?"
    assert two.rstrip().endswith("\n\n[Instructions] Mention the hour ([time]) if alice asks.")
    assert one.index("hello there, read my cards") < one.index("[Instructions]")
    # The greeting, posted with its macros' values, opens the new conversation's prompt as it was shown.
    assert greeting["content"] == "*Wren shuffles the cards.* Good Monday, alice."
    assert first.body["messages"][1] == {"role": "assistant", "content": greeting["content"]}


async def test_a_character_without_time_macros_gets_no_note(harness: Harness) -> None:
    sent = await harness.dm("hello")
    await harness.replies(int(sent["channel_id"]), 1)
    assert "[Now, for" not in last_user_text(reply_requests(harness)[-1].body)


def test_macros_render_case_insensitively_with_values_or_references() -> None:
    moment = Moment(datetime(2026, 11, 23, 21, 5, tzinfo=UTC), timedelta(days=2, hours=1))
    text = "{{CHAR}} to {{ user }}: {{Date}}, {{time}}, {{weekday}}, away {{idle_duration}}. {{other}}"
    assert render_macros(text, char="Wren", user="Sam", moment=moment) == (
        "Wren to Sam: November 23, 2026, 9:05 PM, Monday, away 2 days. {{other}}")
    assert render_macros(text, char="Wren", user="Sam") == (
        "Wren to Sam: [date], [time], [weekday], away [idle duration]. {{other}}")
    assert time_macros_in([text, "{{TIME}}"]) == ["date", "time", "weekday", "idle_duration"]
    assert now_note([], moment, "Sam") == ""
    assert now_note(["time"], moment, "Sam") == "[Now, for [time] in your instructions: [time] = 9:05 PM]"
    assert [humanize(timedelta(seconds=s)) for s in (10, 60, 600, 3600, 7 * 3600, 86400, 5 * 86400)] == [
        "a few seconds", "a minute", "10 minutes", "an hour", "7 hours", "a day", "5 days"]
    assert Moment(datetime(2026, 1, 1, 0, 0, tzinfo=UTC)).value("time") == "12:00 AM"


def test_unprompted_messages_state_the_time_too() -> None:
    """Proactive talk and check-ins use the same character prompt: its references get their values."""
    from bot.alive.initiative import SelfPortrait, initiative_prompt
    from bot.core.persona.model import Persona

    persona = Persona("Wren", "You are Wren. It is {{time}} on {{weekday}}.")
    moment = Moment(datetime(2026, 3, 2, 9, 15, tzinfo=UTC), timedelta(days=3))
    prompt = initiative_prompt(persona, SelfPortrait({}, ""), "[Say hello.]", moment=moment, name="Sam")
    [system] = prompt.system
    assert system["text"].startswith("You are Wren. It is [time] on [weekday].") and "cache_control" in system
    assert prompt.messages == [{"role": "user", "content": (
        "<now>Monday, 2 March 2026, 9:15 AM where you are (UTC). Sam last wrote 3 days ago.</now>\n\n"
        "[Now, for [time], [weekday] in your instructions: [time] = 9:15 AM; [weekday] = Monday]\n\n"
        "[Say hello.]")}]
    plain = initiative_prompt(Persona("Wren", "You are Wren."), SelfPortrait({}, ""), "[Hi.]", moment=moment)
    assert "[Now, for" not in plain.messages[0]["content"] and "<now>" in plain.messages[0]["content"]


CHANCE = """\
default_name="Wren"
core_prompt="You are {{char}}. Your lucky charm today is a {{pick::jade frog::brass key::paper moon}}."
post_history_instructions="Your cards this time: {{roll:3d1000}} and the {{random:tower,star,moon,sun,fool}}."
"""


async def test_random_pick_and_roll_are_drawn_and_the_cached_prompt_stays_put(
        make_harness: Callable[..., Awaitable[Harness]], tmp_path: Path) -> None:
    """SillyTavern's {{pick}} stays put (the cached character block with it); {{roll}} and {{random}} are
    drawn anew for each message, after the history."""
    folder = tmp_path / "wren"
    folder.mkdir()
    (folder / "character.env").write_text(CHANCE)
    h = await make_harness(character_dir=folder, emotions="false", style_mirroring="false")
    sent = await h.dm("first")
    channel = int(sent["channel_id"])
    for i, text in enumerate(("second", "third", "fourth")):
        await h.replies(channel, i + 1)
        await h.dm(text)
    await h.replies(channel, 4)
    requests = reply_requests(h)[-4:]
    systems = {json.dumps(r.body["system"]) for r in requests}
    assert len(systems) == 1 and "{{" not in systems.pop()
    charm = FakeClaude.system_text(requests[0]).split("lucky charm today is a ", 1)[1].split(".", 1)[0]
    assert charm in {"jade frog", "brass key", "paper moon"}
    cards = [last_user_text(r.body).split("Your cards this time: ", 1)[1] for r in requests]
    assert all("{{" not in c for c in cards) and len(set(cards)) > 1  # drawn anew for each message
    for c in cards:
        roll, card = c.rstrip(".").split(" and the ")
        assert 3 <= int(roll) <= 3000 and card in {"tower", "star", "moon", "sun", "fool"}


def test_the_stand_in_for_no_one_opens_a_sentence_with_a_capital() -> None:
    text = "{{user}} waves. Ask {{user}} twice! *{{user}} laughs* \n「{{user}}」"
    assert render_macros(text, char="Wren", user=NEUTRAL_USER) == (
        "The person you are answering waves. Ask the person you are answering twice! *The person you are "
        "answering laughs* \n「The person you are answering」")
    assert render_macros("{{user}} waves.", char="Wren", user="alice") == "alice waves."  # a name as it is
