"""acore_bot's behavioural frameworks (``prompts/frameworks/*.json``), read unchanged beside Kindred's own.

An acore framework file::

    framework_id, name, purpose            (framework_id and purpose required)
    behavioral_patterns, decision_making, interaction_style   objects of settings -> prompt lines
    anti_hallucination                     rules (a list) and admit_uncertainty, mode -> accuracy rules
    prompt_template                        the framework's own instructions, used as written; {name},
                                           {character_name}, {identity}... are filled, any other {...} stays
    tool_requirements, context_requirements, description, anti_hallucination.tool_enforcement and
    .confidence_threshold, decision_making.when_to_use_tools   read, no counterpart (Kindred has no tools)

:func:`load_all_frameworks` reads a folder's ``framework.json`` / ``frameworks/*.json`` in either schema.
:func:`with_frameworks` adds frameworks to a character that is not a framework character (a card, an
acore persona): acore appends a framework's instructions to the card's prompt the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path

from bot.core.errors import ConfigError
from bot.core.persona.fields import kind_of, read_json_object
from bot.core.persona.framework import (
    CONTEXTS,
    Framework,
    _default_shares,
    framework_files,
    framework_sections,
    parse_framework,
)
from bot.core.persona.model import Persona
from database.boundary import Json

log = logging.getLogger(__name__)

_USED = {"framework_id", "name", "purpose", "behavioral_patterns", "behavioural_patterns", "decision_making",
         "interaction_style", "anti_hallucination", "prompt_template"}
_SILENT = {"version", "$schema"}  # file metadata, not behaviour: never reported
_NO_TOOLS = ("when_to_use_tools",)  # decision_making keys about tools, which Kindred does not have
# acore's blend contexts -> Kindred's (a Kindred name is accepted as it is).
BLEND_CONTEXTS = {
    "emotional_support": "emotional",
    "creative_task": "creative",
    "analytical_task": "technical",
    "technical_task": "technical",
    "playful_chat": "casual",
    "casual_chat": "casual",
    "learning": "educational",
    "teaching": "educational",
}


def is_acore_framework(data: Mapping[str, Json]) -> bool:
    return "framework_id" in data and "id" not in data


def humanize(value: Json) -> str:
    """``friendly_professional`` -> ``friendly professional``; numbers and prose as they are."""
    text = str(value).strip()
    return text.replace("_", " ") if re.fullmatch(r"[\w.+-]+", text) else text


def _words(value: Json, file: str, path: str) -> str:
    """A setting's value alone: ``always`` / ``yes`` / ``a, b``."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _phrase("", value, file, path).strip()


def _phrase(key: str, value: Json, file: str, path: str) -> str:
    """One setting as words: ``anticipate_needs: true`` -> ``anticipate needs``."""
    label = humanize(key)
    if value is True:
        return label
    if value is False:
        return f"not {label}"
    if isinstance(value, str | int | float):
        return f"{label} {humanize(value)}"
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return f"{label} " + ", ".join(humanize(v) for v in value)
    if isinstance(value, dict):
        return f"{label} (" + "; ".join(_phrase(k, v, file, f"{path}.{k}") for k, v in value.items()) + ")"
    raise ConfigError(
        file, path, f"expected text, a number, true/false, a list or an object, got {kind_of(value)}"
    )


def setting_lines(value: Json, file: str, path: str, skip: tuple[str, ...] = ()) -> tuple[str, ...]:
    """An acore settings object (or a list / text) as prompt lines: ``Helpfulness: priority maximum; ...``."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ConfigError(file, f"{path}[{i}]", f"expected text, got {kind_of(item)}")
        return tuple(item.strip() for item in value if item.strip())
    if not isinstance(value, dict):
        raise ConfigError(file, path, f"expected an object, a list or text, got {kind_of(value)}")
    lines = []
    for key, item in value.items():
        if key in skip:
            continue
        if isinstance(item, dict):
            words = "; ".join(_phrase(k, v, file, f"{path}.{key}.{k}") for k, v in item.items())
        else:
            words = _words(item, file, f"{path}.{key}")
        if words:
            lines.append(f"{humanize(key).capitalize()}: {words}")
    return tuple(lines)


def _text(data: Mapping[str, Json], key: str, file: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ConfigError(file, key, "missing: this field is required")
        return ""
    if not isinstance(value, str):
        raise ConfigError(file, key, f"expected text, got {kind_of(value)}")
    return value.strip() if key != "prompt_template" else value


def _accuracy_rules(raw: Json, file: str) -> tuple[tuple[str, ...], list[str]]:
    """(rules, unused fields) from ``anti_hallucination``."""
    if raw is None:
        return (), []
    if not isinstance(raw, dict):
        raise ConfigError(file, "anti_hallucination", f"expected an object, got {kind_of(raw)}")
    rules = list(setting_lines(raw.get("rules"), file, "anti_hallucination.rules"))
    if raw.get("admit_uncertainty") is not None:
        rules.append(
            "Admit uncertainty: "
            + _words(raw["admit_uncertainty"], file, "anti_hallucination.admit_uncertainty")
        )
    if raw.get("mode") is not None:
        rules.append("Accuracy standard: " + _words(raw["mode"], file, "anti_hallucination.mode"))
    unused = [f"anti_hallucination.{k}" for k in raw if k not in {"rules", "admit_uncertainty", "mode"}]
    return tuple(rules), unused


def parse_acore_framework(data: Mapping[str, Json], file: str) -> Framework:
    fid = _text(data, "framework_id", file, required=True)
    patterns_key = "behavioural_patterns" if "behavioural_patterns" in data else "behavioral_patterns"
    decisions = data.get("decision_making")
    rules, unused = _accuracy_rules(data.get("anti_hallucination"), file)
    if isinstance(decisions, dict):
        unused += [f"decision_making.{k}" for k in _NO_TOOLS if k in decisions]
    unused += [k for k in data if k not in _USED and k not in _SILENT and data[k] not in (None, {}, [], "")]
    return Framework(
        id=fid,
        name=_text(data, "name", file) or humanize(fid).title(),
        purpose=_text(data, "purpose", file, required=True),
        behavioural_patterns=setting_lines(data.get(patterns_key), file, patterns_key),
        decision_making=setting_lines(decisions, file, "decision_making", skip=_NO_TOOLS),
        interaction_style=setting_lines(data.get("interaction_style"), file, "interaction_style"),
        anti_hallucination_rules=rules,
        prompt_template=_text(data, "prompt_template", file),
        file=file,
        lenient=True,
        unused=tuple(unused),
    )


def load_all_frameworks(folder: Path) -> dict[str, Framework]:
    """The folder's frameworks, Kindred's schema or acore_bot's, keyed by id."""
    frameworks: dict[str, Framework] = {}
    for path in framework_files(folder):
        data = read_json_object(path)
        fw = (
            parse_acore_framework(data, str(path))
            if is_acore_framework(data)
            else parse_framework(data, str(path))
        )
        if fw.id in frameworks:
            key = "framework_id" if fw.lenient else "id"
            raise ConfigError(
                str(path), key, f"framework id {fw.id!r} is already used by {frameworks[fw.id].file}"
            )
        frameworks[fw.id] = fw
    return frameworks


# --------------------------------------------------------------------------- blending acore's way


def blend_rules(
    raw: Json, file: str, path: str, known: Mapping[str, Framework]
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """acore's ``framework_blending`` (``enabled``, ``base_framework``, ``blend_rules`` of ``context``,
    ``framework``, ``weight``) as Kindred's per-context blend; plus the fields it could not use."""
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        raise ConfigError(file, path, f"expected an object, got {kind_of(raw)}")
    if raw.get("enabled") is False:
        return {}, [f"{path} (enabled is false)"]
    unused: list[str] = []
    base = raw.get("base_framework")
    if base is not None and not isinstance(base, str):
        raise ConfigError(file, f"{path}.base_framework", f"expected text, got {kind_of(base)}")
    if base and base not in known:
        log.warning("%s: %s.base_framework: no framework %r in this folder; left out", file, path, base)
        unused.append(f"{path}.base_framework ({base}: no such framework here)")
        base = None
    blending: dict[str, dict[str, float]] = {"default": {base: 1.0}} if base else {}
    rules = raw.get("blend_rules") or []
    if not isinstance(rules, list):
        raise ConfigError(file, f"{path}.blend_rules", f"expected a list, got {kind_of(rules)}")
    for i, rule in enumerate(rules):
        where = f"{path}.blend_rules[{i}]"
        if not isinstance(rule, dict):
            raise ConfigError(file, where, f"expected an object, got {kind_of(rule)}")
        context, fid, weight = rule.get("context"), rule.get("framework"), rule.get("weight", 1.0)
        if not isinstance(context, str) or not isinstance(fid, str):
            raise ConfigError(file, f"{where}.context", "every rule needs a context and a framework (text)")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
            raise ConfigError(file, f"{where}.weight", f"expected a number between 0 and 1, got {weight!r}")
        ours = context if context in CONTEXTS else BLEND_CONTEXTS.get(context)
        if ours is None or fid not in known:
            unused.append(
                f"{where} ({context} -> {fid}: no such {'context' if ours is None else 'framework'})"
            )
            continue
        shares = {base: 1.0 - float(weight)} if base and base != fid else {}
        shares[fid] = shares.get(fid, 0.0) + float(weight)
        total = sum(shares.values()) or 1.0
        blending[ours] = {k: v / total for k, v in shares.items() if v > 0}
    return blending, unused


def with_frameworks(
    persona: Persona,
    frameworks: Mapping[str, Framework],
    blending: Mapping[str, Mapping[str, float]] | None = None,
) -> Persona:
    """``persona`` (a card, an acore persona) with the frameworks' instructions after its own prompt and
    the per-message blend; only the frameworks ``blending`` names, when it names any."""
    if blending:
        named = {fid for shares in blending.values() for fid in shares}
        frameworks = {fid: fw for fid, fw in frameworks.items() if fid in named}
    if not frameworks:
        return persona
    blending = dict(blending or {})
    shares = _default_shares(blending, frameworks)
    values = {
        "name": persona.name,
        "display_name": persona.name,
        "character_name": persona.name,
        "id": persona.name,
        "summary": persona.description,
        "description": persona.description,
        "identity": persona.description,
    }
    sections = framework_sections(frameworks, shares, values)
    return replace(
        persona,
        system_prompt="\n\n".join([persona.system_prompt, *sections]),
        framework_blend={fid: share for fid, share in sorted(shares.items())},
        extra={
            **persona.extra,
            "frameworks": {fid: asdict(fw) for fid, fw in sorted(frameworks.items())},
            "framework_blending": blending,
        },
    )
