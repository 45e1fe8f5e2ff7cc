"""The web search lent to a reply, from the ``lookup`` settings (read at each message: a reload applies).

* ``web_search`` (Anthropic's server tool) where the operator turned it on (``dms`` or ``everywhere``),
  with ``max_uses``, the allowed or blocked domains and the character's location. Its declaration is the
  same from request to request (the cached prefix starts with the tools), except in the last searches
  before a cap, where ``max_uses`` is what is left. ``max_uses`` is the whole reply's: a reply whose tool
  loop takes several calls declares in each later call only the searches it has left, within what the
  day's caps leave then (read again), and no ``web_search`` when none are left (the lent search's
  narrowing, :class:`SearchLeft`).
* ``web_fetch`` only for a message that carries links, held to those links' sites, and outward: never in a
  request carrying another person's private memories (what a fetched page says could carry them away).
* Past a cap (per person, per server, per UTC day), ``web_search`` gives way to a client tool of the same
  purpose whose use ends the reply with ``web_search_capped_line``: the character says it, in character,
  instead of searching. The day's searches are read from the recorded model calls: a restart keeps them, and
  the processes of a cluster count them together.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time

from bot.core.config import AliveSettings
from bot.core.config.holder import SettingsHolder
from bot.core.i18n import language_of, language_written, own_line
from bot.core.models.tools import Lent, Location, ToolOutput, client_tool, domains, web_fetch, web_search
from bot.core.stages import Incoming
from bot.features.websearch.config import LookupSettings
from database.boundary import JsonObject
from database.spending import Spending
from database.style import StyleProfiles

# A link as Discord shows one: http(s), up to the next space or bracket a link does not end inside.
_LINK = re.compile(r"https?://[^\s<>()\[\]\"'`|]{1,2000}")
MAX_LINKS = 3  # links of one message the character may read
# How the character speaks of what it looked up or read (the tools' family sentences, ``Lent.voice``).
SEARCH_VOICE = (
    "You can look things up on the web (web_search) when someone asks about something current you could"
    " not know otherwise (news, scores, prices, what happened today); tell them what you found as "
    "yourself, in your own words and voice, as something you just looked up or heard, never as a search"
    " engine's report, and where your world would not know such things, say how you came by it in a way"
    " that fits you."
)
FETCH_VOICE = (
    "You can read the pages of links posted here (web_fetch) when someone asks about one; say what it "
    "says briefly, in your own words, as someone who just read it."
)


def utc_today() -> date:
    return datetime.now(UTC).date()


def links(text: str) -> list[str]:
    """The http(s) links in ``text``, in order, once each (trailing punctuation left out)."""
    out: list[str] = []
    for match in _LINK.finditer(text):
        url = match.group().rstrip(".,;:!?*_~")
        if url not in out:
            out.append(url)
    return out


class SearchBudget:
    """Web searches made today (UTC) per person and per server, read from the recorded model calls
    (``api_calls.web_searches``, written as each call ends): the counts survive a restart and every
    process on the database shares them. One read per reply that may search."""

    def __init__(self, spending: Spending, today: Callable[[], date] = utc_today) -> None:
        self.spending = spending
        self.today = today

    async def left(self, msg: Incoming, *, person: int, server: int) -> int:
        """Searches ``msg``'s reply may still make today (caps: ``person``, ``server``)."""
        since = datetime.combine(self.today(), time(), UTC)
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


class SearchLeft:
    """One reply's search in its later calls (its tool loop's rounds): declared with the searches the reply
    has left, within what the day's caps leave now; not declared when none are."""

    def __init__(self, search: JsonObject, budget: SearchBudget, msg: Incoming,
                 settings: LookupSettings) -> None:
        self.search, self.budget, self.msg, self.settings = search, budget, msg, settings

    async def __call__(self, used: int) -> JsonObject | None:
        allowed = int(str(self.search["max_uses"]))  # the reply's, within the day's caps at its start
        s = self.settings
        day = await self.budget.left(self.msg, person=s.web_search_daily_cap_person,
                                     server=s.web_search_daily_cap_server)  # its own searches counted
        left = min(allowed - used, day)
        if left >= allowed:
            return self.search  # nothing used: the same bytes (the cached prefix)
        return {**self.search, "max_uses": left} if left > 0 else None


class WebSearch:
    """The web search a reply may use (bot/core/stages.py ``ReplyTools``): where ``web_search`` is on for
    the message's place, the search (or past a cap its stand-in), then a fetch of the links it carries."""

    def __init__(self, settings: LookupSettings, alive: AliveSettings, spending: Spending,
                 character: Callable[[], str], *, today: Callable[[], date] = utc_today,
                 styles: StyleProfiles | None = None) -> None:
        """``alive``: the character's time zone (a location's default); ``spending``: the recorded calls,
        whose searches count against the day's caps; ``character``: its name now; ``styles``: the writing
        profiles (the language of one whose message tells none, for the capped line)."""
        self.settings, self.alive, self.character = settings, alive, character
        self.budget = SearchBudget(spending, today)
        self.styles = styles

    @classmethod
    def following(cls, holder: SettingsHolder, spending: Spending, character: Callable[[], str],
                  styles: StyleProfiles | None = None) -> WebSearch:
        """The search reading the running ``lookup`` and ``alive`` sections (a reload applies at once)."""
        return cls(holder.follow(LookupSettings), holder.follow(AliveSettings), spending, character,
                   styles=styles)

    def speaking_as(self, character: Callable[[], str]) -> WebSearch:
        """The same search (its settings, the day's caps) for another character of the cast."""
        return WebSearch(self.settings, self.alive, self.budget.spending, character, today=self.budget.today,
                         styles=self.styles)

    async def __call__(self, msg: Incoming) -> Sequence[Lent]:
        s = self.settings
        if not (s.web_search == "everywhere" or (s.web_search == "dms" and msg.is_dm)):
            return ()
        left = await self.budget.left(msg, person=s.web_search_daily_cap_person,
                                      server=s.web_search_daily_cap_server)
        lent = [self._search(msg, left) if left > 0 else await self._capped(msg)]
        posted = links(msg.content)[:MAX_LINKS]
        if s.web_fetch and posted:
            lent.append(Lent(web_fetch(domains(posted)), outward=True, voice=FETCH_VOICE))
        return lent

    def _search(self, msg: Incoming, left: int) -> Lent:
        s = self.settings
        place = s.web_search_location
        location = Location.parse(place, self.alive.timezone) if place.strip() else None
        search = web_search(max_uses=min(s.web_search_max_uses, left),
                            allowed=_listed(s.web_search_allowed_domains),
                            blocked=_listed(s.web_search_blocked_domains), location=location)
        return Lent(search, narrowing=SearchLeft(search, self.budget, msg, s), voice=SEARCH_VOICE)

    async def _capped(self, msg: Incoming) -> Lent:
        """The search's stand-in, saying the capped line: in the language of the message, else the one the
        person writes in (a short "news?" tells none), unless the operator wrote their own."""
        language = language_of(msg.content)
        if language is None and self.styles is not None:
            language = language_written(await self.styles.get(msg.author_id))
        line = own_line(language, self.settings.web_search_capped_line, LookupSettings.web_search_capped_line,
                        name=self.character())
        return Lent(CappedSearch.DECLARED, CappedSearch(line), voice=SEARCH_VOICE)


def _listed(text: str) -> list[str]:
    return [d.strip().lower() for d in text.split(",") if d.strip()]
