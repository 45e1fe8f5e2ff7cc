"""Episodic recall: what was actually said, found again in a person's archived conversations.

Facts (memory/facts.py) hold only what extraction kept; the words themselves are archived at the daily
consolidation. When a batch of a person's messages is archived, each of their messages, and each line of
the character's right beside one of them in the same place, is indexed for that person
(``archive_excerpts``, in the batch's transaction): its text, who said it, where and when, and its sentence
embedding (computed in a worker thread, with the batch's facts).

At a reply, recall (memory/recall.py) searches the person's excerpts beside their facts, ranking each
message by reciprocal rank fusion of: the cosine similarity of its embedding, BM25 over its words, BM25
over its words *with its neighbours* (the exchange around it: the question a line answers names what the
line itself does not), and, when the message names a time, similarity among what was said then. Facts and
excerpts then share the one recall budget by relevance.

Where an excerpt may be recalled follows the strictest place rule: what was said in a DM only in that
person's DMs, what was said in a server channel only in that same channel (so a private channel's words
never reach a public one, and a server's never leave it). Consent is checked by recall as for facts;
/forget_me deletes the rows (database/privacy.py); ``/memory said`` lists and deletes them.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from bot.core.tokens import count_tokens
from database.records import ExcerptRow, NewExcerpt, SeenMessage
from database.store import Store
from memory.embeddings import DTYPE, from_bytes, normalise
from memory.lexical import LexicalIndex
from memory.timewords import window

EXCERPT_CHARS = 1_000  # as consolidation reads a message: one long message is not a whole evening
NEIGHBOUR_SECONDS = 6 * 3600  # lines further apart than this are not one exchange
CACHE_USERS = 64
RRF_K = 10  # as for facts (memory/recall.py)
CANDIDATES = 100


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
                lines_beside: Mapping[int, Sequence[SeenMessage]], name: str) -> list[NewExcerpt]:
    """A batch's messages (and the character's lines beside them) as excerpts, without vectors yet."""
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
            out.append(NewExcerpt(o.message_id, o.channel_id, o.guild_id, o.is_dm,
                                  (name or o.author_name) if own else o.author_name, own, text, o.created_at))
    return out


def indexed_text(speaker: str, content: str) -> str:
    """What is embedded and searched for one excerpt: who said it, and what."""
    return f"{speaker}: {content}"


# --------------------------------------------------------------------------- a person's index


@dataclass
class ExcerptIndex:
    """A person's excerpts, as recall searches them (row i of ``matrix`` is ``rows[positions[i]]``)."""

    rows: list[ExcerptRow]
    matrix: np.ndarray
    positions: np.ndarray
    stamp: tuple[Any, ...] = ()
    dm: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    channel: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    told: np.ndarray = field(default_factory=lambda: np.zeros(0))  # POSIX seconds
    lexical: LexicalIndex = field(default_factory=LexicalIndex)  # each line's words
    context: LexicalIndex = field(default_factory=LexicalIndex)  # each line's words with its neighbours'
    costs: dict[int, int] = field(default_factory=dict)

    @classmethod
    def build(cls, rows: Sequence[ExcerptRow], stamp: tuple[Any, ...] = ()) -> ExcerptIndex:
        decoded = [from_bytes(r.embedding) if r.embedding else None for r in rows]
        sizes: dict[int, int] = {}
        for v in decoded:
            if v is not None and v.size:
                sizes[v.size] = sizes.get(v.size, 0) + 1
        want = max(sizes, key=lambda k: sizes[k]) if sizes else 0
        positions = [i for i, v in enumerate(decoded) if v is not None and v.size == want]
        matrix = (normalise(np.vstack([decoded[i] for i in positions])) if positions  # type: ignore[misc]
                  else np.zeros((0, want), dtype=DTYPE))
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
        return cls(list(rows), matrix, np.asarray(positions, dtype=np.int64), stamp,
                   dm=np.array([r.is_dm for r in rows], dtype=bool),
                   channel=np.array([r.channel_id for r in rows], dtype=np.int64), told=told,
                   lexical=LexicalIndex.build(texts), context=LexicalIndex.build(around))

    def allowed(self, *, private: bool, channel_id: int) -> np.ndarray:
        """The strict place rule (module docstring): DM lines in DMs, a channel's lines in that channel."""
        if private:
            return self.dm.copy()
        return ~self.dm & (self.channel == channel_id)

    def scores(self, vector: np.ndarray) -> np.ndarray:
        out = np.full(len(self.rows), -np.inf, dtype=np.float32)
        if len(self.positions) and vector.size == self.matrix.shape[1]:
            out[self.positions] = self.matrix @ vector.astype(DTYPE, copy=False)
        return out

    def cost(self, i: int) -> int:
        known = self.costs.get(i)
        if known is None:
            known = self.costs[i] = count_tokens(line(self.rows[i]))
        return known


class ExcerptCache:
    """Per-person :class:`ExcerptIndex`, re-read whenever the person's excerpt stamp changes."""

    def __init__(self, store: Store, max_users: int = CACHE_USERS) -> None:
        self.store = store
        self.max_users = max_users
        self._items: OrderedDict[int, ExcerptIndex] = OrderedDict()
        self.loads = 0

    async def get(self, user_id: int) -> ExcerptIndex:
        stamp = await self.store.excerpts.stamp(user_id)
        cached = self._items.get(user_id)
        if cached is not None and cached.stamp == stamp:
            self._items.move_to_end(user_id)
            return cached
        if not stamp[0]:
            index = ExcerptIndex([], np.zeros((0, 0), dtype=DTYPE), np.zeros(0, dtype=np.int64), stamp)
        else:
            rows = await self.store.excerpts.rows(user_id)
            index = (await asyncio.to_thread(ExcerptIndex.build, rows, stamp) if len(rows) > 300
                     else ExcerptIndex.build(rows, stamp))
        self.loads += 1
        self._items[user_id] = index
        self._items.move_to_end(user_id)
        while len(self._items) > self.max_users:
            self._items.popitem(last=False)
        return index

    def invalidate(self, user_id: int | None = None) -> None:
        if user_id is None:
            self._items.clear()
        else:
            self._items.pop(user_id, None)


# --------------------------------------------------------------------------- search


def _add_ranking(fused: np.ndarray, scores: np.ndarray, allowed: np.ndarray, positive: bool = False) -> None:
    scores = np.where(allowed & (scores > 0 if positive else np.isfinite(scores)), scores, -np.inf)
    k = min(CANDIDATES, int(np.isfinite(scores).sum()))
    if k <= 0:
        return
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.argsort(-scores[best], kind="stable")]
    fused[best] += 1.0 / (RRF_K + np.arange(1, k + 1))


def ranked(index: ExcerptIndex, query: np.ndarray | None, text: str, allowed: np.ndarray,
           now: datetime | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(excerpt indices, their fused scores), best first: only excerpts some ranking found."""
    n = len(index.rows)
    fused = np.zeros(n, dtype=np.float64)
    if not n or not allowed.any():
        return np.zeros(0, dtype=np.int64), fused[:0]
    dense = index.scores(query) if query is not None and len(index.positions) else None
    if dense is not None:
        _add_ranking(fused, dense, allowed)
    if text.strip():
        _add_ranking(fused, index.lexical.scores(text), allowed, positive=True)
        _add_ranking(fused, index.context.scores(text), allowed, positive=True)
    span = window(text, now) if now is not None and text else None
    if span is not None:
        within = (index.told >= span[0].timestamp()) & (index.told < span[1].timestamp())
        about = dense if dense is not None else index.context.scores(text)
        _add_ranking(fused, about, allowed & within)
    found = np.flatnonzero(fused)
    order = found[np.argsort(-fused[found], kind="stable")]
    return order, fused[order]


# --------------------------------------------------------------------------- the prompt


def day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}"


def header(told: str) -> str:
    return f"{told}:\n"


HEADER_TOKENS = count_tokens(header("2023-05-08"))


def line(row: ExcerptRow) -> str:
    return f'- {row.speaker}: "{row.content}"\n'


def render(excerpts: Sequence[ExcerptRow], user: str) -> str:
    """Dated, quoted excerpts: grouped by day, oldest first, each day's lines in the order they were said."""
    if not excerpts:
        return ""
    groups: dict[str, list[ExcerptRow]] = {}
    for e in sorted(excerpts, key=lambda e: (e.said_at, e.message_id)):
        groups.setdefault(day(e.said_at), []).append(e)
    body = "".join(header(told) + "".join(line(e) for e in groups[told]) for told in groups)
    return (f"[Words from your earlier conversations with {user}, quoted as they were said, by day (your own "
            "lines under your name; bring them up only where they fit, never recite them)]\n"
            + body.rstrip("\n"))

