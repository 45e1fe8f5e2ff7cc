"""The languages Kindred speaks its own lines in, and how Discord's locales map onto them.

Claude writes the character's replies in whatever language the person writes; the lines Kindred writes itself
(refusals, consent and privacy dialogs, commands' names and descriptions) come from gettext catalogs shipped
translated into :data:`SPOKEN`, Discord's big languages. English is the fallback for any other language.

The catalogs live in ``bot/locale/<language>/LC_MESSAGES/<domain>.po`` (:func:`catalog_path`): ``kindred`` for
the lines people read, ``commands`` for slash commands' names and descriptions.

A line's language may be a written form of a spoken language with catalogs of its own (:data:`VARIANTS`):
``zh_Hant``, Chinese in Traditional characters as Taiwan writes it, for a zh-TW client or a person who
writes Traditional. It is a line's language only: what reads a person's words (memory, tokens, voice, time
words) keys on the language itself, :func:`base_language` ("zh").
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

# Written forms of a spoken language whose lines have catalogs of their own, and that language: the zh
# catalogs are Simplified, which a reader in Taiwan or Hong Kong does not write.
TRADITIONAL_CHINESE = "zh_Hant"
VARIANTS: dict[str, str] = {TRADITIONAL_CHINESE: "zh"}
LINE_LANGUAGES: tuple[str, ...] = (*SPOKEN, *VARIANTS)
# Discord locales whose lines are a variant's rather than their language's
LOCALE_VARIANTS: dict[str, str] = {"zh-TW": TRADITIONAL_CHINESE}
# The subtags that make a Chinese tag Traditional: its script, or a region writing it (zh-TW, zh-HK, zh-MO)
_TRADITIONAL_SUBTAGS = frozenset({"hant", "tw", "hk", "mo"})

_BY_LOCALE = {locale.lower(): language for language, locales in DISCORD_LOCALES.items() for locale in locales}
_BY_LOCALE |= {locale.lower(): variant for locale, variant in LOCALE_VARIANTS.items()}

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def language_of_locale(locale: object) -> str | None:
    """The line language of a Discord locale (``discord.Locale`` or its string: ``zh_Hant`` for zh-TW), or
    None for a locale of a language Kindred does not speak."""
    text = str(getattr(locale, "value", locale) or "").strip().lower().replace("_", "-")
    if not text:
        return None
    if text in _BY_LOCALE:
        return _BY_LOCALE[text]
    line = spoken(text)  # a locale Discord may add (zh-HK): its script's lines, as a tag's
    return line if base_language(line) == text.split("-", 1)[0] else None


def spoken(language: str | None) -> str:
    """The catalog of Kindred's own lines for ``language`` (a code, a tag or a locale): its variant's where it
    names one (``zh_Hant`` for "zh_Hant", "zh-Hant-TW", "zh-TW", "zh-HK"), else its language's when Kindred's
    lines are translated into it, else English."""
    if language:
        base, *subtags = language.lower().replace("_", "-").split("-")
        if base == "zh" and "hans" not in subtags and not _TRADITIONAL_SUBTAGS.isdisjoint(subtags):
            return TRADITIONAL_CHINESE
        if base in DISCORD_LOCALES:
            return base
    return FALLBACK


def base_language(language: str | None) -> str | None:
    """The language of a code, tag or line language, without its script or region ("zh_Hant", "zh-TW" ->
    "zh"; "pt-BR" -> "pt"): what reads a person's words keys on it, whatever script a line is written in."""
    if not language:
        return None
    return language.lower().replace("_", "-").split("-", 1)[0]


def catalog_path(language: str, domain: str) -> Path:
    """Where the ``domain`` catalog of ``language`` is kept."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"
