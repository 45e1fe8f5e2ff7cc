"""Feelings, style, emotes and check-ins over the wire (fake Discord + fake Claude, an injected clock):
hormones moved by exchanges, shown in the stable prompt and to admins, decaying over days and kept across a
restart; a writing profile that only remembered people get and /forget_me deletes; server emotes made
valid (invalid ones never reach Discord) and emote reactions within their rate limit; one check-in DM."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest

from bot.alive.emotions import EmotionState
from bot.alive.style import StyleProfile
from tests.fakes.claude_server import FakeClaude, content_text
from tests.felt_support import feels
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    GUILD_ID,
    LOG_CHANNEL_ID,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    button,
    exchange,
    panel_fields,
    run_round,
)

# the state line as the check-in or reminder has it; the character's own night, by the clock, adds to it
AT_EASE = re.compile(r"<state>\nToward alice you feel at ease\."
                     r"( It is late at night for you: a little tired\.)?\n"
                     r"(Write to alice in \w+; address alice [^\n]*\n)?</state>")  # her language, register

VOTER, DEFAULT = "claude-test-voter", "claude-test-default"
WARM = "thank you Finn, I love you, you're the best <3"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def final_turn(h: Harness) -> str:
    """The text of the last reply request's final user turn."""
    return content_text(h.claude.last_request(DEFAULT).body["messages"][-1]["content"])


async def log_command(h: Harness, text: str, n: int) -> str:
    """The log channel's answer to an admin's ``text``; a report panel's figures as "name: value" lines."""
    await h.say(text, user=ADMIN_ID, channel=LOG_CHANNEL_ID)
    answer = (await h.replies(LOG_CHANNEL_ID, n))[n - 1]
    if answer["content"]:
        return str(answer["content"])
    return "\n".join(f"{name}: {value}" for name, value in panel_fields(answer).items())


# --------------------------------------------------------------------------- emotions


def next_afternoon(h: Harness) -> datetime:
    """The next 14:00 of the bot's own clock (from a minute ahead), when no hour-bound feeling is near."""
    at = datetime.now(UTC) + timedelta(minutes=1)
    while h.bot.services.alive.time.hour(at) < 14 or h.bot.services.alive.time.hour(at) >= 15:
        at += timedelta(minutes=30)
    return at


async def test_exchanges_move_the_feelings_which_decay_and_survive_a_restart(
        make_harness: MakeHarness) -> None:
    h = await make_harness()
    clock = Clock(next_afternoon(h))  # the levels rest by the hour: at night the label would be "sleepy"
    h.bot.services.alive.clock = clock
    at_rest = EmotionState.at_rest(clock.now, h.bot.services.alive.time)
    for n in (1, 2, 3):
        clock.now += timedelta(seconds=10)
        feels(h.claude, "praise, warmth")  # the reply's model judges it (bot/reply/felt.py)
        await exchange(h, WARM, n)
    stored = EmotionState.from_json(await h.store.state.get("emotions.finn"))
    assert stored.levels["oxytocin"] > at_rest.levels["oxytocin"] + 0.15
    assert stored.levels["dopamine"] > at_rest.levels["dopamine"] + 0.1 and stored.label == "affectionate"

    await exchange(h, "what are you up to?", 4)
    system = h.claude.system_text(h.claude.last_request(DEFAULT))
    # In a channel the feeling follows the shared, cached transcript (bot/reply/prompting.py): it moves often.
    # The reply is told how the character feels toward alice, whose warmth moved it, in its fenced state.
    assert "<state>\nToward alice you feel fond: warm" in final_turn(h)
    await exchange(h, "and later?", 5)
    assert h.claude.system_text(h.claude.last_request(DEFAULT)) == system  # the same cached prefix
    assert h.claude.last_request(DEFAULT).usage["cache_read_input_tokens"] > 0

    status = await (await h.slash("status")).text()
    assert "How Finn feels" in status and "affectionate" in status
    state = await (await h.slash("state", [{"type": 1, "name": "get", "options": [
        {"name": "key", "type": 3, "value": "emotions.finn"}]}], user=ADMIN_ID)).text()
    assert '"label":"affectionate"' in state and "oxytocin" in state
    assert "Feeling: affectionate (dopamine" in await log_command(h, "status", 1)

    await h.restart()  # a restart keeps the feeling
    h.bot.services.alive.clock = clock
    assert h.bot.services.alive.main_feelings.label == "affectionate"
    assert "Feeling: affectionate" in await log_command(h, "status", 2)

    clock.now += timedelta(days=3)  # nobody talks for three days: the warmth fades, loneliness sets in
    assert "Feeling: lonely" in await log_command(h, "status", 3)
    lonely = h.bot.services.alive.main_feelings.current().levels
    assert lonely["oxytocin"] < at_rest.levels["oxytocin"] - 0.1 < stored.levels["oxytocin"]


# --------------------------------------------------------------------------- style mirroring


async def test_a_writing_profile_for_the_remembered_only_deleted_by_forget_me(harness: Harness) -> None:
    h = harness
    for n, text in enumerate(("hey finn lol whats up", "idk tbh the tide is weird", "gonna swim later"), 1):
        await exchange(h, text, n)
    await exchange(h, "u there", 4)
    # in a channel, about the person: after the shared, cached transcript
    assert "\nalice writes very short messages, all in lowercase" in final_turn(h)
    profile = await h.store.style.get(USER_ID)
    assert profile is not None and StyleProfile.from_json(profile).messages == 4

    optout = await h.slash("memory", [{"type": 1, "name": "opt-out", "options": []}], user=USER2_ID)
    await optout.message()
    for n in (5, 6, 7, 8):
        await exchange(h, "yo finn lol", n, user=USER2_ID)
    assert await h.store.style.get(USER2_ID) is None  # not remembered: no profile
    assert "How bob writes" not in h.claude.all_text(h.claude.last_request(DEFAULT))

    prompt = await (await h.slash("forget_me")).message()
    await (await h.click(prompt, button(prompt, "confirm")["custom_id"])).response()
    await h.discord.wait_for(lambda d: "Done: I deleted" in (prompt.get("content") or ""), what="/forget_me")
    assert await h.store.style.get(USER_ID) is None


# --------------------------------------------------------------------------- emotes and reactions


async def test_emotes_are_made_valid_and_warm_messages_get_a_reaction(make_harness: MakeHarness) -> None:
    h = await make_harness(yes_no_vote_count="1", reaction_rate_limit="1")
    wave = h.discord.add_emoji(GUILD_ID, "blobwave")
    party = h.discord.add_emoji(GUILD_ID, "partyfish", animated=True)
    heart = h.discord.add_emoji(GUILD_ID, "heartfish")
    await h.restart()  # GUILD_CREATE now carries them
    h.claude.script("Hello! :blobwave: :partyfish: :smile: :notanemote: <:nosuch:123>", model=DEFAULT)
    reply = await exchange(h, "hi finn", 1)
    assert reply["content"] == f"Hello! <:blobwave:{wave}> <a:partyfish:{party}> 😄"
    known = {str(wave), str(party), str(heart)}
    for posted in h.discord.posted():
        assert set(re.findall(r"<a?:\w+:(\d+)>", posted["content"])) <= known  # nothing invalid went out
    system = h.claude.system_text(h.claude.last_request(DEFAULT))
    assert "## This server's emotes" in system and ":blobwave:" in system
    assert ":partyfish: (animated)" in system

    # the vote says no, but it is warm (its signs: no model reads an unanswered message) and follows the
    # character's words
    h.claude.script("no", model=VOTER)
    warm = await h.say("haha love it, thanks 🥰🙏", user=USER2_ID)
    await h.discord.wait_for(lambda d: d.reactions, what="a reaction")
    assert h.discord.reactions == [{"channel_id": CHANNEL_ID, "message_id": int(warm["id"]),
                                    "emoji": f"heartfish:{heart}", "user_id": h.bot_user_id}]
    assert len(h.discord.posted(CHANNEL_ID)) == 1  # a reaction instead of a reply

    await exchange(h, "one more thing", 2)
    h.claude.script("no", model=VOTER)
    await h.say("aww thanks, you're sweet <3", user=USER2_ID)  # the hour's one reaction is spent
    await h.bot.in_flight.drain()
    await h.settled()  # every event read and handled: what did not happen, will not
    assert len(h.discord.reactions) == 1

    with pytest.raises(discord.HTTPException) as refused:  # the fake refuses what Discord would
        await h.bot.http.add_reaction(CHANNEL_ID, int(warm["id"]), "ghost:42")
    assert refused.value.code == 10014

    h.claude.script("Hi :blobwave: :fish:", model=DEFAULT)  # a DM has no server emotes: dropped, or unicode
    await h.dm("say hi with an emote")
    assert (await h.replies(await h.dm_channel_id()))[0]["content"] == "Hi 🐟"


# --------------------------------------------------------------------------- check-ins


def checkin_request(body: dict[str, Any]) -> bool:
    return "asking how they are" in FakeClaude.all_text(body)


async def test_one_check_in_dm_after_a_silence_until_it_is_answered(make_harness: MakeHarness) -> None:
    h = await make_harness(checkin_after_days="2", timezone="UTC", quiet_hours="23-7")
    text = await (await h.slash("checkin", [{"type": 1, "name": "on", "options": []}])).text()
    assert "check on you" in text
    await h.dm("hello finn")
    dm = await h.dm_channel_id()
    await h.replies(dm, 1)
    await h.bot.in_flight.drain()
    await h.store.memories.add_core_memory("finn", USER_ID, "Alice restores old boats", source="user")
    day = (datetime.now(UTC) + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)

    assert await run_round(h, "checkins", day.replace(hour=3)) == "not a sensible local hour"
    h.claude.fail_all(400)
    assert await run_round(h, "checkins", day) == "0 of 1 check-in(s) sent"  # Claude failed: nothing sent
    h.claude.recover()
    h.claude.script("Alice! The tide missed you. How are the boats?", match=checkin_request)
    assert await run_round(h, "checkins", day + timedelta(hours=1)) == "1 of 1 check-in(s) sent"
    sent = (await h.replies(dm, 2))[1]
    assert sent["content"] == "Alice! The tide missed you. How are the boats?"
    checkin = [r for r in h.claude.requests if checkin_request(r.body)][-1]
    asked = h.claude.all_text(checkin)
    assert "Alice restores old boats" in asked and "asking how they are" in asked
    # toward her, not everyone; fenced as a reply's state is (bot/reply/prompting.py state_part)
    assert AT_EASE.search(asked) and "## How you feel" not in asked
    # what she typed is quoted data, never system text; the time, in the character's zone, and her silence
    assert "Alice restores old boats" not in h.claude.system_text(checkin)
    # her /remember note is hers, by name (in her words "I" is her), never the character's own memory
    assert ("<person name=\"alice\">\n<notes by=\"alice\" words=\"alice's own, about themselves\">\n"
            "- Alice restores old boats") in asked
    # and what they last talked about (the conversation's last message from her)
    assert "<last_message by=\"alice\">\nhello finn\n</last_message>" in asked
    when = day + timedelta(hours=1)
    assert re.search(rf"<now>{when:%A}, {when.day} {when:%B} {when.year}, 1:00 PM where you are \(UTC\)\. "
                     r"alice last wrote [34] days ago\.</now>", asked)
    # Unanswered: no second one.
    assert await run_round(h, "checkins", day + timedelta(hours=2)) == "0 of 0 check-in(s) sent"

    await h.dm("sorry, I've been busy sanding a hull!")  # she answers: it reads as an answer to the check-in
    await h.replies(dm, 3)
    assert "The tide missed you" in h.claude.all_text(h.claude.last_request(DEFAULT))
    await h.bot.in_flight.drain()
    # a new silence
    assert await run_round(h, "checkins", day + timedelta(days=3)) == "1 of 1 check-in(s) sent"
    await h.replies(dm, 4)

    await (await h.slash("checkin", [{"type": 1, "name": "off", "options": []}])).text()
    await h.dm("back again")
    await h.replies(dm, 5)
    await h.bot.in_flight.drain()
    assert await run_round(h, "checkins", day + timedelta(days=6)) == "0 of 0 check-in(s) sent"


async def test_a_check_in_says_each_thing_it_knows_of_them_once(make_harness: MakeHarness) -> None:
    """The check-in's person block is the reply's (bot/reply/prompting.py ``person_parts``): a clause of the
    summary that a core memory already says is not said again."""
    h = await make_harness(checkin_after_days="2", timezone="UTC", quiet_hours="23-7")
    await (await h.slash("checkin", [{"type": 1, "name": "on", "options": []}])).text()
    await h.dm("hello finn")
    dm = await h.dm_channel_id()
    await h.replies(dm, 1)
    await h.bot.in_flight.drain()
    key = h.bot.services.pipeline.character_key
    await h.store.memories.add_core_memory(key, USER_ID, "alice restores old boats in her garage",
                                           source="summary")
    assert await h.store.conversations.rewrite_summary(
        key, USER_ID, "dm", previous="",
        summary="alice restores old boats in her garage. She missed the regatta in the rain.")
    day = (datetime.now(UTC) + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    h.claude.script("Alice! How are the boats?", match=checkin_request)
    assert await run_round(h, "checkins", day) == "1 of 1 check-in(s) sent"
    asked = h.claude.all_text([r for r in h.claude.requests if checkin_request(r.body)][-1])
    person = asked.split('<person name="alice">')[1].split("</person>")[0]
    assert person.count("restores old boats") == 1
    # the sentence the memory says goes whole, what it does not say is kept
    assert "<summary>\nShe missed the regatta in the rain.\n</summary>" in person


def test_a_check_in_counts_its_days_in_words() -> None:
    """"not around for 1 days" reached the model: the silence is now the <now> line's words
    (bot/reply/prompting.py), and the log channel's count is a plural line in its language."""
    from bot.core.lines import Line
    from bot.core.persona.macros import humanize
    from bot.features.checkins.rounds import ASK

    def sent(days: int, language: str | None) -> str:
        return Line.tn(days, "Check-in sent to user {user} ({count} day of silence).",
                       "Check-in sent to user {user} ({count} days of silence).", user=7).render(language)

    assert [sent(n, None) for n in (1, 2, 30)] == [
        "Check-in sent to user 7 (1 day of silence).", "Check-in sent to user 7 (2 days of silence).",
        "Check-in sent to user 7 (30 days of silence)."]
    assert [sent(n, "ru") for n in (1, 2, 5)] == [
        "Проверка связи отправлена пользователю 7 (1 день молчания).",
        "Проверка связи отправлена пользователю 7 (2 дня молчания).",
        "Проверка связи отправлена пользователю 7 (5 дней молчания)."]
    assert "days" not in ASK and humanize(timedelta(days=1)) == "a day"
