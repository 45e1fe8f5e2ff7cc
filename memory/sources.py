"""What the facts recall chose already say, so that no excerpt says it again (memory/recall.py).

A fact is extracted from a day's lines (memory/batching.py: ``said_at`` is the time of a message of the day
it names), and those lines are archived as excerpts (memory/episodes.py). An excerpt beside the fact drawn
from it repeats it in other words, and its tokens are better spent on something new. No row records which
line a fact came from, so its source is read from what is kept: the line of the fact's day (UTC) nearest to
it in meaning, when that line is near enough (DRAWN_FROM). A nearest line, not every near one: the other
lines of that day that resemble the fact are other evidence (another item of a list, the same thing said
again later), and LoCoMo's development half loses them when every near line is left out. Apart from that,
any excerpt within SAID_AS_FACT of a chosen fact (of any day) says what it says.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from memory.episodes import ExcerptIndex
from memory.facts import FactIndex

DAY_SECONDS = 86_400
# An excerpt this similar to a fact already recalled says what the fact says (most often the line it was
# extracted from): it is left out and its tokens go to something new.
SAID_AS_FACT = 0.7
# The least cosine at which the nearest line of a fact's day is taken for its source (chosen on the tuning
# part of LoCoMo's developers' half, benchmarks/bench_locomo.py --split tune).
DRAWN_FROM = 0.4


class Recalled:
    """The chosen facts: their vectors, in a buffer filled as they are (no copy per comparison), and by day,
    for the excerpts they were drawn from (looked for only on a day an excerpt is quoted or weighed)."""

    def __init__(self, capacity: int, facts: FactIndex, excerpts: ExcerptIndex | None,
                 said_as_fact: float = SAID_AS_FACT, drawn: float = DRAWN_FROM) -> None:
        """``said_as_fact``, ``drawn``: SAID_AS_FACT and DRAWN_FROM for the model's cosines
        (memory/embeddings.py TUNINGS)."""
        self.capacity = capacity
        self.said_as_fact = said_as_fact
        self.drawn = drawn
        self.facts = facts
        self.excerpts = excerpts
        self.vectors: np.ndarray | None = None
        self.n = 0
        self.by_day: dict[float, list[int]] = {}  # the chosen facts (indices) by the day they were told
        self.quoted: dict[float, set[int]] = {}  # the quoted excerpts by day
        self.sources: dict[int, int | None] = {}  # fact -> the excerpt it was drawn from

    def add(self, i: int, keeps: Callable[[int], bool] = lambda j: False) -> int | None:
        """Fact ``i`` is chosen: the quoted excerpt it was drawn from, if any (it says it: to be let go),
        unless ``keeps`` that excerpt (it holds more of what is asked than the fact: it stays)."""
        if self.excerpts is None or self.facts.slot[i] < 0:
            return None
        vector = self.facts.matrix[self.facts.slot[i]]
        if self.vectors is None:
            self.vectors = np.empty((self.capacity, vector.size), dtype=vector.dtype)
        if self.n < self.capacity:
            self.vectors[self.n] = vector
            self.n += 1
        day = _day(float(self.facts.told[i]))
        self.by_day.setdefault(day, []).append(i)
        source = self.source(i) if day in self.quoted else None
        if source is not None and source in self.quoted[day] and not keeps(source):
            self.quoted[day].discard(source)
            return source
        return None

    def quote(self, j: int) -> None:
        assert self.excerpts is not None
        self.quoted.setdefault(_day(float(self.excerpts.told[j])), set()).add(j)

    def says(self, j: int, vector: np.ndarray | None) -> bool:
        """Whether excerpt ``j`` (its unit vector) says what a chosen fact says: a fact was drawn from it,
        or it is within SAID_AS_FACT of one."""
        if vector is None or self.vectors is None or vector.size != self.vectors.shape[1]:
            return False
        assert self.excerpts is not None
        if any(self.source(i) == j for i in self.by_day.get(_day(float(self.excerpts.told[j])), ())):
            return True
        return bool(float(np.max(self.vectors[: self.n] @ vector)) >= self.said_as_fact)

    def source(self, i: int) -> int | None:
        if i not in self.sources:
            assert self.excerpts is not None
            self.sources[i] = drawn_from(
                self.excerpts, self.facts.matrix[self.facts.slot[i]], float(self.facts.told[i]), self.drawn
            )
        return self.sources[i]


def _day(told: float) -> float:
    return told - told % DAY_SECONDS


def drawn_from(excerpts: ExcerptIndex, vector: np.ndarray, told: float,
               floor: float = DRAWN_FROM) -> int | None:
    """The excerpt a fact (its unit ``vector``, told at ``told`` POSIX seconds) was drawn from: the line of
    its day nearest to it, at DRAWN_FROM or more; None when there is none."""
    start = _day(told)
    lines = excerpts.said_between(start, start + DAY_SECONDS)
    if not len(lines) or vector.size != excerpts.matrix.shape[1]:
        return None
    near = excerpts.matrix[excerpts.slot[lines]] @ vector
    best = int(np.argmax(near))
    return int(lines[best]) if near[best] >= floor else None
