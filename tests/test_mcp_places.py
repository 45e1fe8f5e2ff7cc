"""A reply made again keeps its place, over the wire: with MCP on and a server added, and ``/bot mcp private``
off (``mcp_private_places``' default), a reply in a channel @everyone cannot view, then 🔄 pressed on it
and /reroll asked there, never declare the server's tool, and nothing said there reaches the MCP server;
though the model asks for the tool each time, as it would wherever it is offered. Once the place's admins
let MCP in, the same 🔄 declares it and calls it (the test can tell)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fakes import EVENT_WAIT
from tests.fakes.claude_server import Reply
from tests.fakes.claude_tools import UseTool
from tests.fakes.mcp_server import FakeMcp
from tests.harness import CHANNEL_ID, Harness, ephemeral, exchange, press
from tests.test_e2e_server_tools import hide
from tests.test_mcp_tools import admin, fake_mcp, tool_names, two_servers  # noqa: F401  (a fixture)
from tests.test_swipes import shows

MODEL = "claude-test-default"
SECRET = "the plans are in the blue folder"


def forecast(plain: str) -> Reply:
    """The model asks for the MCP tool with the secret; ``plain``: its answer where the tool is not
    declared."""
    return Reply(tools=UseTool("weather__forecast", {"city": SECRET}, answer="Looks like {result}",
                               plain=plain))


def declared(h: Harness, since: int) -> list[bool]:
    """For each reply request since ``since``, whether it declared the MCP server's tool."""
    return ["weather__forecast" in tool_names(r.body) for r in h.claude.requests[since:] if r.model == MODEL]


async def test_a_reroll_in_a_private_place_lends_no_mcp_tool_and_tells_the_server_nothing(
        db_url: str, tmp_path: Path, fake_mcp: FakeMcp) -> None:  # noqa: F811
    h = await two_servers(db_url, tmp_path)
    try:
        assert "Added" in await admin(h, "add", name="weather", url=fake_mcp.url, tools="forecast")
        await hide(h, CHANNEL_ID)  # a private place: @everyone cannot view it
        start = len(h.claude.requests)
        h.claude.script(forecast("Hm, no idea."), model=MODEL)
        reply: dict[str, Any] = await exchange(h, f"{SECRET}: what's the weather?", 1)
        await shows(h, reply, "Hm, no idea.", "1/1")

        h.claude.script(forecast("Still no idea."), model=MODEL)
        await (await press(h, reply, "new")).response()
        await shows(h, reply, "Still no idea.", "2/2")

        h.claude.script(forecast("No idea at all."), model=MODEL)
        answer = await ephemeral(await h.slash("reroll"))
        await h.discord.wait_for(lambda _: "new alternative" in answer["content"], EVENT_WAIT,
                                 what="the reroll's answer")
        await shows(h, reply, "No idea at all.", "3/3")
        assert declared(h, start) == [False, False, False]
        assert fake_mcp.calls == []

        # the place's admins let MCP tools in: the same 🔄 now lends the tool, and calls it
        said = await (await h.slash("bot", [{"type": 2, "name": "mcp", "options": [
            {"type": 1, "name": "private", "options": [{"name": "state", "type": 3, "value": "on"}]}]}],
            user=h.admin_id)).message()
        assert "**on**" in said["content"]
        since = len(h.claude.requests)
        h.claude.script(forecast("Hm."), times=2, model=MODEL)
        await (await press(h, reply, "new")).response()
        await h.discord.wait_for(lambda _: "Looks like" in str(reply.get("content")), EVENT_WAIT,
                                 what="the answer from the tool")
        assert declared(h, since)[0] is True
        assert fake_mcp.calls == [("forecast", {"city": SECRET})]
    finally:
        await h.close()
