"""The inverted file's clusters (as FAISS's IVF-Flat): a person's excerpt vectors grouped by spherical
k-means, so a search scores only the clusters nearest the message (memory/episodes.py)."""

from __future__ import annotations

import numpy as np

from memory.embeddings import normalise

IVF_CLUSTERS = 128


def clusters(matrix: np.ndarray, k: int = IVF_CLUSTERS, rounds: int = 5,
             sample: int = 8_192) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spherical k-means on a sample (seeded: the same vectors give the same clusters), then every vector to
    its nearest centroid. Returns (centroids, vector order by cluster, cluster starts in that order)."""
    rng = np.random.default_rng(0)
    n = len(matrix)
    k = max(1, min(k, n // 8))
    sub = matrix[rng.choice(n, min(n, sample), replace=False)]
    centroids = sub[rng.choice(len(sub), k, replace=False)].copy()
    for _ in range(rounds):
        label = np.argmax(sub @ centroids.T, axis=1)
        for c in range(k):
            members = sub[label == c]
            if len(members):
                centroids[c] = members.sum(axis=0)
        centroids = normalise(centroids)
    label = np.concatenate([np.argmax(matrix[i:i + 16_384] @ centroids.T, axis=1)
                            for i in range(0, n, 16_384)])
    order = np.argsort(label, kind="stable")
    starts = np.searchsorted(label[order], np.arange(k + 1))
    return centroids, order, starts.astype(np.int64)
