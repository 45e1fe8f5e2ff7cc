"""The day's summary and core-memory passes write in the language the person writes in, and dates in facts
carry no English words: proven by what the fake Claude is asked (a Spanish person's summary and memory
requests name Spanish, their transcript's days are Spanish, a closed Spanish fact's tail is Spanish), and by
the fact lines themselves in several languages (English as control)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from babel.dates import format_date

from database.records import FactRow
from memory.factlines import line
from tests.harness import USER_ID, MakeHarness
from tests.memory_support import last_user_text
from tests.test_summarization import MEMORY_CUE, SMALL, SUMMARY_CUE, Script, chat, requests_with, summarized

SPANISH = [
    "¡Hola Finn! Esta mañana mi gata Miso tiró la tetera entera de la estantería.",
    "La semana que viene empiezo un trabajo nuevo en el faro, me ponen nerviosa los turnos de noche.",
    "¿Te queda té de algas? Hoy me vendría muy bien algo que me calme un poco.",
]
RULE = ('Write in Spanish, the language alice writes in; dates as Spanish writes them '
        '("17 de noviembre de 2026").')
CLOSED = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
ENGLISH_WORDS = re.compile(r"\b(until|happened|January|February|March|April|May|June|July|August|September|"
                           r"October|November|December)\b")


async def test_a_spanish_persons_summary_and_memories_are_asked_in_spanish(make_harness: MakeHarness) -> None:
    h = await make_harness(**SMALL)
    script = Script(summary="Alice me contó que Miso rompió la tetera y que empieza en el faro.",
                    memories="- Alice tiene una gata llamada Miso.\n"
                             "- Alice empieza turnos de noche en el faro.")
    h.claude.responder = script
    await chat(h, SPANISH[:1], dm=True)
    seville = await h.store.facts.add(USER_ID, "Lucía vive en Sevilla", category="personal")
    assert await h.store.facts.close(USER_ID, seville, CLOSED, "Lucía vivía en Sevilla")
    await chat(h, SPANISH[1:], start=1, dm=True)
    await summarized(h, "dm")
    # Spanish costs more tokens an exchange than English: the second and the third exchange may each pass
    # the threshold, so there are one or two passes, every one of them after the fact was closed
    summaries, memories = requests_with(h, SUMMARY_CUE), requests_with(h, MEMORY_CUE)
    assert summaries and memories
    today = datetime.now(UTC)
    for summary in summaries:
        asked = last_user_text(summary.body)
        assert RULE in asked
        # the transcript's days in Spanish: the summary copies them into what it keeps
        assert f"[{format_date(today.date(), format='full', locale='es')}]" in asked or today.hour == 0
    # the closed fact, shown to both passes with its tail in Spanish and no English word
    for request in [last_user_text(r.body) for r in summaries + memories]:
        assert RULE in request
        assert "- Lucía vivía en Sevilla (hasta el 28 de noviembre de 2026)" in request
        past = request.split("No longer true about alice")[1].split("\n\n")[0]
        assert not ENGLISH_WORDS.search(past.split(":\n", 1)[1])


async def test_an_english_persons_passes_are_asked_in_english(make_harness: MakeHarness) -> None:
    h = await make_harness(**SMALL)
    h.claude.responder = Script()
    await chat(h, ["Hi Finn! My cat Miso knocked the whole teapot off the shelf this morning.",
                   "I'm starting a new job at the lighthouse next week, nervous about the night shifts.",
                   "Do you have any kelp tea left? I could really use something calming today."], dm=True)
    await summarized(h, "dm")
    [summary] = requests_with(h, SUMMARY_CUE)
    assert ('Write in English, the language alice writes in; dates as English writes them '
            '("17 November 2026").') in last_user_text(summary.body)


def fact(text: str, past: str | None = None, until: datetime | None = None,
         happened: datetime | None = None) -> FactRow:
    told = datetime(2026, 5, 8, tzinfo=UTC)
    return FactRow(1, text, "personal", False, False, 1, told, told, None, valid_until=until, past=past,
                   happened_at=happened)


def test_a_closed_or_dated_fact_has_its_tail_in_its_own_language() -> None:
    cases = {
        ("Lucía vive en Sevilla", "Lucía vivía en Sevilla"): "(hasta el 28 de noviembre de 2026)",
        ("Jonas wohnt in Berlin", "Jonas wohnte in Berlin"): "(bis 28. November 2026)",
        ("アリスは京都に住んでいる", "アリスは京都に住んでいた"): "(2026年11月28日まで)",
        ("Alice lives in Leeds", "Alice lived in Leeds"): "(until 28 November 2026)",
    }
    for (now, past), tail in cases.items():
        assert line(fact(now, past, CLOSED)) == f"- {past} {tail}\n"
    spanish = line(fact("Lucía se rompió la muñeca", happened=datetime(2026, 5, 2, tzinfo=UTC)))
    assert spanish == "- Lucía se rompió la muñeca (ocurrió el 2 de mayo de 2026)\n"
    assert not ENGLISH_WORDS.search(spanish)
