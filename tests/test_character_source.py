"""The character folder as a live source (bot/core/character.py): every edit is seen by the next call
(in the event loop, the next refresh, parsed in a worker thread), and a call when nothing changed lists no
folder (a few stats of what it already knows)."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

import bot.core.character as character_module
from bot.core.character import CharacterSource
from bot.core.config import PROJECT_ROOT
from bot.core.persona.model import Persona
from tests.harness import MakeHarness, eventually, reply_requests, rewrite, touch_later

FINN = PROJECT_ROOT / "characters" / "finn"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FINN, tmp_path / "finn"))


def rename(folder: Path, new: str) -> None:
    env = folder / "character.env"
    env.write_text(env.read_text().replace('default_name="Finn"', f'default_name="{new}"'))


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The folders the source lists, in order."""
    seen: list[str] = []
    real = os.scandir

    def counting(path: str | os.PathLike[str]) -> object:
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(character_module.os, "scandir", counting)
    return seen


def test_an_unchanged_folder_is_not_listed_again(folder: Path, listings: list[str]) -> None:
    source = CharacterSource(folder, None, environ={})
    assert source.current().name == "Finn"
    listings.clear()
    for _ in range(5):
        assert source.current().name == "Finn"
    assert listings == []


def test_an_edit_in_place_is_seen_by_the_next_call(folder: Path, listings: list[str]) -> None:
    source = CharacterSource(folder, None, environ={})
    source.current()
    listings.clear()
    rename(folder, "Fin the Second")
    touch_later(folder / "character.env")
    assert source.current().name == "Fin the Second"
    assert listings  # a change: the folder was listed again


def test_an_outside_file_edited_and_a_file_added_to_frameworks_are_seen(folder: Path,
                                                                         listings: list[str]) -> None:
    lore = folder.parent / "lore.json"
    lore.write_text('{"entries": {}}')
    env = folder / "character.env"
    env.write_text(env.read_text() + '\nlorebook="../lore.json"\n')
    source = CharacterSource(folder, None, environ={})
    first = source.current()
    assert source.current() is first  # nothing changed: the same persona
    rewrite(lore, '{"entries": {}, "name": "tides"}')  # outside the folder: only its own time changes
    second = source.current()
    assert second is not first and source.current() is second
    (folder / "frameworks").mkdir()  # a new sub-folder: the folder's own time changes
    touch_later(folder)
    listings.clear()
    source.current()
    assert str(folder / "frameworks") in listings  # listed, found empty: nothing to reload
    notes = folder / "frameworks" / "notes.md"
    notes.write_text("not a framework")
    touch_later(folder / "frameworks")
    listings.clear()
    source.current()
    assert listings  # the new file was found...
    listings.clear()
    source.current()
    assert listings == []
    touch_later(notes)  # ...and is watched from now on: an edit of it in place (the folders' times stay)
    source.current()
    assert listings  # is seen by the next call


def test_a_broken_edit_keeps_the_last_good_persona_and_is_not_reloaded_each_call(
        folder: Path, listings: list[str]) -> None:
    source = CharacterSource(folder, None, environ={})
    assert source.current().name == "Finn"
    env = folder / "character.env"
    rewrite(env, env.read_text().replace('default_name="Finn"', 'default_name="'))  # an unclosed quote
    listings.clear()
    assert source.current().name == "Finn"
    assert listings  # looked once
    listings.clear()
    assert source.current().name == "Finn"
    assert listings == []  # and not again until the files change


async def test_in_the_event_loop_the_files_are_looked_at_by_refresh_and_an_unchanged_folder_costs_a_few_stats(
        folder: Path, monkeypatch: pytest.MonkeyPatch, listings: list[str]) -> None:
    source = CharacterSource(folder, None, environ={})
    source.clock = lambda: 0.0  # no second passes: a read outside a message does not look either
    source.current()
    stats: list[str] = []
    real = os.stat

    def counting(path: str, *args: object, **kwargs: object) -> os.stat_result:
        stats.append(str(path))
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(character_module.os, "stat", counting)
    listings.clear()
    for _ in range(5):
        source.current()
    assert stats == [] and listings == []  # read as the last refresh left it: no file touched
    await source.refresh()
    assert stats and len(stats) == len(set(stats)) and listings == []  # each known path stat-ed once
    rename(folder, "Fin the Third")
    touch_later(folder / "character.env")
    assert source.current().name == "Finn"  # not read on the event loop...
    assert (await source.refresh()).name == "Fin the Third"  # ...but by the next refresh
    assert source.current().name == "Fin the Third"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The threads the character's files are parsed in, one entry a parse."""
    parsed_in: list[int] = []
    real = character_module.load_persona

    def spy(*args: Any) -> Persona:
        parsed_in.append(threading.get_ident())
        return real(*args)

    monkeypatch.setattr(character_module, "load_persona", spy)
    return parsed_in


async def test_a_read_outside_a_message_meets_an_edit_parsed_in_the_background(
        folder: Path, parses: list[int]) -> None:
    """Unprompted speech and the dashboard alone read the persona without a message to await a refresh:
    their read looks at the files' times (at most every LOOK_EVERY seconds) and has an edit parsed off
    the event loop, which a later read then has."""
    now = [0.0]
    source = CharacterSource(folder, None, environ={})
    source.clock = lambda: now[0]
    await source.refresh()
    parses.clear()
    rename(folder, "Fin the Fifth")
    touch_later(folder / "character.env")
    assert source.current().name == "Finn" and parses == []  # within LOOK_EVERY of the last look: none
    now[0] += character_module.LOOK_EVERY
    assert source.current().name == "Finn"  # this read looks, and has the files parsed behind it

    async def renamed() -> str | None:
        name = source.current().name
        return name if name != "Finn" else None

    assert await eventually(renamed, "the edit read in the background") == "Fin the Fifth"
    assert len(parses) == 1 and threading.get_ident() not in parses


async def test_an_edit_is_parsed_off_the_event_loop_once_for_every_message_waiting(
        folder: Path, parses: list[int]) -> None:
    """A large card with its lore takes tens of milliseconds to parse: in a worker thread, so the edit
    holds up no one's reply; the messages that arrive meanwhile wait for that one parse, not one each."""
    source = CharacterSource(folder, None, environ={})
    await source.refresh()
    assert len(parses) == 1 and threading.get_ident() not in parses  # the first load too
    parses.clear()
    rename(folder, "Fin the Fourth")
    touch_later(folder / "character.env")
    seen = await asyncio.gather(*(source.refresh() for _ in range(3)))
    assert [p.name for p in seen] == ["Fin the Fourth"] * 3
    assert len(parses) == 1 and threading.get_ident() not in parses


async def test_the_next_message_after_an_edit_meets_the_new_persona(
        make_harness: MakeHarness, tmp_path: Path, parses: list[int]) -> None:
    folder = Path(shutil.copytree(FINN, tmp_path / "finn"))
    h = await make_harness(character_dir=folder, config_reload_seconds="0")  # no poll: the message reads it
    sent = await h.dm("Hello there")
    await h.replies(int(sent["channel_id"]), 1)
    assert "a walking fish who hums" not in reply_requests(h)[-1].system_text()
    parses.clear()
    env = folder / "character.env"
    rewrite(env, env.read_text().replace("a walking fish.", "a walking fish who hums."))
    await h.dm("Still there?")
    await h.replies(int(sent["channel_id"]), 2)
    assert "a walking fish who hums" in reply_requests(h)[-1].system_text()
    assert parses and threading.get_ident() not in parses
