"""The paired embedder (memory/embeddings.py PairedEmbedder: MiniLM and multilingual-e5 side by side, a
question ranked by its language): its formulas, and the question's language choosing them."""

from __future__ import annotations

import numpy as np
import pytest

from memory import embeddings
from memory.embeddings import E5_NEUTRAL_ID, PAIRED_MODEL_ID, PairedEmbedder, make_embedder, tuning_for


def test_a_question_is_ranked_by_its_language() -> None:
    assert isinstance(make_embedder(""), PairedEmbedder)  # empty: the pair, the default
    assert not isinstance(make_embedder("minilm"), PairedEmbedder)
    paired = make_embedder("paired")
    assert isinstance(paired, PairedEmbedder) and paired.model_id == PAIRED_MODEL_ID
    stored = paired.encode(["Alice lives in Leeds", "Alicia vive en Leeds"])
    assert stored.shape == (2, 768) and np.allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-3)
    m = paired.minilm.encode(["Alice lives in Leeds"])[0]
    e = paired.e5.encode(["Alice lives in Leeds"])[0]
    for question, english in (("where does Alice live?", True), ("¿dónde vive Alicia?", False)):
        asked = paired.encode_queries([question])[0]
        qm, qe = paired.minilm.encode([question])[0], paired.e5.encode_queries([question])[0]
        want = 0.5 * float(qm @ m) + 0.5 * float(qe @ e) if english else float(qe @ e)
        assert float(asked @ stored[0]) == pytest.approx(want, abs=1e-4)
        want = PAIRED_MODEL_ID if english else E5_NEUTRAL_ID
        assert tuning_for(paired, question) is embeddings.TUNINGS[want]
    # Asked in English of facts mostly kept in Spanish: e5 alone (MiniLM's half would be noise there).
    asked = embeddings.encode_asked(paired, ["where does Alice live?"], searched="es")[0]
    qe = paired.e5.encode_queries(["where does Alice live?"])[0]
    assert float(asked @ stored[0]) == pytest.approx(float(qe @ e), abs=1e-4)
    assert tuning_for(paired, "where does Alice live?", "es") is embeddings.TUNINGS[E5_NEUTRAL_ID]
