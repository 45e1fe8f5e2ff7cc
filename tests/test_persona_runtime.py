"""Persona features on the real reply path, proven by what the bot asks the fake Claude: lorebook, greeting,
framework blend by context, evolution stages (with /status and a restart), identity seeding."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import PROJECT_ROOT
from bot.core.stages import Incoming
from bot.reply.persona_runtime import DISCORD_EPOCH_MS, greetings, last_spoke, snowflake_time
from bot.reply.prompting import NEW_CHAT
from database.records import History, PromptData, SeenMessage, Turn
from tests.fakes.claude_server import FakeClaude, content_text
from tests.harness import (
    CHANNEL_ID,
    USER2_ID,
    Harness,
    ephemeral,
    eventually,
    panel_fields,
    reply_requests,
)
from tests.memory_support import last_user_text
from tests.place_support import place

CHARACTERS = PROJECT_ROOT / "characters"
FOG = "sounds the foghorn every thirty seconds"  # Lumen's lorebook entry for the keys fog / mist
LIGHTHOUSE = "Its lens turns once every twelve and a half seconds"  # a constant entry
MARTA = "Captain Marta Oyelaran runs the evening ferry"  # selective: Marta/ferry plus late/tonight/...

Play = Callable[..., Awaitable[Harness]]


@pytest.fixture
def play(make_harness: Callable[..., Awaitable[Harness]]) -> Play:
    """Factory: ``h = await play(folder, **config)`` starts a bot playing the character in ``folder``."""

    async def factory(folder: Path, **config: Any) -> Harness:
        return await make_harness(character_dir=folder, **config)

    return factory


async def dm_exchange(h: Harness, text: str, n: int) -> Any:
    """DM the bot, wait for its ``n``-th answer there, return the Claude request behind it."""
    sent = await h.dm(text)
    await h.replies(int(sent["channel_id"]), n)
    return reply_requests(h)[-1]


async def interactions_reach(h: Harness, count: int) -> tuple[int, str]:
    """Wait until the character has counted ``count`` interactions (counted right after each reply is
    sent)."""
    async def reached() -> tuple[int, str] | None:
        state = await h.store.characters.character_state(h.bot.services.pipeline.character_key)
        return state if state[0] >= count else None
    return await eventually(reached, f"an interaction count of {count}")


async def status_fields(h: Harness) -> dict[str, str]:
    answer = await ephemeral(await h.slash("status", dm=True))
    return panel_fields(answer)


# --------------------------------------------------------------------------- lorebook


async def test_a_lore_key_in_the_last_scan_depth_messages_puts_its_entry_in_the_request(play: Play) -> None:
    h = await play(CHARACTERS / "lumen")
    first = await dm_exchange(h, "Good evening! How is the lamp?", 1)
    without = last_user_text(first.body)
    # constant entries always apply, with the character in the cached prefix; keyed ones need a key
    assert LIGHTHOUSE in FakeClaude.system_text(first) and "<world>" in FakeClaude.system_text(first)
    assert LIGHTHOUSE not in without and FOG not in without
    with_key = last_user_text((await dm_exchange(h, "Is there FOG over the Narrows tonight?", 2)).body)
    assert "<lore>" in with_key and FOG in with_key and FOG not in FakeClaude.system_text(first)
    # Lumen scans 4 messages: the key is still among them one exchange later, and gone the exchange after.
    assert FOG in last_user_text((await dm_exchange(h, "Thanks, that helps.", 3)).body)
    assert FOG not in last_user_text((await dm_exchange(h, "Good night!", 4)).body)


async def test_keys_in_the_channel_recent_messages_count_too(play: Play) -> None:
    h = await play(CHARACTERS / "lumen")
    h.claude.script("no", model="claude-test-voter", times=None)
    await h.say("Marta's ferry is running late tonight", user=USER2_ID)  # not addressed to Lumen: votes no
    await h.claude.wait_for_requests(1, model="claude-test-voter")
    await h.say("should we worry?", mention=True)
    await h.replies(CHANNEL_ID)
    [request] = reply_requests(h)
    assert MARTA in last_user_text(request.body)


# --------------------------------------------------------------------------- greeting


async def test_a_new_conversation_opens_with_the_greeting(play: Play) -> None:
    h = await play(CHARACTERS / "lumen", greetings="true")
    first = await dm_exchange(h, "Hello up there!", 2)  # the greeting is posted first, then the answer
    persona = h.bot.services.pipeline.persona
    opening = first.body["messages"][:2]
    assert [m["role"] for m in first.body["messages"]] == ["user", "assistant", "user"]
    assert content_text(opening[0]["content"]).endswith(NEW_CHAT)  # after where and who (cached, quoted)
    greeting = content_text(opening[1]["content"])
    assert (
        greeting in {persona.render(g, "alice") for g in greetings(persona)} and len(greetings(persona)) == 2
    )
    assert "alice" in greeting and "{{user}}" not in greeting
    # Once the conversation has turns, it still opens the same way: the greeting is the history's first turn.
    second = await dm_exchange(h, "How many ships tonight?", 3)
    assert second.body["messages"][:2] == first.body["messages"][:2]
    assert content_text(second.body["messages"][2]["content"]).endswith("Hello up there!")
    assert FakeClaude.all_text(second).count(greeting) == 1


# --------------------------------------------------------------------------- framework blending


def approach(request: Any) -> str:
    """The per-message blend block of a request."""
    text = last_user_text(request.body)
    start = text.index("[Approach for this message")
    end = text.find("\n\n", start)
    return text[start : end if end >= 0 else None]


async def test_the_framework_blend_follows_the_kind_of_message(play: Play) -> None:
    h = await play(CHARACTERS / "atlas")
    technical = approach(
        await dm_exchange(h, "My python script throws an exception when it parses the GPS json", 1)
    )
    casual = approach(await dm_exchange(h, "hey, how was your weekend?", 2))
    assert technical != casual
    assert technical.startswith("[Approach for this message: technical conversation]")
    assert (
        "Lead with Mentor (80%)" in technical
        and "Companion (20%)" in technical
        and "Storyteller" not in technical
    )
    assert casual.startswith("[Approach for this message: casual conversation]")
    assert "Lead with Companion (70%)" in casual and "Storyteller (30%)" in casual and "Mentor" not in casual


# --------------------------------------------------------------------------- evolution


def atlas_with_small_milestones(tmp_path: Path) -> Path:
    folder = tmp_path / "atlas"
    shutil.copytree(CHARACTERS / "atlas", folder)
    character = json.loads((folder / "character.json").read_text())
    character["evolution_stages"] = [
        {"min_interactions": 0, "name": "Newcomer", "tone": "polite and careful"},
        {
            "min_interactions": 2,
            "name": "Regular",
            "tone": "relaxed, with dry jokes",
            "quirks": ["Hums old survey songs."],
            "knowledge": ["Which trails this person likes."],
        },
        {"min_interactions": 100, "name": "Old friend", "tone": "candid"},
    ]
    (folder / "character.json").write_text(json.dumps(character))
    return folder


async def test_crossing_a_milestone_changes_the_prompt_shows_in_status_and_survives_a_restart(
    play: Play, tmp_path: Path
) -> None:
    h = await play(atlas_with_small_milestones(tmp_path))
    first = last_user_text((await dm_exchange(h, "Hello there.", 1)).body)
    assert "## How you have grown: Newcomer" in first and "Tone now: polite and careful" in first
    second = last_user_text((await dm_exchange(h, "Me again.", 2)).body)
    assert "How you have grown: Newcomer" in second and "Regular" not in second
    # The second answer crossed the milestone of 2: the next prompt carries the stage's changes.
    third = last_user_text((await dm_exchange(h, "And again.", 3)).body)
    assert "## How you have grown: Regular" in third and "Tone now: relaxed, with dry jokes" in third
    assert "Hums old survey songs." in third and "Which trails this person likes." in third
    assert await interactions_reach(h, 3) == (3, "Regular")
    assert (await status_fields(h))["Stage"] == "Regular · 3 interactions · next: Old friend at 100"

    await h.restart()
    assert (await status_fields(h))["Stage"] == "Regular · 3 interactions · next: Old friend at 100"
    fourth = last_user_text((await dm_exchange(h, "Back after a restart.", 4)).body)
    assert "## How you have grown: Regular" in fourth


async def test_a_character_without_stages_counts_but_shows_no_stage(play: Play) -> None:
    h = await play(CHARACTERS / "finn")
    text = last_user_text((await dm_exchange(h, "hello", 1)).body)
    assert "How you have grown" not in text and "[Approach for this message" not in text
    assert await interactions_reach(h, 1) == (1, "")
    assert "Stage" not in await status_fields(h)


# --------------------------------------------------------------------------- identity seeding


async def test_identity_json_is_seeded_once_and_reaches_the_prompt(play: Play) -> None:
    h = await play(CHARACTERS / "finn")
    seed = json.loads((CHARACTERS / "finn" / "identity.json").read_text())
    key = h.bot.services.pipeline.character_key
    stored = await h.store.identity.entries(key)
    assert sorted((kind, text) for _, kind, text in stored) == sorted(
        (kind.rstrip("s"), text) for kind, items in seed.items() for text in items
    )
    system = FakeClaude.system_text(await dm_exchange(h, "hello", 1))
    assert "Easily flustered by compliments" in system and "Pemberton" in system
    await h.restart()
    assert len(await h.store.identity.entries(key)) == len(stored)  # once: later edits live in the database


def test_last_spoke_matches_its_definition() -> None:
    """``last_spoke`` compares snowflakes as integers (a long history is walked at every reply); it must give
    what its definition does: the latest of the author's earlier recent messages and user turns at or before
    the message's time, never the message itself nor anything later, nor other people's lines."""

    def flake(when: datetime, low: int) -> int:
        return ((int(when.timestamp() * 1000) - DISCORD_EPOCH_MS) << 22) | low

    def reference(msg: Incoming, data: PromptData) -> datetime | None:
        times = [m.created_at for m in data.recent
                 if m.author_id == msg.author_id and m.message_id != msg.message_id]
        times += [snowflake_time(t.discord_message_id) for t in data.history.turns
                  if t.role == "user" and t.discord_message_id and t.discord_message_id != msg.message_id]
        earlier = [t for t in times if t <= msg.created_at]
        return max(earlier) if earlier else None

    rng = random.Random(7)
    base = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    for _ in range(300):
        now = base + timedelta(milliseconds=rng.randrange(10_000))
        msg_id = flake(now, rng.randrange(1 << 22))
        msg = Incoming(message_id=msg_id, author_id=5, author_name="sam", content="hi",
                       created_at=snowflake_time(msg_id), place=place(1, False))
        turns = []
        for _ in range(rng.randrange(6)):  # some in the same millisecond as the message, some after it
            when = now + timedelta(milliseconds=rng.choice([-3000, -1, 0, 0, 1, 2000]))
            said = rng.choice([flake(when, rng.randrange(1 << 22)), None, msg_id])
            turns.append(Turn(rng.choice(["user", "assistant"]), "x", discord_message_id=said))
        recent = [SeenMessage(rng.randrange(1 << 40), 1, 2, rng.choice([5, 6]), "n", False, False, "x",
                              now + timedelta(milliseconds=rng.choice([-5000, -2, 0, 3])))
                  for _ in range(rng.randrange(4))]
        data = PromptData({}, [], None, "", False, History(1, "", turns), recent)
        assert last_spoke(msg, data) == reference(msg, data)
