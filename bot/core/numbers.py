"""Numbers, costs and moments as the reader's language writes them (Babel's CLDR data): "1,234,567" in
English, "1.234.567" in German, "1 234 567" in French; a cost in dollars as "$0.0120", "0,0120 $",
"US$ 0,0120"; a date and time as "Nov 27, 2026, 6:00 PM", "27.11.2026, 18:00", "2026/11/27 18:00".
A language CLDR does not know, or none, is written as English writes it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time, get_datetime_format
from babel.numbers import format_compact_decimal, format_currency, format_decimal, format_percent

from bot.core.locales import FALLBACK

SIGNED = "+#,##0.###;-#,##0.###"  # a figure that may go either way: "+0", "-1.5"
COST_DIGITS = "0.0000"  # a call costs fractions of a cent: four decimals, in every language


def _locale(language: str | None) -> Locale:
    try:
        return Locale.parse(language or FALLBACK)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(FALLBACK)


def number(value: float, language: str | None, *, signed: bool = False, places: int | None = None) -> str:
    """``value`` with the language's digit grouping and decimal sign (up to three decimals, as they are);
    ``signed``: with its sign even when positive; ``places``: rounded to exactly that many decimals
    ("60.0", "12,5")."""
    if places is not None:
        fixed = "#,##0" + ("." + "0" * places if places > 0 else "")
        fixed = f"+{fixed};-{fixed}" if signed else fixed
        return str(format_decimal(value, format=fixed, locale=_locale(language), decimal_quantization=True))
    return str(format_decimal(value, format=SIGNED if signed else None, locale=_locale(language)))


def as_shown(value: float) -> int | Decimal:
    """``value`` as :func:`number` writes it (three decimals at most): an ``int`` when that is whole, so what
    picks a plural form reads the figure the reader sees ("1", not "1.0"; "0.5", not "0.49999")."""
    figure = Decimal(repr(float(value))).quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)
    return int(figure) if figure == figure.to_integral_value() else figure.normalize()


def quantity(value: float, unit: str, language: str | None) -> str:
    """``value`` of a CLDR duration ``unit`` ("day", "hour", "minute", "second", "week") with its unit in the
    form CLDR's plural rules give the number as shown, decimals too: "0.5 days", "1 day", "0,5 jour",
    "1,5 дня", "0,5 dnia", "1.5天". A fraction has no form in a gettext catalog (its plural rule reads whole
    numbers, and Russian and Polish give a fraction a form no whole number takes); CLDR's unit patterns
    have one."""
    locale = _locale(language)
    figure = as_shown(value)
    form = locale.plural_form(figure)
    patterns = locale._data["unit_patterns"][f"duration-{unit}"]
    # CLDR's long forms fall back to its short ones where a language writes no other (Babel keeps them apart)
    long, short = patterns.get("long", {}), patterns.get("short", {})
    pattern = long.get(form) or short.get(form) or long.get("other") or short.get("other") or "{0}"
    return str(pattern).format(number(float(figure), language))


def percent(share: float, language: str | None) -> str:
    """``share`` (0.4 for 40 %) as a whole percentage the way the language writes one: "40%" in English,
    "40 %" in German and French (a no-break space), "%40" in Turkish."""
    return str(format_percent(share, format=None, locale=_locale(language)))


def dollars(value: float, language: str | None) -> str:
    """A cost in US dollars to four decimals, where and how the language writes a currency's sign."""
    locale = _locale(language)
    pattern = locale.currency_formats["standard"].pattern.replace("0.00", COST_DIGITS)
    return str(format_currency(value, "USD", format=pattern, locale=locale, currency_digits=False))


def compact(value: float, language: str | None) -> str:
    """``value`` shortened where the language shortens a large figure (a chart's axis): "1.2K", "1,5 Mio.",
    "1.2万", "12,5 тыс."; below a thousand as :func:`number` writes it."""
    if abs(value) < 1000:
        return number(round(value, 3), language)
    locale = _locale(language)
    return str(format_compact_decimal(value, format_type="short", fraction_digits=1, locale=locale))


def day(value: date, language: str | None) -> str:
    """A day of the year without its year, short: "Nov 30", "30. Nov.", "11月30日"."""
    return str(format_skeleton("MMMd", value, locale=_locale(language)))


def date_time(value: datetime, language: str | None, *, seconds: bool = False) -> str:
    """``value``'s date and time of day as they stand (no zone is changed) in the language's medium date
    and short time joined its way: "Nov 27, 2026, 6:00 PM", "27.11.2026, 18:00", "2026/11/27 18:00";
    ``seconds``: the time to the second."""
    locale = _locale(language)
    return (str(get_datetime_format("medium", locale=locale)).replace("'", "")
            .replace("{0}", time_of_day(value, language, seconds=seconds))
            .replace("{1}", format_date(value, "medium", locale=locale)))


def time_of_day(value: datetime, language: str | None, *, seconds: bool = False) -> str:
    """``value``'s time of day as the language writes it: "6:00 PM", "18:00"; ``seconds``: "6:00:05 PM"."""
    return str(format_time(value, "medium" if seconds else "short", locale=_locale(language)))
