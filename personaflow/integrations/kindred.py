"""Kindred ↔ PersonaFlow: a Kindred character folder becomes a PersonaFlow character."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from bot.persona import load_persona
from personaflow.core.character import Character
from personaflow.core.memory import MemoryConfig
from personaflow.core.system import PersonaSystem


def folder_env(folder: Path) -> dict[str, str]:
    """The folder's character.env, keys lower-cased (empty when the file is absent)."""
    path = folder / "character.env"
    if not path.is_file():
        return {}
    return {k.strip().lower(): v for k, v in dotenv_values(path).items() if v is not None}


def load_character_folder(system: PersonaSystem, folder: Path, *, name: str | None = None,
                          memory_config: MemoryConfig | None = None) -> Character:
    """Load ``folder`` (any Kindred format) and create it in ``system`` under its persona name (or ``name``).

    The background carries the short description, the format, the folder and, when the folder has an
    ``identity.json``, its traits/lore/facts/quirks.
    """
    persona = load_persona(folder, folder_env(folder))
    background: dict[str, Any] = {"description": persona.description, "source_format": persona.source_format,
                                  "folder": str(folder)}
    identity = folder / "identity.json"
    if identity.is_file():
        data = json.loads(identity.read_text(encoding="utf-8"))
        background.update({k: list(v) for k, v in data.items() if isinstance(v, list)})
    if persona.topic_interests:
        background["topic_interests"] = list(persona.topic_interests)
    return system.create_character(name or persona.name, persona.system_prompt, background, memory_config)
