"""What earns a place in recall (memory/recall.py), item by item, beyond the message's floor.

* Each fact and excerpt clears a floor of its own: its cosine to the message (or its topic) reaches
  ITEM_SHARE of the message's floor (FLOORS[0]). Reciprocal rank fusion ranks whatever some ranking found,
  so without it one relevant fact let the unrelated ones in with it ("I moved to York last week!" recalled
  the birthday, the diet and the cat). Ranks are left as they are: the floor only drops what falls under it
  after fusion, so what clears it keeps its place. What was told or happened in the window a question asks
  about ("what did we talk about yesterday?") needs no floor; nor does an item without a vector yet (found
  by its words alone).
* The character's filler is not an excerpt: a short line of the character sharing no word with the
  person's lines of its exchange (a greeting, "Glub! The kettle is on…") tells nothing about the person. A
  line answering what they said shares its words ("Biscuit! What a name for a greyhound.") and stays, and so
  does a longer one (more than FILLER_TERMS words of its own): what the character told of itself, which a
  question may ask about ("what did you say about your trip?").
* A conversation reset is not replayed unless the message asks about the past (memory/timewords.py
  ``asks_about_past``: "do you remember my sister's puppy?", "what did we talk about yesterday?"): in a DM,
  what the request does not hold was reset away (``Present.reset``), and "how are you doing today?" or
  "busy this week?" right after /reset_conversation quoted it back word for word.
* What was said in private (a fact learnt in DMs or a private place, a line of one) or is sensitive (a
  health fact) comes only when the message is about it (:func:`confided`): it shares a word with the
  message (``naming``: "what did we plan for the trip?"), or was told in the window asked about, or its
  cosine to the message (or its topic) once the direction all the person's items share is taken out of
  both (Mu & Viswanath 2018's "all-but-the-top") reaches ABOUT_SHARE of the message's floor, or it says
  nearly what such an item says (ALONGSIDE).
  Plain cosine is not enough: "what did I tell you about my sister?" is as near "Alice cried alone in a car
  park" (0.30) as "Alice's sister Beth is getting married" (0.35), since both are things she told; with
  what every item shares set aside, 0.01 against 0.11. Nor does it come with the room a memory question is
  given past the usual budget, or with the most referenced facts that fill it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
# The share of the message's floor a private or sensitive item's cosine clears with the common direction set
# aside (MiniLM's: 0.1; a question's own subject at 0.11-0.3, the person's other facts under 0.06).
ABOUT_SHARE = 1 / 3
# The cosine at which a private or sensitive item says nearly what one the message is about says (MiniLM's:
# a trip's tickets and its hotel 0.79; a confession and a sister's facts at most 0.45).
ALONGSIDE = 0.6
NEIGHBOUR_SECONDS = 6 * 3600  # as memory/episodes.py: lines further apart are not one exchange
# The most distinct words (stemmed, function words aside) a line of filler has: a greeting or an aside is a
# handful; a line telling something of its own has more. LoCoMo's second speaker, read as the character,
# tells its own news in such lines, and its questions ask about them (benchmarks/bench_locomo.py --corpus
# turns, tuning part).
FILLER_TERMS = 8
# The share of a fact's words (its person's name set aside) one memory, note, thread or clause of the summary
# shown must hold for the fact to say nothing more: "Alice bakes sourdough every Sunday" against the summary's
# "told me she bakes sourdough every Sunday" (a clause without its subject: 0.8 cosine, under SAID_AS_MEMORY).
SAID_SHARE = 0.8


def item_floor(floors: tuple[float, float, float], share: float = ITEM_SHARE) -> float:
    """The floor each item clears: a share of the message's (an embedder's own floors and share scale it,
    memory/embeddings.py TUNINGS)."""
    return share * floors[0]


def filler(rows: Sequence[ExcerptRow], told: np.ndarray) -> np.ndarray:
    """Which excerpts are the character's filler: its lines of at most FILLER_TERMS terms sharing none with
    the person's nearest lines (before and after, in the same place, within NEIGHBOUR_SECONDS)."""
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
            if rows[i].own or len(of(i)) > FILLER_TERMS:
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
               near: np.ndarray, floor: float, asked: Window,
               outside: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The facts ``found`` (their fused scores ``fused``; ``near``: every fact's best cosine to the message
    or its topic; ``moments``: every fact's told and happened times) that were told or happened in the
    window ``asked`` about, or clear ``floor`` (``outside``, when higher, where a window is asked about)."""
    keep = earned(near[found], floor, within(asked, moments[0][found], moments[1][found]), outside)
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
              asked: Window, outside: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The excerpts ``said`` (their fused ``scores``, their cosines ``near``: :func:`said_near`) that were
    said in the window ``asked`` about or clear ``floor`` (``outside``, when higher, where a window is asked
    about), with their scores and cosines; one without a vector yet by its words alone."""
    keep = earned(near, floor, within(asked, excerpts.told[said]), outside)
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


def earned(near: np.ndarray, floor: float, then: np.ndarray | None,
           outside: float | None = None) -> np.ndarray:
    """Which items (their best cosines ``near``; ``then``: in the window asked about) clear their floor
    (``outside``, when higher, for one not in the window asked about): -inf or +inf is an item without a
    vector, found by its words alone."""
    if then is None:
        outside = None
    kept: np.ndarray = (near >= max(floor, outside or floor)) | ~np.isfinite(near)
    return kept | then if then is not None else kept


def said_in(fact: str, shown: Sequence[str], name: str, language: str | None = None) -> bool:
    """Whether a memory, note, thread or summary clause ``shown`` says ``fact``: the same words (case,
    spacing and the closing full stop aside), or SAID_SHARE of its telling words, ``name`` (whom it is
    about) set aside; all read in ``language`` when it is known (a clause of a summary: too short to tell
    its own, it is read in the summary's), else each in its own."""
    same = _same(fact)
    words = set(terms(fact, language)) - set(terms(name, language))
    for text in shown:
        if _same(text) == same:
            return True
        if words and len(words & set(terms(text, language))) >= SAID_SHARE * len(words):
            return True
    return False


def _same(text: str) -> str:
    """A memory's words for a comparison: case, spacing and the closing full stop set aside."""
    return " ".join(text.casefold().split()).rstrip(".")


def unit(mean: np.ndarray | None) -> np.ndarray | None:
    """The unit direction of a mean vector (None: none, or a zero one)."""
    if mean is None:
        return None
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(DTYPE) if norm > 0 else None


def about(vectors: np.ndarray, asked: np.ndarray, common: np.ndarray | None) -> np.ndarray:
    """The best cosine of each item (its unit ``vectors``) to the rows of ``asked`` (the message, its topic)
    once the ``common`` unit direction is taken out of both: what the item says beyond what all the
    person's items share (what makes "what did I tell you about..." near anything they told)."""
    if not len(vectors):
        return np.zeros(0, dtype=np.float64)
    if common is None or common.size != vectors.shape[1]:
        return row_max(vectors @ asked.astype(DTYPE, copy=False).T).astype(np.float64)
    common = common.astype(DTYPE, copy=False)

    def aside(x: np.ndarray) -> np.ndarray:
        rest = x - np.outer(x @ common, common)
        norms = np.linalg.norm(rest, axis=1, keepdims=True)
        return rest / np.where(norms > 0, norms, 1)

    return row_max(aside(vectors.astype(DTYPE, copy=False)) @ aside(asked.astype(DTYPE, copy=False)).T
                   ).astype(np.float64)


def confided(guarded: np.ndarray, slots: np.ndarray, matrix: np.ndarray, asked: np.ndarray | None,
             common: np.ndarray | None, floor: float, then: np.ndarray | None,
             named: Callable[[], np.ndarray]) -> np.ndarray:
    """Which items may come (``guarded``: which are private or sensitive; ``slots``: their rows of ``matrix``,
    -1 for one without a vector; ``asked``: the message and its topic; ``then``: told in the window asked
    about; ``named``: which the message names by a word they share, asked only when needed): one not
    guarded, one told then or named, one the message is about (:func:`about` reaches ``floor``) or one beside
    such a one (ALONGSIDE), or one without a vector (found by the message's words alone)."""
    if asked is None or floor <= 0:
        return np.ones(len(guarded), dtype=bool)
    keep = ~guarded | (slots < 0)
    if then is not None:
        keep |= then
    if keep.all():
        return keep
    keep |= named()
    todo = np.flatnonzero(~keep)
    if not len(todo) or asked.shape[1] != matrix.shape[1]:
        return keep
    keep[todo] = about(matrix[slots[todo]], asked, common) >= floor
    # beside what the message is about, what says nearly the same thing (the trip's tickets beside its hotel,
    # when the person's facts are mostly that trip and what they share is the trip itself)
    anchors = np.flatnonzero(keep & guarded & (slots >= 0))
    rest = np.flatnonzero(~keep)
    if len(anchors) and len(rest):
        near = matrix[slots[rest]] @ matrix[slots[anchors]].T
        keep[rest] = near.max(axis=1) >= ALONGSIDE
    return keep
