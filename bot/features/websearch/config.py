"""The web search feature's section of config.env (named in its ``FEATURE``; read as
``settings.section(LookupSettings)``)."""

from dataclasses import dataclass
from typing import ClassVar

from bot.core.config.keys import key
from bot.core.i18n import N_


@dataclass(frozen=True)
class LookupSettings:
    """Looking things up while replying (bot/features/websearch/): Claude's web search and web fetch. Each
    search costs $0.01 on top of the tokens (counted in usage and the spending limits)."""

    TITLE: ClassVar[str] = "Looking things up"
    web_search: str = key(
        "off", "Let the character search the web while replying (Claude's web_search tool, with its sources "
        "shown under the reply): off, dms (direct messages only) or everywhere. Claude models only.",
        choices=("off", "dms", "everywhere"))
    web_search_max_uses: int = key(3, "Searches one reply may make at most.", min=1, max=20)
    web_search_daily_cap_person: int = key(
        10, "Searches a day for one person's messages (UTC days); past it the character says "
        "web_search_capped_line instead.", min=0)
    web_search_daily_cap_server: int = key(50, "Searches a day in one server, everyone's together.", min=0)
    web_search_allowed_domains: str = key(
        "", "Comma-separated domains searches may return (empty: any; wins over the blocked list).")
    web_search_blocked_domains: str = key("", "Comma-separated domains searches never return.")
    web_search_location: str = key(
        "", "Where the character is, for local results: \"City, Region, CC\" (the time zone is the "
        "character's, timezone); empty: none.")
    web_fetch: bool = key(
        True, "Where web_search is on, also read the links a person posts in the message answered "
        "(Claude's web_fetch tool, held to those links' sites; never where the request carries another "
        "person's private memories).")
    web_search_capped_line: str = key(
        N_("*{name} rubs their eyes.* I've looked up all I can for today. Ask me again tomorrow?"),
        "What the character says when a reply would search past the day's cap ({name}: the character's "
        "name). Unset, it is said in the person's language; set, as written.")
