"""A recurring reminder's rule as a person reads it, in their language: "every Monday and Wednesday", "jeden
Montag und Mittwoch", "毎週月曜日と水曜日", never the stored RRULE ("FREQ=WEEKLY;BYDAY=MO,WE").

What people set is said (bot/features/reminders/recurrence.py stores it): a frequency (DAILY, WEEKLY,
MONTHLY, YEARLY, HOURLY, MINUTELY) and its ``INTERVAL``; weekdays (``BYDAY``, named by Babel's CLDR data,
Monday to Friday as "every weekday"); days of the month (``BYMONTHDAY``); dates of the year (``BYMONTH``
with ``BYMONTHDAY``, as the language writes a day and month); times of day (``BYHOUR`` with ``BYMINUTE``,
as the language writes a time); ``COUNT`` and ``UNTIL`` (a date as the language writes it). The phrases are
the ``kindred`` catalogs' lines (bot/core/i18n.py), each a whole phrase with named places, so a language puts
its parts in its own order. Any other rule (``BYSETPOS``, an ordinal weekday such as ``1MO``, a day counted
from the month's end...) is the rule itself, in backticks: never a wrong description.
"""

from __future__ import annotations

from datetime import date, time

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time, get_day_names

from bot.core.i18n import listed, t, tn
from bot.core.locales import spoken

_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_WORKWEEK = ("MO", "TU", "WE", "TH", "FR")
_KNOWN = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYHOUR", "BYMINUTE", "BYSECOND", "COUNT",
          "UNTIL", "WKST"}
_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY", "HOURLY", "MINUTELY")


class _Unsaid(ValueError):
    """A rule (or part of one) this module does not put in words."""


def describe(rule: str, language: str | None) -> str:
    """``rule`` (an RRULE as stored, "FREQ=WEEKLY;BYDAY=MO,WE") in ``language``'s words ("every Monday and
    Wednesday"); the rule itself in backticks when it says more than these words can."""
    text = rule.strip().removeprefix("RRULE:")
    language = spoken(language)  # the catalog's language: a language without one is English throughout
    try:
        return _described(_parts(text), language, _locale(language))
    except _Unsaid:
        return f"`{text}`"


def _locale(language: str | None) -> Locale:
    try:
        return Locale.parse((language or "en").replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return Locale.parse("en")


def _parts(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        key = key.strip().upper()
        if not sep or not value.strip() or key not in _KNOWN or key in parts:
            raise _Unsaid(text)
        parts[key] = value.strip().upper()
    if parts.get("FREQ") not in _FREQUENCIES:
        raise _Unsaid(text)
    return parts


def _numbers(value: str | None, low: int, high: int) -> list[int]:
    if value is None:
        return []
    try:
        found = [int(item) for item in value.split(",")]
    except ValueError:
        raise _Unsaid(value) from None
    if not found or any(not low <= n <= high for n in found) or len(set(found)) != len(found):
        raise _Unsaid(value)
    return sorted(found)


def _described(parts: dict[str, str], language: str | None, locale: Locale) -> str:
    frequency = parts["FREQ"]
    interval = _numbers(parts.get("INTERVAL", "1"), 1, 10_000)[0]
    days = parts["BYDAY"].split(",") if "BYDAY" in parts else []
    if any(day not in _DAYS for day in days) or len(set(days)) != len(days):
        raise _Unsaid(parts["BYDAY"])  # an ordinal weekday (1MO, -1FR), or a repeated one
    month_days = _numbers(parts.get("BYMONTHDAY"), 1, 31)
    months = _numbers(parts.get("BYMONTH"), 1, 12)
    hours = _numbers(parts.get("BYHOUR"), 0, 23)
    minutes = _numbers(parts.get("BYMINUTE"), 0, 59)
    if _numbers(parts.get("BYSECOND"), 0, 59) not in ([], [0]):
        raise _Unsaid(parts["BYSECOND"])
    if frequency == "DAILY" and interval == 1 and days:
        frequency = "WEEKLY"  # every day, on these days: every one of them each week
    said = _repeat(frequency, interval, language)
    if days:
        if frequency != "WEEKLY" or month_days or months:
            raise _Unsaid(parts["BYDAY"])
        said = _weekly(days, interval, language, locale)
    elif month_days and frequency == "MONTHLY" and not months:
        said = tn(language, "{repeat} on day {days}", "{repeat} on days {days}", len(month_days),
                  repeat=said, days=listed(language, [str(n) for n in month_days]))
    elif month_days and frequency == "YEARLY" and months:
        dates = [str(format_skeleton("MMMMd", date(2000, month, day), locale=locale))
                 for month in months for day in month_days]
        said = t(language, "{repeat} on {dates}", repeat=said, dates=listed(language, dates))
    elif month_days or months:
        raise _Unsaid("BYMONTHDAY")
    if hours or minutes:
        if not hours or not minutes or frequency in ("HOURLY", "MINUTELY") or len(hours) * len(minutes) > 6:
            raise _Unsaid("BYHOUR")  # a time of day needs both; the minutes of each hour are not said
        times = [str(format_time(time(hour, minute), format="short", locale=locale))
                 for hour in hours for minute in minutes]
        said = t(language, "{repeat} at {time}", repeat=said, time=listed(language, times))
    if "COUNT" in parts:
        count = _numbers(parts["COUNT"], 1, 100_000)[0]
        said = tn(language, "{repeat}, {count} time", "{repeat}, {count} times", count, repeat=said)
    if "UNTIL" in parts:
        said = t(language, "{repeat} until {date}", repeat=said,
                 date=format_date(_until(parts["UNTIL"]), format="long", locale=locale))
    return said


def _repeat(frequency: str, interval: int, language: str | None) -> str:
    if frequency == "DAILY":
        return t(language, "every day") if interval == 1 else \
            tn(language, "every {count} day", "every {count} days", interval)
    if frequency == "WEEKLY":
        return t(language, "every week") if interval == 1 else \
            tn(language, "every {count} week", "every {count} weeks", interval)
    if frequency == "MONTHLY":
        return t(language, "every month") if interval == 1 else \
            tn(language, "every {count} month", "every {count} months", interval)
    if frequency == "YEARLY":
        return t(language, "every year") if interval == 1 else \
            tn(language, "every {count} year", "every {count} years", interval)
    if frequency == "HOURLY":
        return t(language, "every hour") if interval == 1 else \
            tn(language, "every {count} hour", "every {count} hours", interval)
    return t(language, "every minute") if interval == 1 else \
        tn(language, "every {count} minute", "every {count} minutes", interval)


def _weekly(days: list[str], interval: int, language: str | None, locale: Locale) -> str:
    ordered = sorted(days, key=_DAYS.index)
    if interval == 1 and tuple(ordered) == _WORKWEEK:
        return t(language, "every weekday")
    names = get_day_names("wide", context="format", locale=locale)
    named = listed(language, [str(names[_DAYS.index(day)]) for day in ordered])
    if interval == 1:
        return t(language, "every {days}", days=named)
    return tn(language, "every {count} week on {days}", "every {count} weeks on {days}", interval, days=named)


def _until(value: str) -> date:
    digits = value.rstrip("Z")
    try:
        return date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise _Unsaid(value) from None
