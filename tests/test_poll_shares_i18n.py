"""A poll's shares are percentages as the poll's language writes them: its panel's "(50 %)" in German and
French (a no-break space before the sign), never the English "(50%)" inside a German or French line. Over the
wire: /poll from a German and a French client (the poll's language: no /settings language is set), two votes,
the panel as the fake Discord holds it after each."""

from __future__ import annotations

import pytest

from tests.harness import USER2_ID, USER_ID, Harness
from tests.test_polls import shown, start_poll, vote


@pytest.mark.parametrize(("locale", "one", "halves"), [
    ("de", "1 Stimme (100\xa0%)", "1 Stimme (50\xa0%)"),
    ("fr", "1 vote (100\xa0%)", "1 vote (50\xa0%)"),
])
async def test_a_polls_shares_are_written_as_its_language_writes_a_percentage(
        harness: Harness, locale: str, one: str, halves: str) -> None:
    h = harness
    h.discord.set_locale(USER_ID, locale)
    message = await start_poll(h, "Tee oder Kaffee?", "Tee | Kaffee", "10m")
    await vote(h, message, 0, USER_ID)
    assert one in shown(h, message), shown(h, message)
    await vote(h, message, 1, USER2_ID)  # another's vote redraws the panel in the poll's language, not theirs
    panel = shown(h, message)
    assert panel.count(halves) == 2, panel
    assert "%)" not in panel.replace("\xa0%)", "")  # no share as English writes it
