"""Derive the language axes e5's vectors are freed of (memory/embeddings.py ``E5Embedder``).

multilingual-e5 places a sentence by its language as well as by its meaning: small talk in Spanish sits
nearer a Spanish fact than a question about that fact asked in English does, and every cosine sits high
(0.7-0.95) because all vectors share a large common part. Both are removed the same way (as in Yang et al.
2021, "A simple and effective method to eliminate the self language bias in multilingual representations",
and Mu & Viswanath 2018's "all-but-the-top"): the mean vector of a parallel corpus (the same sentences in
14 of Discord's big languages, ``benchmarks/data/parallel_sentences.tsv``) is subtracted, then the directions
along which the languages' own means differ are projected out. This script computes both, for passages and
for queries (e5 encodes them with different prefixes), and writes them to ``memory/e5_axes.npz``, which
ships with the package; nothing is computed at run time.

    python -m benchmarks.language_axes [--rank 13]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from memory.embeddings import AXES_PATH, E5Embedder

CORPUS = Path(__file__).parent / "data" / "parallel_sentences.tsv"


def corpus() -> dict[str, list[str]]:
    """The parallel sentences by language code (each language's list in the same order)."""
    with CORPUS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    languages = rows[0]
    return {code: [row[i] for row in rows[1:]] for i, code in enumerate(languages)}


def axes(kinds: list[dict[str, np.ndarray]], rank: int) -> np.ndarray:
    """The ``rank`` leading directions along which the languages' mean vectors differ, passages' and
    queries' together (a query is compared with passages: both must lose the same ones); rows, orthonormal."""
    spread = []
    for by_language in kinds:
        means = np.stack([vectors.mean(axis=0) for vectors in by_language.values()])
        spread.append(means - means.mean(axis=0))
    _, _, directions = np.linalg.svd(np.vstack(spread), full_matrices=False)
    return directions[:rank]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rank", type=int, default=13,
                        help="language directions removed (at most languages - 1)")
    args = parser.parse_args()
    e5 = E5Embedder(neutral=False)
    sentences = corpus()
    passages = {code: e5.encode(texts) for code, texts in sentences.items()}
    queries = {code: e5.encode_queries(texts) for code, texts in sentences.items()}
    both = axes([passages, queries], args.rank)
    AXES_PATH.parent.mkdir(parents=True, exist_ok=True)
    np.savez(AXES_PATH, passage_mean=np.vstack(list(passages.values())).mean(axis=0).astype(np.float32),
             query_mean=np.vstack(list(queries.values())).mean(axis=0).astype(np.float32),
             axes=both.astype(np.float32))
    print(f"{AXES_PATH}: {len(sentences)} languages, {len(next(iter(sentences.values())))} sentences, "
          f"{both.shape[0]} directions")


if __name__ == "__main__":
    main()
