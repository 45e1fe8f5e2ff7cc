"""A character of one's own (issue 17): the neutral template and `new-character`, identity.json followed at
start-up (admins' entries kept), and `import-card` with lorebooks, ClaudeMask files and its advice."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import PROJECT_ROOT, load_settings, read_sources
from bot.core.persona.loader import load_persona as load_with
from bot.core.persona.model import Persona
from tests.fakes.claude_server import FakeClaude
from tests.harness import Harness, run_main
from tests.test_admin_slash import run as admin
from tests.test_persona_runtime import dm_exchange

CHARACTERS = PROJECT_ROOT / "characters"

TEMPLATE = CHARACTERS / "_template"
LUMEN_CARD = CHARACTERS / "lumen" / "card.png"


def load_persona(folder: Path, env: dict[str, str]) -> Persona:
    return load_with(folder, {**read_sources(PROJECT_ROOT / "config.env.example", folder, {}).values, **env})


def main_py(*args: str, cwd: Path = PROJECT_ROOT, **extra: str) -> subprocess.CompletedProcess[str]:
    return run_main(*args, env=extra, cwd=cwd)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def characters(tmp_path: Path) -> Path:
    """A characters/ folder holding only the template."""
    folder = tmp_path / "characters"
    folder.mkdir()
    shutil.copytree(TEMPLATE, folder / "_template")
    return folder


# --------------------------------------------------------------------------- the template


def test_the_template_is_neutral() -> None:
    text = "\n".join(p.read_text() for p in TEMPLATE.iterdir() if p.is_file())
    assert not re.search(r"finn|fish|tea stall|glub|pemberton", text, re.IGNORECASE)
    persona = load_persona(TEMPLATE, {})
    identity = json.loads((TEMPLATE / "identity.json").read_text())
    assert all(identity[k] == [] for k in ("traits", "lore", "facts", "quirks"))
    # Every prompt, memory prompts included, speaks the character's name, whatever it is.
    for prompt in (persona.system_prompt, persona.summarization_prompt, persona.core_memory_prompt,
                   persona.core_memory_dump):
        assert "Finn" not in prompt
    assert persona.name in persona.system_prompt and "{{char}}" in persona.summarization_prompt


def test_no_code_hard_codes_finn_in_a_prompt() -> None:
    """Memory, consolidation and every other prompt name the character from its persona."""
    hits = []
    for folder in ("bot", "memory", "database", "cogs"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if re.search(r"\bFinn\b", code) and '"""' not in line:
                    hits.append(f"{path}:{number}: {line.strip()}")
    assert hits == []


def test_new_character_makes_a_folder_from_the_template(characters: Path) -> None:
    result = main_py("new-character", "Captain Mira", "--dir", str(characters))
    assert result.returncode == 0, result.stderr
    folder = characters / "captain-mira"
    assert f"created {folder}" in result.stdout and f"python main.py --character {folder}" in result.stdout
    assert 'default_name="Captain Mira"' in (folder / "character.env").read_text()
    persona = load_persona(folder, {})
    assert persona.name == "Captain Mira" and persona.system_prompt.startswith("You are Captain Mira.")
    assert persona.render(persona.summarization_prompt).startswith("Captain Mira, look back")
    load_settings(folder, None, environ={"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y"})
    # An existing folder and a bad name are refused with one line, and nothing is touched.
    before = (folder / "character.env").read_text()
    again = main_py("new-character", "Captain Mira", "--dir", str(characters))
    assert "already exists" in one_line_error(again)
    assert (folder / "character.env").read_text() == before
    bad = main_py("new-character", "../evil", "--dir", str(characters))
    assert "not a usable name" in one_line_error(bad)
    assert "not a usable name" in one_line_error(main_py("new-character", "", "--dir", str(characters)))
    assert sorted(p.name for p in characters.iterdir()) == ["_template", "captain-mira"]


def test_the_template_is_not_a_character_to_play(tmp_path: Path) -> None:
    line = one_line_error(main_py("--console", "--character", str(TEMPLATE)))
    assert "template" in line and "new-character" in line
    config = tmp_path / "config.env"
    config.write_text(f"ensemble_characters={TEMPLATE}\n")
    line = one_line_error(main_py("--console", "--character", str(CHARACTERS / "finn"), "--config",
                                  str(config), ANTHROPIC_API_KEY="fake"))
    assert "template" in line


# --------------------------------------------------------------------------- identity follows the file


def seeded(entries: list[tuple[int, str, str]]) -> set[tuple[str, str]]:
    return {(kind, text) for _, kind, text in entries}


async def test_identity_sync_in_the_store(store: Any) -> None:
    ident = store.identity
    assert await ident.sync_seed("c", [("trait", "kind"), ("lore", "born at sea")]) == (2, 0)
    admin_id = await ident.add("c", "quirk", "hums")  # an admin's entry
    assert await ident.sync_seed("c", [("trait", "kind"), ("lore", "born at sea")]) == (0, 0)
    lore_id = next(i for i, k, _ in await ident.entries("c") if k == "lore")
    await ident.update(lore_id, "born at sea, in a storm")  # an admin rewords a file entry: it stays so
    assert await ident.sync_seed("c", [("trait", "kind"), ("lore", "born at sea"), ("fact", "new")]) == (1, 0)
    assert seeded(await ident.entries("c")) == {("trait", "kind"), ("lore", "born at sea, in a storm"),
                                                ("quirk", "hums"), ("fact", "new")}
    # Gone from the file: gone from the table (reworded or not); the admin's entry stays.
    assert await ident.sync_seed("c", [("fact", "new")]) == (0, 2)
    assert seeded(await ident.entries("c")) == {("quirk", "hums"), ("fact", "new")}
    assert admin_id in {i for i, _, _ in await ident.entries("c")}
    # Entries from before the source column (marked admin) written as in the file are the file's again.
    await ident.add("c", "trait", "old seed")
    assert await ident.sync_seed("c", [("fact", "new"), ("trait", "old seed")]) == (0, 0)
    assert await ident.sync_seed("c", [("fact", "new")]) == (0, 1)
    assert await ident.sync_seed("other", []) == (0, 0)
    assert seeded(await ident.entries("c")) == {("quirk", "hums"), ("fact", "new")}


async def test_identity_json_leads_at_start_up_and_admin_entries_stay(
        make_harness: Callable[..., Awaitable[Harness]], tmp_path: Path) -> None:
    folder = tmp_path / "sprite"
    shutil.copytree(TEMPLATE, folder)
    (folder / "identity.json").write_text(json.dumps({"traits": ["Loves riddles"],
                                                      "lore": ["Lives in the old oak"]}))
    h = await make_harness(character_dir=folder)
    assert "Added" in await admin(h, "identity", "add", kind="quirk", text="Counts acorns aloud")
    system = FakeClaude.system_text(await dm_exchange(h, "hello", 1))
    assert "Loves riddles" in system and "Lives in the old oak" in system and "Counts acorns aloud" in system
    (folder / "identity.json").write_text(json.dumps({"traits": ["Loves riddles"], "facts": ["Is 300"]}))
    await h.restart()
    system = FakeClaude.system_text(await dm_exchange(h, "and now?", 2))
    assert "Lives in the old oak" not in system
    assert "Loves riddles" in system and "Is 300" in system and "Counts acorns aloud" in system
    assert len(await h.store.identity.entries(h.bot.services.pipeline.character_key)) == 3


# --------------------------------------------------------------------------- import-card


LOREBOOK = {"name": "The Narrows", "entries": {"0": {"uid": 0, "key": ["ferry"], "keysecondary": [],
                                                      "content": "The ferry leaves at dusk.",
                                                      "constant": False, "disable": False}}}


def test_import_card_recognises_a_lorebook(tmp_path: Path, characters: Path) -> None:
    book = tmp_path / "world.json"
    book.write_text(json.dumps(LOREBOOK))
    line = one_line_error(main_py("import-card", str(book), "--dir", str(characters)))
    assert "lorebook" in line and "--lorebook" in line and "lorebook=" in line
    assert "no character name" not in line
    assert sorted(p.name for p in characters.iterdir()) == ["_template"]


def test_import_card_attaches_a_lorebook_and_says_how_to_run(tmp_path: Path, characters: Path) -> None:
    book = tmp_path / "world.json"
    book.write_text(json.dumps(LOREBOOK))
    result = main_py("import-card", str(LUMEN_CARD), "--as", "lumen2", "--lorebook", str(book),
                     "--dir", str(characters))
    assert result.returncode == 0, result.stderr
    folder = characters / "lumen2"
    assert f"python main.py --character {folder}" in result.stdout and "make run ARGS=" in result.stdout
    assert "warning" not in result.stderr  # Lumen's card has a description and a personality
    persona = load_persona(folder, {})
    assert persona.lorebook is not None
    assert "The ferry leaves at dusk." in [e.content for e in persona.lorebook.entries]
    assert len(persona.lorebook.entries) > 1  # the card's own lorebook too
    broken = tmp_path / "broken.json"
    broken.write_text('{"entries": 3}')
    line = one_line_error(main_py("import-card", str(LUMEN_CARD), "--as", "lumen3", "--lorebook", str(broken),
                                  "--dir", str(characters)))
    assert str(broken) in line and not (characters / "lumen3").exists()


def test_import_card_warns_about_a_thin_card(tmp_path: Path, characters: Path) -> None:
    card = tmp_path / "thin.json"
    card.write_text(json.dumps({"spec": "chara_card_v2", "spec_version": "2.0",
                                "data": {"name": "Thin", "first_mes": "Hi.", "scenario": "A quiet room."}}))
    result = main_py("import-card", str(card), "--dir", str(characters))
    assert result.returncode == 0, result.stderr
    [warning] = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "no description and no personality" in warning
    assert (characters / "thin" / "card.json").is_file()


def test_import_card_takes_a_claudemask_file(tmp_path: Path, characters: Path) -> None:
    result = main_py("import-card", str(CHARACTERS / "finn" / "character.env"), "--as", "finn2",
                     "--dir", str(characters))
    assert result.returncode == 0, result.stderr
    assert load_persona(characters / "finn2", {}).name == "Finn"


def test_import_card_help_lists_the_formats() -> None:
    result = main_py("import-card", "--help")
    assert result.returncode == 0
    for words in ("V1", "V2", "V3", "PNG", "acore_bot", "ClaudeMask", "lorebook", "--lorebook"):
        assert words in result.stdout, words
