"""Several characters in one bot, over the wire: webhooks, the router, banter and its loop cap."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.core.lines import Line
from bot.core.persona import Persona
from bot.core.stages import Incoming
from bot.reply.deciding.addressing import addressed_order, name_variants
from bot.reply.ensemble import CharacterRouter, banter_probability, exchange_delta
from tests.fakes.claude_server import FakeClaude
from tests.harness import CHANNEL_ID, Harness, buttons, eventually, press, speaker
from tests.place_support import place

VOTER = "claude-test-voter"


def in_english(routed: tuple[str | None, Line]) -> tuple[str | None, str]:
    """A route's pick and its reason as the operator's log reads it."""
    return routed[0], routed[1].english()


def answer_as_speaker(body: dict[str, Any]) -> str | None:
    """Each character answers with a line that says who it is (votes fall through to the default)."""
    who = speaker(body)
    return None if who == "?" else f"{who} here, thanks friend, lovely point."


@pytest.fixture
async def make_ensemble(db_url: str, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Harness]]]:
    started: list[Harness] = []

    async def factory(**config: Any) -> Harness:
        config = {"ensemble_characters": "atlas", "banter_chance": "0", **config}
        h = Harness(db_url=db_url, tmp_path=tmp_path, config=config)
        h.claude.responder = answer_as_speaker
        await h.start()
        started.append(h)
        return h

    yield factory
    for h in started:
        await h.close()


def requests_of(h: Harness, who: str) -> list[Any]:
    return [r for r in h.claude.requests if r.model != VOTER and speaker(r.body) == who]


async def posted_in_the_end(h: Harness, count: int) -> None:
    """Once the bot has finished with every message in the channel (the characters' own posts, which may
    draw answers, included), ``count`` messages are there: no more."""
    await h.channel_handled(CHANNEL_ID)
    assert len(h.discord.posted(CHANNEL_ID)) == count, [m["content"] for m in h.discord.posted(CHANNEL_ID)]


# -- pure logic


def test_addressed_order_follows_the_text() -> None:
    names = {"finn": name_variants("Finn"), "atlas": name_variants("Atlas the Cartographer")}
    assert addressed_order("Atlas and Finn, hello", names) == ["atlas", "finn"]
    assert addressed_order("@Finn what does atlas think?", names) == ["finn", "atlas"]
    assert addressed_order("Finnish weather and an atlas-like book", names) == ["atlas"]
    assert addressed_order("nobody here", names) == []


def test_router_prefers_topics_then_the_last_speaker_then_the_main_character() -> None:
    now = [0.0]
    router = CharacterRouter(sticky_seconds=60, clock=lambda: now[0])

    class _Character:
        def __init__(self, interests: tuple[str, ...]) -> None:
            self.persona = Persona(name="x", system_prompt="", topic_interests=interests)

    from bot.reply.ensemble import CastMember

    cast = [CastMember("finn", _Character(("tea",))),  # type: ignore[arg-type]
            CastMember("atlas", _Character(("maps", "hiking routes")))]  # type: ignore[arg-type]

    def msg(text: str) -> Incoming:
        from datetime import UTC, datetime
        return Incoming(1, 5, "alice", text, datetime.now(UTC), place=place(10, False, 1))

    assert in_english(router.route(msg("any good hiking routes or maps?"), cast)) == (
        "atlas", "topic interest: maps")
    assert router.route(msg("what about lunch"), cast)[0] == "finn"
    router.spoke(10, "atlas")
    assert in_english(router.route(msg("what about lunch"), cast)) == ("atlas", "spoke last here")
    assert router.route(msg("some tea please"), cast)[0] == "finn"  # a topic beats stickiness
    now[0] = 61
    assert in_english(router.route(msg("what about lunch"), cast)) == ("finn", "main character")


def test_affinity_scales_banter_and_exchanges_move_it() -> None:
    assert banter_probability(0.3, 0) == pytest.approx(0.3)
    assert banter_probability(0.3, 10) == pytest.approx(0.6)
    assert banter_probability(0.3, -10) == 0.0
    assert banter_probability(0.8, 10) == 1.0
    # the answering character's own judgement of the words it answered (its reply's <felt> tag), not words
    assert (exchange_delta(("praise", "warmth")) > exchange_delta(("banter",)) > exchange_delta(None)
            == exchange_delta(("surprise",)) == exchange_delta(()) > 0 > exchange_delta(("conflict",)))


# -- over the wire


async def test_a_named_character_answers_through_its_own_webhook(
        make_ensemble: Callable[..., Awaitable[Harness]]) -> None:
    h = await make_ensemble(ensemble_characters="atlas,lumen")
    await h.say("Atlas, which way is north from here?")
    [posted] = await h.replies(CHANNEL_ID, 1)
    assert posted["webhook_id"] and posted["author"]["username"] == "Atlas"
    assert posted["content"].startswith("Atlas here")
    hooks = [w for w in h.discord.webhooks.values() if w["channel_id"] == str(CHANNEL_ID)]
    assert [w["name"] for w in hooks] == ["Kindred atlas"]
    assert requests_of(h, "Atlas") and not requests_of(h, "Finn")

    await h.say("Lumen, are you there?")
    posted = (await h.replies(CHANNEL_ID, 2))[-1]
    assert posted["author"]["username"] == "Lumen"
    lumen_hook = next(w for w in h.discord.webhooks.values() if w["name"] == "Kindred lumen")
    assert lumen_hook["_avatar_data"], "Lumen's card image is its webhook avatar"

    await h.say("Finn, a cup of tea please")
    posted = (await h.replies(CHANNEL_ID, 3))[-1]
    assert "webhook_id" not in posted or not posted["webhook_id"]
    assert int(posted["author"]["id"]) == h.bot_user_id and posted["content"].startswith("Finn here")
    await posted_in_the_end(h, 3)  # banter_chance 0: nobody answers anybody unprompted

    # After a restart the same webhooks are found again, not created twice.
    await h.restart()
    await h.say("Atlas, and south?")
    posted = (await h.replies(CHANNEL_ID, 4))[-1]
    assert posted["author"]["username"] == "Atlas"
    assert len([w for w in h.discord.webhooks.values() if w["name"] == "Kindred atlas"]) == 1
    # Each character keeps its own conversation history (written just after the reply is sent).
    scope = f"channel:{CHANNEL_ID}"

    async def said_to(key: str) -> list[str]:
        return [t.content for t in (await h.store.conversations.history(key, h.user_id, scope)).turns
                if t.role == "user"]

    async def atlas_heard_both() -> bool:
        return len(await said_to("atlas")) == 2
    await eventually(atlas_heard_both, "both lines stored in Atlas's conversation")
    assert await said_to("atlas") == ["Atlas, which way is north from here?", "Atlas, and south?"]
    key = h.bot.services.pipeline.character_key
    assert await said_to(key) == ["Finn, a cup of tea please"]  # type: ignore[union-attr]


async def test_characters_named_together_answer_in_order_and_the_second_sees_the_first(
        make_ensemble: Callable[..., Awaitable[Harness]]) -> None:
    h = await make_ensemble()
    h.claude.script("Kelp tea, obviously.", match=lambda b: speaker(b) == "Finn", delay=0.3)
    await h.say("Finn and Atlas, what should I drink before a long hike?")
    first, second = await h.replies(CHANNEL_ID, 2)
    assert int(first["author"]["id"]) == h.bot_user_id and first["content"] == "Kelp tea, obviously."
    assert second["author"]["username"] == "Atlas"
    [atlas_request] = requests_of(h, "Atlas")
    text = FakeClaude.all_text(atlas_request)
    assert "[Answered since, before your turn]" in text and "Kelp tea, obviously." in text
    await posted_in_the_end(h, 2)


async def test_the_router_picks_by_topic_then_keeps_the_last_speaker(
        make_ensemble: Callable[..., Awaitable[Harness]]) -> None:
    h = await make_ensemble()
    h.claude.script("yes", model=VOTER, times=None)
    await h.say("what does everyone think about lunch?")
    [first] = await h.replies(CHANNEL_ID, 1)
    assert int(first["author"]["id"]) == h.bot_user_id, "nobody addressed, no topic: the main character"
    await h.say("does anyone know good hiking routes around the ridge?")
    second = (await h.replies(CHANNEL_ID, 2))[-1]
    assert second["author"]["username"] == "Atlas", "Atlas's topic interest"
    await h.say("and is it worth going in the rain?")
    third = (await h.replies(CHANNEL_ID, 3))[-1]
    assert third["author"]["username"] == "Atlas", "sticky: Atlas spoke last here"
    # The vote that let Atlas in was Atlas's own.
    votes = [r for r in h.claude.requests if r.model == VOTER]
    assert any("Should Atlas reply" in FakeClaude.all_text(r) for r in votes)


async def test_sticky_routing_expires(make_ensemble: Callable[..., Awaitable[Harness]]) -> None:
    h = await make_ensemble(router_sticky_seconds="0")
    h.claude.script("yes", model=VOTER, times=None)
    await h.say("any good maps of the coast?")
    assert (await h.replies(CHANNEL_ID, 1))[-1]["author"]["username"] == "Atlas"
    router = h.bot.services.ensemble.router  # type: ignore[union-attr]
    now = router.clock
    router.clock = lambda: now() + 1.0  # a second later: past the 0 s stickiness, without waiting it out
    await h.say("and is it worth going in the rain?")
    assert int((await h.replies(CHANNEL_ID, 2))[-1]["author"]["id"]) == h.bot_user_id


async def test_banter_stops_at_the_loop_cap_until_a_person_speaks(
        make_ensemble: Callable[..., Awaitable[Harness]]) -> None:
    h = await make_ensemble(banter_chance="1", max_character_turns="2")
    await h.say("Finn, tell me about your day")
    posts = await h.replies(CHANNEL_ID, 3)
    await posted_in_the_end(h, 3)
    authors = ["Atlas" if p.get("webhook_id") else "Finn" for p in posts]
    assert authors == ["Finn", "Atlas", "Finn"]
    # Atlas answered Finn's words, which it saw as a message from Finn.
    atlas_text = FakeClaude.all_text(requests_of(h, "Atlas")[0])
    assert "Finn here, thanks friend" in atlas_text
    finn = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    async def affinity() -> tuple[float, int] | None:  # written just after each answer is posted
        value, exchanges = await h.store.characters.affinity("atlas", finn)
        return (value, exchanges) if exchanges >= 2 else None
    value, exchanges = await eventually(affinity, "the affinity of two exchanges")
    assert exchanges == 2 and value > 0  # two warm exchanges

    await h.say("Finn, and tomorrow?")  # a person speaks: the count starts again
    await h.replies(CHANNEL_ID, 6)
    await posted_in_the_end(h, 6)


@pytest.mark.parametrize(("felt", "finn_says", "atlas_says"), [
    ("praise, warmth", "Finn hier. Ich habe heute Karten gezeichnet.", "Wunderbare Karten, ich freue mich!"),
    ("conflict", "フィンです。地図なんて役に立たないよ。", "そんなことはない。"),
])
async def test_an_exchange_moves_the_pair_by_the_answering_characters_own_judgement_in_any_language(
        make_ensemble: Callable[..., Awaitable[Harness]], felt: str, finn_says: str, atlas_says: str) -> None:
    """Atlas's answer to Finn carries its model's judgement of Finn's words (the <felt> tag every reply
    begins with, read from their meaning in whatever language they talk in): warmth brings the pair
    closer than familiarity alone, hostility drives them apart. No word of either is read by Kindred."""
    h = await make_ensemble(banter_chance="1", max_character_turns="1")

    def answer(body: dict[str, Any]) -> str | None:
        who = speaker(body)
        return {"Finn": finn_says, "Atlas": f"<felt>{felt}</felt>\n{atlas_says}"}.get(who)

    h.claude.responder = answer
    await h.say("Finn, wie war dein Tag?")
    posts = await h.replies(CHANNEL_ID, 2)
    await posted_in_the_end(h, 2)
    assert [p["content"] for p in posts] == [finn_says, atlas_says]  # the tag is never shown
    finn = h.bot.services.pipeline.character_key  # type: ignore[union-attr]

    async def affinity() -> float | None:  # written just after Atlas's answer is posted
        value, exchanges = await h.store.characters.affinity("atlas", finn)
        return value if exchanges else None

    value = await eventually(affinity, "the affinity of Atlas's answer")
    assert value > exchange_delta(None) if felt != "conflict" else value < 0, value


async def test_hostile_affinity_silences_banter(make_ensemble: Callable[..., Awaitable[Harness]]) -> None:
    h = await make_ensemble(banter_chance="1")
    finn = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    for _ in range(5):
        await h.store.characters.adjust_affinity("atlas", finn, -2.0)
    assert (await h.store.characters.affinity("atlas", finn))[0] == -10.0
    await h.say("Finn, tell me about your day")
    await h.replies(CHANNEL_ID, 1)
    await posted_in_the_end(h, 1)


async def test_every_character_of_the_ensemble_summarizes_its_own_conversations(
        make_ensemble: Callable[..., Awaitable[Harness]]) -> None:
    h = await make_ensemble(conversation_token_threshold="60", history_keep_messages="2",
                            recent_channel_messages="0")
    summary = "Alice asked me about the ridge and the old north road."
    atlas = h.bot.services.ensemble.member("atlas").pipeline.persona  # type: ignore[union-attr]
    summary_cue = atlas.summarization_prompt[:40]
    memory_cue = atlas.core_memory_prompt.split("{")[0]

    def respond(body: dict[str, Any]) -> str | None:
        text = FakeClaude.all_text(body)
        if summary_cue in text:
            return summary
        if memory_cue in text:
            return "- Alice is planning a ridge walk."
        return answer_as_speaker(body)

    h.claude.responder = respond
    lines = ["Atlas, which ridge is the tallest around here, and how long does it take to climb it?",
             "Atlas, is the old north road still passable after the spring floods this year?",
             "Atlas, would you draw me a map of the shortcut past the observatory, please?"]
    for i, line in enumerate(lines, 1):
        await h.say(line)
        await h.replies(CHANNEL_ID, i)
    scope = f"channel:{CHANNEL_ID}"
    async def summarized() -> str:
        return (await h.store.conversations.history("atlas", h.user_id, scope)).summary
    await eventually(summarized, "Atlas's summary")
    assert (await h.store.conversations.history("atlas", h.user_id, scope)).summary == summary
    [summary_request, *_] = [r for r in h.claude.requests if summary_cue in FakeClaude.all_text(r)]
    system = FakeClaude.system_text(summary_request)
    assert system.startswith("You keep Atlas's private notes") and '<character name="Atlas">\nYou are Atlas' \
        in system, "summarized in Atlas's own voice"
    finn = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    assert (await h.store.conversations.history(finn, h.user_id, scope)).turns == []


async def test_a_thread_goes_on_with_the_character_who_answered_there(
        make_ensemble: Callable[..., Awaitable[Harness]], caplog: pytest.LogCaptureFixture) -> None:
    """Conversations in threads with several characters: the thread opened from a message Atlas answered
    goes on with Atlas, every message there answered by right (no vote, no router's chance); another
    thread opened by Finn goes on with Finn."""
    h = await make_ensemble(conversation_threads="true", global_response_chance="0")
    h.claude.script("no", model=VOTER, times=None)  # a vote, were one held, would let nobody in
    asked = await h.say("Atlas, which map for a walk on the fells?")
    thread = await h.discord.wait_for(lambda d: d.thread_of(int(asked["id"])), what="Atlas's thread")
    tid = int(thread["id"])
    [first] = await h.replies(tid, 1)
    assert first["author"]["username"] == "Atlas" and first["webhook_id"]
    for n, text in enumerate(("and the scale?", "is it waterproof?"), start=2):
        await h.say(text, channel=tid)
        posted = await h.replies(tid, n)
        assert posted[-1]["author"]["username"] == "Atlas", posted[-1]
    assert not [r for r in h.claude.requests if r.model == VOTER]
    assert len(requests_of(h, "Atlas")) == 3 and not requests_of(h, "Finn")

    other = await h.say("Finn, a tea for the walk?")
    theirs = await h.discord.wait_for(lambda d: d.thread_of(int(other["id"])), what="Finn's thread")
    await h.replies(int(theirs["id"]), 1)
    await h.say("with honey?", channel=int(theirs["id"]))
    posted = await h.replies(int(theirs["id"]), 2)
    assert all(int(p["author"]["id"]) == h.bot_user_id for p in posted)
    assert h.discord.posted(CHANNEL_ID) == []
    # Atlas's last answer there is swiped through its channel's webhook, in the thread, from the thread's talk
    last = h.discord.posted(tid)[-1]
    await h.discord.wait_for(lambda _: last.get("components"), what="the swipe buttons in the thread")
    await (await press(h, last, "new")).response()
    await h.discord.wait_for(lambda _: any(c.get("label") == "2/2" for c in buttons(last)),
                             what="the second alternative")
    hook = h.discord.webhooks[int(last["webhook_id"])]
    edits = [r for r in h.discord.requests
             if r.method == "PATCH" and r.path.endswith(f"/messages/{last['id']}")]
    assert edits and all(r.path.startswith(f"/webhooks/{hook['id']}/") for r in edits)
    assert all(r.query.get("thread_id") == str(tid) for r in edits)
    swipe = FakeClaude.all_text(requests_of(h, "Atlas")[-1])
    assert "is it waterproof?" in swipe and "a tea for the walk" not in swipe  # the thread's own talk
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
