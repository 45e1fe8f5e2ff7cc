"""Where things are: the project root and the character folders."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CHARACTER = PROJECT_ROOT / "characters" / "finn"


@dataclass(frozen=True)
class CharacterChoice:
    folder: Path
    why: str  # for the start-up log
    root_layout: bool = False  # ClaudeMask's layout: the character.env sits in the folder main.py runs from


def choose_character_dir(cli_value: str | None, environ: Mapping[str, str] | None = None,
                         roots: tuple[Path, ...] | None = None) -> CharacterChoice:
    """The character folder, and why it was chosen.

    ClaudeMask's set-up copies a character's ``character.env`` to the project root and runs ``main.py``:
    without ``--character`` or ``CHARACTER_DIR``, a ``character.env`` in the folder main.py runs from (or in
    the project root) makes that folder the character folder.
    """
    env = os.environ if environ is None else environ
    roots = (Path.cwd(), PROJECT_ROOT) if roots is None else roots
    root = next((r for r in roots if (r / "character.env").is_file()), None)
    from_env = next((v for k, v in env.items() if k.lower() == "character_dir" and v), None)
    if not cli_value and not from_env:
        if root is not None:
            why = f"the character.env in {root}: ClaudeMask layout, no --character or CHARACTER_DIR given"
            return CharacterChoice(root, why, root_layout=True)
        return CharacterChoice(DEFAULT_CHARACTER, "the shipped example: no --character, CHARACTER_DIR or "
                                                  "character.env in the folder main.py runs from")
    path = resolve_folder(cli_value or from_env or "")
    why = "from --character" if cli_value else "from CHARACTER_DIR"
    if root is not None and root.resolve() != path.resolve():
        why += f"; the character.env in {root} is not used, as --character and CHARACTER_DIR come first"
    return CharacterChoice(path, why)


def resolve_folder(value: str) -> Path:
    """A character folder as written: a path (from here or the project), or a bare name under characters/."""
    path = Path(value.strip()).expanduser()
    if path.is_absolute() or path.exists():
        return path
    for candidate in (PROJECT_ROOT / path, PROJECT_ROOT / "characters" / path):
        if candidate.exists():
            return candidate
    return path


def missing_folder(folder: Path, characters: Path | None = None) -> str:
    """"no such character folder", with the folders there are under characters/ and the one most likely
    meant."""
    root = PROJECT_ROOT / "characters" if characters is None else characters
    names = sorted(p.name for p in root.iterdir()
                   if p.is_dir() and not p.name.startswith(("_", "."))) if root.is_dir() else []
    if not names:
        return "no such character folder"
    there = f"{root} holds {', '.join(names)}"
    guess = difflib.get_close_matches(folder.name.lower(), names, n=1, cutoff=0.5)
    return f"no such character folder ({there}{f'; did you mean {root / guess[0]}?' if guess else ''})"
