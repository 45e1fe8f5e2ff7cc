"""A character's face in a server, as its folder declares it: the avatar (the loader's ``avatar`` /
``avatar.png``, a card PNG's own picture, an acore ``avatar`` data URI), a profile banner (character.env
``banner``, a path relative to the folder, else ``banner.png`` / ``.jpg`` / ``.jpeg`` / ``.gif`` / ``.webp``)
and a profile bio (character.env ``bio``, else a card's ``extensions.kindred.bio``), at most
:data:`BIO_LIMIT` characters. An evolution stage may declare its own ``avatar``, ``banner`` (pictures in the
folder) and ``bio`` (:func:`stage_face`); the loader resolves them here, so a missing picture fails at
load, named with its file and field. Whether a picture is one Discord takes (type, size) is checked as the
face is shown (bot/features/faces/character_faces.py), so a bad one is reported, never sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from bot.core.errors import ConfigError
from bot.core.persona.claudemask import env_text
from bot.core.persona.fields import kind_of
from bot.core.persona.model import FieldChanges, Persona
from database.boundary import Json

BIO_LIMIT = 190  # characters, as Discord allows for a member's bio
BANNER_NAMES = tuple(f"banner.{ext}" for ext in ("png", "jpg", "jpeg", "gif", "webp"))


def _bio(value: str, fail: Callable[[str, str], ConfigError], path: str) -> str:
    bio = value.strip()
    if len(bio) > BIO_LIMIT:
        raise fail(path, f"a profile bio is at most {BIO_LIMIT} characters, this one has {len(bio)}")
    return bio


def stage_face(obj: Mapping[str, Json], fail: Callable[[str, str], ConfigError], path: str) -> FieldChanges:
    """An evolution stage's ``avatar``, ``banner`` and ``bio`` fields (paths still relative to the folder)."""
    changes: FieldChanges = {}
    for key in ("avatar", "banner", "bio"):
        value = obj.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise fail(f"{path}.{key}", f"expected text, got {kind_of(value)}")
        changes[key] = _bio(value, fail, f"{path}.bio") if key == "bio" else Path(value.strip())
    return changes


def _in_folder(folder: Path, value: Path, file: str, key: str) -> Path:
    path = value.expanduser()
    path = path if path.is_absolute() else folder / path
    if not path.is_file():
        raise ConfigError(file, key, f"no such file: {value}")
    return path


def _card_bio(persona: Persona) -> str:
    said = persona.kindred_said("bio")
    return said if isinstance(said, str) else ""


def face_fields(folder: Path, env: Mapping[str, str], persona: Persona) -> FieldChanges:
    """The persona's ``banner_path``, ``bio`` and its stages with their pictures found in ``folder``."""
    env_file = str(folder / "character.env")

    def fail(path: str, message: str) -> ConfigError:
        return ConfigError(env_file, path, message)

    named = env_text(env, "banner")
    if named:
        banner: Path | None = _in_folder(folder, Path(named), env_file, "banner")
    else:
        banner = next((folder / n for n in BANNER_NAMES if (folder / n).is_file()), None)
    bio = env_text(env, "bio")
    bio = _bio(bio, fail, "bio") if bio else _bio(_card_bio(persona), fail, "extensions.kindred.bio")
    source = str(persona.source_path or folder)
    stages = tuple(
        replace(s, avatar=_in_folder(folder, s.avatar, source, f"evolution stage {s.name!r}: avatar")
                if s.avatar is not None else None,
                banner=_in_folder(folder, s.banner, source, f"evolution stage {s.name!r}: banner")
                if s.banner is not None else None)
        for s in persona.evolution)
    return {"banner_path": banner, "bio": bio, "evolution": stages}
