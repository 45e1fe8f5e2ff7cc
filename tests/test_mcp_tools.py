"""MCP tools over the wire (bot/features/mcp/): a fake MCP server built with the SDK's own server side
(tests/fakes/mcp_server.py), served as streamable HTTP on 127.0.0.1 and run as a stdio program; the real
discord.py client against the fake Discord, the fake Claude asking for the tool (tests/fakes/claude_tools.py
``UseTool``). An added server's allowed tool is used where its admins added it, never elsewhere; its result
goes back fenced as data; a server that hangs or lies costs one bounded call and one log line."""

from __future__ import annotations

import json
import logging
import shlex
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.core.stages import Incoming
from bot.features.mcp import IN_PRIVATE
from bot.features.mcp.admin import NO_LOCAL, UNREACHABLE
from bot.features.mcp.config import McpSettings
from bot.features.mcp.lender import McpTools
from bot.reply.generation import Lending
from database.store import Store
from tests.fakes.claude_server import Reply
from tests.fakes.claude_tools import UseTool, result_text
from tests.fakes.discord_guild import VIEW_CHANNEL
from tests.fakes.mcp_server import FLOOD_CHARS, FakeMcp, garbage_server, http_server, silent_server
from tests.fakes.openai_server import Calls, FakeOpenAI
from tests.harness import CHANNEL_ID, GUILD_ID, OWNER_ID, Harness, reply_requests
from tests.place_support import place, place_switch
from tests.test_openai_tools import generation, make_client  # noqa: F401  (a fixture)
from tests.test_tool_loop import PROMPT

OTHER_GUILD, OTHER_CHANNEL = 880_000_000_000_000_001, 880_000_000_000_000_002
# The fakes listen on 127.0.0.1: the operator's mcp_private_hosts lets the suite's servers be added (the
# tests of the address guard turn it off). A failed add is answered at mcp_call_seconds: 5 keeps it short.
BASE = {"mcp_tools": "true", "mcp_private_hosts": "true", "mcp_call_seconds": "5"}


@pytest.fixture
async def fake_mcp() -> AsyncIterator[FakeMcp]:
    async with http_server() as fake:
        yield fake


async def two_servers(db_url: str, tmp_path: Path, **config: Any) -> Harness:
    h = Harness(db_url=db_url, tmp_path=tmp_path, config={**BASE, **config})
    await h.start_world(other_guild=(OTHER_GUILD, OTHER_CHANNEL))
    await h.start_bot()
    return h


@pytest.fixture
async def world(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    h = await two_servers(db_url, tmp_path)
    try:
        yield h
    finally:
        await h.close()


def mcp(command: str, **options: str) -> list[dict[str, Any]]:
    """``/bot mcp <command>`` options as Discord sends them (a subcommand group, then the subcommand)."""
    given = [{"name": k, "type": 3, "value": v} for k, v in options.items()]
    return [{"type": 2, "name": "mcp", "options": [{"type": 1, "name": command, "options": given}]}]


async def admin(h: Harness, command: str, **options: str) -> str:
    said = await (await h.slash("bot", mcp(command, **options), user=OWNER_ID)).message()
    return str(said["content"])


def tool_names(body: dict[str, Any]) -> set[str]:
    return {str(t.get("name")) for t in body.get("tools") or []}


def mcp_lines(caplog: pytest.LogCaptureFixture, about: str = "") -> list[str]:
    """The MCP feature's warnings (those naming the server ``about``)."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("bot.features.mcp")
            and r.levelno >= logging.WARNING and f"MCP server {about}" in r.getMessage()]


async def ask(h: Harness, text: str, n: int, channel: int = CHANNEL_ID) -> dict[str, Any]:
    await h.say(text, mention=True, channel=channel)
    return (await h.replies(channel, n))[-1]


async def test_an_added_tool_is_used_where_it_was_added_fenced_as_data_and_absent_elsewhere(
        world: Harness, fake_mcp: FakeMcp) -> None:
    h = world
    said = await admin(h, "add", name="weather", url=fake_mcp.url, tools="forecast")
    assert "Added the MCP server **weather**" in said and "`forecast`" in said and "`diary`" in said
    assert "Allowed here: `forecast`" in said
    asked = UseTool("weather__forecast", {"city": "Oslo"}, answer="Looks like {result}")
    h.claude.script(Reply(tools=asked), times=2)
    reply = await ask(h, "what's the weather in Oslo?", 1)
    first, second = reply_requests(h)[-2:]
    declared = tool_names(first.body)
    assert "weather__forecast" in declared
    assert "weather__diary" not in declared  # not on the allow-list
    assert fake_mcp.calls == [("forecast", {"city": "Oslo"})]
    # the result went back in the next request as a tool_result, fenced as data
    result = second.body["messages"][-1]["content"][0]
    assert result["type"] == "tool_result" and result["is_error"] is False
    text = result_text(result)
    assert text.startswith('<tool_output name="weather__forecast">') and "sunny in Oslo" in text
    assert "sunny in Oslo" in reply["content"]

    # another server, whose admins added nothing: the tool is not declared there
    h.claude.script(Reply(tools=UseTool("weather__forecast", {"city": "Rome"}, plain="No idea, sorry.")))
    elsewhere = await ask(h, "and the weather in Rome?", 1, channel=OTHER_CHANNEL)
    assert "weather__forecast" not in tool_names(reply_requests(h)[-1].body)
    assert elsewhere["content"] == "No idea, sorry." and len(fake_mcp.calls) == 1

    # listed, allowed again, removed
    assert "`forecast`" in await admin(h, "list")
    assert "Allowed tools of **weather** here: `forecast` and `diary`" in await admin(
        h, "allow", name="weather", tools="forecast, diary")
    h.claude.script(Reply(text="Hello!"))
    await ask(h, "hello", 2)
    assert {"weather__forecast", "weather__diary"} <= tool_names(reply_requests(h)[-1].body)
    assert "Removed" in await admin(h, "remove", name="weather")
    h.claude.script(Reply(text="Hello again!"))
    await ask(h, "hello again", 3)
    assert not any(n.startswith("weather__") for n in tool_names(reply_requests(h)[-1].body))


async def test_a_private_place_offers_them_only_where_its_admins_say_so(world: Harness,
                                                                       fake_mcp: FakeMcp) -> None:
    h = world
    await admin(h, "add", name="weather", url=fake_mcp.url, tools="forecast")
    channel = h.discord.channels[CHANNEL_ID]  # made a private place: @everyone cannot view it
    channel["permission_overwrites"] = [{"id": str(GUILD_ID), "type": 0, "allow": "0",
                                         "deny": str(VIEW_CHANNEL)}]
    await h.discord.dispatch("CHANNEL_UPDATE", channel, guild_id=GUILD_ID)
    h.claude.script(Reply(text="Hm?"))
    await ask(h, "what's the weather?", 1)
    assert "weather__forecast" not in tool_names(reply_requests(h)[-1].body)
    said = await (await h.slash("bot", mcp("private", state="on"), user=OWNER_ID)).message()
    assert "Mcp private is **on**" in said["content"]
    h.claude.script(Reply(text="Let me see."))
    await ask(h, "and now?", 2)
    assert "weather__forecast" in tool_names(reply_requests(h)[-1].body)


async def test_a_hung_server_costs_one_bounded_call_and_one_log_line(
        db_url: str, tmp_path: Path, fake_mcp: FakeMcp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.features.mcp")
    h = await two_servers(db_url, tmp_path, mcp_call_seconds="3")  # a bound, not a wait: ample headroom
    try:
        await admin(h, "add", name="slow", url=fake_mcp.url, tools="hang")
        asked = UseTool("slow__hang", {"x": "now"}, answer="It said: {result}")
        h.claude.script(Reply(tools=asked), times=2)
        await ask(h, "try the slow one", 1)
        [result] = asked.results
        assert result["is_error"] is True and "the tool did not answer" in result_text(result)
        [schema, line] = mcp_lines(caplog, "slow")
        assert "the tool 'liar'" in schema  # listed once, when it was added: the fake lists a liar too
        assert "slow: running hang did not answer in time" in line
        # left alone for mcp_retry_seconds: the next reply does not wait on it (nor declare it)
        h.claude.script(Reply(text="Sure."))
        await ask(h, "anything else?", 2)
        assert "slow__hang" not in tool_names(reply_requests(h)[-1].body)
        assert len(mcp_lines(caplog, "slow")) == 2 and fake_mcp.calls == [("hang", {"x": "now"})]

        # a server that takes the connection and never says a word: adding it costs one bounded call
        async with silent_server() as url:
            said = await admin(h, "add", name="mute", url=url, tools="anything")
            assert said == UNREACHABLE  # not added: nothing for a reply to wait on
            [line] = mcp_lines(caplog, "mute")
            assert "listing its tools did not answer in time" in line
            for n, text in enumerate(("still there?", "still there now?"), start=3):
                h.claude.script(Reply(text="Yes."))
                await ask(h, text, n)  # left alone: no reply waits on it again
            assert len(mcp_lines(caplog, "mute")) == 1
    finally:
        await h.close()


async def test_a_lying_server_costs_one_call_and_one_log_line(
        world: Harness, fake_mcp: FakeMcp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.features.mcp")
    h = world
    said = await admin(h, "add", name="odd", url=fake_mcp.url, tools="liar,flood")
    # a schema that is no JSON Schema: never declared, never called
    assert "Its tools: `diary`, `flood`, `forecast` and `hang`\n" in said
    assert "It has no tool called `liar`" in said
    [line] = mcp_lines(caplog)
    assert "the tool 'liar': its input schema is invalid" in line
    # megabytes: cut to what the character reads
    asked = UseTool("odd__flood", {"x": "all"}, answer="ok")
    h.claude.script(Reply(tools=asked), times=2)
    await ask(h, "flood me", 1)
    assert "odd__liar" not in tool_names(reply_requests(h)[-2].body)
    text = result_text(asked.results[0])
    kept = McpSettings().mcp_result_chars
    assert len(text) < kept + 200 and f"[cut: {FLOOD_CHARS - kept} more characters]" in text
    assert any("flood answered 3000000 characters" in x for x in mcp_lines(caplog))
    # garbage for an answer: one call, one line, no tools
    async with garbage_server() as url:
        before = len(mcp_lines(caplog))
        said = await admin(h, "add", name="junk", url=url, tools="anything")
        assert said == UNREACHABLE and len(mcp_lines(caplog)) == before + 1
        assert "junk: listing its tools failed" in mcp_lines(caplog)[-1]


async def test_the_operators_local_server_runs_over_stdio(db_url: str, tmp_path: Path) -> None:
    local = f"here={shlex.quote(sys.executable)} -m tests.fakes.mcp_server"
    h = await two_servers(db_url, tmp_path, mcp_local_servers=local, mcp_local_places=f"here={GUILD_ID}",
                          mcp_call_seconds="30")
    try:
        # an admin can name only the operator's programs, never one of their own
        assert await admin(h, "add", name="mine", url="local:bash") == NO_LOCAL
        said = await admin(h, "add", name="home", url="local:here", tools="forecast")
        assert "Allowed here: `forecast`" in said
        asked = UseTool("home__forecast", {"city": "Lima"}, answer="{result}")
        h.claude.script(Reply(tools=asked), times=2)
        reply = await ask(h, "weather in Lima?", 1)
        assert "sunny in Lima" in reply["content"]
        assert result_text(asked.results[0]).startswith('<tool_output name="home__forecast">')
    finally:
        await h.close()


async def test_an_mcp_tool_works_with_a_local_model_on_the_openai_backend(
        make_client: Any, fake_openai: FakeOpenAI, store: Store, fake_mcp: FakeMcp) -> None:  # noqa: F811
    tools = McpTools(McpSettings(mcp_tools=True, mcp_private_hosts=True), store.mcp,
                     place_switch(store, IN_PRIVATE))
    await store.mcp.add(GUILD_ID, "weather", fake_mcp.url, ("forecast",))
    msg = Incoming(1, 7, "ann", "weather in Oslo?", datetime.now(UTC),
                   place=place(CHANNEL_ID, False, GUILD_ID))
    box = Lending(await tools(msg), msg, PROMPT).toolbox(4)
    assert box is not None
    fake_openai.script(Calls("Let me look.", calls=[("weather__forecast", json.dumps({"city": "Oslo"}))]))
    fake_openai.script("Sunny, it says.")
    done = await generation(make_client(), box).write(streamed=False)
    assert done.text.endswith("Sunny, it says.") and fake_mcp.calls == [("forecast", {"city": "Oslo"})]
    asked, answered = fake_openai.requests
    assert [t["function"]["name"] for t in asked.body["tools"]] == ["weather__forecast"]
    result = answered.body["messages"][-1]
    assert result["role"] == "tool" and result["content"].startswith('<tool_output name="weather__forecast">')
    assert "sunny in Oslo" in result["content"]


async def test_an_answer_past_its_byte_bound_is_not_read_on(db_url: str, tmp_path: Path, fake_mcp: FakeMcp,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.features.mcp")
    h = await two_servers(db_url, tmp_path, mcp_response_bytes=str(1 << 20))  # a third of the flood
    try:
        await admin(h, "add", name="big", url=fake_mcp.url, tools="flood")
        asked = UseTool("big__flood", {"x": "all"}, answer="It said: {result}")
        h.claude.script(Reply(tools=asked), times=2)
        await ask(h, "flood me", 1)
        [result] = asked.results
        assert result["is_error"] is True and "the tool did not answer" in result_text(result)
        [line] = [x for x in mcp_lines(caplog, "big") if "flood" in x]
        assert "running flood failed" in line and f"ran past {1 << 20} bytes" in line, line
        assert fake_mcp.calls == [("flood", {"x": "all"})]
    finally:
        await h.close()


async def test_a_server_gone_after_it_was_added_costs_one_call_and_one_log_line(
        world: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.features.mcp")
    h = world
    async with http_server() as gone:
        await admin(h, "add", name="brief", url=gone.url, tools="forecast")
    # its listing is still kept: the tool is declared, and the call finds no one there
    asked = UseTool("brief__forecast", {"city": "Oslo"}, answer="It said: {result}")
    h.claude.script(Reply(tools=asked), times=2)
    await ask(h, "weather in Oslo?", 1)
    [result] = asked.results
    assert result["is_error"] is True and "the tool did not answer" in result_text(result)
    [line] = [x for x in mcp_lines(caplog, "brief") if "running" in x]  # (the other: its liar, listed)
    assert "brief: running forecast failed" in line and "left alone for 300 s" in line
    h.claude.script(Reply(text="No forecast today."))
    await ask(h, "and tomorrow?", 2)  # left alone: not declared, not called, no line more
    assert "brief__forecast" not in tool_names(reply_requests(h)[-1].body)
    assert len(mcp_lines(caplog, "brief")) == 2 and gone.calls == []


async def test_mcp_tools_keep_to_the_requests_tool_cap_and_the_tool_loops_bound(
        db_url: str, tmp_path: Path, fake_mcp: FakeMcp, caplog: pytest.LogCaptureFixture) -> None:
    h = await two_servers(db_url, tmp_path, mcp_max_tools="2", tool_rounds="2")
    try:
        await admin(h, "add", name="weather", url=fake_mcp.url, tools="forecast,diary,hang")
        again = UseTool("weather__forecast", {"city": "Bergen"})
        asked = UseTool("weather__forecast", {"city": "Oslo"},
                        then=UseTool("weather__forecast", {"city": "Rome"}, then=again))
        h.claude.script(Reply(tools=asked), times=3)
        await ask(h, "the weather everywhere, one city at a time", 1)
        first = reply_requests(h)[-2]
        assert sorted(n for n in tool_names(first.body) if n.startswith("weather__")) == [
            "weather__diary", "weather__forecast"]  # two of the three allowed: mcp_max_tools
        # tool_rounds=2: the first call's tool runs, the second call is the last (its tool is not run)
        assert fake_mcp.calls == [("forecast", {"city": "Oslo"})] and len(reply_requests(h)) == 2
        assert any("still using tools after 2 calls" in r.getMessage() for r in caplog.records)
    finally:
        await h.close()


def test_the_mcp_sdk_is_imported_only_when_a_server_is_called() -> None:
    """A bot that never calls an MCP server does not hold the SDK (its modules are some 26 MB of memory):
    the whole bot imported in a fresh interpreter leaves it out."""
    import subprocess

    probe = ("import sys, bot.discord.client, main\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mcp'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]", out.stdout
