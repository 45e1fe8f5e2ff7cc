"""The one rule of whom the character may speak to or hear (bot/operator/reach.py), as properties.

* Generated people (allowed, blocked everywhere, blocked by one server, holding a blocked role, not on an
  allow list, over their daily budget, rate-limited, opted out of memory, forgotten, an admin) × places (a DM
  with ``allow_dms`` on and off, an active channel, a deactivated one, a thread, a voice channel, a server
  over its spend cap) × every way (:class:`Way`), with and without the whole bot over its cap: the rule's
  answer is an independent statement of it, worked out here. It is the same for every way in the same place,
  but for what a way itself is: a message or a swipe is counted against the person's minute, and what the
  character says unprompted meets the spend caps even for an admin. A permit is given exactly when the
  rule says yes.
* Over the wire (the fake Discord and the fake Claude): for each way a person can be reached by, a person
  the rule refuses gets nothing and costs nothing, while one it lets through is answered the same way.
  A planted bypass (a way that does not ask the rule) fails it.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.config import load_settings
from bot.core.config.holder import SettingsHolder
from bot.core.config.sections import SecretSettings
from bot.core.config.service import AccessSettings, LimitSettings
from bot.core.reach import COUNTED, UNPROMPTED, Permit, Refusal, Way, Where, issue
from bot.core.stages import Incoming
from bot.features.reminders.book import ReminderBook
from bot.operator.access import AccessGate
from bot.operator.limits import SpendingLimits
from bot.operator.reach import Reach, where_of
from database.models import ApiCall
from database.place_config import PlaceConfig
from database.places import Places
from database.reminders import reminder_key
from database.servers import Servers
from database.store import Store
from tests.harness import (
    ADMIN_ID,
    GUILD_ID,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    run_round,
)
from tests.place_support import place
from tests.server_support import answer, sub
from tests.test_activation import bot_command
from tests.test_hot_path import FINN

ADMIN = 1
ALLOWED = 2
BLOCKED = 3  # on the global blocked_users
SERVER_BLOCKED = 4  # on server 10's own blocked_users
ROLE_BLOCKED = 5  # holds server 10's blocked role
OVER_BUDGET = 6  # spent more tokens today than daily_token_budget
RATE_LIMITED = 7  # used up their messages a minute
OPTED_OUT = 8  # memory_consent off: answered, not remembered
FORGOTTEN = 9  # ran /forget_me: nothing of them is kept, and they may still talk
STATES = (ADMIN, ALLOWED, BLOCKED, SERVER_BLOCKED, ROLE_BLOCKED, OVER_BUDGET, RATE_LIMITED, OPTED_OUT,
          FORGOTTEN)
BLOCKED_ROLE = 77
SERVER, CAPPED_SERVER = 10, 20  # server 20 spent past server_daily_spend_usd today
CHANNEL, CLOSED, THREAD, VOICE, CAPPED_CHANNEL = 101, 102, 103, 104, 201
BUDGET = 1_000
PER_MINUTE = 40  # more than any other person is counted here; RATE_LIMITED has used them all


@dataclass(frozen=True)
class World:
    allow_dms: bool
    global_capped: bool


def places() -> list[Where]:
    return [Where.dm(), Where(SERVER, CHANNEL), Where(SERVER, CLOSED), Where(SERVER, THREAD),
            Where(SERVER, VOICE), Where(CAPPED_SERVER, CAPPED_CHANNEL)]


def expected(world: World, person: int, where: Where, way: Way) -> str | None:
    """The rule, stated independently: which kind of refusal (place, access, limit), or None."""
    if where.channel_id == CLOSED:
        return "place"
    capped = world.global_capped or where.guild_id == CAPPED_SERVER
    if person == ADMIN:
        return "limit" if way in UNPROMPTED and capped else None
    if where.is_dm and not world.allow_dms:
        return "access"
    # server 10 set its own blocked_users, which stands there instead of the global list
    blocked = (SERVER_BLOCKED, ROLE_BLOCKED) if where.guild_id == SERVER else (BLOCKED,)
    if person in blocked:
        return "access"
    if person == RATE_LIMITED and way in COUNTED:
        return "limit"
    if capped or person == OVER_BUDGET:
        return "limit"
    return None


async def rule_in(store: Store, world: World) -> Reach:
    env = {"DISCORD_TOKEN": "t", "ANTHROPIC_API_KEY": "k", "ADMIN_USER_IDS": str(ADMIN),
           "BLOCKED_USERS": str(BLOCKED), "ALLOW_DMS": str(world.allow_dms).lower(),
           "DAILY_TOKEN_BUDGET": str(BUDGET), "SERVER_DAILY_SPEND_USD": "1",
           "GLOBAL_DAILY_SPEND_USD": "5", "USER_MESSAGES_PER_MINUTE": str(PER_MINUTE)}
    holder = SettingsHolder(load_settings(FINN, None, environ=env))
    access = AccessGate(holder.follow(AccessSettings), store.servers, holder.follow(SecretSettings))
    limits = SpendingLimits(holder.follow(LimitSettings), "UTC", store.spending, is_admin=access.is_admin,
                            addressed=lambda _: True, name=lambda: "Finn", mirror=lambda _: None)
    await store.servers.update(SERVER, blocked_users=str(SERVER_BLOCKED), blocked_roles=str(BLOCKED_ROLE))
    await store.places.set_active("channel", CLOSED, False)
    for person in STATES:
        await store.people.ensure_user(person, f"person{person}")
    await store.people.set_memory_consent(OPTED_OUT, False)
    now = datetime.now(UTC)
    spent = [(OVER_BUDGET, None, BUDGET * 2, 0.01), (ALLOWED, CAPPED_SERVER, 10, 2.0),
             *([(ALLOWED, None, 10, 10.0)] if world.global_capped else [])]
    for user, guild, tokens, cost in spent:
        await store.db.change(ApiCall.__table__.insert().values(
            user_id=user, guild_id=guild, purpose="reply", model="m", input_tokens=tokens, output_tokens=0,
            cache_creation_tokens=0, cache_read_tokens=0, cost=cost, latency_ms=1.0, ok=True, error="",
            created_at=now))
    await store.privacy.delete_user_data(FORGOTTEN)  # /forget_me
    rule = Reach(access, limits, store.places)
    for _ in range(PER_MINUTE):  # RATE_LIMITED's minute used up (a swipe counts as a message)
        await rule.refusal(Way.NEW_ANSWER, RATE_LIMITED, Where(SERVER, CHANNEL))
    return rule


def roles_of(person: int, where: Where) -> tuple[int, ...]:
    return (BLOCKED_ROLE,) if person == ROLE_BLOCKED and not where.is_dm else ()


@pytest.mark.parametrize("world", [World(True, False), World(False, False), World(True, True)],
                         ids=["dms-on", "dms-off", "global-cap"])
async def test_every_way_gets_the_rules_one_answer_for_each_person_and_place(store: Store,
                                                                             world: World) -> None:
    rule = await rule_in(store, world)
    cases = [(p, w, way) for p in STATES for w in places() for way in Way]
    random.Random(len(cases)).shuffle(cases)  # the order asked in must not matter
    wrong = []
    for person, where, way in cases:
        roles = roles_of(person, where)
        refused = await rule.refusal(way, person, where, roles)
        want = expected(world, person, where, way)
        if (refused.kind if refused is not None else None) != want:
            wrong.append((person, where, way, want, refused))
        if way in UNPROMPTED and way not in COUNTED:
            permit = await rule.permit(way, person, where, roles)
            if isinstance(permit, Permit) != (want is None):
                wrong.append((person, where, way, "permit", permit))
            if isinstance(permit, Refusal) and permit.kind != want:
                wrong.append((person, where, way, want, permit))
    assert wrong == []


async def test_a_permit_is_only_the_rules_to_give() -> None:
    with pytest.raises(TypeError):
        Permit(Way.CHECKIN, ALLOWED, Where.dm(), issuer=object())


# --------------------------------------------------------------------------- over the wire


@dataclass
class Asked:
    """What the rule answered, as the running bot asked it: (way, person, where) -> said yes at least once."""

    yes: set[tuple[int, int | None]]  # (person, server or None for a DM)
    no: set[tuple[int, int | None]]


def recording(monkeypatch: pytest.MonkeyPatch) -> Asked:
    """Every answer the rule gives, recorded: the property below holds the bot's calls and posts to them."""
    asked = Asked(set(), set())
    real = Reach.refusal, Reach.closed

    async def refusal(self: Reach, way: Way, user_id: int | None, where: Where, roles: Any = (), *,
                      counted: bool | None = None) -> Refusal | None:
        said = await real[0](self, way, user_id, where, roles, counted=counted)
        if user_id is not None:
            (asked.no if said is not None else asked.yes).add((user_id, where.guild_id))
        return said

    async def closed(self: Reach, way: Way, user_id: int | None, where: Where,
                     roles: Any = ()) -> Refusal | None:
        said = await real[1](self, way, user_id, where, roles)
        if user_id is not None and said is not None:
            asked.no.add((user_id, where.guild_id))
        return said

    async def gate(self: Reach, msg: Any, outlet: Any) -> Any:  # the message path's second half
        # a yes only where the whole rule says yes (its first half asked again here, without counting): a
        # planted bypass of the first half must not pass for a yes
        where = where_of(msg)
        stop = (await real[1](self, Way.MESSAGE, msg.author_id, where, msg.author_roles)
                or await Reach.over_limit(self, Way.MESSAGE, msg.author_id, where))
        (asked.no if stop is not None else asked.yes).add((msg.author_id, msg.guild_id))
        return await real_gate(self, msg, outlet)

    real_gate = Reach.gate
    monkeypatch.setattr(Reach, "refusal", refusal)
    monkeypatch.setattr(Reach, "closed", closed)
    monkeypatch.setattr(Reach, "gate", gate)
    return asked


async def reached_without_a_yes(h: Harness, asked: Asked, people: Collection[int]) -> list[str]:
    """The property: every paid call made for one of ``people`` and every post in their DM follows a yes of
    the rule for them in that place. What breaks it, one line each."""
    rows = await h.store.db.rows(select(ApiCall.user_id, ApiCall.guild_id, ApiCall.purpose)
                                 .where(ApiCall.user_id.in_(list(people))))
    broken = [f"{r.purpose} call for user {r.user_id} in {r.guild_id or 'a DM'} without a yes"
              for r in rows if not {(r.user_id, r.guild_id), (r.user_id, None)} & asked.yes]
    for person in people:
        channel = h.discord.dm_channel_for(person)
        if h.discord.posted(channel) and (person, None) not in asked.yes:
            broken.append(f"{len(h.discord.posted(channel))} post(s) in user {person}'s DM without a yes")
    return broken


async def every_way(h: Harness, person: int) -> None:
    """``person`` tries every way a person reaches the character in one server and their DMs: a DM, a mention
    in a channel, /ask, /reroll; then the character's own: a check-in round, their DM reminder."""
    sent = await h.dm(f"hello from {person}", user=person)
    await h.handled(sent)
    said = await h.say("Finn, how are the tides?", user=person, mention=True)
    await h.handled(said)
    await (await h.slash("ask", [{"name": "message", "type": 3, "value": "quick one"}], user=person)).text()
    await (await h.slash("reroll", user=person)).text()
    await h.bot.in_flight.drain()


async def test_no_way_reaches_a_person_the_rule_refuses(make_harness: MakeHarness,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """alice may talk to the character; bob is blocked after he turned check-ins on and set a reminder. Every
    way is tried by both: bob gets nothing and costs nothing, alice is answered every way (the control), and
    every paid call and DM post follows a yes of the rule."""
    asked = recording(monkeypatch)
    h = await make_harness(checkin_after_days="2", timezone="UTC", quiet_hours="23-7")
    h.claude.script("Hello there!", times=None)
    for person in (USER_ID, USER2_ID):
        await (await h.slash("checkin", [{"type": 1, "name": "on", "options": []}], user=person)).text()
        done = await h.bot.services.part(ReminderBook).set(dm_asking(person), "stretch", None, 5)
        assert not done.error
    await h.restart(blocked_users=str(USER2_ID))
    h.claude.script("Hello there!", times=None)
    before = len(h.claude.requests)
    await every_way(h, USER2_ID)
    assert len(h.claude.requests) == before and h.discord.posted(h.discord.dm_channel_for(USER2_ID)) == []
    await every_way(h, USER_ID)
    assert len(h.claude.requests) > before and h.discord.posted(h.discord.dm_channel_for(USER_ID))
    # the character's own ways, once both have been silent long enough
    later = (datetime.now(UTC) + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    assert await run_round(h, "checkins", later) == "1 of 2 check-in(s) sent"
    deliver = h.bot.services.timers.handlers["reminder"]
    results = {}
    for person in (USER_ID, USER2_ID):
        [row] = await h.store.reminders.open_for(person)
        results[person] = await deliver(await h.store.timers.get(reminder_key(row.id)))
    assert results[USER_ID].endswith("delivered") and "not delivered" in results[USER2_ID]
    assert h.discord.posted(h.discord.dm_channel_for(USER2_ID)) == []
    assert (USER2_ID, None) in asked.no and (USER2_ID, GUILD_ID) in asked.no
    assert await reached_without_a_yes(h, asked, (USER_ID, USER2_ID)) == []

    # A planted bypass: a check-in that does not ask the rule (it makes its own permit) is caught.
    speaker = h.bot.services.alive.speaker  # the character's own initiative, a check-in's too

    class Bypass:
        async def permit(self, way: Way, user_id: int | None, where: Where, *_: Any, **__: Any) -> Permit:
            return issue(way, user_id, where)

    monkeypatch.setattr(speaker, "reach", Bypass())
    h.claude.script("Bob! How have you been?")  # bob is still due (alice's check-in is unanswered)
    assert await run_round(h, "checkins", later + timedelta(hours=1)) == "1 of 1 check-in(s) sent"
    assert any(str(USER2_ID) in line for line in await reached_without_a_yes(h, asked, (USER2_ID,)))


async def test_a_message_path_that_skips_the_rule_is_caught(make_harness: MakeHarness,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A planted bypass on the message path: the first half of the rule (who may be heard) answers yes to
    everyone. The blocked person's DM is answered, and the property names the call made without a yes."""
    asked = recording(monkeypatch)

    async def everyone(self: Reach, msg: Any, outlet: Any) -> None:
        return None

    monkeypatch.setattr(Reach, "listens", everyone)  # before the bot is built: its gates are bound then
    h = await make_harness(blocked_users=str(USER2_ID))
    h.claude.script("Hello there!", times=None)
    await h.handled(await h.dm("hello", user=USER2_ID))
    await h.bot.in_flight.drain()
    assert h.discord.posted(h.discord.dm_channel_for(USER2_ID))  # the bypass let it through
    broken = await reached_without_a_yes(h, asked, (USER2_ID,))
    assert any("call for user" in line for line in broken) and any("post(s)" in line for line in broken)


def dm_asking(person: int) -> Incoming:
    """A DM message of ``person`` asking for a reminder (as set_reminder sets one)."""
    return Incoming(message_id=person % 1000, author_id=person, author_name="someone",
                    content="remind me", created_at=datetime.now(UTC), place=place(person, True))


async def test_a_kept_answer_never_lets_anyone_in_after_a_change(harness: Harness) -> None:
    """The rule's first half keeps its answer per place and person (every message asks it). alice, answered
    (her yes kept), is refused at her very next message after /bot deactivate, answered again after /bot
    activate, and refused at her very next message once /settings names her on blocked_users."""
    h = harness
    h.claude.script("Hello there!", times=None)

    async def answered(text: str) -> bool:
        before = len(h.claude.requests)
        await h.handled(await h.say(text, mention=True))
        await h.bot.in_flight.drain()
        return len(h.claude.requests) > before

    assert await answered("Finn, are you there?")
    assert await answered("and now?")  # from the kept answer
    assert "inactive in <#" in await bot_command(h, "deactivate")
    assert not await answered("still there?")
    assert "I'm active in <#" in await bot_command(h, "activate")
    assert await answered("back again?")
    said = await answer(await h.slash("settings", sub("set", key="blocked_users", value=str(USER_ID)),
                                      user=ADMIN_ID))
    assert "blocked_users" in said
    assert not await answered("may I?")
    before = len(h.claude.requests)
    await h.handled(await h.say("Finn, hello from bob", mention=True, user=USER2_ID))
    await h.bot.in_flight.drain()
    assert len(h.claude.requests) > before  # the block is alice's alone


async def test_a_kept_answer_follows_a_reload_and_another_processs_change(store: Store) -> None:
    """What the kept answers are made from changes elsewhere: a reload of the global lists or the admins
    applies at the very next ask; another process's change to a server's lists, once the cluster passes it
    on (the copy forgotten), too."""
    env = {"DISCORD_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}
    holder = SettingsHolder(load_settings(FINN, None, environ=env))
    config = PlaceConfig(store.db)  # this process's copy; ``store`` writes as another process would
    access = AccessGate(holder.follow(AccessSettings), Servers(config), holder.follow(SecretSettings))
    limits = SpendingLimits(holder.follow(LimitSettings), "UTC", store.spending, is_admin=access.is_admin,
                            addressed=lambda _: True, name=lambda: "Finn", mirror=lambda _: None)
    rule = Reach(access, limits, Places(config))
    here = Where(SERVER, CHANNEL)

    async def kind(person: int, where: Where = here) -> str | None:
        refused = await rule.closed(Way.MESSAGE, person, where)
        return None if refused is None else refused.kind

    assert [await kind(ALLOWED), await kind(ALLOWED), await kind(ALLOWED, Where.dm())] == [None] * 3
    holder.update(load_settings(FINN, None, environ={**env, "BLOCKED_USERS": str(ALLOWED)}))
    assert [await kind(ALLOWED), await kind(ALLOWED, Where.dm())] == ["access"] * 2
    holder.update(load_settings(FINN, None, environ={**env, "BLOCKED_USERS": str(ALLOWED),
                                                     "ADMIN_USER_IDS": str(ALLOWED)}))
    assert await kind(ALLOWED) is None  # an admin is never refused
    holder.update(load_settings(FINN, None, environ=env))
    assert await kind(ALLOWED) is None and await kind(SERVER_BLOCKED) is None
    await store.servers.update(SERVER, blocked_users=str(SERVER_BLOCKED))
    await store.places.set_active("channel", CLOSED, False)
    config.forget()  # what the cluster's notice does
    assert await kind(SERVER_BLOCKED) == "access" and await kind(ALLOWED) is None
    assert await kind(ALLOWED, Where(SERVER, CLOSED)) == "place"
    await config.drain()
