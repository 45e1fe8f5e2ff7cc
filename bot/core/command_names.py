"""Kindred's slash commands as each person's Discord client names them: the ``commands`` gettext catalogs
(``bot/locale/<language>/LC_MESSAGES/commands.po``), read here for both of their readers.

Discord shows a command's names in the client's language: bot/discord/command_locales.py's
``CommandTranslator`` hands them to discord.py from these catalogs. A line of Kindred's own that quotes a
command (``/memory opt-in``, ``/reminders cancel:<number>``) is said with the same names by :func:`named_in`
(bot/core/i18n.py's ``t`` calls it on every translated line), so a German line quotes ``/gedächtnis
zustimmen`` where the German client lists it.

An entry is found by its English text (``msgid``) and what it is (``msgctxt``: ``command`` for a command's or
group's name, ``option``, ``choice``, ``menu``, ``description``); one whose ``msgctxt`` adds the place
(``option /ban user``) wins there (:func:`lookup`). A translation Discord would refuse
(:func:`name_problem`) is used nowhere: that name stays English, in the list and in a line.

Which commands there are is the tree's: the Discord layer gives their shape (:class:`Command`) once its cogs
are loaded (:func:`know`). Before that, and in a process with no tree (the memory service), a line is left
as it is written.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import regex
from babel.messages.pofile import read_po

from bot.core.locales import FALLBACK, LINE_LANGUAGES, base_language, catalog_path, spoken

DOMAIN = "commands"
NAME_LIMIT = 32
DESCRIPTION_LIMIT = 100
CHOICE_LIMIT = 100
# Discord's rule for a slash command's, a subcommand's and an option's name (any script's letters and
# digits, Devanagari and Thai marks, - and _), lowercase wherever the script has case.
NAME_RULE = regex.compile(r"^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$")

# (msgctxt, msgid) -> msgstr, one table per language
Table = dict[tuple[str, str], str]


@dataclass(frozen=True, order=True)
class Entry:
    """One string of the tree to translate: its kind (the shared ``msgctxt``), its English text, and where
    it is (``/memory opt-out``, ``/ban user``, ``Apps: Remember this``; empty for a choice, whose place
    discord.py does not say)."""

    kind: str
    msgid: str
    place: str

    @property
    def place_context(self) -> str:
        return f"{self.kind} {self.place}" if self.place else self.kind


@functools.lru_cache(maxsize=4096)  # a tree asks for each name once per locale
def name_problem(name: str) -> str | None:
    """Why Discord would refuse ``name`` for a slash command, a subcommand or an option (None: it takes
    it)."""
    # concurrent=False: the regex module would otherwise let go of the GIL for each match, and with the
    # bot's threads busy take it back only after their switch interval (a sync took 0.4 s more)
    if not NAME_RULE.match(name, concurrent=False):
        return "1-32 letters, digits, - or _ (no spaces or other marks)"
    if name != name.lower():
        return "not lowercase"
    return None


def text_problem(text: str, limit: int) -> str | None:
    return None if 1 <= len(text) <= limit else f"1-{limit} characters"


def read_catalog(language: str) -> Table:
    """The ``commands`` catalog of ``language`` (empty when it has none); fuzzy and empty entries are left
    out, as gettext leaves them."""
    path = catalog_path(language, DOMAIN)
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        catalog = read_po(f, locale=language.replace("-", "_"), domain=DOMAIN)
    table: Table = {}
    for message in catalog:
        if not message.id or not message.string or message.fuzzy or not isinstance(message.string, str):
            continue
        table[(message.context or "", str(message.id))] = message.string
    return table


def read_catalogs(languages: Iterable[str] = LINE_LANGUAGES) -> dict[str, Table]:
    """Each line language's catalog (a variant's, ``zh_Hant``, where it has one: else its language's is
    used)."""
    return {language: read_catalog(language) for language in languages
            if language != FALLBACK and catalog_path(language, DOMAIN).is_file()}


@functools.cache
def shipped_catalogs() -> Mapping[str, Table]:
    """The catalogs as shipped, read once a process: they change only with a deploy, which starts a new
    one (a bot started again in the same process, as the tests do, reads no file)."""
    return read_catalogs()


def lookup(table: Mapping[tuple[str, str], str], entry: Entry) -> str | None:
    """The translation of ``entry``: the one for its place, else the one for its kind."""
    return table.get((entry.place_context, entry.msgid)) or table.get((entry.kind, entry.msgid))


def shown_name(table: Mapping[tuple[str, str], str], entry: Entry) -> str:
    """The name a client of ``table``'s language shows for ``entry`` (a command, an option or a choice): its
    translation where Discord takes it, else the English."""
    found = lookup(table, entry)
    if found is None:
        return entry.msgid
    if entry.kind == "choice":
        return entry.msgid if text_problem(found, CHOICE_LIMIT) else found
    return entry.msgid if name_problem(found) else found


# ------------------------------------------------------------------------------- commands quoted in a line


@dataclass(frozen=True, eq=False)
class Command:
    """A slash command, subcommand group or subcommand, by its English names (each its catalog msgid): its
    place (``/bot tasks add``), its subcommands, and its options with their choices' names."""

    place: str
    commands: Mapping[str, Command] = field(default_factory=dict)
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


_known: dict[str, Command] = {}
# "/name": a command where a path starts, never in a word, a URL, a date or a mention ("and/or",
# "example.com/bot", "1/2", "</memory opt-in:123>"); its English names are ASCII, and what follows one in a
# line written without spaces (Japanese, Chinese) is not
_NAME = r"[a-z0-9_-]+(?![A-Za-z0-9_/-])"
_PATH_OR_QUOTED = re.compile(rf"(?<![A-Za-z0-9_/:.<>@#&-])/(?P<top>{_NAME})|`(?P<quoted>[a-z0-9_-]+)(?=[`:])")
_WORD = re.compile(rf" (?P<word>{_NAME})(?!:)")  # a subcommand, or an option's choice, after a space
_NAME_GOES_ON = re.compile(r"[A-Za-z0-9_-]")
_OPTION = re.compile(r" (?P<word>[a-z0-9_-]+):(?P<value>[^\s`]*)")  # an option and what is given for it


def know(commands: Iterable[Command]) -> None:
    """The slash commands there are (the tree's top-level ones), as :func:`named_in` reads them."""
    global _known
    _known = {command.place.lstrip("/"): command for command in commands}
    _rewritten.cache_clear()


def commands_catalog(language: str | None) -> str | None:
    """The ``commands`` catalog a reader of ``language`` sees their commands in: the one of their Discord
    locale where it has its own (``zh_Hant``, Taiwan's), else their language's; None for English."""
    line = spoken(language)
    if line not in shipped_catalogs():  # a variant without commands of its own: its language's
        line = spoken(base_language(line))
    return None if line == FALLBACK else line


def named_in(language: str | None, line: str) -> str:
    """``line`` (Kindred's own, before its placeholders are filled) with each of Kindred's commands it
    quotes named as a ``language`` client shows it: the command and its subcommands (``/memory opt-in``),
    the options after them (``/reminders cancel:<number>``: what is given is kept, but for a choice's name,
    ``/memory servers where:each server its own``) or a choice (``/bot voice on``), and, after one, a
    backticked name of its siblings (`` `/bot tasks pause`, `resume` ``). Only a path whose first word is
    one of Kindred's commands; English as it is."""
    if not _known or "/" not in line:
        return line
    catalog = commands_catalog(language)
    return line if catalog is None else _rewritten(catalog, line)


@functools.lru_cache(maxsize=2048)  # each line as written, once per catalog
def _rewritten(catalog: str, line: str) -> str:
    table = shipped_catalogs().get(catalog, {})
    out: list[str] = []
    at = 0
    last: tuple[Command, Command | None] | None = None  # the last command quoted, and its group
    for found in _PATH_OR_QUOTED.finditer(line):
        if found.start() < at:
            continue  # inside a path already read
        if found["quoted"] is not None:
            said = _sibling(table, found["quoted"], last)
            if said is not None:
                out += [line[at:found.start("quoted")], said]
                at = found.end("quoted")
            continue
        command = _known.get(found["top"])
        if command is None:
            continue
        out += [line[at:found.start()], "/", _said(table, "command", command.place)]
        at, group = found.end(), None
        while (word := _WORD.match(line, at)) is not None and word["word"] in command.commands:
            group, command = command, command.commands[word["word"]]
            out += [" ", _said(table, "command", command.place)]
            at = word.end()
        while (option := _OPTION.match(line, at)) is not None and option["word"] in command.options:
            out += [" ", _said(table, "option", f"{command.place} {option['word']}"), ":"]
            at = option.start("value")
            choice = next((c for c in sorted(command.options[option["word"]], key=len, reverse=True)
                           if line.startswith(c, at) and not _NAME_GOES_ON.match(line, at + len(c))), None)
            if choice is not None:  # given one of its choices, by its name (`where:each server its own`)
                out.append(shown_name(table, Entry("choice", choice, "")))
                at += len(choice)
            else:  # what is given (`<number>`, `{number}`), as written
                out.append(option["value"])
                at = option.end()
        word = _WORD.match(line, at)
        if word is not None and any(word["word"] in choices for choices in command.options.values()):
            out += [" ", shown_name(table, Entry("choice", word["word"], ""))]
            at = word.end()
        last = (command, group)
    return "".join(out) + line[at:]


def _said(table: Mapping[tuple[str, str], str], kind: str, place: str) -> str:
    return shown_name(table, Entry(kind, place.rsplit(" ", 1)[-1].lstrip("/"), place))


def _sibling(table: Mapping[tuple[str, str], str], name: str,
             last: tuple[Command, Command | None] | None) -> str | None:
    """A name quoted alone after a command (`` `resume` ``): one of that command's options, or of its group's
    subcommands, as the client shows it (None: neither)."""
    if last is None:
        return None
    command, group = last
    if name in command.options:
        return _said(table, "option", f"{command.place} {name}")
    if group is not None and name in group.commands:
        return _said(table, "command", group.commands[name].place)
    return None
