"""Web search while replying: Anthropic's ``web_search`` (and ``web_fetch`` for the links a message
carries), lent to each reply like any other tool (bot/core/stages.py ``ReplyTools``), with the day's caps
per person and per server and the reply's own search budget across its tool loop.

Settings: its own section, :class:`~bot.features.websearch.config.LookupSettings`. The lender:
:mod:`.lender`. How the character speaks of what it found: its tool family in bot/reply/generation.py.
Tests: tests/test_tool_loop.py, tests/test_e2e_lookup.py."""

from collections.abc import Callable

from bot.features.websearch.config import LookupSettings
from bot.features.websearch.lender import CappedSearch, SearchBudget, WebSearch, links
from bot.operator.registration import Contribution, Feature, Parts

__all__ = ["FEATURE", "CappedSearch", "SearchBudget", "WebSearch", "links"]


def build(parts: Parts) -> Contribution:
    search = WebSearch.following(parts.holder, parts.store.spending, parts.name, parts.store.style)

    def speaking_as(name: Callable[[], str]) -> tuple[WebSearch, ...]:
        return (search.speaking_as(name),)  # each character of a cast counts its own searches

    return Contribution(tools=(search,), cast_tools=speaking_as)


FEATURE = Feature(name="websearch", settings=LookupSettings, build=build, in_console=True)
