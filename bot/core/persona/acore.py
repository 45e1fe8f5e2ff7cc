"""acore_bot's characters, read unchanged from a character folder.

Three kinds of JSON file (found as ``character.json`` or any other ``*.json`` of the folder):

* legacy JSON: ``character_id``, ``display_name``, ``identity``, ``knowledge_domain``, ``opinions``,
  ``voice_and_tone``, ``response_style``, ``quirks``, ``framework`` (or ``framework_id``); compiled like a
  Kindred framework character, with the named framework from the folder's ``frameworks/``;
* the advanced persona (``example_advanced_persona.json``): ``display_name``, ``system_prompt``, ``core``,
  ``knowledge``, ``extensions`` (``character_evolution``, ``topic_filtering``, ``framework_blending``);
* a compiled persona (``prompts/compiled/*.json``): ``character_name`` and the finished ``system_prompt``.

acore's SillyTavern V2 cards are read as cards (:mod:`bot.core.persona.cards`);
:mod:`bot.core.persona.acore_cards` adds what their ``data.extensions`` carry. Fields with no counterpart in
Kindred are collected in ``Persona.unused_fields`` (logged in one line at start-up).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from bot.core.errors import ConfigError
from bot.core.persona.acore_frameworks import (
    blend_rules,
    humanize,
    load_all_frameworks,
    setting_lines,
    with_frameworks,
)
from bot.core.persona.claudemask import env_text, memory_prompt_overrides, resolve_char
from bot.core.persona.faces import stage_face
from bot.core.persona.fields import kind_of, read_json_object
from bot.core.persona.framework import compile_framework_prompt
from bot.core.persona.model import EvolutionStage, FieldChanges, Persona
from database.boundary import Json, JsonObject

log = logging.getLogger(__name__)

_NOT_CHARACTERS = {"framework.json", "lorebook.json", "identity.json", "card.json"}
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


def acore_kind(data: Json) -> str | None:
    """``legacy``, ``advanced`` or ``compiled`` for an acore character object, else None."""
    if not isinstance(data, dict) or "spec" in data:
        return None
    if "persona_id" in data and "system_prompt" in data:
        return "compiled"
    if "character_id" in data and "identity" in data:
        return "legacy"
    if "display_name" in data and ("core" in data or "system_prompt" in data) and "id" not in data:
        return "advanced"
    return None


def peek_json(path: Path) -> Json:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None  # not ours to judge here: whoever reads it reports it


def find_acore_character(folder: Path) -> Path | None:
    """``character.json`` when it is acore-shaped, else the first other acore character JSON here."""
    candidates = [folder / "character.json"] + sorted(
        p for p in folder.glob("*.json") if p.name not in _NOT_CHARACTERS and p.name != "character.json")
    return next((p for p in candidates if p.is_file() and acore_kind(peek_json(p)) is not None), None)


# --------------------------------------------------------------------------- shared fields


def texts(value: Json, file: str, path: str) -> tuple[str, ...]:
    """Text, a number or a list of them (acore's lists of traits, topics, quirks)."""
    if value is None:
        return ()
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return (str(value).strip(),) if str(value).strip() else ()
    if not isinstance(value, list):
        raise ConfigError(file, path, f"expected a list of text, got {kind_of(value)}")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ConfigError(file, f"{path}[{i}]", f"expected text, got {kind_of(item)}")
        if str(item).strip():
            out.append(str(item).strip())
    return tuple(out)


def as_object(value: Json, file: str, path: str) -> JsonObject:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(file, path, f"expected an object, got {kind_of(value)}")
    return value


def avatar_fields(value: Json, file: str, path: str) -> JsonObject:
    """An acore avatar: an http(s) URL (Discord fetches it; nothing downloads here), or a picture in base64
    (a ``data:image/...;base64,`` URI or bare base64)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if not isinstance(value, str):
        raise ConfigError(file, path, f"expected a URL or a base64 picture, got {kind_of(value)}")
    text = value.strip()
    if re.match(r"https?://\S+$", text):
        return {"avatar_url": text}
    encoded = text.split(",", 1)[1] if text.startswith("data:") and "," in text else text
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        blob = b""
    if not blob.startswith(_IMAGE_MAGIC) and not (blob[:4] == b"RIFF" and blob[8:12] == b"WEBP"):
        raise ConfigError(file, path, "expected an http(s) URL or a base64 PNG, JPEG, GIF or WebP picture")
    return {"avatar_data": blob}


def acore_stages(raw: Json, file: str, path: str) -> tuple[tuple[EvolutionStage, ...], list[str]]:
    """``[{"milestone": 50, "unlocks": {"tone", "quirks", "knowledge_expansion"}}]`` as evolution stages."""
    if raw is None:
        return (), []
    if not isinstance(raw, list):
        raise ConfigError(file, path, f"expected a list, got {kind_of(raw)}")
    stages: dict[int, EvolutionStage] = {}
    unused: list[str] = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        stage = as_object(item, file, where)
        milestone = stage.get("milestone")
        if isinstance(milestone, bool) or not isinstance(milestone, int) or milestone < 0:
            raise ConfigError(file, f"{where}.milestone",
                              f"expected a whole number of messages, got {milestone!r}")
        if milestone in stages:
            raise ConfigError(file, f"{where}.milestone", f"another stage already starts at {milestone}")
        unlocks = as_object(stage.get("unlocks"), file, f"{where}.unlocks")
        tone = unlocks.get("tone")
        if tone is not None and not isinstance(tone, str):
            raise ConfigError(file, f"{where}.unlocks.tone", f"expected text, got {kind_of(tone)}")
        name = stage.get("name") if isinstance(stage.get("name"), str) else ""
        stages[milestone] = EvolutionStage(
            min_interactions=milestone,
            name=name or (humanize(tone).capitalize() if tone else f"{milestone} messages"),
            tone=humanize(tone) if tone else "",
            quirks=tuple(humanize(q) for q in texts(unlocks.get("quirks"), file, f"{where}.unlocks.quirks")),
            knowledge=tuple(
                humanize(k)
                for k in texts(
                    unlocks.get("knowledge_expansion"), file, f"{where}.unlocks.knowledge_expansion"
                )
            ),
            **stage_face(stage, lambda at, message: ConfigError(file, at, message), where),
        )
        unused += [
            f"{where}.unlocks.{k}" for k in unlocks if k not in {"tone", "quirks", "knowledge_expansion"}
        ]
    return tuple(stages[m] for m in sorted(stages)), unused


def _with_env(persona: Persona, env: Mapping[str, str]) -> Persona:
    """character.env's ``default_name``, ``description`` and memory prompts win over the file."""
    changes: FieldChanges = {**memory_prompt_overrides(env)}
    if env_text(env, "description"):
        changes["description"] = env_text(env, "description")
    name = env_text(env, "default_name") or persona.name
    persona = replace(persona, name=name, **changes)
    return replace(
        persona,
        system_prompt=resolve_char(persona.system_prompt, name),
        first_message=resolve_char(persona.first_message, name),
    )


# --------------------------------------------------------------------------- legacy JSON

_LEGACY_USED = {"character_id", "display_name", "description", "identity", "knowledge_domain", "opinions",
                "voice_and_tone", "response_style", "quirks", "framework", "framework_id", "topic_interests",
                "topic_avoidances", "evolution_stages", "avatar_url", "avatar", "first_message"}


def _opinions(raw: Json, file: str) -> list[str]:
    out = []
    for key, value in as_object(raw, file, "opinions").items():
        if isinstance(value, dict):
            for sub, items in value.items():
                out.append(
                    f"{humanize(key).capitalize()} {humanize(sub)}: "
                    + ", ".join(texts(items, file, f"opinions.{key}.{sub}"))
                )
        else:
            out.append(f"{humanize(key).capitalize()}: " + "; ".join(texts(value, file, f"opinions.{key}")))
    return out


def _legacy(data: Mapping[str, Json], file: str, folder: Path) -> tuple[Persona, list[str]]:
    identity = as_object(data.get("identity"), file, "identity")
    for key, value in identity.items():
        texts(value, file, f"identity.{key}")  # every problem named with acore's own field
    knowledge = as_object(data.get("knowledge_domain"), file, "knowledge_domain")
    voice = as_object(data.get("voice_and_tone"), file, "voice_and_tone")
    quirks = data.get("quirks")
    quirk_groups = quirks if isinstance(quirks, dict) else {"quirks": quirks}
    phrases = texts(quirk_groups.get("catchphrases"), file, "quirks.catchphrases")
    other_quirks: list[str] = []
    for group, value in quirk_groups.items():
        where = f"quirks.{group}" if isinstance(quirks, dict) else "quirks"
        if isinstance(value, dict):  # e.g. triggers: {engage_on: [...], gets_frustrated_by: [...]}
            other_quirks += setting_lines(value, file, where)
        elif group != "catchphrases":
            other_quirks += texts(value, file, where)
    triggers = quirk_groups.get("triggers")
    engage_on = (
        texts(triggers.get("engage_on"), file, "quirks.triggers.engage_on")
        if isinstance(triggers, dict)
        else ()
    )
    tone = voice.get("default_tone")
    style = [
        *setting_lines({k: v for k, v in voice.items() if k != "default_tone"}, file, "voice_and_tone"),
        *setting_lines(data.get("response_style"), file, "response_style"),
    ]
    frameworks = load_all_frameworks(folder)
    chosen = data.get("framework_id", data.get("framework"))
    key = "framework_id" if "framework_id" in data else "framework"
    unused = [f"knowledge_domain.{k}" for k in knowledge if k == "rag_categories"]
    if chosen is not None and not isinstance(chosen, str):
        raise ConfigError(file, key, f"expected a framework id (text), got {kind_of(chosen)}")
    if chosen and chosen not in frameworks:
        # acore itself goes on without a missing framework; so does Kindred, saying so.
        log.warning(
            "%s: %s: no framework %r in %s; the character goes on without it",
            file,
            key,
            chosen,
            folder / "frameworks",
        )
        unused.append(f"{key} ({chosen}: no such framework here)")
    if chosen and chosen in frameworks:
        frameworks = {chosen: frameworks[chosen]}
    summary = data.get("description") or identity.get("who")
    if isinstance(summary, str) and summary.strip() and summary.strip()[-1] not in ".!?":
        summary = summary.strip() + "."
    character = {
        "id": re.sub(r"[^a-z0-9_-]+", "_", str(data.get("character_id", "")).lower()).strip("_")
        or "character",
        "display_name": data.get("display_name"),
        "summary": summary,
        "identity": identity,
        "knowledge_domain": {k: v for k, v in knowledge.items() if k != "rag_categories"},
        "opinions": _opinions(data.get("opinions"), file),
        "voice_and_tone": {
            "tone": humanize(tone) if isinstance(tone, str) else None,
            "style_notes": style,
            "sample_phrases": list(phrases),
        },
        "quirks": other_quirks,
        "topic_interests": list(
            dict.fromkeys([*texts(data.get("topic_interests"), file, "topic_interests"), *engage_on])
        ),
        "topic_avoidances": list(texts(data.get("topic_avoidances"), file, "topic_avoidances")),
        "first_message": data.get("first_message"),
    }
    persona = compile_framework_prompt(character, frameworks, file)
    stages, more = acore_stages(data.get("evolution_stages"), file, "evolution_stages")
    avatar = avatar_fields(
        data.get("avatar_url", data.get("avatar")), file, "avatar_url" if "avatar_url" in data else "avatar"
    )
    unused += more
    unused += [k for k in data if k not in _LEGACY_USED and k != "version"]
    return replace(persona, evolution=stages, source_format="acore_legacy", **avatar), unused


# --------------------------------------------------------------------------- advanced persona, compiled


def _advanced(data: Mapping[str, Json], file: str, folder: Path) -> tuple[Persona, list[str]]:
    name = data.get("display_name") or data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(file, "display_name", "missing: the character has no name")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise ConfigError(file, "description", f"expected text, got {kind_of(description)}")
    prompt = data.get("system_prompt")
    unused: list[str] = []
    if prompt is not None and not isinstance(prompt, str):
        raise ConfigError(file, "system_prompt", f"expected text, got {kind_of(prompt)}")
    if prompt and prompt.strip():
        unused += [k for k in ("core",) if k in data]  # the finished prompt already says it
    else:
        lines = setting_lines(as_object(data.get("core"), file, "core"), file, "core")
        prompt = "\n".join([f"You are {name.strip()}. {description}".strip(), *lines])
    knowledge = as_object(data.get("knowledge"), file, "knowledge")
    ext = as_object(data.get("extensions"), file, "extensions")
    filtering = as_object(ext.get("topic_filtering"), file, "extensions.topic_filtering")
    interests = dict.fromkeys(
        [
            *texts(knowledge.get("topic_interests"), file, "knowledge.topic_interests"),
            *texts(filtering.get("interests"), file, "extensions.topic_filtering.interests"),
        ]
    )
    avoid = dict.fromkeys(
        [
            *texts(knowledge.get("topic_avoidances"), file, "knowledge.topic_avoidances"),
            *texts(filtering.get("avoidances"), file, "extensions.topic_filtering.avoidances"),
        ]
    )
    evolution = as_object(ext.get("character_evolution"), file, "extensions.character_evolution")
    stages = []
    for milestone, unlock in as_object(
        evolution.get("evolutions"), file, "extensions.character_evolution.evolutions"
    ).items():
        where = f"extensions.character_evolution.evolutions.{milestone}"
        if not milestone.isdigit():
            raise ConfigError(file, where, "expected a whole number of messages as the key")
        step = as_object(unlock, file, where)
        label = step.get("unlock") or f"{milestone} messages"
        stages.append(
            EvolutionStage(
                int(milestone), humanize(label).capitalize(), tone=str(step.get("description") or "")
            )
        )
    frameworks = load_all_frameworks(folder)
    blending, more = blend_rules(
        ext.get("framework_blending"), file, "extensions.framework_blending", frameworks
    )
    unused += more + [f"knowledge.{k}" for k in knowledge if k not in {"topic_interests", "topic_avoidances"}]
    unused += [
        k
        for k in data
        if k
        not in {
            "name",
            "display_name",
            "description",
            "system_prompt",
            "core",
            "knowledge",
            "extensions",
            "version",
        }
    ]
    unused += [
        f"extensions.{k}"
        for k in ext
        if k not in {"topic_filtering", "character_evolution", "framework_blending"}
    ]
    persona = Persona(
        name=name.strip(),
        system_prompt=prompt.strip(),
        description=description.strip(),
        topic_interests=tuple(interests),
        topic_avoidances=tuple(avoid),
        evolution=tuple(sorted(stages, key=lambda s: s.min_interactions)),
        source_format="acore_persona",
    )
    if blending:
        persona = with_frameworks(persona, frameworks, blending)
    return persona, unused


def _compiled(data: Mapping[str, Json], file: str) -> tuple[Persona, list[str]]:
    name = data.get("character_name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(file, "character_name", "missing: the compiled persona has no character name")
    prompt = data.get("system_prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ConfigError(file, "system_prompt", "missing: the compiled persona has no prompt")
    unused = [k for k in ("tools_required", "config", "compiled_at") if data.get(k)]
    return Persona(name=name.strip(), system_prompt=prompt.strip(), source_format="acore_compiled"), unused


def load_acore_character(path: Path, folder: Path, env: Mapping[str, str]) -> Persona:
    file = str(path)
    data = read_json_object(path)
    kind = acore_kind(data)
    if kind == "legacy":
        persona, unused = _legacy(data, file, folder)
    elif kind == "advanced":
        persona, unused = _advanced(data, file, folder)
    else:
        persona, unused = _compiled(data, file)
    persona = replace(persona, source_path=path, unused_fields=tuple(f"{path.name}: {u}" for u in unused))
    return _with_env(persona, env)
