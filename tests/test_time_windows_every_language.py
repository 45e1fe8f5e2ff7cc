"""A question about a time recalls what was told then, and only that, in every language: over the wire, with
the multilingual pair of models, facts told yesterday and today, asked "what did we talk about yesterday?"
in English, German, Japanese and Spanish (what the fake Claude receives is the proof)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from memory.embeddings import glossed
from tests.harness import USER_ID, Harness, MakeHarness

# language: (told yesterday, told today, the question about yesterday); each fact as consolidation keeps it
# (in the person's language, with its English wording beside it)
TOLD: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], str]] = {
    "en": ((("Alice adopted a kitten called Mochi", ""), ("Alice booked a train to Edinburgh", "")),
           (("Alice started learning the cello", ""), ("Alice's sister found a job at a bank", "")),
           "What did we talk about yesterday?"),
    "de": ((("Alice hat ein Kätzchen namens Mochi adoptiert", "Alice adopted a kitten called Mochi"),
            ("Alice hat einen Zug nach Edinburgh gebucht", "Alice booked a train to Edinburgh")),
           (("Alice hat angefangen, Cello zu lernen", "Alice started learning the cello"),
            ("Alices Schwester hat eine Stelle bei einer Bank gefunden",
             "Alice's sister found a job at a bank")),
           "Worüber haben wir gestern gesprochen?"),
    "ja": ((("アリスはモチという子猫を引き取った", "Alice adopted a kitten called Mochi"),
            ("アリスはエディンバラ行きの電車を予約した", "Alice booked a train to Edinburgh")),
           (("アリスはチェロを習い始めた", "Alice started learning the cello"),
            ("アリスの姉は銀行に就職した", "Alice's sister found a job at a bank")),
           "昨日は何について話した？"),
    "es": ((("Alice adoptó una gatita llamada Mochi", "Alice adopted a kitten called Mochi"),
            ("Alice reservó un tren a Edimburgo", "Alice booked a train to Edinburgh")),
           (("Alice empezó a aprender violonchelo", "Alice started learning the cello"),
            ("La hermana de Alice encontró trabajo en un banco", "Alice's sister found a job at a bank")),
           "¿De qué hablamos ayer?"),
}


GERMAN_MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
                 "Oktober", "November", "Dezember")
# other windows, in German and Japanese: (when, the question; {month}: a month six months back, told then)
WINDOWS: dict[str, tuple[tuple[str, str], ...]] = {
    "de": (("last week", "Was habe ich dir letzte Woche erzählt?"),
           ("a month", "Was habe ich dir im {month} erzählt?")),
    "ja": (("last week", "先週は何を話した？"), ("a month", "{month}月に何を話した？")),
}


def _recalled(h: Harness) -> list[str]:
    prompt = h.claude.last_request("claude-test-default").all_text()
    if '<recalled_facts about="alice"' not in prompt:
        return []
    part = prompt.split('<recalled_facts about="alice"', 1)[1].split("</recalled_facts>", 1)[0]
    return [line[2:] for line in part.splitlines() if line.startswith("- ")]


async def _asked(h: Harness, then: tuple[tuple[str, str], ...], told_then: datetime,
                 question: str, code: str) -> list[str]:
    """What the question recalls of the facts ``then`` told at ``told_then`` and those of ``code`` told today
    (now)."""
    await h.store.people.ensure_user(USER_ID, "alice")
    embed = h.bot.services.memory.embed
    for facts, said_at in ((then, told_then), (TOLD[code][1], datetime.now(UTC))):
        for text, english in facts:
            await h.store.facts.add(USER_ID, text, embedding=await embed(glossed(text, english or None)),
                                    category="personal", said_at=said_at, gloss=english or None)
    dm = await h.dm_channel_id()
    await h.dm(question)
    await h.replies(dm, 1)
    return _recalled(h)


@pytest.mark.parametrize("code", list(TOLD))
async def test_a_question_about_yesterday_recalls_yesterday_alone(
        make_harness: MakeHarness, code: str) -> None:
    h = await make_harness(embedding_model="paired")
    then, _, question = TOLD[code]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    recalled = await _asked(h, then, today - timedelta(hours=12), question, code)
    assert sorted(recalled) == sorted(text for text, _ in then), recalled


@pytest.mark.parametrize(("code", "when"),
                         [(code, when) for code, asked in WINDOWS.items() for when, _ in asked])
async def test_a_question_about_last_week_or_a_month_recalls_that_time_alone(
        make_harness: MakeHarness, code: str, when: str) -> None:
    h = await make_harness(embedding_model="paired")
    now = datetime.now(UTC)
    question = dict(WINDOWS[code])[when]
    if when == "last week":
        told = now.replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=3)
    else:  # the 15th of the month six months back (its latest one: never this month)
        month = (now.month - 7) % 12 + 1
        told = datetime(now.year - (month > now.month), month, 15, 12, tzinfo=UTC)
        question = question.format(month=GERMAN_MONTHS[month - 1] if code == "de" else month)
    then = TOLD[code][0]
    recalled = await _asked(h, then, told, question, code)
    assert sorted(recalled) == sorted(text for text, _ in then), recalled
