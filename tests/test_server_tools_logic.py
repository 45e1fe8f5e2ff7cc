"""The server tools' rules without Discord: durations, the moderation refusal order, purge selection, and
per-server consent in the consolidation plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.durations import BadInput, describe_duration, parse_duration
from bot.features.servertools.moderation import (
    ACTIONS,
    MAX_TIMEOUT,
    Candidate,
    Party,
    plan_purge,
    refusal,
)
from database.records import SeenMessage
from memory.batching import plan_window

MOD = Party(1, "mod", 5, frozenset({"kick_members", "moderate_members"}))
BOT = Party(2, "bot", 10, frozenset({"kick_members", "moderate_members"}))
OWNER = 99


def test_durations() -> None:
    assert parse_duration("10m", maximum=MAX_TIMEOUT) == timedelta(minutes=10)
    assert parse_duration("1h 30m", maximum=MAX_TIMEOUT) == timedelta(minutes=90)
    assert parse_duration("28d", maximum=MAX_TIMEOUT) == MAX_TIMEOUT
    assert parse_duration("2w", maximum=MAX_TIMEOUT) == timedelta(days=14)
    for bad, message in (
        ("29d", "too long: at most 28 days"),
        ("10 minutes", "don't understand"),
        ("0m", "longer than zero"),
        ("", "don't understand"),
        ("-5m", "don't understand"),
    ):
        with pytest.raises(BadInput, match=message):
            parse_duration(bad, maximum=MAX_TIMEOUT)
    assert describe_duration(timedelta(days=1, hours=2, minutes=3)) == "1 day 2 hours"
    assert describe_duration(timedelta(minutes=1)) == "1 minute"


def test_refusals_in_order() -> None:
    kick, timeout = ACTIONS["kick"], ACTIONS["timeout"]
    target = Party(3, "alice", 1)
    assert refusal(kick, MOD, BOT, target, OWNER) is None
    assert "You need the Kick Members" in refusal(kick, Party(1, "x", 5), BOT, target, OWNER)
    assert "I need the Kick Members" in refusal(kick, MOD, Party(2, "bot", 10), target, OWNER)
    assert refusal(kick, MOD, BOT, Party(1, "mod", 5), OWNER) == "You can't kick yourself."
    assert refusal(kick, MOD, BOT, Party(2, "bot", 10), OWNER) == "I won't kick myself."
    assert refusal(kick, MOD, BOT, Party(OWNER, "owner", 0), OWNER) == "Nobody can kick the server owner."
    assert "at or above yours" in refusal(kick, MOD, BOT, Party(3, "alice", 5), OWNER)
    assert "at or above mine" in refusal(kick, Party(OWNER, "owner", 0), BOT, Party(3, "alice", 10), OWNER)
    assert refusal(kick, Party(OWNER, "owner", 0), BOT, Party(3, "alice", 9), OWNER) is None  # owners outrank
    admin_target = Party(3, "alice", 1, frozenset({"administrator"}))
    assert "administrator" in refusal(timeout, MOD, BOT, admin_target, OWNER)
    assert refusal(kick, Party(1, "admin", 5, frozenset({"administrator"})), BOT, target, OWNER) is None
    assert refusal(ACTIONS["ban"], MOD, BOT, None, OWNER).startswith("You need the Ban Members")


def test_purge_takes_only_young_messages_newest_first() -> None:
    now = datetime(2026, 1, 20, tzinfo=UTC)
    messages = [Candidate(10 - i, 7 if i % 2 else 8, now - timedelta(days=3 * i)) for i in range(8)]
    plan = plan_purge(messages, 3, now)
    assert plan.ids == [10, 9, 8] and plan.too_old == 0
    plan = plan_purge(messages, 10, now, author_id=8)
    assert plan.ids == [10, 8, 6] and plan.too_old == 1  # 15 days old: left alone
    big = [Candidate(1000 - i, 1, now) for i in range(250)]
    assert [len(c) for c in plan_purge(big, 250, now).chunks()] == [100, 100, 50]


def test_a_servers_own_consent_mode_applies_to_what_was_said_there() -> None:
    now = datetime(2026, 1, 20, tzinfo=UTC)

    def seen(i: int, author: int, guild: int | None) -> tuple[int, SeenMessage]:
        return i, SeenMessage(
            100 + i,
            5 if guild else 6,
            guild,
            author,
            f"u{author}",
            False,
            guild is None,
            f"message {i}",
            now,
            None,
        )

    rows = [seen(1, 7, 1), seen(2, 7, 2), seen(3, 7, None), seen(4, 8, 2)]
    modes = {2: "opt_in"}  # server 2 remembers only who opted in; user 8 did

    def remembered(uid: int, guild: int | None) -> bool:
        consent = {8: True}.get(uid)
        mode = modes.get(guild, "all") if guild is not None else "all"
        return consent is True if mode == "opt_in" else consent is not False

    plan = plan_window(rows, remembered, set())
    assert plan.purge == [2]  # user 7 in server 2 only; their DMs and server 1 stay to be learnt from
    assert plan.refused == 1 and plan.refused_dms == set()


def test_the_readme_asks_for_the_permissions_the_bot_needs() -> None:
    from pathlib import Path

    import discord

    from bot.discord.permissions import INVITE_SCOPES
    from tests.harness import invited

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    invite = discord.Permissions(invited())
    assert invite.kick_members and invite.ban_members and invite.moderate_members and invite.manage_messages
    assert "scope=" + "+".join(INVITE_SCOPES) in readme
