"""The router of several characters: topic avoidances, weights per character, a global response chance, a
follow-up cooldown, and affinity that fades toward neutral over days. Pure logic first, then the store, then
over the wire."""

from __future__ import annotations

import asyncio
import random
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import PROJECT_ROOT
from bot.core.lines import Line
from bot.core.persona import Persona
from bot.core.stages import Incoming
from bot.core.topics import topic_hits
from bot.reply.deciding.router import CharacterRouter, decayed_affinity
from bot.reply.ensemble import CastMember
from database.store import Store
from tests.fakes.claude_server import FakeClaude
from tests.harness import CHANNEL_ID, Harness, eventually, speaker
from tests.place_support import place
from tests.test_e2e_reply import vote_requests

VOTER = "claude-test-voter"


class _Character:
    def __init__(self, persona: Persona) -> None:
        self.persona = persona


def in_english(routed: tuple[str | None, Line]) -> tuple[str | None, str]:
    """A route's pick and its reason as the operator's log reads it."""
    return routed[0], routed[1].english()


def cast_of(*personas: Persona) -> list[CastMember]:
    return [CastMember(p.name.lower(), _Character(p)) for p in personas]  # type: ignore[arg-type]


def character(name: str, **fields: Any) -> Persona:
    return Persona(name=name, system_prompt=f"You are {name}.", **fields)


def msg(text: str, channel: int = 10) -> Incoming:
    return Incoming(1, 5, "alice", text, datetime.now(UTC), place=place(channel, False, 1))


# --------------------------------------------------------------------------- pure logic


def test_topics_match_words_and_acore_categories() -> None:
    assert topic_hits("Is Elder Scrolls VI out yet?", ["elder_scrolls", "maps"]) == ["elder_scrolls"]
    assert topic_hits("I was playing all night", ["gaming"]) == ["gaming"], "acore's gaming keywords"
    assert topic_hits("the election is tomorrow", ["politics", "real_world_politics"]) == ["politics"]
    assert topic_hits("mapsy mapmaking", ["maps"]) == []


def test_a_character_avoiding_the_topic_is_held_back_even_when_it_spoke_last() -> None:
    finn, dagoth = character("Finn"), character("Dagoth", topic_interests=("gaming",),
                                                topic_avoidances=("real_world_politics",))
    router = CharacterRouter(sticky_seconds=60)
    cast = cast_of(finn, dagoth)
    assert in_english(router.route(msg("any good games?"), cast)) == ("dagoth", "topic interest: gaming")
    assert in_english(router.route(msg("games about real world politics?"), cast)) == (
        "finn", "main character")
    router.spoke(10, "dagoth")
    assert in_english(router.route(msg("and real world politics?"), cast)) == ("finn", "main character")
    assert in_english(router.route(msg("and after that?"), cast)) == ("dagoth", "spoke last here")
    everyone = cast_of(
        character("Finn", topic_avoidances=("taxes",)), character("Atlas", topic_avoidances=("taxes",))
    )
    key, reason = router.route(msg("taxes, anyone?"), everyone)
    assert key is None and reason.english() == "nobody free to join in: Finn avoids taxes; Atlas avoids taxes"


def test_weights_scale_topics_and_draw_the_rest() -> None:
    router = CharacterRouter(sticky_seconds=60, rng=random.Random(7))
    cast = cast_of(
        character("Finn", topic_interests=("maps",)),
        character("Atlas", topic_interests=("maps",), router_weight=2.0),
    )
    assert in_english(router.route(msg("maps!"), cast)) == ("atlas", "topic interest: maps")
    # Without a topic: drawn by weight (unset counts 1), instead of always the main character.
    cast = cast_of(character("Finn"), character("Atlas", router_weight=3.0))
    picks = [router.route(msg("hello all"), cast)[0] for _ in range(4000)]
    assert 0.70 < picks.count("atlas") / len(picks) < 0.80
    muted = cast_of(character("Finn", router_weight=0.0), character("Atlas"))
    assert in_english(router.route(msg("hello all"), muted)) == ("atlas", "drawn by router_weight (100%)")
    plain = cast_of(character("Finn"), character("Atlas"))
    assert in_english(router.route(msg("hello all"), plain)) == ("finn", "main character")


def test_the_global_response_chance_gates_unaddressed_messages() -> None:
    cast = cast_of(character("Finn"), character("Atlas"))
    never = CharacterRouter(sticky_seconds=60, response_chance=0.0)
    assert in_english(never.route(msg("hello"), cast)) == (None, "global response chance 0% not drawn")
    half = CharacterRouter(sticky_seconds=60, response_chance=0.5, rng=random.Random(3))
    taken = sum(half.route(msg("hello"), cast)[0] is not None for _ in range(2000))
    assert 900 < taken < 1100


def test_the_follow_up_cooldown_is_per_character_and_channel() -> None:
    now = [0.0]
    router = CharacterRouter(sticky_seconds=600, clock=lambda: now[0], follow_up_cooldown=60)
    cast = cast_of(character("Finn"), character("Atlas", topic_interests=("maps",)))
    router.spoke(10, "atlas")
    router.joined_in(10, "atlas")
    assert in_english(router.route(msg("more maps?"), cast)) == ("finn", "main character")
    assert router.route(msg("more maps?", channel=11), cast)[0] == "atlas", "another channel: no cooldown"
    now[0] = 61
    assert in_english(router.route(msg("more maps?"), cast)) == ("atlas", "topic interest: maps")


def test_affinity_fades_toward_neutral_with_the_days() -> None:
    now = datetime(2025, 6, 1, tzinfo=UTC)
    assert decayed_affinity(-10.0, now - timedelta(days=7), now, 7) == pytest.approx(-5.0)
    assert decayed_affinity(8.0, now - timedelta(days=14), now, 7) == pytest.approx(2.0)
    assert decayed_affinity(8.0, (now - timedelta(days=7)).replace(tzinfo=None), now, 7) == pytest.approx(4.0)
    assert decayed_affinity(8.0, now - timedelta(days=700), now, 0) == 8.0, "0: never fades"
    assert decayed_affinity(8.0, None, now, 7) == 8.0
    assert decayed_affinity(8.0, now + timedelta(hours=1), now, 7) == 8.0


# --------------------------------------------------------------------------- the store


async def test_an_adjustment_fades_the_stored_affinity_first(store: Store) -> None:
    assert await store.characters.affinity_since("a", "b") == (0.0, 0, None)
    await store.characters.adjust_affinity("a", "b", 8.0)
    value, exchanges, updated_at = await store.characters.affinity_since("b", "a")
    assert (value, exchanges) == (8.0, 1) and updated_at is not None
    seen: list[float] = []

    def halve(v: float, at: datetime) -> float:
        seen.append(v)
        assert at is not None
        return v / 2

    assert await store.characters.adjust_affinity("b", "a", 1.0, decay=halve) == 5.0
    assert seen == [8.0] and (await store.characters.affinity_since("a", "b"))[:2] == (5.0, 2)
    assert await store.characters.adjust_affinity("a", "c", -3.0, decay=halve) == -3.0, "a new pair: no fade"
    assert await store.characters.adjust_affinity("a", "b", 30.0, decay=halve) == 10.0, "clamped"
    # Exchanges of one pair finishing together all count, each on the value the one before left.
    await asyncio.gather(
        *(store.characters.adjust_affinity("x", "y", 1.0, decay=lambda v, _: v) for _ in range(5))
    )
    assert (await store.characters.affinity_since("x", "y"))[:2] == (5.0, 5)


# --------------------------------------------------------------------------- over the wire

Make = Callable[..., Awaitable[Harness]]


async def ensemble(make_harness: Make, **config: Any) -> Harness:
    h = await make_harness(**{"ensemble_characters": "atlas", "banter_chance": "0", **config})
    h.claude.responder = lambda body: (
        None if speaker(body) == "?" else f"{speaker(body)} here, thanks friend."
    )
    return h


def author(h: Harness, posted: dict[str, Any]) -> str:
    return "Finn" if int(posted["author"]["id"]) == h.bot_user_id else posted["author"]["username"]


async def test_a_global_response_chance_of_0_leaves_unaddressed_messages_alone(make_harness: Make) -> None:
    h = await ensemble(make_harness, global_response_chance="0")
    h.claude.script("yes", model=VOTER, times=None)
    await h.say("any good maps of the coast?")
    await h.say("Finn, a cup of tea please")
    [posted] = await h.replies(CHANNEL_ID, 1)
    assert author(h, posted) == "Finn" and posted["content"] == "Finn here, thanks friend."
    await h.settled()  # every event read and handled: what did not happen, will not
    assert len(h.discord.posted(CHANNEL_ID)) == 1 and vote_requests(h) == [], "not even a vote was asked"


async def test_a_router_weight_in_the_characters_own_file_steers_unaddressed_messages(
    make_harness: Make, tmp_path: Path
) -> None:
    finn = tmp_path / "finn"
    shutil.copytree(PROJECT_ROOT / "characters" / "finn", finn)
    with (finn / "character.env").open("a") as env:
        env.write("\nrouter_weight=0\n")
    h = await ensemble(make_harness, character_dir=finn)
    h.claude.script("yes", model=VOTER, times=None)
    await h.say("what does everyone think about lunch?")
    [first] = await h.replies(CHANNEL_ID, 1)
    assert author(h, first) == "Atlas", "Finn's weight 0: the message is drawn for Atlas"
    assert vote_requests(h) and all("Should Atlas reply" in FakeClaude.all_text(r) for r in vote_requests(h))
    await h.say("Finn, still there?")
    assert author(h, (await h.replies(CHANNEL_ID, 2))[-1]) == "Finn", (
        "named, a weight-0 character still answers"
    )


async def test_the_follow_up_cooldown_lets_someone_else_take_the_next_message(make_harness: Make) -> None:
    h = await ensemble(make_harness, follow_up_cooldown="60")
    h.claude.script("yes", model=VOTER, times=None)
    await h.say("any good maps of the coast?")
    assert author(h, (await h.replies(CHANNEL_ID, 1))[-1]) == "Atlas"
    await h.say("and is it worth going in the rain?")  # without the cooldown Atlas keeps it (sticky)
    assert author(h, (await h.replies(CHANNEL_ID, 2))[-1]) == "Finn"
    await h.say("Atlas, what do you say?")  # named: the cooldown does not apply
    assert author(h, (await h.replies(CHANNEL_ID, 3))[-1]) == "Atlas"


async def test_old_hostility_fades_and_banter_comes_back(make_harness: Make) -> None:
    h = await ensemble(make_harness, banter_chance="1", max_character_turns="1", affinity_decay_days="7")
    finn = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    for _ in range(5):
        await h.store.characters.adjust_affinity("atlas", finn, -2.0)
    band = h.bot.services.ensemble  # type: ignore[union-attr]
    assert band is not None and await band.affinity("atlas", finn) == pytest.approx(-10.0, abs=0.01)
    await h.say("Finn, tell me about your day")
    await h.replies(CHANNEL_ID, 1)
    await h.settled()  # every event read and handled: what did not happen, will not
    assert len(h.discord.posted(CHANNEL_ID)) == 1, "at -10 they ignore each other"

    later = datetime.now(UTC) + timedelta(days=200)  # half-life 7 days: -10 has faded to almost nothing
    band.now = lambda: later
    assert abs(await band.affinity("atlas", finn)) < 0.001
    await h.say("Finn, and tomorrow?")
    posts = await h.replies(CHANNEL_ID, 3)
    assert [author(h, p) for p in posts[1:]] == ["Finn", "Atlas"], "Atlas bantered again"
    async def affinity() -> tuple[float, int] | None:
        value, exchanges, _ = await h.store.characters.affinity_since("atlas", finn)
        return (value, exchanges) if exchanges == 6 else None
    value, exchanges = await eventually(affinity, "the affinity of six exchanges")
    assert exchanges == 6 and 0 < value < 2, "the warm exchange moved the faded value, not the old -10"
