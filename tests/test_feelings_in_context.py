"""Feelings per relationship, over the wire (fake Discord + fake Claude): what the reply requests the fake
Claude receives say about how the character feels. What a message carries is the reply's model's to judge
(its ``<felt>`` tag, scripted here with tests/felt_support.py); before the reply only its language-neutral
signs count. One person's hostility in a channel
stays with that person (and that channel); a person's own distress makes the character concerned, not
defensive; the night follows the character's own time zone and a card can do without it; and the one state
line never holds two moods pulling against each other."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.alive.appraisal import appraise
from bot.alive.regard import Regard, since_words
from bot.alive.regard import state_line as full_line
from bot.alive.service import SaidFeelings
from bot.core.config import PROJECT_ROOT
from bot.core.config.sections import AliveSettings
from bot.core.localtime import load_zone
from bot.features.reactions.reacting import warm_stimuli
from database.records import RelationshipRecord
from database.visibility import Audience
from memory.relationships import lasting
from tests.fakes.claude_server import FakeClaude
from tests.felt_support import feels
from tests.harness import USER2_ID, USER_ID, Harness, MakeHarness, consolidate, exchange, reply_requests
from tests.test_memory_commands import forget

# the feeling leads the fenced state (bot/reply/prompting.py), said only when something stands out
LINE = re.compile(r"<state>\n((?:Toward|It is late)[^\n]*)")
OLD_LABELS = ("You feel rattled", "You feel irritable", "You feel sleepy", "You feel affectionate",
              "You feel cheerful", "You feel content", "You feel lonely", "You feel excited")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def set_clock(h: Harness, clock: Clock) -> None:
    assert h.bot is not None
    h.bot.services.alive.clock = clock


def said_feelings(h: Harness) -> SaidFeelings:
    """How the character says it feels unprompted (a check-in's line), from the running bot's own parts."""
    alive = h.bot.services.alive  # type: ignore[union-attr]
    return SaidFeelings(alive.speaker, alive.parts, alive.settings)


def state_line(request: Any) -> str:
    """The state line in force in a reply request ("" when nothing stands out: a reply leaves it unsaid)."""
    found = LINE.findall(FakeClaude.all_text(request))
    return str(found[-1]) if found else ""


async def dm(h: Harness, text: str, n: int, *, user: int | None = None, felt: str | None = None) -> str:
    """DM the character; the state line its reply was asked with, once the exchange is stored; ``felt``:
    what the reply's model judges the message carries (None: no tag, as the fake's default answer)."""
    if felt is not None:
        feels(h.claude, felt)
    sent = await h.dm(text, user=user)
    await h.replies(int(sent["channel_id"]), n)
    await h.bot.in_flight.drain()
    return state_line(reply_requests(h)[-1])


def afternoon() -> datetime:
    return datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 14:00 UTC, with timezone=UTC: no night


async def test_bobs_insults_in_a_channel_leave_alices_dm_feeling_unchanged(make_harness: MakeHarness) -> None:
    h = await make_harness(timezone="UTC")
    clock = Clock(afternoon())
    set_clock(h, clock)
    before = await dm(h, "hello finn, how is the tide today?", 1)
    assert before == ""  # at ease: nothing stands out, nothing said

    for n, insult in enumerate(("you're useless", "you are so stupid, finn", "shut up, go away"), 1):
        clock.now += timedelta(minutes=1)
        feels(h.claude, "conflict")
        await exchange(h, insult, n, user=USER2_ID)
    await exchange(h, "still there?", 4, user=USER2_ID)
    at_bob = state_line(reply_requests(h)[-1])
    assert at_bob.startswith("Toward bob you feel stung: a little guarded")  # toward the one who caused it

    clock.now += timedelta(minutes=1)
    after = await dm(h, "anything new on the docks?", 2)
    assert after == before  # alice's DM: as it was
    assert "stung" not in FakeClaude.all_text(reply_requests(h)[-1])
    await exchange(h, "hi all", 5)  # alice in the channel: the room is tense, she is not to blame
    assert state_line(reply_requests(h)[-1]) == (
        "Toward alice you feel at ease; the room feels tense.")

    await h.restart()  # kept in the database, read at each exchange
    set_clock(h, clock)
    await exchange(h, "well?", 6, user=USER2_ID)
    assert state_line(reply_requests(h)[-1]).startswith("Toward bob you feel stung")
    clock.now += timedelta(days=2)  # and it fades
    await exchange(h, "hello again", 7, user=USER2_ID)
    assert state_line(reply_requests(h)[-1]) == ""  # at ease again


async def test_a_message_that_carries_nothing_leaves_the_kept_feelings_as_they_were(
        make_harness: MakeHarness) -> None:
    """No feeling is written for an exchange that carries nothing (time alone fades them, as they are read);
    one kept of someone who opted out since goes at their next exchange, whatever it carries."""
    h = await make_harness(timezone="UTC")
    clock = Clock(afternoon())
    set_clock(h, clock)
    key = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    await dm(h, "hello, how is the tide today?", 1)
    assert await h.store.feelings.read(key, USER_ID) == ("", "")  # nothing carried: nothing kept
    await dm(h, "thank you finn, you're the best <3", 2)
    kept, _ = await h.store.feelings.read(key, USER_ID)
    assert kept
    clock.now += timedelta(minutes=30)
    await dm(h, "ok, and the boats?", 3)
    assert await h.store.feelings.read(key, USER_ID) == (kept, "")  # as it was: no write
    assert (await dm(h, "see you", 4)).startswith("Toward alice you feel")  # faded by the hour as read
    await (await h.slash("memory", [{"type": 1, "name": "opt-out", "options": []}])).message()
    await dm(h, "and tomorrow?", 5)
    assert await h.store.feelings.read(key, USER_ID) == ("", "")


async def test_a_reply_says_nothing_of_feelings_when_nothing_stands_out(make_harness: MakeHarness) -> None:
    h = await make_harness(timezone="UTC")
    clock = Clock(afternoon())
    set_clock(h, clock)
    await h.store.state.set("daily_mood", "Playful, in the mood for jokes.")
    assert await dm(h, "hello finn, how is the tide today?", 1) == ""
    asked = FakeClaude.all_text(reply_requests(h)[-1])
    # no "at ease", no "your mood colours this" (the mood is in the character block): no state at all
    assert "<state>\n" not in asked and "Toward alice" not in asked and "colours this" not in asked
    clock.now += timedelta(minutes=1)
    # the message answered moves the line of the reply to it, not the next one's
    assert (await dm(h, "thank you finn, you're the best <3", 2)).startswith(
        "Toward alice you feel a little fond: warm and familiar with them (just now, after their warmth).")
    clock.now += timedelta(minutes=1)
    assert (await dm(h, "see you", 3)).startswith("Toward alice you feel")  # and it still stands out
    checkin = await said_feelings(h).toward(USER2_ID, "bob", "")
    assert checkin.endswith("Toward bob you feel at ease.")  # a check-in's line is said in full


def test_a_quiet_state_says_the_night_alone_when_only_the_night_stands_out() -> None:
    calm = Regard.calm(afternoon())
    assert full_line("alice", calm, mood="Playful.", quiet=True) == ""
    assert full_line("alice", calm, mood="Playful.", night=True, quiet=True).endswith(
        "\nIt is late at night for you: a little tired.")
    tense = calm.moved(("conflict",), afternoon())
    assert "the room feels tense" in full_line("alice", calm, room=tense, quiet=True)  # the room stands out


async def test_a_persons_own_distress_gets_concern_not_defence(make_harness: MakeHarness) -> None:
    h = await make_harness(timezone="UTC")
    clock = Clock(afternoon())
    set_clock(h, clock)
    await h.store.state.set("daily_mood", "Playful, in the mood for jokes.")
    await dm(h, "I feel so stupid, I messed up at work", 1, felt="distress")
    line = await dm(h, "sorry, long day", 2)
    assert line.startswith("Toward alice you feel concerned: they are having a hard time: be gentle")
    assert "Your mood today stays in the background." in line  # the jokes wait
    text = FakeClaude.all_text(reply_requests(h)[-1])
    for defensive in ("defensive", "stung", "guarded", "rattled", "irritable", "terse"):
        assert defensive not in text.replace("nothing defensive", "")
    assert "person_feelings" in await h.store.privacy.rows_about_user(USER_ID)
    await forget(h)  # a feeling toward someone is about them: /forget_me takes it
    assert await h.store.privacy.rows_about_user(USER_ID) == {}

    feels(h.claude, "none")  # negated: no quarrel with bob
    await h.dm("I'm not angry with you, I promise", user=USER2_ID)
    await h.replies(await h.dm_channel_id(USER2_ID), 1)
    await h.bot.in_flight.drain()
    assert await dm(h, "ok", 2, user=USER2_ID) == ""  # at ease
    await dm(h, "you're useless, finn", 3, user=USER2_ID, felt="conflict")  # aimed at the character
    assert (await dm(h, "hm", 4, user=USER2_ID)).startswith("Toward bob you feel a little stung")


@pytest.mark.parametrize(("text", "expected"), [
    ("😭😭 la entrevista salió fatal", ("distress",)),
    ("ich vermisse dich <3", ("warmth",)),
    ("ありがとう🙏", ("praise",)),
    ("what?!", ("surprise",)),
    ("なに？！", ("surprise",)),
    ("🖕", ("conflict",)),
    ("I feel so stupid, I messed up at work", ()),  # words are the reply's model's to read
    ("私はとても悲しい", ()),
    ("the tide comes in at six", ()),
])
def test_before_the_reply_only_signs_any_language_shares_are_read(
        text: str, expected: tuple[str, ...]) -> None:
    assert appraise(text) == expected


def test_an_emote_reaction_reads_warmth_from_its_signs() -> None:
    assert warm_stimuli("haha love it 🥰🙏") == ("praise", "warmth")
    assert warm_stimuli("¡me encanta! <3") == ("warmth",)
    assert warm_stimuli("haha love it, thanks!") == ()  # words: no model reads an unanswered message
    assert warm_stimuli("thanks <3 🖕") == ()


async def test_the_night_follows_the_characters_zone_and_a_card_can_do_without(
        make_harness: MakeHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = await make_harness(timezone="Asia/Tokyo")  # UTC+9, no summer time
    clock = Clock(datetime(2026, 11, 25, 14, 30, tzinfo=UTC))  # 23:30 in Tokyo, the afternoon in UTC
    set_clock(h, clock)
    night = await dm(h, "still up?", 1)
    assert night.endswith("It is late at night for you: a little tired.")
    clock.now = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)  # 14:00 in Tokyo
    assert "night" not in await dm(h, "good afternoon!", 2)

    folder = tmp_path / "finn"  # the same character, its card saying it keeps no daily rhythm
    shutil.copytree(PROJECT_ROOT / "characters" / "finn", folder)
    with (folder / "character.env").open("a", encoding="utf-8") as env:
        env.write("\ncircadian=false\n")
    h2 = await make_harness(character_dir=folder, timezone="Asia/Tokyo")
    set_clock(h2, Clock(datetime(2026, 11, 25, 14, 30, tzinfo=UTC)))
    assert "night" not in await dm(h2, "still up?", 1)

    # No timezone set: the machine's own zone, not UTC.
    assert AliveSettings().timezone == ""
    monkeypatch.setenv("TZ", "America/Lima")
    assert load_zone("").key == "America/Lima"


async def test_the_state_line_never_holds_two_contradictory_moods(make_harness: MakeHarness) -> None:
    h = await make_harness(timezone="UTC")
    clock = Clock(datetime(2026, 11, 25, 23, 30, tzinfo=UTC))  # late at night, a playful day
    set_clock(h, clock)
    await h.store.state.set("daily_mood", "Playful, in the mood for jokes.")
    said = {"hi finn!": "none", "you're the best, thank you <3": "praise, warmth",
            "I feel awful, I failed my exam": "distress", "wow, no way?!": "surprise",
            "you're useless": "conflict", "whatever, shut up": "conflict", "sorry finn, I love you": "warmth",
            "ok": "none"}
    for n, (text, felt) in enumerate(said.items(), 1):
        clock.now += timedelta(minutes=2)
        await dm(h, text, n, felt=felt)
    leads = ("at ease", "fond", "pleased", "stung", "concerned", "surprised", "amused", "relieved for them")
    seen = set()
    for request in reply_requests(h)[-len(said):]:
        text = FakeClaude.all_text(request)
        assert not any(old in text for old in OLD_LABELS)  # no second, character-wide feeling
        line = state_line(request)
        if "you feel" not in line:  # nothing stands out: only the night is said
            assert line == "It is late at night for you: a little tired."
            seen.add("at ease")
            continue
        assert line.count("you feel") == 1
        [lead] = [w for w in leads if f"you feel {w}" in line or f"you feel a little {w}" in line]
        seen.add(lead)
        heavy = lead in ("stung", "concerned")
        # a heavy lead: the day's jokes and the night's tiredness step back; a light one: they colour it
        assert ("stays in the background" in line) == heavy and ("colours this" in line) == (not heavy)
        assert ("you stay attentive" in line) == heavy and ("a little tired" in line) == (not heavy)
    assert {"stung", "concerned"} <= seen and seen & {"fond", "pleased"}


async def test_one_feeling_line_with_the_relationship_and_a_glad_message_eases_the_concern(
        make_harness: MakeHarness) -> None:
    """How the character feels about someone is one line: the recent feeling toward them leads, with since
    when and what it came from, and how it has come to feel about them over the days is its ground; no
    second "How you feel about" line to contradict it. A glad message from the one it worried about eases
    the worry; a worry from their DMs stays out of a public channel, the lasting feeling does not."""
    h = await make_harness(timezone="UTC")
    clock = Clock(afternoon())
    set_clock(h, clock)
    key = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    await dm(h, "hi finn", 1)
    await h.store.people.set_relationship(key, USER_ID, rapport=8.0, trust=8.0)
    await dm(h, "I'm so worried about my interview tomorrow", 2, felt="distress")
    clock.now += timedelta(hours=3)
    line = await dm(h, "still thinking about it", 3)
    assert line == ("Toward alice you feel a little concerned: they are having a hard time: be gentle, "
                    "listen first, nothing defensive (since this afternoon); over time you have come to feel "
                    "close to them and trusting of them, so comfort them as a friend would: concern, not "
                    "banter.")
    asked = FakeClaude.all_text(reply_requests(h)[-1])
    assert asked.count("Toward alice") == 1 and "How you feel about" not in asked
    assert '<person name="alice"></person>' not in asked

    await exchange(h, "morning all", 1)  # in the channel: her DM's worry is hers, the lasting feeling shows
    public = state_line(reply_requests(h)[-1])
    assert public == ("Toward alice you feel close to them and trusting of them: be familiar and playful; "
                      "you can be open.")

    clock.now += timedelta(minutes=5)
    await dm(h, "the bread came out perfect, thanks!", 4, felt="praise")
    eased = await dm(h, "anyway", 5)
    assert "concerned" not in eased and "be gentle" not in eased
    assert eased == ("Toward alice you feel a little pleased: upbeat and playful with them (just now, after "
                     "their kind words); over time you have come to feel close to them and trusting of them, "
                     "so it comes easily; you can be open.")  # the two agree: one line, no second "you feel"
    assert FakeClaude.all_text(reply_requests(h)[-1]).count("Toward alice") == 1


def test_since_when_is_said_in_the_characters_own_days() -> None:
    now = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    assert since_words(now - timedelta(minutes=20), now) == "just now"
    assert since_words(now.replace(hour=9), now) == "since this morning"
    assert since_words(now - timedelta(days=1), now) == "since yesterday"
    assert since_words(now - timedelta(days=3), now) == "since Sunday"
    assert since_words(now - timedelta(days=10), now) == "since 15 Nov"
    # 10:00 in Tokyo the next day: what began at 20:00 UTC (05:00 there) began that morning
    assert since_words(now, now + timedelta(hours=5), load_zone("Asia/Tokyo")) == "since this morning"


def test_since_when_is_kept_per_track_and_a_glad_word_eases_the_worry() -> None:
    """Each track keeps since when its feelings are felt: a worry told in a DM has no "since" a public reply
    could show; a glad message eases the worry; the times survive being stored."""
    start = afternoon()
    worried = Regard.calm(start).moved(("distress",), start, person=True)
    assert worried.since == {"concern": start} and worried.public_since == {}
    later = start + timedelta(hours=1)
    moved = worried.moved(("warmth",), later, person=True, public=True)
    kept = Regard.from_json(moved.to_json(), later)
    assert kept.since == {"concern": start, "warmth": later} and kept.public_since == {"warmth": later}
    public = kept.seen_by(USER_ID, Audience.place(private=False, guild=1, channel=2))
    assert public.since == {"warmth": later} and public.levels["concern"] == 0.0
    faded = worried.advanced(later).levels["concern"]
    assert kept.levels["concern"] == pytest.approx(faded / 2, abs=1e-3)  # eased, not only faded
    again = kept.moved(("distress",), later + timedelta(minutes=5))
    assert again.since["concern"] == start  # still felt: since when it began


async def test_with_the_feelings_off_the_relationship_is_still_said_in_one_line(
        make_harness: MakeHarness) -> None:
    h = await make_harness(emotions="false")
    await dm(h, "hi finn", 1)
    await h.store.people.set_relationship(h.bot.services.pipeline.character_key, USER_ID,  # type: ignore[union-attr]
                                          rapport=2.0, formality=3.0)
    line = await dm(h, "I feel awful today", 2)
    assert line == "Toward alice you feel distant from them: be reserved; keep a formal register."
    assert "How you feel about" not in FakeClaude.all_text(reply_requests(h)[-1])


async def test_the_lasting_feeling_says_since_when_and_a_dms_timing_stays_out_of_public(
        make_harness: MakeHarness) -> None:
    """How the character has come to feel about someone says since when it feels so, as the recent feeling
    does, per track: what their DMs changed is dated in their DMs (and a check-in) only, what public talk
    changed everywhere."""
    import json

    from tests.memory_support import is_extraction

    h = await make_harness(timezone="UTC", relationship_max_daily_change="3")
    clock = Clock(afternoon())
    set_clock(h, clock)
    judged = {"rapport": 3.0, "trust": 3.0}
    h.claude.responder = lambda body: json.dumps({"facts": [], "relationship": judged}) \
        if is_extraction(body) else None
    await dm(h, "hi finn, what is the kelp tea like", 1)
    await consolidate(h, clock.now)  # her DMs bring them close
    clock.now += timedelta(days=2)
    assert await dm(h, "ok, see you", 2) == (
        "Toward alice you feel close to them and trusting of them (since Wednesday): be familiar and "
        "playful; you can be open.")
    checkin = await said_feelings(h).toward(USER_ID, "alice", "")  # a check-in: a DM
    assert "(since Wednesday)" in checkin
    await exchange(h, "morning all", 1)  # in public: the same feeling, not when her DMs moved it
    assert state_line(reply_requests(h)[-1]) == (
        "Toward alice you feel close to them and trusting of them: be familiar and playful; you can be open.")

    judged.update(rapport=0.0, trust=0.0)  # her DM moves nothing more
    await h.bot.in_flight.drain()
    await consolidate(h, clock.now)
    judged.update(formality=-3.0)  # public talk makes it casual
    await exchange(h, "anyone tried the seafoam chai", 2)
    await h.bot.in_flight.drain()
    await consolidate(h, clock.now)
    clock.now += timedelta(hours=1)
    await exchange(h, "how is everyone", 3)
    assert state_line(reply_requests(h)[-1]) == (
        "Toward alice you feel close to them and trusting of them (since this afternoon): be familiar and "
        "playful; you can be open; speak casually.")


async def test_a_thank_you_from_someone_resented_over_time_gets_one_instruction(
        make_harness: MakeHarness) -> None:
    """A recent gladness and a lasting resentment are one instruction: the recent feeling leads, the lasting
    one tempers it ("warmer than usual, though ... stay guarded"), never "upbeat and playful" beside
    "angry", and a thank-you's sign shows in the reply to the thank-you itself."""
    h = await make_harness(timezone="UTC")
    clock = Clock(afternoon())
    set_clock(h, clock)
    key = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    await dm(h, "hi finn", 1, user=USER2_ID)
    await h.store.people.set_relationship(key, USER2_ID, anger=7.0, rapport=2.0)
    clock.now += timedelta(minutes=1)
    thanked = await dm(h, "thank you finn, that really helped 🙏", 2, user=USER2_ID, felt="praise")
    clock.now += timedelta(minutes=1)
    after = await dm(h, "anyway", 3, user=USER2_ID)
    for line in (thanked, after):
        assert line == ("Toward bob you feel a little pleased (just now, after their kind words), warmer "
                        "than usual, though over time you have come to feel angry with them and distant from "
                        "them: let it soften you a little, but stay guarded; don't turn effusive.")
        assert line.count("you feel") == 1 and "playful" not in line and "let it show" not in line
    asked = FakeClaude.all_text(reply_requests(h)[-1])
    assert asked.count("Toward bob") == 1 and "Over time" not in asked


async def test_distress_in_the_message_answered_gets_concern_in_that_very_reply_even_from_a_close_friend(
        make_harness: MakeHarness) -> None:
    """The signs of the message being answered are read before the reply is composed: a close friend's "my
    boss yelled at me 😭" is met with concern in the reply to it, over the fondness their thanks left and
    over closeness's playful register; the feeling is kept once, after the reply, as its model judged it."""
    h = await make_harness(timezone="UTC")
    clock = Clock(afternoon())
    set_clock(h, clock)
    await h.store.state.set("daily_mood", "Playful, in the mood for jokes.")
    key = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    await dm(h, "hi finn", 1)
    await h.store.people.set_relationship(key, USER_ID, rapport=8.0, trust=8.0)
    for n in (2, 3):
        clock.now += timedelta(minutes=1)
        await dm(h, "thank you finn, you're the best <3", n, felt="praise, warmth")
    fond, _ = await h.store.feelings.read(key, USER_ID)
    clock.now += timedelta(minutes=1)
    line = await dm(h, "my boss yelled at me in front of everyone 😭", 4, felt="distress")
    assert line == ("Toward alice you feel concerned: they are having a hard time: be gentle, listen "
                    "first, nothing defensive (just now); over time you have come to feel close to them and "
                    "trusting of them, so comfort them as a friend would: concern, not banter. Your mood "
                    "today stays in the background.")
    assert "playful" not in line and "fond" not in line
    kept, _ = await h.store.feelings.read(key, USER_ID)
    # kept once, after the reply: the message's effect is not counted twice
    assert kept != fond and Regard.from_json(kept, clock.now).levels["concern"] == pytest.approx(0.45)


def test_a_reply_to_a_message_already_kept_does_not_count_it_twice() -> None:
    """A swipe answers a message whose effect is kept already (``through``): shown as kept."""
    start = afternoon()
    kept = Regard.calm(start).moved(("distress",), start, person=True, message=42)
    again = Regard.from_json(kept.to_json(), start)
    assert again.holds(42) and not again.holds(43) and not Regard.calm(start).holds(42)


def test_distress_leads_a_line_over_stronger_fondness_and_a_hurt_from_a_friend_is_not_cold() -> None:
    now = afternoon()
    close = lasting(RelationshipRecord(rapport=8.0, trust=8.0))
    fond = Regard.calm(now).moved(("warmth",), now).moved(("warmth",), now).moved(("distress",), now)
    assert fond.lead() is not None and fond.lead()[0] == "warmth"  # type: ignore[index]
    line = full_line("alice", fond, lasting=close, answering=("distress",))
    assert "you feel concerned" in line and "concern, not banter" in line and "playful" not in line
    stung = Regard.calm(now).moved(("conflict",), now)
    line = full_line("alice", stung, lasting=close)
    assert "hurt more than cold" in line and "playful" not in line and "Over time" not in line
    # close but angry: the anger shows, not a playful register beside it
    mixed = lasting(RelationshipRecord(rapport=8.0, anger=7.0))
    assert "playful" not in full_line("alice", Regard.calm(now), lasting=mixed)


# A 20-turn DM as a good model would judge it: distress, relief, surprise, banter, an insult, thanks. What the
# state line says after each kind (bot/alive/regard.py JUDGED): the newest judged message leads.
SHOWN = {"distress": "concerned", "relief": "relieved for them", "surprise": "surprised", "banter": "amused",
         "conflict": "stung", "praise": "pleased", "warmth": "fond"}
KIND_SAID = ("distress", "conflict", "relief", "surprise", "banter", "warmth", "praise")  # several: the first
TWENTY_TURNS = {
    "en": [("my boss shouted at me in front of everyone today", "distress"),
           ("I can't stop shaking, honestly", "distress"),
           ("it's all sorted now, my boss apologised and I feel so much better. thank you!",
            "relief, warmth"),
           ("wait, guess what: they offered me a promotion", "surprise"),
           ("lol says the fish who has never had a job", "banter"),
           ("you're a useless lump of scales", "conflict"),
           ("sorry finn, that was mean. thanks for always listening", "warmth, praise"),
           ("my sister is moving to Canada next month", "surprise"),
           ("and I'll miss her so much, it hurts", "distress"),
           ("we talked and we'll call every Sunday, I feel lighter now", "relief"),
           ("you'd be terrible at video calls, all bubbles", "banter"),
           ("you're the best, seriously", "praise"),
           ("the cat knocked my coffee over my laptop", "distress"),
           ("phew, it still works after drying!", "relief"),
           ("I named the cat after you by the way", "surprise"),
           ("he is also bad at keeping secrets, like you", "banter"),
           ("shut up, nobody asked you", "conflict"),
           ("ugh, sorry. long day. you're kind to me", "warmth"),
           ("thank you for today", "praise, warmth"),
           ("good night finn", "warmth")],
    "es": [("mi jefe me gritó hoy delante de todos", "distress"),
           ("no puedo dejar de temblar, de verdad", "distress"),
           ("ya está todo arreglado, mi jefe se disculpó y me siento mucho mejor. ¡gracias!",
            "relief, warmth"),
           ("espera, adivina: me ofrecieron un ascenso", "surprise"),
           ("jaja lo dice el pez que nunca ha tenido trabajo", "banter"),
           ("eres un montón de escamas inútil", "conflict"),
           ("perdona finn, fue cruel. gracias por escucharme siempre", "warmth, praise"),
           ("mi hermana se muda a Canadá el mes que viene", "surprise"),
           ("y la voy a echar tanto de menos que duele", "distress"),
           ("hablamos y nos llamaremos cada domingo, ya me siento más ligera", "relief"),
           ("serías fatal en videollamadas, todo burbujas", "banter"),
           ("eres lo mejor, en serio", "praise"),
           ("el gato me tiró el café sobre el portátil", "distress"),
           ("uf, ¡sigue funcionando después de secarse!", "relief"),
           ("por cierto, le puse tu nombre al gato", "surprise"),
           ("tampoco sabe guardar secretos, como tú", "banter"),
           ("cállate, nadie te ha preguntado", "conflict"),
           ("uf, perdona. día largo. eres bueno conmigo", "warmth"),
           ("gracias por hoy", "praise, warmth"),
           ("buenas noches finn", "warmth")],
    "ja": [("今日、上司にみんなの前で怒鳴られた", "distress"),
           ("正直、まだ震えが止まらない", "distress"),
           ("もう全部解決したよ。上司が謝ってくれて、すごく楽になった。ありがとう！", "relief, warmth"),
           ("ねえ聞いて、昇進の話をもらったの", "surprise"),
           ("仕事したことない魚に言われてもね笑", "banter"),
           ("役立たずのウロコの塊だね", "conflict"),
           ("ごめんフィン、ひどかった。いつも聞いてくれてありがとう", "warmth, praise"),
           ("妹が来月カナダに引っ越すんだ", "surprise"),
           ("すごく寂しくて、胸が痛い", "distress"),
           ("話し合って毎週日曜に電話することにした。気持ちが軽くなった", "relief"),
           ("ビデオ通話なんて泡だらけで無理でしょ", "banter"),
           ("本当に最高だよ", "praise"),
           ("猫がパソコンにコーヒーをこぼした", "distress"),
           ("ふう、乾かしたらちゃんと動いた！", "relief"),
           ("ちなみに猫にあなたの名前をつけたよ", "surprise"),
           ("秘密を守れないところもあなたそっくり", "banter"),
           ("うるさい、誰も聞いてない", "conflict"),
           ("ごめん、長い一日だった。優しいね", "warmth"),
           ("今日はありがとう", "praise, warmth"),
           ("おやすみフィン", "warmth")],
}


@pytest.mark.parametrize("language", list(TWENTY_TURNS))
async def test_the_state_line_follows_each_judged_message_and_relief_clears_concern(
        make_harness: MakeHarness, language: str) -> None:
    """Twenty turns (distress, relief, surprise, banter, an insult, thanks), each judged by the fake model as
    a good model would: the request after each judged message says what it carried (in at least 0.9 of turns),
    "just now" is about that message, and no request after a relief shows concern until distress comes
    again."""
    h = await make_harness(timezone="UTC")
    clock = Clock(afternoon())
    set_clock(h, clock)
    turns = TWENTY_TURNS[language]
    lines = []
    for n, (text, felt) in enumerate(turns, 1):
        clock.now += timedelta(minutes=3)
        lines.append(await dm(h, text, n, felt=felt))
    clock.now += timedelta(minutes=3)
    lines.append(await dm(h, "ok", len(turns) + 1))  # the line after the last judged message
    followed, relieved = 0, False
    for (_, felt), line in zip(turns, lines[1:], strict=True):
        kinds = felt.split(", ")
        said = SHOWN[next(k for k in KIND_SAID if k in kinds)]
        if re.match(rf"Toward alice you feel (a little )?{re.escape(said)}\b", line) and "(just now" in line:
            followed += 1
        relieved = (relieved or "relief" in kinds) and "distress" not in kinds
        if relieved:
            assert "concerned" not in line and "be gentle" not in line, line
    assert followed >= 0.9 * len(turns), (followed, lines)
