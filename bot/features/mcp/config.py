"""The MCP feature's section of config.env (named in its ``FEATURE``; read as
``settings.section(McpSettings)``)."""

from dataclasses import dataclass
from typing import ClassVar

from bot.core.config.keys import key


@dataclass(frozen=True)
class McpSettings:
    """Tools from MCP servers while replying (bot/features/mcp/): the servers a server's admins add
    (/bot mcp add, HTTP only) and the operator's local ones (run as programs on this host, stdio)."""

    TITLE: ClassVar[str] = "MCP tools"
    mcp_tools: bool = key(
        False, "Let server admins add MCP servers (/bot mcp add URL, with an allow-list of its tools) whose "
        "tools the character may use while replying there, beside its own. Each tool's result is read as "
        "data, never as instructions.", restart=True)
    mcp_local_servers: str = key(
        "", "The operator's local MCP servers, run as programs on this host over stdio: "
        "\"name=command arg arg; name2=command ...\". Each is lent only where mcp_local_places names it; "
        "there, a server's admins turn it on with /bot mcp add local:name (never a program of theirs: only "
        "these). Whatever the program can do (read files, run commands) is done for whoever the character "
        "talks with there.")
    mcp_local_places: str = key(
        "", "Where each local MCP server may be used: \"name=GUILD_ID GUILD_ID dm:USER_ID; name2=dm:*\". A "
        "server (guild) id lends it to that Discord server (its admins still add it there); dm:USER_ID to "
        "that person's direct messages, dm:* to everyone's (both only with mcp_in_dms). A local server "
        "named nowhere here is used nowhere, and server admins are never shown the names of those not "
        "lent to them.")
    mcp_call_seconds: float = key(
        10.0, "Seconds one MCP call may take (connecting, listing the tools, running one; checking the "
        "model's input against a tool's schema has as long again); past it the call fails, once, with one "
        "log line. A /bot mcp add that fails is answered this long after it was asked, whatever the reason.",
        above=0, max=120)
    mcp_retry_seconds: float = key(
        300.0, "After a server failed (hung, unreachable, answered garbage), seconds before it is asked "
        "again: until then its tools are left out.", min=0)
    mcp_result_chars: int = key(
        8000, "Characters of one MCP tool's result the character reads at most (the rest is cut).",
        min=100, max=100_000)
    mcp_response_bytes: int = key(
        8_388_608, "Bytes of one answer from an MCP server over HTTP read at most; past it the call fails "
        "(one log line) and the rest is not read, so a server answering without end costs bounded memory.",
        min=65_536, max=67_108_864)
    mcp_max_tools: int = key(10, "MCP tools one request declares at most.", min=1, max=20)
    mcp_declared_chars: int = key(
        12_000, "Characters of MCP tool declarations (names, descriptions, input schemas as JSON) one "
        "request carries at most, all servers together (every request in that place pays for them in "
        "input tokens); tools past it are left out, with one log line.", min=1_000, max=100_000)
    mcp_in_dms: bool = key(
        False, "Offer the operator's local MCP servers' tools in direct messages too, each only to the "
        "people mcp_local_places names for it with dm:USER_ID (or dm:* for all): a DM is private, what the "
        "person says there could be sent to the server.")
    mcp_private_places: bool = key(
        False, "Offer MCP tools in private places too (a private channel or thread, an answer only the "
        "asker sees): what is said there could be sent to the MCP server. /bot mcp private switches it for "
        "a channel or a server.")
    mcp_private_hosts: bool = key(
        False, "Let /bot mcp add name plain http:// and private or loopback addresses (a server on this "
        "host's network); off: https:// to public addresses only, a host name judged by the addresses it "
        "resolves to, at /bot mcp add and again at every connection.")
