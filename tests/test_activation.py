"""Per-place activation over the wire: /bot activate|deactivate|status-here, who may use them, and what a
deactivated place gets (no Claude request at all, no reply, no log row unless log_inactive_channels)."""

from __future__ import annotations

from typing import Any

from cogs.activation import SWITCHES
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    GUILD_ID,
    OTHER_CHANNEL_ID,
    USER_ID,
    Harness,
    MakeHarness,
    ephemeral,
    logged,
)


def scope_option(value: str) -> list[dict[str, Any]]:
    return [{"name": "scope", "type": 3, "value": value}]


async def bot_command(h: Harness, sub: str, scope: str | None = None, *, user: int = ADMIN_ID,
                      channel: int = CHANNEL_ID, dm: bool = False) -> str:
    options = [{"name": sub, "type": 1, "options": scope_option(scope) if scope else []}]
    return str((await ephemeral(await h.slash("bot", options, user=user, channel=channel, dm=dm)))["content"])


async def logged_ids(h: Harness, channel: int) -> set[int]:
    return {m.message_id for m in await h.store.log.recent_messages(channel, limit=100)}


async def test_bot_group_is_admin_only_and_guild_only_in_the_payload(harness: Harness) -> None:
    await harness.lead_work_done()  # the commands' sync is lead work
    [group] = [c for c in harness.discord.registered_commands() if c["name"] == "bot"]
    assert int(group["default_member_permissions"]) == 8  # administrator
    assert group["contexts"] == [0] and group["dm_permission"] is False  # servers only
    # the cog's own commands, and one per registered switch (the features' and the cog's own)
    switches = {s.subcommand for s in SWITCHES.values() if s.subcommand and " " not in s.subcommand}
    assert {o["name"] for o in group["options"]} == {"activate", "deactivate", "status-here", "voice", "face",
                                                     "status-refresh", "tasks", "mcp"} | switches
    [activate] = [o for o in group["options"] if o["name"] == "activate"]
    [scope] = activate["options"]
    assert [c["value"] for c in scope["choices"]] == ["channel", "server"] and scope["required"] is False


async def test_a_server_wide_switch_and_a_features_own_subgroup_in_the_payload(harness: Harness) -> None:
    """``/bot voice`` (the voice feature's switch, server-wide) takes no scope; ``/bot mcp`` (the MCP
    feature's own cog) holds its commands and its switch's, ``private``, which takes one."""
    await harness.lead_work_done()  # the commands' sync is lead work
    [group] = [c for c in harness.discord.registered_commands() if c["name"] == "bot"]
    [voice] = [o for o in group["options"] if o["name"] == "voice"]
    assert voice["description"] == "Let people call me into voice channels here (or not)."
    [state] = voice["options"]
    assert state["description"] == "on, off, or default (the voice_channels setting)"
    [mcp] = [o for o in group["options"] if o["name"] == "mcp"]
    assert mcp["type"] == 2 and [o["name"] for o in mcp["options"]] == ["add", "allow", "remove", "list",
                                                                         "private"]
    [private] = [o for o in mcp["options"] if o["name"] == "private"]
    assert [o["name"] for o in private["options"]] == ["state", "scope"]


async def test_non_admins_and_dms_are_refused(harness: Harness) -> None:
    h = harness
    text = await bot_command(h, "deactivate", user=USER_ID)
    assert text == "Only the bot's admins can use this command."
    assert await h.store.places.is_active(CHANNEL_ID, GUILD_ID)
    text = await bot_command(h, "deactivate", dm=True)
    assert "only works in a server" in text
    assert await h.store.places.activation(CHANNEL_ID, GUILD_ID) == (None, None)


async def test_deactivated_channel_gets_no_claude_request_no_reply_no_log(harness: Harness) -> None:
    h = harness
    text = await bot_command(h, "deactivate")
    assert "inactive in <#" in text and "not logged" in text
    assert await h.store.places.activation(CHANNEL_ID, GUILD_ID) == (False, None)

    silenced = [await h.say("Finn, are you there?", mention=True),
                await h.say("what a lovely unaddressed remark")]  # would normally go to a vote
    await h.say("and here?", mention=True, channel=OTHER_CHANNEL_ID)  # other channels are unaffected
    await h.replies(OTHER_CHANNEL_ID)
    await h.settled()  # every event read and handled: what did not happen, will not
    assert len(h.claude.requests) == 1  # only the other channel's reply: no vote, no reply here
    assert h.discord.posted(CHANNEL_ID) == []
    assert not {int(m["id"]) for m in silenced} & await logged_ids(h, CHANNEL_ID)

    text = await bot_command(h, "activate")
    assert "I'm active in <#" in text
    await h.say("back again?", mention=True)
    await h.replies(CHANNEL_ID)
    # Messages from while it was inactive never enter the prompt's channel context either.
    assert "lovely unaddressed remark" not in h.claude.all_text(h.claude.requests[-1])


async def test_inactive_messages_are_logged_when_configured(make_harness: MakeHarness) -> None:
    h = await make_harness(log_inactive_channels="true")
    text = await bot_command(h, "deactivate")
    assert "still logged" in text
    sent = await h.say("Finn, log me but stay quiet", mention=True)
    await logged(h, CHANNEL_ID, int(sent["id"]))
    assert int(sent["id"]) in await logged_ids(h, CHANNEL_ID)
    await h.settled()  # every event read and handled: what did not happen, will not
    assert h.claude.requests == [] and h.discord.posted(CHANNEL_ID) == []


async def test_server_switch_and_channel_override(harness: Harness) -> None:
    h = harness
    text = await bot_command(h, "deactivate", "server")
    assert "inactive in the server Tide Pool" in text
    status = await bot_command(h, "status-here", channel=OTHER_CHANNEL_ID)
    assert "**inactive** (channel: not set, server: inactive" in status

    await bot_command(h, "activate", "channel")  # this channel opts back in
    assert await h.store.places.is_active(CHANNEL_ID, GUILD_ID)
    assert not await h.store.places.is_active(OTHER_CHANNEL_ID, GUILD_ID)
    await h.say("quiet room?", mention=True, channel=OTHER_CHANNEL_ID)
    await h.say("lively room?", mention=True)
    await h.replies(CHANNEL_ID)
    await h.settled()  # every event read and handled: what did not happen, will not
    assert h.discord.posted(OTHER_CHANNEL_ID) == [] and len(h.claude.requests) == 1
    status = await bot_command(h, "status-here")
    assert "**active** (channel: active, server: inactive" in status

    await bot_command(h, "activate", "server")
    await h.say("awake now?", mention=True, channel=OTHER_CHANNEL_ID)
    await h.replies(OTHER_CHANNEL_ID)
