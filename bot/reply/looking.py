"""Looking things up while replying: which tools a reply's request declares (``lookup`` settings), and the
day's caps on web searches.

* ``web_search`` (Anthropic's server tool) where the operator turned it on (``dms`` or ``everywhere``),
  with ``max_uses``, the allowed or blocked domains and the character's location. Its declaration is the
  same from request to request (the cached prefix starts with the tools), except in the last searches
  before a cap, where ``max_uses`` is what is left. ``max_uses`` is the whole reply's: a reply whose tool
  loop takes several calls declares in each later call only the searches it has left, within what the
  day's caps leave then (read again), and no ``web_search`` when none are left.
* ``web_fetch`` only for a message that carries links, held to those links' sites, and never in a request
  carrying another person's private memories (what a fetched page says could carry them away).
* Past a cap (per person, per server, per UTC day), ``web_search`` gives way to a client tool of the same
  purpose whose use ends the reply with ``web_search_capped_line``: the character says it, in character,
  instead of searching. The day's searches are read from the recorded model calls: a restart keeps them, and
  the processes of a cluster count them together.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time

from bot.core.config import Settings
from bot.core.models.base import Prompt
from bot.core.models.tools import Location, client_tool, domains, web_fetch, web_search
from bot.core.pipeline import Incoming
from bot.reply.generation import ClientTool, Toolbox, ToolOutput
from database.boundary import JsonObject
from database.spending import Spending

# A link as Discord shows one: http(s), up to the next space or bracket a link does not end inside.
_LINK = re.compile(r"https?://[^\s<>()\[\]\"'`|]{1,2000}")
MAX_LINKS = 3  # links of one message the character may read
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


def links(text: str) -> list[str]:
    """The http(s) links in ``text``, in order, once each (trailing punctuation left out)."""
    out: list[str] = []
    for match in _LINK.finditer(text):
        url = match.group().rstrip(".,;:!?*_~")
        if url not in out:
            out.append(url)
    return out



def with_tools(prompt: Prompt, declared: tuple[JsonObject, ...], voice: str) -> Prompt:
    """``prompt`` declaring ``declared``, with ``voice`` (how the character uses them, bot/reply/looking.py)
    ending its system prompt: inside the last system block, so it is cached with the tools (which change
    only together with it) and no breakpoint is added."""
    if not voice or not prompt.system:
        return dataclasses.replace(prompt, tools=declared)
    last = {**prompt.system[-1], "text": f"{prompt.system[-1]['text']}\n\n{voice}"}
    return dataclasses.replace(prompt, tools=declared, system=[*prompt.system[:-1], last],
                               parts=(*prompt.parts, ("tools: in character", voice)))


class SearchBudget:
    """Web searches made today (UTC) per person and per server, read from the recorded model calls
    (``api_calls.web_searches``, written as each call ends): the counts survive a restart and every
    process on the database shares them. One read per reply that may search."""

    def __init__(self, spending: Spending,
                 today: Callable[[], date] = lambda: datetime.now(UTC).date()) -> None:
        self.spending = spending
        self._today = today

    async def left(self, msg: Incoming, *, person: int, server: int) -> int:
        """Searches ``msg``'s reply may still make today (caps: ``person``, ``server``)."""
        since = datetime.combine(self._today(), time(), UTC)
        mine, theirs = await self.spending.searches(since, user_id=msg.author_id, guild_id=msg.guild_id)
        left = person - mine
        if msg.guild_id is not None:
            left = min(left, server - theirs)
        return max(left, 0)


class CappedSearch:
    """The search tool past the day's cap: asked, it does not search; the reply is the capped line."""

    name = "search_web"
    DECLARED = client_tool(name, "Search the web for current information (news, scores, prices, what "
                           "happened today).", {"query": {"type": "string"}}, ("query",))

    def __init__(self, line: str) -> None:
        self.line = line

    async def run(self, arguments: JsonObject) -> ToolOutput:
        return ToolOutput(self.line, final=True)


class SearchRounds:
    """A reply's later calls (its tool loop's rounds): ``web_search`` declared with the searches the reply
    has left, within what the day's caps leave now; left out when none are."""

    def __init__(self, declared: tuple[JsonObject, ...], search: JsonObject, budget: SearchBudget,
                 msg: Incoming, settings: Settings) -> None:
        self.declared, self.search, self.budget, self.msg = declared, search, budget, msg
        self.settings = settings

    async def __call__(self, used: int) -> tuple[JsonObject, ...]:
        allowed = int(str(self.search["max_uses"]))  # the reply's, within the day's caps at its start
        lookup = self.settings.lookup
        day = await self.budget.left(self.msg, person=lookup.web_search_daily_cap_person,
                                     server=lookup.web_search_daily_cap_server)  # its own searches counted
        left = min(allowed - used, day)
        if left >= allowed:
            return self.declared  # nothing used: the same bytes (the cached prefix)
        if left > 0:
            fewer: JsonObject = {**self.search, "max_uses": left}
            return tuple(fewer if d is self.search else d for d in self.declared)
        return tuple(d for d in self.declared if d is not self.search)


class Lookup:
    """The tools of each reply, from the ``lookup`` settings (read at each message: a reload applies)."""

    def __init__(self, settings: Settings, budget: SearchBudget) -> None:
        self.settings = settings  # whole: lookup, and the character's time zone (alive)
        self.budget = budget

    async def toolbox(self, msg: Incoming, prompt: Prompt, name: str,
                      lent: Sequence[tuple[JsonObject, ClientTool]] = ()) -> Toolbox | None:
        """What the reply to ``msg`` may use (None: no tools, as before): the search tools, then the tools
        the features lend (``lent``: the server's), then a fetch of the links the message carries."""
        lookup = self.settings.lookup
        declared: list[JsonObject] = []
        client: dict[str, ClientTool] = {}
        search = None
        if lookup.web_search == "everywhere" or (lookup.web_search == "dms" and msg.is_dm):
            search = await self._search(msg, name, declared, client)
        searching = bool(declared)
        for declaration, tool in lent:
            declared.append(declaration)
            client[tool.name] = tool
        posted = links(msg.content)[:MAX_LINKS]
        if searching and lookup.web_fetch and posted and prompt.memories_of <= {msg.author_id}:
            declared.append(web_fetch(domains(posted)))
        if not declared:
            return None
        whole = tuple(declared)
        rounds = SearchRounds(whole, search, self.budget, msg, self.settings) if search is not None else None
        return Toolbox(whole, client, lookup.tool_rounds, rounds, tools_voice(declared))

    async def _search(self, msg: Incoming, name: str, declared: list[JsonObject],
                      client: dict[str, ClientTool]) -> JsonObject | None:
        """Declares the search, or its capped stand-in past a cap; the search's declaration, if any."""
        lookup = self.settings.lookup
        left = await self.budget.left(msg, person=lookup.web_search_daily_cap_person,
                                      server=lookup.web_search_daily_cap_server)
        if left > 0:
            location = Location.parse(lookup.web_search_location, self.settings.alive.timezone) \
                if lookup.web_search_location.strip() else None
            search = web_search(max_uses=min(lookup.web_search_max_uses, left),
                                allowed=_listed(lookup.web_search_allowed_domains),
                                blocked=_listed(lookup.web_search_blocked_domains), location=location)
            declared.append(search)
            return search
        capped = CappedSearch(lookup.web_search_capped_line.replace("{name}", name))
        declared.append(CappedSearch.DECLARED)
        client[capped.name] = capped
        return None


def _listed(text: str) -> list[str]:
    return [d.strip().lower() for d in text.split(",") if d.strip()]
