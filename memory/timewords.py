"""The time a message asks about: "on 13 October, 2023", "in July", "last week", "yesterday", in any of
the languages bot/core/language.py tells ("la semana pasada", "letzte Woche", "на прошлой неделе", "先週",
"지난주").

Recall (memory/recall.py) ranks the facts told or happened within that window as a ranking of its own, so
"what did I tell you on the 3rd of June?" finds what was said that day even when its words differ. Anything
without a clear window gives None (no time ranking, nothing lost).

The words come from dateparser's per-language tables (its locale data: the relative words "1 week ago" is
"la semana pasada" in Spanish, month names, the words for "in"), read only in the message's own language, so
no word of one language is read in another ("hier" is yesterday in French, here in German). dateparser's own
search (search_dates) is not used: on chat messages it found nothing in "la semana pasada", "на прошлой
неделе", "w zeszłym tygodniu", "la semaine dernière" or "지난주", read "we" as a date, and costs 2 to 100 ms a
message; a regex of the table's phrases costs microseconds once built (:func:`warm`, at start-up). A bare
month is a window only after the language's "in" ("en mayo"), beside a day or a year, or in a script where
the name is unambiguous ("5月"): "la salsa de mayo" opens none.

A day named in a greeting or small talk is no question about that day: "how are you doing today?", "busy
this week?", "how was your weekend?" open no window (:func:`asked`); "what did we talk about yesterday?" and
"I moved to York last week!" (said, not asked) are told apart by :func:`asks_about_past`. In English with
its verbs; in another language a question (its question mark) naming a time before today.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.core.language import LANGUAGES, detect
from bot.core.text import is_question

ISO = re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b")
_RELATIVE_KEY = re.compile(r"(\d+) (day|week|month|year) ago")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_DAY_BEFORE = re.compile(r"(?<!\d)(\d{1,2})(?!\d)\D{0,7}$")
_DAY_AFTER = re.compile(r"\D{0,4}?(?<!\d)(\d{1,2})(?!\d)")
_SPACELESS = frozenset({"ja", "zh", "ko"})  # words run into each other or into particles ("지난주에")
MONTH_KEYS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
              "october", "november", "december")
# English only, a refinement for English: a question about what was: one asked (a question mark, or opened
# by a question word or "remind me"), in the past ("did", "was", "told", "remember"), about the person or
# someone else, not only the character's own day ("how was your weekend?", "did you sleep well last night?").
QUESTION = re.compile(r"^\W*(?:what|when|where|who|whom|which|why|how|did|do|does|was|were|remind|"
                      r"tell)\b")
PAST = re.compile(r"\b(?:did|didn['’]?t|was|wasn['’]?t|were|weren['’]?t|happened|told|said|talked|spoke|"
                  r"mentioned|remember|recall|remind|went)\b")
FIRST_PERSON = re.compile(r"\b(?:i|i['’]m|i['’]d|i['’]ve|me|my|mine|we|we['’]re|us|our|ours)\b")
ABOUT_YOU = re.compile(r"\b(?:did|was|were|had)\s+(?:you|your|ya|u)\b")
SLACK = timedelta(days=1)  # a fact told late on the day before, or in another time zone


@dataclass(frozen=True, slots=True)
class Table:
    """One language's time words (from dateparser's locale data), as two patterns."""

    relative: re.Pattern[str] | None  # group name "r<i>": RELATIVE_OF[i]
    months: re.Pattern[str] | None  # group 1: the "in" word if any; group "m<n>": month n
    offsets: tuple[tuple[str, int], ...]  # of each relative group: (unit, how many back)


_tables: dict[str, Table | None] = {}
_lock = threading.Lock()


def _alternatives(phrases: list[str]) -> str:
    return "|".join(re.escape(p) for p in sorted(set(phrases), key=len, reverse=True))


def _build(language: str) -> Table | None:
    # (no type hints: pyproject's list of untyped libraries is the place for dateparser.*)
    from dateparser.languages.loader import default_loader  # noqa: PLC0415

    try:
        info = default_loader.get_locale(language).info
    except (ValueError, KeyError):
        return None
    open_, close = ("", "") if language in {"ja", "zh"} else ("(?<!\\w)", "")
    if language not in _SPACELESS:
        close = "(?!\\w)"
    groups: list[str] = []
    offsets: list[tuple[str, int]] = []
    for key, phrases in info.get("relative-type", {}).items():
        found = _RELATIVE_KEY.fullmatch(key)
        if found is None:
            continue
        words = [p.lower() for p in phrases if len(p) >= 2]
        if words:
            groups.append(f"(?P<r{len(offsets)}>{_alternatives(words)})")
            offsets.append((found.group(2), int(found.group(1))))
    relative = re.compile(f"{open_}(?:{'|'.join(groups)}){close}") if groups else None
    month_groups: list[str] = []
    for n, key in enumerate(MONTH_KEYS, 1):
        # three letters at least: "mar" is a sea and "may" a verb before it is a month (dateparser's
        # shorter abbreviations are for dates written as dates, not chat)
        names = [m.lower() for m in info.get(key, []) if len(m) >= 3 or not m.isascii()]
        if names:
            month_groups.append(f"(?P<m{n}>{_alternatives(names)})")
    ins = [w.lower() for w in info.get("in", []) if w.isalpha()]
    lead = f"(?:({_alternatives(ins)})\\s+)?" if ins and language not in _SPACELESS else "()"
    months = re.compile(f"{open_}{lead}(?<!\\d)(?:{'|'.join(month_groups)}){close}") if month_groups else None
    return Table(relative, months, tuple(offsets))


def table(language: str) -> Table | None:
    """The time words of ``language`` (built once; None for a language dateparser has none for)."""
    try:
        return _tables[language]
    except KeyError:
        pass
    with _lock:
        if language not in _tables:
            _tables[language] = _build(language)
    return _tables[language]


def warm() -> None:
    """Build every language's table (about a second in all: from a worker thread at start-up)."""
    for code in LANGUAGES:
        table(code)


def _day(year: int, month: int, day: int) -> datetime | None:
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _midnight(when: datetime) -> datetime:
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def _latest(now: datetime, month: int, day: int | None = None) -> datetime | None:
    """The latest start of ``month`` (or day ``day`` of it) up to ``now``."""
    year = now.year if (month, day or 1) <= (now.month, now.day) else now.year - 1
    return _day(year, month, day or 1)


def _of_month(text: str, found: re.Match[str], month: int, now: datetime,
              spaceless: bool) -> tuple[datetime, datetime] | None:
    """The window a month name opens: a day beside it ("13th of October", "October 13", "10月13日"), a
    year ("July 2023", "2023年7月"), else the whole month after an "in" word or in a spaceless script."""
    start, end = found.start(), found.end()
    before, after = text[max(0, start - 10):start], text[end:end + 14]
    year = _YEAR.search(after) or _YEAR.search(text[max(0, start - 6):start])
    day = (_DAY_BEFORE.search(before) if not spaceless else None) or _DAY_AFTER.match(after)
    if day is not None and year is not None and day.group(1) == year.group(1)[:2]:
        day = None
    if day is not None:
        when = _day(int(year.group(1)), month, int(day.group(1))) if year else \
            _latest(now, month, int(day.group(1)))
        if when is not None:
            return when - SLACK, when + timedelta(days=1) + SLACK
    if year is not None:
        return _month(int(year.group(1)), month)
    if found.group(1) or spaceless:
        first = _latest(now, month)
        return _month(first.year, month) if first is not None else None
    return None


_BACK = {"day": (1, 1), "week": (7, 7), "month": (31, 31), "year": (366, 366)}  # (days back, length) each


def window(text: str, now: datetime, language: str | None = None) -> tuple[datetime, datetime] | None:
    """[start, end) of the time ``text`` asks about, or None, read in ``language`` (None: the text's own;
    one that does not tell: none but an ISO date). A month without a year is its latest one up to ``now``;
    relative words count back from ``now``."""
    low = text.lower()
    found = ISO.search(low)
    if found:
        start = _day(int(found.group(1)), int(found.group(2)), int(found.group(3)))
        if start is not None:
            return start - SLACK, start + timedelta(days=1) + SLACK
    language = language or detect(text)
    words = table(language) if language is not None else None
    if words is None:
        return None
    if words.months is not None:
        for hit in words.months.finditer(low):
            month = next(int(k[1:]) for k, v in hit.groupdict().items() if v is not None)
            span = _of_month(low, hit, month, now, language in _SPACELESS)
            if span is not None:
                return span
    if words.relative is not None:
        said = words.relative.search(low)
        if said is not None and said.lastgroup is not None:
            unit, count = words.offsets[int(said.lastgroup[1:])]
            back, length = _BACK[unit]
            if count == 0:  # "this week": the last days and today
                back, length = (0, 1) if unit == "day" else (back, length + 1)
            else:
                back *= count
            start = _midnight(now - timedelta(days=back))
            return start, start + timedelta(days=length)
    return None


def asks_about_past(text: str, language: str | None = None) -> bool:
    """Whether ``text`` asks about what was said or happened ("what did we talk about?", "do you remember
    my cat?"), not small talk in the present ("how are you doing today?") nor about the character's own
    day alone ("how was your weekend?"). In a language other than English: a question that names a time
    before today ("¿qué te conté ayer?")."""
    language = language or detect(text)
    low = text.lower()
    if language not in (None, "en"):
        if not is_question(text):
            return False
        now = datetime.now(UTC)
        span = window(text, now, language)
        return span is not None and span[0] < _midnight(now)
    if not (is_question(text) or QUESTION.search(low)) or not PAST.search(low):
        return False
    return not ABOUT_YOU.search(low) or FIRST_PERSON.search(low) is not None


def asked(text: str, now: datetime) -> tuple[datetime, datetime] | None:
    """The window of :func:`window` when ``text`` asks about it (:func:`asks_about_past`), else None: a day
    named in a greeting or in what the person tells is not a question about that day."""
    language = detect(text)
    return window(text, now, language) if asks_about_past(text, language) else None
