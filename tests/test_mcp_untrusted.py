"""An MCP server is a third party's, and so is what it lists (bot/features/mcp/): over the wire, with the real
discord.py client against the fake Discord, the real anthropic SDK against the fake Claude, and fake MCP
servers built with the SDK's own server side (tests/fakes/mcp_server.py).

* A schema's catastrophic regular expression is checked in a worker, held to the call's time: another
  person's DM is answered while it runs, and the tool is never sent the input.
* What a hostile server declares is bounded per request, all its tools together.
* An address inside (loopback, private, link-local...) is refused however it is written, and a name that
  resolves inside too, before and at the connection: nothing ever connects to it, and the answer is the
  one an unreachable server gets.
* The operator's local servers: only where the operator lends each, their names never shown elsewhere."""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.features.mcp.admin import NO_LOCAL, UNREACHABLE
from bot.features.mcp.config import McpSettings
from tests.fakes.claude_server import Reply
from tests.fakes.claude_tools import UseTool, result_text
from tests.fakes.mcp_server import SLOW_PATTERNS, FakeMcp, build_hostile, http_server, watched_port
from tests.harness import CHANNEL_ID, GUILD_ID, USER2_ID, USER_ID, Harness, dm_reply, reply_requests
from tests.test_mcp_tools import OTHER_GUILD, admin, ask, mcp_lines, tool_names, two_servers

STRICT = {"mcp_private_hosts": "false"}  # the operator's default: public addresses only


@pytest.fixture
async def hostile() -> AsyncIterator[FakeMcp]:
    async with http_server(build_hostile) as fake:
        yield fake


def requests_naming(h: Harness, tool: str) -> list[int]:
    """The indexes (among the reply requests) of those that declare ``tool``."""
    return [i for i, r in enumerate(reply_requests(h)) if tool in tool_names(r.body)]


async def test_a_catastrophic_pattern_costs_another_persons_dm_nothing(
        db_url: str, tmp_path: Path, hostile: FakeMcp) -> None:
    # the check of the model's input is held to mcp_call_seconds: 5 s, far longer than a DM's answer takes,
    # so the order of the requests below says whether the DM waited on it
    h = await two_servers(db_url, tmp_path, mcp_call_seconds="5")
    try:
        said = await admin(h, "add", name="hostile", url=hostile.url, tools="strict,sprawl")
        assert "Allowed here: `strict` and `sprawl`" in said
        word = "a" * 29 + "!"  # 30 characters: ^(a+)+$ takes Python's re ~2^29 steps on it, ^(a|a)*$ ~2^30
        # then the same pattern as a patternProperties, matched against a property's name
        sprawled = UseTool("hostile__sprawl", {word: "x"}, answer="It said: {result}")
        asked = UseTool("hostile__strict", {"x": word, "y": word}, then=sprawled)
        h.claude.script(Reply(tools=asked), times=3,
                        match=lambda body: "hostile__strict" in tool_names(body))
        before = len(reply_requests(h))
        await h.say("is this word all a's?", mention=True)
        await h.claude.wait_for_requests(before + 1)  # the model asked for the tool: its input is checked now
        # meanwhile, another person's DM elsewhere
        answered = await dm_reply(h, "hello, how are you?", 1, user=USER2_ID)
        assert answered == "Hello from fake Claude."
        [reply] = await h.replies(CHANNEL_ID, 1)
        requests = reply_requests(h)
        dm = next(i for i, r in enumerate(requests) if "hello, how are you?" in h.claude.all_text(r.body))
        asking, answering, _ = requests_naming(h, "hostile__strict")
        # the DM was asked and answered between the tool's call and its result: it did not wait on the check
        assert asking < dm < answering
        for tool in (asked, sprawled):
            [result] = tool.results
            assert result["is_error"] is True
            assert "could not be checked against the tool's schema within 5 s" in result_text(result)
        assert hostile.calls == [] and "It said:" in reply["content"]  # no input ever reached the server
        declared = next(t for t in requests[asking].body["tools"] if t["name"] == "hostile__strict")
        assert {k: v["pattern"] for k, v in declared["input_schema"]["properties"].items()} == SLOW_PATTERNS
    finally:
        await h.close()


async def test_a_hostile_servers_declarations_are_bounded_per_request(
        db_url: str, tmp_path: Path, hostile: FakeMcp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.features.mcp")
    h = await two_servers(db_url, tmp_path)
    try:
        wide = ",".join(f"wide{n}" for n in range(10))
        said = await admin(h, "add", name="hostile", url=hostile.url, tools=f"strict,sprawl,{wide}")
        assert "It has no tool called" not in said
        h.claude.script(Reply(text="Hi."))
        await ask(h, "hello", 1)
        declared = [t for t in reply_requests(h)[-1].body["tools"] if t["name"].startswith("hostile__")]
        size = sum(len(json.dumps(t, ensure_ascii=False)) for t in declared)
        budget = McpSettings().mcp_declared_chars
        # twelve allowed and listed, ten of them within mcp_max_tools, ~75,000 characters: what fits is kept
        assert 0 < size <= budget and len(declared) < 10, (size, [t["name"] for t in declared])
        assert {"hostile__sprawl", "hostile__strict"} <= {t["name"] for t in declared}  # the first that fit
        left_out = [x for x in caplog.messages if "past mcp_declared_chars" in x]
        assert len(left_out) == 10 - len(declared)
        h.claude.script(Reply(text="Hi again."))
        await ask(h, "hello again", 2)  # the same tools, and no line more
        assert [t["name"] for t in reply_requests(h)[-1].body["tools"] if t["name"].startswith("hostile__")] \
            == [t["name"] for t in declared]
        assert len([x for x in caplog.messages if "past mcp_declared_chars" in x]) == len(left_out)
    finally:
        await h.close()


async def test_an_address_inside_is_refused_however_written_and_never_connected_to(
        db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.features.mcp")
    async with watched_port() as (port, seen):
        # a failed add is answered at mcp_call_seconds: 1 s here, all of them at once
        h = await two_servers(db_url, tmp_path, mcp_call_seconds="1", **STRICT)
        try:
            forms = [f"https://{host}:{port}/mcp" for host in (
                "127.0.0.1", "2130706433", "127.1", "0", "0177.0.0.1", "0x7f.1", "0x7f000001", "[::1]",
                "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::]", "localhost", "LocalHost.")]
            forms += ["https://2852039166/latest/meta-data", "https://169.254.169.254/", "https://10.0.0.5/mcp",
                      "https://[fe80::1]/mcp", "https://224.0.0.1/mcp", "https://[::ffff:a9fe:a9fe]/mcp",
                      "https://100.64.0.1/mcp", "https://240.0.0.1/mcp", "https://[64:ff9b::7f00:1]/mcp",
                      "https://[2002:7f00:1::]/mcp", "https://[::127.0.0.1]/mcp"]
            answers = await asyncio.gather(*(admin(h, "add", name=f"s{n}", url=url, tools="forecast")
                                             for n, url in enumerate(forms)))
            assert answers == [UNREACHABLE] * len(forms), dict(zip(forms, answers, strict=True))
            assert seen == []  # not one connection was made to the port
            assert "No MCP servers were added here" in await admin(h, "list")
            refused = [x for x in caplog.messages if "refused in server" in x]
            assert len(refused) == len(forms)
            # plain http is refused as written (no address looked up)
            assert await admin(h, "add", name="plain", url="http://tools.example.com/mcp") == (
                "Only https:// URLs can be added here.")
        finally:
            await h.close()


async def test_a_name_rebound_inside_after_the_check_is_refused_at_the_connection(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """A name whose first answer is public and every later one the loopback (DNS rebinding): the check at
    /bot mcp add passes, the connection's own look-up finds the loopback, and nothing connects."""
    caplog.set_level(logging.INFO, logger="bot.features.mcp")
    system = socket.getaddrinfo
    looked_up: list[str] = []

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebound.example":
            looked_up.append(host)
            host = "93.184.215.14" if len(looked_up) == 1 else "127.0.0.1"
        return system(host, *args, **kwargs)

    async with watched_port() as (port, seen):
        h = await two_servers(db_url, tmp_path, mcp_call_seconds="1", **STRICT)
        try:
            monkeypatch.setattr(socket, "getaddrinfo", rebinding)
            said = await admin(h, "add", name="rebound", url=f"https://rebound.example:{port}/mcp")
            assert said == UNREACHABLE
            assert len(looked_up) >= 2 and seen == []  # looked up again at the connection, and refused
            [line] = mcp_lines(caplog, "rebound")
            assert "listing its tools failed" in line and "127.0.0.1" in line, line
        finally:
            monkeypatch.undo()
            await h.close()


async def test_local_servers_only_where_the_operator_lends_them(db_url: str, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.features.mcp")
    program = f"{shlex.quote(sys.executable)} -m tests.fakes.mcp_server"
    h = await two_servers(
        db_url, tmp_path,
        mcp_local_servers=f"files={program}; shell={program}; home={program}; spare={program}",
        mcp_local_places=f"files={GUILD_ID} dm:{USER_ID}; shell={OTHER_GUILD}; home=dm:*",
        mcp_in_dms="true", mcp_call_seconds="30")
    try:
        # set up, lent nowhere: the operator is told once, at start-up
        assert [x for x in caplog.messages if "lent nowhere" in x] == [
            "local MCP servers lent nowhere (name them in mcp_local_places to use them): spare"]
        # lent elsewhere, lent to DMs only, lent nowhere, or no such server: one answer, naming none of them
        for name in ("shell", "home", "spare", "nope"):
            said = await admin(h, "add", name="x", url=f"local:{name}")
            assert said == NO_LOCAL and not any(n in said for n in ("files", "shell", "home", "spare")), said
        assert "No MCP servers were added here" in await admin(h, "list")
        assert "Allowed here: `forecast`" in await admin(h, "add", name="files", url="local:files",
                                                          tools="forecast")
        h.claude.script(Reply(text="Sure."))
        await ask(h, "hello", 1)
        assert {n for n in tool_names(reply_requests(h)[-1].body) if "__" in n} == {"files__forecast"}
        # DMs: alice is named for files, everyone for home; bob only gets home
        h.claude.script(Reply(text="Hi alice."))
        await dm_reply(h, "hi", 1, user=USER_ID)
        alice = {n.split("__")[0] for n in tool_names(reply_requests(h)[-1].body) if "__" in n}
        h.claude.script(Reply(text="Hi bob."))
        await dm_reply(h, "hi", 1, user=USER2_ID)
        bob = {n.split("__")[0] for n in tool_names(reply_requests(h)[-1].body) if "__" in n}
        assert alice == {"files", "home"} and bob == {"home"}
    finally:
        await h.close()


async def test_local_servers_are_not_offered_in_dms_without_mcp_in_dms(db_url: str, tmp_path: Path) -> None:
    program = f"{shlex.quote(sys.executable)} -m tests.fakes.mcp_server"
    h = await two_servers(db_url, tmp_path, mcp_local_servers=f"home={program}", mcp_local_places="home=dm:*",
                          mcp_call_seconds="30")
    try:
        h.claude.script(Reply(text="Hi."))
        await dm_reply(h, "hi", 1, user=USER_ID)
        assert not any("__" in n for n in tool_names(reply_requests(h)[-1].body))
    finally:
        await h.close()
