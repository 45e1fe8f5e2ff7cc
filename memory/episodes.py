"""Episodic recall: what was actually said, found again in a person's archived conversations.

Facts (memory/facts.py) hold only what extraction kept; the words themselves are archived at the daily
consolidation. When a batch of a person's messages is archived, each of their messages, and each line of
the character's right beside one of them in the same place, is indexed for that person
(``archive_excerpts``, in the batch's transaction): its text, who said it, where and when, and its sentence
embedding (computed in a worker thread, with the batch's facts).

At a reply, recall (memory/recall.py) searches the person's excerpts beside their facts, ranking each
message by reciprocal rank fusion of: the cosine similarity of its embedding, the similarity to the
message's topic (its words less its question words and the person's name: memory/recall.py ``topic``),
BM25 over its words, BM25 over its words *with its neighbours* (the exchange around it: the question a line
answers names what the line itself does not), and, when the message names a time, similarity among what
was said then. Facts and excerpts then share the one recall budget by relevance; a long line is quoted in
part, in its sentences that share the message's telling words (:func:`snippet`), so more of what was said
fits.

Where an excerpt may be recalled follows the strictest place rule: what was said in a DM only in that
person's DMs, what was said in a server channel only in that same channel (so a private channel's words
never reach a public one, and a server's never leave it). Consent is checked by recall as for facts;
/forget_me deletes the rows (database/privacy.py); ``/memory said`` lists and deletes them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from bot.core.tokens import count_tokens, english_tokens, language_factor
from database.excerpts import Excerpts
from database.records import ExcerptRow, NewExcerpt, SeenMessage
from database.stamps import ExcerptStamp, FactStamp
from memory import timewords, worth
from memory.embeddings import (
    DTYPE,
    Embedder,
    encode_async,
    from_bytes,
    normalise,
    row_max,
    similarities,
    to_bytes,
)
from memory.factlines import day, headed
from memory.ivf import clusters
from memory.lexical import LexicalIndex, terms
from memory.stamped import Stamp, StampedCache

EXCERPT_CHARS = 1_000  # as consolidation reads a message: one long message is not a whole evening
NEIGHBOUR_SECONDS = 6 * 3600  # lines further apart than this are not one exchange
CACHE_USERS = 64
# Past this many vectors a person's excerpts are split into clusters (k-means on their embeddings), and a
# search scores only the clusters nearest the message, about PROBE_VECTORS vectors (an inverted file, as
# FAISS's IVF-Flat): 100,000 archived messages would otherwise cost a 100,000 x 384 product per reply.
IVF_MIN = 20_000
PROBE_VECTORS = 4_096
RRF_K = 10  # as for facts (memory/recall.py)
# The ranking by similarity to the message's topic (memory/recall.py ``topic``) against the message's own:
# lighter than for facts (1.5), where a line's own words already carry more than a fact's (LoCoMo developers'
# half, benchmarks/bench_locomo.py: turns 0.837 / 0.737 -> 0.845 / 0.745; 1.5: 0.849 / 0.743).
TOPIC_WEIGHT = 1.0
# A longer line is quoted in part: its sentences that share words with the message, up to about this many
# tokens (LoCoMo's turns average 36: whole, ten fit in a 400-token recall; in part, eighteen).
SNIPPET_TOKENS = 20
# A word in more than this share of a person's lines (or facts: memory/recall.py) is as good as their name:
# it tells nothing about what a message asks.
COMMON_SHARE = 0.05
CANDIDATES = 100
# The relevance floor, as for facts (memory/recall.py FLOORS, where it is explained): the message's, an
# excerpt's in the embedding rankings, and one found by its words'.
FLOORS = (0.3, 0.0, 0.0)


# --------------------------------------------------------------------------- indexing at consolidation


def beside(rows: Sequence[tuple[int, SeenMessage]]) -> dict[int, list[SeenMessage]]:
    """For each person's message (by log id), the character's lines right before and after it in the same
    place: the exchange it belongs to. Other people's messages are never part of someone's excerpts (their
    words are theirs to keep or forget)."""
    by_channel: dict[int, list[tuple[int, SeenMessage]]] = {}
    for item in rows:
        by_channel.setdefault(item[1].channel_id, []).append(item)
    out: dict[int, list[SeenMessage]] = {}
    for items in by_channel.values():
        for n, (log_id, m) in enumerate(items):
            if m.author_is_bot:
                continue
            near = [items[k][1] for k in (n - 1, n + 1) if 0 <= k < len(items)]
            lines = [o for o in near if o.author_is_bot and o.content.strip()
                     and abs((o.created_at - m.created_at).total_seconds()) <= NEIGHBOUR_SECONDS]
            if lines:
                out[log_id] = lines
    return out


def excerpts_of(messages: Sequence[tuple[int, SeenMessage]],
                lines_beside: Mapping[int, Sequence[SeenMessage]], name: str, *, private: bool = False,
                character: str = "") -> list[NewExcerpt]:
    """A batch's messages (and the character's lines beside them) as excerpts, without vectors yet.

    ``private``: said in a DM or a private place of a server (a private channel or thread, a ticket): kept
    like a DM's, recalled in the person's DMs only (issue 49). ``character``: the name the character's own
    lines are quoted under (not the bot account's)."""
    seen: set[int] = set()
    out: list[NewExcerpt] = []
    for log_id, m in messages:
        for o in (*[b for b in lines_beside.get(log_id, ()) if b.created_at <= m.created_at], m,
                  *[b for b in lines_beside.get(log_id, ()) if b.created_at > m.created_at]):
            text = " ".join(o.content.split())[:EXCERPT_CHARS]
            if not text or o.message_id in seen:
                continue
            seen.add(o.message_id)
            own = o is m
            out.append(NewExcerpt(o.message_id, o.channel_id, o.guild_id, o.is_dm or private,
                                  (name or o.author_name) if own else (character or o.author_name), own, text,
                                  o.created_at))
    return out


def indexed_text(speaker: str, content: str) -> str:
    """What is embedded and searched for one excerpt: who said it, and what."""
    return f"{speaker}: {content}"


EMBED_BATCH = 32  # sentences per model call when filling in vectors: a reply's query waits at most one call


async def embed_pending(excerpts: Excerpts, embedder: Embedder, *, batch: int = EMBED_BATCH) -> int:
    """Embed every excerpt that has no vector yet (oldest first), a batch at a time; how many were embedded.
    Run after consolidation (memory/consolidation.py); a run cut short leaves the rest for the next."""
    done, after = 0, 0
    while True:
        pending = await excerpts.unembedded(after, batch)
        if not pending:
            return done
        vectors = await encode_async(embedder, [indexed_text(speaker, content) for _, _, speaker, content
                                                in pending])
        await excerpts.set_embeddings([(eid, user, to_bytes(v)) for (eid, user, _, _), v
                                       in zip(pending, vectors, strict=True)])
        done += len(pending)
        after = pending[-1][0]


# --------------------------------------------------------------------------- a person's index


@dataclass
class ExcerptIndex:
    """A person's excerpts, as recall searches them (row i of ``matrix`` is ``rows[positions[i]]``)."""

    rows: list[ExcerptRow]
    matrix: np.ndarray
    positions: np.ndarray
    stamp: Stamp = ()
    dm: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    channel: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    message_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    told: np.ndarray = field(default_factory=lambda: np.zeros(0))  # POSIX seconds
    lexical: LexicalIndex = field(default_factory=LexicalIndex)  # each line's words
    context: LexicalIndex = field(default_factory=LexicalIndex)  # each line's words with its neighbours'
    costs: dict[int, int] = field(default_factory=dict)  # as its English's (bot/core/tokens.py)
    factors: dict[int, float] = field(default_factory=dict)  # its language's tokens per English one
    days: dict[int, str] = field(default_factory=dict)  # each looked-at line's day, formatted once
    # each looked-at line's sentences: (text, tokens, terms), split once
    sentences: dict[int, list[tuple[str, int, frozenset[str]]]] = field(default_factory=dict)
    # The inverted file (IVF_MIN and more vectors): unit centroids; the matrix and positions in cluster
    # order; where each cluster starts in them (one more entry: the end).
    centroids: np.ndarray | None = None
    starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    filler: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # memory/worth.py

    def __post_init__(self) -> None:
        self.slot = np.full(len(self.rows), -1, dtype=np.int64)  # each line's row of ``matrix`` (-1: none)
        self.slot[self.positions] = np.arange(len(self.positions))
        # the direction all the person's lines share (memory/worth.py ``about``)
        self.common = worth.unit(self.matrix.mean(axis=0)) if len(self.positions) else None
        self._where: dict[int, int] | None = None
        self._by_time: tuple[np.ndarray, np.ndarray] | None = None
        self._in_channel: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def build(cls, rows: Sequence[ExcerptRow], stamp: Stamp = ()) -> ExcerptIndex:
        decoded = [from_bytes(r.embedding) if r.embedding else None for r in rows]
        sizes: dict[int, int] = {}
        for v in decoded:
            if v is not None and v.size:
                sizes[v.size] = sizes.get(v.size, 0) + 1
        want = max(sizes, key=lambda k: sizes[k]) if sizes else 0
        positions = [i for i, v in enumerate(decoded) if v is not None and v.size == want]
        vectors = [v for v in decoded if v is not None and v.size == want]  # those of ``positions``
        matrix = normalise(np.vstack(vectors)) if vectors else np.zeros((0, want), dtype=DTYPE)
        texts = [indexed_text(r.speaker, r.content) for r in rows]
        told = np.array([r.said_at.timestamp() for r in rows], dtype=np.float64)
        # The exchange around each line: its neighbours in the same place, close in time.
        by_place: dict[tuple[bool, int], list[int]] = {}
        for i, r in enumerate(rows):
            by_place.setdefault((r.is_dm, r.channel_id), []).append(i)
        around = list(texts)
        for members in by_place.values():
            members.sort(key=lambda i: (told[i], rows[i].message_id))
            for n, i in enumerate(members):
                near = [members[k] for k in (n - 1, n + 1) if 0 <= k < len(members)
                        and abs(told[members[k]] - told[i]) <= NEIGHBOUR_SECONDS]
                if near:
                    around[i] = "\n".join(texts[k] for k in sorted([*near, i], key=lambda k: told[k]))
        where = np.asarray(positions, dtype=np.int64)
        centroids, starts = None, np.zeros(0, dtype=np.int64)
        if len(where) >= IVF_MIN:
            centroids, order, starts = clusters(matrix)
            matrix, where = matrix[order], where[order]
        return cls(list(rows), matrix, where, stamp,
                   dm=np.array([r.is_dm for r in rows], dtype=bool),
                   channel=np.array([r.channel_id for r in rows], dtype=np.int64), told=told,
                   message_ids=np.array([r.message_id for r in rows], dtype=np.int64),
                   lexical=LexicalIndex.build(texts), context=LexicalIndex.build(around),
                   centroids=centroids, starts=starts, filler=worth.filler(rows, told))

    def allowed(self, *, private: bool, channel_id: int) -> np.ndarray:
        """The strict place rule (module docstring): DM lines in DMs, a channel's lines in that channel;
        stricter than database/visibility.py's rule (a place's own lines are always its to see)."""
        if private:
            return self.dm.copy()
        here: np.ndarray = ~self.dm & (self.channel == channel_id)
        return here

    def search(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(excerpt indices, their cosine similarity to each row of ``vectors``: excerpts x vectors) of the
        excerpts searched: every one with a usable vector, or those of the clusters nearest the first row
        (the message; a second row, its topic, is ranked among the excerpts the message reached). One pass
        over the vectors for all rows."""
        if not len(self.positions) or vectors.shape[1] != self.matrix.shape[1]:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(vectors)), dtype=np.float32)
        vectors = vectors.astype(DTYPE, copy=False)
        if self.centroids is None:
            return self.positions, similarities(self.matrix, vectors)
        parts: list[tuple[int, int]] = []
        taken = 0
        for c in np.argsort(-(self.centroids @ vectors[0])):
            if taken >= PROBE_VECTORS:
                break
            a, b = int(self.starts[c]), int(self.starts[c + 1])
            parts.append((a, b))
            taken += b - a
        return (np.concatenate([self.positions[a:b] for a, b in parts]),
                np.concatenate([similarities(self.matrix[a:b], vectors) for a, b in parts]))

    def scores(self, vector: np.ndarray) -> np.ndarray:
        """Cosine similarity to ``vector`` (-inf: no usable vector, or in a cluster not searched)."""
        out = np.full(len(self.rows), -np.inf, dtype=np.float32)
        idx, values = self.search(vector[None, :])
        out[idx] = values[:, 0]
        return out

    def said_between(self, start: float, end: float) -> np.ndarray:
        """The lines with a vector said from ``start`` to before ``end`` (POSIX seconds), by a time order
        made once, at the first look."""
        if self._by_time is None:
            order = self.positions[np.argsort(self.told[self.positions], kind="stable")]
            self._by_time = order, self.told[order]
        order, times = self._by_time
        found: np.ndarray = order[np.searchsorted(times, start):np.searchsorted(times, end)]
        return found

    def said_in(self, channel_id: int, since: float | None = None) -> np.ndarray:
        """The lines said in channel ``channel_id`` (DM or not), at or after ``since`` (POSIX seconds; None:
        all of them), by a time order of that channel's lines made once, at its first look: a request's
        present is a slice of it, not a comparison of every line."""
        known = self._in_channel.get(channel_id)
        if known is None:
            lines = np.flatnonzero(self.channel == channel_id)
            lines = lines[np.argsort(self.told[lines], kind="stable")]
            known = self._in_channel[channel_id] = lines, self.told[lines]
        lines, times = known
        return lines if since is None else lines[np.searchsorted(times, since):]

    def where_said(self) -> dict[int, int]:
        """Each line's index by its message id (made once, at the first look)."""
        if self._where is None:
            self._where = {m: i for i, m in enumerate(self.message_ids.tolist())}
        return self._where

    def day_of(self, i: int) -> str:
        known = self.days.get(i)
        if known is None:
            known = self.days[i] = day(self.rows[i].said_at)
        return known

    def parts(self, i: int) -> list[tuple[str, int, frozenset[str]]]:
        known = self.sentences.get(i)
        if known is None:
            factor = self.factor(i)
            known = self.sentences[i] = [(p, english_tokens(count_tokens(p), factor), frozenset(terms(p)))
                                         for p in _SENTENCE.split(self.rows[i].content) if p]
        return known

    def vector(self, i: int) -> np.ndarray | None:
        return self.matrix[self.slot[i]] if self.slot[i] >= 0 else None

    def factor(self, i: int) -> float:
        known = self.factors.get(i)
        if known is None:
            known = self.factors[i] = language_factor(self.rows[i].content)
        return known

    def cost(self, i: int) -> int:
        known = self.costs.get(i)
        if known is None:
            known = self.costs[i] = english_tokens(count_tokens(line(self.rows[i])), self.factor(i))
        return known


class ExcerptCache(StampedCache[ExcerptIndex]):
    """Per-person :class:`ExcerptIndex`, re-read whenever the person's excerpt stamp changes."""

    def __init__(self, excerpts: Excerpts, max_users: int = CACHE_USERS) -> None:
        super().__init__(max_users)
        self.excerpts = excerpts

    async def stamps(self, user_id: int) -> tuple[FactStamp, ExcerptStamp]:
        """The person's fact and excerpt stamps in one trip (:meth:`Excerpts.stamps`)."""
        return await self.excerpts.stamps(user_id)

    async def get(self, user_id: int, stamp: Stamp | None = None) -> ExcerptIndex:
        """``stamp``: the excerpt stamp when the caller has just read it (with the fact stamp: one trip)."""
        if stamp is None:
            stamp = await self.excerpts.stamp(user_id)
        cached = self.cached(user_id, stamp)
        if cached is not None:
            return cached
        if stamp[0] is None:
            return self.keep(user_id, ExcerptIndex([], np.zeros((0, 0), dtype=DTYPE),
                                                   np.zeros(0, dtype=np.int64), stamp))
        rows = await self.excerpts.rows(user_id)
        return self.keep(user_id, await asyncio.to_thread(ExcerptIndex.build, rows, stamp) if len(rows) > 300
                         else ExcerptIndex.build(rows, stamp))


# --------------------------------------------------------------------------- search


def _add_ranking(hits: list[tuple[np.ndarray, np.ndarray]], idx: np.ndarray, values: np.ndarray,
                 weight: float = 1.0) -> None:
    """Add the best CANDIDATES of ``idx`` (by ``values``) and ``weight`` times their reciprocal ranks to
    ``hits``."""
    k = min(CANDIDATES, len(idx))
    if k <= 0:
        return
    best = np.argpartition(-values, k - 1)[:k] if len(idx) > k else np.arange(len(idx))
    hits.append((idx[best[np.argsort(-values[best], kind="stable")]], weight / (RRF_K + np.arange(1, k + 1))))


def _positive(matched: tuple[np.ndarray, np.ndarray], allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The allowed ones of (documents, BM25 scores) that score above zero."""
    idx, scores = matched
    keep = allowed[idx] & (scores > 0)
    return idx[keep], scores[keep]


def _near(index: ExcerptIndex, matched: tuple[np.ndarray, np.ndarray], asked: np.ndarray | None,
          floor: float) -> tuple[np.ndarray, np.ndarray]:
    """The ones of (excerpts, scores) sharing words with the message that are also near it in meaning
    (``floor``, to the message or its topic); one without a vector yet, by its words alone."""
    idx, scores = matched
    # (a floor of 0 or less filters next to nothing: thousands of lines share a common word, and their
    # vectors are not gathered for it)
    if floor <= 0 or asked is None or not len(idx) or asked.shape[1] != index.matrix.shape[1]:
        return matched
    slots = index.slot[idx]
    near = np.full(len(idx), np.inf, dtype=np.float32)
    has = slots >= 0
    if has.any():
        near[has] = row_max(index.matrix[slots[has]] @ asked.astype(DTYPE, copy=False).T)
    keep = near >= floor
    return idx[keep], scores[keep]


def ranked(index: ExcerptIndex, query: np.ndarray | None, text: str, allowed: np.ndarray,
           now: datetime | None = None, about: np.ndarray | None = None,
           floors: tuple[float, float, float] = FLOORS,
           reach: list[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(excerpt indices, their fused scores), best first: only excerpts some ranking found. ``about``: the
    embedding of the message's topic (memory/recall.py ``topic``), None when it has none; ``floors``: the
    relevance floor (FLOORS). Every ranking
    looks only at its candidates (the searched clusters, the excerpts sharing a word with the message), so
    a person with 100,000 archived messages costs a few small arrays, not several of 100,000."""
    if not len(index.rows) or not allowed.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    hits: list[tuple[np.ndarray, np.ndarray]] = []
    dense: tuple[np.ndarray, np.ndarray] | None = None
    asked = np.stack([query, about]) if query is not None and about is not None else \
        query[None, :] if query is not None else None
    if asked is not None and len(index.positions):
        idx, values = index.search(asked)
        keep = allowed[idx]
        dense = idx[keep], values[keep, 0]
        if reach is not None and len(idx):
            reach.append(float(values[keep].max(initial=-1.0)))
        near = dense[1] >= floors[1]
        _add_ranking(hits, dense[0][near], dense[1][near])
        if about is not None:
            near = values[keep, 1] >= floors[1]
            _add_ranking(hits, idx[keep][near], values[keep, 1][near], TOPIC_WEIGHT)
    context: tuple[np.ndarray, np.ndarray] | None = None
    if text.strip():
        words = _positive(index.lexical.matches(text), allowed)
        _add_ranking(hits, *_near(index, words, asked, floors[2]))
        context = _positive(index.context.matches(text), allowed)
        _add_ranking(hits, *_near(index, context, asked, floors[2]))
    span = timewords.asked(text, now) if now is not None and text else None
    then = dense if dense is not None else context
    if span is not None and then is not None:
        told = index.told[then[0]]
        within = (told >= span[0].timestamp()) & (told < span[1].timestamp())
        _add_ranking(hits, then[0][within], then[1][within])
    if not hits:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    # The reciprocal ranks summed per excerpt in the rankings' order (bincount adds in the order given), over
    # the excerpts found only: no array of every line.
    found, at = np.unique(np.concatenate([h[0] for h in hits]), return_inverse=True)
    fused = np.bincount(at, np.concatenate([h[1] for h in hits]), len(found))
    order = np.argsort(-fused, kind="stable")
    return found[order], fused[order]


# --------------------------------------------------------------------------- the prompt

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)")
ELLIPSIS = "…"


def telling(index: ExcerptIndex, text: str) -> dict[str, float]:
    """The message's terms that can pick a line's sentences, with their weight (BM25's idf among the person's
    lines): the rarer, the more telling. A term in more than COMMON_SHARE of the lines (the person's name,
    "thanks") picks nothing."""
    n = index.lexical.size
    out: dict[str, float] = {}
    for t in set(index.lexical.terms(text)):
        hit = index.lexical.postings.get(t)
        if hit is not None and len(hit[0]) <= COMMON_SHARE * n:
            out[t] = float(np.log(1.0 + (n - len(hit[0]) + 0.5) / (len(hit[0]) + 0.5)))
    return out


def snippet(index: ExcerptIndex, i: int, wanted: Mapping[str, float],
            limit: int = SNIPPET_TOKENS) -> tuple[ExcerptRow, int]:
    """Excerpt ``i`` as recall quotes it for a message of terms ``wanted``, and its line's tokens: whole when
    short, else its sentences sharing the most words with the message (at least one, whole sentences, in
    their order, "…" where words were left out) within about ``limit`` tokens. Whole, too, when no sentence
    shares a word (what matched was its meaning or its neighbours')."""
    row, full = index.rows[i], index.cost(i)
    if full <= limit or not wanted:
        return row, full
    parts = index.parts(i)
    shared = [sum(wanted.get(w, 0.0) for w in t) for _, _, t in parts]
    if len(parts) < 2 or max(shared) == 0:
        return row, full
    room = limit - (full - sum(n for _, n, _ in parts))  # the line's own tokens: dash, speaker, quotes
    keep: list[int] = []
    for k in sorted(range(len(parts)), key=lambda k: (-shared[k], k)):
        if not shared[k]:
            break
        if not keep or parts[k][1] + 1 <= room:  # a sentence and its "…"
            keep.append(k)
            room -= parts[k][1] + 1
    keep.sort()
    text = ELLIPSIS + " " if keep[0] else ""
    for n, k in enumerate(keep):
        if n:
            text += " " if k == keep[n - 1] + 1 else f" {ELLIPSIS} "
        text += parts[k][0]
    if keep[-1] != len(parts) - 1:
        text += f" {ELLIPSIS}"
    short = replace(row, content=text)
    return short, english_tokens(count_tokens(line(short)), index.factor(i))


def line(row: ExcerptRow) -> str:
    return f'- {row.speaker}: "{row.content}"\n'


def render(excerpts: Sequence[ExcerptRow], user: str, language: str | None = None) -> str:
    """Dated, quoted excerpts: grouped by day (headed in ``language``, the person's), oldest first, each
    day's lines in the order they were said."""
    if not excerpts:
        return ""
    groups: dict[str, list[ExcerptRow]] = {}
    for e in sorted(excerpts, key=lambda e: (e.said_at, e.message_id)):
        groups.setdefault(day(e.said_at), []).append(e)
    body = headed({told: "".join(line(e) for e in groups[told]) for told in groups}, language)
    return (f"[Words from your earlier conversations with {user}, quoted as they were said ('…': words left "
            "out), by day (your own lines under your name; bring them up only where they fit, never recite "
            "them)]\n"
            + body.rstrip("\n"))

