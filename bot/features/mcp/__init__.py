"""MCP tools while replying: the tools of MCP servers a server's admins added (``/bot mcp add URL``, HTTP)
or the operator configured (``mcp_local_servers``, local programs over stdio), used through the official
``mcp`` SDK as a client, so they work with every model backend. They are lent to each reply like the
character's own tools (bot/core/stages.py ``ReplyTools``), inside the same tool loop and bound
(``tool_rounds``); their results go back fenced as data (bot/reply/generation.py).

* Where: only in the server whose admins added the server, only the tools on its allow-list
  (``/bot mcp allow``); in a private place there only where ``/bot mcp private`` allows it; the operator's
  local servers only where ``mcp_local_places`` lends each (a server, some people's DMs with
  ``mcp_in_dms``). Never in a request carrying another person's private memories (``Lent.outward``).
* Untrusted: an added server's address must be public however it is written, judged by what its name
  resolves to at ``/bot mcp add`` and again at every connection (:mod:`.address`); a refused or unreachable
  one is answered alike and as late. Its declarations are bounded per request (``mcp_declared_chars``),
  and its schemas' regular expressions run in a child process killed at the call's deadline, never on the
  event loop (:mod:`.inputcheck`).
* Bounded: every call (connect, list, run) is held to ``mcp_call_seconds``; a server that hangs, answers
  garbage or is gone costs that one call and one log line, then is left alone for ``mcp_retry_seconds``;
  an answer is read up to ``mcp_response_bytes`` and a result cut at ``mcp_result_chars``; a tool whose
  input schema is no valid JSON Schema is never declared, and the model's input is checked against the
  schema before it is sent.

Settings: its own section (:mod:`.config` ``McpSettings``). The table: database/mcp.py.
The commands: cogs/mcp.py (``/bot mcp``, a subgroup of ``/bot``; ``/bot mcp private``
is its switch's command, added there). Tests: tests/test_mcp_tools.py and tests/test_mcp_untrusted.py (fake
MCP servers built with the SDK's own server side: tests/fakes/mcp_server.py)."""

from bot.core.i18n import N_
from bot.features.mcp.admin import McpAdmin
from bot.features.mcp.config import McpSettings
from bot.features.mcp.lender import McpTools
from bot.operator.registration import Contribution, Feature, Parts, Switch

__all__ = ["FEATURE", "McpAdmin", "McpTools"]


IN_PRIVATE = Switch("mcp_private", "Offer the MCP tools in private places here (or not).",
                    N_("the MCP tools added here are offered in private places (what is said may go to "
                       "them)"),
                    section=McpSettings, key="mcp_private_places", command="mcp private", server_admins=True)


def build(parts: Parts) -> Contribution:
    tools = McpTools.following(parts.holder, parts.store.mcp, parts.switch(IN_PRIVATE))
    # lent only when they are on: off, no reply asks them
    return Contribution(tools=(tools,) if parts.holder.current.section(McpSettings).mcp_tools else (),
                        parts=(McpAdmin(parts.store.mcp, tools),))


FEATURE = Feature(
    name="mcp", settings=McpSettings,
    switches=(IN_PRIVATE,),
    cogs=("cogs.mcp",),
    build=build)
