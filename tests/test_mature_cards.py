"""Mature characters where they belong, read in the requests the fake Claude receives: a card tagged NSFW
speaks in full only in an age-restricted channel (and its threads), and in its safe register in a normal
channel and in a DM, with what the card marks mature left out there; the system prefix stays byte-stable
for each kind of place; an ordinary card sees none of it; an NSFW-tagged card is imported as mature; the
operator is told once at start-up."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.persona.loader import load_persona
from bot.core.persona.register import DEFAULT_SAFE_REGISTER, MATURE_PLACE, SAFE_HEADING
from bot.core.persona.transfer import import_character
from bot.core.place import Place
from bot.core.stages import Incoming
from bot.features.reminders.book import ReminderBook
from database.reminders import reminder_key
from tests.fakes.claude_server import FakeClaude
from tests.harness import (
    CHANNEL_ID,
    GUILD_ID,
    OTHER_CHANNEL_ID,
    USER_ID,
    Harness,
    proactive_round,
    reply_requests,
    run_round,
)
from tests.place_support import server_place
from tests.test_alive_proactive import Rolls, bot_switch, proactive, sent_at, status_request, unaddressed

Make = Callable[..., Awaitable[Harness]]
EXAMPLE = "Vel purrs something unrepeatable."
MATURE_LORE = "The velvet room is where the late shows happen."
PLAIN_LORE = "The lounge opens at nine."
ANSWER = "*Vel tips her hat.* Evening, darling."


def vel_card(tmp_path: Path, *, tags: list[str] | None = None, **kindred: Any) -> Path:
    """A V2 card of a lounge singer, tagged NSFW, whose example dialogue and one lore entry are mature."""
    entry = {"keys": ["lounge"], "content": PLAIN_LORE, "enabled": True, "insertion_order": 1,
             "extensions": {}}
    card = {
        "name": "Vel", "description": "{{char}} sings in a smoky lounge.", "personality": "sultry, witty",
        "scenario": "", "first_mes": "*Vel slides into the seat beside {{user}}.*",
        "mes_example": f"<START>\n{{{{user}}}}: hi\n{{{{char}}}}: {EXAMPLE}", "creator_notes": "",
        "system_prompt": "", "post_history_instructions": "", "alternate_greetings": [],
        "tags": ["romance", "NSFW"] if tags is None else tags, "creator": "tests", "character_version": "1",
        "extensions": {"kindred": {"mature_examples": True, **kindred}},
        "character_book": {"entries": [
            entry, {**entry, "content": MATURE_LORE, "extensions": {"mature": True}}]},
    }
    folder = tmp_path / "vel"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "card.json").write_text(json.dumps({"spec": "chara_card_v2", "spec_version": "2.0",
                                                  "data": card}))
    return folder


async def answered(h: Harness, text: str, channel: int, n: int) -> str:
    """``text`` said to the character in ``channel``; the reply's request, as its system and whole text."""
    h.claude.script(ANSWER)
    await h.say(f"{text} (the lounge)", channel=channel, mention=True)
    posted = await h.replies(channel, n)
    assert ANSWER in posted[-1]["content"]  # it answers, in character
    return FakeClaude.all_text(reply_requests(h)[-1])


def full(text: str) -> bool:
    return MATURE_PLACE in text and EXAMPLE in text and DEFAULT_SAFE_REGISTER not in text


def safe(text: str) -> bool:
    return (DEFAULT_SAFE_REGISTER in text and MATURE_PLACE not in text and EXAMPLE not in text
            and MATURE_LORE not in text)


async def test_full_in_an_age_restricted_channel_and_its_threads_safe_elsewhere(make_harness: Make,
                                                                                 tmp_path: Path) -> None:
    h = await make_harness(character_dir=vel_card(tmp_path))
    await h.discord.mark_age_restricted(OTHER_CHANNEL_ID)
    normal = await answered(h, "sing for us", CHANNEL_ID, 1)
    assert safe(normal) and PLAIN_LORE in normal
    restricted = await answered(h, "sing for us", OTHER_CHANNEL_ID, 1)
    assert full(restricted) and MATURE_LORE in restricted
    # a thread reads its parent's flag
    thread = await h.discord.open_thread(OTHER_CHANNEL_ID, USER_ID, "after hours")
    assert full(await answered(h, "one more", thread, 1))
    # the operator's switch applies to the next message
    await h.discord.mark_age_restricted(OTHER_CHANNEL_ID, False)
    assert safe(await answered(h, "and now?", OTHER_CHANNEL_ID, 2))


async def test_a_dm_is_not_age_restricted(make_harness: Make, tmp_path: Path) -> None:
    h = await make_harness(character_dir=vel_card(tmp_path))
    h.claude.script(ANSWER)
    sent = await h.dm("hello there, what is on at the lounge?")
    posted = await h.replies(int(sent["channel_id"]), 1)
    assert [p["content"] for p in posted] == [ANSWER]  # no greeting posted: it is written as it is
    assert safe(FakeClaude.all_text(reply_requests(h)[-1]))


async def test_the_cards_own_safe_register_and_a_byte_stable_prefix(make_harness: Make,
                                                                     tmp_path: Path) -> None:
    own = "Keep it to innuendo and a wink in here, {{char}}-style."
    h = await make_harness(character_dir=vel_card(tmp_path, safe_register=own))
    await answered(h, "first song", CHANNEL_ID, 1)
    await answered(h, "second song", CHANNEL_ID, 2)
    first, second = reply_requests(h)[-2:]
    system = FakeClaude.system_text(second)
    assert "Keep it to innuendo and a wink in here, Vel-style." in system
    assert DEFAULT_SAFE_REGISTER not in system and MATURE_PLACE not in system
    assert first.body["system"] == second.body["system"]  # byte for byte, breakpoints included
    assert second.usage["cache_read_input_tokens"] > 0


async def test_an_ordinary_card_sees_no_register(make_harness: Make, tmp_path: Path) -> None:
    h = await make_harness(character_dir=vel_card(tmp_path, tags=["romance"]))
    await h.discord.mark_age_restricted(OTHER_CHANNEL_ID)
    for channel in (CHANNEL_ID, OTHER_CHANNEL_ID):
        text = await answered(h, "sing", channel, 1)
        assert SAFE_HEADING not in text and EXAMPLE in text and MATURE_LORE in text


async def test_the_operator_is_told_once_at_start_up(make_harness: Make, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.core.character")
    h = await make_harness(character_dir=vel_card(tmp_path))
    await answered(h, "sing", CHANNEL_ID, 1)
    await answered(h, "again", CHANNEL_ID, 2)
    told = [r.getMessage() for r in caplog.records if "is marked mature" in r.getMessage()]
    assert len(told) == 1, told
    assert "Vel is marked mature" in told[0] and "DMs included" in told[0] and "the default one" in told[0]


def test_an_nsfw_tagged_card_is_imported_as_mature(tmp_path: Path) -> None:
    source = vel_card(tmp_path / "from", tags=["nsfw"]) / "card.json"
    folder = import_character(source, tmp_path / "characters")
    assert "mature=true" in (folder / "character.env").read_text()
    assert load_persona(folder, {}).mature
    plain = import_character(vel_card(tmp_path / "plain", tags=["sfw"]) / "card.json",
                             tmp_path / "characters", as_name="plain")
    assert "mature=" not in (plain / "character.env").read_text()
    assert not load_persona(plain, {}).mature
    assert not load_persona(folder, {"mature": "false"}).mature  # character.env wins over the tag


async def test_proactive_talk_follows_its_channel_and_the_status_keeps_safe(make_harness: Make,
                                                                           tmp_path: Path) -> None:
    h = await make_harness(character_dir=vel_card(tmp_path), proactive_chance="1", yes_no_vote_count="1",
                           custom_status="true")
    await h.discord.wait_for(lambda d: d.custom_status() is not None, what="the custom status")
    [asked] = [r for r in h.claude.requests if status_request(r.body)]
    assert safe(FakeClaude.all_text(asked))  # shown everywhere
    await h.discord.mark_age_restricted(CHANNEL_ID)
    assert "**on** for <#" in await bot_switch(h, "proactive", "on")
    said = await unaddressed(h, "quiet night in the lounge")
    proactive_round(h).rng = Rolls(0.0, 0.2)  # within the chance; a comment
    h.claude.script(ANSWER, match=proactive)
    spoke = await run_round(h, "proactive", sent_at(said) + timedelta(minutes=5))
    assert spoke == "spoke in 1 of 1 channel(s)"
    await h.replies(CHANNEL_ID)
    assert full(FakeClaude.all_text(next(r for r in reversed(h.claude.requests) if proactive(r.body))))


async def test_a_reminder_speaks_in_its_places_register(make_harness: Make, tmp_path: Path) -> None:
    """A reminder delivered in a DM or an ordinary channel is written in the safe register; in an
    age-restricted channel in the full one, as a reply there would be."""
    h = await make_harness(character_dir=vel_card(tmp_path))
    await h.discord.mark_age_restricted(OTHER_CHANNEL_ID)
    assert "**on**" in await bot_switch(h, "reminders", "on", "server")
    deliver = h.bot.services.timers.handlers["reminder"]
    asked = Incoming(message_id=1, author_id=USER_ID, author_name="alice", content="remind me",
                     created_at=datetime.now(UTC), place=Place.dm(0))
    written: dict[str, str] = {}
    for place, msg in (("dm", asked), ("channel", replace(asked, place=server_place(CHANNEL_ID,
                                                                                      GUILD_ID))),
                       ("restricted", replace(asked, place=server_place(OTHER_CHANNEL_ID, GUILD_ID)))):
        done = await h.bot.services.part(ReminderBook).set(msg, f"the {place} show", None, 5)
        assert not done.error, done.text
        [row] = [r for r in await h.store.reminders.open_for(USER_ID) if r.text == f"the {place} show"]
        h.claude.script(ANSWER)
        timer = await h.store.timers.get(reminder_key(row.id))
        assert await deliver(timer) == f"reminder {row.id} delivered"
        [request] = [r for r in h.claude.requests if f"the {place} show" in json.dumps(r.body["messages"])]
        written[place] = FakeClaude.all_text(request)
    assert safe(written["dm"]) and safe(written["channel"])
    assert full(written["restricted"])
