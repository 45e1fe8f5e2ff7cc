"""Characters in and out: ``import-card`` (a SillyTavern card or an acore_bot character file becomes a
character folder) and ``export-card`` (any character folder becomes a SillyTavern V2/V3 card)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from bot.core.errors import ConfigError, not_utf8
from bot.core.persona.acore import acore_kind, peek_json
from bot.core.persona.cards import (
    export_card,
    find_card,
    import_card,
    new_character_folder,
    persona_card_data,
    read_card,
    write_character_env,
)
from bot.core.persona.loader import load_persona
from bot.core.persona.lorebook import lorebook_to_dict
from bot.core.persona.model import Persona
from bot.core.persona.png import PNG_SIGNATURE
from bot.core.persona.register import tagged_nsfw


def import_character(path: Path, characters_dir: Path, as_name: str | None = None) -> Path:
    """A new folder under ``characters_dir`` from a card, or from an acore_bot character JSON kept as it is
    (with the framework it names, found in acore's ``prompts/frameworks/`` beside its ``characters/``)."""
    if path.name.endswith(".env"):
        return _import_claudemask(path, characters_dir, as_name)
    data = peek_json(path) if path.suffix.lower() == ".json" else None
    if acore_kind(data) is None:
        return mark_mature(import_card(path, characters_dir, as_name))
    assert isinstance(data, dict)
    name = data.get("display_name") or data.get("character_name") or data.get("name") or path.stem
    found = data.get("description")
    description = found if isinstance(found, str) else ""
    persona = Persona(name=str(name), system_prompt="", description=description)
    target = new_character_folder(path, characters_dir, persona.name, as_name)
    target.mkdir(parents=True)
    shutil.copyfile(path, target / path.name)
    wanted = {data.get("framework_id") or data.get("framework")}
    blending = (data.get("extensions") or {}).get("framework_blending") or {}
    if isinstance(blending, dict):
        wanted |= {blending.get("base_framework")}
        wanted |= {r.get("framework") for r in blending.get("blend_rules") or () if isinstance(r, dict)}
    for fid in sorted(f for f in wanted if isinstance(f, str) and f):
        for source in (
            path.parent.parent / "frameworks" / f"{fid}.json",
            path.parent / "frameworks" / f"{fid}.json",
        ):
            if source.is_file():
                (target / "frameworks").mkdir(exist_ok=True)
                shutil.copyfile(source, target / "frameworks" / source.name)
                break
    write_character_env(
        target,
        persona,
        [
            f"# Kindred character folder imported from acore_bot's {path.name}, kept unchanged.",
            "# Its frameworks are in frameworks/; the keys below override the file.",
        ],
    )
    try:
        load_persona(target, {})  # a file Kindred cannot play is refused now, not at the next start
    except ConfigError:
        shutil.rmtree(target)
        raise
    return target


def mark_mature(folder: Path) -> Path:
    """An imported card tagged NSFW is marked mature in its character.env, where the operator sees it
    (the loader reads the tag too: the line says so and is the one place to turn it off)."""
    card = find_card(folder)
    if card is not None and tagged_nsfw(read_card(card).as_dict()):
        with (folder / "character.env").open("a", encoding="utf-8") as env:
            env.write("\n# The card is tagged NSFW: its full register only in age-restricted channels,\n"
                      "# a safe one elsewhere and in DMs (docs/characters.md, Mature characters);\n"
                      "# safe_register=\"...\" says how it keeps to it.\nmature=true\n")
    return folder


def _import_claudemask(path: Path, characters_dir: Path, as_name: str | None) -> Path:
    """A ClaudeMask ``character.env`` (the whole character in one file) copied into a new folder."""
    from dotenv import dotenv_values

    try:
        values = dotenv_values(path, encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(str(path), "file", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "file", not_utf8(exc)) from None
    name = next((str(v) for k, v in values.items() if k.lower() == "default_name" and v), "")
    target = new_character_folder(path, characters_dir, name or path.parent.name, as_name)
    target.mkdir(parents=True)
    shutil.copyfile(path, target / "character.env")
    try:
        load_persona(target, {k: v for k, v in values.items() if v is not None})
    except ConfigError:
        shutil.rmtree(target)
        raise
    return target


def card_data_for_export(persona: Persona) -> dict[str, object]:
    """The card ``data`` to write: the character's own card (or one built from its fields), with the lorebook
    the folder adds (``lorebook.json`` / ``lorebook=``) when it differs from the card's own."""
    data = persona_card_data(persona)
    if persona.lorebook is not None and persona.extra.get("card") is not None:
        own = read_card(persona.source_path).lorebook if persona.source_path is not None else None
        if own != persona.lorebook:
            data["character_book"] = lorebook_to_dict(persona.lorebook)
    return data


def export_character(persona: Persona, out: Path, *, png: bool, version: int) -> Path:
    """Write ``persona`` as a card at ``out``: JSON, or PNG with the avatar as its picture when it has one."""
    image = persona.avatar_bytes()
    if image is not None and not image.startswith(PNG_SIGNATURE):
        image = None  # a card is a PNG; a JPEG or GIF avatar leaves the placeholder picture
    return export_card({"data": card_data_for_export(persona)}, out, version=version, png=png, image=image)


def default_export_path(folder: Path, exports: Path, png: bool) -> Path:
    return exports / f"{folder.resolve().name}.{'png' if png else 'json'}"


def export_folder(folder: Path, env: Mapping[str, str], out: Path, *, png: bool, version: int) -> Path:
    return export_character(load_persona(folder, env), out, png=png, version=version)
