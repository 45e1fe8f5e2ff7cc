"""What the model's answers were, counted since start: refusals, and answers that did not parse (with how
many were asked again). /status shows them; benchmarks/bench_votes.py reads them to compare a one-word vote
with one held to a schema."""

from __future__ import annotations

from collections import Counter

from bot.core.i18n import t
from bot.core.numbers import number


class AnswerTally:
    """Per purpose ("reply", "vote", "consolidation", ...), since the process started."""

    def __init__(self) -> None:
        self.refusals: Counter[str] = Counter()
        self.parse_failures: Counter[str] = Counter()
        self.parse_retries: Counter[str] = Counter()

    def refused(self, purpose: str) -> int:
        """Count a refusal; the refusals since start."""
        self.refusals[purpose] += 1
        return sum(self.refusals.values())

    def unparsed(self, purpose: str, *, retried: bool) -> None:
        """Count an answer of ``purpose`` that did not parse (``retried``: the caller asks again)."""
        self.parse_failures[purpose] += 1
        if retried:
            self.parse_retries[purpose] += 1

    def lines(self, language: str | None = None) -> list[str]:
        """The log channel's ``status`` lines, in ``language``: refusals and unparsed answers since start, by
        purpose (its code name)."""
        refused = ", ".join(f"{p} {number(n, language)}" for p, n in sorted(self.refusals.items()))
        unparsed = ", ".join(t(language, "{purpose} {count} ({again} asked again)", purpose=p,
                               count=number(n, language), again=number(self.parse_retries[p], language))
                             for p, n in sorted(self.parse_failures.items()))
        return [t(language, "Refusals since start") + f": {number(sum(self.refusals.values()), language)}"
                + (f" ({refused})" if refused else ""),
                t(language, "Unparsed answers since start")
                + f": {number(sum(self.parse_failures.values()), language)}"
                + (f" ({unparsed})" if unparsed else "")]
