"""How a recalled fact reads in a prompt: grouped under the day it was told, a closed fact in the past tense,
the day something happened said once, in one format."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from database.records import FactRow
from memory.episodes import day, headed, spoken


def line(row: FactRow) -> str:
    """A fact's line: a closed one in the past tense with when it stopped ("- Alice lived in Leeds (until
    November 2026)"); when it happened, where that is not the day it was told and the sentence does not
    already say it (the date once, in the prompt's one format)."""
    if row.valid_until is not None:
        return f"- {(row.past or row.fact).rstrip('.')} (until {row.valid_until:%B %Y})\n"
    happened = day(row.happened_at) if row.happened_at is not None else ""
    if happened and happened != day(row.told) and not dated(row.fact, happened):
        return f"- {row.fact} (happened {spoken(happened)})\n"
    return f"- {row.fact}\n"


def dated(text: str, told: str) -> bool:
    """Whether a sentence already names the day (as "2026-11-17", "17 November 2026" or "November 17")."""
    d = date.fromisoformat(told)
    words = "".join(c if c.isalnum() or c == "-" else " " for c in text.casefold()).split()
    # "17th" reads as "17"; "of" in "17th of November" is set aside
    said = f" {' '.join(w.rstrip('stndrh') if w[:1].isdigit() else w for w in words if w != 'of')} "
    month = f"{d:%B}".casefold()
    return any(f" {form} " in said for form in (told, f"{d.day} {month}", f"{month} {d.day}"))


def render(facts: Sequence[FactRow], user: str) -> str:
    """The facts grouped under the day they were told, oldest day first (relevance order within a day):
    one date heads many facts, so dates cost few tokens, and the model reads the person's story in order.
    Data only: the prompt layout (bot/reply/prompting.py) fences it and says what it is."""
    if not facts:
        return ""
    groups: dict[str, list[FactRow]] = {}
    for f in facts:
        groups.setdefault(day(f.told), []).append(f)
    return headed({told: "".join(line(f) for f in groups[told]) for told in sorted(groups)}).rstrip()
