"""Slash commands in every language Kindred speaks, over the wire: the tree the bot syncs carries
``name_localizations`` / ``description_localizations`` for every command, group, option and choice in each
Discord locale of the ten languages besides English, the fake Discord takes them under Discord's rules
(tests/fakes/discord_commands.py), and refuses what Discord refuses."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.core.command_names import (
    DESCRIPTION_LIMIT,
    Entry,
    lookup,
    name_problem,
    read_catalog,
    read_catalogs,
)
from bot.core.locales import DISCORD_LOCALES, FALLBACK, SPOKEN, VARIANTS
from bot.discord.client import app_commands_digest
from bot.discord.command_locales import CommandTranslator, extract
from tests.harness import Harness

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = tuple(language for language in SPOKEN if language != FALLBACK)
LOCALES = tuple(locale for language in LANGUAGES for locale in DISCORD_LOCALES[language])
ENGLISH_LOCALES = DISCORD_LOCALES[FALLBACK]
SLASH, SUBCOMMAND, SUBGROUP = 1, 1, 2


def synced(h: Harness) -> list[dict[str, Any]]:
    """The body of the bot's last bulk overwrite of its global commands, as the fake Discord received it."""
    puts = [r for r in h.discord.requests if r.method == "PUT" and r.path.endswith("/commands")]
    assert puts, "the bot synced no commands"
    body = puts[-1].body
    assert isinstance(body, list)
    return body


def walk(commands: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(where, what, item) for every command, subcommand group, subcommand, option and choice."""
    out: list[tuple[str, str, dict[str, Any]]] = []

    def options(path: str, items: list[dict[str, Any]]) -> None:
        for item in items:
            here = f"{path} {item['name']}"
            if int(item["type"]) in (SUBCOMMAND, SUBGROUP):
                out.append((here, "command", item))
                options(here, item.get("options") or [])
                continue
            out.append((here, "option", item))
            for choice in item.get("choices") or []:
                out.append((f"{here}={choice['value']}", "choice", choice))

    for command in commands:
        if int(command.get("type") or SLASH) != SLASH:
            out.append((f"Apps: {command['name']}", "menu", command))
            continue
        out.append((f"/{command['name']}", "command", command))
        options(f"/{command['name']}", command.get("options") or [])
    return out


async def test_the_synced_tree_carries_every_language_and_discord_takes_it(harness: Harness) -> None:
    h = harness
    await h.lead_work_done()
    body = synced(h)
    # Discord took the upload (the fake stores commands only when its rules pass): what it answers is what
    # was sent.
    assert [c["name"] for c in h.discord.registered_commands()] == [c["name"] for c in body]
    missing: list[str] = []
    untranslated: list[str] = []
    for where, what, item in walk(body):
        fields = ("name",) if what in ("choice", "menu") else ("name", "description")
        for field in fields:
            localized = item.get(f"{field}_localizations") or {}
            assert not set(localized) & set(ENGLISH_LOCALES), (where, field)  # English is the default
            missing += [f"{where} {field} [{locale}]" for locale in LOCALES if not localized.get(locale)]
            english = str(item[field])
            if field == "description" and any(c.isalpha() for c in english):
                untranslated += [f"{where} [{locale}]" for locale in LOCALES
                                 if localized.get(locale) == english]
    assert not missing, (f"{len(missing)} localizations missing, e.g. {missing[:20]}; the catalog entries to "
                         "paste: test_every_string_of_the_live_tree_is_in_every_catalog_and_valid")
    assert not untranslated, f"descriptions left in English: {untranslated[:20]}"
    commands = {c["name"]: c for c in body}
    # what a Japanese, a German and a Spanish (Latin America) client show for /forget_me and /memory opt-out
    assert commands["forget_me"]["name_localizations"]["ja"] == "私を忘れて"
    assert commands["forget_me"]["description_localizations"]["de"].startswith("Löscht alles")
    [opt_out] = [o for o in commands["memory"]["options"] if o["name"] == "opt-out"]
    assert opt_out["name_localizations"]["es-419"] == opt_out["name_localizations"]["es-ES"] == "rechazar"
    # Taiwan's client reads Traditional characters, mainland China's Simplified ones
    assert commands["forget_me"]["description_localizations"]["zh-TW"] == "刪除我儲存的關於你的一切。"
    assert commands["forget_me"]["description_localizations"]["zh-CN"] == "删除我存储的关于你的一切。"
    # the character's menu: its name put into each language's wording
    assert commands["Ask Finn"]["name_localizations"]["fr"] == "Demander à Finn"


async def test_every_string_of_the_live_tree_is_in_every_catalog_and_valid(harness: Harness) -> None:
    """Walks the live tree (the very payload discord.py builds): a command, option or choice added without
    its translations fails here, naming the catalog entries to add; so does a catalog entry no command
    uses any more, and a translation Discord would refuse or that clashes with a sibling's."""
    h = harness
    assert h.bot is not None
    entries = await extract(h.bot.tree)
    assert {e.kind for e in entries} == {"command", "option", "choice", "menu", "description"}
    problems: list[str] = []
    missing: dict[Entry, list[str]] = {}
    for language in (*LANGUAGES, *VARIANTS):
        table = read_catalog(language)
        for entry in entries:
            found = lookup(table, entry)
            if found is None:
                missing.setdefault(entry, []).append(language)
            elif entry.kind in ("command", "option") and name_problem(found):
                problems.append(f"{language}: {entry.place} {found!r}: {name_problem(found)}")
            elif entry.kind == "description" and len(found) > DESCRIPTION_LIMIT:
                problems.append(f"{language}: {entry.place} {len(found)} characters: {found!r}")
        used = {(e.kind, e.msgid) for e in entries} | {(e.place_context, e.msgid) for e in entries}
        problems += [f"{language}: unused entry msgctxt {ctx!r} msgid {msgid!r}"
                     for ctx, msgid in table if (ctx, msgid) not in used]
    assert not missing and not problems, to_add(missing) + "\n".join(problems[:60])


def commands_on_the_page() -> set[str]:
    """Every command docs/commands.md names: each backticked `/name sub|sub ...` expanded to the paths it
    names (`/facts add\\|list <user>` names /facts, /facts add and /facts list)."""
    text = (ROOT / "docs" / "commands.md").read_text().replace("\\|", "|")
    named: set[str] = set()
    for span in re.findall(r"`(/[^`]+)`", text):
        paths = [""]
        for word in span.split():
            if word[0] in "<[":
                break
            paths = [f"{path} {alternative}".strip() for path in paths for alternative in word.split("|")]
            named.update(paths)
    return named


async def test_every_command_is_in_the_commands_page(harness: Harness) -> None:
    """docs/commands.md, where people and admins look a command up, names every slash command and
    subcommand the bot registers (read from the live tree); one added without its line there fails."""
    assert harness.bot is not None
    places = {e.place for e in await extract(harness.bot.tree) if e.kind == "command"}
    assert {"/facts add", "/voice join"} <= places  # the tree was read, subcommands with their groups
    assert sorted(places - commands_on_the_page()) == []


def to_add(missing: dict[Entry, list[str]]) -> str:
    """The entries a catalog lacks, as .po text to paste into each catalog named (then translate)."""
    if not missing:
        return ""
    lines = ["add to bot/locale/<language>/LC_MESSAGES/commands.po, translated:"]
    for entry, languages in sorted(missing.items()):
        place = f"#. {entry.place}" if entry.place else "#. (a choice)"
        lines += [f"# missing in: {' '.join(languages)}", place, f'msgctxt "{entry.kind}"',
                  f"msgid {json.dumps(entry.msgid, ensure_ascii=False)}",
                  'msgstr ""', ""]
    return "\n".join(lines) + "\n"


async def test_siblings_keep_distinct_names_in_every_locale(harness: Harness) -> None:
    """Two subcommands (or options) of one command that translate to the same word would make Discord refuse
    the whole upload; the fake enforces it too, this names the pair."""
    h = harness
    await h.lead_work_done()
    clashes: list[str] = []

    def check(where: str, items: list[dict[str, Any]]) -> None:
        for locale in LOCALES:
            names = [(i.get("name_localizations") or {}).get(locale, i["name"]) for i in items]
            twice = {n for n in names if names.count(n) > 1}
            clashes.extend(f"{where or '/'} [{locale}]: {n}" for n in twice)
        for item in items:  # a command's, a group's or a subcommand's own options
            if int(item.get("type") or SLASH) in (SUBCOMMAND, SUBGROUP) and item.get("options"):
                check(f"{where} {item['name']}" if where else f"/{item['name']}", item["options"])

    check("", [c for c in synced(h) if int(c.get("type") or SLASH) == SLASH])
    assert not clashes, clashes


# ------------------------------------------------------------------------- the fake enforces Discord's rules


def _slash(**fields: Any) -> dict[str, Any]:
    return {"type": 1, "name": "remember", "description": "Add something I remember.", **fields}


REFUSED = {
    "a locale Discord does not have": (
        [_slash(name_localizations={"es": "recordar"})], ["0", "name_localizations", "es"]),
    "an underscore locale": (
        [_slash(description_localizations={"pt_BR": "Lembrar"})],
        ["0", "description_localizations", "pt_BR"]),
    "a name with a space": (
        [_slash(name_localizations={"de": "merk dir"})], ["0", "name_localizations", "de"]),
    "a capitalized name": (
        [_slash(name_localizations={"ru": "Запомни"})], ["0", "name_localizations", "ru"]),
    "a name over 32 characters": (
        [_slash(name_localizations={"fr": "r" * 33})], ["0", "name_localizations", "fr"]),
    "a name with a middle dot": (
        [_slash(name_localizations={"ja": "覚え・て"})], ["0", "name_localizations", "ja"]),
    "a description over 100 characters": (
        [_slash(description_localizations={"ko": "기" * 101})], ["0", "description_localizations", "ko"]),
    "an empty description": (
        [_slash(description_localizations={"tr": ""})], ["0", "description_localizations", "tr"]),
    "an option's bad name": (
        [_slash(options=[{"type": 3, "name": "memory", "description": "What",
                          "name_localizations": {"pl": "co zapamiętać"}}])],
        ["0", "options", "0", "name_localizations", "pl"]),
    "a choice's name over 100 characters": (
        [_slash(options=[{"type": 3, "name": "kind", "description": "Which",
                          "choices": [{"name": "trait", "value": "trait",
                                       "name_localizations": {"zh-CN": "性" * 101}}]}])],
        ["0", "options", "0", "choices", "0", "name_localizations", "zh-CN"]),
    "two siblings one name in a locale": (
        [_slash(options=[{"type": 1, "name": "delete", "description": "Delete one.",
                          "name_localizations": {"es-ES": "eliminar"}},
                         {"type": 1, "name": "remove", "description": "Remove one.",
                          "name_localizations": {"es-ES": "eliminar"}}])],
        ["0", "options", "1", "name_localizations", "es-ES"]),
    "two commands one name in a locale": (
        [_slash(name_localizations={"de": "merken"}),
         {"type": 1, "name": "memory", "description": "What I remember.",
          "name_localizations": {"de": "merken"}}],
        ["1", "name_localizations", "de"]),
    "a command over 8000 characters at its longest localizations": (
        [_slash(options=[{"type": 1, "name": f"sub{i}", "description": "Short.",
                          "description_localizations": {"de": "L" * 100, "ja": "長" * 90},
                          "options": [{"type": 3, "name": f"opt{j}", "description": "Short.",
                                       "description_localizations": {"fr": "d" * 100}} for j in range(3)]}
                         for i in range(20)])],
        ["0"]),
    "a menu name over 32 characters": (
        [{"type": 3, "name": "Remember this", "name_localizations": {"es-419": "Recuerda " + "x" * 30}}],
        ["0", "name_localizations", "es-419"]),
}


async def test_the_fake_refuses_what_discord_refuses(harness: Harness) -> None:
    """The bulk overwrite answers 400 50035 with the error where it is, as Discord does, and keeps the
    commands it had; a valid localization (a menu name with capitals and a space, a Thai name) is taken."""
    h = harness
    await h.lead_work_done()
    assert h.bot is not None and h.bot.application_id is not None
    before = h.discord.registered_commands()
    for case, (payload, where) in REFUSED.items():
        with pytest.raises(discord.HTTPException) as refused:
            await h.bot.http.bulk_upsert_global_commands(h.bot.application_id, payload)
        assert (refused.value.status, refused.value.code) == (400, 50035), case
        # discord.py reads the error body's "errors" into lines "In <where>: <message>"
        assert f"In {'.'.join(where)}: " in refused.value.text, (case, refused.value.text)
        assert h.discord.registered_commands() == before, case
    taken = [_slash(name_localizations={"th": "จดจำ", "ja": "覚えて"}),
             {"type": 3, "name": "Remember this", "name_localizations": {"de": "Merk dir das"}}]
    await h.bot.http.bulk_upsert_global_commands(h.bot.application_id, taken)
    assert [c["name"] for c in h.discord.registered_commands()] == ["remember", "Remember this"]


# ---------------------------------------------------------------------------- the translator itself


async def test_a_translation_discord_would_refuse_is_left_out_and_the_sync_still_goes_through(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    h = harness
    await h.lead_work_done()
    assert h.bot is not None
    tables = read_catalogs()
    tables["de"] = {**tables["de"], ("command", "help"): "Hilfe Seite"}  # a capital and a space
    await h.bot.tree.set_translator(CommandTranslator(tables))
    with caplog.at_level(logging.WARNING, logger="bot.discord.command_locales"):
        await h.bot.tree.sync()
    help_ = next(c for c in h.discord.registered_commands() if c["name"] == "help")
    assert "de" not in help_["name_localizations"] and help_["name_localizations"]["fr"] == "aide"
    assert help_["description_localizations"]["de"] == "Jeder Befehl und was er tut."
    assert "Hilfe Seite" in caplog.text


async def test_a_changed_translation_changes_what_the_bot_would_upload(harness: Harness) -> None:
    """The digest that spares Discord an unchanged upload covers the localizations: an updated catalog is
    synced at the next start."""
    h = harness
    await h.lead_work_done()
    assert h.bot is not None
    tables = read_catalogs()
    before = await app_commands_digest(h.bot)
    tables["es"] = {**tables["es"], ("command", "help"): "socorro"}
    await h.bot.tree.set_translator(CommandTranslator(tables))
    assert await app_commands_digest(h.bot) != before
    await h.bot.tree.set_translator(None)
    assert await app_commands_digest(h.bot) != before


def test_a_place_entry_wins_over_the_kind_entry() -> None:
    table = {("option", "user"): "usuario", ("option /ban user", "user"): "persona"}
    assert lookup(table, Entry("option", "user", "/ban user")) == "persona"
    assert lookup(table, Entry("option", "user", "/kick user")) == "usuario"


async def test_the_character_menu_name_is_clipped_in_every_language() -> None:
    from bot.discord.command_locales import menu_name

    long = "Bartholomew Fitzgerald-Montgomery"
    string = menu_name("Ask {name}", name=long)
    assert len(string.message) <= 32
    menu = app_commands.ContextMenu(name=string, callback=_menu_callback)
    translator = CommandTranslator({"fr": {("menu", "Ask {name}"): "Demander à {name}"}})
    context = app_commands.TranslationContext(location=app_commands.TranslationContextLocation.command_name,
                                              data=menu)
    found = await translator.translate(string, discord.Locale.french, context)
    assert found is not None and found.startswith("Demander à Barth") and len(found) == 32


async def _menu_callback(interaction: discord.Interaction, message: discord.Message) -> None:
    return None
