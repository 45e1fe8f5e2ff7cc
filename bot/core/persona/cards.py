"""SillyTavern character cards (V1, V2 ``chara_card_v2``, V3 ``chara_card_v3``) as JSON or PNG.

A PNG card carries the card JSON, base64-encoded, in a ``tEXt``/``zTXt``/``iTXt`` chunk named ``chara``
(V2) or ``ccv3`` (V3); when both are present ``ccv3`` wins. PNG chunks are read and written in
bot/core/persona/png.py, so cards need no imaging library.

How a card becomes a :class:`Persona`:

* the system prompt is the card's ``system_prompt`` (``{{original}}`` inserts Kindred's default main
  prompt; an empty one means the default), then the description, personality, scenario and example
  dialogue, each under its own heading;
* ``{{char}}`` (and the V1 ``<BOT>``) become the name at load time; ``{{user}}`` (and ``<USER>``) stay for
  :meth:`Persona.render` to fill per reply;
* ``first_mes``, ``alternate_greetings``, ``mes_example`` and ``post_history_instructions`` map to the
  Persona fields of the same meaning; ``character_book`` becomes the lorebook;
* the whole card is kept in ``Persona.extra["card"]`` so :func:`export_card` writes unknown fields and
  ``extensions`` back untouched.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import shutil
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.core.errors import ConfigError
from bot.core.persona.lorebook import lorebook_from_dict, lorebook_to_dict
from bot.core.persona.model import FieldChanges, Lorebook, Persona, render_macros
from bot.core.persona.png import CARD_KEYWORDS, PNG_SIGNATURE, embed_card_png, placeholder_png, png_text
from bot.core.persona.template import folder_name_for, usable_folder_name
from database.boundary import Json, JsonObject

DEFAULT_MAIN_PROMPT = (
    "You are {{char}}. Write {{char}}'s next reply in this conversation with {{user}} and anyone else "
    "present, staying fully in character."
)

# Fields the V2 spec requires inside ``data``; export fills any that are missing with empty values.
V2_FIELDS: JsonObject = {
    "name": "", "description": "", "personality": "", "scenario": "", "first_mes": "", "mes_example": "",
    "creator_notes": "", "system_prompt": "", "post_history_instructions": "", "alternate_greetings": [],
    "tags": [], "creator": "", "character_version": "", "extensions": {},
}
V3_ONLY_FIELDS = ("assets", "nickname", "creator_notes_multilingual", "source", "group_only_greetings",
                  "creation_date", "modification_date")
_TEXT_FIELDS = ("description", "personality", "scenario", "first_mes", "mes_example", "creator_notes",
                "system_prompt", "post_history_instructions", "creator", "character_version", "nickname")
_LIST_FIELDS = ("alternate_greetings", "tags", "group_only_greetings")
_V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")


# --------------------------------------------------------------------------- reading cards


@dataclass(frozen=True)
class Card:
    """A validated card: ``data`` is the V2/V3 ``data`` object (V1 cards are lifted into it)."""

    data: JsonObject
    version: int
    path: Path | None = None
    png: bytes | None = None
    lorebook: Lorebook | None = None

    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))

    def as_dict(self) -> JsonObject:
        return card_dict(self.data, self.version)


def _b64_json(text: str, file: str, key: str) -> Json:
    try:
        raw = base64.b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
        return json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(file, key, f"the embedded card is not base64-encoded JSON: {exc}") from None


def card_payload_from_png(data: bytes, file: str) -> Json:
    """The decoded card JSON of a PNG card (``ccv3`` preferred over ``chara``)."""
    try:
        texts = {k.lower(): v for k, v in reversed(list(png_text(data, CARD_KEYWORDS).items()))}
    except (ValueError, zlib.error, UnicodeDecodeError) as exc:
        raise ConfigError(file, "png", str(exc)) from None
    for keyword in CARD_KEYWORDS:
        if keyword in texts:
            return _b64_json(texts[keyword], file, keyword)
    raise ConfigError(file, "chara",
                      "no character card in this PNG (expected a tEXt/iTXt chunk named chara or ccv3)")


def parse_card(raw: Json, file: str) -> Card:
    """Validate a card object; every error names ``file`` and the field."""
    if not isinstance(raw, dict):
        raise ConfigError(file, "spec", "a card must be a JSON object")
    spec = raw.get("spec")
    if spec is None and "data" not in raw:
        data, version = {k: raw.get(k, "") for k in _V1_FIELDS}, 1  # V1: the fields sit at the top level
    elif spec in ("chara_card_v2", "chara_card_v3"):
        found = raw.get("data")
        if not isinstance(found, dict):
            raise ConfigError(file, "data", "missing: a V2/V3 card keeps its fields in a data object")
        data, version = found, 3 if spec == "chara_card_v3" else 2
    else:
        raise ConfigError(
            file, "spec", f"unsupported card spec {spec!r} (expected chara_card_v2 or chara_card_v3)"
        )
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(file, "data.name", "missing: the card has no character name")
    for key in _TEXT_FIELDS:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(file, f"data.{key}", f"expected text, got {type(value).__name__}")
    for key in _LIST_FIELDS:
        value = data.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise ConfigError(file, f"data.{key}", "expected a list of text")
    ext = data.get("extensions")
    if ext is not None and not isinstance(ext, dict):
        raise ConfigError(file, "data.extensions", "expected an object")
    book = data.get("character_book")
    lorebook = lorebook_from_dict(book, file, "data.character_book") if book is not None else None
    return Card(data=copy.deepcopy(data), version=version, lorebook=lorebook)


def read_card(path: Path) -> Card:
    """A card from a ``.json`` or ``.png`` file."""
    file = str(path)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(file, "file", "no such file") from None
    except OSError as exc:
        raise ConfigError(file, "file", f"cannot read: {exc.strerror}") from None
    if blob.startswith(PNG_SIGNATURE):
        card = parse_card(card_payload_from_png(blob, file), file)
        return Card(card.data, card.version, path, blob, card.lorebook)
    try:
        raw = json.loads(blob.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(file, "json", f"neither a PNG nor valid JSON: {exc}") from None
    card = parse_card(raw, file)
    return Card(card.data, card.version, path, None, card.lorebook)


def looks_like_card(path: Path) -> bool:
    """Cheap check used by folder detection: a PNG with a card chunk, or JSON with a card spec."""
    try:
        blob = path.read_bytes()
        if blob.startswith(PNG_SIGNATURE):
            keys = {k.lower() for k in png_text(blob, CARD_KEYWORDS)}
            return bool(keys & set(CARD_KEYWORDS))
        raw = json.loads(blob.decode("utf-8-sig"))
    except (OSError, ValueError, zlib.error):
        return False
    return isinstance(raw, dict) and raw.get("spec") in ("chara_card_v2", "chara_card_v3")


def find_card(folder: Path) -> Path | None:
    """``card.png``, ``card.json``, else the first other PNG/JSON file that holds a card."""
    for name in ("card.png", "card.json"):
        if (folder / name).is_file():
            return folder / name
    for pattern in ("*.png", "*.json"):
        for path in sorted(folder.glob(pattern)):
            if path.is_file() and looks_like_card(path):
                return path
    return None


# --------------------------------------------------------------------------- card → persona


def _char_macros(text: str, name: str) -> str:
    """Resolve {{char}} now; keep {{user}} for per-reply rendering (V1 <BOT>/<USER> included)."""
    text = re.sub(r"<BOT>", "{{char}}", text, flags=re.IGNORECASE)
    text = re.sub(r"<USER>", "{{user}}", text, flags=re.IGNORECASE)
    return render_macros(text, char=name, user="{{user}}")


def _original(text: str, default: str) -> str:
    return re.sub(r"\{\{\s*original\s*\}\}", lambda _m: default, text, flags=re.IGNORECASE)


def format_examples(mes_example: str) -> str:
    """Example dialogue blocks (separated by ``<START>``) as plain text blocks, each line as the live chat
    shows one ("name: message"): a person's line written ``{{user}}:`` is said by ``{{user_line}}``, which
    the prompt layout names as the person in a DM and "someone" in a channel (where ``{{user}}`` is a
    description, not a name)."""
    blocks = [b.strip() for b in re.split(r"<START>", mes_example, flags=re.IGNORECASE)]
    lines = []
    for line in "\n\n---\n\n".join(b for b in blocks if b).split("\n"):
        bare = line.lstrip()
        if bare[:9].lower() == "{{user}}:":
            line = "{{user_line}}:" + bare[9:]
        lines.append(line)
    return "\n".join(lines)


def first_sentence(text: str, limit: int = 200) -> str:
    """The text's first sentence, ending outside any brackets; "" where that would cut a bracketed block
    (a W++ ``[character("X") {...}]`` description): a broken fragment describes no one."""
    flat = " ".join(text.split())
    depth = 0
    for i, ch in enumerate(flat):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch in ".!?" and depth == 0 and (i + 1 == len(flat) or flat[i + 1] == " "):
            flat = flat[:i + 1]
            break
    if len(flat) > limit:
        cut = flat[: limit - 1].rstrip()
        return "" if any(cut.count(o) > cut.count(c) for o, c in ("()", "[]", "{}")) else cut + "…"
    return flat


def _talkativeness(value: Json) -> float | None:
    """SillyTavern writes it as a string ("0.5") or a number; anything else (or out of 0..1) is unset."""
    try:
        talk = float(value)
    except (TypeError, ValueError):
        return None
    return talk if 0.0 <= talk <= 1.0 else None


def compile_card_prompt(data: Mapping[str, Json], name: str) -> str:
    """The card's system prompt with its sections in a fixed order."""
    main = (data.get("system_prompt") or "").strip()
    main = _original(main, DEFAULT_MAIN_PROMPT) if main else DEFAULT_MAIN_PROMPT
    parts = [main]
    sections = (
        (f"## About {name}", data.get("description") or ""),
        (f"## {name}'s personality", data.get("personality") or ""),
        ("## Scenario", data.get("scenario") or ""),
        (
            f"## Example dialogue (how {name} talks; not part of this conversation; your own replies carry "
            "no name in front)",
            format_examples(data.get("mes_example") or ""),
        ),
    )
    parts.extend(f"{title}\n{body.strip()}" for title, body in sections if body.strip())
    return _char_macros("\n\n".join(parts), name)


def card_to_persona(card: Card, env: Mapping[str, str], source: Path | None = None) -> Persona:
    """Build the Persona; ``env`` keys (default_name, description, the memory prompts) override the card."""
    data = card.data
    kindred = (data.get("extensions") or {}).get("kindred") or {}
    kindred = kindred if isinstance(kindred, dict) else {}
    name = (env.get("default_name") or "").strip() or data["name"].strip()
    # V3's nickname stands for {{char}} in the card's texts, unless an operator's default_name renamed the
    # character (import-card writes the card's own name there, which renames nothing).
    nickname = str(data.get("nickname") or "").strip() if name == data["name"].strip() else ""
    char = nickname or name
    description = (
        (env.get("description") or "").strip()
        or str(kindred.get("description") or "")
        or first_sentence(_char_macros(data.get("description") or data.get("creator_notes") or "", char))
    )
    overrides: FieldChanges = {}
    for key in ("summarization_prompt", "core_memory_prompt", "core_memory_dump"):
        value = (env.get(key) or "").strip() or kindred.get(key)
        if isinstance(value, str) and value.strip():
            overrides[key] = value
    for key, kind, low, high in (("temperature", float, 0, 1), ("max_tokens", int, 1, 64000)):
        if isinstance(kindred.get(key), int | float) and not isinstance(kindred.get(key), bool):
            if not low <= kindred[key] <= high:  # as default_temperature / default_max_tokens are bounded
                raise ConfigError(str(source or card.path), f"extensions.kindred.{key}",
                                  f"must be between {low} and {high}, got {kindred[key]}")
            overrides[key] = kind(kindred[key])
    phi = _original(data.get("post_history_instructions") or "", "").strip()
    talk = _talkativeness((data.get("extensions") or {}).get("talkativeness"))
    depth = (data.get("extensions") or {}).get("depth_prompt")
    note = depth.get("prompt") if isinstance(depth, dict) else None
    # SillyTavern's depth prompt: at depth 4 unless the card says otherwise
    at = depth.get("depth") if isinstance(depth, dict) else None
    at = int(at) if isinstance(at, int | float) and not isinstance(at, bool) and 0 <= at <= 1000 else 4
    path = source or card.path
    return Persona(
        name=name,
        nickname=nickname,
        talkativeness=talk,
        system_prompt=compile_card_prompt(data, char),
        description=description,
        post_history_instructions=_char_macros(phi, char),
        character_note=_char_macros(note, char).strip() if isinstance(note, str) else "",
        character_note_depth=at,
        description_heading=f"## About {char}" if (data.get("description") or "").strip() else "",
        real_world_time=kindred.get("real_world_time") is not False,
        first_message=_char_macros(data.get("first_mes") or "", char),
        alternate_greetings=tuple(_char_macros(g, char) for g in data.get("alternate_greetings") or ()),
        group_greetings=tuple(_char_macros(g, char) for g in data.get("group_only_greetings") or ()
                              if isinstance(g, str)),
        example_messages=_char_macros(data.get("mes_example") or "", char),
        avatar_path=path if card.png is not None else None,
        lorebook=card.lorebook,
        source_format=f"card_v{card.version}",
        source_path=path,
        extra={"card": card_dict(data, card.version), "card_version": card.version},
        **overrides,
    )


# --------------------------------------------------------------------------- export


def card_dict(data: Mapping[str, Json], version: int) -> JsonObject:
    """A spec-complete card object of ``version`` (2 or 3; 1 is written as 2) from a ``data`` object.

    Known fields missing from ``data`` are added empty; everything else (``extensions`` above all) is
    copied as is. V3-only fields are dropped from a V2 card.
    """
    out = copy.deepcopy(dict(data))
    for key, default in V2_FIELDS.items():
        out.setdefault(key, copy.deepcopy(default))
    if version == 3:
        out.setdefault("group_only_greetings", [])
        return {"spec": "chara_card_v3", "spec_version": "3.0", "data": out}
    for key in V3_ONLY_FIELDS:
        out.pop(key, None)
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": out}


def persona_card_data(persona: Persona) -> JsonObject:
    """The card ``data`` for a persona: its original card when it came from one, else built from fields."""
    original = persona.extra.get("card")
    if isinstance(original, dict) and isinstance(original.get("data"), dict):
        return copy.deepcopy(original["data"])
    data: JsonObject = {
        "name": persona.name,
        "description": persona.description,
        "personality": "",
        "scenario": "",
        "first_mes": persona.first_message,
        "mes_example": persona.example_messages,
        "creator_notes": persona.description,
        # The compiled prompt already is the whole character, so it becomes the card's main prompt.
        "system_prompt": persona.system_prompt,
        "post_history_instructions": persona.post_history_instructions,
        "alternate_greetings": list(persona.alternate_greetings),
        "tags": [],
        "creator": "Kindred",
        "character_version": "",
        "extensions": {
            "kindred": {
                "source_format": persona.source_format,
                "description": persona.description,
                "summarization_prompt": persona.summarization_prompt,
                "core_memory_prompt": persona.core_memory_prompt,
                "core_memory_dump": persona.core_memory_dump,
                **({"temperature": persona.temperature} if persona.temperature is not None else {}),
                **({"max_tokens": persona.max_tokens} if persona.max_tokens is not None else {}),
            }
        },
    }
    # What acore_bot (and Kindred, reading it back) takes from a card's extensions.
    extensions = data["extensions"]
    if persona.topic_interests:
        extensions["topic_interests"] = list(persona.topic_interests)
    if persona.topic_avoidances:
        extensions["topic_avoidances"] = list(persona.topic_avoidances)
    if persona.evolution:
        extensions["evolution_stages"] = [
            {"milestone": s.min_interactions, "name": s.name,
             "unlocks": {"tone": s.tone, "quirks": list(s.quirks), "knowledge_expansion": list(s.knowledge)}}
            for s in persona.evolution
        ]
    if persona.avatar_url:
        data["avatar_url"] = persona.avatar_url
    if persona.lorebook is not None:
        data["character_book"] = lorebook_to_dict(persona.lorebook)
    return data


def export_card(
    persona_or_card: Persona | Card | Mapping[str, Json],
    path: Path,
    version: int = 2,
    png: bool = False,
    image: bytes | None = None,
) -> Path:
    """Write a V2 or V3 card as JSON, or embedded in a PNG (``image``, else the persona's own PNG, else a
    16×16 placeholder). A V3 PNG also carries a V2 ``chara`` chunk for older readers. Returns ``path``."""
    if version not in (2, 3):
        raise ValueError(f"card version must be 2 or 3, got {version!r}")
    base_png: bytes | None = image
    if isinstance(persona_or_card, Persona):
        data = persona_card_data(persona_or_card)
        avatar = persona_or_card.avatar_path
        if base_png is None and avatar is not None and avatar.is_file():
            blob = avatar.read_bytes()
            base_png = blob if blob.startswith(PNG_SIGNATURE) else None
    elif isinstance(persona_or_card, Card):
        data = copy.deepcopy(persona_or_card.data)
        base_png = base_png or persona_or_card.png
    else:
        raw = dict(persona_or_card)
        data = copy.deepcopy(raw["data"] if isinstance(raw.get("data"), dict) else raw)
    card = card_dict(data, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not png:
        path.write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return path

    def b64(obj: Mapping[str, Json]) -> str:
        return base64.b64encode(json.dumps(obj, ensure_ascii=False).encode("utf-8")).decode("ascii")

    payloads = {"chara": b64(card_dict(data, 2))}
    if version == 3:
        payloads["ccv3"] = b64(card)
    path.write_bytes(embed_card_png(base_png or placeholder_png(), payloads))
    return path


# --------------------------------------------------------------------------- import (CLI)


def _dotenv_quote(value: str) -> str:
    """A value python-dotenv reads back verbatim (double quotes decode escapes; single quotes skip ${})."""
    if "${" in value and "'" not in value and "\n" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def new_character_folder(source: Path, characters_dir: Path, name: str, as_name: str | None) -> Path:
    """``characters_dir/<as_name or the folder name of name>`` (new-character's, in any script), checked to
    be a usable and unused folder name."""
    folder_name = as_name if as_name is not None else (folder_name_for(name) or "character")
    if not usable_folder_name(folder_name):
        raise ConfigError(
            str(source), "--as", f"not a usable folder name: {folder_name!r} (letters, digits, - _ .)"
        )
    target = characters_dir / folder_name
    if target.exists():
        raise ConfigError(
            str(target), "--as", "that character folder already exists; choose another name with --as"
        )
    return target


# What every character.env says of secrets (the template's, the examples', an import's): README "Secrets".
SECRETS_COMMENT = (
    "# Secrets: never here (this file is shared and committed). Put them in character.local.env",
    "# beside it (git-ignored), or in the environment (DISCORD_TOKEN, ANTHROPIC_API_KEY...), which",
    "# wins over both files; the placeholders below are ignored.",
)


def write_character_env(target: Path, persona: Persona, header: list[str]) -> None:
    """A ``character.env`` with the name, a one-line description and commented secret placeholders."""
    lines = [
        *header,
        "",
        *SECRETS_COMMENT,
        '# discord_token="your_Discord_bot_token"',
        '# ANTHROPIC_API_KEY="your_Anthropic_API_key"',
        "# log_channel=0",
        "",
        f"default_name={_dotenv_quote(persona.name)}",
        f"description={_dotenv_quote(persona.description)}",
        "",
        "# Optional, in the character's own voice ({user_name} is filled in):",
        f"# summarization_prompt={_dotenv_quote(persona.summarization_prompt)}",
        f"# core_memory_prompt={_dotenv_quote(persona.core_memory_prompt)}",
        f"# core_memory_dump={_dotenv_quote(persona.core_memory_dump)}",
        "",
    ]
    (target / "character.env").write_text("\n".join(lines), encoding="utf-8")


def import_card(path: Path, characters_dir: Path, as_name: str | None = None) -> Path:
    """Create ``characters_dir/<name>`` from a card file: the card copied in as ``card.png``/``card.json``
    and a ``character.env`` with the name, a one-line description and commented secret placeholders."""
    card = read_card(path)
    target = new_character_folder(path, characters_dir, card.name, as_name)
    persona = card_to_persona(card, {})
    target.mkdir(parents=True)
    card_file = target / ("card.png" if card.png is not None else "card.json")
    shutil.copyfile(path, card_file)
    write_character_env(target, persona, [
        f"# Kindred character folder imported from {path.name} (character card V{card.version}).",
        f"# {card_file.name} holds the prompt, greetings and lorebook; the keys below override the card.",
    ])
    return target
