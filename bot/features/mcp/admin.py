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

from bot.core.i18n import N_, listed, sentences, t
from bot.features.mcp.address import NotPublic, public_addresses
from bot.features.mcp.config import McpSettings
from bot.features.mcp.lender import LOCAL, McpTools, lent_here
from database.mcp import URL_MAX, McpServers

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")  # its tools are declared as "<name>__<tool>"
_BETWEEN_NAMES = re.compile(r"[,\s]+")
# The answers are the admin's to read, in their language (the ``language`` each method is given).
OFF = N_("MCP tools are off on this bot (the operator's mcp_tools setting).")
NO_LOCAL = N_("There is no local MCP server of that name for this server.")
UNREACHABLE = N_("I could not reach an MCP server there, or may not connect to that address: nothing was "
                 "added or changed. (The operator's log says which.)")
NO_SERVER = N_("There is no MCP server called {name} here (/bot mcp list).")


def tool_list(text: str) -> tuple[str, ...]:
    """Comma- or space-separated tool names, once each, in order."""
    return tuple(dict.fromkeys(name for name in _BETWEEN_NAMES.split(text) if name))


class McpAdmin:
    def __init__(self, servers: McpServers, lender: McpTools) -> None:
        self.servers, self.lender = servers, lender

    @property
    def settings(self) -> McpSettings:  # the lender's (a reload applies)
        return self.lender.settings

    def url_problem(self, url: str, guild_id: int, language: str | None = None) -> str | None:
        """Why ``url`` may not be added in ``guild_id``, in ``language`` (None: it may be tried)."""
        if url.startswith(LOCAL):
            return None if url.removeprefix(LOCAL) in lent_here(self.settings, guild_id, None) else \
                t(language, NO_LOCAL)
        parts = urlsplit(url)
        try:
            _ = parts.port  # a port that is no number raises
        except ValueError:
            return t(language, "That URL's port is not a number.")
        if len(url) > URL_MAX or parts.scheme not in ("https", "http") or not parts.hostname:
            return t(language, "Give an https:// URL (at most {most} characters), or local:NAME.",
                     most=URL_MAX)
        if parts.scheme == "http" and not self.settings.mcp_private_hosts:
            return t(language, "Only https:// URLs can be added here.")
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

    async def add(self, guild_id: int, user_id: int, name: str, url: str, tools: str,
                  language: str | None = None) -> str:
        if not self.settings.mcp_tools:
            return t(language, OFF)
        name, url = name.strip().lower(), url.strip()
        if not NAME.match(name):
            return t(language, "A name is 1 to 20 lower-case letters, digits or dashes (its tools are named "
                               "after it).")
        if (problem := self.url_problem(url, guild_id, language)) is not None:
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
            return t(language, UNREACHABLE)
        allowed = tool_list(tools)
        new = await self.servers.add(guild_id, name, url, allowed)
        log.info("admin %s %s MCP server %s (%s) in server %s, tools: %s", user_id,
                 "added" if new else "changed", name, _logged(url), guild_id, ",".join(allowed) or "none")
        head = (t(language, "Added the MCP server **{name}**.", name=name) if new else
                t(language, "Changed the MCP server **{name}**.", name=name))
        if not offered:
            return sentences(head, t(language, "It lists no tool I can use (see the log); I'll ask it again "
                                               "later."))
        names = [tool.name for tool in offered]
        unknown = [tool for tool in allowed if tool not in names]
        here = [f"`{tool}`" for tool in allowed if tool in names]
        lines = [head, t(language, "Its tools: {tools}", tools=listed(language, [f"`{n}`" for n in names]))]
        lines.append(t(language, "Allowed here: {tools}", tools=listed(language, here)) if here else
                     t(language, "Allowed here: none yet: choose with /bot mcp allow"))
        if unknown:
            lines.append(t(language, "It has no tool called {tools}",
                           tools=listed(language, [f"`{tool}`" for tool in unknown])))
        return "\n".join(lines)

    async def allow(self, guild_id: int, user_id: int, name: str, tools: str,
                    language: str | None = None) -> str:
        allowed = tool_list(tools)
        if not await self.servers.allow(guild_id, name.strip().lower(), allowed):
            return t(language, NO_SERVER, name=name)
        log.info("admin %s allowed %s of MCP server %s in server %s", user_id, ",".join(allowed) or "none",
                 name, guild_id)
        if not allowed:
            return t(language, "No tool of **{name}** is allowed here now.", name=name)
        return t(language, "Allowed tools of **{name}** here: {tools}", name=name,
                 tools=listed(language, [f"`{tool}`" for tool in allowed]))

    async def remove(self, guild_id: int, user_id: int, name: str, language: str | None = None) -> str:
        if not await self.servers.remove(guild_id, name.strip().lower()):
            return t(language, NO_SERVER, name=name)
        log.info("admin %s removed MCP server %s in server %s", user_id, name, guild_id)
        return t(language, "Removed the MCP server **{name}**: its tools are no longer offered here.",
                 name=name)

    async def show(self, guild_id: int, language: str | None = None) -> str:
        added = await self.servers.of(guild_id)
        off = "" if self.settings.mcp_tools else t(language, OFF)
        if not added:
            return sentences(t(language, "No MCP servers were added here (/bot mcp add)."), off)
        lines = [f"**{s.name}** <{s.url}>: " + (listed(language, [f"`{tool}`" for tool in s.tools])
                                                or t(language, "no tool allowed")) for s in added]
        return "\n".join([*lines, off] if off else lines)


def _logged(url: str) -> str:
    """``url`` as a log line names it: without what may hold a key (its user and password, its query)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}" \
        if parts.hostname else url
