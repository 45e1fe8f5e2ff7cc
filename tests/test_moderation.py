"""Moderation over the wire: every command's success path, each refusal reason (one ephemeral line, and
nothing sent to Discord), the audit-log reason header, the DM notice, the moderation log (table and log
channel), and the fake Discord enforcing Discord's own rules (permissions, hierarchy, 28-day timeouts,
14-day bulk deletes, rate limits) when the bot's own checks are not what stops it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import discord
import pytest

from bot.features.servertools.moderation import BULK_DELETE_MAX_AGE
from tests.fakes.discord_guild import ADMINISTRATOR, KICK_MEMBERS, MODERATE_MEMBERS
from tests.harness import (
    CHANNEL_ID,
    GUILD_ID,
    LOG_CHANNEL_ID,
    OWNER_ID,
    USER2_ID,
    USER_ID,
    Harness,
    invited,
)
from tests.server_support import MODERATOR_ID, World, answer, opts

CAROL_ID = 900_000_000_000_000_103
STRANGER_ID = 900_000_000_000_000_104


@pytest.fixture
async def world(harness: Harness) -> World:
    d = harness.discord
    d.add_user(CAROL_ID, "carol")
    d.add_member(GUILD_ID, CAROL_ID)
    d.add_user(STRANGER_ID, "stranger")  # known to Discord, not in the server
    # Chatter in these tests is for moderating, not for answering: no reply votes, no replies.
    await harness.store.servers.update(GUILD_ID, reply_mode="addressed")
    return await World(harness).build()


def requests(h: Harness, method: str, fragment: str) -> list[Any]:
    return [r for r in h.discord.requests if r.method == method and fragment in r.path]


def log_lines(h: Harness, word: str) -> list[str]:
    return [m["content"] for m in h.discord.posted(LOG_CHANNEL_ID) if word in m["content"]]


async def dm_texts(h: Harness, user_id: int) -> list[str]:
    return [m["content"] for m in h.discord.posted(h.discord.dm_channel_for(user_id))]


# --------------------------------------------------------------------------- kick


async def test_kick_reaches_discord_with_the_reason_in_the_audit_log(world: World) -> None:
    h = world.h
    text = await world.run("kick", member=("user", USER_ID), reason="spamming links")
    assert text == "*Finn opens the door.* alice has been kicked."
    assert USER_ID not in h.discord.members[GUILD_ID]
    [kick] = requests(h, "DELETE", f"/guilds/{GUILD_ID}/members/{USER_ID}")
    assert unquote(kick.headers["X-Audit-Log-Reason"]) == f"admin ({MODERATOR_ID}): spamming links"
    [entry] = h.discord.audit_entries(GUILD_ID, "kick")
    assert entry["target_id"] == USER_ID and entry["reason"] == f"admin ({MODERATOR_ID}): spamming links"
    # The person was told first (after a kick the bot shares no server with them), in the character's voice.
    assert await dm_texts(h, USER_ID) == [
        "Finn here. You were kicked from **Tide Pool**. Reason: spamming links."
    ]
    [line] = log_lines(h, "**kick**")
    assert f"target: alice ({USER_ID})" in line and f"by: admin ({MODERATOR_ID})" in line
    assert "reason: spamming links" in line
    [action] = await h.store.moderation.actions(GUILD_ID)
    assert (action.action, action.target_id, action.moderator_id, action.reason) == (
        "kick",
        USER_ID,
        MODERATOR_ID,
        "spamming links",
    )


async def test_each_kick_refusal_names_its_rule_and_sends_nothing(world: World) -> None:
    h = world.h
    d = h.discord
    await d.give_role(GUILD_ID, CAROL_ID, world.moderator)  # same rank as the moderator
    await d.give_role(GUILD_ID, USER2_ID, world.senior)  # above the bot

    cases = [
        (
            {"as_user": USER_ID, "member": ("user", USER2_ID)},
            "You need the Kick Members permission to kick people here.",
        ),
        ({"member": ("user", MODERATOR_ID)}, "You can't kick yourself."),
        ({"member": ("user", h.bot_user_id)}, "I won't kick myself."),
        ({"member": ("user", OWNER_ID)}, "Nobody can kick the server owner."),
        (
            {"member": ("user", CAROL_ID)},
            "carol's highest role is at or above yours, so you can't kick them.",
        ),
        (
            {"as_user": OWNER_ID, "member": ("user", USER2_ID)},
            "bob's highest role is at or above mine, so I can't kick them.",
        ),
        ({"member": ("user", STRANGER_ID)}, "stranger is not a member of this server."),
    ]
    for options, expected in cases:
        assert await world.run("kick", **options) == expected, options
    await d.set_role_permissions(GUILD_ID, world.bot_role, invited() & ~KICK_MEMBERS)
    assert (
        await world.run("kick", member=("user", USER_ID))
        == "I need the Kick Members permission here to kick people."
    )
    assert requests(h, "DELETE", "/members/") == []
    assert set(d.members[GUILD_ID]) >= {USER_ID, USER2_ID, CAROL_ID, OWNER_ID}
    assert await h.store.moderation.actions(GUILD_ID) == []


async def test_discord_refusing_is_one_plain_line(world: World) -> None:
    """When the bot's view is stale (its role moved down without it hearing), Discord's own hierarchy rule
    stops it, and the moderator reads one plain line."""
    h = world.h
    h.discord.roles[GUILD_ID][world.bot_role]["position"] = 0  # no GUILD_ROLE_UPDATE sent
    text = await world.run("kick", member=("user", USER_ID), notify=False)
    assert text == "Discord refused to let me kick them (Missing Permissions: check my role and permissions)."
    assert USER_ID in h.discord.members[GUILD_ID]
    assert await h.store.moderation.actions(GUILD_ID) == []


# --------------------------------------------------------------------------- ban and unban


async def test_ban_deletes_recent_messages_and_unban_lifts_it(world: World) -> None:
    h = world.h
    said = await h.say("buy cheap kelp", user=CAROL_ID)
    text = await world.run("ban", user=("user", CAROL_ID), reason="scam", delete_days=1)
    assert text == "*Finn bars the door.* carol has been banned."
    assert CAROL_ID in h.discord.bans[GUILD_ID] and CAROL_ID not in h.discord.members[GUILD_ID]
    assert h.discord.messages[int(said["id"])].get("_deleted")
    [entry] = h.discord.audit_entries(GUILD_ID, "ban")
    assert entry["delete_message_seconds"] == 86400 and entry["reason"].endswith(": scam")

    # Someone who never joined can be banned too (no DM: the bot shares no server with them).
    assert "stranger has been banned" in await world.run("ban", user=("user", STRANGER_ID), reason="raider")
    assert await dm_texts(h, STRANGER_ID) == []

    assert (
        await world.run("unban", user=str(CAROL_ID), reason="appeal accepted")
        == "*Finn unlocks the door again.* carol has been unbanned."
    )
    assert CAROL_ID not in h.discord.bans[GUILD_ID]
    [unban] = requests(h, "DELETE", f"/bans/{CAROL_ID}")
    assert unquote(unban.headers["X-Audit-Log-Reason"]).endswith(": appeal accepted")
    assert await world.run("unban", user=str(CAROL_ID)) == f"User {CAROL_ID} is not banned here."
    assert await world.run("unban", user="carol") == "'carol' is not a user id; paste the banned person's id."
    assert await world.run("ban", user=("user", OWNER_ID)) == "Nobody can ban the server owner."
    assert (
        await world.run("unban", user=f"<@{STRANGER_ID}>")
        == "*Finn unlocks the door again.* stranger has been unbanned."
    )
    actions = [a.action for a in await h.store.moderation.actions(GUILD_ID)]
    assert actions.count("ban") == 2 and actions.count("unban") == 2


async def test_unban_needs_ban_members_on_both_sides(world: World) -> None:
    h = world.h
    assert await world.run("unban", user=str(USER_ID)) == f"User {USER_ID} is not banned here."
    text = await h.slash("unban", opts(user=str(USER_ID)), user=USER2_ID)
    assert await answer(text) == "You need the Ban Members permission to unban people here."


# --------------------------------------------------------------------------- timeout


async def test_timeout_sets_communication_disabled_until_within_28_days(world: World) -> None:
    h = world.h
    before = datetime.now(UTC)
    text = await world.run("timeout", member=("user", USER_ID), duration="10m", reason="cool off")
    assert text == "*Finn raises a hand.* alice is timed out for 10 minutes."
    until = datetime.fromisoformat(h.discord.members[GUILD_ID][USER_ID]["communication_disabled_until"])
    assert timedelta(minutes=9) < until - before < timedelta(minutes=11)
    [patch] = requests(h, "PATCH", f"/members/{USER_ID}")
    assert unquote(patch.headers["X-Audit-Log-Reason"]).endswith(": cool off")
    assert (
        "You are timed out in **Tide Pool** for 10 minutes. Reason: cool off."
        in (await dm_texts(h, USER_ID))[0]
    )

    assert (
        await world.run("untimeout", member=("user", USER_ID))
        == "*Finn lowers the hand.* alice can talk again."
    )
    assert h.discord.members[GUILD_ID][USER_ID]["communication_disabled_until"] is None
    assert await world.run("untimeout", member=("user", USER_ID)) == "alice is not timed out."

    # Bad durations are refused before anything reaches Discord.
    assert (
        await world.run("timeout", member=("user", USER_ID), duration="29d")
        == "The duration 29d is too long: at most 28 days."
    )
    assert (
        await world.run("timeout", member=("user", USER_ID), duration="soon")
        == "I don't understand the duration 'soon': use a number and a unit, like 10m, 2h or 7d."
    )
    assert len(requests(h, "PATCH", f"/members/{USER_ID}")) == 2
    # Discord lets nobody time out an administrator.
    admin_role = await h.discord.add_role(GUILD_ID, "Helpers", permissions=ADMINISTRATOR, position=1)
    await h.discord.give_role(GUILD_ID, CAROL_ID, admin_role)
    assert (
        await world.run("timeout", member=("user", CAROL_ID), duration="1h")
        == "Discord doesn't let anyone time out an administrator like carol."
    )
    await h.discord.set_role_permissions(
        GUILD_ID, world.bot_role, invited() & ~MODERATE_MEMBERS
    )
    assert (
        await world.run("timeout", member=("user", USER2_ID), duration="1h")
        == "I need the Timeout Members permission here to time out people."
    )


# --------------------------------------------------------------------------- purge


async def test_purge_deletes_only_what_discord_allows(world: World) -> None:
    h = world.h
    d = h.discord
    old = [d.old_message(CHANNEL_ID, USER_ID, f"ancient {i}", timedelta(days=15 + i)) for i in range(2)]
    recent = []
    for i in range(6):
        recent.append(await h.say(f"chatter {i}", user=USER_ID if i % 2 == 0 else USER2_ID))

    text = await world.run("purge", count=2, reason="tidy")
    assert text == "*Finn sweeps up.* 2 messages deleted."
    assert [d.messages[int(m["id"])].get("_deleted") for m in recent[-2:]] == [True, True]
    [bulk] = requests(h, "POST", "/bulk-delete")
    assert unquote(bulk.headers["X-Audit-Log-Reason"]).endswith(": tidy")
    assert sorted(str(i) for i in bulk.body["messages"]) == sorted(m["id"] for m in recent[-2:])

    text = await world.run("purge", count=10, user=("user", USER_ID))
    assert text == (
        "*Finn sweeps up.* 2 messages deleted. 1 message older than 14 days stayed: Discord doesn't let "
        "bots bulk-delete messages that old."
    )
    alice_recent = [m for m in recent[:4] if int(m["author"]["id"]) == USER_ID]
    assert all(d.messages[int(m["id"])].get("_deleted") for m in alice_recent)
    assert not any(d.messages[int(m["id"])].get("_deleted") for m in old)
    assert not d.messages[int(recent[1]["id"])].get("_deleted")  # bob's stays
    [line] = log_lines(h, f"target: alice ({USER_ID})")
    assert "**purge**" in line and "2 messages" in line
    # Only old messages left for alice: nothing to do, said plainly.
    assert await world.run("purge", count=5, user=("user", USER_ID)) == (
        "There was nothing here I could delete. 1 message older than 14 days stayed: Discord doesn't let "
        "bots bulk-delete messages that old."
    )
    assert (
        await world.run("purge", count=3, as_user=USER2_ID)
        == "You need the Manage Messages permission to delete messages of people here."
    )


async def test_the_fake_enforces_discords_rules_itself(world: World) -> None:
    """Discord's side, asked directly: bulk delete 2..100 ids none older than 14 days, timeouts at most 28
    days ahead, nobody acts on the owner or above their own top role."""
    h = world.h
    http = h.bot.http
    young = [await h.say(f"m{i}", user=USER_ID) for i in range(2)]
    old = h.discord.old_message(CHANNEL_ID, USER_ID, "old", BULK_DELETE_MAX_AGE + timedelta(hours=1))
    with pytest.raises(discord.HTTPException) as too_old:
        await http.delete_messages(CHANNEL_ID, [young[0]["id"], old["id"]])
    assert (too_old.value.status, too_old.value.code) == (400, 50034)
    with pytest.raises(discord.HTTPException) as one:
        await http.delete_messages(CHANNEL_ID, [young[0]["id"]])
    assert (one.value.status, one.value.code) == (400, 50016)
    far = (datetime.now(UTC) + timedelta(days=28, minutes=5)).isoformat()
    with pytest.raises(discord.HTTPException) as too_long:
        await http.edit_member(GUILD_ID, USER_ID, communication_disabled_until=far)
    assert (too_long.value.status, too_long.value.code) == (400, 50035)
    for target in (OWNER_ID,):
        with pytest.raises(discord.Forbidden) as owner:
            await http.kick(target, GUILD_ID)
        assert owner.value.code == 50013
    await h.discord.give_role(GUILD_ID, USER2_ID, world.senior)
    with pytest.raises(discord.Forbidden):
        await http.ban(USER2_ID, GUILD_ID)
    await h.discord.set_role_permissions(GUILD_ID, world.bot_role, 0)
    with pytest.raises(discord.Forbidden):
        await http.kick(USER_ID, GUILD_ID)
    assert USER_ID in h.discord.members[GUILD_ID] and USER2_ID in h.discord.members[GUILD_ID]


# --------------------------------------------------------------------------- warnings


async def test_warnings_are_stored_per_server_and_person(world: World) -> None:
    h = world.h
    assert await world.run("warnings", member=("user", USER_ID)) == "alice has no warnings here."
    assert (
        await world.run("warn", member=("user", USER_ID), reason="off-topic")
        == "*Finn makes a note.* alice has been warned (warning #1, 1 in total)."
    )
    assert (
        await world.run("warn", member=("user", USER_ID), reason="rude", notify=False)
        == "*Finn makes a note.* alice has been warned (warning #2, 2 in total)."
    )
    assert len(await dm_texts(h, USER_ID)) == 1  # the second was not announced
    listing = await world.run("warnings", member=("user", USER_ID))
    assert listing.startswith("alice has 2 warnings here:") and "off-topic" in listing and "rude" in listing
    assert [w.reason for w in await h.store.moderation.warnings(GUILD_ID, USER_ID)] == ["off-topic", "rude"]
    assert await h.store.moderation.warnings(GUILD_ID + 1, USER_ID) == []
    assert len(log_lines(h, "**warn**")) == 2
    assert [a.action for a in await h.store.moderation.actions(GUILD_ID, target_id=USER_ID)] == [
        "warn",
        "warn",
    ]
    assert (
        await world.run("warn", member=("user", USER2_ID), reason="x", as_user=USER_ID)
        == "You need the Timeout Members permission to warn people here."
    )
    assert (
        await world.run("warn", member=("user", STRANGER_ID), reason="x")
        == "stranger is not a member of this server."
    )


# --------------------------------------------------------------------------- rate limits


async def test_a_429_is_waited_out_and_retried(world: World) -> None:
    """A limit discord.py cannot see coming (no X-RateLimit headers): Discord answers 429 with retry_after;
    discord.py waits that long and retries, and the moderator just sees the kick done."""
    h = world.h
    # A window far longer than the two kicks take to start, even on a loaded machine: the second one meets it.
    h.discord.limit_route("DELETE /guilds/:major/members/:id", 1, 2.0, advertise=False)
    first, second = await asyncio.gather(
        world.run("kick", member=("user", USER_ID), notify=False),
        world.run("kick", member=("user", CAROL_ID), notify=False),
    )
    assert "has been kicked" in first and "has been kicked" in second
    assert USER_ID not in h.discord.members[GUILD_ID] and CAROL_ID not in h.discord.members[GUILD_ID]
    refused = h.discord.rate_limited
    assert refused and all(method == "DELETE" and "/members/" in path and 0 < retry_after <= 2.0
                           for method, path, retry_after in refused)
    # Each refused request is retried. A retry that arrives a fraction early is refused again, with the
    # remaining fraction: uvloop's timers keep to the millisecond.
    assert len(requests(h, "DELETE", "/members/")) == 2 + len(refused)


async def test_advertised_limits_are_respected_without_a_429(world: World) -> None:
    h = world.h
    h.discord.limit_route("PATCH /guilds/:major/members/:id", 1, 0.5)
    for target in (USER_ID, CAROL_ID):
        assert "is timed out" in await world.run(
            "timeout", member=("user", target), duration="5m", notify=False
        )
    patches = requests(h, "PATCH", "/members/")
    assert len(patches) == 2 and h.discord.rate_limited == []
    assert patches[1].at - patches[0].at >= 0.4  # discord.py waited for the bucket to reset
