"""The MCP feature's section of config.env (named in its ``FEATURE``; read as
``settings.section(McpSettings)``)."""

# No ``from __future__ import annotations`` here: keys.py reads each field's type as the class itself.
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
        "\"name=command arg arg; name2=command ...\". A server's admins turn one on with "
        "/bot mcp add local:name (never a program of theirs: only these).")
    mcp_call_seconds: float = key(
        10.0, "Seconds one MCP call may take (connecting, listing the tools, running one); past it the call "
        "fails, once, with one log line.", above=0, max=120)
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
    mcp_in_dms: bool = key(
        False, "Offer the operator's local MCP servers' tools in direct messages too (a DM is private: "
        "what the person says there could be sent to the server).")
    mcp_private_places: bool = key(
        False, "Offer MCP tools in private places too (a private channel or thread, an answer only the "
        "asker sees): what is said there could be sent to the MCP server. /bot mcp private switches it for "
        "a channel or a server.")
    mcp_private_hosts: bool = key(
        False, "Let /bot mcp add name plain http:// and private or loopback addresses (a server on this "
        "host's network); off: https:// to public hosts only.")
