"""The line said past the day's web search cap is in the person's language even when their message tells
none ("news?"): the one they write in (their writing profile), over the wire (fake Discord, fake Claude
asking for the search's stand-in: tests/fakes/claude_tools.py), in German and Japanese."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.claude_server import Reply
from tests.fakes.claude_tools import Search
from tests.harness import USER_ID, MakeHarness, dm_reply, eventually

WRITES = {
    "de": ("Hallo Finn, wie geht es dir heute? Ich habe gerade frischen Kaffee gekocht.",
           "Weißt du schon, was wir am Wochenende zusammen unternehmen könnten?"),
    "ja": ("こんにちは、今日はどんな一日だった？私はさっきコーヒーを淹れたところだよ。",
           "週末に何をしようか、一緒に考えてくれる？"),
}
CAPPED = {
    "de": "*Finn reibt sich die Augen.* Für heute habe ich alles nachgeschlagen, was ich konnte. Fragst du "
          "mich morgen noch einmal?",
    "ja": "*Finnは目をこする。* 今日はもう調べられるだけ調べたよ。また明日聞いてくれる？",
}


@pytest.mark.parametrize("language", ["de", "ja"])
async def test_the_capped_line_to_a_message_that_tells_no_language_is_in_the_one_they_write(
        make_harness: MakeHarness, language: str) -> None:
    h = await make_harness(reminders_in_dms="false", web_search="dms", web_search_daily_cap_person=0)
    for n, text in enumerate(WRITES[language], 1):
        h.claude.script(f"Answer {n}.")
        assert await dm_reply(h, text, n) == f"Answer {n}."
    assert h.bot is not None
    memory = h.bot.services.memory
    await eventually(lambda: _writes(memory, language), "their writing profile's language")
    # "news?" tells no language; past the cap, the model's search is answered by the capped line
    h.claude.script(Reply(tools=Search("news", [("https://news.example.com/storm", "Storm")])))
    assert await dm_reply(h, "news?", 3) == CAPPED[language]


async def _writes(memory: Any, language: str) -> bool:
    return bool(await memory.written_language(USER_ID) == language)
