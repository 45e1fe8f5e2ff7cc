"""What ``/bot mcp add|remove|list|allow`` do (cogs/mcp.py calls these; admins only): the answers
are the admin's to read (ephemeral). A server's admins add HTTP servers by URL, or one of the operator's
local servers by ``local:NAME``; never a program of their own (that would run it on this host)."""

from __future__ import annotations

import ipaddress
import logging
import re
from urllib.parse import urlsplit

from bot.features.mcp.config import McpSettings
from bot.features.mcp.lender import LOCAL, McpTools, local_servers
from database.mcp import URL_MAX, McpServers

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")  # its tools are declared as "<name>__<tool>"
_BETWEEN_NAMES = re.compile(r"[,\s]+")
OFF = "MCP tools are off on this bot (the operator's mcp_tools setting)."


def tool_list(text: str) -> tuple[str, ...]:
    """Comma- or space-separated tool names, once each, in order."""
    return tuple(dict.fromkeys(t for t in _BETWEEN_NAMES.split(text) if t))


class McpAdmin:
    def __init__(self, servers: McpServers, lender: McpTools) -> None:
        self.servers, self.lender = servers, lender

    @property
    def settings(self) -> McpSettings:  # the lender's (a reload applies)
        return self.lender.settings

    def url_problem(self, url: str) -> str | None:
        """Why ``url`` may not be added (None: it may)."""
        if url.startswith(LOCAL):
            known = sorted(local_servers(self.settings))
            if url.removeprefix(LOCAL) in known:
                return None
            return ("There is no such local server. The operator's: " + ", ".join(known)) if known else (
                "This bot's operator set up no local MCP servers (mcp_local_servers).")
        parts = urlsplit(url)
        private_ok = self.settings.mcp_private_hosts
        try:
            _ = parts.port  # a port that is no number raises
        except ValueError:
            return "That URL's port is no port."
        if len(url) > URL_MAX or parts.scheme not in ("https", "http") or not parts.hostname:
            return f"Give an https:// URL (at most {URL_MAX} characters), or local:NAME."
        if parts.scheme == "http" and not private_ok:
            return "Only https:// URLs can be added here."
        host = parts.hostname.lower()
        try:
            address = ipaddress.ip_address(host)
            inside = not address.is_global
        except ValueError:
            inside = host == "localhost" or host.endswith((".localhost", ".local", ".internal"))
        if inside and not private_ok:
            return "That address is on a private network; only public servers can be added here."
        return None

    async def add(self, guild_id: int, user_id: int, name: str, url: str, tools: str) -> str:
        if not self.settings.mcp_tools:
            return OFF
        name, url = name.strip().lower(), url.strip()
        if not NAME.match(name):
            return "A name is 1 to 20 lower-case letters, digits or dashes (its tools are named after it)."
        if (problem := self.url_problem(url)) is not None:
            return problem
        allowed = tool_list(tools)
        new = await self.servers.add(guild_id, name, url, allowed)
        log.info("admin %s %s MCP server %s (%s) in server %s, tools: %s", user_id,
                 "added" if new else "changed", name, _logged(url), guild_id, ",".join(allowed) or "none")
        link = self.lender.link(guild_id, name, url, fresh=True)  # its listing now is the replies' too
        offered = await link.tools() if link is not None else ()
        head = f"{'Added' if new else 'Changed'} the MCP server **{name}**."
        if not offered:
            return f"{head} It did not list any tools just now (see the log); I'll ask it again later."
        names = [t.name for t in offered]
        unknown = [t for t in allowed if t not in names]
        lines = [head, "Its tools: " + ", ".join(f"`{n}`" for n in names)]
        lines.append("Allowed here: " + (", ".join(f"`{t}`" for t in allowed if t in names) or
                                         "none yet: choose with /bot mcp allow"))
        if unknown:
            lines.append("It has no tool called " + ", ".join(f"`{t}`" for t in unknown))
        return "\n".join(lines)

    async def allow(self, guild_id: int, user_id: int, name: str, tools: str) -> str:
        allowed = tool_list(tools)
        if not await self.servers.allow(guild_id, name.strip().lower(), allowed):
            return f"There is no MCP server called {name} here (/bot mcp list)."
        log.info("admin %s allowed %s of MCP server %s in server %s", user_id, ",".join(allowed) or "none",
                 name, guild_id)
        if not allowed:
            return f"No tool of **{name}** is allowed here now."
        return f"Allowed tools of **{name}** here: " + ", ".join(f"`{t}`" for t in allowed)

    async def remove(self, guild_id: int, user_id: int, name: str) -> str:
        if not await self.servers.remove(guild_id, name.strip().lower()):
            return f"There is no MCP server called {name} here (/bot mcp list)."
        log.info("admin %s removed MCP server %s in server %s", user_id, name, guild_id)
        return f"Removed the MCP server **{name}**: its tools are no longer offered here."

    async def show(self, guild_id: int) -> str:
        added = await self.servers.of(guild_id)
        if not added:
            return "No MCP servers were added here (/bot mcp add)." + ("" if self.settings.mcp_tools else
                                                                     f" {OFF}")
        lines = [f"**{s.name}** <{s.url}>: " + (", ".join(f"`{t}`" for t in s.tools) or "no tool allowed")
                 for s in added]
        return "\n".join(lines if self.settings.mcp_tools else [*lines, OFF])


def _logged(url: str) -> str:
    """``url`` as a log line names it: without what may hold a key (its user and password, its query)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}" \
        if parts.hostname else url
