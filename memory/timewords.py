"""The time a message asks about: "on 13 October, 2023", "in July", "last week", "yesterday".

Recall (memory/recall.py) ranks the facts told or happened within that window as a ranking of its own, so
"what did I tell you on the 3rd of June?" finds what was said that day even when its words differ. Only
English expressions with a clear window; anything else gives None (no time ranking, nothing lost).

A day named in a greeting or small talk is no question about that day: "how are you doing today?", "busy
this week?", "how was your weekend?" open no window (:func:`asked`); "what did we talk about yesterday?" and
"I moved to York last week!" (said, not asked) are told apart by :func:`asks_about_past`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

MONTHS = {m: i for i, m in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"), 1)}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
_MONTH = r"(january|february|march|april|may|june|july|august|september|october|november|december|" \
         r"jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"((?:19|20)\d\d)"
DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}(?:\s+of)?\s+{_MONTH},?\s+{_YEAR}\b")
MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b")
ISO = re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b")
MONTH_YEAR = re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b")
IN_MONTH = re.compile(rf"\b(?:in|during|since|of|last)\s+{_MONTH}\b")
RELATIVE = {
    "today": (0, 1), "yesterday": (1, 1), "last week": (7, 7), "this week": (7, 8), "last weekend": (9, 4),
    "last month": (31, 31), "this month": (31, 32), "last year": (366, 366), "recently": (14, 15),
}
# A question about what was: one asked (a question mark, or opened by a question word or "remind me"), in
# the past ("did", "was", "told", "remember"), about the person or someone else, not only the character's own
# day ("how was your weekend?", "did you sleep well last night?").
QUESTION = re.compile(r"\?|^\W*(?:what|when|where|who|whom|which|why|how|did|do|does|was|were|remind|tell)\b")
PAST = re.compile(r"\b(?:did|didn['’]?t|was|wasn['’]?t|were|weren['’]?t|happened|told|said|talked|spoke|"
                  r"mentioned|remember|recall|remind|went)\b")
FIRST_PERSON = re.compile(r"\b(?:i|i['’]m|i['’]d|i['’]ve|me|my|mine|we|we['’]re|us|our|ours)\b")
ABOUT_YOU = re.compile(r"\b(?:did|was|were|had)\s+(?:you|your|ya|u)\b")
SLACK = timedelta(days=1)  # a fact told late on the day before, or in another time zone


def _day(year: int, month: int, day: int) -> datetime | None:
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def window(text: str, now: datetime) -> tuple[datetime, datetime] | None:
    """[start, end) of the time ``text`` asks about, or None. A month without a year is its latest one up to
    ``now``; relative words count back from ``now``."""
    low = text.lower()
    for pattern, order in ((DAY_MONTH_YEAR, "dmy"), (MONTH_DAY_YEAR, "mdy")):
        found = pattern.search(low)
        if found:
            d, m, y = (found.group(1), found.group(2), found.group(3)) if order == "dmy" else \
                (found.group(2), found.group(1), found.group(3))
            start = _day(int(y), MONTHS[m], int(d))
            if start is not None:
                return start - SLACK, start + timedelta(days=1) + SLACK
    found = ISO.search(low)
    if found:
        start = _day(int(found.group(1)), int(found.group(2)), int(found.group(3)))
        if start is not None:
            return start - SLACK, start + timedelta(days=1) + SLACK
    found = MONTH_YEAR.search(low)
    if found:
        return _month(int(found.group(2)), MONTHS[found.group(1)])
    found = IN_MONTH.search(low)
    if found:
        month = MONTHS[found.group(1)]
        year = now.year if month <= now.month else now.year - 1
        return _month(year, month)
    for words, (back, length) in RELATIVE.items():
        if re.search(rf"\b{words}\b", low):
            start = (now - timedelta(days=back)).replace(hour=0, minute=0, second=0, microsecond=0)
            return start, start + timedelta(days=length)
    return None


def asks_about_past(text: str) -> bool:
    """Whether ``text`` asks about what was said or happened ("what did we talk about?", "do you remember
    my cat?"), not small talk in the present ("how are you doing today?") nor about the character's own
    day alone ("how was your weekend?")."""
    low = text.lower()
    if not QUESTION.search(low) or not PAST.search(low):
        return False
    return not ABOUT_YOU.search(low) or FIRST_PERSON.search(low) is not None


def asked(text: str, now: datetime) -> tuple[datetime, datetime] | None:
    """The window of :func:`window` when ``text`` asks about it (:func:`asks_about_past`), else None: a day
    named in a greeting or in what the person tells is not a question about that day."""
    return window(text, now) if asks_about_past(text) else None
