"""Slash commands' names and descriptions in the languages Kindred speaks (bot/core/locales.py ``SPOKEN``).

discord.py asks a :class:`discord.app_commands.Translator` for every command, group, parameter and choice name
and description, once per Discord locale, when it builds the payload it syncs; :class:`CommandTranslator`
answers from the ``commands`` gettext catalogs (``bot/locale/<language>/LC_MESSAGES/commands.po``), and
Discord shows each person the names and descriptions of their client's language. English is the source: an
English client, and any locale of a language not in ``SPOKEN``, gets the default strings.

A catalog entry is found by its English text (``msgid``) and what it is (``msgctxt``: ``command`` for a
command's or group's name, ``option`` for a parameter's, ``choice``, ``menu`` for a context menu's name,
``description`` for every description). One English word is one translation wherever it names the same kind
of thing (``list`` as a subcommand is the same verb under ``/identity`` as under ``/facts``); where one place
needs another word, an entry whose ``msgctxt`` adds the place wins there (``option /ban user``, ``description
/memory list``), so no two places are ever forced to share a translation. :func:`extract` lists what the live
tree asks for; tests/test_command_locales.py fails when a language lacks any of it.

A translation Discord would refuse (a name that is too long, has a space or a capital; a description over
100 characters) is left out with a warning, so one bad entry never costs the whole sync: that command keeps
its English there.

The catalogs are read, and an entry found, by bot/core/command_names.py, which also names the commands that
Kindred's own lines quote as each reader's client shows them: :func:`shape_of` gives it the tree's commands.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from bot.core.command_names import (
    CHOICE_LIMIT,
    DESCRIPTION_LIMIT,
    NAME_LIMIT,
    Command,
    Entry,
    Table,
    lookup,
    name_problem,
    shipped_catalogs,
    text_problem,
)
from bot.core.locales import FALLBACK, base_language, language_of_locale
from bot.core.text import clip

log = logging.getLogger(__name__)


def menu_name_problem(name: str) -> str | None:
    """Why Discord would refuse ``name`` for a context menu (1-32 characters, any case, spaces allowed)."""
    return None if 1 <= len(name) <= NAME_LIMIT and name.strip() == name else "1-32 characters"


def menu_name(template: str, **fields: str) -> app_commands.locale_str:
    """A context menu's name made from ``template`` (``"Ask {name}"``): the catalogs translate the template
    and the fields are put into the translation, clipped to Discord's 32 characters."""
    return app_commands.locale_str(clip(template.format(**fields), NAME_LIMIT), msgid=template, **fields)


def entry_of(string: app_commands.locale_str, context: app_commands.TranslationContextTypes) -> Entry | None:
    """What the catalogs hold for ``string`` where discord.py asks for it (None: not a command's string)."""
    msgid = str(string.extras.get("msgid", string.message))
    data: Any = context.data
    match context.location:
        case Where.command_name if isinstance(data, app_commands.ContextMenu):
            return Entry("menu", msgid, f"Apps: {msgid}")
        case Where.command_name | Where.group_name:
            return Entry("command", msgid, f"/{data.qualified_name}")
        case Where.command_description | Where.group_description:
            return Entry("description", msgid, f"/{data.qualified_name}")
        case Where.parameter_name:
            return Entry("option", msgid, f"/{data.command.qualified_name} {data.display_name}")
        case Where.parameter_description:
            return Entry("description", msgid, f"/{data.command.qualified_name} {data.display_name}")
        case Where.choice_name:
            return Entry("choice", msgid, "")
    return None


class CommandTranslator(app_commands.Translator):
    """Every command's names and descriptions from the ``commands`` catalogs, read once when the tree's
    translator is set (``CommandTree.set_translator`` awaits :meth:`load`)."""

    def __init__(self, tables: Mapping[str, Table] | None = None) -> None:
        self.tables: dict[str, Table] = dict(tables or {})
        self._by_locale = self._tables_by_locale()
        self._warned: set[tuple[str, str]] = set()  # (translation, msgid): each refused once in the log
        # discord.py asks for each string once per Discord locale, and again for each sync and digest: what
        # a string is found once for all its locales, each answer once for every time it is asked
        self._last: tuple[object, object, object, Entry | None] | None = None
        self._answers: dict[tuple[discord.Locale, Entry, tuple[tuple[str, object], ...]], str | None] = {}
        self._fingerprint: str | None = None

    def _tables_by_locale(self) -> dict[discord.Locale, Table]:
        # discord.py asks once per string per locale: the locale's table found once, not thousands of times
        by_locale = {}
        for locale in discord.Locale:
            line = language_of_locale(locale) or FALLBACK  # zh-TW's: zh_Hant, where it has a catalog
            table = self.tables.get(line) or self.tables.get(base_language(line) or FALLBACK)
            if table is not None:
                by_locale[locale] = table
        return by_locale

    @classmethod
    @functools.cache
    def shipped(cls) -> CommandTranslator:
        """The translator of the shipped catalogs, one a process: each bot started in it (the tests start
        many) finds the strings it already answered."""
        return cls()

    def fingerprint(self) -> str:
        """What the translations depend on besides the commands: the catalogs' entries (a changed catalog
        is a changed upload)."""
        if self._fingerprint is None:
            rows = sorted((language, context, msgid, text) for language, table in self.tables.items()
                          for (context, msgid), text in table.items())
            self._fingerprint = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
        return self._fingerprint

    async def load(self) -> None:
        if not self.tables:  # the catalogs are files: read off the event loop
            self.tables = dict(await asyncio.to_thread(shipped_catalogs))
            self._by_locale = self._tables_by_locale()
            self._answers.clear()
            self._fingerprint = None

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContextTypes) -> str | None:
        table = self._by_locale.get(locale)
        if table is None:  # English, or a language without a catalog: the default strings
            return None
        last = self._last
        if last is not None and last[0] is string and last[1] is context.data and last[2] is context.location:
            entry = last[3]
        else:
            entry = entry_of(string, context)
            self._last = (string, context.data, context.location, entry)
        if entry is None:
            return None
        key = (locale, entry, tuple(sorted(string.extras.items())))
        try:
            return self._answers[key]
        except KeyError:
            pass
        found = lookup(table, entry)
        answer = None if found is None else self._usable(entry, found, string, locale)
        self._answers[key] = answer
        return answer

    def _usable(self, entry: Entry, found: str, string: app_commands.locale_str,
                locale: discord.Locale) -> str | None:
        fields = {k: v for k, v in string.extras.items() if k != "msgid"}
        if fields:
            try:
                found = found.format(**fields)
            except (KeyError, IndexError, ValueError):
                self._warn(found, entry, locale, "it names a field it is not given")
                return None
        if entry.kind == "menu":
            found = clip(found, NAME_LIMIT)
            problem = menu_name_problem(found)
        elif entry.kind in ("command", "option"):
            problem = name_problem(found)
        else:
            problem = text_problem(found, CHOICE_LIMIT if entry.kind == "choice" else DESCRIPTION_LIMIT)
        if problem is not None:
            self._warn(found, entry, locale, problem)
            return None
        return found

    def _warn(self, found: str, entry: Entry, locale: discord.Locale, problem: str) -> None:
        if (found, entry.msgid) not in self._warned:  # a sync asks twice per locale, and for es-ES and es-419
            self._warned.add((found, entry.msgid))
            log.warning("the %s translation of %s %r is not one Discord takes (%s): %r; English kept there",
                        locale, entry.kind, entry.msgid, problem, found)


class _Recorder(app_commands.Translator):
    def __init__(self) -> None:
        self.entries: set[Entry] = set()

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContextTypes) -> str | None:
        entry = entry_of(string, context)
        if entry is not None:
            self.entries.add(entry)
        return None


async def extract(tree: app_commands.CommandTree[Any]) -> list[Entry]:
    """Every string discord.py asks a translator for when it syncs ``tree``'s global commands, found by
    building that very payload (so a command, an option or a choice cannot be missed)."""
    recorder = _Recorder()
    for command in tree.get_commands():
        await command.get_translated_payload(tree, recorder)
    return sorted(recorder.entries)


def shape_of(tree: app_commands.CommandTree[Any]) -> list[Command]:
    """The tree's slash commands (its global ones, as synced), their subcommands, options and choices, by
    their English names: what a line may quote (bot/core/command_names.py ``know``)."""

    def shape(command: app_commands.Command[Any, ..., Any] | app_commands.Group) -> Command:
        place = f"/{command.qualified_name}"
        if isinstance(command, app_commands.Group):
            return Command(place, commands={c.name: shape(c) for c in command.commands})
        return Command(place, options={p.display_name: tuple(str(c.name) for c in p.choices)
                                       for p in command.parameters})

    return [shape(c) for c in tree.get_commands() if isinstance(c, app_commands.Command | app_commands.Group)]
