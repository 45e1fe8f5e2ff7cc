"""A command quoted in Kindred's own lines is named as the reader's Discord client names it, over the wire: a
German client lists ``/memory opt-in`` as ``/gedächtnis zustimmen`` (the ``commands`` catalogs,
bot/discord/command_locales.py), so /memory's answers, a refusal and the reminders' list quote it so
(bot/core/command_names.py, through ``t``); a Taiwanese client (zh-TW) reads the Traditional names of its own
catalog. English is unchanged, and a slash that names no command (a URL, a date, "and/or") is left alone.
Every command the English lines quote is one the live tree has, so a renamed command fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from babel.messages.pofile import read_po

from bot.core import command_names
from bot.core.command_names import Command, Entry, know, lookup, named_in, read_catalog
from bot.core.i18n import t
from bot.core.locales import catalog_path
from bot.discord.command_locales import extract
from tests.fakes.claude_server import Reply
from tests.fakes.discord_lead import panel_texts
from tests.harness import USER_ID, Harness, ephemeral
from tests.server_support import answer
from tests.test_own_lines_localized import memory
from tests.test_reminders import set_reminder


def name(language: str, kind: str, place: str, msgid: str = "") -> str:
    """The name a client of ``language`` shows, read from the commands catalog itself."""
    found = lookup(read_catalog(language), Entry(kind, msgid or place.rsplit(" ", 1)[-1].lstrip("/"), place))
    assert found, (language, kind, place)
    return found


def path(language: str, *places: str) -> str:
    """``/memory opt-in`` as a ``language`` client lists it: each word of the path by its own place."""
    return "/" + " ".join(name(language, "command", place) for place in places)


async def test_memory_answers_quote_its_commands_as_the_client_lists_them(harness: Harness) -> None:
    h = harness
    for locale, language in (("de", "de"), ("ja", "ja"), ("zh-TW", "zh_Hant")):
        h.discord.set_locale(USER_ID, locale)
        opt_in = path(language, "/memory", "/memory opt-in")
        forget_me = path(language, "/forget_me")
        said = await memory(h, "opt-out")
        assert f"`{forget_me}`" in said and f"`{opt_in}`" in said, said
        assert "/memory" not in said and "/forget_me" not in said, said
        said = await memory(h, "opt-in")
        assert f"`{path(language, '/memory', '/memory opt-out')}`" in said, said
    assert path("de", "/memory", "/memory opt-in") == "/gedächtnis zustimmen"
    assert path("ja", "/forget_me") == "/私を忘れて"
    # Taiwan's client reads Traditional characters: its own catalog's names, not the Simplified ones
    assert path("zh_Hant", "/forget_me") != path("zh", "/forget_me")
    h.discord.set_locale(USER_ID, "en-US")
    said = await memory(h, "opt-out")
    assert "`/forget_me`" in said and "`/memory opt-in` turns memory back on." in said, said


async def test_a_refusal_quotes_the_command_with_its_options_and_choices(harness: Harness) -> None:
    h = harness
    for language in ("de", "ja"):
        h.discord.set_locale(USER_ID, language)
        refused = await answer(await h.slash("reminders", [{"type": 4, "name": "pause", "value": 1},
                                                           {"type": 4, "name": "skip", "value": 2}], dm=True))
        options = [name(language, "option", f"/reminders {o}") for o in ("cancel", "pause", "resume", "skip")]
        assert f"`{path(language, '/reminders')}`" in refused, refused
        assert all(f"`{o}`" in refused for o in options), refused
        await memory(h, "opt-in")
        servers = await answer(await h.slash("memory", [{"type": 1, "name": "servers", "options": [
            {"type": 3, "name": "where", "value": "all"}]}]))
        where = name(language, "option", "/memory servers where")
        each = name(language, "choice", "", "each server its own")
        assert f"`{path(language, '/memory', '/memory servers')} {where}:{each}`" in servers, servers


async def test_the_reminders_list_quotes_its_options_as_the_client_lists_them(harness: Harness) -> None:
    h = harness
    h.claude.script(Reply(tools=set_reminder(in_minutes=90)), times=2)
    sent = await h.dm("remind me in 90 minutes to stretch")
    await h.replies(int(sent["channel_id"]))
    for language in ("de", "ja"):
        h.discord.set_locale(USER_ID, language)
        listed = "\n".join(panel_texts(await ephemeral(await h.slash("reminders", dm=True))))
        cancel, pause, resume, skip = (name(language, "option", f"/reminders {o}")
                                       for o in ("cancel", "pause", "resume", "skip"))
        assert f"`{path(language, '/reminders')} {cancel}:<number>`" in listed, listed
        assert f"`{pause}`" in listed and f"`{resume}`" in listed and f"`{skip}`" in listed, listed
    assert name("de", "option", "/reminders cancel") == "abbrechen"
    h.discord.set_locale(USER_ID, "en-US")
    listed = "\n".join(panel_texts(await ephemeral(await h.slash("reminders", dm=True))))
    assert "`/reminders cancel:<number>` cancels one; `pause`, `resume` and `skip`" in listed, listed


# ----------------------------------------------------------------------------------- the rewrite, in itself


@pytest.fixture
def commands() -> Iterator[None]:
    """A small tree known for the test (the one known before is put back)."""
    before = list(command_names._known.values())
    know([Command("/memory", commands={"opt-in": Command("/memory opt-in"), "said": Command(
        "/memory said", options={"forget": ()})}), Command("/bot", commands={"voice": Command(
            "/bot voice", options={"state": ("on", "off")})}), Command("/reminders", options={"cancel": ()})])
    yield
    know(before)


def test_only_kindreds_commands_are_rewritten(commands: None) -> None:
    de = "/" + name("de", "command", "/memory") + " " + name("de", "command", "/memory opt-in")
    assert named_in("de", "Run `/memory opt-in` first.") == f"Run `{de}` first."
    assert named_in("ja", "（/memory opt-in）、") == "（" + path("ja", "/memory", "/memory opt-in") + "）、"
    assert named_in("de", "`/reminders cancel:<number>`") == (
        f"`{path('de', '/reminders')} {name('de', 'option', '/reminders cancel')}:<number>`")
    assert named_in("de", "(/bot voice on).") == (
        f"({path('de', '/bot', '/bot voice')} {name('de', 'choice', '', 'on')}).")
    untouched = ["See https://discord.com/memory and example.com/bot for more.", "page 1/2, {number}/{count}",
                 "yes/no and/or on/off", "Europe/Paris", "/memoryless /unknown /memorybank",
                 "</memory opt-in:1>", "a path /tmp/memory and C:/bot", "`/me set`"]
    for line in untouched:
        assert named_in("de", line) == line, line
    assert named_in("en", "Run `/memory opt-in` first.") == "Run `/memory opt-in` first."
    assert named_in(None, "Run `/memory opt-in` first.") == "Run `/memory opt-in` first."
    # the line's placeholders are filled after: what a person typed is never taken for a command
    assert "/memory opt-in" in t("de", "You asked for {text}.", text="/memory opt-in")


# ------------------------------------------------------------------------ every quoted command is a real one


QUOTED = re.compile(r"(?<![A-Za-z0-9_/:.<>@#&-])/(?P<path>[a-z0-9_-]+(?: [a-z0-9_-]+)*)")


async def test_every_command_the_lines_quote_is_one_the_tree_has(harness: Harness) -> None:
    """A slash path quoted in an English line of the kindred catalog starts with a command of the live tree,
    and after a group (which is never run alone but as ``/memory`` alone) comes one of its subcommands: a
    renamed command or subcommand cannot leave a line quoting its old name."""
    assert harness.bot is not None
    entries = await extract(harness.bot.tree)
    places = {e.place for e in entries if e.kind == "command"}
    tops = {p.split()[0].lstrip("/") for p in places}
    groups = {p.rsplit(" ", 1)[0] for p in places if " " in p}
    with catalog_path("en", "kindred").open("rb") as f:
        english = [m.id for m in read_po(f)]
    stale: list[str] = []
    quoted = 0
    for message in english:
        for line in message if isinstance(message, tuple) else (message,):
            for found in QUOTED.finditer(line):
                words = found["path"].split()
                if words[0].isdigit():  # a score out of ten, "/10"
                    continue
                if words[0] not in tops:
                    stale.append(f"/{found['path']!s} in {line!r}")
                    continue
                quoted += 1
                place = f"/{words[0]}"
                for word in words[1:]:
                    if place not in groups:
                        break  # a command's options, or the line's own words
                    if f"{place} {word}" not in places:
                        stale.append(f"{place} {word} in {line!r}")
                        break
                    place = f"{place} {word}"
    assert not stale, stale
    assert quoted > 40  # the lines were read: /memory opt-in, /forget_me, /voice join...
