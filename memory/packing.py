"""The order in which recall offers its candidates to the token budget (memory/recall.py).

Best first, as ranked, with two exceptions that spend the budget better without passing over anything
clearly more relevant:

* a fact that would open a new day's heading (memory/factlines.py: 3 tokens, 6 with its year, each about a
  fifth of a fact's line) gives way to a fact a few places behind it, nearly as relevant, whose day is
  already headed: what shares a heading costs its line alone, so both are likelier to fit;
* a candidate passed over for want of room is offered again, in its rank's order, when room is given back
  (an excerpt let go for the fact drawn from it: memory/sources.py), before anything ranked below it.

Chosen on the tuning part of LoCoMo's developers' half (benchmarks/bench_locomo.py --split tune) and
checked on its held-out part: a longer look-ahead or a wider slack passes over relevance and loses
questions, and so does ordering by relevance per token.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence

LOOKAHEAD = 5  # places behind a fact that opens a new day where one sharing a heading may come from
SHARED_DAY_SLACK = 0.2  # the share of the fact's relevance such a one may lack


class Candidates:
    """``pinned``, then ``ranked`` (best first; ``relevance`` theirs), then ``rest``, each code once unless
    offered again. ``opens(code)``: True when the candidate would open a new day's heading now, False when
    its day is headed, None when headings do not apply to it (an excerpt: its lines keep their own)."""

    def __init__(self, pinned: Sequence[int], ranked: Sequence[int], relevance: Sequence[float],
                 opens: Callable[[int], bool | None], rest: Iterable[int] = ()) -> None:
        self.pinned = pinned
        self.ranked = ranked
        self.relevance = relevance
        self.opens = opens
        self.rest = rest
        self.seen: set[int] = set()
        self.skipped: list[tuple[int, int]] = []  # (place, code) passed over for want of room
        self.again: list[tuple[int, int]] = []  # a heap of those offered again
        self.at = (0, 0)  # the (place, code) last offered

    def __iter__(self) -> Iterator[int]:
        again, seen = self.again, self.seen
        for place, code in self._order():
            while again:
                self.at = heapq.heappop(again)
                yield self.at[1]
            if code not in seen:
                seen.add(code)
                self.at = (place, code)
                yield code
        while again:
            self.at = heapq.heappop(again)
            yield self.at[1]

    def _order(self) -> Iterator[tuple[int, int]]:
        """(place, code) in the order offered, before what is offered again."""
        base = len(self.pinned)
        yield from enumerate(self.pinned)
        pulled: set[int] = set()
        pos = 0
        while pos < len(self.ranked):
            if pos in pulled:
                pos += 1
                continue
            ahead = self._ahead(pos, pulled)
            if ahead is not None:
                pulled.add(ahead)
                yield base + ahead, self.ranked[ahead]
                continue
            yield base + pos, self.ranked[pos]
            pos += 1
        yield from enumerate(self.rest, base + len(self.ranked))

    def skip(self) -> None:
        """The candidate last offered did not fit."""
        self.skipped.append(self.at)

    def freed(self) -> None:
        """Room was given back: what did not fit is offered again, best first, before what comes next."""
        for item in self.skipped:
            heapq.heappush(self.again, item)
        self.skipped.clear()

    def _ahead(self, pos: int, pulled: set[int]) -> int | None:
        """The place of a candidate to offer before the one at ``pos``, which would open a new day."""
        if self.opens(self.ranked[pos]) is not True:
            return None
        least = (1 - SHARED_DAY_SLACK) * self.relevance[pos]
        for q in range(pos + 1, min(len(self.ranked), pos + 1 + LOOKAHEAD)):
            if self.relevance[q] < least:  # best first: none after it is nearer
                return None
            if q not in pulled and self.opens(self.ranked[q]) is False:
                return q
        return None
