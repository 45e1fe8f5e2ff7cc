"""Load a character folder, whatever its format, into a :class:`~bot.persona.model.Persona`.

Detection, first match wins:

1. a character card: ``card.png`` / ``card.json``, else any ``*.png`` / ``*.json`` holding a
   ``chara_card_v2`` / ``chara_card_v3`` card (:mod:`bot.persona.cards`);
2. ``character.json`` with ``framework.json`` and/or ``frameworks/*.json`` (:mod:`bot.persona.framework`);
3. ClaudeMask keys in the merged env (:mod:`bot.persona.claudemask`); ``core_prompt`` is required.

For every format: ``default_name`` / ``description`` and the three memory prompts from the env override
what the files say; ``avatar`` (a path relative to the folder) or an ``avatar.png`` file sets the avatar;
``lorebook`` (a path) or a ``lorebook.json`` file adds a SillyTavern world-info lorebook; an
``identity.json`` is validated here (it is seeded into the database at start-up).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from bot.errors import ConfigError
from bot.persona.cards import card_to_persona, find_card, read_card
from bot.persona.claudemask import env_text, load_claudemask
from bot.persona.framework import load_framework_character
from bot.persona.identity import IDENTITY_FILE, read_identity_seed
from bot.persona.lorebook import load_lorebook, merge_lorebooks
from bot.persona.model import Persona


def detect_format(folder: Path) -> str:
    """``card``, ``framework`` or ``claudemask``."""
    if find_card(folder) is not None:
        return "card"
    if (folder / "character.json").is_file():
        return "framework"
    return "claudemask"


def _folder_file(folder: Path, env: Mapping[str, str], key: str, default_name: str) -> Path | None:
    """The file an env key names (relative to the folder), else ``default_name`` when it exists."""
    value = env_text(env, key)
    if value:
        path = Path(value).expanduser()
        path = path if path.is_absolute() else folder / path
        if not path.is_file():
            raise ConfigError(str(folder / "character.env"), key, f"no such file: {value}")
        return path
    default = folder / default_name
    return default if default.is_file() else None


def load_persona(folder: Path, env: Mapping[str, str]) -> Persona:
    """The persona defined by ``folder``; ``env`` is the merged, lower-cased key/value map."""
    if not folder.is_dir():
        raise ConfigError(str(folder), "character_dir", "no such character folder")
    card_path = find_card(folder)
    if card_path is not None:
        persona = card_to_persona(read_card(card_path), env)
    elif (folder / "character.json").is_file():
        persona = load_framework_character(folder, env)
    else:
        persona = load_claudemask(folder, env)
    if (folder / IDENTITY_FILE).is_file():
        read_identity_seed(folder / IDENTITY_FILE)  # a broken seed fails here, before anything connects
    avatar = _folder_file(folder, env, "avatar", "avatar.png")
    lore_path = _folder_file(folder, env, "lorebook", "lorebook.json")
    lorebook = persona.lorebook
    if lore_path is not None:
        lorebook = merge_lorebooks([persona.lorebook, load_lorebook(lore_path)])
    return replace(persona, avatar_path=avatar or persona.avatar_path, lorebook=lorebook)
