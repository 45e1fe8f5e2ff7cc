"""One reply's model call, as a value the pipeline hands on: it decides what is asked (the prompt, the
model, the effort, the tools) and builds a :class:`Generation`; delivery (bot/reply/delivery.py) runs it
while the typing indicator shows, streamed when it posts the text as it is written. Neither calls back into
the other.

With tools (a :class:`Toolbox`), the reply may take several calls, at most
``rounds``: a turn the API paused (``pause_turn``, a long search) is sent back as it is and goes on; a
client tool the model asks for is run here and its result, fenced as data, sent back. The text of every
round is kept (streamed, it grows across them), and the sources the answer used are shown under it.

The tools are as the features lend them (bot/core/stages.py ``ReplyTools``: the web search,
bot/features/websearch/; reminders; the server's), gathered into one :class:`Toolbox` by :class:`Lending`,
each tool family's sentence on how the character uses them (``Lent.voice``) added to the system prompt.

A tool whose input goes out of Kindred (``Lent.outward``: a fetched link) is never declared in a request
carrying another person's private memories (what it sends could carry them away). A tool that narrows in a
reply's later calls (``Lent.narrowing``: the web search's ``max_uses`` is the whole reply's) is declared
as it narrows: the toolbox's ``narrowed``, given the searches the reply has made.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.core.claude import ClaudeClient, ClaudeUnavailable, Completion
from bot.core.i18n import language_of
from bot.core.models.base import CallUsage, Prompt, SoFar, SoFarRound
from bot.core.models.tools import ClientTool, Lent, ToolOutput, footnotes, tool_uses
from bot.core.stages import Incoming
from bot.reply.felt import Shown, split
from bot.reply.imagebudget import Lease
from bot.reply.media import Media
from bot.reply.prompting import fence
from database.boundary import JsonObject

__all__ = ["ClientTool", "Generation", "Lending", "ModelCall", "ToolOutput", "Toolbox", "with_tools"]


@dataclass(frozen=True)
class Toolbox:
    """A reply's tools: the declarations (the request's ``tools``, the same bytes from request to request),
    the client tools by name, and the bound on calls. (Its searches are counted where each call's usage is
    recorded: ``api_calls.web_searches``.)"""

    declared: tuple[JsonObject, ...]
    client: Mapping[str, ClientTool]
    rounds: int
    # A later round's declarations, given the web searches the reply has made so far (a ``max_uses`` is
    # the whole reply's, not each call's: Lending); None: the same in every round.
    narrowed: Callable[[int], Awaitable[tuple[JsonObject, ...]]] | None = None
    voice: str = ""  # one sentence per tool family: when to use it, how to say what it found in character


@dataclass(frozen=True)
class ModelCall:
    """How a reply is asked of the model (the pipeline chooses: the model by tier and intent, the effort by
    tier, the persona's length and temperature)."""

    model: str
    user_id: int
    guild_id: int | None  # the server the call is spent for (None: a DM)
    max_tokens: int | None
    temperature: float | None
    effort: str

    async def ask(self, claude: ClaudeClient, prompt: Prompt,
                  on_text: Callable[[str], None] | None = None) -> Completion:
        """The model's answer to ``prompt``; with ``on_text``, streamed, and it sees the text so far."""
        return await claude.generate(
            prompt, model=self.model, user_id=self.user_id, guild_id=self.guild_id,
            purpose="reply", max_tokens=self.max_tokens,
            temperature=self.temperature, on_text=on_text, stream=True if on_text is not None else None,
            effort=self.effort)


@dataclass
class Generation:
    """The reply to one message, written by the model: the prompt and the files the message carried (read
    into it when asked). A picture whose header is sound but whose pixels the model cannot decode is named as
    not seen, and the rest of the message is asked again (once per picture); ``notice`` then says so.
    Streamed, the model client writes the text so far into ``written`` (a value of the core), for delivery to
    read (``so_far``, ``changed``): no module of the reply is called back."""

    claude: ClaudeClient
    prompt: Prompt
    media: Media | None  # None: the message carried no files (nothing to read into the request)
    call: ModelCall
    # Media.notice's lines: the unreadable file's, the name, the left-out one's, and their language (none
    # without media: nothing to say of it)
    notice_lines: tuple[str, ...]
    label: str = "reply"  # how log lines name this reply
    log: logging.Logger = logging.getLogger("bot.reply.writer")  # whose log lines these are
    tools: Toolbox | None = None  # what the model may use while writing (None: no tools, one call)
    lease: Lease | None = None  # the media's images' share of the process's budget, given back after write
    # the language of the person answered (None: unknown), for the line of sources under a reply whose own
    # words do not tell theirs surely
    language: Callable[[], str | None] | None = None
    notice: str = field(init=False)  # a line said before the reply (e.g. files that could not be opened)
    written: SoFar = field(init=False, default_factory=SoFar)  # streamed: the text written so far
    # What the model judged the message answered carries for the character (bot/reply/felt.py): its tag,
    # taken out of every text here before anyone reads it; None: no judgement given.
    felt: tuple[str, ...] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.notice = self.media.notice(*self.notice_lines) if self.media is not None else ""

    @property
    def so_far(self) -> str:
        return self.written.text

    @property
    def changed(self) -> asyncio.Event:  # set when so_far or working changes
        return self.written.changed

    @property
    def working(self) -> bool:  # a tool runs between calls: nothing is being written
        return self.written.working

    async def write(self, *, streamed: bool) -> Completion:
        """The completion (raises ClaudeUnavailable); ``streamed``: ``so_far`` follows it as it is written."""
        shown = self.media
        try:
            while True:
                built = shown.into(self.prompt) if shown is not None else self.prompt
                try:
                    return await self._rounds(built, streamed)
                except ClaudeUnavailable as exc:
                    if shown is None or (refused := shown.refused_image(built, str(exc))) is None:
                        raise
                    self.log.warning("%s: Claude could not process %s (%s); asking again without it",
                                     self.label, refused.filename, exc)
                    shown = shown.without(refused, "Claude could not process it")
                    self.notice = shown.notice(*self.notice_lines)
        finally:
            # The call is over: the pictures are let go (the typing and the posting still to come need
            # none of them), and their bytes given back to the budget for others' replies.
            if self.media is not None:
                self.media = self.media.seen()
            if self.lease is not None:
                self.lease.release()

    async def _rounds(self, built: Prompt, streamed: bool) -> Completion:
        """The reply's calls: one, or with tools as many as the turn needs (at most ``rounds``)."""
        tools = self.tools
        if tools is None:
            return self._unfelt(await self.call.ask(self.claude, built,
                                                    Shown(self.written.wrote) if streamed else None))
        messages = list(built.messages)
        said, usage, sources, paused = "", CallUsage(), dict[str, str](), False
        declared = built.tools
        for round_ in range(1, tools.rounds + 1):
            wrote = SoFarRound(self.written, said)
            if round_ > 1 and streamed:
                # what the last call wrote is whole (it may be posted now), and typing shows again while
                # the tool's work goes on
                self.written.wrote(f"{said}\n\n" if said else "")
                self.written.tools_running()
            if round_ > 1 and tools.narrowed is not None:
                declared = await tools.narrowed(usage.web_search_requests)
            # (what goes back to the model in a later round keeps its tag: only what is shown loses it)
            asked = await self.call.ask(self.claude,
                                        dataclasses.replace(built, messages=messages, tools=declared),
                                        Shown(wrote) if streamed else None)
            completion = self._unfelt(asked)
            said, usage = _joined(said, completion.text), _added(usage, completion.usage)
            sources.update((url, title) for url, title in completion.sources if url not in sources)
            last = round_ == tools.rounds
            if completion.stop_reason == "pause_turn" and not last:
                # the turn goes on: a turn paused again is sent back whole, as one assistant message
                earlier = messages.pop()["content"] if paused else []
                messages.append({"role": "assistant", "content": [*earlier, *completion.content]})
                paused = True
                continue
            paused = False
            if completion.stop_reason == "tool_use" and not last:
                results, final = await self._run(tools, completion)
                if final is not None:
                    said = final
                    break
                if results:
                    messages += [{"role": "assistant", "content": list(completion.content)},
                                 {"role": "user", "content": results}]
                    continue
            if last and completion.stop_reason in ("pause_turn", "tool_use"):
                self.log.warning("%s: still using tools after %d calls; answering with what was written",
                                 self.label, tools.rounds)
            break
        shown = list(sources.items())
        text = _joined(said, footnotes(shown, self._language_of(said))) if said and shown else said
        return dataclasses.replace(completion, text=text, usage=usage, sources=tuple(shown))

    def _language_of(self, said: str) -> str | None:
        """The language of the reply ``said`` (what its line of sources is read beside), else the person's."""
        return language_of(said) or (self.language() if self.language is not None else None)

    def _unfelt(self, completion: Completion) -> Completion:
        """``completion`` without the model's tag; the first judgement given is kept in ``felt``."""
        text, felt = split(completion.text)
        if self.felt is None:
            self.felt = felt
        return dataclasses.replace(completion, text=text) if text != completion.text else completion

    async def _run(self, tools: Toolbox, completion: Completion) -> tuple[list[JsonObject], str | None]:
        """The client tools the answer asked for, run in order: their ``tool_result`` blocks (the text fenced
        as data: a tool's output never instructs the model), or the reply itself when one ends it."""
        results: list[JsonObject] = []
        for use in tool_uses(completion.content):
            name, arguments = str(use.get("name")), use.get("input")
            tool = tools.client.get(name)
            try:
                output = (await tool.run(arguments if isinstance(arguments, dict) else {})
                          if tool is not None else ToolOutput(f"there is no tool called {name}", error=True))
            except Exception:
                self.log.exception("%s: tool %s failed", self.label, name)
                output = ToolOutput("the tool failed", error=True)
            if output.final:
                return results, output.text
            results.append({"type": "tool_result", "tool_use_id": use.get("id"), "is_error": output.error,
                            "content": fence("tool_output", output.text, name=name)})
        return results, None


def _joined(before: str, text: str) -> str:
    """The text of a reply's rounds: each one's a paragraph after the last."""
    return f"{before}\n\n{text}" if before and text else before or text


def _added(a: CallUsage, b: CallUsage) -> CallUsage:
    return CallUsage(**{f.name: getattr(a, f.name) + getattr(b, f.name) for f in dataclasses.fields(a)})


# -- the tools the features lend one reply


def tools_voice(lent: Sequence[Lent]) -> str:
    """The sentences of the tool families ``lent`` (each once, in the order lent; "" for none)."""
    return " ".join(dict.fromkeys(one.voice for one in lent if one.voice))


def with_tools(prompt: Prompt, declared: tuple[JsonObject, ...], voice: str) -> Prompt:
    """``prompt`` declaring ``declared``, with ``voice`` (how the character uses them)
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
        # a name declared twice is a request the API refuses: the first lent keeps it (the character's own
        # tools come before those of servers others run)
        named = {str(one.declared.get("name")): one for one in reversed(lent)}
        self.lent = tuple(one for one in lent if not (one.outward and private)
                          and named[str(one.declared.get("name"))] is one)

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
