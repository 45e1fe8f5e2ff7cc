"""How recalled lines read in a prompt: facts and excerpts grouped under day headings (each year named once),
a closed fact in the past tense, the day something happened said once, in one format."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from babel.core import UnknownLocaleError
from babel.dates import format_date, format_skeleton

from bot.core.i18n import N_, listed, t
from bot.core.language import detect
from bot.core.locales import SPOKEN
from bot.core.tokens import count_tokens
from database.records import FactRow


def day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}"


def spoken(told: str) -> str:
    """A day (as :func:`day` keys it) as the prompt shows it: "8 May 2023", as the prompt's own date, and a
    token cheaper than "2023-05-08" (each day heading recalled lines costs its tokens)."""
    d = date.fromisoformat(told)
    return f"{d.day} {d:%B %Y}"


# A fact's own tails in the language it is written in (a Spanish fact with "(until 28 November 2026)" is an
# English phrase in a Spanish store, which the memory passes copy). Its date is Babel's (CLDR's long form:
# "28 de noviembre de 2026", "2026年11月28日"); the words around it, the kindred catalogs' (bot/core/i18n.py).
# A language Kindred has no catalog for gets the date alone after an arrow: English words are wrong there.
TAILS = {"until": N_("until {date}"), "happened": N_("happened {date}")}
NO_WORD = "→ {date}"


def long_date(when: date, language: str | None) -> str:
    """``when`` as ``language`` writes a date in full ("28 de noviembre de 2026"); as the prompt's own format
    ("28 November 2026") for English, none, or a language CLDR does not know."""
    if language and language != "en":
        try:
            return str(format_date(when, format="long", locale=language))
        except (UnknownLocaleError, ValueError):
            pass
    return f"{when.day} {when:%B %Y}"


def short_date(when: date, language: str | None) -> str:
    """``when`` without its year as ``language`` writes it ("28 de noviembre", "11月28日"; "28 November")."""
    if language and language != "en":
        try:
            return str(format_skeleton("MMMMd", when, locale=language))
        except (UnknownLocaleError, ValueError, KeyError):
            pass
    return f"{when.day} {when:%B}"


def list_date(when: date, language: str | None) -> str:
    """``when`` in a list a person reads (/memory list, an admin's /facts): "2026-11-28" in English, as it
    always read; as ``language`` writes a short date otherwise ("28.11.2026", "2026/11/28": CLDR's medium
    form, Babel's)."""
    if language and language != "en":
        try:
            return str(format_date(when, format="medium", locale=language))
        except (UnknownLocaleError, ValueError):
            pass
    return f"{when:%Y-%m-%d}"


def joined(parts: Sequence[str], language: str | None) -> str:
    """A few of a fact's labels one after another: "a, b, c" in English, as fact lists have always read; as
    the language lists things in another (``listed``: "a, b und c", "a、b、c")."""
    if language and language != "en":
        return listed(language, parts)
    return ", ".join(parts)


def tail(kind: str, told: str, text: str) -> str:
    """A fact's dated tail ("until" or "happened") in the language ``text`` is written in: "until 28 November
    2026", "hasta el 28 de noviembre de 2026", "2026年11月28日まで"."""
    language = detect(text)
    if language is None or language == "en":
        return f"{kind} {spoken(told)}"
    when = long_date(date.fromisoformat(told), language)
    if language not in SPOKEN:
        return NO_WORD.format(date=when)
    return t(language, TAILS[kind], date=when)


def header(told: str, year: bool = True, language: str | None = None) -> str:
    """A day's heading; ``year``: False under an earlier heading of the same year (see :func:`headed`);
    ``language``: the person's, whose way of writing a date it takes ("8 de mayo de 2023:", "2023年5月8日:"),
    so a Spanish person's recalled lines sit under no English month."""
    d = date.fromisoformat(told)
    return f"{long_date(d, language) if year else short_date(d, language)}:\n"


def headed(groups: Mapping[str, str], language: str | None = None) -> str:
    """Days' lines (``groups``: day -> its lines, oldest day first) under their headings (in ``language``,
    the person's), each year named once, in its first day's heading: "8 May 2023:" then "12 June:" (3 tokens
    fewer a day)."""
    out: list[str] = []
    shown = ""
    for told, lines in groups.items():
        out.append(header(told, year=told[:4] != shown, language=language) + lines)
        shown = told[:4]
    return "".join(out)


@dataclass(frozen=True)
class HeadingTokens:
    """What a day's heading costs: ``day`` without its year, ``year`` more where it names the year (6 with
    it, 3 without: a month name is one token)."""

    day: int
    year: int

    @property
    def whole(self) -> int:
        return self.day + self.year


@functools.cache
def heading_tokens() -> HeadingTokens:
    """Counted on first use, not at import: the tokenizer loads then (start-up loads it in a thread)."""
    days = [f"2023-{m:02d}-{d:02d}" for m in range(1, 13) for d in (1, 9, 10, 28)]
    whole = max(count_tokens(header(told)) for told in days)
    day = max(count_tokens(header(told, year=False)) for told in days)
    return HeadingTokens(day, whole - day)


def line(row: FactRow) -> str:
    """A fact's line: a closed one in the past tense with the day it stopped ("- Alice lived in Leeds (until
    20 November 2026)", "- Lucía vivía en Sevilla (hasta el 20 de noviembre de 2026)": :func:`tail`); one
    in doubt with the other ("- unsure: Alice is staying in York or Alice lives in
    Leeds"); when it happened, where that is not the day it was told and the sentence does not already say
    it (the date once, in the prompt's one format)."""
    if row.valid_until is not None:
        said = (row.past or row.fact).rstrip(".")
        return f"- {said} ({tail('until', day(row.valid_until), said)})\n"
    if row.doubt:
        return f"- unsure: {row.fact.rstrip('.')} or {row.doubt.rstrip('.')}\n"
    happened = day(row.happened_at) if row.happened_at is not None else ""
    if happened and happened != day(row.told) and not dated(row.fact, happened):
        return f"- {row.fact} ({tail('happened', happened, row.fact)})\n"
    return f"- {row.fact}\n"


def dated(text: str, told: str) -> bool:
    """Whether a sentence already names the day (as "2026-11-17", "17 November 2026" or "November 17")."""
    d = date.fromisoformat(told)
    words = "".join(c if c.isalnum() or c == "-" else " " for c in text.casefold()).split()
    # "17th" reads as "17"; "of" in "17th of November" is set aside
    said = f" {' '.join(w.rstrip('stndrh') if w[:1].isdigit() else w for w in words if w != 'of')} "
    month = f"{d:%B}".casefold()
    return any(f" {form} " in said for form in (told, f"{d.day} {month}", f"{month} {d.day}"))


def render(facts: Sequence[FactRow], user: str, language: str | None = None) -> str:
    """The facts grouped under the day they were told, oldest day first (relevance order within a day):
    one date heads many facts, so dates cost few tokens, and the model reads the person's story in order.
    The headings in ``language`` (the person's; English when None). Data only: the prompt layout
    (bot/reply/prompting.py) fences it and says what it is."""
    if not facts:
        return ""
    groups: dict[str, list[FactRow]] = {}
    doubts: set[frozenset[str]] = set()
    for f in facts:
        groups.setdefault(day(f.told), []).append(f)
    return headed({told: "".join(line(f) for f in groups[told] if not said_once(f, doubts))
                   for told in sorted(groups)}, language).rstrip()


def said_once(row: FactRow, doubts: set[frozenset[str]]) -> bool:
    """Whether a doubt's pair was already told (from its other fact's line): each doubt once."""
    if not row.doubt or row.valid_until is not None:
        return False
    pair = frozenset((row.fact, row.doubt))
    if pair in doubts:
        return True
    doubts.add(pair)
    return False
