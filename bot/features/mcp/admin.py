"""What ``/bot mcp add|remove|list|allow`` do (cogs/mcp.py calls these; admins only): the answers
are the admin's to read (ephemeral). A server's admins add HTTP servers by URL, or one of the operator's
local servers lent to their server by ``local:NAME``; never a program of their own (that would run it on
this host), and never told the names of local servers not lent to them.

An address that is not public (:mod:`.address`) is refused before anything is sent to it; a server that
cannot be reached, or answers no MCP, is not added. Both are answered in the same words, and no sooner than
``mcp_call_seconds`` after the command (what a server that never answers takes), so the answer does not
tell an open port from a closed one, nor a refused address from an unreachable one."""

from __future__ import annotations

import asyncio
import logging
import re
from urllib.parse import urlsplit

from bot.features.mcp.address import NotPublic, public_addresses
from bot.features.mcp.config import McpSettings
from bot.features.mcp.lender import LOCAL, McpTools, lent_here
from database.mcp import URL_MAX, McpServers

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")  # its tools are declared as "<name>__<tool>"
_BETWEEN_NAMES = re.compile(r"[,\s]+")
OFF = "MCP tools are off on this bot (the operator's mcp_tools setting)."
NO_LOCAL = "There is no local MCP server of that name for this server."
UNREACHABLE = ("I could not reach an MCP server there, or may not connect to that address: nothing was added "
               "or changed. (The operator's log says which.)")


def tool_list(text: str) -> tuple[str, ...]:
    """Comma- or space-separated tool names, once each, in order."""
    return tuple(dict.fromkeys(t for t in _BETWEEN_NAMES.split(text) if t))


class McpAdmin:
    def __init__(self, servers: McpServers, lender: McpTools) -> None:
        self.servers, self.lender = servers, lender

    @property
    def settings(self) -> McpSettings:  # the lender's (a reload applies)
        return self.lender.settings

    def url_problem(self, url: str, guild_id: int) -> str | None:
        """Why ``url`` may not be added in ``guild_id``, as written (None: it may be tried)."""
        if url.startswith(LOCAL):
            return None if url.removeprefix(LOCAL) in lent_here(self.settings, guild_id, None) else NO_LOCAL
        parts = urlsplit(url)
        try:
            _ = parts.port  # a port that is no number raises
        except ValueError:
            return "That URL's port is no port."
        if len(url) > URL_MAX or parts.scheme not in ("https", "http") or not parts.hostname:
            return f"Give an https:// URL (at most {URL_MAX} characters), or local:NAME."
        if parts.scheme == "http" and not self.settings.mcp_private_hosts:
            return "Only https:// URLs can be added here."
        return None

    async def refusal(self, url: str) -> str | None:
        """Why no connection may be made to ``url`` (None: it may): an address inside, however the host is
        written, or a name that resolves to one (the connection is checked again as it is made)."""
        parts = urlsplit(url)
        if url.startswith(LOCAL) or self.settings.mcp_private_hosts or parts.hostname is None:
            return None
        try:
            async with asyncio.timeout(self.settings.mcp_call_seconds):  # a resolver that hangs
                await public_addresses(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        except NotPublic as exc:
            return str(exc)
        except TimeoutError:
            return f"{parts.hostname} did not resolve in time"
        return None

    async def add(self, guild_id: int, user_id: int, name: str, url: str, tools: str) -> str:
        if not self.settings.mcp_tools:
            return OFF
        name, url = name.strip().lower(), url.strip()
        if not NAME.match(name):
            return "A name is 1 to 20 lower-case letters, digits or dashes (its tools are named after it)."
        if (problem := self.url_problem(url, guild_id)) is not None:
            return problem
        loop = asyncio.get_running_loop()
        started = loop.time()
        link = self.lender.link(guild_id, name, url, fresh=True)  # its listing now is the replies' too
        if (refused := await self.refusal(url)) is not None:
            log.warning("admin %s: MCP server %s (%s) refused in server %s: %s", user_id, name, _logged(url),
                        guild_id, refused)
        offered = await link.tools() if link is not None and refused is None else ()
        if link is None or refused is not None or link.down:
            # as late as a server that never answers would be: the answer's time tells nothing
            await asyncio.sleep(max(0.0, started + self.settings.mcp_call_seconds - loop.time()))
            return UNREACHABLE
        allowed = tool_list(tools)
        new = await self.servers.add(guild_id, name, url, allowed)
        log.info("admin %s %s MCP server %s (%s) in server %s, tools: %s", user_id,
                 "added" if new else "changed", name, _logged(url), guild_id, ",".join(allowed) or "none")
        head = f"{'Added' if new else 'Changed'} the MCP server **{name}**."
        if not offered:
            return f"{head} It lists no tool I can use (see the log); I'll ask it again later."
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
