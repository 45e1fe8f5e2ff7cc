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
* A conversation reset is not replayed unless the message asks about the past (memory/timewords.py
  ``asks_about_past``: "do you remember my sister's puppy?", "what did we talk about yesterday?"): in a DM,
  what the request does not hold was reset away (``Present.reset``), and "how are you doing today?" or
  "busy this week?" right after /reset_conversation quoted it back word for word.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import numpy as np

from database.records import ExcerptRow
from memory.embeddings import DTYPE, row_max
from memory.lexical import terms

Window = tuple[datetime, datetime] | None


class Archive(Protocol):
    """What the excerpt floor reads of memory/episodes.py's ExcerptIndex (which imports this module)."""

    slot: np.ndarray  # each excerpt's row of ``matrix`` (-1: no vector)
    matrix: np.ndarray
    told: np.ndarray

# Chosen on the tuning part of LoCoMo's developers' half (benchmarks/bench_locomo.py --split tune) and checked
# on its held-out part: unrelated facts sit at 0.0-0.15 of the shipped model's cosine to a message.
ITEM_SHARE = 0.6
NEIGHBOUR_SECONDS = 6 * 3600  # as memory/episodes.py: lines further apart are not one exchange
# The share of a fact's words (its person's name set aside) one memory, note, thread or clause of the summary
# shown must hold for the fact to say nothing more: "Alice bakes sourdough every Sunday" against the summary's
# "told me she bakes sourdough every Sunday" (a clause without its subject: 0.8 cosine, under SAID_AS_MEMORY).
SAID_SHARE = 0.8


def item_floor(floors: tuple[float, float, float], share: float = ITEM_SHARE) -> float:
    """The floor each item clears: a share of the message's (an embedder's own floors and share scale it,
    memory/embeddings.py TUNINGS)."""
    return share * floors[0]


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


def facts_kept(moments: tuple[np.ndarray, np.ndarray], found: np.ndarray, fused: np.ndarray,
               near: np.ndarray, floor: float, asked: Window) -> tuple[np.ndarray, np.ndarray]:
    """The facts ``found`` (their fused scores ``fused``; ``near``: every fact's best cosine to the message
    or its topic; ``moments``: every fact's told and happened times) that clear ``floor`` or were told or
    happened in the window ``asked`` about."""
    keep = earned(near[found], floor, within(asked, moments[0][found], moments[1][found]))
    return found[keep], fused[keep]


def said_near(excerpts: Archive, said: np.ndarray, query: np.ndarray, about: np.ndarray | None) -> np.ndarray:
    """The best cosine of each excerpt ``said`` to the message (``query``) or its topic (``about``); +inf for
    one without a vector yet (found by its words alone)."""
    near = np.full(len(said), np.inf, dtype=np.float64)
    rows = np.stack([query, about]) if about is not None else query[None, :]
    slots = excerpts.slot[said]
    has = slots >= 0
    if has.any() and rows.shape[1] == excerpts.matrix.shape[1]:
        near[has] = row_max(excerpts.matrix[slots[has]] @ rows.astype(DTYPE, copy=False).T)
    return near


def said_kept(excerpts: Archive, said: np.ndarray, scores: np.ndarray, near: np.ndarray, floor: float,
              asked: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The excerpts ``said`` (their fused ``scores``, their cosines ``near``: :func:`said_near`) that clear
    ``floor`` or were said in the window ``asked`` about, with their scores and cosines; one without a vector
    yet by its words alone."""
    keep = earned(near, floor, within(asked, excerpts.told[said]))
    return said[keep], scores[keep], near[keep]


def within(asked: Window, *moments: np.ndarray) -> np.ndarray | None:
    """Which items were told (or happened: ``moments``, POSIX seconds) in the window asked about; None for
    no window."""
    if asked is None:
        return None
    start, end = asked[0].timestamp(), asked[1].timestamp()
    out = np.zeros(len(moments[0]), dtype=bool)
    for when in moments:
        out |= (when >= start) & (when < end)
    return out


def earned(near: np.ndarray, floor: float, then: np.ndarray | None) -> np.ndarray:
    """Which items (their best cosines ``near``; ``then``: in the window asked about) clear their floor:
    -inf or +inf is an item without a vector, found by its words alone."""
    kept: np.ndarray = (near >= floor) | ~np.isfinite(near)
    return kept | then if then is not None else kept


def said_in(fact: str, shown: Sequence[str], name: str) -> bool:
    """Whether a memory, note, thread or summary clause ``shown`` says ``fact``: the same words (case,
    spacing and the closing full stop aside), or SAID_SHARE of its telling words, ``name`` (whom it is
    about) set aside."""
    same = _same(fact)
    words = set(terms(fact)) - set(terms(name))
    for text in shown:
        if _same(text) == same:
            return True
        if words and len(words & set(terms(text))) >= SAID_SHARE * len(words):
            return True
    return False


def _same(text: str) -> str:
    """A memory's words for a comparison: case, spacing and the closing full stop set aside."""
    return " ".join(text.casefold().split()).rstrip(".")
