"""Discord's rules for application commands, as the fake enforces them on the bulk overwrite
(``PUT /applications/{id}/commands``, and a guild's).

A slash command's (type 1), a subcommand's and an option's name: 1-32 characters of any script's letters and
digits, Devanagari and Thai, ``-`` and ``_`` (``^[-_\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$``), lowercase
where the script has case; a context menu's (types 2 and 3): 1-32 characters, any case, spaces allowed, and
no description. Descriptions 1-100 characters, choice names 1-100; at most 25 options a level and 25 choices
an option; required options before optional ones; a slash command's names, descriptions and choice values,
all its options' included, at most 8,000 characters, each field counted at its longest localization.
``name_localizations`` and ``description_localizations``:
keys among Discord's locales only (an ``es`` or ``pt_BR`` is refused, as Discord refuses it, with
BASE_TYPE_CHOICES), each value under the rule of the field it localizes. Names unique among siblings
(top-level commands per type) in the default and in each locale (a locale's name being its localization, or
the default where it has none). Otherwise 400 code 50035 "Invalid Form Body", the errors keyed by where they
are (``{"0": {"options": {"1": {"name_localizations": {"ja": {"_errors": [...]}}}}}}``), as Discord answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import regex
from aiohttp import web

from tests.fakes.discord_guild import error

# Discord's locales (https://discord.com/developers/docs/reference#locales)
LOCALES = frozenset({"id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu",
                     "nl", "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk",
                     "hi", "th", "zh-CN", "ja", "zh-TW", "ko"})
NAME = regex.compile(r"^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$")
MAX_OPTIONS = 25
# A slash command's names, descriptions and choice values together, its options' and choices' included, each
# field counted at its longest localization (or its default, if longer)
MAX_SIZE = 8000
MAX_CHOICES = 25
SLASH, USER_MENU, MESSAGE_MENU = 1, 2, 3
SUBCOMMAND, SUBGROUP = 1, 2

Path = tuple[str, ...]
Problem = tuple[Path, str, str]  # where, Discord's error code, its message


def refuse_commands(body: Any) -> web.Response | None:
    """None when Discord would take ``body`` (a bulk overwrite), else its 400 answer."""
    if not isinstance(body, list):
        return error(400, 50035, "Invalid Form Body",
                     {"_errors": [{"code": "BASE_TYPE_ARRAY", "message": "Must be an array."}]})
    problems = list(_commands(body))
    if not problems:
        return None
    errors: dict[str, Any] = {}
    for path, code, message in problems:
        node = errors
        for key in path:
            node = node.setdefault(key, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
    return error(400, 50035, "Invalid Form Body", errors)


def _commands(body: list[Any]) -> Iterator[Problem]:
    for i, command in enumerate(body):
        at = (str(i),)
        kind = int(command.get("type") or SLASH)
        if kind == SLASH:
            yield from _slash_name(at, command)
            yield from _description(at, command)
            yield from _options(at, command.get("options") or [])
            if _size(command) > MAX_SIZE:
                yield at, "APPLICATION_COMMAND_TOO_LARGE", f"Command exceeds maximum size ({MAX_SIZE})"
        else:
            yield from _menu_name(at, command)
            if command.get("description"):
                yield (*at, "description"), "APPLICATION_COMMAND_DESCRIPTION_MUST_BE_EMPTY", \
                    "Description must be empty"
    for kind in (SLASH, USER_MENU, MESSAGE_MENU):
        same = [(str(i), c) for i, c in enumerate(body) if int(c.get("type") or SLASH) == kind]
        yield from _unique((), same, "APPLICATION_COMMANDS_DUPLICATE_NAME",
                           "Application command names must be unique")


def _field(at: Path, item: dict[str, Any], field: str, bad: Callable[[Any], bool], code: str,
           message: str) -> Iterator[Problem]:
    """``field`` and its localizations (``<field>_localizations``): each value under ``bad``'s rule, each
    locale one of Discord's."""
    if bad(item.get(field)):
        yield (*at, field), code, message
    values = item.get(f"{field}_localizations")
    if values is None:
        return
    if not isinstance(values, dict):
        yield ((*at, f"{field}_localizations"), "DICT_TYPE_CONVERT",
               "Only dictionaries may be used in a DictType")
        return
    for locale, value in values.items():
        where = (*at, f"{field}_localizations", str(locale))
        if locale not in LOCALES:
            choices = ", ".join(repr(x) for x in sorted(LOCALES))
            yield where, "BASE_TYPE_CHOICES", f"Value must be one of ({choices})."
        elif bad(value):
            yield where, code, message


def _bad_slash_name(name: Any) -> bool:
    return not isinstance(name, str) or not NAME.match(name) or name != name.lower()


def _bad_menu_name(name: Any) -> bool:
    return not isinstance(name, str) or not 1 <= len(name) <= 32 or name.strip() != name


def _slash_name(at: Path, item: dict[str, Any]) -> Iterator[Problem]:
    yield from _field(at, item, "name", _bad_slash_name, "APPLICATION_COMMAND_INVALID_NAME",
                      "Command name is invalid")


def _menu_name(at: Path, item: dict[str, Any]) -> Iterator[Problem]:
    yield from _field(at, item, "name", _bad_menu_name, "BASE_TYPE_BAD_LENGTH",
                      "Must be between 1 and 32 in length.")


def _text(at: Path, item: dict[str, Any], field: str, limit: int) -> Iterator[Problem]:
    def bad(text: Any) -> bool:
        return not isinstance(text, str) or not 1 <= len(text) <= limit

    yield from _field(at, item, field, bad, "BASE_TYPE_BAD_LENGTH",
                      f"Must be between 1 and {limit} in length.")


def _description(at: Path, item: dict[str, Any]) -> Iterator[Problem]:
    yield from _text(at, item, "description", 100)


def _options(at: Path, options: list[dict[str, Any]]) -> Iterator[Problem]:
    if len(options) > MAX_OPTIONS:
        yield (*at, "options"), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_OPTIONS} or fewer in length."
    optional_seen = False
    for j, option in enumerate(options):
        here = (*at, "options", str(j))
        yield from _slash_name(here, option)
        yield from _description(here, option)
        kind = int(option.get("type") or 0)
        if kind in (SUBCOMMAND, SUBGROUP):
            yield from _options(here, option.get("options") or [])
            continue
        if option.get("required"):
            if optional_seen:
                yield (*here, "required"), "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", \
                    "Required options must be placed before non-required options"
        else:
            optional_seen = True
        choices = option.get("choices") or []
        if len(choices) > MAX_CHOICES:
            yield (*here, "choices"), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CHOICES} or fewer in length."
        for k, choice in enumerate(choices):
            yield from _text((*here, "choices", str(k)), choice, "name", 100)
    yield from _unique((*at, "options"), [(str(j), o) for j, o in enumerate(options)],
                       "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique")


def _unique(at: Path, items: list[tuple[str, dict[str, Any]]], code: str, message: str) -> Iterator[Problem]:
    """Siblings' names unique by default and in every locale (its localization, or the default name)."""
    locales = {loc for _, item in items for loc in (item.get("name_localizations") or {}) if loc in LOCALES}
    for locale in (None, *sorted(locales)):
        seen: dict[str, str] = {}
        for index, item in items:
            name = item.get("name")
            if locale is not None:
                name = (item.get("name_localizations") or {}).get(locale) or name
            if not isinstance(name, str):
                continue
            if name in seen:
                where = (*at, index, "name") if locale is None else (*at, index, "name_localizations", locale)
                yield where, code, message
            seen[name] = index


def _size(item: dict[str, Any]) -> int:
    total = 0
    for field in ("name", "description"):
        if isinstance(item.get(field), str):
            localized = item.get(f"{field}_localizations") or {}
            total += max([len(item[field]), *(len(str(v)) for v in localized.values())])
    if "value" in item:
        total += len(str(item["value"]))
    return total + sum(_size(o) for o in item.get("options") or []) \
        + sum(_size(c) for c in item.get("choices") or [])
