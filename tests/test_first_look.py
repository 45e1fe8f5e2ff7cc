"""The first look (bot/reply/deciding/firstlook.py): which unaddressed messages get a vote at all.

Over the wire: an ordinary message in a quiet channel costs no vote request at the fake Claude, one about
the card's interests is still voted on (and answered), and an @mention is answered at once, without a
vote. Then unit tests of the pure logic: the card's profile, the budget, talkativeness, recency, the
channel's topic and the window sized by its pace."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from bot.core.config.sections import TriageSettings
from bot.core.persona.model import Persona
from bot.core.pipeline import Incoming
from bot.reply.deciding import CardProfile, FirstLook
from tests.harness import CHANNEL_ID, LOG_CHANNEL_ID, USER2_ID, Harness, MakeHarness

VOTER, DEFAULT = "claude-test-voter", "claude-test-default"


def votes(h: Harness) -> list[Any]:
    return h.claude.requests_for(VOTER)


async def decision_line(h: Harness, said: str) -> str:
    """The decision mirrored to the log channel (verbose mode) for the message that said ``said``."""
    found = await h.discord.wait_for(
        lambda _: [m["content"] for m in h.discord.posted(LOG_CHANNEL_ID) if f"“{said}”" in m["content"]],
        what=f"the decision on {said!r}",
    )
    return str(found[0])


async def test_only_an_interesting_unaddressed_message_is_voted_on_and_a_mention_never_waits(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness(first_look="true", verbose_logging="true")
    dull = "the harbour was busy this morning"
    await h.say(dull, user=USER2_ID)
    assert "stay quiet (first look: not interesting enough" in await decision_line(h, dull)
    assert votes(h) == []

    h.claude.script("yes", model=VOTER, times=3)
    h.claude.script("Four minutes, never five. Kelp goes bitter.", model=DEFAULT)
    tea = "how long should kelp tea steep, does anyone know?"
    await h.say(tea, user=USER2_ID)
    [reply] = await h.replies(CHANNEL_ID, 1)
    assert reply["content"] == "Four minutes, never five. Kelp goes bitter."
    assert len(votes(h)) == 3 and all(tea in r.all_text() for r in votes(h))
    assert "reply (majority vote; votes: yes yes yes" in await decision_line(h, tea)

    h.claude.script("Busy harbour, busy stall!", model=DEFAULT)
    await h.say("the harbour is still busy", mention=True)
    replies = await h.replies(CHANNEL_ID, 2)
    assert replies[-1]["content"] == "Busy harbour, busy stall!"
    assert len(votes(h)) == 3  # answered directly: no vote, no first look


# --------------------------------------------------------------------------- the pure logic


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


FINN = Persona(
    name="Finn",
    system_prompt=(
        "You are Finn, a walking fish who runs a tea stall by the tide pools. You brew kelp tea and seafoam "
        "chai; you worry about seagulls. You care about the tide tables, your tea and the people who visit. "
        "Reply in short messages and stay in character."
    ),
    description="A walking fish with a tea stall.",
)


def message(text: str, channel: int = 1, n: int = 1, guild: int | None = 3) -> Incoming:
    return Incoming(
        message_id=n,
        channel_id=channel,
        author_id=7,
        author_name="bob",
        content=text,
        created_at=datetime.now(UTC),
        is_dm=False,
        guild_id=guild,
    )


def first_look(persona: Persona = FINN, **settings: Any) -> tuple[FirstLook, Clock]:
    clock = Clock()
    triage = TriageSettings(**{"first_look": True, **settings})
    return FirstLook(triage, lambda: persona, clock), clock


def test_the_cards_own_words_interest_it_and_its_boilerplate_and_name_do_not() -> None:
    profile = CardProfile.of(FINN)
    assert profile.interest("how long should kelp tea steep?") >= 1.0
    assert profile.interest("what time is high tide tonight") >= 1.0
    assert profile.interest("the harbour was busy this morning") == 0.0
    # "reply", "messages", "character", "people" are in the card, but say nothing about what Finn cares for
    assert profile.interest("reply to my messages people, stay in character") == 0.0
    assert profile.interest("finn") == 0.0  # the name is addressing's, not interest's


def test_topic_interests_and_their_categories_weigh_most() -> None:
    gamer = dataclasses.replace(FINN, topic_interests=("gaming", "elder_scrolls"))
    profile = CardProfile.of(gamer)
    assert profile.interest("anyone on steam tonight?") >= 2.0  # the gaming category's keywords
    assert profile.interest("the elder scrolls six trailer is out") >= 2.0


def test_a_dull_message_gets_no_vote_an_interesting_one_does() -> None:
    look, _ = first_look()
    assert not look.look(message("the harbour was busy this morning")).vote
    assert look.look(message("how long should kelp tea steep?")).vote


def test_off_every_message_gets_its_vote() -> None:
    look, _ = first_look(first_look=False)
    assert look.look(message("the harbour was busy this morning")).vote


def test_the_next_message_of_the_person_it_answered_is_worth_a_vote_and_that_fades() -> None:
    look, clock = first_look()
    look.spoke(1, 7)  # it answered bob (author 7) in channel 1
    clock.now += 10
    assert look.look(message("haha that sounds awful")).vote
    assert not look.look(message("haha that sounds awful", channel=2)).vote  # it spoke in channel 1 only
    other = dataclasses.replace(message("haha that sounds awful"), author_id=8)
    assert not look.look(other).vote  # someone else's message is not an answer to it
    clock.now += 600
    assert not look.look(message("haha that sounds awful")).vote


def test_a_conversation_about_its_interests_keeps_its_follow_ups_interesting() -> None:
    look, clock = first_look()
    for said in (
        "kelp tea or seafoam chai? I can never choose at the stall",
        "the stall's chai, brewed strong",
        "kelp tea from the tide pools stall",
        "seafoam chai at the stall, with tea to follow",
    ):
        look.look(message(said))
        clock.now += 5
    assert look.look(message("honestly the second one, so spicy")).vote
    clock.now += 1800  # the topic has faded
    assert not look.look(message("honestly the second one, so spicy")).vote


def test_one_interesting_message_among_many_does_not_carry_the_next() -> None:
    look, clock = first_look()
    for _ in range(5):
        look.look(message("my train was late again"))
    look.look(message("kelp tea or seafoam chai? I can never choose at the stall"))
    assert not look.look(message("honestly the second one, so spicy")).vote


def test_talkativeness_scales_the_interest() -> None:
    text = "the tide was low today"  # tide: 1.0, just enough for a neutral card
    quiet, _ = first_look(dataclasses.replace(FINN, talkativeness=0.2))
    neutral, _ = first_look()
    chatty, _ = first_look(dataclasses.replace(FINN, talkativeness=1.0))
    assert neutral.look(message(text)).vote and not quiet.look(message(text)).vote
    assert chatty.look(message(text)).score == 1.5 * neutral.look(message(text, channel=2)).score


def test_the_budget_rises_the_bar_past_its_half_and_stops_votes_once_spent() -> None:
    look, clock = first_look(vote_budget_per_hour=4)
    mild = "the tide was low today"  # tide: 1.0, just enough at the threshold
    assert look.look(message(mild, channel=5)).vote
    look.voted(5)
    look.voted(5)
    assert look.look(message(mild, channel=9)).vote  # another channel: its own budget
    clock.now += 1800  # the channel's topic has faded; its rounds are still within the hour
    assert look.look(message(mild, channel=5)).vote  # half the budget spent: still the threshold
    look.voted(5)
    assert not look.look(message(mild, channel=5)).vote  # three quarters: the bar is 2
    strong = "kelp tea at the tide pools stall, with seafoam chai"
    assert look.look(message(strong, channel=5)).vote
    look.voted(5)
    refused = look.look(message(strong, channel=5))
    assert not refused.vote and "budget is spent" in refused.reason
    clock.now += 3601  # an hour later its rounds are no longer counted (and its topic has faded)
    assert look.look(message(mild, channel=5)).vote


def test_the_vote_window_grows_with_the_channels_pace() -> None:
    look, clock = first_look()
    assert look.window(1, 2.0) == 2.0  # never heard: the setting
    for _ in range(600):  # ten messages a second for a minute
        look.heard(1)
        clock.now += 0.1
    busy = look.window(1, 2.0)
    assert 2.0 < busy <= 8.0
    look.heard(2)
    assert look.window(2, 2.0) == 2.0  # a quiet channel keeps the setting
    assert look.window(1, 0.0) == 0.0  # 0: a round per message, whatever the pace
    off, _ = first_look(first_look=False)
    off.heard(1)
    assert off.window(1, 2.0) == 2.0


def test_a_card_word_the_chat_says_all_the_time_weighs_less() -> None:
    look, _ = first_look()
    patch = "that tide patch broke my build"  # "tide": a word of the card, and here the server's jargon
    assert look.look(message(patch)).vote  # before the chat is known, every card word weighs one
    for n in range(1000):  # one message in ten says it
        look.look(message(patch if n % 10 == 0 else "my train was late again", channel=100 + n))
    assert not look.look(message(patch, channel=2)).vote
    assert look.look(message("do you still brew kelp tea?", channel=3)).vote  # the card's other words do not


def test_one_servers_talk_about_a_card_word_does_not_mute_it_elsewhere() -> None:
    look, _ = first_look()
    kelp = "do you still brew kelp tea?"
    for n in range(400):  # one server talks of nothing but kelp tea
        look.look(message(kelp, channel=100 + n % 5))
    assert not look.look(message(kelp, channel=100)).vote  # there, it is the chat's jargon
    assert look.look(message(kelp, channel=2, guild=4)).vote  # another server's talk of it still interests
    assert look.look(message(kelp, channel=5, guild=None)).vote  # as a place of no server's
