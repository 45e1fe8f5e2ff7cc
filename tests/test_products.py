"""A large matrix's products in bfloat16 (memory/embeddings.py Products): close to float32's, and exact below
the size or without torch."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from memory import embeddings
from memory.embeddings import LOW_PRECISION_ROWS, Products, normalise, similarities


def unit_rows(n: int, seed: int = 0) -> np.ndarray:
    return normalise(np.random.default_rng(seed).standard_normal((n, 384)).astype(np.float32))


def test_a_small_matrix_is_multiplied_exactly_even_with_torch_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    monkeypatch.setattr(embeddings, "bfloat16_faster", lambda dim: True)
    matrix, asked = unit_rows(LOW_PRECISION_ROWS - 1), unit_rows(2, seed=1)
    assert np.array_equal(Products(matrix)(asked), similarities(matrix, asked))


def test_without_torch_a_large_matrix_is_multiplied_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # as in a process whose model never loaded
    matrix, asked = unit_rows(LOW_PRECISION_ROWS), unit_rows(2, seed=1)
    assert np.array_equal(Products(matrix)(asked), similarities(matrix, asked))


def test_a_large_matrix_in_bfloat16_ranks_as_float32_does(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    monkeypatch.setattr(embeddings, "bfloat16_faster", lambda dim: True)
    matrix = unit_rows(2 * LOW_PRECISION_ROWS)
    # a message near a few facts: those must come first, in the same order, whatever the precision
    near = [17, 4000, 8000]
    message = normalise((matrix[near] * np.array([[3.0], [2.0], [1.0]])).sum(axis=0, keepdims=True))
    asked = np.vstack([message, unit_rows(1, seed=2)])
    exact, low = similarities(matrix, asked), Products(matrix)(asked)
    assert low.dtype == np.float32 and low.shape == exact.shape
    assert np.abs(low - exact).max() < 0.01
    assert np.argsort(-low[:, 0])[:3].tolist() == np.argsort(-exact[:, 0])[:3].tolist() == near
