"""Kindred's own lines in the language of whoever reads them: the ``kindred`` gettext catalogs.

A line is written in English in the code, inside :func:`t` (or :func:`tn` where a count picks the form), and
translated in ``bot/locale/<language>/LC_MESSAGES/kindred.po`` for each of :data:`bot.core.locales.SPOKEN`
(``bot/locale/en`` is the source: every msgid, no msgstr). Placeholders are named (``{name}``, ``{count}``)
and filled here, so a translation may put them in any order; plural forms are CLDR's, which Babel writes
into each catalog's ``Plural-Forms`` header (one form in Japanese, three in Russian and Polish).

A language without a catalog, or a line a catalog lacks, is English. The catalogs are read with Babel once,
on first use, under a lock (a few milliseconds; tests/test_i18n.py checks that they parse and are complete).

Which language a line is in is the caller's: :func:`language_of` gives a person's from what they write,
:func:`language_written` from their stored writing profile, :func:`language_named` a server's
``/settings language``.
"""

from __future__ import annotations

import gettext
import io
import json
import re
import threading
from collections.abc import Mapping, Sequence

from babel.core import UnknownLocaleError
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.core.language import NAMES, guess
from bot.core.locales import FALLBACK, SPOKEN, catalog_path, spoken

DOMAIN = "kindred"
# The functions that mark a line for the catalogs, as Babel's extractor reads them (``pybabel extract -k``):
# the argument(s) holding the English msgid.
KEYWORDS: dict[str, tuple[int, ...] | None] = {"t": (2,), "tn": (2, 3), "N_": None}

_lock = threading.Lock()
_catalogs: dict[str, gettext.NullTranslations] | None = None
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
SURE = 0.8  # the language model's probability a message's language must reach to choose a line's
WRITTEN_MESSAGES = 2  # messages a writing profile must have read to tell the person's language
WRITTEN_SHARE = 0.6  # the share of them one language must have
_BY_NAME = {name.casefold(): code for code, name in NAMES.items()}


def _read(language: str) -> gettext.NullTranslations:
    path = catalog_path(language, DOMAIN)
    if language == FALLBACK or not path.exists():
        return gettext.NullTranslations()  # English: the msgids themselves
    with path.open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # gettext's own lookup and the catalog's CLDR plural rule
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def catalogs() -> Mapping[str, gettext.NullTranslations]:
    """Every spoken language's translations, read on first use (a quarter of a second: the memory service's
    warm-up reads them in a worker thread at start-up)."""
    global _catalogs
    if _catalogs is None:
        with _lock:
            if _catalogs is None:
                _catalogs = {language: _read(language) for language in SPOKEN}  # whole, then seen
    return _catalogs


def fill(text: str, values: Mapping[str, object]) -> str:
    """``text`` with each ``{key}`` of ``values`` replaced; any other brace is left as it is (an operator's
    own line may hold braces of its own)."""
    if not values:
        return text
    return _PLACEHOLDER.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], text)


def N_(message: str) -> str:
    """``message`` unchanged: marks an English line kept in a constant for the catalogs; :func:`t` translates
    it where it is said."""
    return message


def t(language: str | None, message: str, /, **values: object) -> str:
    """``message`` (its English) in ``language``, its placeholders filled from ``values``."""
    return fill(catalogs()[spoken(language)].gettext(message), values)


def tn(language: str | None, singular: str, plural: str, count: int, /, **values: object) -> str:
    """The form of ``singular``/``plural`` for ``count`` in ``language`` (``{count}`` is filled too)."""
    return fill(catalogs()[spoken(language)].ngettext(singular, plural, count), {"count": count, **values})


def own_line(language: str | None, value: str, default: str, /, **values: object) -> str:
    """An operator's line: their own ``value`` as written, or, while it is the setting's English ``default``
    (not set), the default in ``language``."""
    return t(language, default, **values) if value == default else fill(value, values)


def language_of(*texts: str | None) -> str | None:
    """The language of the first of ``texts`` that tells one surely (bot/core/language.py), if Kindred speaks
    it. Surely: a line said in a wrong language reads worse than English, and two short words are often
    misread ("two photos" is Polish at 0.68)."""
    for text in texts:
        if not text:
            continue
        code, probability = guess(text)
        if code is not None and probability >= SURE:
            return code if code in SPOKEN else None
    return None


def _known(code: str | None, any_known: bool) -> str | None:
    """``code`` if Kindred speaks it (or, ``any_known``, if bot/core/language.py names it at all: a
    transcription's hint may be any language the speech server hears)."""
    return code if code in (NAMES if any_known else SPOKEN) else None


def language_written(profile: str | None, *, any_known: bool = False) -> str | None:
    """The language a person writes in most, from their writing profile as stored (bot/alive/style.py's
    JSON, whose ``languages`` are each language's smoothed share of their messages), if Kindred speaks it
    (``any_known``: if it is a language at all)."""
    if not profile:
        return None
    try:
        data = json.loads(profile)
        shares = data.get("languages") or {}
        code, share = max(shares.items(), key=lambda kv: float(kv[1])) if shares else (None, 0.0)
        if int(data.get("messages", 0)) < WRITTEN_MESSAGES or float(share) < WRITTEN_SHARE:
            return None  # one message, or no language most of them are in, is no person's language yet
    except (ValueError, TypeError, AttributeError):
        return None
    return _known(code, any_known)


def language_named(name: str | None, *, any_known: bool = False) -> str | None:
    """The code of a language given by its English name or code ("Spanish", "es", "Spanish (Spain)"; a
    server's ``/settings language``), if Kindred speaks it (``any_known``: if it is a language at all)."""
    key = (name or "").strip().casefold()
    if not key:
        return None
    code = _BY_NAME.get(key) or _BY_NAME.get(key.split()[0].strip("(),"), key)
    return _known(code, any_known)


class Explained(ValueError):
    """A refusal whose message is a line for a person: its English (a msgid) and values are kept, so whoever
    answers says it in the reader's language (:meth:`said`); ``str()`` stays the English, for logs and the
    operator's pages."""

    def __init__(self, message: str = "", /, **values: object) -> None:
        super().__init__(fill(message, values))
        self.msgid = message
        self.values = values

    def said(self, language: str | None) -> str:
        return t(language, self.msgid, **self.values)


_FULL_STOPS = ("。", "！", "？")


def sentences(*parts: str) -> str:
    """Sentences said one after another: a space between two, none after a full-width stop (Japanese and
    Chinese write them together)."""
    out = ""
    for part in parts:
        if not part:
            continue
        out += part if not out or out.endswith(_FULL_STOPS) else " " + part
    return out


def listed(language: str | None, items: Sequence[str]) -> str:
    """``items`` as one ``language`` lists things (CLDR's, by Babel): "a, b und c", "a、b、c", "a, b y c";
    English "a, b and c" (no serial comma, as Kindred's English lines have always written it), and for a
    language Babel does not know. Any language Babel knows, not only those with catalogs: an operator's own
    line may be in another."""
    code = (language or "").replace("-", "_")
    if code and code.split("_")[0] != FALLBACK and len(items) > 1:
        try:
            return str(format_list(list(items), locale=code))
        except (UnknownLocaleError, ValueError):
            pass
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
