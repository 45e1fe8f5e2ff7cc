"""Tools in a model request, and reading an answer that used them (Anthropic's Messages API shapes).

* Declarations: Anthropic's server tools ``web_search`` and ``web_fetch`` (run by Anthropic, billed per
  search) and client tools (run by Kindred, declared with a strict input schema). A request's tools come
  first in the cache order, so they are built the same way every time from the same settings: one changed
  byte and the whole cached prefix (tools, system, history) is written again.
* An answer: its text (text blocks only; a paragraph break where a tool block came between two texts),
  its sources (the URLs its citations name and the pages it fetched), whether it paused (``pause_turn``,
  a long server-tool turn sent back as it is to go on) and the client tools it asked for.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit

from bot.core.i18n import N_, t
from bot.core.locales import LINE_LANGUAGES
from database.boundary import Json, JsonObject
from database.records import SeenMessage

WEB_SEARCH = "web_search_20250305"
WEB_FETCH = "web_fetch_20250910"
# Blocks that stand for a server tool's work inside an answer: a turn holding them is sent back as it is.
SERVER_BLOCKS = frozenset({"server_tool_use", "web_search_tool_result", "web_fetch_tool_result"})
MAX_SOURCES = 3  # footnote links under a reply: a few, never a wall of URLs
SMALL = "-# "  # Discord's small text: how the line of sources under a reply begins
# The line of sources, in the language of the reply above it (``{links}``: the sites' links)
SOURCES = N_("Sources: {links}")
FETCH_MAX_CONTENT_TOKENS = 20_000  # a fetched page is cut here (its tokens are billed as input)


@dataclass(frozen=True)
class ToolOutput:
    """What a client tool gave: a result the model reads (``error``: the tool failed, say so), or with
    ``final`` the reply itself, said in character with no further call (a search past the day's cap)."""

    text: str
    error: bool = False
    final: bool = False


class ClientTool(Protocol):
    """A tool Kindred runs when the model asks (declared in the request with a strict input schema)."""

    name: str

    async def run(self, arguments: JsonObject) -> ToolOutput: ...


# A tool's declaration in a reply's later call, given the web searches the reply made so far (a search's
# ``max_uses`` is the whole reply's, not each call's); None: not declared any more.
Narrowing = Callable[[int], Awaitable[JsonObject | None]]


class Lent(NamedTuple):
    """One tool a feature lends a reply (bot/core/stages.py ``ReplyTools``): its declaration, the client
    tool that runs it (None: a server tool Anthropic runs, a web search), how it narrows in the reply's later
    calls (None: the same bytes in every call), and whether what it is given goes out of Kindred (a fetched
    link: never declared in a request carrying another person's private memories), and its family's
    sentence in the system prompt: when to use it, and how to say what it found as the character, not as a
    tool's report (said once for the tools that share it; fixed text, so a request's system is the same
    bytes whenever its tools are: both are cached together)."""

    declared: JsonObject
    tool: ClientTool | None = None
    narrowing: Narrowing | None = None
    outward: bool = False
    voice: str = ""


@dataclass(frozen=True)
class Location:
    """Where the character is, for local search results (all optional; ``timezone`` an IANA name)."""

    city: str = ""
    region: str = ""
    country: str = ""  # ISO 3166-1 alpha-2
    timezone: str = ""

    @classmethod
    def parse(cls, text: str, timezone: str = "") -> Location:
        """``"City, Region, CC"`` (any of them may be left out from the right)."""
        parts = [p.strip() for p in text.split(",")] + ["", "", ""]
        return cls(parts[0], parts[1], parts[2].upper()[:2], timezone)


def web_search(*, max_uses: int, allowed: Sequence[str] = (), blocked: Sequence[str] = (),
               location: Location | None = None) -> JsonObject:
    """The ``web_search`` server tool (``allowed`` and ``blocked`` domains: one or the other, as the API
    takes them)."""
    tool: JsonObject = {"type": WEB_SEARCH, "name": "web_search", "max_uses": max_uses}
    if allowed:
        tool["allowed_domains"] = list(allowed)
    elif blocked:
        tool["blocked_domains"] = list(blocked)
    if location is not None and (location.city or location.country or location.timezone):
        place: JsonObject = {"type": "approximate"}
        for name in ("city", "region", "country", "timezone"):
            if value := getattr(location, name):
                place[name] = value
        tool["user_location"] = place
    return tool


def web_fetch(domains: Sequence[str], *, max_uses: int = 2) -> JsonObject:
    """The ``web_fetch`` server tool, held to ``domains`` (those of the links in the conversation; the API
    itself fetches only URLs that appeared there). Citations on: a fetched page is a source shown."""
    return {"type": WEB_FETCH, "name": "web_fetch", "max_uses": max_uses, "allowed_domains": list(domains),
            "citations": {"enabled": True}, "max_content_tokens": FETCH_MAX_CONTENT_TOKENS}


def client_tool(name: str, description: str, properties: JsonObject, required: Sequence[str]) -> JsonObject:
    """A client tool: strict, so the model's input always follows the schema (no other keys, all
    required)."""
    return {"name": name, "description": description, "strict": True,
            "input_schema": {"type": "object", "properties": properties, "required": list(required),
                             "additionalProperties": False}}


def domains(urls: Iterable[str]) -> list[str]:
    """The host names of ``urls``, once each, in order (``www.`` kept: the API matches it as written)."""
    out: list[str] = []
    for url in urls:
        host = (urlsplit(url).hostname or "").lower()
        if host and host not in out:
            out.append(host)
    return out


def paused_turn(message: JsonObject) -> bool:
    """Whether an assistant message is a turn the model is still in (it holds a server tool's work): sent
    back as it is, never dropped as a prefill the model does not take."""
    content = message.get("content")
    return isinstance(content, list) and any(isinstance(b, dict) and b.get("type") in SERVER_BLOCKS
                                             for b in content)


def sources_of(content: Sequence[JsonObject]) -> tuple[tuple[str, str], ...]:
    """(url, title) of what the answer cited (web search citations) or fetched, in order, once each."""
    found: dict[str, str] = {}
    for block in content:
        kind = block.get("type")
        if kind == "text":
            for citation in _dicts(block.get("citations")):
                url = citation.get("url")
                if isinstance(url, str) and url.startswith(("https://", "http://")):
                    found.setdefault(url, str(citation.get("title") or ""))
        elif kind == "web_fetch_tool_result":
            result = block.get("content")
            if isinstance(result, dict) and result.get("type") == "web_fetch_result":
                url = result.get("url")
                document = result.get("content")
                title = document.get("title") if isinstance(document, dict) else None
                if isinstance(url, str) and url.startswith(("https://", "http://")):
                    found.setdefault(url, str(title or ""))
    return tuple(found.items())


def footnotes(sources: Sequence[tuple[str, str]], language: str | None = None) -> str:
    """A short line of source links under a reply, as Discord readers expect: each named by its site, the
    link in angle brackets so Discord shows no embed for it; at most :data:`MAX_SOURCES`. Its word in
    ``language`` (the reply's)."""
    links = []
    for url, _title in sources[:MAX_SOURCES]:
        host = (urlsplit(url).hostname or url).removeprefix("www.")
        links.append(f"[{host}](<{url.replace('>', '%3E')}>)")
    return SMALL + t(language, SOURCES, links=" · ".join(links)) if links else ""


@functools.cache
def _footnote_starts() -> tuple[str, ...]:
    """How a line of sources begins in each language (its words before the links)."""
    return tuple(dict.fromkeys(SMALL + t(code, SOURCES, links="\0").split("\0")[0]
                               for code in LINE_LANGUAGES))


def without_footnotes(text: str) -> str:
    """``text`` without its line of sources (in any language): what the history keeps (a model that read
    such lines in its own earlier turns would write them, links and all, without having searched)."""
    body, sep, last = text.rpartition("\n")
    return body.rstrip() if sep and last.startswith(_footnote_starts()) else text


def read_back(message: SeenMessage) -> str:
    """A logged line's words as a prompt reads them back: a bot's (the character's own, another
    character's) without its line of sources, as the history keeps a reply (:func:`without_footnotes`);
    a person's as they wrote them."""
    return without_footnotes(message.content) if message.author_is_bot else message.content


def tool_uses(content: Sequence[JsonObject]) -> list[JsonObject]:
    """The client tool calls an answer asks for (``stop_reason: tool_use``)."""
    return [b for b in content if b.get("type") == "tool_use"]


def _dicts(value: Json) -> list[JsonObject]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
