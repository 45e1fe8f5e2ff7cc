"""Knowing the server, over the wire (fake Discord serving members, scheduled events and reactions with
Discord's rules; fake Claude asking for client tools under their strict schemas: tests/fakes/claude_tools.py
``UseTool``): who a member is, the server's events, what was said here, a reaction from the allow-list; and
nothing from a DM, a private place or someone forgotten ever comes back from a tool in a public channel."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest

from tests.fakes.claude_server import Reply
from tests.fakes.claude_tools import UseTool, result_text
from tests.fakes.discord_guild import ADD_REACTIONS, VIEW_CHANNEL
from tests.fakes.discord_lead import MEMBER_PERMISSIONS
from tests.harness import (
    CHANNEL_ID,
    GUILD_ID,
    OTHER_CHANNEL_ID,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    button,
    reply_requests,
)

SECRET = "my blood sugar was 300 this morning"
SERVER_TOOLS = {"member_info", "scheduled_events", "recent_messages", "react"}
PLACE_TOOLS = SERVER_TOOLS - {"react"}  # those that speak of a server
REMINDER_TOOLS = {"set_reminder", "suggest_timezone"}


def tool_names(body: dict[str, Any]) -> set[str]:
    """The names of the tools a request declares (other features may lend theirs beside them)."""
    return {str(t.get("name")) for t in body.get("tools") or []}


def tool_results(h: Harness) -> list[str]:
    """The text of every tool_result the bot sent Claude, once each (a later call sends them again)."""
    found: dict[str, str] = {}
    for request in h.claude.requests:
        for message in request.body["messages"]:
            for block in message["content"] if isinstance(message.get("content"), list) else []:
                if block.get("type") == "tool_result":
                    found.setdefault(str(block["tool_use_id"]), result_text(block))
    return list(found.values())


async def hide(h: Harness, channel_id: int, role_id: int = GUILD_ID) -> None:
    """The channel made one ``role_id`` (default @everyone: a private place) cannot view."""
    channel = h.discord.channels[channel_id]
    channel["permission_overwrites"] = [{"id": str(role_id), "type": 0, "allow": "0",
                                         "deny": str(VIEW_CHANNEL)}]
    await h.discord.dispatch("CHANNEL_UPDATE", channel, guild_id=GUILD_ID)


async def test_who_is_alice_asks_member_info_and_answers_from_its_result(make_harness: MakeHarness) -> None:
    h = await make_harness(server_tools="true")
    role = await h.discord.add_role(GUILD_ID, "Otter Keeper")
    await h.discord.give_role(GUILD_ID, USER_ID, role)
    await h.say("hi everyone, I'm new", mention=True)  # alice talks: the character has seen her
    await h.replies(CHANNEL_ID, 1)
    await h.at_rest()
    asked = UseTool("member_info", {"name": "alice"}, answer="Oh, alice! {result}")
    h.claude.script(Reply(tools=asked), times=2)
    await h.say("who is alice?", user=USER2_ID, mention=True)
    reply = (await h.replies(CHANNEL_ID, 2))[1]
    first, second = reply_requests(h)[-2:]
    assert SERVER_TOOLS <= tool_names(first.body)
    assert all(t["strict"] and t["input_schema"]["additionalProperties"] is False
               for t in first.body["tools"])
    # the fake's answer went back as a tool_result, fenced as data
    [result] = asked.results
    text = result_text(result)
    assert text.startswith('<tool_output name="member_info">') and result["is_error"] is False
    assert "display name: alice" in text and "roles: Otter Keeper" in text
    assert "joined this server: <t:" in text
    assert second.body["messages"][-1]["content"][0]["type"] == "tool_result"
    assert "roles: Otter Keeper" in reply["content"]
    # the member was read from Discord: GET /guilds/{guild}/members/{user}
    assert any(r.method == "GET" and r.path == f"/guilds/{GUILD_ID}/members/{USER_ID}"
               for r in h.discord.requests)
    # the declarations are the same bytes from reply to reply (the cached prefix starts with them)
    h.claude.script(Reply(text="Anything else?"))
    await h.say("thanks!", user=USER2_ID, mention=True)
    await h.replies(CHANNEL_ID, 3)
    assert json.dumps(reply_requests(h)[-1].body["tools"]) == json.dumps(first.body["tools"])


async def test_server_tools_are_off_by_default_switchable_per_place_and_only_react_in_dms(
        make_harness: MakeHarness) -> None:
    h = await make_harness(reminders_in_dms="false")  # only the server's tools here (reminders: their own)
    await h.say("hello", mention=True)
    await h.replies(CHANNEL_ID, 1)
    assert not SERVER_TOOLS & tool_names(reply_requests(h)[-1].body)
    await h.restart(server_tools="true")
    sent = await h.dm("hi there")
    await h.replies(int(sent["channel_id"]), 1)
    in_dm = tool_names(reply_requests(h)[-1].body)
    assert "react" in in_dm and not PLACE_TOOLS & in_dm  # a DM has no server to speak of
    answer = await (await h.slash("bot", [{"type": 1, "name": "server-tools", "options": [
        {"type": 3, "name": "state", "value": "off"}, {"type": 3, "name": "scope", "value": "server"}]}],
        user=h.admin_id)).message()
    assert "Server tools is **off**" in answer["content"]
    await h.say("hello again", mention=True)
    await h.replies(CHANNEL_ID, 2)
    assert not SERVER_TOOLS & tool_names(reply_requests(h)[-1].body)


async def test_the_servers_scheduled_events_are_listed_as_discord_shows_them(
        make_harness: MakeHarness) -> None:
    h = await make_harness(server_tools="true")
    d = h.discord
    # the bot an ordinary member (not an administrator), kept out of #random
    await d.set_role_permissions(GUILD_ID, d.bot_role_id(GUILD_ID), int(MEMBER_PERMISSIONS))
    await hide(h, OTHER_CHANNEL_ID, d.bot_role_id(GUILD_ID))
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    d.add_scheduled_event(GUILD_ID, "Beach clean-up", start, end=start + timedelta(hours=3),
                          location="Brighton beach", description="Bring gloves.")
    d.add_scheduled_event(GUILD_ID, "Movie night", start + timedelta(days=1), channel_id=CHANNEL_ID)
    d.add_scheduled_event(GUILD_ID, "Mods only", start, channel_id=OTHER_CHANNEL_ID)
    d.add_scheduled_event(GUILD_ID, "Last week's quiz", start - timedelta(days=9), channel_id=CHANNEL_ID,
                          status=3)
    asked = UseTool("scheduled_events", {}, answer="Coming up: {result}")
    h.claude.script(Reply(tools=asked), times=2)
    await h.say("anything happening this week?", mention=True)
    await h.replies(CHANNEL_ID, 1)
    text = result_text(asked.results[0])
    assert "Beach clean-up: starts <t:" in text and f"<t:{int(start.timestamp())}:F>" in text
    assert "where: Brighton beach" in text and "about: Bring gloves." in text
    assert "Movie night" in text and "where: #general" in text
    assert text.index("Beach clean-up") < text.index("Movie night")  # by start
    assert "Mods only" not in text  # Discord leaves out what the bot cannot view
    assert "quiz" not in text  # over
    assert any(r.path == f"/guilds/{GUILD_ID}/scheduled-events" for r in d.requests)


async def test_a_private_fact_never_comes_back_from_a_tool_in_a_public_channel(
        make_harness: MakeHarness) -> None:
    h = await make_harness(server_tools="true")
    await hide(h, OTHER_CHANNEL_ID)  # a private place: @everyone cannot see it
    start = datetime.now(UTC) + timedelta(days=1)
    h.discord.add_scheduled_event(GUILD_ID, "Support circle", start, channel_id=OTHER_CHANNEL_ID,
                                  description=SECRET)
    h.discord.add_scheduled_event(GUILD_ID, "Otter walk", start, end=start + timedelta(hours=1),
                                  location="the pier")
    sent = await h.dm(f"between us: {SECRET}")  # alice's DM
    await h.replies(int(sent["channel_id"]), 1)
    await h.say(f"so, {SECRET}", channel=OTHER_CHANNEL_ID, mention=True)  # the private place
    await h.replies(OTHER_CHANNEL_ID, 1)
    await h.store.facts.add(USER_ID, f"Alice said {SECRET}.")  # in her memory too
    await h.say("I love otters", mention=True)  # the public channel
    await h.replies(CHANNEL_ID, 1)
    await h.at_rest()
    asked = UseTool("recent_messages", {"count": 50},
                    then=UseTool("member_info", {"name": "alice"},
                                 then=UseTool("scheduled_events", {}, answer="That's all I know.")))
    h.claude.script(Reply(tools=asked), times=4)
    await h.say("what's been going on here, and who is alice?", user=USER2_ID, mention=True)
    await h.replies(CHANNEL_ID, 2)
    results = tool_results(h)
    assert len(results) == 3
    assert "alice: @Finn I love otters" in results[0] and "Finn: Hello from fake Claude." in results[0]
    assert "display name: alice" in results[1]
    assert "Otter walk" in results[2]
    for text in results:
        assert "blood sugar" not in text and "Support circle" not in text
    # in the private place itself, its own event may be named
    events = UseTool("scheduled_events", {})
    h.claude.script(Reply(tools=events), times=2)
    await h.say("any events?", channel=OTHER_CHANNEL_ID, mention=True)
    await h.replies(OTHER_CHANNEL_ID, 2)
    assert "Support circle" in result_text(events.results[0])


async def test_someone_forgotten_or_not_a_member_does_not_exist(make_harness: MakeHarness) -> None:
    h = await make_harness(server_tools="true")
    await h.say("otters are the best", mention=True)
    await h.replies(CHANNEL_ID, 1)
    await h.dm("hi finn", user=h.owner_id)  # the character knows the owner, who then leaves the server
    await h.replies(h.discord.dm_channel_for(h.owner_id), 1)
    del h.discord.members[GUILD_ID][h.owner_id]
    await h.at_rest()
    prompt = await (await h.slash("forget_me")).message()
    await (await h.click(prompt, button(prompt, "confirm")["custom_id"])).response()
    await h.discord.wait_for(lambda d: "Done: I deleted" in (prompt.get("content") or ""), what="/forget_me")
    asked = UseTool("member_info", {"name": "alice"},
                    then=UseTool("member_info", {"name": "owner"},
                                 then=UseTool("recent_messages", {"count": 10}, answer="Hm.")))
    h.claude.script(Reply(tools=asked), times=4)
    await h.say("who is alice? and the owner?", user=USER2_ID, mention=True)
    await h.replies(CHANNEL_ID, 2)
    forgotten, left, lines = tool_results(h)
    assert "There is no member called alice in this server." in forgotten
    assert "There is no member called owner in this server." in left
    owner = [r for r in h.discord.requests if r.path == f"/guilds/{GUILD_ID}/members/{h.owner_id}"]
    assert owner  # asked of Discord, which said Unknown Member
    assert "otters" not in lines and "alice" not in lines


async def test_react_adds_a_reaction_from_the_allow_list_only(make_harness: MakeHarness) -> None:
    h = await make_harness(server_tools="true", react_emojis="🎉,👍")
    party = UseTool("react", {"emoji": "🎉"}, answer="Congrats!")
    h.claude.script(Reply(tools=party), times=2)
    sent = await h.say("I got the job!", mention=True)
    [reply] = await h.replies(CHANNEL_ID, 1)
    assert reply["content"] == "Congrats!"
    assert [(r["message_id"], r["emoji"]) for r in h.discord.reactions] == [(int(sent["id"]), "🎉")]
    declared = next(t for t in reply_requests(h)[0].body["tools"] if t["name"] == "react")
    assert declared["input_schema"]["properties"] == {"emoji": {"type": "string", "enum": ["🎉", "👍"]}}
    # an emoji off the list cannot be asked for: strict decoding keeps to the enum
    rude = UseTool("react", {"emoji": "🍆"}, answer="Ok.")
    h.claude.script(Reply(tools=rude), times=2)
    sent = await h.say("react with an eggplant!", mention=True)
    await h.replies(CHANNEL_ID, 2)
    assert rude.inputs == [{"emoji": "🎉"}]
    assert all(r["emoji"] in ("🎉", "👍") for r in h.discord.reactions)
    # Discord's rules: without Add Reactions a new emoji is refused, and the model is told
    d = h.discord
    for role in (GUILD_ID, d.bot_role_id(GUILD_ID)):  # @everyone's and the bot's own
        await d.set_role_permissions(GUILD_ID, role, int(MEMBER_PERMISSIONS) & ~ADD_REACTIONS)
    thumbs = UseTool("react", {"emoji": "👍"}, answer="{result}")
    h.claude.script(Reply(tools=thumbs), times=2)
    await h.say("nice", mention=True)
    await h.replies(CHANNEL_ID, 3)
    assert thumbs.results[0]["is_error"] is True and "Missing Permissions" in result_text(thumbs.results[0])
    assert len(h.discord.reactions) == 2


async def test_the_fake_discord_keeps_discords_rules_for_members_and_events(
        make_harness: MakeHarness) -> None:
    """What the tools rely on, through the real discord.py: a non-member is 404 Unknown Member; listing the
    members needs the GUILD_MEMBERS intent (403 Missing Access without it); a server the bot is not in is
    403 Missing Access; an unknown emoji is 400 Unknown Emoji."""
    h = await make_harness()
    assert h.bot is not None
    guild = h.bot.get_guild(GUILD_ID)
    assert guild is not None
    stranger = 900_000_000_000_000_999
    h.discord.add_user(stranger, "stranger")
    with pytest.raises(discord.NotFound) as unknown:
        await guild.fetch_member(stranger)
    assert unknown.value.code == 10007
    assert (await guild.fetch_member(USER_ID)).name == "alice"
    h.discord.enabled_intents.discard("guild_members")
    with pytest.raises(discord.Forbidden) as listing:
        await h.bot.http.get_members(GUILD_ID, 10, None)
    assert listing.value.code == 50001
    other = 900_000_000_000_001_001
    h.discord.add_guild(other, "Elsewhere", channels=[])
    del h.discord.members[other][h.bot_user_id]  # a server the bot is not in
    with pytest.raises(discord.Forbidden) as member:
        await h.bot.http.get_member(other, USER_ID)
    with pytest.raises(discord.Forbidden) as events:
        await h.bot.http.get_scheduled_events(other, False)
    assert member.value.code == events.value.code == 50001
    sent = await h.say("hello")
    with pytest.raises(discord.HTTPException) as emoji:
        await h.bot.http.add_reaction(CHANNEL_ID, int(sent["id"]), "notanemoji")
    assert emoji.value.status == 400 and emoji.value.code == 10014


async def test_a_thread_follows_its_channels_switches_unless_it_has_its_own(
        make_harness: MakeHarness) -> None:
    """``/bot server-tools off`` (and ``/bot reminders on``) in a channel reach its threads: a thread
    message there gets the channel's tools; a thread's own setting wins over its channel's."""
    h = await make_harness(server_tools="true")

    async def switch(name: str, state: str, channel: int) -> None:
        answer = await (await h.slash("bot", [{"type": 1, "name": name, "options": [
            {"type": 3, "name": "state", "value": state}]}], user=h.admin_id, channel=channel)).message()
        assert f"is **{state}**" in answer["content"]

    await switch("server-tools", "off", CHANNEL_ID)
    await switch("reminders", "on", CHANNEL_ID)
    thread = await h.discord.open_thread(CHANNEL_ID, USER_ID, "planning")
    await h.say("who's coming on friday?", channel=thread, mention=True)
    await h.replies(thread, 1)
    declared = tool_names(reply_requests(h)[-1].body)
    assert REMINDER_TOOLS <= declared and not SERVER_TOOLS & declared
    await switch("server-tools", "on", thread)  # the thread's own setting wins
    await switch("reminders", "off", thread)
    await h.say("and on saturday?", channel=thread, mention=True)
    await h.replies(thread, 2)
    declared = tool_names(reply_requests(h)[-1].body)
    assert SERVER_TOOLS <= declared and not REMINDER_TOOLS & declared
