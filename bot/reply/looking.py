"""Looking things up while replying: which tools a reply's request declares (``lookup`` settings), and the
day's caps on web searches.

* ``web_search`` (Anthropic's server tool) where the operator turned it on (``dms`` or ``everywhere``),
  with ``max_uses``, the allowed or blocked domains and the character's location. Its declaration is the
  same from request to request (the cached prefix starts with the tools), except in the last searches
  before a cap, where ``max_uses`` is what is left.
* ``web_fetch`` only for a message that carries links, held to those links' sites, and never in a request
  carrying another person's private memories (what a fetched page says could carry them away).
* Past a cap (per person, per server, per UTC day), ``web_search`` gives way to a client tool of the same
  purpose whose use ends the reply with ``web_search_capped_line``: the character says it, in character,
  instead of searching.

The caps are counted by this process (a restart starts the day's count again).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

from bot.core.config import Settings
from bot.core.models.base import Prompt
from bot.core.models.tools import Location, OfferedTool, client_tool, domains, web_fetch, web_search
from bot.core.pipeline import Incoming
from bot.reply.generation import ClientTool, Toolbox, ToolOutput
from database.boundary import JsonObject

# A link as Discord shows one: http(s), up to the next space or bracket a link does not end inside.
_LINK = re.compile(r"https?://[^\s<>()\[\]\"'`|]{1,2000}")
MAX_LINKS = 3  # links of one message the character may read


def links(text: str) -> list[str]:
    """The http(s) links in ``text``, in order, once each (trailing punctuation left out)."""
    out: list[str] = []
    for match in _LINK.finditer(text):
        url = match.group().rstrip(".,;:!?*_~")
        if url not in out:
            out.append(url)
    return out


class SearchBudget:
    """Web searches made today (UTC) per person and per server, in this process."""

    def __init__(self, today: Callable[[], date] = lambda: datetime.now(UTC).date()) -> None:
        self._today = today
        self._day: date | None = None
        self._made: dict[tuple[str, int], int] = {}

    def _counts(self) -> dict[tuple[str, int], int]:
        day = self._today()
        if day != self._day:  # a new day: yesterday's counts go
            self._day, self._made = day, {}
        return self._made

    def left(self, msg: Incoming, *, person: int, server: int) -> int:
        """Searches ``msg``'s reply may still make today (caps: ``person``, ``server``)."""
        made = self._counts()
        left = person - made.get(("person", msg.author_id), 0)
        if msg.guild_id is not None:
            left = min(left, server - made.get(("server", msg.guild_id), 0))
        return max(left, 0)

    def account(self, msg: Incoming) -> SearchAccount:
        return SearchAccount(self, msg.author_id, msg.guild_id)

    def spend(self, person: int, server: int | None, searches: int) -> None:
        made = self._counts()
        made[("person", person)] = made.get(("person", person), 0) + searches
        if server is not None:
            made[("server", server)] = made.get(("server", server), 0) + searches


class SearchAccount:
    """Whom one reply's searches are counted for (handed to the generation, told after each call)."""

    def __init__(self, budget: SearchBudget, person: int, server: int | None) -> None:
        self.budget, self.person, self.server = budget, person, server

    def spent(self, searches: int) -> None:
        self.budget.spend(self.person, self.server, searches)


class CappedSearch:
    """The search tool past the day's cap: asked, it does not search; the reply is the capped line."""

    name = "search_web"
    DECLARED = client_tool(name, "Search the web for current information (news, scores, prices, what "
                           "happened today).", {"query": {"type": "string"}}, ("query",))

    def __init__(self, line: str) -> None:
        self.line = line

    async def run(self, arguments: JsonObject) -> ToolOutput:
        return ToolOutput(self.line, final=True)


class Lookup:
    """The tools of each reply, from the ``lookup`` settings (read at each message: a reload applies)."""

    def __init__(self, settings: Settings, budget: SearchBudget | None = None) -> None:
        self.settings = settings  # whole: lookup, and the character's time zone (alive)
        self.budget = budget or SearchBudget()

    def toolbox(self, msg: Incoming, prompt: Prompt, name: str) -> Toolbox | None:
        """What the reply to ``msg`` may use (None: no tools, as before)."""
        lookup = self.settings.lookup
        if lookup.web_search == "off" or (lookup.web_search == "dms" and not msg.is_dm):
            return None
        left = self.budget.left(msg, person=lookup.web_search_daily_cap_person,
                                server=lookup.web_search_daily_cap_server)
        declared: list[JsonObject] = []
        client: dict[str, ClientTool] = {}
        if left > 0:
            location = Location.parse(lookup.web_search_location, self.settings.alive.timezone) \
                if lookup.web_search_location.strip() else None
            declared.append(web_search(max_uses=min(lookup.web_search_max_uses, left),
                                       allowed=_listed(lookup.web_search_allowed_domains),
                                       blocked=_listed(lookup.web_search_blocked_domains),
                                       location=location))
        else:
            capped = CappedSearch(lookup.web_search_capped_line.replace("{name}", name))
            declared.append(CappedSearch.DECLARED)
            client[capped.name] = capped
        posted = links(msg.content)[:MAX_LINKS]
        if lookup.web_fetch and posted and prompt.memories_of <= {msg.author_id}:
            declared.append(web_fetch(domains(posted)))
        return Toolbox(tuple(declared), client, lookup.tool_rounds, self.budget.account(msg))

    def offering(self, toolbox: Toolbox | None, offered: Sequence[OfferedTool]) -> Toolbox | None:
        """``toolbox`` with the client tools the features offered this reply (a reminder) declared first:
        theirs are the same bytes from request to request, and the cached prefix starts with the tools."""
        if not offered:
            return toolbox
        declared = tuple(t.declared for t in offered)
        client = {t.name: t for t in offered}
        if toolbox is None:
            return Toolbox(declared, client, self.settings.lookup.tool_rounds)
        return Toolbox((*declared, *toolbox.declared), {**client, **toolbox.client}, toolbox.rounds,
                       toolbox.searches)


def _listed(text: str) -> list[str]:
    return [d.strip().lower() for d in text.split(",") if d.strip()]
