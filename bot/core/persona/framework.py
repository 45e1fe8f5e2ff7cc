"""Character JSON + behavioural framework JSON, compiled into one system prompt.

A folder in this format holds ``character.json`` and its frameworks: ``framework.json`` and/or
``frameworks/*.json`` (read in file-name order). ``characters/README.md`` documents the same schema.

character.json
    ``id``                 required, lower-case slug (``atlas``)
    ``display_name``       required, the name the character uses
    ``summary``            one line about the character (the short description; else the first
                           sentence of ``identity.background``)
    ``identity``           required object; ``background``, ``personality``, ``appearance`` first, then
                           any other keys (``occupation``, ``values``...) in file order. Values: text, a
                           list of text, or a number
    ``knowledge_domain``   text, a list, or an object of text/lists (``{"expert": [...], "limits": [...]}``)
    ``opinions``           an object ``{topic: opinion}`` or a list of text
    ``voice_and_tone``     object: ``tone`` (text), ``style_notes`` (list), ``vocabulary`` (list),
                           ``sample_phrases`` (list), ``temperature`` (0..1), ``max_tokens`` (1..64000)
    ``quirks``, ``topic_interests``, ``topic_avoidances``   lists of text
    ``evolution_stages``   list of ``{"min_interactions" (or "interactions"): n, "name", "tone",
                           "quirks": [...], "knowledge": [...], "avatar", "banner" (pictures
                           in the folder), "bio"}``, distinct thresholds
    ``framework_blending`` ``{framework_id: weight}`` or ``{context: {framework_id: weight}}`` where a
                           context is ``default`` or one of :data:`CONTEXTS`; weights >= 0
    ``first_message``, ``alternate_greetings`` (list), ``example_messages``, ``post_history_instructions``

framework JSON
    ``id``                 required slug, unique among the character's frameworks
    ``name``               display name (else the id, title-cased)
    ``purpose``            required text
    ``behavioural_patterns`` (or ``behavioral_patterns``), ``anti_hallucination_rules``   lists of text
    ``decision_making``, ``interaction_style``   text, a list, or an object of text/lists
    ``contexts``           list of :data:`CONTEXTS` the framework suits (used for a context the
                           character's blending does not name)
    ``prompt_template``    text with ``${var}`` or ``{var}`` placeholders filled from the character:
                           id, display_name, name, summary, every identity key, knowledge_domain,
                           opinions, tone, style_notes, quirks, topic_interests, topic_avoidances,
                           framework_id, framework_name, purpose; acore_bot's character_name and
                           identity (the identity lines)

Compiled prompt, always in this order: opening line, Identity, Knowledge, Opinions, Voice and tone,
Quirks, Topics, How you behave (frameworks by default weight, then id), Accuracy rules, Example dialogue.
Per message, :func:`blend_instructions` adds the blend for the context :func:`detect_context` finds;
:func:`stage_instructions` adds the evolution stage reached.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bot.core.errors import ConfigError
from bot.core.persona.claudemask import env_text, memory_prompt_overrides, resolve_char
from bot.core.persona.faces import stage_face
from bot.core.persona.fields import FieldReader, field_label, kind_of, read_json_object, warn_unknown_fields
from bot.core.persona.model import EvolutionStage, FieldChanges, Persona
from database.boundary import Json

log = logging.getLogger(__name__)

CONTEXTS = ("technical", "creative", "emotional", "educational", "casual")
DEFAULT_CONTEXT = "casual"
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
_IDENTITY_FIRST = ("background", "personality", "appearance")
_CHARACTER_KEYS = {
    "id",
    "display_name",
    "summary",
    "identity",
    "knowledge_domain",
    "opinions",
    "voice_and_tone",
    "quirks",
    "topic_interests",
    "topic_avoidances",
    "evolution_stages",
    "framework_blending",
    "first_message",
    "alternate_greetings",
    "example_messages",
    "post_history_instructions",
    "$schema",
    "version",
    "notes",
}
_FRAMEWORK_KEYS = {
    "id",
    "name",
    "purpose",
    "behavioural_patterns",
    "behavioral_patterns",
    "decision_making",
    "interaction_style",
    "anti_hallucination_rules",
    "contexts",
    "prompt_template",
    "$schema",
    "version",
    "notes",
}


@dataclass(frozen=True)
class Framework:
    id: str
    name: str
    purpose: str
    behavioural_patterns: tuple[str, ...] = ()
    decision_making: tuple[str, ...] = ()
    interaction_style: tuple[str, ...] = ()
    anti_hallucination_rules: tuple[str, ...] = ()
    contexts: tuple[str, ...] = ()
    prompt_template: str = ""
    file: str = ""
    lenient: bool = False  # acore_bot templates: a placeholder Kindred does not know stays as written
    unused: tuple[str, ...] = ()  # fields of the file Kindred reads but has no counterpart for


# --------------------------------------------------------------------------- frameworks


def parse_framework(data: Mapping[str, Json], file: str) -> Framework:
    r = FieldReader(file)
    warn_unknown_fields(data, _FRAMEWORK_KEYS, file)
    fid = r.text(data, "id", "id", required=True)
    if not _SLUG.fullmatch(fid):
        raise r.fail("id", f"use lower-case letters, digits, - and _ only, got {fid!r}")
    patterns_key = "behavioural_patterns" if "behavioural_patterns" in data else "behavioral_patterns"
    contexts = r.texts(data.get("contexts"), "contexts")
    for i, c in enumerate(contexts):
        if c not in CONTEXTS:
            raise r.fail(f"contexts[{i}]", f"unknown context {c!r}; expected one of {', '.join(CONTEXTS)}")
    return Framework(
        id=fid,
        name=r.text(data, "name", "name") or field_label(fid).title(),
        purpose=r.text(data, "purpose", "purpose", required=True),
        behavioural_patterns=r.texts(data.get(patterns_key), patterns_key),
        decision_making=r.lines(data.get("decision_making"), "decision_making"),
        interaction_style=r.lines(data.get("interaction_style"), "interaction_style"),
        anti_hallucination_rules=r.texts(data.get("anti_hallucination_rules"), "anti_hallucination_rules"),
        contexts=contexts,
        prompt_template=r.text(data, "prompt_template", "prompt_template"),
        file=file,
    )


def framework_files(folder: Path) -> list[Path]:
    files = [folder / "framework.json"] if (folder / "framework.json").is_file() else []
    if (folder / "frameworks").is_dir():
        files.extend(sorted(p for p in (folder / "frameworks").glob("*.json") if p.is_file()))
    return files


def load_frameworks(folder: Path) -> dict[str, Framework]:
    frameworks: dict[str, Framework] = {}
    for path in framework_files(folder):
        fw = parse_framework(read_json_object(path), str(path))
        if fw.id in frameworks:
            raise ConfigError(
                str(path), "id", f"framework id {fw.id!r} is already used by {frameworks[fw.id].file}"
            )
        frameworks[fw.id] = fw
    return frameworks


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|(?<![{$])\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def fill_template(template: str, values: Mapping[str, str], file: str, key: str = "prompt_template",
                  *, lenient: bool = False) -> str:
    """Replace ``${var}`` / ``{var}`` (never ``{{macro}}``); an unknown name is a ConfigError, or
    (``lenient``) stays as written."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values and lenient:
            return match.group(0)
        if name not in values:
            raise ConfigError(
                file, key, f"unknown placeholder {name!r}; available: {', '.join(sorted(values))}"
            )
        return values[name]

    return _PLACEHOLDER.sub(sub, template)


# --------------------------------------------------------------------------- the character


def _stages(raw: Json, r: FieldReader) -> tuple[EvolutionStage, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise r.fail("evolution_stages", f"expected a list, got {kind_of(raw)}")
    stages: list[EvolutionStage] = []
    seen: dict[int, int] = {}
    for i, item in enumerate(raw):
        path = f"evolution_stages[{i}]"
        obj = r.obj(item, path)
        key = "min_interactions" if "min_interactions" in obj else "interactions"
        if obj.get(key) is None:
            raise r.fail(f"{path}.min_interactions", "missing: after how many interactions the stage starts")
        threshold = int(r.number(obj, key, f"{path}.{key}", 0, 10**9, whole=True) or 0)
        if threshold in seen:
            raise r.fail(f"{path}.{key}", f"stage {seen[threshold]} already starts at {threshold}")
        seen[threshold] = i
        stages.append(
            EvolutionStage(
                min_interactions=threshold,
                name=r.text(obj, "name", f"{path}.name", required=True),
                tone=r.text(obj, "tone", f"{path}.tone"),
                quirks=r.texts(obj.get("quirks"), f"{path}.quirks"),
                knowledge=r.texts(obj.get("knowledge"), f"{path}.knowledge"),
                **stage_face(obj, r.fail, path),
            )
        )
    return tuple(sorted(stages, key=lambda s: s.min_interactions))


def _weights(raw: Json, path: str, frameworks: Mapping[str, Framework], r: FieldReader) -> dict[str, float]:
    obj = r.obj(raw, path)
    weights: dict[str, float] = {}
    for fid in obj:
        if fid not in frameworks:
            known = ", ".join(sorted(frameworks)) or "none (add framework.json or frameworks/*.json)"
            raise r.fail(f"{path}.{fid}", f"unknown framework {fid!r}; known: {known}")
        weight = r.number(obj, fid, f"{path}.{fid}", 0, 1000)
        weights[fid] = float(weight or 0.0)
    total = sum(weights.values())
    if weights and total <= 0:
        raise r.fail(path, "at least one weight must be greater than 0")
    return {fid: w / total for fid, w in weights.items()} if weights else {}


def _blending(raw: Json, frameworks: Mapping[str, Framework], r: FieldReader) -> dict[str, dict[str, float]]:
    """{context: {framework_id: share}}; a flat mapping is the ``default`` context."""
    obj = r.obj(raw, "framework_blending")
    if not obj:
        return {}
    if all(isinstance(v, dict) for v in obj.values()):
        out = {}
        for context, weights in obj.items():
            if context != "default" and context not in CONTEXTS:
                raise r.fail(
                    f"framework_blending.{context}",
                    f"unknown context; expected default or one of {', '.join(CONTEXTS)}",
                )
            out[context] = _weights(weights, f"framework_blending.{context}", frameworks, r)
        return out
    return {"default": _weights(obj, "framework_blending", frameworks, r)}


def _ordered(
    shares: Mapping[str, float], frameworks: Mapping[str, Framework]
) -> list[tuple[Framework, float]]:
    return [(frameworks[f], s) for f, s in sorted(shares.items(), key=lambda p: (-p[1], p[0]))]


def _default_shares(
    blending: Mapping[str, Mapping[str, float]], frameworks: Mapping[str, Framework]
) -> dict[str, float]:
    if "default" in blending:
        shares = dict(blending["default"])
    elif frameworks:
        shares = {f: 1 / len(frameworks) for f in frameworks}
    else:
        shares = {}
    for fid in frameworks:  # frameworks the default leaves out still describe behaviour, at weight 0
        shares.setdefault(fid, 0.0)
    return shares


def _bullets(title: str, items: tuple[str, ...]) -> str:
    return f"{title}:\n" + "\n".join(f"- {i}" for i in items) if items else ""


def framework_sections(
    frameworks: Mapping[str, Framework], shares: Mapping[str, float], values: Mapping[str, str]
) -> list[str]:
    """"How you behave" (one block per framework, heaviest first) and "Accuracy rules"; ``values`` fill
    the templates. Empty without frameworks."""
    if not frameworks:
        return []
    blocks = [
        "## How you behave\nYou blend these behavioural frameworks; the percentage is how strongly each "
        "shapes you by default (per message the blend can shift with the kind of conversation)."
    ]
    for fw, share in _ordered(shares, frameworks):
        lenient_idle = fw.lenient and not share
        when = " by default; it leads only when the conversation calls for it" if lenient_idle else ""
        body = [f"### {fw.name} ({round(share * 100)}%{when})"]
        if fw.prompt_template:
            own = {**values, "framework_id": fw.id, "framework_name": fw.name, "purpose": fw.purpose}
            filled = fill_template(fw.prompt_template, own, fw.file, lenient=fw.lenient)
            body.append(filled.strip() if fw.lenient else filled)  # acore templates open with blank lines
        body.append(f"Purpose: {fw.purpose}")
        body += [
            p
            for p in (
                _bullets("Behavioural patterns", fw.behavioural_patterns),
                _bullets("Decision making", fw.decision_making),
                _bullets("Interaction style", fw.interaction_style),
            )
            if p
        ]
        blocks.append("\n".join(body))
    sections = ["\n\n".join(blocks)]
    rules: list[str] = []
    for fw, share in _ordered(shares, frameworks):
        if share or not fw.lenient:  # acore's settings of a framework the blend leaves out would contradict
            rules.extend(rule for rule in fw.anti_hallucination_rules if rule not in rules)
    if rules:
        sections.append("## Accuracy rules\n" + "\n".join(f"- {rule}" for rule in rules))
    return sections


def compile_framework_prompt(
    character: Mapping[str, Json], frameworks: Mapping[str, Framework], file: str
) -> Persona:
    """Validate ``character`` (from ``file``) against its ``frameworks`` and build the Persona."""
    r = FieldReader(file)
    warn_unknown_fields(character, _CHARACTER_KEYS, file)
    cid = r.text(character, "id", "id", required=True)
    if not _SLUG.fullmatch(cid):
        raise r.fail("id", f"use lower-case letters, digits, - and _ only, got {cid!r}")
    display = r.text(character, "display_name", "display_name", required=True)
    identity = r.obj(character.get("identity"), "identity", required=True)
    identity_lines: list[str] = []
    identity_values: dict[str, str] = {}
    for key in [
        *(k for k in _IDENTITY_FIRST if k in identity),
        *(k for k in identity if k not in _IDENTITY_FIRST),
    ]:
        value = identity[key]
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        parts = r.texts(value, f"identity.{key}")
        if parts:
            identity_values[key] = "; ".join(parts)
            identity_lines.append(f"{field_label(key)}: {identity_values[key]}")
    if not identity_lines:
        raise r.fail("identity", "empty: describe at least the background or personality")
    summary = r.text(character, "summary", "summary")
    knowledge = r.lines(character.get("knowledge_domain"), "knowledge_domain")
    opinions = r.lines(character.get("opinions"), "opinions", label="On {key}: {value}", raw_keys=True)
    voice = r.obj(character.get("voice_and_tone"), "voice_and_tone")
    tone = r.text(voice, "tone", "voice_and_tone.tone")
    style = r.texts(voice.get("style_notes"), "voice_and_tone.style_notes")
    vocabulary = r.texts(voice.get("vocabulary"), "voice_and_tone.vocabulary")
    phrases = r.texts(voice.get("sample_phrases"), "voice_and_tone.sample_phrases")
    temperature = r.number(voice, "temperature", "voice_and_tone.temperature", 0, 1)
    max_tokens = r.number(voice, "max_tokens", "voice_and_tone.max_tokens", 1, 64000, whole=True)
    quirks = r.texts(character.get("quirks"), "quirks")
    interests = r.texts(character.get("topic_interests"), "topic_interests")
    avoidances = r.texts(character.get("topic_avoidances"), "topic_avoidances")
    stages = _stages(character.get("evolution_stages"), r)
    blending = _blending(character.get("framework_blending"), frameworks, r)
    shares = _default_shares(blending, frameworks)

    values = {
        **identity_values,
        "id": cid,
        "display_name": display,
        "name": display,
        "summary": summary,
        "knowledge_domain": "; ".join(knowledge),
        "opinions": "; ".join(opinions),
        "tone": tone,
        "style_notes": "; ".join(style),
        "quirks": "; ".join(quirks),
        "topic_interests": ", ".join(interests),
        "topic_avoidances": ", ".join(avoidances),
        "character_name": display,  # acore_bot's spellings
        "identity": "; ".join(identity_lines),
    }

    sections = [
        f"You are {display}."
        + (f" {summary}" if summary else "")
        + " Everything below describes who you are and how you behave; stay in character."
    ]
    sections.append("## Identity\n" + "\n".join(identity_lines))
    if knowledge:
        sections.append("## Knowledge\n" + "\n".join(f"- {k}" for k in knowledge))
    if opinions:
        sections.append("## Opinions\n" + "\n".join(f"- {o}" for o in opinions))
    voice_parts = [f"Tone: {tone}"] if tone else []
    voice_parts += [
        p
        for p in (
            _bullets("Style", style),
            "Words you favour: " + ", ".join(vocabulary) if vocabulary else "",
            _bullets("Things you might say", phrases),
        )
        if p
    ]
    if voice_parts:
        sections.append("## Voice and tone\n" + "\n".join(voice_parts))
    if quirks:
        sections.append("## Quirks\n" + "\n".join(f"- {q}" for q in quirks))
    topic_parts = []
    if interests:
        topic_parts.append("Topics you love and bring up: " + ", ".join(interests) + ".")
    if avoidances:
        topic_parts.append(
            "Topics you avoid (decline gently and steer elsewhere): " + ", ".join(avoidances) + "."
        )
    if topic_parts:
        sections.append("## Topics\n" + "\n".join(topic_parts))
    sections.extend(framework_sections(frameworks, shares, values))
    examples = r.text(character, "example_messages", "example_messages")
    if examples:
        sections.append(
            f"## Example dialogue (how {display} talks; not part of this conversation)\n{examples}"
        )

    background = identity_values.get("background", "")
    first_sentence = re.match(r"(.+?[.!?])(\s|$)", background)
    description = summary or (first_sentence.group(1) if first_sentence else background)
    return Persona(
        name=display,
        system_prompt="\n\n".join(sections),
        description=description,
        post_history_instructions=r.text(character, "post_history_instructions", "post_history_instructions"),
        first_message=r.text(character, "first_message", "first_message"),
        alternate_greetings=r.texts(character.get("alternate_greetings"), "alternate_greetings"),
        example_messages=examples,
        temperature=float(temperature) if temperature is not None else None,
        max_tokens=int(max_tokens) if max_tokens is not None else None,
        topic_interests=interests,
        topic_avoidances=avoidances,
        evolution=stages,
        framework_blend={fid: share for fid, share in sorted(shares.items())},
        source_format="framework",
        source_path=Path(file),
        extra={
            "character_id": cid,
            "frameworks": {fid: asdict(fw) for fid, fw in sorted(frameworks.items())},
            "framework_blending": blending,
        },
    )


def load_framework_character(
    folder: Path,
    env: Mapping[str, str],
    read_frameworks: Callable[[Path], Mapping[str, Framework]] | None = None,
) -> Persona:
    """``character.json`` + frameworks from ``folder`` (read by ``read_frameworks``, default
    :func:`load_frameworks`); env ``default_name``/``description`` and memory prompts override the JSON."""
    path = folder / "character.json"
    character = read_json_object(path)  # first: a broken character.json is reported before its frameworks
    frameworks = (read_frameworks or load_frameworks)(folder)
    persona = compile_framework_prompt(character, frameworks, str(path))
    name = env_text(env, "default_name") or persona.name
    changes: FieldChanges = {**memory_prompt_overrides(env)}
    if env_text(env, "description"):
        changes["description"] = env_text(env, "description")
    if name != persona.name:
        changes["name"] = name
    persona = replace(persona, **changes)
    # {{char}} anywhere in the character's own text follows the (possibly renamed) name.
    return replace(
        persona,
        system_prompt=resolve_char(persona.system_prompt, persona.name),
        first_message=resolve_char(persona.first_message, persona.name),
        post_history_instructions=resolve_char(persona.post_history_instructions, persona.name),
    )
