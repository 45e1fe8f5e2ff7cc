"""Whether one message floor can tell questions from small talk in every language, for e5 (the formula a
question in another language is scored by: memory/embeddings.py ``PairedEmbedder``).

The sentences are tests/test_recall_every_language.py's, in the eleven languages besides English: a question
about where Alice lives (asked of the fact kept in English and of the fact in the question's language) and
small talk (against every fact: the English ones and the fact in its language). For each way of scoring, the
lowest question and the highest small talk: one floor holds every language only when the first is above the
second.

* ``shipped``: freed e5 (the corpus's mean and the 13 language directions out), a question as ``query: ``,
  a fact as ``passage: ``;
* ``symmetric``: both as ``query: `` (e5's advice for symmetric tasks; stored vectors would change);
* ``centred by language``: each side less its own language's mean (Libovický et al. 2020), then the
  language directions out (the language of each sentence known here; stored vectors would change);
* ``symmetric, centred by language``: both.

    python -m benchmarks.language_floor
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from benchmarks.language_axes import corpus
from memory.embeddings import AXES_PATH, DTYPE, E5Embedder, normalise
from tests.test_recall_every_language import OTHER_FACTS, SAID

Encode = Callable[[Sequence[str], Sequence[str]], np.ndarray]


def scored(question: Encode, fact: Encode) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
    """(each question's cosine to the fact it asks about, each small talk's best cosine to a fact), labelled;
    English left out (scored by the pair of models, not e5 alone)."""
    codes = [code for code in SAID if code != "en"]
    english = fact([SAID["en"][0], *OTHER_FACTS], ["en"] * (1 + len(OTHER_FACTS)))
    own = fact([SAID[c][0] for c in codes], codes)
    asked = question([SAID[c][1] for c in codes], codes)
    chat = question([SAID[c][2] for c in codes], codes)
    questions, small_talk = [], []
    for i, code in enumerate(codes):
        questions += [(float(asked[i] @ english[0]), f"{code} of the English fact"),
                      (float(asked[i] @ own[i]), f"{code} in it")]
        near = np.concatenate([chat[i] @ english.T, [chat[i] @ own[i]]])
        small_talk.append((float(near.max()), f"{code} small talk"))
    return questions, small_talk


def main() -> None:
    raw = E5Embedder(neutral=False)
    with np.load(AXES_PATH) as saved:
        passage_mean, query_mean, axes = saved["passage_mean"], saved["query_mean"], saved["axes"]

    def freed(vectors: np.ndarray, means: np.ndarray) -> np.ndarray:
        centred = vectors - means
        return normalise((centred - (centred @ axes.T) @ axes).astype(DTYPE))

    parallel = corpus()
    passages = {code: raw.encode(texts).mean(axis=0) for code, texts in parallel.items()}
    queries = {code: raw.encode_queries(texts).mean(axis=0) for code, texts in parallel.items()}
    ways: dict[str, tuple[Encode, Encode]] = {
        "shipped": (lambda s, _: freed(raw.encode_queries(s), query_mean),
                    lambda s, _: freed(raw.encode(s), passage_mean)),
        "symmetric": (lambda s, _: freed(raw.encode_queries(s), query_mean),
                      lambda s, _: freed(raw.encode_queries(s), query_mean)),
        "centred by language": (lambda s, c: freed(raw.encode_queries(s), np.stack([queries[x] for x in c])),
                                lambda s, c: freed(raw.encode(s), np.stack([passages[x] for x in c]))),
        "symmetric, centred by language": (
            lambda s, c: freed(raw.encode_queries(s), np.stack([queries[x] for x in c])),
            lambda s, c: freed(raw.encode_queries(s), np.stack([queries[x] for x in c]))),
    }
    print("| scoring | lowest question | highest small talk |")
    print("| --- | --- | --- |")
    for name, (question, fact) in ways.items():
        questions, small_talk = scored(question, fact)
        low, high = min(questions), max(small_talk)
        print(f"| {name} | {low[0]:.3f} ({low[1]}) | {high[0]:.3f} ({high[1]}) |")


if __name__ == "__main__":
    main()
