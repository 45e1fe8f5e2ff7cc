"""Where things are: the project root and the character folders."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CHARACTER = PROJECT_ROOT / "characters" / "finn"


def resolve_character_dir(cli_value: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """``--character`` wins, then ``CHARACTER_DIR``, then the shipped example."""
    env = os.environ if environ is None else environ
    chosen = cli_value or next((v for k, v in env.items() if k.lower() == "character_dir" and v), None)
    if not chosen:
        return DEFAULT_CHARACTER
    return resolve_folder(chosen)


def resolve_folder(value: str) -> Path:
    """A character folder as written: a path (from here or the project), or a bare name under characters/."""
    path = Path(value.strip()).expanduser()
    if path.is_absolute() or path.exists():
        return path
    for candidate in (PROJECT_ROOT / path, PROJECT_ROOT / "characters" / path):
        if candidate.exists():
            return candidate
    return path
