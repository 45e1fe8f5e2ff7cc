"""Kindred's own lines in the language of whoever reads them: the ``kindred`` gettext catalogs.

A line is written in English in the code, inside :func:`t` (or :func:`tn` where a count picks the form), and
translated in ``bot/locale/<language>/LC_MESSAGES/kindred.po`` for each of :data:`bot.core.locales.SPOKEN`
and for ``zh_Hant``, Chinese in Traditional characters (:data:`bot.core.locales.LINE_LANGUAGES`;
``bot/locale/en`` is the source: every msgid, no msgstr). Placeholders are named (``{name}``, ``{count}``)
and filled here, so a translation may put them in any order; plural forms are CLDR's, which Babel writes
into each catalog's ``Plural-Forms`` header (one form in Japanese, three in Russian and Polish).

A language without a catalog, or a line a catalog lacks, is English. The catalogs are read with Babel once,
on first use, under a lock (a few milliseconds; tests/test_i18n.py checks that they parse and are complete).

Which language a line is in is the caller's: :func:`language_of` gives a person's from what they write,
:func:`language_written` from their stored writing profile, :func:`language_named` a server's
``/settings language`` (a language's name in any language, or its code: :func:`locale_named`). Each gives
``zh_Hant`` for Chinese in Traditional characters: what the person writes is in them, their profile says most
of their Chinese is, the setting names Traditional Chinese (or Taiwan's, Hong Kong's).
"""

from __future__ import annotations

import gettext
import io
import json
import re
import threading
import unicodedata
from collections.abc import Mapping, Sequence

from babel.core import Locale, UnknownLocaleError, get_global
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.core.command_names import named_in
from bot.core.language import NAMES, chinese_script, guess
from bot.core.locales import (
    FALLBACK,
    LINE_LANGUAGES,
    SPOKEN,
    TRADITIONAL_CHINESE,
    VARIANTS,
    base_language,
    catalog_path,
    spoken,
)

DOMAIN = "kindred"
# The functions that mark a line for the catalogs, as Babel's extractor reads them (``pybabel extract -k``):
# the argument(s) holding the English msgid.
KEYWORDS: dict[str, tuple[int, ...] | None] = {"t": (2,), "tn": (2, 3), "N_": None}
# ...and the operator dashboard's Jinja2 templates' (jinja2.ext.i18n, read through babel.cfg's mapping):
# ``_()``/``gettext()`` and ``ngettext()``, whose lines hold ``%(name)s`` placeholders
TEMPLATE_KEYWORDS: dict[str, tuple[int, ...] | None] = {"_": None, "gettext": None, "ngettext": (1, 2)}

_lock = threading.Lock()
_catalogs: dict[str, gettext.NullTranslations] | None = None
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
SURE = 0.8  # the language model's probability a message's language must reach to choose a line's
WRITTEN_MESSAGES = 2  # messages a writing profile must have read to tell the person's language
WRITTEN_SHARE = 0.6  # the share of them one language must have
TRADITIONAL_SHARE = 0.5  # the share of their Chinese in Traditional characters that makes their lines so
_names: dict[str, str] | None = None  # language_names()
_SPACED = re.compile(r"\s*([(),])\s*")
# Names people write that CLDR does not give: Taiwan's own name for Traditional Chinese
ALIASES = {"正體中文": TRADITIONAL_CHINESE, "正体中文": TRADITIONAL_CHINESE}
_CODE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")  # a language's code or tag, as typed
_NOT_LANGUAGES = frozenset({"und", "zxx", "mul", "mis"})  # CLDR's "unknown", "no language"...


def folded(name: str) -> str:
    """``name`` as names of languages are compared: NFKC (full-width letters and brackets as their plain ones,
    "中文（繁體）" as "中文(繁體)"), casefolded, one space between words and none around brackets or commas
    ("Chinese (Traditional)" and "chinese(traditional)" alike)."""
    return _SPACED.sub(r"\1", " ".join(unicodedata.normalize("NFKC", name).casefold().split()))


_BY_NAME = {folded(name): code for code, name in NAMES.items()}


def _read(language: str) -> gettext.NullTranslations:
    path = catalog_path(language, DOMAIN)
    if language == FALLBACK or not path.exists():
        return gettext.NullTranslations()  # English: the msgids themselves
    with path.open("rb") as source:  # Babel takes "zh_Hant" as a locale (its plural rule is Chinese's)
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
                _catalogs = {language: _read(language) for language in LINE_LANGUAGES}  # whole, then seen
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
    """``message`` (its English) in ``language`` (a line language, ``zh_Hant`` too, or any tag: "zh-TW" is
    Traditional), its placeholders filled from ``values``; a command it quotes named as the reader's Discord
    client names it (bot/core/command_names.py)."""
    return fill(named_in(language, catalogs()[spoken(language)].gettext(message)), values)


def tn(language: str | None, singular: str, plural: str, count: int, /, **values: object) -> str:
    """The form of ``singular``/``plural`` for ``count`` in ``language`` (``{count}`` is filled too)."""
    line = catalogs()[spoken(language)].ngettext(singular, plural, count)
    return fill(named_in(language, line), {"count": count, **values})


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
            if code == VARIANTS[TRADITIONAL_CHINESE] and chinese_script(text) == "Hant":
                return TRADITIONAL_CHINESE
            return code if code in SPOKEN else None
    return None


def _known(code: str | None, any_known: bool) -> str | None:
    """``code`` if Kindred speaks it (or, ``any_known``, its language if bot/core/language.py names it at
    all: a transcription's hint may be any language the speech server hears, and is never a script)."""
    if any_known:
        base = base_language(code)
        return base if base in NAMES else None
    return code if code in LINE_LANGUAGES else None


def language_written(profile: str | None, *, any_known: bool = False) -> str | None:
    """The language a person writes in most, from their writing profile as stored (bot/alive/style.py's
    JSON, whose ``languages`` are each language's smoothed share of their messages), if Kindred speaks it
    (``any_known``: if it is a language at all); Chinese written mostly in Traditional characters (its
    ``traditional`` share) is ``zh_Hant``, but for ``any_known``."""
    if not profile:
        return None
    try:
        data = json.loads(profile)
        shares = data.get("languages") or {}
        code, share = max(shares.items(), key=lambda kv: float(kv[1])) if shares else (None, 0.0)
        if int(data.get("messages", 0)) < WRITTEN_MESSAGES or float(share) < WRITTEN_SHARE:
            return None  # one message, or no language most of them are in, is no person's language yet
        if (not any_known and code == VARIANTS[TRADITIONAL_CHINESE]
                and float(data.get("traditional", 0.0)) >= TRADITIONAL_SHARE):
            code = TRADITIONAL_CHINESE
    except (ValueError, TypeError, AttributeError):
        return None
    return _known(code, any_known)


def scripted(code: str) -> str:
    """The Babel code ``code`` with the script its lines are written in, where :func:`_scripted` adds one
    ("zh" -> "zh_Hans"; "de", "zh_Hant" as they are)."""
    return str(_scripted(Locale.parse(code)))


def _scripted(found: Locale) -> Locale:
    """``found`` with the script its lines are written in where its language has lines in more than one and
    it names none: plain "zh" is Simplified (the zh catalogs are), told apart from zh_Hant by its name."""
    if found.script is not None or found.language not in VARIANTS.values():
        return found
    likely = Locale.parse(get_global("likely_subtags").get(found.language, found.language))
    return Locale(found.language, found.territory, likely.script, found.variant)


def language_names() -> Mapping[str, str]:
    """Every language's name as each spoken language writes it, and each spoken or recognised language's own
    name (CLDR's, through Babel), :func:`folded`, to its Babel code ("deutsch", "alemán", "ドイツ語" -> "de";
    "brazilian portuguese" -> "pt_BR"); a language written in two scripts by each script's name too
    ("中文(繁體)", "chinese(simplified)"), and the few :data:`ALIASES` CLDR lacks. Built on first use (a fifth
    of a second: the memory service's warm-up builds it in a worker thread at start-up)."""
    global _names
    if _names is None:
        with _lock:
            if _names is None:
                table = {folded(alias): code for alias, code in ALIASES.items()}
                for display in LINE_LANGUAGES:  # English first: an English name means what it always meant
                    for code, title in Locale.parse(display).languages.items():
                        if code not in _NOT_LANGUAGES:
                            table.setdefault(folded(title), code)
                for code in (*LINE_LANGUAGES, *NAMES):
                    table.setdefault(folded(str(Locale.parse(code).get_display_name(code))), code)
                for code in dict.fromkeys(scripted(c) for c in (*VARIANTS.values(), *VARIANTS)):
                    for display in LINE_LANGUAGES:  # "Chinese (Traditional)", "中文 (简体)": language, script
                        table.setdefault(folded(str(Locale.parse(code).get_display_name(display))), code)
                _names = table
    return _names


def locale_named(name: str | None) -> Locale | None:
    """The language (and region or script, where given) that ``name`` names: its code or Discord locale
    ("de", "pt-BR", "zh-TW"), or its name in any spoken language or its own ("German", "Deutsch", "日本語",
    "Spanish (Spain)"); None for anything else."""
    text = " ".join(unicodedata.normalize("NFKC", name or "").split())  # full-width "ｚｈ－ＴＷ" too
    if not text or len(text) > 60:
        return None
    if _CODE.fullmatch(text):
        if text.casefold().replace("_", "-").split("-")[0] in _NOT_LANGUAGES:
            return None  # Babel reads "und" (undetermined) as its likeliest, English
        try:
            found = Locale.parse(text.replace("-", "_"))
            if found.language not in _NOT_LANGUAGES:
                return found
        except (ValueError, TypeError, UnknownLocaleError):
            pass
    key = folded(text)
    code = _BY_NAME.get(key) or language_names().get(key)
    if code is None:  # "Spanish (Spain)", "Deutsch (Schweiz)": the language before its region
        head = key.split("(")[0].strip() or key
        code = _BY_NAME.get(head) or language_names().get(head) or language_names().get(head.split()[0])
    try:
        return Locale.parse(code) if code else None
    except (ValueError, TypeError, UnknownLocaleError):
        return None


def language_tag(name: str | None) -> str | None:
    """The BCP 47 tag of the language ``name`` names (:func:`locale_named`: "Deutsch" -> "de", "pt_BR" ->
    "pt-BR", "zh-TW" -> "zh-Hant-TW"); None when it names none."""
    found = locale_named(name)
    return None if found is None else str(found).replace("_", "-")


def language_name(value: str | None, language: str | None) -> str:
    """The language ``value`` names (a server's ``/settings language`` as stored) as ``language`` names it
    ("de" -> "Deutsch", "ドイツ語", "German"); Chinese with its script, as CLDR names each ("zh" ->
    "简体中文", "Simplified Chinese"; "zh-Hant" -> "繁體中文"; "zh-TW" -> "中文 (繁體, 台灣)"), so the
    two read apart; ``value`` itself when it names none."""
    found = locale_named(value)
    if found is None:
        return value or ""
    found, names = _scripted(found), Locale.parse(spoken(language))
    own = names.languages.get(f"{found.language}_{found.script}") if found.script else None
    if own is None or found.territory or found.variant:  # "中文 (繁體, 台灣)": its script among its details
        return str(found.get_display_name(names) or value)
    return str(own)


def language_named(name: str | None, *, any_known: bool = False) -> str | None:
    """The code of a language given by its name in any spoken language or its own, or by its code or Discord
    locale ("Spanish", "Deutsch", "日本語", "es", "pt-BR", "Spanish (Spain)"; a server's ``/settings
    language``), if Kindred speaks it (``any_known``: if it is a language at all): ``zh_Hant`` for Chinese
    named Traditional ("繁體中文", "Traditional Chinese", "zh-TW", "zh-Hant") but for ``any_known``."""
    found = locale_named(name)
    if found is None:
        return None
    if any_known:
        return _known(found.language, any_known)
    line = spoken(str(found))  # its script and region kept: zh_Hant_TW is Traditional
    return line if base_language(line) == found.language else None


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
