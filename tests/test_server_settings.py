"""/settings over the wire, and the per-server settings driving what the bot does at the next message:
reply mode and vote count (the reply decision), the language hint (the reply prompt), memory consent (what
is kept of that server's exchanges), the log channel (where notices go). Also /userinfo and /serverinfo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import MemorySettings, ReplySettings, SecretSettings, Settings
from bot.core.policy import ServerPolicy, language_hint, resolve
from bot.features.servertools.settings import parse_value
from database.records import ServerConfig
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    GUILD_ID,
    LOG_CHANNEL_ID,
    OTHER_CHANNEL_ID,
    OWNER_ID,
    USER2_ID,
    USER_ID,
    Harness,
)
from tests.server_support import answer, opts, sub

VOTER = "claude-test-voter"


async def setting(h: Harness, key: str, value: str, *, user: int = ADMIN_ID) -> str:
    return await answer(await h.slash("settings", sub("set", key=key, value=value), user=user))


def replies_asked(h: Harness) -> list[Any]:
    return [r for r in h.claude.requests if r.model != VOTER]


def test_values_are_read_and_resolved_over_the_global_defaults() -> None:
    assert parse_value("reply_mode", "Addressed") == "addressed"
    assert parse_value("vote_count", "5") == 5 and parse_value("proactive", "on") is True
    assert parse_value("memory_consent", "opt-in") == "opt_in"
    assert parse_value("log_channel", "<#123456789>") == 123456789
    assert parse_value("language", "default") is None
    from bot.features.servertools.settings import BadValue

    for key, value in (
        ("vote_count", "99"),
        ("reply_mode", "sometimes"),
        ("log_channel", "general"),
        ("nonsense", "1"),
        ("proactive", "maybe"),
    ):
        with pytest.raises(BadValue):
            parse_value(key, value)

    globals_ = Settings(Path("finn"), replies=ReplySettings(yes_no_vote_count=3),
                        memory=MemorySettings(memory_consent="all"), secrets=SecretSettings(log_channel=42))
    policy = resolve(globals_, ServerConfig(1, vote_count=7), global_log_here=True)
    assert policy == ServerPolicy("vote", 7, False, "all", 42, "")
    assert resolve(globals_, None).log_channel_id is None
    assert language_hint(policy) == "" and "German" in language_hint(
        ServerPolicy("vote", 3, False, "all", None, "German")
    )


async def test_show_and_set_are_for_server_admins(harness: Harness) -> None:
    h = harness
    refused = await answer(await h.slash("settings", sub("show"), user=USER_ID))
    assert refused == "Only this server's admins (the Manage Server permission) can use this command."
    assert await setting(h, "reply_mode", "addressed", user=USER_ID) == refused
    assert (await h.store.servers.get(GUILD_ID, fresh=True)).reply_mode is None

    ix = await h.slash("settings", sub("show"), user=OWNER_ID)  # the owner has Manage Server
    embed = (await ix.message())["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["reply_mode"].startswith("**vote** (default)")
    assert fields["vote_count"].startswith("**3** (default)")
    assert fields["log_channel"].startswith(f"**<#{LOG_CHANNEL_ID}>** (default)")  # the global one is here
    assert fields["ticket_channel"].startswith("**none** (default)")  # a feature's keys follow the core's
    assert fields["staff_role"].startswith("**none** (default)")

    assert await setting(h, "proactive", "on") == "*Finn makes a note.* Here, proactive is now **on**."
    # a bad value is explained with what the key takes
    assert await setting(h, "vote_count", "99") == (
        "vote_count must be a whole number from 1 to 15, not '99'.\n"
        "-# vote_count: yes/no votes per unaddressed message (1-15)")
    assert (await setting(h, "log_channel", "123")).startswith(
        "log_channel must be a #channel or a channel id, not '123'.\n-# log_channel: channel for moderation")
    assert (
        await setting(h, "log_channel", "900000000000999999")
        == "900000000000999999 is not a text channel of this server."
    )
    ix = await h.slash("settings", sub("show"), user=ADMIN_ID)
    fields = {f["name"]: f["value"] for f in (await ix.message())["embeds"][0]["fields"]}
    assert fields["proactive"].startswith("**on** (set here)")
    assert (
        await setting(h, "proactive", "default")
        == "*Finn makes a note.* Here, proactive is now **off** (the global default)."
    )


async def test_value_autocomplete_follows_the_key(harness: Harness) -> None:
    h = harness

    async def choices(key: str, typed: str, user: int = ADMIN_ID) -> list[str]:
        options = sub("set", key=key)
        options[0]["options"].append({"name": "value", "type": 3, "value": typed, "focused": True})
        ix = await h.discord.interaction_autocomplete(
            "settings", options, user_id=user, channel_id=CHANNEL_ID, guild_id=GUILD_ID
        )
        return [c["value"] for c in (await ix.response())["choices"]]

    assert await choices("reply_mode", "") == ["vote", "addressed", "default"]
    assert await choices("log_channel", "ran") == [str(OTHER_CHANNEL_ID)]
    assert await choices("language", "ger") == ["de"]  # offered by its own name, kept as its tag
    assert await choices("reply_mode", "", user=USER_ID) == []


async def test_reply_mode_and_vote_count_drive_the_next_message(harness: Harness) -> None:
    h = harness
    assert (
        await setting(h, "reply_mode", "addressed")
        == "*Finn makes a note.* Here, reply_mode is now **addressed**."
    )
    await h.say("nice weather today")
    await h.at_rest()
    assert h.claude.requests_for(VOTER) == [] and h.discord.posted(CHANNEL_ID) == []
    await h.say("Finn, nice weather?")  # addressed: still answered
    await h.replies(CHANNEL_ID, 1)

    await setting(h, "reply_mode", "vote")
    await setting(h, "vote_count", "5")
    h.claude.script("no", model=VOTER, times=5)
    await h.say("what a day")
    await h.discord.wait_for(lambda _: len(h.claude.requests_for(VOTER)) >= 5, what="the votes")
    await h.at_rest()
    assert len(h.claude.requests_for(VOTER)) == 5
    await setting(h, "vote_count", "default")
    h.claude.script("no", model=VOTER, times=3)
    await h.say("still here")
    await h.discord.wait_for(lambda _: len(h.claude.requests_for(VOTER)) >= 8, what="the votes")
    await h.at_rest()
    assert len(h.claude.requests_for(VOTER)) == 8  # back to the global yes_no_vote_count (3)


async def test_language_hint_reaches_the_reply_prompt(harness: Harness) -> None:
    h = harness
    await setting(h, "language", "German")
    await h.say("hallo!", mention=True)
    await h.replies(CHANNEL_ID, 1)
    text = h.claude.all_text(replies_asked(h)[-1])
    assert (
        "[Language: people in this server speak German. Answer in German unless the person writes to you "
        "in another language.]" in text
    )
    assert "Language:" not in h.claude.system_text(
        replies_asked(h)[-1]
    )  # per message, not in the cached part
    await setting(h, "language", "default")
    await h.say("hello again", mention=True)
    await h.replies(CHANNEL_ID, 2)
    assert "[Language:" not in h.claude.all_text(replies_asked(h)[-1])


async def test_memory_consent_of_the_server_decides_what_is_kept(harness: Harness) -> None:
    h = harness
    key = h.bot.services.pipeline.character_key
    scope = f"channel:{CHANNEL_ID}"
    await setting(h, "memory_consent", "opt_in")
    await h.say("remember my shell", mention=True)
    await h.replies(CHANNEL_ID, 1)
    await h.at_rest()
    assert (await h.store.conversations.history(key, USER_ID, scope)).turns == []
    await setting(h, "memory_consent", "default")  # back to the global "all"
    await h.say("now remember", mention=True)
    await h.replies(CHANNEL_ID, 2)
    await h.at_rest()
    assert len((await h.store.conversations.history(key, USER_ID, scope)).turns) == 2


async def test_the_log_channel_setting_routes_moderation_notices(harness: Harness) -> None:
    h = harness
    assert (
        await setting(h, "log_channel", f"<#{OTHER_CHANNEL_ID}>")
        == f"*Finn makes a note.* Here, log_channel is now **<#{OTHER_CHANNEL_ID}>**."
    )
    ix = await h.slash("warn", opts(member=("user", USER_ID), reason="testing", notify=False), user=OWNER_ID)
    assert "has been warned" in await answer(ix)
    assert [m for m in h.discord.posted(OTHER_CHANNEL_ID) if "**warn**" in m["content"]]
    assert not [m for m in h.discord.posted(LOG_CHANNEL_ID) if "**warn**" in m["content"]]


async def test_userinfo_and_serverinfo(harness: Harness) -> None:
    h = harness

    async def embed(name: str, user: int, **options: Any) -> dict[str, Any]:
        message = await (await h.slash(name, opts(**options), user=user)).message()
        assert message["flags"] & 64
        return message["embeds"][0]

    info = await embed("userinfo", USER_ID)
    fields = {f["name"]: f["value"] for f in info["fields"]}
    assert info["title"] == "alice" and fields["Known to Finn"] == "not yet: we haven't talked"
    assert "Joined this server" in fields and "Account created" in fields
    assert fields["Roles (0)"] == "no roles"
    await h.say("hi Finn", user=USER2_ID)
    await h.replies(CHANNEL_ID, 1)
    await h.at_rest()
    bob = await embed("userinfo", ADMIN_ID, member=("user", USER2_ID))
    fields = {f["name"]: f["value"] for f in bob["fields"]}
    assert fields["Known to Finn"].startswith("since <t:") and "(0 days)" in fields["Known to Finn"]
    assert fields["Relationship (admins only)"] == "anger 0/10 · rapport 5/10 · trust 5/10 · formality +0"
    as_alice = await embed("userinfo", USER_ID, member=("user", USER2_ID))
    assert "Relationship (admins only)" not in json.dumps(as_alice)
    h.discord.add_user(900_000_000_000_000_104, "stranger")
    text = await answer(await h.slash("userinfo", opts(member=("user", 900_000_000_000_000_104))))
    assert text == "stranger is not a member of this server."

    server = await embed("serverinfo", USER_ID)
    fields = {f["name"]: f["value"] for f in server["fields"]}
    assert server["title"] == "Tide Pool" and fields["Owner"] == f"<@{OWNER_ID}>"
    assert fields["Members"] == str(len(h.discord.members[GUILD_ID])) and fields["Boosts"] == "0 (tier 0)"
