"""Numbers and costs as the reader's language writes them (Babel's CLDR data): "1,234,567" in English,
"1.234.567" in German, "1 234 567" in French; a cost in dollars as "$0.0120", "0,0120 $", "US$ 0,0120".
A language CLDR does not know, or none, is written as English writes it."""

from __future__ import annotations

from babel.core import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal, format_percent

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


def percent(share: float, language: str | None) -> str:
    """``share`` (0.4 for 40 %) as a whole percentage the way the language writes one: "40%" in English,
    "40 %" in German and French (a no-break space), "%40" in Turkish."""
    return str(format_percent(share, format=None, locale=_locale(language)))


def dollars(value: float, language: str | None) -> str:
    """A cost in US dollars to four decimals, where and how the language writes a currency's sign."""
    locale = _locale(language)
    pattern = locale.currency_formats["standard"].pattern.replace("0.00", COST_DIGITS)
    return str(format_currency(value, "USD", format=pattern, locale=locale, currency_digits=False))
