"""Relationship metrics and the daily consolidation's judgement of how they change.

Claude, asked as part of each user's fact extraction, judges how a day's messages should move the
character's feelings (see :func:`judgement_instructions`). The judged deltas are bounded twice: each answer to
+/-``relationship_max_daily_change`` when parsed (memory.facts.parse_extraction), and the day's total per
metric when applied, in the same transaction that archives the messages (database.store.bound_daily_change),
so several runs on one day, or a re-run after a crash, cannot move a metric further. Values stay in range
(anger, rapport, trust 0..10; formality -5..+5): a value set directly (an admin's) goes through
:func:`clamp_metrics` first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from database.store import RELATIONSHIP_RANGES, RelationshipRecord

METRIC_MEANINGS = {
    "anger": "how angry or irritated you are with them (0 calm .. 10 furious)",
    "rapport": "how warm and close you feel (0 distant .. 10 close friends)",
    "trust": "how much you trust them (0 not at all .. 10 completely)",
    "formality": "how formally you speak with them (-5 very casual .. +5 very formal)",
}


def judgement_instructions(character: str, user: str, max_change: float) -> str:
    lines = "\n".join(f'  - "{k}": {v}' for k, v in METRIC_MEANINGS.items())
    return (f'"relationship": how these messages change {character}\'s feelings toward {user}, one number per '
            f"metric between -{max_change:g} and +{max_change:g} (0 when nothing changed; most days change "
            f"little):\n{lines}")


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
