"""One truth per fact: what an extraction's answers do to the person's known facts.

The extraction is shown the person's current facts nearest to the new lines (:func:`shown`), each under a
short id, and answers per fact add, update (the id, the new text), delete (the id) or none (the id: said
again), as Mem0 keeps its memories. :func:`resolve` applies the answers to the facts shown, and
:func:`changes` turns them into what the batch's transaction writes: new facts (an added one that says what a
current fact says is that fact mentioned again), updates (a new fact that closes the old one, kept as
history) and retired facts (closed, or deleted when not worth keeping as history). Whatever the answer, an
added fact that fills the slot of a current one (where they live, their work...: :func:`one_truth`) closes
it; when that is unsure, both stay and the new one names the other as its doubt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from database.records import FactRow, NewFact
from database.visibility import Audience, Origin, may_enter
from memory.batching import MESSAGE_CHARS, Batch, fact_times
from memory.embeddings import normalise, to_bytes
from memory.facts import MAX_SHOWN, ExtractedFact, FactIndex, match_facts
from memory.slots import Slot, parse_slot, past_tense, same_value, slot_for, slot_of


def shown_ids(rows: Sequence[FactRow]) -> dict[str, FactRow]:
    """The known facts an extraction is shown, by the short ids it answers with (F1, F2...)."""
    return {f"F{i}": row for i, row in enumerate(rows, start=1)}


@dataclass
class Resolved:
    """An extraction's answers against the known facts it was shown (:func:`resolve`)."""

    new: list[ExtractedFact] = field(default_factory=list)  # to add (matched against all known facts first)
    kept: dict[int, ExtractedFact] = field(default_factory=dict)  # known fact id -> said again, unchanged
    updates: list[tuple[ExtractedFact, FactRow]] = field(default_factory=list)  # new text, the fact it closes
    retired: list[tuple[FactRow, str | None]] = field(default_factory=list)  # closed (with past) or deleted


def resolve(facts: Sequence[ExtractedFact], shown: dict[str, FactRow]) -> Resolved:
    """Each answer applied to the shown fact it names: an id never shown makes an update a new fact and a
    delete or none nothing; a fact is changed once (the first answer about it wins); an update that only
    repeats the fact's words is that fact said again."""
    out = Resolved()
    touched: set[int] = set()
    for f in facts:
        row = shown.get(f.ref) if f.ref is not None else None
        if f.action == "add" or (row is None and f.action == "update"):
            out.new.append(f)
        elif row is None or row.id in touched:
            if f.action == "update":
                out.new.append(f)
        elif f.action == "none" or (f.action == "update" and f.fact.casefold() == row.fact.casefold()):
            out.kept.setdefault(row.id, f)
        else:
            touched.add(row.id)
            if f.action == "update":
                out.updates.append((f, row))
            else:
                out.retired.append((row, f.past))
    return out


# Cosine under which two facts are about different things whatever their words say (the shipped model gives
# two facts about one person 0.45 or more; the person's name alone does much of it).
SLOT_NEAR = 0.35
# A fact the slot vocabulary does not place, this close under the "said again" threshold to a sure slot's
# fact: perhaps that slot said otherwise, so a doubt.
GREY_BAND = 0.05


@dataclass(frozen=True)
class Truth:
    """What a new fact does to the known ones (:class:`NewFact`'s fields of the same names)."""

    closes: tuple[tuple[int, str], ...] = ()  # (known fact, its past wording) it takes the place of
    doubts: int | None = None  # a known fact it may take the place of


UNSAID = None  # a new fact whose slot the extraction did not name: the English cues read it (memory/slots.py)


def one_truth(index: FactIndex, text: str, vector: np.ndarray, seen: np.ndarray, private: bool,
              guild_id: int | None, threshold: float, slot: str | None = UNSAID,
              value: str | None = None, slot_near: float = SLOT_NEAR) -> Truth:
    """A new fact against the person's current facts its batch may see (``seen``): those of its slot it
    closes as past when it says so plainly; when it is unsure (a hedged fact, one that names no slot but is
    this near to a slot's fact, or one that could not close the other without telling a place what was said
    elsewhere) it names one as its doubt.

    ``slot``: the slot the extraction named (memory/slots.py, as stored; "" for none). Two facts whose slots
    the model named are of one slot whatever their words and language; where either slot comes from the
    English cues (a fact stored before, an answer without slots), only a fact near in meaning
    (``slot_near``: the embedding model's SLOT_NEAR) is. A fact of the model's slot that gives it the
    value a known fact gives it (``value``)
    closes nothing: it is that fact told in other words. A fact the model placed in no slot raises no
    doubt."""
    if slot == "":
        return Truth()
    mine = slot_of(text) if slot is None else parse_slot(slot)
    scores = np.where(seen, index.scores(vector), -np.inf)
    # without a slot of its own, only a fact in the grey band under the threshold may be in doubt
    near = scores >= (slot_near if mine is not None else threshold - GREY_BAND)
    if mine is not None and slot is not None:  # named by the model: a known fact's named slot is enough
        near |= seen & np.array([r.slot is not None and r.slot != "" for r in index.rows], dtype=bool)
    candidates = np.flatnonzero(near)
    closes: list[tuple[int, str]] = []
    doubt: int | None = None
    for i in candidates[np.argsort(-scores[candidates], kind="stable")].tolist():
        row = index.rows[i]
        other = slot_for(row.fact, row.slot)
        if other is None:
            continue
        same = _same(mine, other) and (scores[i] >= slot_near or (slot is not None and row.slot is not None))
        if same and same_value(value, row.slot_value, row.fact):
            continue
        if same and mine is not None and mine.sure and told_wherever(row, private, guild_id):
            closes.append((row.id, past_tense(row.fact)))
        elif doubt is None and (same or (mine is None and other.sure and not other.key
                                         and scores[i] >= threshold - GREY_BAND)):
            doubt = row.id
    return Truth(tuple(closes), None if closes else doubt)


def _same(mine: Slot | None, other: Slot) -> bool:
    return mine is not None and (mine.name, mine.key) == (other.name, other.key)


def told_wherever(row: FactRow, private: bool, guild_id: int | None) -> bool:
    """Whether a new fact (of a batch's place) is seen in every place the known ``row`` is: only then may
    it close it, or the place would learn from the closing that something was said where it cannot see."""
    new = Origin.dm(1) if private else Origin.public(guild_id, person=1)
    places = [Audience.dm(1)]
    if not row.private:  # a server's fact, or one of no place: read in its server's (or every) place
        places.append(Audience.place(private=False, guild=row.guild_id if row.guild_id is not None else -1,
                                     channel=None, person=1))
    return all(may_enter(new, audience) for audience in places)


def visible(index: FactIndex, private: bool, guild_id: int | None) -> np.ndarray:
    """The current facts a batch may be shown: a server's batch sees no DM secret and no other server's
    fact (its answer is written to that server's facts)."""
    seen: np.ndarray = index.current & index.seen_by(private=private, guild_id=guild_id, everywhere=False)
    return seen


EMBEDDED_LINES = 32  # the longest lines of a batch embedded to find the facts near it (the model costs)
RRF_K = 10


def telling(lines: Sequence[str]) -> list[str]:
    """The lines whose vectors choose the facts shown: the longest EMBEDDED_LINES (a batch holds up to 400
    messages; embedding them all would cost seconds on a CPU, and the short ones say little)."""
    return sorted(lines, key=len, reverse=True)[:EMBEDDED_LINES]


def nearest(index: FactIndex, candidates: np.ndarray, vectors: np.ndarray, text: str) -> np.ndarray:
    """The MAX_SHOWN candidates nearest to the batch, in the facts' order: by the best cosine to one of its
    telling lines (unit ``vectors``) and by BM25 over all its words (``text``), fused by reciprocal rank."""
    fused = np.zeros(len(candidates))
    rankings = [index.scores_of(vectors).max(axis=1)[candidates]] if len(vectors) else []
    if index.lexical.size == len(index.rows):
        rankings.append(index.lexical.scores(text)[candidates])
    for scores in rankings:
        order = np.argsort(-scores, kind="stable")
        fused[order] += 1.0 / (RRF_K + np.arange(1, len(order) + 1))
    return np.sort(candidates[np.argsort(-fused, kind="stable")[:MAX_SHOWN]])


@dataclass
class Changes:
    """What a batch writes to the person's facts."""

    new: list[NewFact] = field(default_factory=list)
    mentioned: dict[int, ExtractedFact] = field(default_factory=dict)  # known fact id -> what was said of it
    retired: tuple[tuple[int, str | None], ...] = ()


def to_embed(index: FactIndex, resolved: Resolved) -> tuple[list[ExtractedFact], list[ExtractedFact]]:
    """(added facts not worded exactly as a current one, updates' new texts): what needs a vector."""
    known = current_words(index)
    return [f for f in resolved.new if f.fact.casefold() not in known], [f for f, _ in resolved.updates]


def current_words(index: FactIndex) -> dict[str, int]:
    return {r.fact.casefold(): r.id for r, now in zip(index.rows, index.current, strict=True) if now}


def changes(index: FactIndex, resolved: Resolved, vectors: np.ndarray, batch: Batch,
            threshold: float, slot_near: float = SLOT_NEAR) -> Changes:
    """The batch's writes; ``vectors``: the embeddings of :func:`to_embed`'s facts, in its order. A fact
    worded exactly as a current known one is that fact (no vector needed); one at cosine ``threshold`` or
    more to a current one is that fact said again."""
    known = current_words(index)
    rest, changed = to_embed(index, resolved)
    said = {**{fid: f for f in resolved.new if (fid := known.get(f.fact.casefold())) is not None},
            **resolved.kept}
    out = Changes()
    if rest:
        matched = match_facts(index, rest, vectors[:len(rest)], threshold)
        said.update({fid: f for fid, f in matched.mentioned_by.items() if fid not in said})
        # what the answers already changed is theirs: not closed again by a slot
        touched = {row.id for _, row in resolved.updates} | {row.id for row, _ in resolved.retired}
        seen = visible(index, batch.private, batch.guild_id) & np.array(
            [r.id not in touched for r in index.rows], dtype=bool)
        for f, v in matched.new:
            truth = one_truth(index, f.fact, v, seen, batch.private, batch.guild_id, threshold, f.slot,
                              f.value, slot_near)
            out.new.append(NewFact(f.fact, f.category, to_bytes(v), batch.private, f.lasting,
                                   *fact_times(f, batch), guild_id=batch.guild_id, closes=truth.closes,
                                   doubts=truth.doubts, slot=f.slot, slot_value=f.value, gloss=f.english))
    out.new += [NewFact(f.fact, f.category, to_bytes(v), batch.private, f.lasting, *fact_times(f, batch),
                        guild_id=batch.guild_id, replaces=row.id, past=f.past, slot=f.slot,
                        slot_value=f.value, gloss=f.english)
                for (f, row), v in zip(resolved.updates, vectors[len(rest):], strict=True)]
    out.mentioned = said
    out.retired = tuple((row.id, past) for row, past in resolved.retired)
    return out


async def show_known(batch: Batch, index: FactIndex,
                     encode: Callable[[list[str]], Awaitable[np.ndarray]]) -> None:
    """Choose the person's current facts the extraction is shown (to update, delete or say again): all those
    it may see up to MAX_SHOWN, else the MAX_SHOWN nearest to the batch's lines."""
    candidates = np.flatnonzero(visible(index, batch.private, batch.guild_id))
    if len(candidates) > MAX_SHOWN:
        lines = [m.content[:MESSAGE_CHARS] for _, m in batch.messages if m.content.strip()]
        vectors = normalise(await encode(telling(lines)))
        candidates = nearest(index, candidates, vectors, "\n".join(lines))
    batch.shown = shown_ids([index.rows[i] for i in candidates.tolist()])
