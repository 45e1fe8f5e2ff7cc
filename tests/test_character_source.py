"""The character folder as a live source (bot/core/character.py): every edit is seen by the next call,
and a call when nothing changed lists no folder (a few stats of what it already knows)."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

import bot.core.character as character_module
from bot.core.character import CharacterSource
from bot.core.config import PROJECT_ROOT
from tests.harness import rewrite, touch_later

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


async def test_in_the_event_loop_one_check_serves_one_turn_and_the_next_turn_sees_an_edit(
        folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = CharacterSource(folder, None, environ={})
    source.current()
    stats: list[str] = []
    real = os.stat

    def counting(path: str, *args: object, **kwargs: object) -> os.stat_result:
        stats.append(str(path))
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(character_module.os, "stat", counting)
    await asyncio.sleep(0)  # a fresh turn of the loop
    for _ in range(5):
        source.current()
    first = len(stats)
    assert first > 0 and first == len(set(stats))  # one check in this turn: each known path stat-ed once
    rename(folder, "Fin the Third")
    touch_later(folder / "character.env")
    await asyncio.sleep(0)  # the next turn (as a message received after the edit would be)
    assert source.current().name == "Fin the Third"
