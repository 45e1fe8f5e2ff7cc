"""Polls without Discord: reading the options and the duration, tallying, and the words and chart shown.

A poll has 2 to 25 options (25 buttons is what one Discord message holds), one vote per person that they
may change, and a closing time; its results are posted at close with a bar chart (bot/servertools/charts.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.servertools.moderation import BadInput, describe_duration, parse_duration

MIN_OPTIONS, MAX_OPTIONS = 2, 25
OPTION_MAX_CHARS = 80  # a button label's limit
QUESTION_MAX_CHARS = 250
DEFAULT_DURATION = "24h"
MAX_DURATION = timedelta(days=30)
SEPARATORS = re.compile(r"\s*[|;\n]\s*")
CUSTOM_ID = "kindred-poll:{poll}:{option}"
CUSTOM_ID_PATTERN = r"kindred-poll:(?P<poll>[0-9]+):(?P<option>[0-9]+)"


@dataclass(frozen=True)
class PollSpec:
    question: str
    options: list[str]
    duration: timedelta


def parse_poll(question: str, options: str, duration: str | None) -> PollSpec:
    """Check what someone typed for /poll; :class:`BadInput` names the problem."""
    q = " ".join(question.split())
    if not q:
        raise BadInput("A poll needs a question.")
    if len(q) > QUESTION_MAX_CHARS:
        raise BadInput(f"The question is {len(q)} characters; at most {QUESTION_MAX_CHARS}, please.")
    items = [o for o in SEPARATORS.split(options.strip()) if o]
    if len(items) < MIN_OPTIONS:
        raise BadInput(
            f"A poll needs at least {MIN_OPTIONS} options, separated by | (you gave {len(items)})."
        )
    if len(items) > MAX_OPTIONS:
        raise BadInput(f"A poll can have at most {MAX_OPTIONS} options (you gave {len(items)}).")
    long = [o for o in items if len(o) > OPTION_MAX_CHARS]
    if long:
        raise BadInput(
            f"Each option can be at most {OPTION_MAX_CHARS} characters; {long[0][:30]!r}… is longer."
        )
    lowered = [o.casefold() for o in items]
    if len(set(lowered)) != len(lowered):
        raise BadInput("Two options are the same; each option must be different.")
    span = parse_duration(duration or DEFAULT_DURATION, maximum=MAX_DURATION, what="poll duration")
    return PollSpec(q, items, span)


def tally(options: Sequence[str], counts: Mapping[int, int]) -> list[int]:
    """Votes per option, in option order (votes for options that no longer exist are ignored)."""
    return [int(counts.get(i, 0)) for i in range(len(options))]


def meter(count: int, total: int, width: int = 10) -> str:
    filled = round(width * count / total) if total else 0
    return "█" * filled + "░" * (width - filled)


def result_lines(options: Sequence[str], counts: Sequence[int]) -> list[str]:
    total = sum(counts)
    lines = []
    for i, (option, count) in enumerate(zip(options, counts, strict=True)):
        share = round(100 * count / total) if total else 0
        lines.append(
            f"**{i + 1}.** {option}\n`{meter(count, total)}` {count} vote{'s' if count != 1 else ''}"
            f" ({share}%)"
        )
    return lines


def winners(options: Sequence[str], counts: Sequence[int]) -> list[str]:
    top = max(counts, default=0)
    return [o for o, c in zip(options, counts, strict=True) if top and c == top]


def closing_line(closes_at: datetime, closed: bool) -> str:
    stamp = int(closes_at.timestamp())
    return f"Closed <t:{stamp}:R>." if closed else f"Closes <t:{stamp}:R> (<t:{stamp}:f>)."


def results_text(character: str, question: str, options: Sequence[str], counts: Sequence[int]) -> str:
    """The message posted at close, in the character's voice."""
    total = sum(counts)
    if not total:
        return f"*{character} looks at the empty ballot box.* Nobody voted on **{question}**."
    best = winners(options, counts)
    if len(best) == 1:
        head = f"**{best[0]}** wins"
    else:
        head = "A tie between " + " and ".join(f"**{b}**" for b in best)
    return (
        f"*{character} counts the votes.* The poll **{question}** has closed: {head} "
        f"({total} vote{'s' if total != 1 else ''})."
    )


def describe_span(span: timedelta) -> str:
    return describe_duration(span)
