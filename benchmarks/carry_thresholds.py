"""Carry the shipped model's thresholds over to another embedding model by quantile.

Each threshold of all-MiniLM-L6-v2 (memory/embeddings.py ``MINILM``) was chosen on its own cosines; another
model's cosines are distributed differently. On the tuning part of LoCoMo's developers' half, this finds the
quantile at which each MiniLM threshold sits among MiniLM's cosines of the same kind (question to fact for
the floors, fact to fact for the others) and prints the other model's cosine at that quantile. The results
are the starting point written into ``TUNINGS`` (docs/benchmarks.md says what was then re-tuned).

    python -m benchmarks.carry_thresholds --data ../shared/data/locomo/locomo_dev.json --model paired
"""

from __future__ import annotations

import argparse
import json
import random

import numpy as np

from benchmarks.bench_locomo import SPLITS, read_samples
from memory.embeddings import MINILM, PairedEmbedder, SentenceEmbedder, make_embedder

PAIRS = 400  # observations a conversation, and questions
FACT_TO_FACT = ("repeat", "slot_near", "said_as_memory", "said_as_fact", "drawn_from")


def cosines(embedder: object, questions: list[str], facts: list[str],
            english: bool) -> tuple[np.ndarray, ...]:
    encode = embedder.encode
    queries = getattr(embedder, "encode_queries", None)
    if isinstance(embedder, PairedEmbedder):
        asked = embedder.encode_queries(questions, english=english)
    else:
        asked = queries(questions) if queries is not None else encode(questions)
    stored = encode(facts)
    upper = np.triu_indices(len(facts), k=1)
    return (asked @ stored.T).ravel(), (stored @ stored.T)[upper]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", default="paired")
    parser.add_argument("--formula", choices=("english", "other"), default="english",
                        help="a pair of models: the formula of an English question or of another language's")
    args = parser.parse_args()
    with open(args.data, encoding="utf-8") as f:
        data = [c for c in json.load(f) if c.get("sample_id") in SPLITS["tune"]]
    rng = random.Random(7)
    questions, facts = [], []
    for sample in read_samples(data):
        observations = [o.text for o in sample.observations]
        facts += rng.sample(observations, min(PAIRS // len(data), len(observations)))
        questions += [q.text for q in rng.sample(sample.questions, min(50, len(sample.questions)))]
    base = cosines(SentenceEmbedder(), questions, facts, True)
    other = cosines(make_embedder(args.model), questions, facts, args.formula == "english")
    item = MINILM.floors[0] * MINILM.item_share
    carried: dict[str, float] = {}
    for name, value, kind in [("floor", MINILM.floors[0], 0), ("item_floor", item, 0)] + [
            (name, getattr(MINILM, name), 1) for name in FACT_TO_FACT]:
        quantile = float((base[kind] < value).mean())
        carried[name] = round(float(np.quantile(other[kind], quantile)), 3)
        print(f"{name:15s} MiniLM {value:.3f} at quantile {quantile:.3f} -> {carried[name]:.3f}")
    print(f"item_share      {carried['item_floor'] / carried['floor']:.3f}")


if __name__ == "__main__":
    main()
