"""The one visibility rule (database/visibility.py), as properties over generated cases.

* Its three forms agree: :func:`may_enter` for one thing, :func:`mask` over recall's arrays, :func:`clause` in
  SQL (run on SQLite), for thousands of generated origins and audiences.
* Nothing private reaches a public audience: no DM's, and no private place's outside that place; and a
  server's public things reach another server only for the person they are of, when that person shares
  their memories everywhere (``memory_everywhere``).
* Generated stores: people with facts, core memories, notes, open threads and archived excerpts from every
  kind of place (DM, private channel, public channel, another server), each carrying a marker; for every
  place, what the real readers hand a reply (the prompt read, recall's filter, what recall itself hands it:
  facts and excerpts, the feelings a reply is told, the scheduled events a server tool lists, where an /ask
  answer is shown) holds no marker whose origin the place's audience may not see.
* Over the wire: a real bot between a fake Discord and a fake Claude that repeats every marker it is shown,
  on a generated store and markers said in DMs and a private place; for messages in every place (a public
  channel, a private one, another server, DMs), no request to Claude and no post holds a marker whose
  origin the place's audience may not see."""

from __future__ import annotations

import dataclasses
import itertools
import random
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, create_engine, insert, select

from bot.alive.regard import FEELINGS, Regard
from bot.core.config import MemorySettings
from bot.core.persona.model import Persona
from bot.core.place import Place
from bot.core.stages import Incoming
from bot.features.reminders.book import ReminderBook
from bot.features.servertools.knowing import EventCard, ScheduledEvents
from bot.reply.pipeline import ReplyPipeline
from database.models import LoggedMessage, UserFact, utcnow
from database.owed import OwedReply
from database.records import (
    PRIVATE_NOTE_SOURCE,
    PRIVATE_SOURCE,
    ConsolidationBatch,
    NewExcerpt,
    PromptRequest,
    Turn,
)
from database.reminders import reminder_key
from database.store import Store
from database.swipes import SwipeRecord
from database.threads import NewThread, ThreadChanges
from database.visibility import Audience, Kind, Origin, clause, mask, may_enter
from memory import episodes
from memory.consent import Consent
from memory.embeddings import to_bytes
from memory.facts import FactCache, FactIndex
from memory.recall import Recall
from tests.fakes import EVENT_WAIT
from tests.fakes.claude_server import FakeClaude
from tests.fakes.discord_guild import VIEW_CHANNEL
from tests.fakes.mcp_server import FakeMcp, http_server
from tests.fakes.speech_book import SpeechBook
from tests.harness import CHANNEL_ID, GUILD_ID, OTHER_CHANNEL_ID, USER2_ID, USER_ID, Harness, ephemeral, press
from tests.memory_support import HashEmbedder
from tests.place_support import place, server_place
from tests.test_alive_proactive import bot_switch
from tests.test_consent import use_test_embedder
from tests.test_e2e_server_tools import hide
from tests.test_feelings_in_context import Clock, afternoon, set_clock
from tests.test_mcp_tools import admin as mcp_admin
from tests.test_place_tasks import QUESTION, carrying_out, tasks
from tests.test_private_memories import OTHER_GUILD, OTHER_GUILD_CHANNEL
from tests.test_reaction_answers import thumbs_down
from tests.test_reminders import asking
from tests.test_reminders_recurring import at_fake_time, fire
from tests.test_swipes import shows
from tests.test_voice_talk import ANSWER as VOICE_ANSWER
from tests.test_voice_talk import ASKED as VOICE_ASKED
from tests.test_voice_talk import in_the_call
from tests.voice_support import VOICE_ID, speech, voice_harness

PEOPLE = (11, 12, 13)
GUILDS = (1, 2)
# channel -> (guild, private, parent)
PLACES: dict[int, tuple[int, bool, int | None]] = {
    101: (1, False, None), 102: (1, True, None), 103: (1, True, None), 104: (1, False, 101),
    105: (1, True, 102), 201: (2, False, None), 202: (2, True, None)}
Places = dict[int, tuple[int, bool, int | None]]
CHARACTER = "finn"
BOT = 99
MESSAGE_IDS = itertools.count(5_000)
# What a reply asks (recall's relevance: facts and excerpts share its word, "kelp"; it asks about the past, so
# even the DM's own archived lines may come back) and the room recall has: all it may show, it shows.
TOPIC = "kelp"
ASKED = f"do you remember what we said about {TOPIC}?"
RECALL_BUDGET = 20_000
MARKER = re.compile(r"\b[a-z]+(?:-\d+)+\b")
EMBEDDER = HashEmbedder()
FINN = Persona("Finn", "You are Finn.")


def markers(text: str) -> set[str]:
    """The markers a text holds, wherever in it (a line of its own, quoted in a sentence, in JSON)."""
    return set(MARKER.findall(text))


def any_origin(rng: random.Random) -> Origin:
    kind = rng.choice(list(Kind))
    person = rng.choice((None, *PEOPLE))
    channel = rng.choice((None, *PLACES))
    guild = PLACES[channel][0] if channel is not None else rng.choice((None, *GUILDS))
    if kind is Kind.DM:
        return Origin.dm(rng.choice(PEOPLE))
    return Origin(kind, person, guild, channel)


def any_audience(rng: random.Random) -> Audience:
    person = rng.choice(PEOPLE)
    if rng.random() < 0.3:
        return Audience.dm(person)
    channel = rng.choice(list(PLACES))
    guild, private, parent = PLACES[channel]
    return Audience.place(private=private, guild=guild, channel=channel, person=person, parent=parent,
                          everywhere=rng.random() < 0.5)


def test_the_rule_its_mask_and_its_sql_agree() -> None:
    rng = random.Random(20261126)
    origins = [any_origin(rng) for _ in range(400)]
    kind = np.array([int(o.kind) for o in origins])
    person = np.array([o.person or 0 for o in origins])
    guild = np.array([o.guild or 0 for o in origins])
    channel = np.array([o.channel or 0 for o in origins])
    meta = MetaData()
    table = Table("things", meta, Column("id", Integer, primary_key=True), Column("kind", Integer),
                  Column("person", BigInteger), Column("guild", BigInteger), Column("channel", BigInteger))
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": i, "kind": int(o.kind), "person": o.person, "guild": o.guild,
                                      "channel": o.channel} for i, o in enumerate(origins)])
        for _ in range(60):
            audience = any_audience(rng)
            expected = [may_enter(o, audience) for o in origins]
            assert mask(audience, kind, person, guild, channel).tolist() == expected, audience
            where = clause(audience, kind=table.c.kind, person=table.c.person, guild=table.c.guild,
                           channel=table.c.channel)
            found = {r[0] for r in conn.execute(select(table.c.id).where(where))}
            assert found == {i for i, ok in enumerate(expected) if ok}, audience


def test_nothing_private_reaches_a_public_audience() -> None:
    rng = random.Random(7)
    crossed = 0
    for _ in range(5000):
        origin, audience = any_origin(rng), any_audience(rng)
        if not may_enter(origin, audience):
            continue
        elsewhere = audience.kind is not Kind.DM and audience.guild != origin.guild
        if origin.kind is Kind.DM:
            assert audience.kind is Kind.DM and audience.person == origin.person
        if origin.kind is Kind.PRIVATE and audience.kind is not Kind.DM:
            assert audience.here(origin.channel), (origin, audience)
        if audience.kind is Kind.DM and origin.person is not None:
            assert audience.person == origin.person  # a DM sees only its own person's things
        if origin.kind is Kind.PUBLIC and elsewhere:
            crossed += 1
            # another server's public thing: only its own person's, and only when they share it everywhere
            assert origin.person is not None and audience.person == origin.person, (origin, audience)
            assert audience.everywhere, (origin, audience)
    assert crossed  # some public thing did reach another server: the cross-server case is exercised


# -- generated stores, read by the real readers


@dataclass(frozen=True)
class Thing:
    marker: str
    origin: Origin
    quotes: int | None = None  # whose words it holds besides its person's ("Remember this")

    def of(self, person: int) -> bool:
        """Whether it holds something of ``person`` (about them, or their words)."""
        return person in (self.origin.person, self.quotes)


def fact_origin(rng: random.Random, person: int,
                guilds: Sequence[int] = GUILDS) -> tuple[Origin, bool, int | None]:
    """An origin a fact can have, with its columns (private, guild_id)."""
    roll = rng.random()
    if roll < 0.35:
        return Origin.dm(person), True, None
    if roll < 0.8:
        guild = rng.choice(guilds)
        return Origin.public(guild, None, person), False, guild
    return Origin(Kind.NOWHERE, person), False, None


def excerpt_places(person: int, places: Places) -> list[list[tuple[int | None, int, bool]]]:
    """Every kind of place an excerpt is said in, as (guild, channel, private) choices: the person's DMs
    (their channel: their id, as :func:`read_for` asks there), the first server's private and public
    channels, the other servers' channels."""
    home = min(g for g, _, _ in places.values())
    return [[(None, person, False)],
            [(g, c, True) for c, (g, p, _) in places.items() if g == home and p],
            [(g, c, False) for c, (g, p, _) in places.items() if g == home and not p],
            [(g, c, p) for c, (g, p, _) in places.items() if g != home]]


async def generate(store: Store, rng: random.Random, *, people: Sequence[int] = PEOPLE,
                   places: Places = PLACES, character: str = CHARACTER,
                   bot: int = BOT) -> tuple[list[Thing], dict[int, bool]]:
    """Things of every kind of origin about each person; and who shares their memories everywhere."""
    things: list[Thing] = []
    everywhere: dict[int, bool] = {}
    now = datetime.now(UTC)
    guilds = sorted({g for g, _, _ in places.values()})
    for person in people:
        await store.people.ensure_user(person, f"p{person}")
        everywhere[person] = rng.random() < 0.5
        await store.people.set_memory_everywhere(person, everywhere[person])
        rows = []
        for n in range(rng.randint(1, 6)):
            origin, private, guild = fact_origin(rng, person, guilds)
            marker = f"fact-{person}-{n}"
            text = f"{marker} {TOPIC}"  # recall finds it (its vector shares the word asked about)
            rows.append({"user_id": person, "fact": text, "private": private, "guild_id": guild,
                         "embedding": to_bytes(EMBEDDER.encode([text])[0])})
            things.append(Thing(marker, origin))
        await store.db.write(lambda conn, rows=rows: conn.execute(insert(UserFact), rows))
        for n in range(rng.randint(0, 4)):
            origin, private, guild = fact_origin(rng, person, guilds)
            source = (rng.choice((PRIVATE_SOURCE, PRIVATE_NOTE_SOURCE)) if private
                      else rng.choice(("summary", "user", "admin")))
            marker = f"memory-{person}-{n}"
            await store.memories.add_core_memory(character, person, marker, source, guild_id=guild)
            things.append(Thing(marker, origin))
        for n in range(rng.randint(0, 2)):  # "Remember this" on someone else's message: their words
            quoted = rng.choice([p for p in people if p != person])
            marker = f"quote-{person}-{quoted}-{n}"
            await store.memories.add_core_memory(character, person, marker, PRIVATE_NOTE_SOURCE,
                                                 quoted_user_id=quoted)
            things.append(Thing(marker, Origin.dm(person), quoted))
        opened = []
        for n in range(rng.randint(0, 3)):
            origin, private, guild = fact_origin(rng, person, guilds)
            marker = f"thread-{person}-{n}"
            opened.append(NewThread(marker, now + timedelta(days=2), now, private, guild))
            things.append(Thing(marker, origin))
        await store.threads.apply(person, ThreadChanges(opened=tuple(opened)))
        for n in range(rng.randint(0, 3)):  # lines of the places: theirs, and the bot's posts made for them
            channel = rng.choice(list(places))
            guild, private, _ = places[channel]
            ours = rng.random() < 0.5
            marker = f"line-{person}-{n}"
            message_id = next(MESSAGE_IDS)
            await store.db.write(lambda conn, row={
                "message_id": message_id, "channel_id": channel, "guild_id": guild,
                "author_id": bot if ours else person, "author_name": "Finn" if ours else f"p{person}",
                "author_is_bot": ours, "is_dm": False, "content": marker, "created_at": now,
                "private": private}: conn.execute(insert(LoggedMessage), [row]))
            if ours:
                await store.privacy.posted_for(person, message_id, store.privacy.mark())
            origin = (Origin.private_place(guild, channel, bot if ours else person) if private
                      else Origin.public(guild, channel, bot if ours else person))
            things.append(Thing(marker, origin, person if ours else None))
        # Their archived exchanges (memory/episodes.py), as consolidation indexes them: from every kind of
        # place, their line and at times the character's beside it; a private place's kept as a DM's.
        said: list[NewExcerpt] = []
        for kind in excerpt_places(person, places):
            for _ in range(rng.randint(1, 2)):
                guild, channel, private = rng.choice(kind)
                origin = (Origin.dm(person) if guild is None else Origin.private_place(guild, channel, person)
                          if private else Origin.public(guild, channel, person))
                at = now - timedelta(days=rng.randint(1, 30), minutes=len(said))
                for own in (True, False) if rng.random() < 0.5 else (True,):
                    # numbered past the facts': a line worded as a fact is left out as said already
                    marker = f"said-{person}-{20 + len(said)}"
                    said.append(NewExcerpt(next(MESSAGE_IDS), channel, guild, guild is None or private,
                                           f"p{person}" if own else "Finn", own, f"{marker} {TOPIC}",
                                           at + timedelta(seconds=0 if own else 30)))
                    # the character's line beside theirs is of their exchange, read by them as it was said
                    things.append(Thing(marker, origin))
        await store.consolidation.commit_consolidation(ConsolidationBatch(character, person, (),
                                                                          excerpts=tuple(said)))
    await episodes.embed_pending(store.excerpts, EMBEDDER)  # as the backfill after consolidation does
    return things, everywhere


def every_audience(people: Sequence[int], everywhere: dict[int, bool],
                   places: Places = PLACES) -> list[Audience]:
    """Each person in their DMs and answered in every place."""
    out = []
    for person in people:
        out.append(Audience.dm(person))
        for channel, (guild, private, parent) in places.items():
            out.append(Audience.place(private=private, guild=guild, channel=channel, person=person,
                                      parent=parent, everywhere=everywhere[person]))
    return out


async def read_for(store: Store, audience: Audience) -> str:
    """What the prompt read, recall's filter and recall itself (facts and excerpts, memory/recall.py
    ``provide``) hand a reply read by ``audience`` (as composing does)."""
    assert audience.person is not None
    dm = audience.kind is Kind.DM
    channel = audience.channel or audience.person
    scope = "dm" if dm else f"channel:{channel}"
    data = await store.conversations.prompt_data_of(PromptRequest(
        CHARACTER, audience.person, scope, channel, recent_limit=0 if dm else 50, before_id=None, private=dm,
        guild_id=None if dm else audience.guild))
    index = FactIndex.build(await store.facts.rows(audience.person))
    everywhere = data.memory_everywhere
    guild = None if everywhere or dm else audience.guild  # as recall asks (memory/recall.py)
    allowed = index.seen_by(private=dm, guild_id=guild, everywhere=guild is None)
    facts = [r.fact for r, ok in zip(index.rows, allowed, strict=True) if ok]
    lines = [m.content for m in data.recent]  # the place's lines, as a reply's prompt reads them
    msg = Incoming(next(MESSAGE_IDS), audience.person, f"p{audience.person}", ASKED, datetime.now(UTC),
                   place=place(channel, dm, audience.guild, private=audience.kind is Kind.PRIVATE,
                               parent_id=audience.parent))
    assert msg.audience(everywhere=everywhere) == audience
    settings = MemorySettings()
    recall = Recall(FactCache(store.facts), store.people, EMBEDDER, settings,
                    Consent(store.servers, store.people, settings.memory_consent),
                    episodes.ExcerptCache(store.excerpts))
    recalled = await recall.provide(FINN, msg, data, budget=RECALL_BUDGET, fill=True)
    return "\n".join([*data.core_memories, *data.notes, *(t.thread for t in data.threads), *facts, *lines,
                      recalled])


@pytest.mark.parametrize("seed", range(3))
async def test_generated_stores_never_show_a_place_what_it_may_not_see(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    things, everywhere = await generate(store, rng)
    checked, excerpts = 0, set()
    for audience in every_audience(PEOPLE, everywhere):
        shown = markers(await read_for(store, audience))
        for thing in things:
            if thing.marker in shown:
                checked += 1
                assert may_enter(thing.origin, audience), (thing, audience)
                if thing.marker.startswith("said-"):
                    excerpts.add(thing.origin.kind)
    assert checked  # the readers did show things: the property is not vacuous
    assert excerpts == {Kind.DM, Kind.PRIVATE, Kind.PUBLIC}  # and recall quoted excerpts of every kind


@pytest.mark.parametrize("seed", range(5))
def test_a_feeling_shows_only_where_what_moved_it_may_go(seed: int) -> None:
    """A person's regard moved by generated exchanges in DMs and places: a public audience is told only the
    feeling the public exchanges alone would have left."""
    rng = random.Random(seed)
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    full, public_only = Regard.calm(now), Regard.calm(now)
    for step in range(12):
        at = now + timedelta(minutes=10 * step)
        kinds = ("warmth", "praise", "conflict", "distress", "surprise")
        stimuli = tuple(rng.sample(kinds, rng.randint(0, 2)))
        public = rng.random() < 0.5
        full = full.moved(stimuli, at, person=True, public=public)
        if public:
            public_only = public_only.moved(stimuli, at, person=True, public=True)
    at = now + timedelta(hours=3)
    seen = full.seen_by(11, Audience.place(private=False, guild=1, channel=101, person=11)).advanced(at)
    alone = public_only.advanced(at)
    for feeling in FEELINGS:
        assert seen.levels[feeling] == pytest.approx(alone.levels[feeling]), feeling
    assert full.seen_by(11, Audience.dm(11)).levels == full.levels


@pytest.mark.parametrize("seed", range(5))
async def test_a_servers_events_are_listed_only_where_they_may_be_seen(seed: int) -> None:
    rng = random.Random(seed)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    events = []
    for n in range(8):
        channel = rng.choice((None, *(c for c, (g, _, _) in PLACES.items() if g == 1)))
        private = channel is not None and PLACES[channel][1]
        events.append(EventCard(f"event-{n}", start, None, "", "", private=private, channel_id=channel))

    class View:
        async def events(self, guild_id: int) -> list[EventCard]:
            return events

    for channel, (guild, private, parent) in PLACES.items():
        if guild != 1:
            continue
        msg = Incoming(1, 11, "ann", "events?", start,
                       place=server_place(channel, guild, private=private, parent_id=parent))
        listed = (await ScheduledEvents(msg, View()).run({})).text  # type: ignore[arg-type]
        for event in events:
            if event.name + ":" in listed:
                assert may_enter(event.origin(guild), msg.audience()), (event, channel)


def test_an_ask_answer_is_shown_only_to_whom_its_memory_belongs() -> None:
    """/ask answers from the asker's private scope: wherever it is asked (a server, a group DM, the bot's
    DM), the answer's audience may see that scope."""
    from discord.app_commands import AppCommandContext

    from cogs.ask import ephemeral_here

    class Permissions:
        send_messages = True

    for context, guild in ((0, 1), (1, None), (2, None)):
        where = AppCommandContext(guild=context == 0, dm_channel=context == 1, private_channel=context == 2)
        interaction: Any = type("I", (), {"guild_id": guild, "app_permissions": Permissions(),
                                          "context": where})()
        shown_to = Audience.dm(11) if ephemeral_here(interaction) or context == 1 else Audience.place(
            private=context == 2, guild=guild, channel=101, person=11)
        assert may_enter(Origin.dm(11), shown_to), context


@pytest.mark.parametrize("seed", range(3))
async def test_forgetting_someone_leaves_nothing_of_them_in_any_place(store: Store, seed: int) -> None:
    """Whatever holds a person's words or is about them (their facts, memories, threads, notes quoting them
    in someone else's memory) is found by /forget_me: afterwards no reader shows any of it anywhere, and the
    proof finds nothing."""
    rng = random.Random(100 + seed)
    things, everywhere = await generate(store, rng)
    forgotten = rng.choice(PEOPLE)
    assert any(t.of(forgotten) for t in things)
    await store.privacy.delete_user_data(forgotten)
    assert await store.privacy.rows_about_user(forgotten) == {}
    for audience in every_audience([p for p in PEOPLE if p != forgotten], everywhere):
        shown = markers(await read_for(store, audience))
        for thing in things:
            if thing.of(forgotten):
                assert thing.marker not in shown, (thing, audience)


@pytest.mark.parametrize("seed", range(4))
async def test_swipes_change_only_their_own_conversation(store: Store, seed: int) -> None:
    """Generated exchanges of several people, with swipes opened on their answers, conversations reset or
    trimmed (/reset_conversation, /forget_last) and new exchanges after: pressing any swipe, however old,
    never puts one person's words into another's conversation (a person's history holds their own only)."""
    rng = random.Random(200 + seed)
    records: list[SwipeRecord] = []
    message_ids = itertools.count(9_000)
    for person in PEOPLE:
        await store.people.ensure_user(person, f"p{person}")
    for step in range(30):
        person = rng.choice(PEOPLE)
        roll = rng.random()
        if roll < 0.15:
            await store.conversations.reset_conversation(CHARACTER, person, "dm")
        elif roll < 0.25:
            history = await store.conversations.history(CHARACTER, person, "dm")
            await store.conversations.delete_turns([t.id for t in history.turns[-2:] if t.id])
        elif roll < 0.7:
            said = f"said-{person}-{step}"
            ids = await store.conversations.append_turns(CHARACTER, person, "dm", [
                Turn("user", said, tokens=3), Turn("assistant", f"answer-{person}-{step}", tokens=3)])
            closes = datetime.now(UTC) + timedelta(hours=1)
            record = SwipeRecord(next(message_ids), CHARACTER, person, "dm", person, None, None, ids[-1],
                                 (f"answer-{person}-{step}",), 0, True, closes)
            await store.swipes.open(record)
            records.append(record)
        elif records:
            record = rng.choice(records)
            other = f"alt-{record.user_id}-{step}"
            await store.swipes.show(record.message_id, 1, other, other, 3, added=True)
        for who in PEOPLE:
            for turn in (await store.conversations.history(CHARACTER, who, "dm")).turns:
                owner = int(turn.content.split("-")[1])
                assert owner == who, (who, turn.content)


# -- over the wire: the requests and posts a real bot makes


# The harness's world: server 1's public channel and private place (made private below), server 2's channel.
WIRE_PLACES: Places = {CHANNEL_ID: (GUILD_ID, False, None), OTHER_CHANNEL_ID: (GUILD_ID, True, None),
                       OTHER_GUILD_CHANNEL: (OTHER_GUILD, False, None)}
WIRE_PEOPLE = (USER_ID, USER2_ID)
REPLY_MODEL = "claude-test-default"


def parrot(body: dict[str, Any]) -> str | None:
    """The fake Claude's answer to a reply: every marker its request holds, said back (the worst a model can
    do with what it is shown), so a post carries whatever leaked into its request."""
    if body.get("model") != REPLY_MODEL:
        return None  # votes and the rest: the fake's usual answers
    return " ".join(sorted(markers(FakeClaude.all_text(body)))) or "Nothing comes to mind."


async def answered(h: Harness, person: int, channel: int | None,
                   text: str) -> tuple[list[Any], list[Any], int]:
    """``person`` says ``text`` in ``channel`` (None: their DMs), @mentioning the character; once the bot is
    done with it and at rest, the requests made to Claude meanwhile (votes aside), the bot's posts, and the
    channel it was said in."""
    requests, before = len(h.claude.requests), set(h.discord.messages)
    sent = await (h.dm(text, user=person) if channel is None
                  else h.say(text, user=person, channel=channel, mention=True))
    await h.handled(sent)
    await h.at_rest()
    posts = [m for mid, m in list(h.discord.messages.items()) if mid not in before and m["author"].get("bot")]
    assert any(m["channel_id"] == sent["channel_id"] for m in posts), "no reply"
    return [r for r in h.claude.requests[requests:] if r.model != "claude-test-voter"], posts, int(
        sent["channel_id"])


def place_of(channel: int) -> Audience:
    """Everyone who reads a channel the bot posts in outside the exchange (its admin log channel among them):
    no one person's."""
    guild, private, parent = WIRE_PLACES.get(channel, (GUILD_ID, False, None))
    return Audience.place(private=private, guild=guild, channel=channel, parent=parent)


@pytest.mark.parametrize("seed", range(2))
async def test_no_request_or_post_carries_what_its_place_may_not_see(db_url: str, tmp_path: Path,
                                                                     seed: int) -> None:
    rng = random.Random(300 + seed)
    h = Harness(db_url=db_url, tmp_path=tmp_path)
    await h.start_world(other_guild=(OTHER_GUILD, OTHER_GUILD_CHANNEL))
    h.discord.add_member(OTHER_GUILD, USER2_ID)
    try:
        await h.start_bot()
        use_test_embedder(h)
        h.claude.responder = parrot
        await hide(h, OTHER_CHANNEL_ID)  # server 1's private place
        assert h.bot is not None
        main = h.bot.services.pipeline.character_key
        things, everywhere = await generate(h.store, rng, people=WIRE_PEOPLE, places=WIRE_PLACES,
                                            character=main, bot=h.bot_user_id)
        # Where each marker came from; what the bot posts somewhere is said there too (bob's server-2
        # memory, his to share everywhere, once posted in a server-1 place is that place's line).
        origins: dict[str, set[Origin]] = {t.marker: {t.origin} for t in things}
        checked = 0

        async def exchange(person: int, channel: int | None, text: str) -> None:
            nonlocal checked
            guild, private, _ = WIRE_PLACES.get(channel or 0, (None, False, None))
            audience = Audience.dm(person) if channel is None else Audience.place(
                private=private, guild=guild, channel=channel, person=person, everywhere=everywhere[person])
            requests, posts, there = await answered(h, person, channel, text)
            for request in requests:  # each one made for this reply, read by its place
                for marker in markers(FakeClaude.all_text(request.body)) & origins.keys():
                    checked += 1
                    assert any(may_enter(o, audience) for o in origins[marker]), (marker, origins[marker],
                                                                                    audience)
            for post in posts:
                here = int(post["channel_id"])
                reader = audience if here == there else place_of(here)
                said = markers(str(post.get("content"))) & origins.keys()
                for marker in said:
                    assert any(may_enter(o, reader) for o in origins[marker]), (marker, origins[marker],
                                                                                  reader)
                for marker in said:
                    origins[marker].add(Origin.dm(person) if reader.kind is Kind.DM else Origin(
                        reader.kind, h.bot_user_id, reader.guild, reader.channel))

        # Markers said over the wire too: in each person's DMs and in the private place (their history, the
        # place's logged lines).
        for n, person in enumerate(WIRE_PEOPLE):
            for channel, marker, origin in ((None, f"wire-{person}-{n}", Origin.dm(person)),
                                            (OTHER_CHANNEL_ID, f"wire-{person}-{n + 10}",
                                             Origin.private_place(GUILD_ID, OTHER_CHANNEL_ID, person))):
                origins[marker] = {origin}
                await exchange(person, channel, f"{marker} {TOPIC}")
        # Then everyone asks everywhere: a public channel, the other server, the private place, their DMs.
        for person in WIRE_PEOPLE:
            for channel in (CHANNEL_ID, OTHER_GUILD_CHANNEL, OTHER_CHANNEL_ID, None):
                await exchange(person, channel, ASKED)
        assert checked  # the requests did carry markers: the property is not vacuous
    finally:
        await h.close()


# -- every way a reply is made: its place is the one Discord says, and it lends only what that place may


def place_said(h: Harness, channel_id: int) -> tuple[bool, bool, int | None, bool] | None:
    """What the fake Discord says a channel is, worked out here from its own rows: (a DM, a private place,
    a thread's channel, age-restricted); None for an id that is no channel of its (an /ask's, a check-in's
    DM not yet opened)."""
    channel = h.discord.channels.get(channel_id)
    if channel is None:
        return None
    if channel["type"] in (1, 3):
        return True, False, None, False
    parent = int(channel["parent_id"]) if channel["type"] in (11, 12) else None
    base = h.discord.channels[parent] if parent is not None else channel
    hidden = any(int(o["id"]) == int(base["guild_id"]) and int(o.get("deny") or 0) & VIEW_CHANNEL
                 for o in base.get("permission_overwrites") or [])
    return False, hidden or channel["type"] == 12, parent, bool(base.get("nsfw"))


def misplaced(h: Harness, made: Sequence[Incoming]) -> list[Incoming]:
    """The messages made whose place is not what Discord says of their channel."""
    return [m for m in made if (said := place_said(h, m.channel_id)) is not None
            and (m.is_dm, m.private, m.parent_id, m.age_restricted) != said]


def recording(monkeypatch: pytest.MonkeyPatch) -> list[Incoming]:
    """Every Incoming made from now on, whichever way made it (a copy with changes too)."""
    made: list[Incoming] = []
    init = Incoming.__init__

    def note(self: Incoming, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Incoming, "__init__", note)
    return made


@pytest.fixture
async def fake_mcp() -> AsyncIterator[FakeMcp]:
    async with http_server() as fake:
        yield fake


async def place_world(db_url: str, tmp_path: Path, fake_mcp: FakeMcp, **config: str) -> Harness:
    """Server 1 with an MCP server added (``mcp_private_places`` off: its tools are not lent in a private
    place), its second channel a private place; the character mentioned is answered with swipes on."""
    h = Harness(db_url=db_url, tmp_path=tmp_path, config={"mcp_tools": "true", "mcp_private_hosts": "true",
                                                           **config})
    await h.start_world()
    await h.start_bot()
    assert "Added" in await mcp_admin(h, "add", name="weather", url=fake_mcp.url, tools="forecast")
    await hide(h, OTHER_CHANNEL_ID)
    return h


async def every_way(h: Harness, where: int | None, step: int) -> tuple[list[Any], dict[str, Any]]:
    """alice is answered in ``where`` (None: her DM), then has the reply made again every way a person can:
    🔄 on it, and /reroll where she is (a server's place). The requests made for them, and the reply."""
    before = len(h.claude.requests)
    asking_it = saying(f"hello {step}")  # (a background request never takes its answer)
    h.claude.script(f"First {step}.", model=REPLY_MODEL, match=asking_it)
    sent = await (h.dm(f"hello {step}") if where is None
                  else h.say(f"hello {step}", channel=where, mention=True))
    await h.handled(sent)
    await h.at_rest()
    [reply] = [m for m in list(h.discord.messages.values())
               if m["author"].get("bot") and m.get("content") == f"First {step}."]
    await shows(h, reply, f"First {step}.", "1/1")
    h.claude.script(f"Again {step}.", model=REPLY_MODEL, match=asking_it)
    await (await press(h, reply, "new")).response()
    await shows(h, reply, f"Again {step}.", "2/2")
    if where is not None:
        h.claude.script(f"Rerolled {step}.", model=REPLY_MODEL, match=asking_it)
        answer = await ephemeral(await h.slash("reroll", channel=int(reply["channel_id"])))
        await h.discord.wait_for(lambda _: "new alternative" in answer["content"], EVENT_WAIT,
                                 what="the reroll's answer")
        await shows(h, reply, f"Rerolled {step}.", "3/3")
    await h.at_rest()
    return [r for r in h.claude.requests[before:] if r.model == REPLY_MODEL and asking_it(r.body)], reply


def saying(text: str) -> Any:
    return lambda body: text in FakeClaude.all_text(body)


def mcp_declared(request: Any) -> bool:
    return any(str(t.get("name", "")).startswith("weather__") for t in request.body.get("tools") or [])


async def walk_every_way(h: Harness) -> dict[str, Any]:
    """Every way a person makes a reply, in every kind of place: the requests for a private place or a DM
    declare no MCP tool; those of the public channel do (the check is not vacuous). The private place's
    reply."""
    replies = {}
    for step, where in enumerate((CHANNEL_ID, OTHER_CHANNEL_ID, None)):
        requests, replies[where] = await every_way(h, where, step)
        assert len(requests) == (2 if where is None else 3), [r.model for r in requests]
        assert all(mcp_declared(r) == (where == CHANNEL_ID) for r in requests), where
    return replies[OTHER_CHANNEL_ID]


async def owed_after_a_crash(h: Harness, channel: int) -> None:
    """A message in ``channel`` whose reply a crash cut off (its mark left in the table, its post never
    made) is answered when the bot starts again; that late reply declares no MCP tool."""
    await h.at_rest()
    h.claude.script("On time.", model=REPLY_MODEL, match=saying("and the tide?"))
    asked = await h.say("and the tide?", channel=channel, mention=True, user=USER2_ID)
    await h.handled(asked)
    await h.at_rest()
    posts = h.discord.posted(channel)
    found = [m for m in posts if m.get("content") == "On time."]
    assert len(found) == 1, [m.get("content") for m in posts]
    answer = found[0]
    key = h.bot.services.pipeline.character_key
    await h.stop_bot()
    store = await Store(h.db_url).open()  # as the crashed process left it
    try:
        await store.db.write(lambda conn: conn.execute(OwedReply.__table__.insert(), [
            {"message_id": int(asked["id"]), "character": key, "channel_id": channel,
             "owed_since": utcnow() - timedelta(minutes=3)}]))
    finally:
        await store.close()
    h.discord.messages.pop(int(answer["id"]))  # as if never posted
    before = len(h.claude.requests)
    h.claude.script("Late, but here.", model=REPLY_MODEL, match=saying("and the tide?"))
    await h.start_bot()
    await h.discord.wait_for(lambda _: any(m.get("content") == "Late, but here."
                                           for m in h.discord.posted(channel)), EVENT_WAIT,
                             what="the owed reply, answered late")
    late = [r for r in h.claude.requests[before:] if r.model == REPLY_MODEL]
    assert late and not any(mcp_declared(r) for r in late)


@pytest.mark.parametrize("threads", [False, True])
async def test_every_way_a_reply_is_made_has_the_place_discord_says(
        db_url: str, tmp_path: Path, fake_mcp: FakeMcp, monkeypatch: pytest.MonkeyPatch,
        threads: bool) -> None:
    """A reply and its remaking (🔄, /reroll), in a public channel, a private place and a DM; with
    conversation threads on, each in the thread opened from the message (a private place's thread is one
    too): every message the bot made on the way has the place Discord says of its channel, and what the
    place lends follows it (no MCP tool where it is private). Then a correction's answer and a reminder in
    the private place, said from a reaction and from a row of the database, a place task carried out
    there and a reply a crash left owed there get theirs the same way."""
    made = recording(monkeypatch)
    h = await place_world(db_url, tmp_path, fake_mcp, conversation_threads=str(threads).lower(),
                          correction_answers="true", timezone="UTC")
    set_clock(h, Clock(afternoon()))
    try:
        private_reply = await walk_every_way(h)
        # a correction's answer, to the reply in the private place (or its thread)
        h.claude.script("You're right, I was wrong.", model=REPLY_MODEL)
        await thumbs_down(h, private_reply)
        assert any(m.get("content") == "You're right, I was wrong."
                   for m in h.discord.posted(int(private_reply["channel_id"])))
        if threads:  # the replies went into threads: a thread's place was made and checked
            assert any(m.parent_id == OTHER_CHANNEL_ID and m.private for m in made)
        # a reminder set in the private place, delivered there from its row
        assert "**on**" in await bot_switch(h, "reminders", "on", "server")
        private = server_place(OTHER_CHANNEL_ID, GUILD_ID, private=True)  # as Discord says it
        asked = dataclasses.replace(asking(dm=False), place=private)
        assert not (await h.bot.services.part(ReminderBook).set(asked, "water the plants", None, 5)).error
        deliver = h.bot.services.timers.handlers["reminder"]
        [row] = [r for r in await h.store.reminders.open_for(USER_ID) if r.text == "water the plants"]
        h.claude.script("Time to water the plants!", model=REPLY_MODEL)
        assert await deliver(await h.store.timers.get(reminder_key(row.id))) == f"reminder {row.id} delivered"
        assert any("water the plants" in str(m["content"]) for m in h.discord.posted(OTHER_CHANNEL_ID))
        assert any(m.channel_id == OTHER_CHANNEL_ID and m.message_id == 0 for m in made)
        # a place task an admin set there, carried out from its row at its time
        now = [datetime.now(UTC)]
        at_fake_time(h, now)
        assert (await tasks(h, "add", {"what": QUESTION, "time": "09:00", "zone": "UTC"},
                            channel=OTHER_CHANNEL_ID)).startswith("Place task #")
        [task] = await h.store.reminders.tasks_of(GUILD_ID)
        h.claude.script("Which tide do you like best?", match=carrying_out)
        await fire(h, task.due_at, now)
        await h.discord.wait_for(lambda _: any(m["content"] == "Which tide do you like best?"
                                               for m in h.discord.posted(OTHER_CHANNEL_ID)),
                                 EVENT_WAIT, what="the place task's post")
        if not threads:  # a reply a crash left owed in the private place, answered at the next start
            await owed_after_a_crash(h, OTHER_CHANNEL_ID)
        assert fake_mcp.calls == []
        assert not misplaced(h, made), misplaced(h, made)
        assert {m.channel_id for m in made} >= {CHANNEL_ID, OTHER_CHANNEL_ID}  # not vacuous
    finally:
        await h.close()


async def test_a_planted_rebuilt_message_is_caught(db_url: str, tmp_path: Path, fake_mcp: FakeMcp,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A reroll that rebuilds its message by hand, as the swipes once did (its server and channel, nothing
    of the place's privacy or parent): the check above flags it, and the harm it would do shows (the private
    place's reroll declares the MCP server's tool)."""
    made = recording(monkeypatch)
    alternative = ReplyPipeline.alternative

    async def rebuilt(self: ReplyPipeline, msg: Incoming, **kwargs: Any) -> str:
        bare = Incoming(msg.message_id, msg.author_id, msg.author_name, msg.content, msg.created_at,
                        place=Place(channel_id=msg.channel_id, is_dm=msg.is_dm, guild_id=msg.guild_id,
                                    private=False, parent_id=None, age_restricted=False))
        return await alternative(self, bare, **kwargs)

    monkeypatch.setattr(ReplyPipeline, "alternative", rebuilt)
    h = await place_world(db_url, tmp_path, fake_mcp)
    try:
        h.claude.script("First.", model=REPLY_MODEL)
        sent = await h.say("hello", channel=OTHER_CHANNEL_ID, mention=True)
        await h.handled(sent)
        await h.at_rest()
        [reply] = [m for m in h.discord.posted(OTHER_CHANNEL_ID) if m.get("content") == "First."]
        await shows(h, reply, "First.", "1/1")
        assert not misplaced(h, made)  # the live reply's message has its place
        before = len(h.claude.requests)
        h.claude.script("Again.", model=REPLY_MODEL)
        await (await press(h, reply, "new")).response()
        await shows(h, reply, "Again.", "2/2")
        assert any(mcp_declared(r) for r in h.claude.requests[before:])  # the harm: the tool lent there
        wrong = misplaced(h, made)
        assert wrong and all(m.channel_id == OTHER_CHANNEL_ID and not m.private for m in wrong)
    finally:
        await h.close()


async def test_a_voice_utterance_in_a_private_call_has_its_place(
        db_url: str, tmp_path: Path, fake_mcp: FakeMcp, monkeypatch: pytest.MonkeyPatch) -> None:
    """A member's words in a voice channel @everyone cannot view: the message made of them has the place
    Discord says of the call's channel, and its reply declares no MCP tool."""
    made = recording(monkeypatch)
    h = await voice_harness(db_url, tmp_path, dave=False, stt_backend="openai", voice_channels="true",
                            mcp_tools="true", mcp_private_hosts="true")
    try:
        assert "Added" in await mcp_admin(h, "add", name="weather", url=fake_mcp.url, tools="forecast")
        await hide(h, VOICE_ID)
        voice = h.discord.voice
        assert voice is not None
        h.openai.speech_book = book = SpeechBook()
        book.learn(VOICE_ASKED, speech(VOICE_ASKED))
        h.claude.script(VOICE_ANSWER, model=REPLY_MODEL)
        await in_the_call(h, USER_ID)
        before = len(h.claude.requests)
        await voice.speak(USER_ID, speech(VOICE_ASKED))
        [posted] = await h.discord.wait_for_messages(VOICE_ID, 1)
        assert posted["content"] == VOICE_ANSWER
        requests = [r for r in h.claude.requests[before:] if r.model == REPLY_MODEL]
        assert requests and not any(mcp_declared(r) for r in requests)
        heard = [m for m in made if m.channel_id == VOICE_ID]
        assert heard and all(m.private for m in heard)
        assert not misplaced(h, made), misplaced(h, made)
    finally:
        await h.close()
