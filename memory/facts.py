"""Long-term facts: what Claude extracts from a day's messages, and how new facts meet known ones.

A user's facts live in the database with their embeddings. For similarity work (recall at every reply,
matching during consolidation) they are held as one numpy matrix per user in :class:`FactCache`. The cache is
safe because it never trusts itself: every lookup first reads the user's *fact stamp* (count, newest id,
newest ``updated_at``, summed references: one indexed aggregate query), and any change to that user's facts
(an insert, a mention, an admin's edit, a deletion, from this process or another) changes the stamp and makes
the next lookup re-read that user's facts. Only the vectors' decoding is saved, which is what costs with
thousands of facts.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from bot.core.i18n import N_, t
from database.boundary import Json, JsonObject
from database.facts import Facts
from database.records import FactRow
from database.visibility import Audience, Kind, mask
from memory import worth
from memory.embeddings import DTYPE, from_bytes, glossed, normalise, similarities
from memory.factlines import joined, list_date
from memory.lexical import LexicalIndex
from memory.relationships import RELATIONSHIP_RANGES
from memory.slots import Slot, parse_slot, same_value, slot_of
from memory.stamped import Stamp, StampedCache
from memory.threads import NO_THREADS, THREADS_SCHEMA, ExtractedThreads, iso_day, parse_threads

CATEGORIES = ("personal", "preferences", "work", "hobbies", "relationships", "health", "plans", "other")
# Their names as lists and the map show them (the stored keys stay English): "general" is an admin's default.
CATEGORY_NAMES = {"personal": N_("Personal"), "preferences": N_("Preferences"), "work": N_("Work"),
                  "hobbies": N_("Hobbies"), "relationships": N_("Relationships"), "health": N_("Health"),
                  "plans": N_("Plans"), "other": N_("Other"), "general": N_("General")}
# What lasts when extraction does not say: who they are, their people, their likes, their plans (life events
# are said explicitly: they come in any category).
LASTING_CATEGORIES = frozenset({"personal", "relationships", "preferences", "plans"})
# What is sensitive whoever heard it: recalled only for a message about it, as what was said in private is
# (memory/worth.py ``about``).
SENSITIVE_CATEGORIES = frozenset({"health"})
MAX_FACTS_PER_BATCH = 30
MAX_FACT_CHARS = 300
CACHE_USERS = 256  # per-user matrices kept; a thousand 384-d facts take 1.5 MB


# --------------------------------------------------------------------------- extraction output


class MalformedExtraction(ValueError):
    """Claude's answer is not the JSON object asked for."""


ACTIONS = ("add", "update", "delete", "none")  # per fact, against the known facts shown (as Mem0's)
MAX_SHOWN = 20  # known facts shown to an extraction: those nearest to its messages


@dataclass(frozen=True)
class ExtractedFact:
    fact: str
    category: str
    lasting: bool = False
    said: date | None = None  # the day of the message it came from
    happened: date | None = None  # the day it happened, where the person said ("last Sunday")
    action: str = "add"  # add; update, delete or none of the known fact ``ref``
    ref: str | None = None  # a shown fact's short id ("F3")
    past: str | None = None  # update, delete: the known fact in the past tense, if worth keeping as history
    # The slot it fills as user_facts.slot keeps it (memory/slots.py): "home", "?home", "pet_name:cat"; ""
    # when the model said none; None when it did not say (an answer without it: the English cues decide)
    slot: str | None = None
    value: str | None = None  # the slot's value as the fact gives it ("York", "ヨーク")
    english: str | None = None  # the fact in English where it is kept in another language (user_facts.gloss)


@dataclass(frozen=True)
class Extraction:
    facts: tuple[ExtractedFact, ...]
    relationship: dict[str, float] = field(default_factory=dict)
    threads: ExtractedThreads = NO_THREADS  # opened and closed (memory/threads.py), apart from the facts


def _json_object(text: str) -> Json:
    """The JSON object in an answer, tolerating a Markdown fence or a sentence around it."""
    # The fence taken off by hand: a pattern "\s*```$" is searched from each space of a run (quadratic).
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped[3:]
        stripped = stripped[4:] if stripped[:4].lower() == "json" else stripped
    stripped = stripped.removesuffix("```").strip()
    start, end = stripped.find("{"), stripped.rfind("}")
    if start < 0 or end <= start:
        raise MalformedExtraction("no JSON object in the answer")
    try:
        return json.loads(stripped[start:end + 1])
    except json.JSONDecodeError as exc:
        raise MalformedExtraction(f"invalid JSON: {exc.msg} at character {exc.pos}") from None
    except RecursionError:  # arrays or objects nested past the interpreter's depth
        raise MalformedExtraction("invalid JSON: nested too deep") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise MalformedExtraction(f"invalid JSON: {exc}") from None


def normalise_category(raw: object) -> str:
    value = raw.strip().lower() if isinstance(raw, str) else ""  # never str() of a hostile value
    return value if value in CATEGORIES else "other"


_DAY_OR_NULL = {"anyOf": [{"type": "string"}, {"type": "null"}]}
_TEXT_OR_NULL = _DAY_OR_NULL
_METRICS = ("anger", "rapport", "trust", "formality")
EXTRACTION_SCHEMA: JsonObject = {
    "type": "object",
    "properties": {
        "facts": {"type": "array", "items": {
            "type": "object",
            "properties": {"action": {"type": "string", "enum": list(ACTIONS)}, "id": _TEXT_OR_NULL,
                           "fact": {"type": "string"},
                           "category": {"type": "string", "enum": list(CATEGORIES)},
                           "lasting": {"type": "boolean"}, "said": _DAY_OR_NULL, "happened": _DAY_OR_NULL,
                           "past": _TEXT_OR_NULL, "slot": {"type": "string"}, "value": _TEXT_OR_NULL,
                           "english": _TEXT_OR_NULL},
            "required": ["action", "id", "fact", "category", "lasting", "said", "happened", "past", "slot",
                         "value", "english"],
            "additionalProperties": False}},
        "relationship": {"type": "object",
                         # only what changed: a metric left out is no change (no row made for it)
                         "properties": {m: {"type": "number"} for m in _METRICS},
                         "required": [],
                         "additionalProperties": False},
        # apart from the facts, and optional: an answer without it opens and closes nothing
        "threads": THREADS_SCHEMA},
    "required": ["facts", "relationship"],
    "additionalProperties": False,
}
"""What :func:`parse_extraction` reads, as the strict JSON schema structured outputs decode the answer to."""


def parse_extraction(text: str, max_change: float) -> Extraction:
    """Validate ``{"facts": [{"action", "id", "fact", "category", "lasting", "said", "happened", "past",
    "slot", "value"}...], "relationship": {metric: delta}}`` ("lasting": a boolean, by default from the
    category; the dates optional; "action" one of ACTIONS, by default add; "id" a shown known fact's, for the
    other actions; "slot" memory/slots.py's, none when it names no slot of SLOTS, unsaid when left out).

    Raises MalformedExtraction for anything else. Deltas are clamped to +/-``max_change`` (the daily bound
    is enforced again when applied); facts are trimmed and de-duplicated.
    """
    try:
        return _parse_extraction(text, max_change)
    except MalformedExtraction:
        raise
    except (RecursionError, OverflowError, ValueError) as exc:  # hostile numbers or nesting: malformed too
        raise MalformedExtraction(f"unusable answer ({type(exc).__name__})") from None


def _parse_extraction(text: str, max_change: float) -> Extraction:
    data = _json_object(text)
    if not isinstance(data, dict):
        raise MalformedExtraction("the answer is not a JSON object")
    raw_facts = data.get("facts")
    if not isinstance(raw_facts, list):
        raise MalformedExtraction('"facts" must be a list')
    facts: list[ExtractedFact] = []
    seen: set[str] = set()
    for item in raw_facts:
        if isinstance(item, str):
            item = {"fact": item}
        if not isinstance(item, dict) or not isinstance(item.get("fact"), str):
            raise MalformedExtraction('each fact must be an object with a "fact" string')
        fact = _text(item["fact"]) or ""
        action, ref = _action(item.get("action")), _ref(item.get("id"))
        if action != "add" and ref is None:  # about no shown fact: a new one, or nothing
            action = "add" if action == "update" else ""
        if action in ("add", "update") and (not fact or fact.lower() in seen):
            continue
        if action:
            seen.add(fact.lower())
            category = normalise_category(item.get("category"))
            lasting = item.get("lasting")
            facts.append(ExtractedFact(
                fact, category, lasting if isinstance(lasting, bool) else category in LASTING_CATEGORIES,
                iso_day(item.get("said")), iso_day(item.get("happened")), action,
                ref if action != "add" else None, _text(item.get("past")), *_slot(item),
                english=_text(item.get("english"))))
    relationship: dict[str, float] = {}
    raw_rel = data.get("relationship", {})
    if raw_rel is None:
        raw_rel = {}
    if not isinstance(raw_rel, dict):
        raise MalformedExtraction('"relationship" must be an object')
    for key, value in raw_rel.items():
        if key not in RELATIONSHIP_RANGES:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MalformedExtraction(f'relationship "{key}" must be a number')
        try:
            number = float(value)  # an integer too large for a float overflows
        except OverflowError:
            number = math.nan
        if not math.isfinite(number):  # NaN, Infinity (which JSON may spell) or beyond a float
            raise MalformedExtraction(f'relationship "{key}" must be a finite number')
        relationship[key] = max(-max_change, min(max_change, number))
    return Extraction(tuple(facts[:MAX_FACTS_PER_BATCH]), relationship, parse_threads(data.get("threads")))


def _text(raw: object) -> str | None:
    """A fact's text, spaces collapsed and bounded; None for anything else or nothing."""
    return " ".join(raw.split())[:MAX_FACT_CHARS] or None if isinstance(raw, str) else None


def _slot(item: dict[str, Json]) -> tuple[str | None, str | None]:
    """(slot as stored, value) of an answered fact: ("", None) for none or a slot not of SLOTS, (None, None)
    when the answer does not say (a model answering without the schema)."""
    if "slot" not in item:
        return None, None
    slot = parse_slot(item["slot"])
    return (slot.stored, _text(item.get("value"))) if slot is not None else ("", None)


def _action(raw: object) -> str:
    value = raw.strip().lower() if isinstance(raw, str) else ""
    return value if value in ACTIONS else "add"


def _ref(raw: object) -> str | None:
    """A shown fact's short id as "F<n>" ("F3", "f3", "3", 3 alike); None for anything else."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        return None
    value = raw.strip().upper().removeprefix("F")
    return f"F{int(value)}" if value.isdigit() and len(value) <= 4 else None


def time_label(row: FactRow, language: str | None = None) -> str:
    """How fact lists show a fact's time and lasting, in ``language`` (the reader's; None: English): "told
    2026-05-08, happened 2026-05-02, lasting" (and "until 2026-11-20" for a fact no longer true)."""
    parts = [t(language, "told {date}", date=list_date(row.told, language))]
    if row.happened_at is not None:
        parts.append(t(language, "happened {date}", date=list_date(row.happened_at, language)))
    if row.valid_until is not None:
        parts.append(t(language, "until {date}", date=list_date(row.valid_until, language)))
    if row.lasting:
        parts.append(t(language, "lasting"))
    return joined(parts, language)


def category_name(category: str, language: str | None = None) -> str:
    """A category as a person reads it: one of CATEGORIES (or an admin's default, "general") by its name in
    ``language``; any other (an admin's own word) as stored."""
    name = CATEGORY_NAMES.get(category)
    return t(language, name) if name is not None else category


# --------------------------------------------------------------------------- per-user vector index


@dataclass
class FactIndex:
    """A user's facts, with the embedded ones as a normalised matrix (row i of ``matrix`` is
    ``rows[positions[i]]``) and per-fact arrays that let recall filter and rank without a Python loop."""

    rows: list[FactRow]
    matrix: np.ndarray
    positions: np.ndarray
    stamp: Stamp = ()
    pinned: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    private: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    guild: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # 0: no one server's
    last_mentioned: np.ndarray = field(default_factory=lambda: np.zeros(0))  # POSIX seconds
    lasting: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    told: np.ndarray = field(default_factory=lambda: np.zeros(0))  # POSIX seconds it was said
    happened: np.ndarray = field(default_factory=lambda: np.zeros(0))  # POSIX seconds; NaN: not said
    by_references: np.ndarray = field(
        default_factory=lambda: np.zeros(0, dtype=np.int64))  # most referenced first
    costs: dict[int, int] = field(default_factory=dict)  # prompt tokens of a fact's line, filled as needed
    order_list: list[int] = field(default_factory=list)  # by_references as Python ints, for recall's loop
    pinned_order: list[int] = field(default_factory=list)  # the pinned ones, in that order
    refs: np.ndarray = field(default_factory=lambda: np.zeros(0))  # reference counts
    days: dict[int, str] = field(default_factory=dict)  # the day a fact was told, as the prompt shows it
    lexical: LexicalIndex = field(default_factory=LexicalIndex)  # BM25 over the facts' words
    current: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # not closed
    past: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # closed, told as history
    read_in_english: bool = False  # most facts carry an English wording (user_facts.gloss)

    @property
    def searched_in(self) -> str | None:
        """The language an English model read these facts in: English where most carry an English wording
        (user_facts.gloss), else the language most of them are written in (their BM25 index's)."""
        return "en" if self.read_in_english else self.lexical.language

    def seen_by(self, *, private: bool, guild_id: int | None, everywhere: bool) -> np.ndarray:
        """The facts a reader may see, as database/visibility.py rules (the index's person standing as
        person 1): their DMs (``private``) see all; a server's place (``guild_id``) what was learnt in its
        public channels and what is of no place, and the other servers' too when ``everywhere``."""
        n = len(self.rows)
        guild = self.guild if len(self.guild) == n else np.zeros(n, dtype=np.int64)
        kind = np.where(self.private, Kind.DM, np.where(guild != 0, Kind.PUBLIC, Kind.NOWHERE))
        audience = Audience.dm(1) if private else Audience.place(private=False, guild=guild_id, channel=None,
                                                                  person=1, everywhere=everywhere)
        return mask(audience, kind, np.ones(n, dtype=np.int64), guild)

    @classmethod
    def build(cls, rows: Sequence[FactRow], stamp: Stamp = (), dim: int | None = None,
              lexical: bool = True) -> FactIndex:
        vectors: list[np.ndarray] = []
        positions: list[int] = []
        lengths: dict[int, int] = {}
        decoded = [from_bytes(r.embedding) if r.embedding else None for r in rows]
        for v in decoded:
            if v is not None and v.size:
                lengths[v.size] = lengths.get(v.size, 0) + 1
        # Vectors from another model (another length) cannot be compared: they count as not embedded.
        want = dim or (max(lengths, key=lambda k: lengths[k]) if lengths else 0)
        for i, v in enumerate(decoded):
            if v is not None and v.size == want:
                vectors.append(v)
                positions.append(i)
        matrix = normalise(np.vstack(vectors)) if vectors else np.zeros((0, want), dtype=DTYPE)
        last = np.array([r.last_mentioned.timestamp() for r in rows], dtype=np.float64)
        refs = np.array([r.reference_count for r in rows], dtype=np.int64)
        order = np.lexsort((-last, -refs)) if len(rows) else np.zeros(0, dtype=np.int64)
        return cls(list(rows), matrix, np.asarray(positions, dtype=np.int64), stamp,
                   pinned=np.array([r.pinned for r in rows], dtype=bool),
                   private=np.array([r.private for r in rows], dtype=bool), last_mentioned=last,
                   guild=np.array([r.guild_id or 0 for r in rows], dtype=np.int64),
                   lasting=np.array([r.lasting for r in rows], dtype=bool),
                   told=np.array([r.told.timestamp() for r in rows], dtype=np.float64),
                   happened=np.array([r.happened_at.timestamp() if r.happened_at else np.nan for r in rows],
                                     dtype=np.float64),
                   by_references=order.astype(np.int64),
                   current=np.array([r.valid_until is None for r in rows], dtype=bool),
                   past=np.array([r.valid_until is not None and bool(r.past) for r in rows], dtype=bool),
                   lexical=LexicalIndex.build([glossed(r.fact, r.gloss) for r in rows]) if lexical
                   else LexicalIndex(),
                   read_in_english=0 < 2 * sum(1 for r in rows if r.gloss) >= len(rows))

    def __post_init__(self) -> None:
        if len(self.current) != len(self.rows):  # built by hand (tests, benchmarks): every fact current
            self.current = np.ones(len(self.rows), dtype=bool)
            self.past = np.zeros(len(self.rows), dtype=bool)
        # Filling the budget: current facts only (history is recalled when the message is about it).
        self.order_list = [i for i in self.by_references.tolist() if self.current[i]]
        self.pinned_order = [i for i in self.order_list if self.pinned[i]]
        self.refs = np.array([r.reference_count for r in self.rows], dtype=np.float64)
        self._dense_all = len(self.positions) == len(self.rows) and bool(
            (self.positions == np.arange(len(self.rows))).all())
        self.slot = np.full(len(self.rows), -1, dtype=np.int64)  # each fact's row of ``matrix`` (-1: none)
        self.slot[self.positions] = np.arange(len(self.positions))
        # How much each fact looks like the person's facts in general (its product with their mean vector):
        # recall discounts it, so a message is matched on what it asks about, not on whom.
        mean = self.matrix.mean(axis=0) if len(self.positions) else None
        typical = self.scores(mean) if mean is not None else np.zeros(len(self.rows))
        self.common = worth.unit(mean)  # the direction all the person's facts share (worth.about)
        # What was said in private, or is sensitive: recalled only for a message about it (memory/worth.py).
        n = len(self.rows)
        private = self.private if len(self.private) == n else np.zeros(n, dtype=bool)
        self.guarded = private | np.array([r.category in SENSITIVE_CATEGORIES for r in self.rows], dtype=bool)
        # (0 for a fact with no vector: its similarity stays -inf)
        self.typical = np.where(np.isfinite(typical), typical, 0.0).astype(np.float32)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1]) if self.matrix.ndim == 2 else 0

    def unembedded(self, dim: int) -> list[FactRow]:
        """Facts without a usable vector for a model of ``dim`` dimensions."""
        have = set(self.positions.tolist()) if self.dim == dim else set()
        return [r for i, r in enumerate(self.rows) if i not in have]

    def scores(self, vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of every fact to ``vector`` (-inf where a fact has no usable vector)."""
        return self.scores_of(vector[None, :])[:, 0]

    def scores_of(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine similarities of every fact to each row of ``vectors`` (facts x vectors): one pass over the
        matrix for all of them (the message and its topic), which is memory-bound for thousands of facts."""
        k = vectors.shape[0]
        if self._dense_all and len(self.rows) and vectors.shape[1] == self.dim:  # every fact embedded
            return similarities(self.matrix, vectors.astype(DTYPE, copy=False))
        out = np.full((len(self.rows), k), -np.inf, dtype=np.float32)
        if len(self.positions) and vectors.shape[1] == self.dim:
            out[self.positions] = similarities(self.matrix, vectors.astype(DTYPE, copy=False))
        return out


class FactCache(StampedCache[FactIndex]):
    """Per-user :class:`FactIndex`, re-read whenever the user's fact stamp changes (see module docstring)."""

    def __init__(self, facts: Facts, max_users: int = CACHE_USERS) -> None:
        super().__init__(max_users)
        self.facts = facts

    async def get(self, user_id: int, stamp: Stamp | None = None) -> FactIndex:
        """``stamp``: the fingerprint when the caller has just read it (a reply reads it with its prompt
        data)."""
        if stamp is None:
            stamp = await self.facts.stamp(user_id)
        cached = self.cached(user_id, stamp)
        if cached is not None:
            return cached
        if stamp[:1] == (None,):  # no newest fact (database/stamps.py): none to read, nothing to index
            return self.keep(user_id, FactIndex([], np.zeros((0, 0), dtype=DTYPE),
                                                np.zeros(0, dtype=np.int64), stamp))
        # Read after the stamp: a change in between leaves a newer index under an older stamp, which the
        # next lookup replaces. Never the other way round.
        rows = await self.facts.rows(user_id)
        return self.keep(user_id, await asyncio.to_thread(FactIndex.build, rows, stamp) if len(rows) > 500
                         else FactIndex.build(rows, stamp))


# --------------------------------------------------------------------------- matching new facts to known ones


@dataclass
class Matched:
    """Outcome of comparing a batch's extracted facts with the user's known ones."""

    mentioned: dict[int, FactRow] = field(default_factory=dict)  # fact id -> the known fact mentioned again
    mentioned_by: dict[int, ExtractedFact] = field(default_factory=dict)  # fact id -> what was said of it
    new: list[tuple[ExtractedFact, np.ndarray]] = field(default_factory=list)


def match_facts(index: FactIndex, facts: Sequence[ExtractedFact], vectors: np.ndarray,
                threshold: float) -> Matched:
    """A fact whose best cosine similarity to a known fact reaches ``threshold`` is that fact mentioned again;
    otherwise it is new (unless it repeats a new fact earlier in the same batch). Whatever the cosine, a fact
    that gives its slot another value than the known fact of that slot has, or fills another slot than the
    model gave it (:func:`changed`), is not a repeat: two facts of one slot in a language the embedder reads
    poorly ("アリスの猫の名前はモチ", "アリスの猫の名前はタマ") are as near as two wordings of one fact."""
    out = Matched()
    if len(facts):
        vectors = normalise(np.asarray(vectors, dtype=DTYPE).reshape(len(facts), -1))
    pending: list[tuple[ExtractedFact, np.ndarray]] = []
    for fact, vector in zip(facts, vectors, strict=True):
        # A closed fact is not said again: "lives in Leeds" after the move back is a new, current fact.
        scores = np.where(index.current, index.scores(vector), -np.inf)
        best = int(np.argmax(scores)) if len(scores) else -1
        if best >= 0 and scores[best] >= threshold:
            row = index.rows[best]
            if not changed(fact, row.fact, row.slot, row.slot_value):
                out.mentioned.setdefault(row.id, row)
                out.mentioned_by.setdefault(row.id, fact)
                continue
        if any(float(v @ vector) >= threshold and not changed(fact, f.fact, f.slot, f.value)
               for f, v in pending):
            continue
        pending.append((fact, vector))
        out.new.append((fact, vector))
    return out


def changed(fact: ExtractedFact, known: str, slot: str | None, value: str | None) -> bool:
    """Whether ``fact`` (with the slot the model gave it) is another fact than a known one (``known``, its
    stored ``slot`` and ``value``; a NULL slot: stored before slots were named, read by its English cues)
    however near their words: it fills another slot than the model gave the known one (one of them none), or
    gives the known fact's slot another value."""
    if fact.slot is None or fact.fact.casefold() == known.casefold():
        return False  # the model named no slot: the cosine decides
    mine = parse_slot(fact.slot)
    if slot is not None:  # both named by the model
        theirs = parse_slot(slot)
        if _where(mine) != _where(theirs):
            return True
    else:
        theirs = slot_of(known)
        if mine is None or theirs is None or _where(mine) != _where(theirs):
            return False  # the cues miss most wordings: no proof of another fact
    return mine is not None and same_value(fact.value, value, known) is False


def _where(slot: Slot | None) -> tuple[str, str] | None:
    return (slot.name, slot.key) if slot is not None else None
