"""Per message: which kind of conversation it is, the blend of a framework character's frameworks for it, and
the evolution stage the character has reached (bot/reply/persona_runtime.py asks these at every reply)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from bot.core.persona.framework import DEFAULT_CONTEXT, Framework, _bullets, _ordered
from bot.core.persona.model import EvolutionStage, Persona

_CONTEXT_WORDS: dict[str, tuple[str, ...]] = {
    "emotional": (
        "sad", "lonely", "anxious", "anxiety", "stressed", "stress", "depressed", "upset", "cry", "crying",
        "hurt", "scared", "afraid", "worried", "grief", "grieving", "heartbroken", "breakup", "broke up",
        "overwhelmed", "miss", "feel", "feeling", "feelings", "angry", "exhausted", "panic", "rough day",
        "bad day", "hate myself", "alone", "comfort",
    ),
    "technical": (
        "code", "coding", "python", "javascript", "typescript", "rust", "java", "bug", "error", "exception",
        "traceback", "stack trace", "api", "server", "database", "sql", "function", "compile", "compiler",
        "install", "linux", "windows", "git", "deploy", "docker", "script", "algorithm", "regex", "http",
        "config", "debug", "crash", "cpu", "gpu", "network", "framework", "library", "variable", "terminal",
        "command line", "json", "kubernetes",
    ),
    "creative": (
        "story", "poem", "poetry", "write me", "draw", "drawing", "paint", "painting", "song", "lyrics",
        "imagine", "worldbuilding", "fiction", "art", "artwork", "compose", "sketch", "design", "invent",
        "brainstorm", "character idea", "plot", "fantasy", "roleplay", "pixel",
    ),
    "educational": (
        "explain", "learn", "learning", "teach", "why does", "how does", "what is", "what are", "history",
        "science", "study", "studying", "homework", "lesson", "understand", "define", "definition",
        "difference between", "theory", "exam", "research", "fact",
    ),
    "casual": (
        "hi", "hello", "hey", "lol", "lmao", "haha", "sup", "weekend", "food", "movie", "game", "gaming",
        "music", "weather", "coffee", "tea", "good morning", "good night", "how are you",
    ),
}
# Ties resolve in this order: a person in distress matters more than a code question, and so on.
_CONTEXT_PRIORITY = ("emotional", "technical", "creative", "educational", "casual")
_CONTEXT_PATTERNS = {
    ctx: re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?!\w)",
        re.IGNORECASE,
    )
    for ctx, words in _CONTEXT_WORDS.items()
}


# A call such as f() or obj.method(: anchored at a word's start, so a long run of letters is walked once, not
# once from each of its letters (quadratic: 0.24 s on 4,000 underscores).
_CALL = re.compile(r"\b\w+\(\)|\b\w+\.\w+\(")


def detect_context(text: str) -> str:
    """The kind of conversation a message belongs to: one of :data:`CONTEXTS` (``casual`` by default)."""
    scores = {ctx: len(pattern.findall(text)) for ctx, pattern in _CONTEXT_PATTERNS.items()}
    if "```" in text or _CALL.search(text):
        scores["technical"] += 2  # code blocks and calls are strong signals on their own
    best = max(scores.values())
    if best == 0:
        return DEFAULT_CONTEXT
    return next(ctx for ctx in _CONTEXT_PRIORITY if scores[ctx] == best)


def _frameworks_of(persona: Persona) -> dict[str, Framework]:
    raw = persona.extra.get("frameworks") or {}
    return {
        fid: Framework(**{**data, **{k: tuple(v) for k, v in data.items() if isinstance(v, list)}})
        for fid, data in raw.items()
    }


def context_shares(persona: Persona, context: str) -> dict[str, float]:
    """The framework weights for ``context``: the character's blend for it, else the frameworks that
    declare it, else the default blend, else equal weights."""
    frameworks = _frameworks_of(persona)
    blending: Mapping[str, Mapping[str, float]] = persona.extra.get("framework_blending") or {}
    if context in blending:
        return dict(blending[context])
    suited = [fid for fid, fw in sorted(frameworks.items()) if context in fw.contexts]
    if suited:
        return {fid: 1 / len(suited) for fid in suited}
    if "default" in blending:
        return dict(blending["default"])
    return {fid: 1 / len(frameworks) for fid in sorted(frameworks)} if frameworks else {}


def blend_instructions(persona: Persona, context: str) -> str:
    """A short per-message block: which frameworks lead for this context, with their key patterns.

    Heavier frameworks contribute proportionally more of their behavioural patterns. "" for a persona
    without frameworks, so callers can use it for any character.
    """
    frameworks = _frameworks_of(persona)
    shares = {f: s for f, s in context_shares(persona, context).items() if s > 0 and f in frameworks}
    if not shares:
        return ""
    ordered = _ordered(shares, frameworks)
    top = ordered[0][1]
    lines = [f"[Approach for this message: {context} conversation]"]
    for rank, (fw, share) in enumerate(ordered):
        label = "Lead with" if rank == 0 else ("Blend in" if share >= 0.25 else "Add a touch of")
        lines.append(f"{label} {fw.name} ({round(share * 100)}%): {fw.purpose}")
        count = (
            max(1, math.ceil(len(fw.behavioural_patterns) * share / top)) if fw.behavioural_patterns else 0
        )
        lines.extend(f"  - {p}" for p in fw.behavioural_patterns[:count])
    return "\n".join(lines)


def current_stage(persona: Persona, interactions: int) -> EvolutionStage | None:
    """The latest evolution stage reached after ``interactions`` interactions (None before the first)."""
    reached = [s for s in persona.evolution if s.min_interactions <= interactions]
    return reached[-1] if reached else None


def stage_instructions(persona: Persona, interactions: int) -> str:
    """The reached stage as prompt text: its tone, plus every quirk and piece of knowledge gained so far."""
    stage = current_stage(persona, interactions)
    if stage is None:
        return ""
    reached = [s for s in persona.evolution if s.min_interactions <= interactions]
    quirks = [q for s in reached for q in s.quirks]
    knowledge = [k for s in reached for k in s.knowledge]
    parts = [f"## How you have grown: {stage.name}"]
    if stage.tone:
        parts.append(f"Tone now: {stage.tone}")
    if quirks:
        parts.append(_bullets("Quirks you have picked up", tuple(quirks)))
    if knowledge:
        parts.append(_bullets("Things you have come to know", tuple(knowledge)))
    return "\n".join(parts)
