"""Helpers for the index tests: random and clustered ±1 codes."""

from __future__ import annotations

import numpy as np
import pytest

from hashgnn.index import pack_codes


def clustered_signs(rng: np.random.Generator, n: int, n_bits: int, n_clusters: int = 5,
                    dim: int = 16) -> np.ndarray:
    """Sign of a random projection of a Gaussian mixture — codes clustered like learned ones."""
    centers = rng.standard_normal((n_clusters, dim)) * 3
    points = centers[rng.integers(0, n_clusters, n)] + rng.standard_normal((n, dim))
    return np.where(points @ rng.standard_normal((dim, n_bits)) >= 0, 1, -1)


def make_codes(rng: np.random.Generator, n: int, n_bits: int, kind: str) -> np.ndarray:
    if kind == "random":
        return pack_codes(rng.choice([-1, 1], (n, n_bits)))
    return pack_codes(clustered_signs(rng, n, n_bits))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
