"""BM25 over a person's facts: the lexical half of recall (memory/recall.py fuses it with the embeddings).

Dense vectors find paraphrases ("adopted a dog" for "got a puppy") but blur names, places and rare words
("Sweden", "pottery", "Melanie's kids"), which is where exact word overlap is strongest; fusing both finds
more of the right facts than either (the LoCoMo figures in docs/benchmarks.md).

Words are lower-cased, stripped of common English function words and stemmed with the Snowball English
stemmer (PyStemmer: a C extension, so stemming 10,000 facts takes milliseconds). The index is built once per
person's fact set (it lives in the cached :class:`memory.facts.FactIndex`) as postings per term with each
fact's precomputed BM25 term weight, so scoring a query is a few numpy additions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import Stemmer

K1 = 1.2
B = 0.75

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
# Function words only: content words, however common, are left to BM25's idf.
STOPWORDS = frozenset("""
a an the and or but if then so of to in on at by for with from into onto about as is are was were be been
being am do does did doing have has had having i me my mine we us our you your he him his she her hers it its
they them their theirs this that these those what which who whom whose when where why how there here not no
nor can could would should will shall may might must s t just also too very than any some all each both own
same such only up down out off over under again further once more most other
""".split())

_STEMMER = Stemmer.Stemmer("english")


def terms(text: str) -> list[str]:
    """The indexed terms of a text: stemmed words, apostrophe endings ('s) dropped, function words out."""
    words = [w.split("'")[0] for w in _WORD.findall(text.lower())]
    stems: list[str] = _STEMMER.stemWords([w for w in words if w and w not in STOPWORDS])  # untyped library
    return stems


@dataclass
class LexicalIndex:
    """BM25 postings of a list of documents: ``postings[term] = (document indices, term weights)``."""

    size: int = 0
    postings: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def build(cls, documents: Sequence[str]) -> LexicalIndex:
        n = len(documents)
        if not n:
            return cls()
        counts: list[dict[str, int]] = []
        lengths = np.zeros(n, dtype=np.float32)
        docs_of: dict[str, list[int]] = {}
        for i, text in enumerate(documents):
            tf: dict[str, int] = {}
            for t in terms(text):
                tf[t] = tf.get(t, 0) + 1
            counts.append(tf)
            lengths[i] = sum(tf.values())
            for t in tf:
                docs_of.setdefault(t, []).append(i)
        avg = float(lengths.mean()) or 1.0
        norm = K1 * (1 - B + B * lengths / avg)
        postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for t, docs in docs_of.items():
            idx = np.asarray(docs, dtype=np.int64)
            tf_t = np.asarray([counts[i][t] for i in docs], dtype=np.float32)
            idf = np.log(1.0 + (n - len(docs) + 0.5) / (len(docs) + 0.5))  # Lucene's: never negative
            postings[t] = (idx, (idf * tf_t * (K1 + 1) / (tf_t + norm[idx])).astype(np.float32))
        return cls(n, postings)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (0 where no term matches)."""
        out = np.zeros(self.size, dtype=np.float32)
        for t in set(terms(query)):
            hit = self.postings.get(t)
            if hit is not None:
                out[hit[0]] += hit[1]
        return out

    def matches(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(the documents sharing a term with ``query``, ascending; their BM25 scores): the nonzero part of
        :meth:`scores`, the same values, without an array of every document when few match (an archive of
        100,000 lines, of which a word's postings are a few thousand)."""
        hits = [hit for hit in (self.postings.get(t) for t in set(terms(query))) if hit is not None]
        if not hits:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if len(hits) == 1:  # one term's postings are ascending, each document once
            return hits[0]
        many = sum(len(idx) for idx, _ in hits)
        if many * 16 >= self.size:  # sorting them would cost more than a pass over every document
            out = self.scores(query)
            found = np.flatnonzero(out != 0)  # (of a boolean array: several times faster than of floats)
            return found, out[found]
        found, at = np.unique(np.concatenate([idx for idx, _ in hits]), return_inverse=True)
        values = np.zeros(len(found), dtype=np.float32)
        # Added term by term in the order scores() adds them: the same float32 sums.
        np.add.at(values, at, np.concatenate([w for _, w in hits]))
        return found, values
