"""What a reply's request already holds, so recall never quotes it again (memory/recall.py).

A reply's request shows the live conversation (a DM's history turns; in a server channel the channel's
recent lines, or the person's history turns when there are none), the summary of what came before it, and
the core memories and notes. Recall reads this from the prompt data of the reply (:func:`present`) and
leaves out:

* an archived excerpt (memory/episodes.py) of a message the request shows: its Discord id is among the live
  lines', or it was said in the live conversation's place at or after the oldest live line (a reply split
  into several messages keeps only its last id in the history, so the time decides for the others);
* an excerpt of that place said before the live lines when a summary stands for them and tells it: the
  summary tells what was said there from its first message (``History.summary_since``, set by the first
  summary after a reset) up to the live lines; what was said before that (before the reset) is recalled;
* a fact that says what a core memory, a note, an open thread or a clause of the summary shown says, by
  their embeddings (memory/recall.py): a thread that is also a fact is said once, as the thread (it has its
  day), and the person block says each thing once. A note, in the person's own words ("I live in Leeds"), is
  compared as theirs ("alice: I live in Leeds": 0.89 to "Alice lives in Leeds", 0.57 without the name); the
  summary clause by clause ("Alice lives in Leeds and bakes bread": 0.75 whole, 1.0 its first clause), a
  memory whole and piece by piece (parted at its punctuation). Plain cosine at the model's ``said_as_memory``
  only catches a near copy: every fact and memory names the person, so any two sit high, and a fact saying
  part of a longer memory, or saying it in another language, sits as high as one saying something else
  ("Alice vive en Leeds con Sam" 0.60 to "Alice lives in Leeds with her partner Sam and their greyhound
  Biscuit.", "Alice's partner Sam teaches at a primary school" 0.56). With the direction all the person's
  facts share set aside from both (memory/worth.py ``about``), the first is at 0.33 and the second at 0.19:
  the model's ``said_aside`` (memory/embeddings.py TUNINGS; benchmarks/bench_person_recall.py). A fact
  saying one thing of a memory that says several ("Alice's partner is called Sam") is compared with the
  memory's stretches of about its length (:func:`windows`), as the pair of models reads each language.

The person block itself says each thing once too (:func:`said_once`, by words, memory/worth.py ``said_in``):
a note a core memory already says is dropped (or the memory, when the note tells more), and so is a whole
clause of the summary a memory or note says ("Alice has a sister, Maya. Alice lives in Leeds." is "Alice has a
sister, Maya." beside "Alice lives in Leeds"). Clauses part at punctuation of any script, never at a
language's words and never inside brackets or quotes; a clause that says a memory and more is kept whole, so
nothing is ever cut mid-clause (no stray bracket, no "…"). It reads only the stored texts, so the cached
block changes only with them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from bot.core.language import MIN_CONFIDENCE, guess
from bot.core.localtime import snowflake_time
from bot.core.stages import Incoming
from database.records import PromptData
from memory.embeddings import is_english, row_max
from memory.episodes import ExcerptIndex
from memory.facts import FactIndex
from memory.lexical import FALLBACK, terms, units
from memory.worth import said_in

MEMORY_VECTORS = 4_096
# The facts a person needs before their common direction means "whom they are about" (with fewer, it is
# mostly the compared fact's own and says nothing of the memory).
ASIDE_FACTS = 4
# Where a summary's clauses part: its punctuation, in any script (a sentence's end, a comma, semicolon
# or colon before a space; 、。，；：！？ and the Arabic and Devanagari marks without one). Never its words:
# which word joins two clauses is each language's own (and, y, und, て...). Never inside brackets or quotes
# either (:func:`clause_parts`).
CLAUSE = re.compile(r"(?<=[.!?])\s+|[,;:](?=\s)\s*|[\u3001\uff0c\uff1b\uff1a\u060c\u061b]\s*"
                    r"|(?<=[\u3002\uff01\uff1f\u061f\u0964])\s*")
CLAUSE_WORDS = 3  # a shorter piece ("her cat") says too little to stand for a fact
WINDOW_WORDS = (3, 8)  # the stretches of a memory compared with the facts (fewer words say too little)
# a fact is compared with the stretches of about its length or longer (one word fewer: "is called" in it)
WINDOW_SLACK = 1
PIECE = re.compile(r"(?<=[,;:.!?\u3001\u3002\uff0c\uff1b\uff01\uff1f])\s*")
# a memory's piece of fewer words (a list of names: "Churro y Canela.") is near any fact naming them
PIECE_WORDS = 4


@dataclass(frozen=True)
class Window:
    """A stretch of a core memory (``text``, with whom it is about), of ``size`` words, in English or not
    (``english``: the pair of models compares an English one by both, another by its multilingual half)."""

    text: str
    size: float
    english: bool


@dataclass(frozen=True)
class Present:
    """What a request holds: ``ids``, the Discord ids of the lines it shows; ``channel_id``, the place of its
    live conversation, where everything said at or after ``since`` is shown (None: nothing but ``ids``) and,
    when ``summarized``, everything said before ``since`` from ``told_from`` on is told by the summary
    (None: all of it, a summary older than the record of its start); ``memories``: the core memories and
    notes (and open threads) shown, in their words."""

    ids: frozenset[int] = frozenset()
    channel_id: int = 0
    since: datetime | None = None
    summarized: bool = False
    memories: tuple[str, ...] = ()
    told_from: datetime | None = None
    # a DM: what the request does not hold of it was reset away (its history drops nothing else unsummarised;
    # what a summary tells it holds), recalled only when asked about (memory/worth.py)
    reset: bool = False
    # the stretches of the core memories shown (:func:`windows`), compared with the facts by their vectors
    windows: tuple[Window, ...] = ()

    def held(self, excerpts: ExcerptIndex) -> np.ndarray:
        """Which of a person's excerpts the request already holds."""
        out = np.zeros(len(excerpts.rows), dtype=bool)
        if self.ids:
            where = excerpts.where_said()
            out[[i for m in self.ids if (i := where.get(m)) is not None]] = True
        start = self.since  # from the live lines on: the lines
        if self.summarized:  # before them, the summary from where it starts telling (None: all of it)
            start = self.told_from if start is None or self.told_from is None \
                else min(_utc(start), _utc(self.told_from))
        elif start is None:
            return out
        out[excerpts.said_in(self.channel_id, None if start is None else _utc(start).timestamp())] = True
        return out


NOTHING = Present()


def present(msg: Incoming, data: PromptData, threads: Sequence[str] = ()) -> Present:
    """What the request of the reply to ``msg`` holds, from its prompt data (bot/reply/prompting.py lays the
    same data out): in a channel with recent lines, those lines; else the history turns. ``threads``: the
    open threads it shows (memory/threads.py), compared with the facts as the memories are."""
    lines = [m for m in data.recent if m.message_id != msg.message_id and m.content.strip()] \
        if not msg.is_dm else []
    ids = {msg.message_id}
    since: datetime | None = None
    if lines:
        ids.update(m.message_id for m in lines)
        since = min(_utc(m.created_at) for m in lines)
    else:
        turned = [t.discord_message_id for t in data.history.turns if t.discord_message_id]
        ids.update(turned)
        if turned:
            since = snowflake_time(min(turned))
    told = (*data.core_memories, *pieces(data.core_memories),
            *(f"{msg.author_name}: {n}" for n in data.notes), *threads, *clauses(data.history.summary))
    return Present(frozenset(ids), msg.channel_id, since, bool(data.history.summary), told,
                   data.history.summary_since,
                   reset=msg.is_dm, windows=tuple(windows(data.core_memories, msg.author_name)))


def windows(memories: Sequence[str], name: str) -> list[Window]:
    """Every stretch of WINDOW_WORDS words of each memory longer than that (a CJK character half a word),
    named as theirs ("alice: her partner Sam"): a fact saying one thing of a memory that says several
    ("Alice's partner is called Sam" of "Alice lives in Leeds with her partner Sam and their greyhound
    Biscuit.") is near the stretch that says it, where the whole memory, and its pieces at its punctuation,
    say too much else; a fact that adds to it ("Alice's partner Sam teaches at a primary school") is near
    none as long as it (MemoryVectors.said_within)."""
    out: dict[str, Window] = {}
    low, high = WINDOW_WORDS
    for memory in memories:
        own = units(memory, FALLBACK)
        weights = [0.5 if u.cjk else 1.0 for u in own]
        if sum(weights) <= low:
            continue
        english = is_english(memory)
        for i in range(len(own)):
            total = 0.0
            for j in range(i, len(own)):
                total += weights[j]
                if total > high:
                    break
                if total >= low and total.is_integer():
                    text = memory[own[i].start:own[j].end]
                    text = text if name.casefold() in text.casefold() else f"{name}: {text}"
                    out.setdefault(text, Window(text, total, english))
    return list(out.values())


def pieces(memories: Sequence[str]) -> list[str]:
    """The parts of memories that say several things ("Bea tiene dos gatos, Churro y Canela."), parted at
    punctuation (in any script), each long enough (PIECE_WORDS) to say something of its own: a fact saying one
    of them is nearer it than the whole memory."""
    out: list[str] = []
    for memory in memories:
        parts = [p.strip() for p in PIECE.split(memory)]
        if len(parts) > 1:
            out += [p for p in parts if len(p.split()) >= PIECE_WORDS]
    return list(dict.fromkeys(out))


def clauses(summary: str) -> list[str]:
    """The clauses of a summary, each compared with the facts as a memory is."""
    return [c.strip() for c, _ in clause_parts(summary) if _size(c) >= CLAUSE_WORDS]


def said_once(name: str, memories: Sequence[str], notes: Sequence[str],
              summary: str) -> tuple[list[str], list[str], str]:
    """The core memories, notes and summary of ``name`` as the person block shows them, each thing said once:
    a note a memory says (with as many telling words) goes, a memory a note says with more goes, then each
    clause of the summary a memory or note says, or the stretch of it one says (:func:`_cut`). A note is
    compared as theirs ("alice: I live in Leeds")."""
    kept = list(memories)
    shown: list[str] = []
    for note in notes:
        theirs = f"{name}: {note}"
        if any(said_in(theirs, [m], name) and _telling(m, name) >= _telling(theirs, name) for m in kept):
            continue
        kept = [m for m in kept if not said_in(m, [theirs], name)]  # the note tells it, and more
        shown.append(note)
    told = [*kept, *(f"{name}: {n}" for n in shown)]
    return kept, shown, _dropped(summary, lambda c, language: said_in(c, told, name, language))


def without_facts(summary: str, facts: Sequence[str], name: str) -> str:
    """``summary`` without what it says of ``facts`` (by words, memory/worth.py ``said_in``, and
    :func:`_cut`): what a summary keeps of facts no longer true when it cannot be rewritten
    (memory/summarizer.py)."""
    return _dropped(summary, lambda c, language: any(said_in(f, [c], name, language) for f in facts))


def _dropped(summary: str, said: Callable[[str, str], bool]) -> str:
    """``summary`` without the whole clauses (of CLAUSE_WORDS or more) ``said`` picks (read in the summary's
    language), still ending its sentences as it did. Only whole clauses go, never a stretch inside one, and a
    clause never parts inside brackets or quotes (:func:`clause_parts`): what is left reads whole in any
    script, or the sentence is kept as it was."""
    parts = clause_parts(summary)
    language = _language(summary)
    left: list[tuple[str, str]] = []
    changed = False
    for clause, sep in parts:
        if _size(clause) < CLAUSE_WORDS or not _balanced(clause) or not said(clause.strip(), language):
            left.append((clause, sep))
            continue
        changed = True
        end = clause.rstrip()[-1:]
        if left and end in SENTENCE_ENDS and left[-1][0].rstrip()[-1:] not in SENTENCE_ENDS \
                and not any(c in SENTENCE_ENDS for c in left[-1][1]):
            left[-1] = (left[-1][0], end + sep)  # the clause before it now ends the sentence
    if not changed:
        return summary
    text = ""
    for clause, sep in left:
        opens = not text.strip() or text.rstrip()[-1] in SENTENCE_ENDS
        text += (clause.lstrip()[:1].upper() + clause.lstrip()[1:] if opens else clause) + sep
    text = text.strip()
    if text and text[-1] in ",;:\u3001\uff0c\uff1b\uff1a\u060c\u061b":
        text = text[:-1].rstrip()
    if text and text[-1] not in SENTENCE_ENDS and summary.rstrip()[-1:] in SENTENCE_ENDS:
        text += summary.rstrip()[-1]  # its last clause gone, the summary still ends as it did
    return text


SENTENCE_ENDS = ".!?\u3002\uff01\uff1f\u061f\u0964"
# Brackets and quotes of any script, each opening one with the closing ones it may take: a clause never parts
# inside them (a parenthesis' comma, a quoted sentence's full stop), so no trimmed text is left with one
# half of a pair.
PAIRS = {"(": ")", "[": "]", "{": "}", "\uff08": "\uff09", "\uff3b": "\uff3d", "\u300c": "\u300d",
         "\u300e": "\u300f", "\u3010": "\u3011", "\u3008": "\u3009", "\u300a": "\u300b", "\u00ab": "\u00bb",
         "\u201c": "\u201d", "\u201e": "\u201c\u201d", "\u2018": "\u2019", "\u201a": "\u2018\u2019"}
STRAIGHT = '"'  # the same mark opens and closes


def _depths(text: str) -> list[int]:
    """How deep inside brackets or quotes each character of ``text`` stands (a closing mark with no opening
    one before it is read as text: "’" is an apostrophe as often as a quote)."""
    stack: list[str] = []
    depths: list[int] = []
    for ch in text:
        if stack and ch in stack[-1]:
            stack.pop()
        elif ch == STRAIGHT:
            stack.append(STRAIGHT)
        elif ch in PAIRS:
            stack.append(PAIRS[ch])
        depths.append(len(stack))
    return depths


def _balanced(text: str) -> bool:
    """Whether every bracket or quote ``text`` opens it also closes."""
    depths = _depths(text)
    return not depths or depths[-1] == 0


def clause_parts(summary: str) -> list[tuple[str, str]]:
    """The clauses of ``summary``, each with what parts it from the next: parted at CLAUSE's punctuation
    outside brackets and quotes only."""
    depths = _depths(summary)
    parts: list[tuple[str, str]] = []
    start = 0
    for m in CLAUSE.finditer(summary):
        if m.start() > 0 and depths[m.start() - 1] > 0:
            continue  # inside a parenthesis or a quotation: one clause with what surrounds it
        if m.end() > start or m.start() > start:
            parts.append((summary[start:m.start()], m.group()))
            start = m.end()
    if summary[start:]:
        parts.append((summary[start:], ""))
    return parts


def _size(text: str) -> float:
    """How many words a text has, a CJK character half of one (a word is two of them, as the bigrams)."""
    return sum(0.5 if u.cjk else 1 for u in units(text, FALLBACK))


def _language(text: str) -> str:
    code, confidence = guess(text)
    return code if code is not None and confidence >= MIN_CONFIDENCE else FALLBACK


def _telling(text: str, name: str) -> int:
    """How many telling words a memory has, whom it is about aside."""
    return len(set(terms(text)) - set(terms(name)))


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class MemoryVectors:
    """The core memories' and notes' vectors, by their words: each is embedded once (in the model call that
    encodes a message), not at every reply; a rewritten memory is new words, and the oldest are let go past
    MEMORY_VECTORS."""

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}

    def missing(self, memories: Sequence[str]) -> list[str]:
        return list(dict.fromkeys(m for m in memories if m not in self.vectors))

    def keep(self, memories: Sequence[str], vectors: np.ndarray) -> None:
        for m, v in zip(memories, vectors, strict=True):
            if len(self.vectors) >= MEMORY_VECTORS:
                del self.vectors[next(iter(self.vectors))]
            self.vectors[m] = v

    def said(self, index: FactIndex, memories: Sequence[str], threshold: float,
             aside: float | None = None) -> np.ndarray | None:
        """Which facts of ``index`` are within ``threshold`` cosine of one of ``memories`` (those embedded),
        or within ``aside`` once the direction all the person's facts share is set aside from both
        (memory/worth.py ``about``: every fact and memory names them, so plain cosine sits high for any two
        of them and low for a fact saying part of a longer memory, or saying it in another language); None
        when none can be compared."""
        vectors = [v for m in memories if (v := self.vectors.get(m)) is not None and v.size == index.dim]
        if not vectors or not len(index.positions):
            return None
        stack = np.stack(vectors)
        common = index.common
        if aside is None or common is None or len(index.positions) < ASIDE_FACTS or common.size != index.dim:
            plain: np.ndarray = row_max(index.scores_of(stack)) >= threshold
            return plain
        both = index.scores_of(np.vstack([stack, common[None, :]]))  # one pass over the facts
        scores = both[:, :-1]
        shown: np.ndarray = row_max(scores) >= threshold
        return shown | (row_max(_aside(scores, both[:, -1], stack @ common)) >= aside)

    def said_within(self, index: FactIndex, stretches: Sequence[Window], threshold: float,
                    alone: tuple[float, slice] | None = None) -> np.ndarray | None:
        """Which facts of ``index`` a stretch of a memory says (:func:`windows`, those embedded): one of
        about the fact's length or longer (WINDOW_SLACK words fewer) within ``threshold`` aside (the common
        direction of the person's facts set aside from both, as :meth:`said`); a stretch not in English by
        the multilingual part of the vectors alone (``alone``: its threshold, and where it is in a vector),
        as the pair of models reads a question in another language. None when none can be compared."""
        common = index.common
        kept = [(w, v) for w in stretches
                if (v := self.vectors.get(w.text)) is not None and v.size == index.dim]
        if not kept or len(index.positions) < ASIDE_FACTS or common is None or common.size != index.dim:
            return None
        facts = index.matrix.astype(np.float64)
        stack = np.stack([v for _, v in kept]).astype(np.float64)
        english = np.array([w.english or alone is None for w, _ in kept])
        long = np.array([w.size for w, _ in kept])[None, :] >= \
            np.minimum(_sizes(index), WINDOW_WORDS[1])[:, None] - WINDOW_SLACK
        near = np.zeros((len(index.positions), len(kept)), dtype=bool)
        c = common.astype(np.float64)
        ours = stack[english]
        near[:, english] = _aside(facts @ ours.T, facts @ c, ours @ c) >= threshold
        if alone is not None and (~english).any():
            part = alone[1]
            f, m, cp = _unit(facts[:, part]), _unit(stack[~english][:, part]), _unit(c[part][None, :])[0]
            near[:, ~english] = _aside(f @ m.T, f @ cp, m @ cp) >= alone[0]
        out = np.zeros(len(index.rows), dtype=bool)
        out[index.positions] = (near & long).any(axis=1)
        return out


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1)


def _sizes(index: FactIndex) -> np.ndarray:
    """How many words each embedded fact has (a CJK character half a word), as :func:`windows` counts."""
    return np.array([_size(index.rows[p].fact) for p in index.positions], dtype=np.float64)


def _aside(scores: np.ndarray, facts_common: np.ndarray, memories_common: np.ndarray) -> np.ndarray:
    """The cosines ``scores`` (facts x memories, unit vectors) with the common direction taken out of both
    (their products with it given): what memory/worth.py ``about`` computes, without a copy of every fact's
    vector. -inf for a fact without a vector."""
    out = np.full(scores.shape, -np.inf, dtype=np.float64)
    has = np.isfinite(facts_common)
    f = facts_common[has].astype(np.float64)
    m = memories_common.astype(np.float64)
    rest = np.outer(np.sqrt(np.clip(1 - f * f, 1e-6, None)), np.sqrt(np.clip(1 - m * m, 1e-6, None)))
    out[has] = (scores[has].astype(np.float64) - np.outer(f, m)) / rest
    return out
