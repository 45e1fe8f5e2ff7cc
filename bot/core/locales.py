"""The languages Kindred speaks its own lines in, and how Discord's locales map onto them.

Claude writes the character's replies in whatever language the person writes; the lines Kindred writes itself
(refusals, consent and privacy dialogs, commands' names and descriptions) come from gettext catalogs shipped
translated into :data:`SPOKEN`, Discord's big languages. English is the fallback for any other language.

The catalogs live in ``bot/locale/<language>/LC_MESSAGES/<domain>.po`` (:func:`catalog_path`): ``kindred`` for
the lines people read, ``commands`` for slash commands' names and descriptions.
"""

from __future__ import annotations

from pathlib import Path

# Discord's big languages: the ones every fixed line is translated into. English is the source language.
SPOKEN: tuple[str, ...] = ("en", "es", "pt", "de", "fr", "ru", "pl", "tr", "ja", "ko", "zh")
FALLBACK = "en"

# Discord's locale codes (discord.Locale values) for each spoken language. Discord has two Spanish and two
# Chinese locales and two English ones; a command's localizations are given for each.
DISCORD_LOCALES: dict[str, tuple[str, ...]] = {
    "en": ("en-US", "en-GB"),
    "es": ("es-ES", "es-419"),
    "pt": ("pt-BR",),
    "de": ("de",),
    "fr": ("fr",),
    "ru": ("ru",),
    "pl": ("pl",),
    "tr": ("tr",),
    "ja": ("ja",),
    "ko": ("ko",),
    "zh": ("zh-CN", "zh-TW"),
}

_BY_LOCALE = {locale.lower(): language for language, locales in DISCORD_LOCALES.items() for locale in locales}

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def language_of_locale(locale: object) -> str | None:
    """The spoken language of a Discord locale (``discord.Locale`` or its string), or None for another one."""
    text = str(getattr(locale, "value", locale) or "").strip().lower().replace("_", "-")
    if not text:
        return None
    if text in _BY_LOCALE:
        return _BY_LOCALE[text]
    base = text.split("-", 1)[0]
    return base if base in DISCORD_LOCALES else None


def spoken(language: str | None) -> str:
    """``language`` when Kindred's own lines are translated into it, else English."""
    if language:
        base = language.lower().replace("_", "-").split("-", 1)[0]
        if base in DISCORD_LOCALES:
            return base
    return FALLBACK


def catalog_path(language: str, domain: str) -> Path:
    """Where the ``domain`` catalog of ``language`` is kept."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"
