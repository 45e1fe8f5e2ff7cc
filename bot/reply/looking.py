"""A reply's tools, as the features lend them (bot/core/pipeline.py ``ReplyTools``: the web search,
bot/features/websearch/; reminders; the server's): gathered into one :class:`Toolbox`, each tool family's
sentence on how the character uses them added to the system prompt.

A tool whose input goes out of Kindred (``Lent.outward``: a fetched link) is never declared in a request
carrying another person's private memories (what it sends could carry them away). A tool that narrows in a
reply's later calls (``Lent.narrowing``: the web search's ``max_uses`` is the whole reply's) is declared
as it narrows: the toolbox's ``narrowed``, given the searches the reply has made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot.core.models.base import Prompt
from bot.core.models.tools import ClientTool, Lent
from bot.core.pipeline import Incoming
from bot.reply.generation import Toolbox
from database.boundary import JsonObject

# One sentence per tool family, said in the system prompt of a request that declares any of its tools: when
# to use them and how to say what they found as the character, not as a tool's report. Fixed text, in this
# order, so a request's system is the same bytes whenever its tools are (both are cached together).
TOOL_FAMILIES: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"web_search", "search_web"}),
     "You can look things up on the web (web_search) when someone asks about something current you could "
     "not know otherwise (news, scores, prices, what happened today); tell them what you found as yourself, "
     "in your own words and voice, as something you just looked up or heard, never as a search engine's "
     "report, and where your world would not know such things, say how you came by it in a way that fits "
     "you."),
    (frozenset({"web_fetch"}),
     "You can read the pages of links posted here (web_fetch) when someone asks about one; say what it says "
     "briefly, in your own words, as someone who just read it."),
    (frozenset({"set_reminder", "suggest_timezone"}),
     "You can set reminders for people here (set_reminder) and note their time zone when they say where "
     "they live (suggest_timezone), when they ask; tell them what you did, or what you need from them, in "
     "your own words, as a favour you do them."),
    (frozenset({"member_info", "scheduled_events", "recent_messages"}),
     "You can look up this server's members, its scheduled events and what was said here lately when someone "
     "asks; speak of what you found as something you know of the place, in your own voice."),
    (frozenset({"react"}),
     "You can react to the message with an emoji (react) when a reaction says it as you would."),
)


def tools_voice(declared: Sequence[JsonObject]) -> str:
    """The :data:`TOOL_FAMILIES` sentences of the tools ``declared`` ("" for none of them)."""
    names = {str(d.get("name")) for d in declared}
    return " ".join(sentence for family, sentence in TOOL_FAMILIES if family & names)


def with_tools(prompt: Prompt, declared: tuple[JsonObject, ...], voice: str) -> Prompt:
    """``prompt`` declaring ``declared``, with ``voice`` (how the character uses them, bot/reply/looking.py)
    ending its system prompt: inside the last system block, so it is cached with the tools (which change
    only together with it) and no breakpoint is added."""
    if not voice or not prompt.system:
        return dataclasses.replace(prompt, tools=declared)
    last = {**prompt.system[-1], "text": f"{prompt.system[-1]['text']}\n\n{voice}"}
    return dataclasses.replace(prompt, tools=declared, system=[*prompt.system[:-1], last],
                               parts=(*prompt.parts, ("tools: in character", voice)))


class Lending:
    """The tools the features lend one reply, as a :class:`Toolbox` (None: no tools, one call)."""

    def __init__(self, lent: Sequence[Lent], msg: Incoming, prompt: Prompt) -> None:
        private = bool(prompt.memories_of - {msg.author_id})  # another person's private memories in it
        self.lent = tuple(one for one in lent if not (one.outward and private))

    def toolbox(self, rounds: int) -> Toolbox | None:
        """``rounds``: the bound on the reply's calls (``tool_rounds``)."""
        if not self.lent:
            return None
        declared = tuple(lent.declared for lent in self.lent)
        client: dict[str, ClientTool] = {lent.tool.name: lent.tool for lent in self.lent
                                         if lent.tool is not None}
        narrowing = self._narrowed if any(lent.narrowing is not None for lent in self.lent) else None
        return Toolbox(declared, client, rounds, narrowing, tools_voice(declared))

    async def _narrowed(self, used: int) -> tuple[JsonObject, ...]:
        """The declarations of a later call, given the web searches the reply made so far."""
        out: list[JsonObject] = []
        for lent in self.lent:
            narrowed = await lent.narrowing(used) if lent.narrowing is not None else lent.declared
            if narrowed is not None:
                out.append(narrowed)
        return tuple(out)
