"""Reading the voting model's answers: yes, no, or neither, and the round's verdict."""

from __future__ import annotations

from collections.abc import Sequence


def parse_yes_no(text: str) -> bool | None:
    word = text.strip().lstrip("*_\"'`").lower()
    if word.startswith("yes"):
        return True
    if word.startswith("no"):
        return False
    return None


def majority_yes(votes: Sequence[bool | None]) -> bool:
    """Yes only when strictly more than half of all votes asked said yes (failed votes count as no)."""
    return sum(1 for v in votes if v) * 2 > len(votes)
