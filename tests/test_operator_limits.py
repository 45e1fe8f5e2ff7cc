"""Who may talk to the character (allow_dms, allow and block lists of users and roles, per server) and the
spending limits (daily token budgets, per-server and global daily spend caps, messages per minute), proven
over the wire: what reaches the fake Claude, what the fake Discord receives, and the log channel.

The pure rules beside them: AccessRules, the /settings list values, the operator's day, and the spending
repository's one query (on SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.core.config.sections import LimitSettings
from bot.core.lines import Line
from bot.core.stages import Incoming
from bot.features.servertools.settings import BadValue, parse_value
from bot.operator.access import AccessRules, parse_ids
from bot.operator.limits import SpendingLimits
from database.models import ApiCall
from database.store import Store
from tests.dbtools import api_calls
from tests.fakes.claude_models import lineup
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    GUILD_ID,
    LOG_CHANNEL_ID,
    USER2_ID,
    USER_ID,
    Harness,
    dm_reply,
    log_posts,
    panel_fields,
    proactive_round,
    run_round,
)
from tests.place_support import place
from tests.server_support import answer, sub

REPLY_MODEL = "claude-test-default"
VOTER = "claude-test-voter"
TALKED_OUT = "I'm all talked out for now"
# One reply of 2,000 input and 200 output tokens: $0.006 on Sonnet 5.5 ($2 / $10 per million), $0.009 on
# Sonnet 4.6 ($3 / $15): past the test caps of $0.004 and $0.005 on either lineup.
BIG = {"input_tokens": 2000, "output_tokens": 200, "cache_creation_input_tokens": 0,
       "cache_read_input_tokens": 0}
BIG_COST = {"claude-sonnet-5-5": 0.006, "claude-sonnet-4-6": 0.009}[lineup()["reply"]]


def asked(h: Harness) -> list[Any]:
    """Every request the fake Claude received (replies and votes)."""
    return list(h.claude.requests)


async def verbose_on(h: Harness) -> None:
    await h.say("verbose on", user=ADMIN_ID, channel=LOG_CHANNEL_ID)
    await h.replies(LOG_CHANNEL_ID, 1)


# --------------------------------------------------------------------------- who may talk to it


def english(line: Line | None) -> str:
    assert line is not None
    return line.english()


def test_access_rules_block_wins_empty_allow_is_everyone_and_roles_only_in_servers() -> None:
    everyone = AccessRules()
    assert everyone.refusal(1, (), is_dm=False) is None and everyone.refusal(1, (), is_dm=True) is None
    rules = AccessRules(allowed_users=frozenset({1, 2}), blocked_users=frozenset({2}),
                        allowed_roles=frozenset({10}), blocked_roles=frozenset({20}))
    assert rules.refusal(1, (), is_dm=False) is None
    # block wins over both allow lists
    assert rules.refusal(2, (10,), is_dm=False) == Line("on blocked_users")
    assert rules.refusal(3, (10,), is_dm=False) is None  # allowed by role
    assert rules.refusal(1, (10, 20), is_dm=False) == Line("holds a role on blocked_roles")
    assert "not on allowed_users" in english(rules.refusal(3, (11,), is_dm=False))
    assert "not on allowed_users" in english(rules.refusal(3, (), is_dm=True))  # no roles in a DM
    roles_only = AccessRules(allowed_roles=frozenset({10}), blocked_roles=frozenset({20}))
    assert roles_only.refusal(3, (), is_dm=True) is None  # role lists do not apply to DMs
    no_dms = AccessRules(allow_dms=False).refusal(1, (), is_dm=True)
    assert english(no_dms) == "direct messages are off (allow_dms)"
    assert parse_ids(" 1, 22 ,x,") == frozenset({1, 22})


def test_settings_lists_take_mentions_and_ids() -> None:
    assert parse_value("blocked_users", "<@123456>, <@!234567> 345678") == "123456,234567,345678"
    assert parse_value("allowed_roles", "<@&987654>,987654") == "987654"
    assert parse_value("allowed_users", "empty") == ""  # an empty list here, whatever the global one says
    assert parse_value("allowed_users", "default") is None  # back to the global list
    for key, value in (("blocked_users", "<@&123456>"), ("allowed_roles", "<@123456>"),
                       ("blocked_users", "bob")):
        with pytest.raises(BadValue):
            parse_value(key, value)


async def test_blocked_user_never_costs_a_vote_or_a_reply_and_admins_are_never_blocked(
        make_harness: Any, caplog: pytest.LogCaptureFixture) -> None:
    h = await make_harness(blocked_users=f"{USER2_ID},{ADMIN_ID}")
    caplog.set_level(logging.INFO, logger="bot.reply.deciding")
    await h.say("hello finn, are you there?", user=USER2_ID, mention=True)
    await h.say("what a lovely tide today", user=USER2_ID)  # would be voted on
    await h.at_rest()
    assert asked(h) == [] and h.discord.posted(CHANNEL_ID) == []
    assert any("not allowed to talk to me: on blocked_users" in r.getMessage() for r in caplog.records)
    assert await h.store.conversations.history(h.bot.services.pipeline.character_key, USER2_ID,
                                               f"channel:{CHANNEL_ID}") is not None
    h.claude.script("Hello, admin!", model=REPLY_MODEL)
    await h.say("status report, finn", user=ADMIN_ID, mention=True)  # blocked too, but an admin
    assert (await h.replies(CHANNEL_ID, 1))[0]["content"] == "Hello, admin!"
    h.claude.script("Hi Alice.", model=REPLY_MODEL)
    await h.say("hi", user=USER_ID, mention=True)
    assert (await h.replies(CHANNEL_ID, 2))[1]["content"] == "Hi Alice."
    # A slash command that makes the character speak is refused the same way.
    refused = await answer(await h.slash("reroll", user=USER2_ID))
    assert refused == "I'm not taking requests from you here."


async def test_a_blocked_persons_voice_message_is_not_even_transcribed(make_harness: Any) -> None:
    h = await make_harness(blocked_users=str(USER2_ID), stt_backend="openai")
    h.openai.transcript = "hello finn"
    sent = await h.discord.voice_message(USER2_ID, b"OggS\x00\x02" + bytes(range(256)))
    await h.at_rest()
    assert h.openai.heard == [] and h.discord.cdn_requests == [] and asked(h) == []
    assert h.discord.posted(int(sent["channel_id"])) == []  # not even "I can't listen to voice messages"


async def test_allow_dms_off_leaves_dms_unanswered_except_the_admins(make_harness: Any) -> None:
    h = await make_harness(allow_dms="false")
    sent = await h.dm("anyone home?")
    await h.at_rest()
    assert asked(h) == [] and h.discord.posted(int(sent["channel_id"])) == []
    h.claude.script("Always, for you.", model=REPLY_MODEL)
    assert await dm_reply(h, "anyone home?", 1, user=ADMIN_ID) == "Always, for you."
    h.claude.script("For the owner too.", model=REPLY_MODEL)  # the application's owner is an admin
    assert await dm_reply(h, "anyone home?", 1, user=h.owner_id) == "For the owner too."
    h.claude.script("In the channel, sure.", model=REPLY_MODEL)
    await h.say("and here?", mention=True)
    assert (await h.replies(CHANNEL_ID, 1))[0]["content"] == "In the channel, sure."


async def test_a_server_sets_its_own_role_lists_with_settings_and_block_wins(make_harness: Any) -> None:
    h = await make_harness()
    regulars = await h.discord.add_role(GUILD_ID, "Regulars")
    await h.discord.give_role(GUILD_ID, USER_ID, regulars)
    said = await answer(await h.slash("settings", sub("set", key="allowed_roles", value=f"<@&{regulars}>"),
                                      user=ADMIN_ID))
    assert f"<@&{regulars}>" in said
    refused = await answer(await h.slash("settings", sub("set", key="allowed_roles", value="1"),
                                         user=USER_ID))
    assert "Manage Server" in refused  # only the server's admins change it

    await h.say("finn, hello?", user=USER2_ID, mention=True)  # holds no allowed role
    await h.at_rest()
    assert asked(h) == []
    h.claude.script("Hello, regular!", model=REPLY_MODEL)
    await h.say("finn, hello?", user=USER_ID, mention=True)
    assert (await h.replies(CHANNEL_ID, 1))[0]["content"] == "Hello, regular!"
    # The server's lists are its own: Bob may still DM.
    h.claude.script("Hi Bob.", model=REPLY_MODEL)
    assert await dm_reply(h, "hi", 1, user=USER2_ID) == "Hi Bob."

    await answer(await h.slash("settings", sub("set", key="blocked_users", value=f"<@{USER_ID}>"),
                               user=ADMIN_ID))
    before = len(asked(h))
    await h.say("finn, again?", user=USER_ID, mention=True)
    await h.at_rest()
    assert len(asked(h)) == before and len(h.discord.posted(CHANNEL_ID)) == 1
    shown = await (await h.slash("settings", sub("show"), user=ADMIN_ID)).message()
    fields = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}
    assert fields["blocked_users"].startswith(f"**<@{USER_ID}>** (set here)")
    assert fields["allowed_users"].startswith("**everyone** (default)")


async def test_a_server_may_empty_a_global_list_for_itself(make_harness: Any) -> None:
    h = await make_harness(blocked_users=str(USER2_ID))
    said = await answer(await h.slash("settings", sub("set", key="blocked_users", value="empty"),
                                      user=ADMIN_ID))
    assert "**nobody**" in said
    h.claude.script("Welcome here, Bob.", model=REPLY_MODEL)
    await h.say("finn?", user=USER2_ID, mention=True)
    assert (await h.replies(CHANNEL_ID, 1))[0]["content"] == "Welcome here, Bob."
    sent = await h.dm("and in private?", user=USER2_ID)  # DMs follow the global list
    await h.at_rest()
    assert h.discord.posted(int(sent["channel_id"])) == [] and len(asked(h)) == 1


async def test_the_lists_and_limits_apply_live_from_config_env(db_url: str, tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    from tests.test_service import _logged, _rewrite

    config = tmp_path / "config.env"
    config.write_text("blocked_users=\n", encoding="utf-8")
    h = Harness(db_url=db_url, tmp_path=tmp_path, config_file=config,
                config={"config_reload_seconds": "0.05"})
    caplog.set_level(logging.INFO, logger="bot")
    await h.start()
    try:
        h.claude.script("Hi Bob.", model=REPLY_MODEL)
        await h.say("finn?", user=USER2_ID, mention=True)
        await h.replies(CHANNEL_ID, 1)
        _rewrite(config, f"blocked_users={USER2_ID}\nuser_messages_per_minute=1\n")
        await _logged(caplog, f"blocked_users '' -> '{USER2_ID}'")
        await _logged(caplog, "user_messages_per_minute 0 -> 1")
        before = len(asked(h))
        await h.say("finn, still there?", user=USER2_ID, mention=True)
        await h.at_rest()
        assert len(asked(h)) == before and len(h.discord.posted(CHANNEL_ID)) == 1
    finally:
        await h.close()


# --------------------------------------------------------------------------- spending limits


async def test_daily_token_budget_is_said_once_survives_a_restart_and_resets_at_midnight(
        make_harness: Any) -> None:
    h = await make_harness(daily_token_budget=1000, premium_daily_token_budget=5000,
                           timezone="Europe/Paris")
    await verbose_on(h)
    h.claude.script("First answer.", model=REPLY_MODEL, usage=BIG)
    assert await dm_reply(h, "my secret kelp diary", 1) == "First answer."
    calls = len(asked(h))
    limit_line = await dm_reply(h, "and another thing", 2)
    assert TALKED_OUT in limit_line and "tomorrow" in limit_line and "Finn" in limit_line
    sent = await h.dm("hello??")
    await h.at_rest()
    assert len(h.discord.posted(int(sent["channel_id"]))) == 2  # said once, then quiet
    assert len(asked(h)) == calls  # no model call for either
    mirrored = [t for t in log_posts(h) if "Limit reached" in t]
    # the budget is in the reply model's tokens: 1,000 of the 4.x tokenizer is 1,300 on 5.x
    budget = round(1000 * h.bot.services.claude.token_factor())
    assert mirrored and f"daily token budget {budget:,} used up (2,200 tokens today)" in mirrored[0]
    assert len(mirrored) == 1 and not any("kelp" in t for t in log_posts(h))  # DM content never mirrored

    assert TALKED_OUT in await answer(await h.slash("reroll", dm=True))  # no new answer past the budget
    status = await (await h.slash("status", dm=True)).message()
    fields = panel_fields(status)
    assert fields["Today's limits"].startswith(f"0 of {budget:,} tokens left today")

    await h.restart()  # the spend is read from the database: a restart does not reset it
    before = len(asked(h))
    assert TALKED_OUT in await dm_reply(h, "after the restart", 3)  # told once by the new process
    assert len(asked(h)) == before

    await h.store.people.set_premium(USER_ID, True)  # premium users have their own budget
    h.claude.script("Premium answer.", model="claude-test-premium")
    assert await dm_reply(h, "premium now", 4) == "Premium answer."
    await h.store.people.set_premium(USER_ID, False)

    tomorrow = datetime.now(UTC) + timedelta(days=1)
    h.bot.services.limits.clock = lambda: tomorrow  # the operator's next day: the budget is whole again
    h.claude.script("A new day!", model=REPLY_MODEL)
    assert await dm_reply(h, "good morning", 5) == "A new day!"


async def test_server_and_global_spend_caps_charge_the_right_server(make_harness: Any) -> None:
    h = await make_harness(server_daily_spend_usd=0.004)
    h.claude.script("Costly answer.", model=REPLY_MODEL, usage=BIG)
    await h.say("tell me a story", mention=True)
    await h.replies(CHANNEL_ID, 1)
    [row] = await api_calls(h.store, user_id=USER_ID)
    assert row.guild_id == GUILD_ID and row.cost == pytest.approx(BIG_COST)
    # The server has spent its day: Bob, who spent nothing, is told once and nothing is voted or asked.
    calls = len(asked(h))
    await h.say("finn, one for me?", user=USER2_ID, mention=True)
    posted = await h.replies(CHANNEL_ID, 2)
    assert TALKED_OUT in posted[1]["content"]
    await h.say("any thoughts on the weather", user=USER2_ID)  # would be voted on
    await h.at_rest()
    assert len(asked(h)) == calls and len(h.discord.posted(CHANNEL_ID)) == 2
    # A DM is no server's spend.
    h.claude.script("Privately, yes.", model=REPLY_MODEL)
    assert await dm_reply(h, "in private then", 1, user=USER2_ID) == "Privately, yes."
    dm_row = (await api_calls(h.store, user_id=USER2_ID))[0]
    assert dm_row.guild_id is None

    await h.restart(server_daily_spend_usd=0, global_daily_spend_usd=0.005)
    h.claude.script("Should not be asked.", model=REPLY_MODEL)
    before = len(asked(h))
    assert TALKED_OUT in await dm_reply(h, "still there?", 2, user=USER2_ID)
    assert len(asked(h)) == before


async def test_past_the_global_cap_the_character_does_not_speak_first(make_harness: Any) -> None:
    from tests.test_alive_proactive import Rolls, bot_switch, proactive, sent_at, unaddressed

    h = await make_harness(global_daily_spend_usd=0.004, proactive_chance="1", yes_no_vote_count="1")
    await bot_switch(h, "proactive", "on")
    said = await unaddressed(h, "so quiet in here")
    h.claude.script("Costly answer.", model=REPLY_MODEL, usage=BIG)
    assert await dm_reply(h, "a long story please", 1) == "Costly answer."
    proactive_round(h).rng = Rolls(0.0, 0.3)
    h.claude.script("Should never be asked.", match=proactive)
    before = len(asked(h))
    result = await run_round(h, "proactive", sent_at(said) + timedelta(minutes=5))
    assert result == "spoke in 0 of 1 channel(s)"
    [verdict] = proactive_round(h).last
    assert "global daily spend cap $0.004 reached" in verdict.reason.english()
    assert len(asked(h)) == before and h.discord.posted(CHANNEL_ID) == []


async def test_message_rate_limit_counts_a_minute_and_spares_admins(make_harness: Any) -> None:
    h = await make_harness(user_messages_per_minute=2, limit_reply="{name} needs a breather; back {when}.")
    for n in (1, 2):
        h.claude.script(f"Answer {n}.", model=REPLY_MODEL)
        assert await dm_reply(h, f"message {n}", n) == f"Answer {n}."
    calls = len(asked(h))
    assert await dm_reply(h, "message 3", 3) == "Finn needs a breather; back in a minute."
    sent = await h.dm("message 4")
    await h.at_rest()
    assert len(h.discord.posted(int(sent["channel_id"]))) == 3 and len(asked(h)) == calls
    for n in (1, 2, 3):  # an admin is never limited
        h.claude.script(f"Admin {n}.", model=REPLY_MODEL)
        assert await dm_reply(h, f"admin {n}", n, user=ADMIN_ID) == f"Admin {n}."

    limits = h.bot.services.limits
    real = limits.monotonic
    limits.monotonic = lambda: real() + 61  # the minute is over
    h.claude.script("Rested.", model=REPLY_MODEL)
    assert await dm_reply(h, "message 5", 4) == "Rested."


# --------------------------------------------------------------------------- the operator's day and the query


def test_the_day_starts_at_the_operators_midnight() -> None:
    limits = SpendingLimits(LimitSettings(), "Europe/Paris", None,  # type: ignore[arg-type]
                            is_admin=lambda _: False,
                            addressed=lambda _: True, name=lambda: "Finn", mirror=lambda _: None)
    late = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)  # already 00:30 on July 2 in Paris (UTC+2)
    assert limits.day_start(late) == datetime(2026, 7, 1, 22, 0, tzinfo=UTC)
    early = datetime(2026, 7, 1, 21, 30, tzinfo=UTC)
    assert limits.day_start(early) == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)


async def test_the_limits_check_costs_one_query_and_none_when_no_limit_is_set(store: Store) -> None:
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(statement)

    for engine in store.db.sync_engines:  # the engines statements run on (SQLite's thread's among them)
        event.listen(engine, "before_cursor_execute", seen)
    msg = Incoming(1, USER_ID, "alice", "hi", datetime.now(UTC), place=place(CHANNEL_ID, False, GUILD_ID),
                   mentions_bot=True)
    every = LimitSettings(daily_token_budget=10, premium_daily_token_budget=20, server_daily_spend_usd=1.0,
                          global_daily_spend_usd=2.0, user_messages_per_minute=5)
    for section, queries in ((LimitSettings(), 0), (every, 1)):
        limits = SpendingLimits(section, "UTC", store.spending, is_admin=lambda _: False,
                                addressed=lambda _: True, name=lambda: "Finn", mirror=lambda _: None)
        statements.clear()
        assert await limits.reached(msg.author_id, msg.guild_id, msg.channel_id, counted=True) is None
        assert len(statements) == queries
    assert "api_calls" in statements[0] and "users" in statements[0]
    for engine in store.db.sync_engines:
        event.remove(engine, "before_cursor_execute", seen)


async def test_spending_today_is_one_query_over_todays_calls(store: Store) -> None:
    midnight = datetime(2026, 7, 1, 22, 0, tzinfo=UTC)
    await store.people.ensure_user(USER_ID, "alice")
    await store.people.set_premium(USER_ID, True)
    rows = [  # (user, guild, tokens in/out/cache write/cache read, cost, when)
        (USER_ID, GUILD_ID, (100, 10, 5, 1000), 0.01, midnight + timedelta(minutes=1)),
        (USER_ID, None, (50, 5, 0, 0), 0.02, midnight + timedelta(hours=3)),
        (USER2_ID, GUILD_ID, (7, 7, 7, 7), 0.04, midnight + timedelta(hours=1)),
        (USER_ID, GUILD_ID, (999, 999, 0, 0), 0.5, midnight - timedelta(seconds=1)),  # yesterday
    ]
    for user, guild, (i, o, w, r), cost, when in rows:
        await store.db.change(ApiCall.__table__.insert().values(
            user_id=user, guild_id=guild, purpose="reply", model="m", input_tokens=i, output_tokens=o,
            cache_creation_tokens=w, cache_read_tokens=r, cost=cost, latency_ms=1.0, ok=True, error="",
            created_at=when))
    spent = await store.spending.today(midnight, user_id=USER_ID, guild_id=GUILD_ID, everyone=True)
    assert spent.person_tokens == 100 + 10 + 5 + 50 + 5  # cache reads left out
    assert spent.premium is True
    assert spent.server_usd == pytest.approx(0.05) and spent.global_usd == pytest.approx(0.07)
    nobody = await store.spending.today(midnight, user_id=USER2_ID + 1)
    assert nobody.person_tokens == 0 and nobody.premium is False and nobody.global_usd == 0.0
