"""The public peer on the same LoCoMo questions: engram-search 0.1.7's retrieval (PyPI; it advertises 94 % on
LoCoMo by its own session-level measure), over the same observations, with the same model, in the same budget.

An outside reference for ``benchmarks/bench_locomo.py``: each observation is a document embedded with the
shipped MiniLM (the peer's own default, bge-large, and its cross-encoder would be downloaded at run time);
each question is searched with the peer's pipeline (dense, BM25, its name, phrase and time boosts, fused by
reciprocal rank fusion; no reranker), and its results fill the budget as ``- fact`` lines in their order (no
date headings: the peer has more room than Kindred's recall, whose lines are grouped under dated headings).
Scored as bench_locomo scores facts: ``hit``, one evidence turn recalled; ``all``, every one.

Needs the peer, which Kindred does not depend on: ``.venv/bin/pip install engram-search==0.1.7`` (it pulls
faiss-cpu and rank-bm25; keep it out of the bot's venv if you like, and run this with one that has both).

Run: python -m benchmarks.bench_locomo_peer --data locomo_dev.json [--budget 400]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_locomo import Result, Tally, read_samples, score, table
from bot.core.tokens import count_tokens
from memory.embeddings import SentenceEmbedder

PEER = "engram-search==0.1.7"


class QueryEncoder:
    """The peer's embedder interface (``encode_query``) over the shipped model."""

    def __init__(self, model: SentenceEmbedder) -> None:
        self.model = model

    def encode_query(self, text: str) -> np.ndarray:
        return self.model.encode([text])[0]


def run(data: list[dict[str, Any]], budget: int) -> Result:
    from engram.backends.base import Document
    from engram.retrieval.pipeline import RetrievalPipeline

    model = SentenceEmbedder()
    pipeline = RetrievalPipeline(embedder=QueryEncoder(model), use_reranker=False)
    result = Result()
    for sample in read_samples(data):
        vectors = model.encode([o.text for o in sample.observations])
        documents = [Document(str(i), o.text, embedding=v.tolist(),
                              metadata={"timestamp": o.said.isoformat()})
                     for i, (o, v) in enumerate(zip(sample.observations, vectors, strict=True))]
        asked = (sample.last_session + timedelta(days=1)).date().isoformat()  # as bench_locomo asks
        for q in sample.questions:
            found = pipeline.search(q.text, documents, top_k=len(documents), question_date=asked)
            left, carried = budget, []
            for doc in found:
                cost = count_tokens(f"- {doc.text}\n")
                if cost <= left:
                    left -= cost
                    carried.append(sample.observations[int(doc.id)].turns)
                if left < 4:
                    break
            hit, every = score(carried, q.evidence)
            result.overall.add(hit, every, False, False)
            result.by_category.setdefault(q.category, Tally()).add(hit, every, False, False)
            result.recalled += len(carried)
        result.facts += len(sample.observations)
        result.unscoreable += sample.unscoreable
    result.corpus = "peer"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="LoCoMo JSON (a list of conversations)")
    parser.add_argument("--budget", type=int, default=400, help="tokens of recalled facts")
    args = parser.parse_args()
    if not Path(args.data).is_file():
        print(f"{args.data}: no such file", file=sys.stderr)
        raise SystemExit(2)
    try:
        import engram.retrieval.pipeline  # noqa: F401
    except ImportError:
        print(f"the peer is not installed: .venv/bin/pip install {PEER}", file=sys.stderr)
        raise SystemExit(2) from None
    result = run(json.loads(Path(args.data).read_text(encoding="utf-8")), args.budget)
    print(f"{PEER} (dense + BM25 + boosts, RRF, no reranker; MiniLM): {result.overall.n} questions of "
          f"categories 1-4, budget {args.budget} tokens, {result.recalled / max(1, result.overall.n):.1f} "
          f"facts recalled on average")
    print(table(result))


if __name__ == "__main__":
    main()
