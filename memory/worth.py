"""What earns a place in recall (memory/recall.py), item by item, beyond the message's floor.

* Each fact and excerpt clears a floor of its own: its cosine to the message (or its topic) reaches
  ITEM_SHARE of the message's floor (FLOORS[0]). Reciprocal rank fusion ranks whatever some ranking found,
  so without it one relevant fact let the unrelated ones in with it ("I moved to York last week!" recalled
  the birthday, the diet and the cat). Ranks are left as they are: the floor only drops what falls under it
  after fusion, so what clears it keeps its place. What was told or happened in the window a question asks
  about ("what did we talk about yesterday?") needs no floor; nor does an item without a vector yet (found
  by its words alone).
* The character's filler is not an excerpt: a line of the character sharing no word with the person's
  lines of its exchange (a greeting, "Glub! The kettle is on…") tells nothing about the person. A line
  answering what they said shares its words ("Biscuit! What a name for a greyhound.") and stays.
* A conversation just reset (the request holds no live line and no summary of its place, ``Present.fresh``)
  is not replayed unless the message asks about the past (memory/timewords.py ``asks_about_past``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from database.records import ExcerptRow
from memory.embeddings import DTYPE, row_max
from memory.lexical import terms

# Chosen on the tuning part of LoCoMo's developers' half (benchmarks/bench_locomo.py --split tune) and checked
# on its held-out part: unrelated facts sit at 0.0-0.15 of the shipped model's cosine to a message.
ITEM_SHARE = 0.6
NEIGHBOUR_SECONDS = 6 * 3600  # as memory/episodes.py: lines further apart are not one exchange


def item_floor(floors: tuple[float, float, float]) -> float:
    """The floor each item clears: a share of the message's (an embedder's own floors scale it)."""
    return ITEM_SHARE * floors[0]


def filler(rows: Sequence[ExcerptRow], told: np.ndarray) -> np.ndarray:
    """Which excerpts are the character's filler: its lines sharing no term with the person's nearest lines
    (before and after, in the same place, within NEIGHBOUR_SECONDS)."""
    out = np.zeros(len(rows), dtype=bool)
    by_place: dict[tuple[bool, int], list[int]] = {}
    for i, r in enumerate(rows):
        by_place.setdefault((r.is_dm, r.channel_id), []).append(i)
    words: dict[int, set[str]] = {}

    def of(i: int) -> set[str]:
        if i not in words:
            words[i] = set(terms(rows[i].content))
        return words[i]

    for members in by_place.values():
        members.sort(key=lambda i: (told[i], rows[i].message_id))
        for n, i in enumerate(members):
            if rows[i].own:
                continue
            theirs: set[str] = set()
            for step in (-1, 1):
                k = n + step
                while 0 <= k < len(members) and abs(told[members[k]] - told[i]) <= NEIGHBOUR_SECONDS:
                    if rows[members[k]].own:
                        theirs |= of(members[k])
                        break
                    k += step
            out[i] = not (of(i) & theirs)
    return out


def excerpt_nearness(matrix: np.ndarray, slot: np.ndarray, said: np.ndarray,
                     asked: np.ndarray | None) -> np.ndarray:
    """The best cosine of each of the excerpts ``said`` to the message or its topic (``asked``: their rows);
    +inf for one without a vector (its words alone found it)."""
    near = np.full(len(said), np.inf, dtype=np.float64)
    if asked is None or not len(said) or asked.shape[1] != matrix.shape[1]:
        return near
    slots = slot[said]
    has = slots >= 0
    if has.any():
        near[has] = row_max(matrix[slots[has]] @ asked.astype(DTYPE, copy=False).T)
    return near


def within(span: tuple[float, float] | None, *moments: np.ndarray) -> np.ndarray | None:
    """Which items were told (or happened) in the window asked about (POSIX seconds), None for no window."""
    if span is None:
        return None
    out = np.zeros(len(moments[0]), dtype=bool)
    for when in moments:
        out |= (when >= span[0]) & (when < span[1])
    return out


def earned(near: np.ndarray, floor: float, then: np.ndarray | None) -> np.ndarray:
    """Which items (their best cosines ``near``; ``then``: in the window asked about) clear their floor:
    -inf or +inf is an item without a vector, found by its words alone."""
    kept: np.ndarray = (near >= floor) | ~np.isfinite(near)
    return kept | then if then is not None else kept
