"""Relationship metrics and the daily consolidation's judgement of how they change.

Claude, asked as part of each user's fact extraction, judges how a day's messages should move the
character's feelings (see :func:`judgement_instructions`). The judged deltas are bounded twice: each answer to
+/-``relationship_max_daily_change`` when parsed (memory.facts.parse_extraction), and the day's total per
metric when applied, in the same transaction that archives the messages (:func:`bound_daily_change`),
so several runs on one day, or a re-run after a crash, cannot move a metric further. Values stay in range
(anger, rapport, trust 0..10; formality -5..+5): a value set directly (an admin's) goes through
:func:`clamp_metrics` first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from database.records import RelationshipRecord, RelationshipUpdate

RELATIONSHIP_RANGES: dict[str, tuple[float, float]] = {
    "anger": (0.0, 10.0),
    "rapport": (0.0, 10.0),
    "trust": (0.0, 10.0),
    "formality": (-5.0, 5.0),
}

# What each end of a day's change means, on the one scale Claude answers in: the change itself, in the
# stored metric's own units (added to it by bound_daily_change), never the metric's range.
METRIC_CHANGES = {
    "anger": ("much angrier with them", "much calmer with them"),
    "rapport": ("much warmer and closer to them", "much more distant from them"),
    "trust": ("much more trusting of them", "much less trusting of them"),
    "formality": ("much more formal with them", "much more casual with them"),
}


def judgement_instructions(character: str, user: str, max_change: float) -> str:
    """The relationship part of the extraction's instructions: one change per metric, each metric said by
    what the two ends of that same change mean (not by the metric's stored range, a second scale)."""
    top = f"{max_change:g}"
    lines = "\n".join(f'  - "{k}": +{top} {up} .. -{top} {down}' for k, (up, down) in METRIC_CHANGES.items())
    return (f'"relationship": how these messages change {character}\'s feelings toward {user}: for each '
            f"metric, one number, the change, between -{top} and +{top} (0 when nothing changed; most days "
            f"change little):\n{lines}")


PLAYFUL = "be familiar and playful"  # closeness's register: what a hard time or a recent hurt overrules


@dataclass(frozen=True)
class Lasting:
    """How the character has come to feel about someone over the days (the metrics the consolidation
    moves), in words: what it feels (``feel``, said after "you feel"), how to let it show (``show``) and the
    register (``register``); ``cold``: which of ``feel`` hold the person off (anger, distance, wariness),
    ``playful``: whether closeness asks for a familiar, playful register (what a recent feeling, or the
    person's distress, may overrule: bot/alive/regard.py reconciles the two into one instruction). Empty
    when the metrics say nothing (the defaults): the reply's one feeling line then says nothing of it,
    rather than "neutral"."""

    feel: tuple[str, ...] = ()
    show: tuple[str, ...] = ()
    register: str = ""
    cold: tuple[str, ...] = ()
    playful: bool = False

    def __bool__(self) -> bool:
        return bool(self.feel or self.register)

    def felt(self) -> str:
        """What it feels, as one phrase ("close to them and trusting of them")."""
        head = ", ".join(self.feel[:-1])
        return f"{head} and {self.feel[-1]}" if head else "".join(self.feel)

    def said(self) -> str:
        """How to let it show, register last ("" when nothing)."""
        return "; ".join([*self.show, *([self.register] if self.register else [])])

    @property
    def warm(self) -> tuple[str, ...]:
        """What of ``feel`` draws the character to them (closeness, trust)."""
        return tuple(f for f in self.feel if f not in self.cold)


def lasting(rel: RelationshipRecord | None) -> Lasting:
    """The relationship's metrics as :class:`Lasting` words."""
    if rel is None:
        return Lasting()
    notes: list[tuple[str, str, bool]] = []  # (what it feels, how to let it show, whether it holds them off)
    if rel.anger >= 6:
        notes.append(("angry with them", "let it show", True))
    elif rel.anger >= 3:
        notes.append(("somewhat irritated with them", "", True))
    if rel.rapport >= 7:
        notes.append(("close to them", PLAYFUL, False))
    elif rel.rapport <= 3:
        notes.append(("distant from them", "be reserved", True))
    if rel.trust >= 7:
        notes.append(("trusting of them", "you can be open", False))
    elif rel.trust <= 3:
        notes.append(("wary of them, not trusting them yet", "be guarded", True))
    register = ("keep a formal register" if rel.formality >= 2
                else "speak casually" if rel.formality <= -2 else "")
    cold = tuple(f for f, _, held_off in notes if held_off)
    # close but angry (or wary): the anger is what shows, not a playful register beside it
    shows = tuple(s for _, s, _ in notes if s and not (cold and s == PLAYFUL))
    return Lasting(tuple(f for f, _, _ in notes), shows, register, cold=cold, playful=PLAYFUL in shows)


def relationship_guidance(rel: RelationshipRecord | None, user: str) -> str:
    """The lasting feeling in a sentence, for admins ("" when the metrics say nothing)."""
    words = lasting(rel)
    if not words:
        return ""
    return f"How you feel about {user}: " + "; ".join(p for p in (words.felt(), words.said()) if p) + "."


def describe(record: RelationshipRecord) -> str:
    return ", ".join(f"{k} {getattr(record, k):g}" for k in RELATIONSHIP_RANGES)


def clamp_metrics(values: Mapping[str, float | None]) -> tuple[dict[str, float], list[str]]:
    """The given metrics (None: not given) clamped to their ranges, and one note per value that had to be
    clamped. An unknown metric or a value that is not a finite number raises ValueError, whose message
    names it."""
    clamped: dict[str, float] = {}
    notes: list[str] = []
    for key, value in values.items():
        if value is None:
            continue
        if key not in RELATIONSHIP_RANGES:
            raise ValueError(f"Unknown relationship metric {key!r}.")
        if not math.isfinite(value):
            raise ValueError(f"{key} must be a number.")
        low, high = RELATIONSHIP_RANGES[key]
        fixed = min(max(float(value), low), high)
        if fixed != value:
            notes.append(f"{key} must be within {low:g}..{high:g}; set to {fixed:g}")
        clamped[key] = fixed
    return clamped, notes


def bound_daily_change(current: dict[str, float], used: dict[str, float], delta: Mapping[str, float],
                       max_change: float) -> tuple[dict[str, float], dict[str, float]]:
    """Apply ``delta`` to ``current`` so that the day's total change of each metric (``used`` so far) stays
    within +/-``max_change`` and each value within its range. Returns (new values, new day totals)."""
    values = dict(current)
    totals = dict(used)
    for key, (low, high) in RELATIONSHIP_RANGES.items():
        step = float(delta.get(key, 0.0) or 0.0)
        if not step:
            continue
        before = totals.get(key, 0.0)
        after = min(max(before + step, -max_change), max_change)
        new = min(max(values[key] + (after - before), low), high)
        totals[key] = before + (new - values[key])
        values[key] = new
    return values, totals


def daily_update(delta: Mapping[str, float], max_change: float) -> RelationshipUpdate:
    """The judged ``delta`` as a consolidation batch applies it, inside its transaction; it also tells
    whether what the relationship says (:func:`lasting`'s words) changed, so that its "since" moves."""
    def update(current: dict[str, float], used: dict[str, float]
               ) -> tuple[dict[str, float], dict[str, float], bool]:
        values, totals = bound_daily_change(current, used, delta, max_change)
        return values, totals, lasting(RelationshipRecord(**values)) != lasting(RelationshipRecord(**current))

    return update
