"""Reading the voting model's answers: yes, no, or neither, and the round's verdict."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

# The answer a vote is decoded to where the voting model supports structured outputs: one of two words in a
# JSON object, so "Yes.", "I think yes" or "**no**" cannot come back (a one-word vote's parse failures
# count as no: a missed reply).
VOTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    # "no" first: where nothing says yes, no (as an unreadable one-word vote counts)
    "properties": {"vote": {"type": "string", "enum": ["no", "yes"]}},
    "required": ["vote"],
    "additionalProperties": False,
}
# Room for the JSON answer (about 6 tokens) and for the one word (at most 2).
VOTE_MAX_TOKENS = {True: 16, False: 5}


def parse_yes_no(text: str) -> bool | None:
    word = text.strip().lstrip("*_\"'`").lower()
    if word.startswith("yes"):
        return True
    if word.startswith("no"):
        return False
    return None


def parse_vote(text: str) -> bool | None:
    """A vote's answer: the JSON object of :data:`VOTE_SCHEMA` when it is one, else the one word."""
    try:
        answer = json.loads(text)
    except ValueError:
        return parse_yes_no(text)
    if isinstance(answer, dict) and answer.get("vote") in ("yes", "no"):
        return answer["vote"] == "yes"
    return None


def majority_yes(votes: Sequence[bool | None]) -> bool:
    """Yes only when strictly more than half of all votes asked said yes (failed votes count as no)."""
    return sum(1 for v in votes if v) * 2 > len(votes)
