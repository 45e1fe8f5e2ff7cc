"""The ``kindred`` gettext catalogs (bot/locale/*/LC_MESSAGES/kindred.po) and bot/core/i18n.py: every line the
code marks is in the English source, translated in the ten other catalogs and the Traditional Chinese one
(zh_Hant) with the same placeholders and the language's CLDR plural forms; a missing language or line is
English."""

from __future__ import annotations

import atexit
import contextlib
import functools
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from bot.core.i18n import (
    DOMAIN,
    KEYWORDS,
    TEMPLATE_KEYWORDS,
    fill,
    language_named,
    language_of,
    language_written,
    own_line,
    t,
    tn,
)
from bot.core.locales import FALLBACK, LINE_LANGUAGES, catalog_path

ROOT = Path(__file__).resolve().parent.parent
# the code's {name} placeholders, and the dashboard templates' %(name)s ones (jinja2.ext.i18n's newstyle)
PLACEHOLDER = re.compile(r"\{\w+\}|%\(\w+\)[sd]")
TRANSLATED = [language for language in LINE_LANGUAGES if language != FALLBACK]


def catalog(language: str) -> Catalog:
    with catalog_path(language, DOMAIN).open("rb") as source:
        return read_po(source, locale=language, domain=DOMAIN)


def messages(language: str) -> dict[str | tuple[str, ...], Message]:
    return {m.id: m for m in catalog(language) if m.id}


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def test_the_english_source_holds_every_marked_line_and_no_other() -> None:
    source = set(messages(FALLBACK))
    code = marked()
    assert code - source == set(), "marked in the code, missing from bot/locale/en (pybabel extract, update)"
    assert source - code == set(), "in bot/locale/en, no longer in the code"
    assert len(code) > 60  # the extractor read the code (a wrong keyword spec would find next to nothing)


def documented_commands() -> list[list[str]]:
    """The commands docs/languages.md tells a contributor to run after marking a line, as argument lists."""
    text = (ROOT / "docs" / "languages.md").read_text()
    block = re.search(r"```sh\n(\.venv/bin/pybabel extract .*?)```", text, re.S)
    assert block is not None, "docs/languages.md no longer shows the pybabel commands"
    return [line.split() for line in block.group(1).splitlines() if line.strip()]


@functools.cache
def documented_run() -> tuple[Path, Path]:
    """The documented commands run once, on a copy of the catalogs: (the template extracted, the catalogs
    as they leave them)."""
    from babel.messages.frontend import CommandLineInterface

    extract, update = documented_commands()
    assert extract[:2] == [".venv/bin/pybabel", "extract"] and update[:2] == [".venv/bin/pybabel", "update"]
    scratch = Path(tempfile.mkdtemp(prefix="kindred-catalogs-"))
    atexit.register(shutil.rmtree, scratch, True)
    locale = scratch / "locale"
    shutil.copytree(ROOT / "bot" / "locale", locale)
    pot = scratch / "kindred.pot"
    swap = {".venv/kindred.pot": str(pot), "bot/locale": str(locale)}

    with contextlib.chdir(ROOT):  # from the repository, as the docs say (the locations are relative to it)
        for command in (extract, update):
            CommandLineInterface().run(["pybabel", "--quiet", command[1],
                                        *(swap.get(arg, arg) for arg in command[2:])])
    return pot, locale


def marked() -> set[str | tuple[str, ...]]:
    """Every msgid the code marks (t, tn, N_), as the documented extraction reads it."""
    with documented_run()[0].open("rb") as source:
        return {m.id for m in read_po(source) if m.id}


def test_the_documented_extraction_reads_the_code_s_markers() -> None:
    """The ``-k`` keywords docs/languages.md gives are the ones bot/core/i18n.py marks lines with, and the
    dashboard templates' (read through the babel.cfg mapping the command names)."""
    extract, _ = documented_commands()
    given = [extract[i + 1] for i, arg in enumerate(extract) if arg == "-k"]
    assert "--no-default-keywords" in extract
    spec = {k.partition(":")[0]: tuple(int(n) for n in k.partition(":")[2].split(",")) or None
            if ":" in k else None for k in given}
    assert spec == KEYWORDS | TEMPLATE_KEYWORDS
    assert extract[extract.index("-F") + 1] == "babel.cfg" and (ROOT / "babel.cfg").is_file()


def test_the_documented_extraction_reads_the_dashboard_templates() -> None:
    """The templates' lines (``_()``, ``ngettext()``, ``{% trans %}``) are in the catalogs, plurals too."""
    code = marked()
    assert "Log out" in code and "Back to the overview" in code
    assert ("%(num)s server", "%(num)s servers") in code
    assert any(isinstance(m, str) and m.startswith("The token is <code>dashboard_token</code>") for m in code)


def test_the_catalogs_are_as_the_documented_commands_leave_them() -> None:
    """Running the commands the docs give (pybabel extract, then update) changes no catalog: a contributor
    who marks a new line and runs them sees only that line added, whatever order the catalogs were in."""
    locale = documented_run()[1]
    changed = [path.relative_to(locale).as_posix() for path in sorted(locale.rglob("kindred.po"))
               if path.read_bytes() != (ROOT / "bot" / "locale" / path.relative_to(locale)).read_bytes()]
    assert changed == [], "run docs/languages.md's pybabel commands: they change " + ", ".join(changed)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_line_is_translated_with_its_placeholders(language: str) -> None:
    english = messages(FALLBACK)
    translated = messages(language)
    assert set(translated) == set(english)
    for msgid, message in translated.items():
        assert not message.fuzzy, msgid
        if isinstance(msgid, tuple):  # a plural: one form per CLDR category of the language
            forms = message.string
            assert isinstance(forms, tuple)
            assert len(forms) == catalog(language).num_plurals, msgid
            for form in forms:
                assert form.strip() and placeholders(form) == placeholders(msgid[1]), (msgid, form)
        else:
            assert isinstance(message.string, str) and message.string.strip(), msgid
            assert placeholders(message.string) == placeholders(msgid), (msgid, message.string)


@pytest.mark.parametrize("language", LINE_LANGUAGES)
def test_each_catalog_parses_with_its_languages_plural_rule(language: str) -> None:
    parsed = catalog(language)
    assert str(parsed.locale) == language
    assert parsed.plural_forms == Catalog(locale=language).plural_forms  # CLDR's, as Babel writes it
    assert t(language, "Cancel")  # and it loads


def test_plural_forms_follow_the_languages_rules() -> None:
    one, many = "Done: I deleted {count} record about you.", "Done: I deleted {count} records about you."
    assert tn("en", one, many, 1) == "Done: I deleted 1 record about you."
    assert tn("en", one, many, 3) == "Done: I deleted 3 records about you."
    russian = [tn("ru", one, many, n) for n in (1, 3, 5, 21, 11)]
    assert [line.split()[1] for line in russian] == ["удалена", "удалены", "удалено", "удалена", "удалено"]
    polish = [tn("pl", one, many, n) for n in (1, 2, 5, 22, 12)]
    assert [line.split()[-3] for line in polish] == ["wpis", "wpisy", "wpisów", "wpisy", "wpisów"]
    assert tn("ja", one, many, 1) == "完了：あなたに関する記録を1件削除しました。"
    assert tn("ja", one, many, 7) == "完了：あなたに関する記録を7件削除しました。"


def test_a_language_or_line_without_a_translation_is_english() -> None:
    assert t("it", "Cancel") == "Cancel"  # Italian: no catalog
    assert t(None, "Cancel") == "Cancel"
    assert t("pt-BR", "Cancel") == "Cancelar"  # a regional code is its language's
    assert t("de", "a line no catalog holds {x}", x=1) == "a line no catalog holds 1"


def test_an_operators_own_line_wins_and_the_default_is_translated() -> None:
    default = "*{name} stifles a yawn.* I'm all talked out for now. Let's pick this up again {when}."
    assert own_line("es", default, default, name="Sofía", when="mañana") == (
        "*Sofía ahoga un bostezo.* Ya no me quedan palabras por ahora. Sigamos mañana.")
    assert own_line("en", default, default, name="Ann", when="tomorrow").startswith("*Ann stifles a yawn.*")
    own = "{name} needs a nap {when} {not a placeholder}"
    assert own_line("es", own, default, name="Sofía", when="mañana") == (
        "Sofía needs a nap mañana {not a placeholder}")


def test_placeholders_are_filled_once() -> None:
    # a value holding braces is not read again as a placeholder
    assert fill("{user}: {reminder}", {"user": "{reminder}", "reminder": "call"}) == "{reminder}: call"


def test_languages_of_people_and_places() -> None:
    assert language_of("¿Me recuerdas llamar a mi madre mañana?") == "es"
    assert language_of("ok", "明日の朝、母に電話するのを忘れないでね") == "ja"
    assert language_of("ok") is None
    # Italian: no catalog
    assert language_of("Ricordami di chiamare mia madre domani mattina, per favore") is None
    assert language_written('{"messages": 5, "languages": {"de": 0.7, "en": 0.3}}') == "de"
    assert language_written('{"messages": 1, "languages": {"pl": 1.0}}') is None  # one message: not yet
    assert language_written('{"messages": 9, "languages": {"de": 0.5, "en": 0.5}}') is None  # no main one
    assert language_of("two photos") is None  # a guess, not sure (Polish at 0.68)
    assert language_written("not json") is None and language_written(None) is None
    assert language_named("Spanish") == "es" and language_named("japanese") == "ja"
    assert language_named("Italian") is None and language_named("") is None
