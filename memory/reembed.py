"""Re-embedding what is stored when the embedding model changes (the ``embedding_model`` setting).

Every stored vector carries the model it came from (``embedding_model``, 0035); a vector of another model
than the running one is read as none (database/vectors.py ``usable``), so a ranking never mixes two models'
cosines: until re-embedded, such a fact is found by its words alone and such an excerpt not at all. This job
re-embeds them, facts first (a reply's recall leans on them most), then excerpts, a batch at a time in a
worker thread, logging its progress. It is resumable by construction: each batch is written tagged with the
running model, so a job cut short (a restart) finds only what is left; a second model change midway simply
makes everything stale again for the newest model. A fact's vector is written only where its text is still
the one encoded (a compare-and-set): one edited or merged while its batch was encoded keeps its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np

from database.store import Store
from memory.embeddings import Embedder, encode_async, glossed, to_bytes
from memory.episodes import indexed_text

log = logging.getLogger(__name__)

BATCH = 64  # sentences a model call: a reply's query waits at most one call
Progress = Callable[[str, int, int], None]  # (what, done, of)
Row = Any  # a stored row to re-embed: (id, ...) as its store hands it


def _logged(what: str, done: int, total: int) -> None:
    log.info("re-embedding %s with the current model: %d of %d", what, done, total)


async def reembed(store: Store, embedder: Embedder, *, batch: int = BATCH,
                  progress: Progress = _logged, every: float = 10.0) -> tuple[int, int]:
    """Embed every fact and excerpt with no vector of the running model (``store.db.embedding_model``, the
    embedder's); (facts, excerpts) re-embedded. ``progress`` is told at the start, at most every ``every``
    seconds, and at the end of each kind."""
    facts = await _kind(
        "facts", store.facts.count_stale, store.facts.stale, lambda row: glossed(row[1], row[2]),
        lambda rows, vectors: store.facts.set_embeddings(  # only where the text is still the one encoded
            [(row[0], row[1], row[2], to_bytes(v)) for row, v in zip(rows, vectors, strict=True)]),
        embedder, batch, progress, every)
    excerpts = await _kind(
        "excerpts", store.excerpts.count_stale, store.excerpts.unembedded,
        lambda row: indexed_text(row[2], row[3]),
        lambda rows, vectors: store.excerpts.set_embeddings(
            [(eid, user, to_bytes(v)) for (eid, user, _, _), v in zip(rows, vectors, strict=True)]),
        embedder, batch, progress, every)
    return facts, excerpts


async def _kind(what: str, count: Callable[[], Awaitable[int]],
                fetch: Callable[[int, int], Awaitable[Sequence[Row]]], text_of: Callable[[Row], str],
                write: Callable[[Sequence[Row], np.ndarray], Awaitable[object]], embedder: Embedder,
                batch: int, progress: Progress, every: float) -> int:
    """One kind of stored text re-embedded, a batch at a time after the last id done (rows start with it)."""
    total = await count()
    if not total:
        return 0
    progress(what, 0, total)
    done, after, told = 0, 0, time.monotonic()
    while pending := await fetch(after, batch):
        await write(pending, await encode_async(embedder, [text_of(row) for row in pending]))
        done += len(pending)
        after = pending[-1][0]
        if time.monotonic() - told >= every:
            progress(what, done, total)
            told = time.monotonic()
    progress(what, done, total)
    return done
