"""acore_bot's SillyTavern V2 cards: what their ``data.extensions`` (and ``data.avatar_url``) carry, on top
of everything a card carries (:mod:`bot.core.persona.cards`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.core.errors import ConfigError
from bot.core.persona.acore import acore_stages, as_object, avatar_fields, texts
from bot.core.persona.acore_frameworks import blend_rules, load_all_frameworks, setting_lines, with_frameworks
from bot.core.persona.cards import V2_FIELDS, V3_ONLY_FIELDS, Card
from bot.core.persona.fields import kind_of
from bot.core.persona.lorebook import lorebook_from_dict, merge_lorebooks
from bot.core.persona.model import FieldChanges, Persona
from database.boundary import Json

_EXTENSIONS_USED = {"topic_interests", "topic_avoidances", "evolution_stages", "mode_profiles",
                    "framework_blending", "kindred"}


def _mode_section(raw: Json, file: str, path: str) -> tuple[str, list[str]]:
    """acore's ``mode_profiles``: the default mode's tone and style join the prompt."""
    profiles = as_object(raw, file, path)
    modes = profiles.get("available_modes") or []
    if not isinstance(modes, list):
        raise ConfigError(file, f"{path}.available_modes", f"expected a list, got {kind_of(modes)}")
    default = profiles.get("default_mode")
    for i, mode in enumerate(modes):
        mode = as_object(mode, file, f"{path}.available_modes[{i}]")
        if mode.get("id") == default:
            lines = setting_lines(
                {k: mode[k] for k in ("tone", "style") if mode.get(k)}, file, f"{path}.available_modes[{i}]"
            )
            others = [str(m.get("id")) for m in modes if isinstance(m, dict) and m.get("id") != default]
            unused = [f"{path}.available_modes (switching to {', '.join(others)})"] if others else []
            return f"## Mode: {mode.get('label') or default}\n" + "\n".join(lines), unused
    return "", [path] if profiles else []


def apply_card_extensions(persona: Persona, card: Card, folder: Path) -> Persona:
    """A card persona with acore's fields honoured: ``avatar_url``, ``extensions.topic_interests`` /
    ``topic_avoidances`` / ``evolution_stages`` / ``mode_profiles`` / ``framework_blending``, an
    ``embedded_lorebook``; and the folder's frameworks after the card's prompt, as acore compiles them."""
    data, file = card.data, str(card.path)
    ext = data.get("extensions") or {}
    changes: FieldChanges = avatar_fields(data.get("avatar_url"), file, "data.avatar_url")
    changes["topic_interests"] = texts(ext.get("topic_interests"), file, "data.extensions.topic_interests")
    changes["topic_avoidances"] = texts(ext.get("topic_avoidances"), file, "data.extensions.topic_avoidances")
    stages, unused = acore_stages(ext.get("evolution_stages"), file, "data.extensions.evolution_stages")
    if stages:
        changes["evolution"] = stages
    mode, more = _mode_section(ext.get("mode_profiles"), file, "data.extensions.mode_profiles")
    unused += more
    if mode:
        changes["system_prompt"] = f"{persona.system_prompt}\n\n{mode}"
    book = data.get("embedded_lorebook")
    if book is not None:
        changes["lorebook"] = merge_lorebooks(
            [persona.lorebook, lorebook_from_dict(book, file, "data.embedded_lorebook")]
        )
    spec = {*V2_FIELDS, *V3_ONLY_FIELDS, "character_book", "avatar_url", "embedded_lorebook"}
    unused += [f"data.{k}" for k in data if k not in spec]
    unused += [f"data.extensions.{k}" for k in ext if k not in _EXTENSIONS_USED]
    frameworks = load_all_frameworks(folder)
    blending, more = blend_rules(
        ext.get("framework_blending"), file, "data.extensions.framework_blending", frameworks
    )
    persona = with_frameworks(replace(persona, **changes), frameworks, blending)
    unused += more
    name = card.path.name if card.path is not None else "card"
    return replace(persona, unused_fields=tuple(f"{name}: {u}" for u in unused))
