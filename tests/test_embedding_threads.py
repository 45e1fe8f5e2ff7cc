"""The query's encode runs on one torch thread (memory/embeddings.py SMALL_CALL): the same vectors, and the
process's thread count as it was after every call."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from memory.embeddings import SMALL_CALL
from tests.memory_support import real_embedder


def test_a_small_call_runs_on_one_thread_with_the_same_vectors(monkeypatch: Any) -> None:
    embedder = real_embedder()
    threads = torch.get_num_threads()
    message = ["Do you remember what I told you about my dog Biscuit?", "dog Biscuit"]
    before = embedder.encode(message)
    set_to: list[int] = []
    real_set = torch.set_num_threads

    def spy(n: int) -> None:
        set_to.append(n)
        real_set(n)

    monkeypatch.setattr(torch, "set_num_threads", spy)
    small = embedder.encode(message)
    assert set_to == [1, threads] and torch.get_num_threads() == threads
    set_to.clear()
    large = embedder.encode(message + [f"filler sentence {i}" for i in range(SMALL_CALL)])
    assert set_to == [threads] and torch.get_num_threads() == threads  # every thread, left as it was
    np.testing.assert_array_equal(small, before)
    np.testing.assert_allclose(small, large[:2], atol=1e-5)
