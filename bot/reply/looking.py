"""A reply's tools, as the features lend them (bot/core/pipeline.py ``ReplyTools``: the web search,
bot/features/websearch/; reminders; the server's): gathered into one :class:`Toolbox`, each tool family's
sentence on how the character uses them (``Lent.voice``) added to the system prompt.

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


def tools_voice(lent: Sequence[Lent]) -> str:
    """The sentences of the tool families ``lent`` (each once, in the order lent; "" for none)."""
    return " ".join(dict.fromkeys(one.voice for one in lent if one.voice))


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
        return Toolbox(declared, client, rounds, narrowing, tools_voice(self.lent))

    async def _narrowed(self, used: int) -> tuple[JsonObject, ...]:
        """The declarations of a later call, given the web searches the reply made so far."""
        out: list[JsonObject] = []
        for lent in self.lent:
            narrowed = await lent.narrowing(used) if lent.narrowing is not None else lent.declared
            if narrowed is not None:
                out.append(narrowed)
        return tuple(out)
