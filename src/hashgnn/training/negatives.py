"""Negative sampling: items the user never interacted with in train (paper 5.1)."""

from __future__ import annotations

import numpy as np


class NegativeSampler:
    """Uniform negatives with rejection of the user's train items, vectorised.

    Args:
        users: ``[E]`` train user index of each edge.
        items: ``[E]`` train item index of each edge.
        n_items: Number of items.
    """

    def __init__(self, users: np.ndarray, items: np.ndarray, n_items: int) -> None:
        self.n_items = n_items
        self.keys = np.unique(users.astype(np.int64) * n_items + items)

    def is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        q = users.astype(np.int64) * self.n_items + items
        pos = np.clip(np.searchsorted(self.keys, q), 0, len(self.keys) - 1)
        return self.keys[pos] == q

    def sample(self, users: np.ndarray, count: int, rng: np.random.Generator, max_rounds: int = 30) -> np.ndarray:
        """``[B, count]`` negatives per user; a user who has every item keeps the last draws (never loops)."""
        neg = rng.integers(0, self.n_items, size=(len(users), count))
        rows = np.repeat(users, count).reshape(len(users), count)
        for _ in range(max_rounds):
            bad = self.is_positive(rows, neg)
            n_bad = int(bad.sum())
            if not n_bad:
                break
            neg[bad] = rng.integers(0, self.n_items, size=n_bad)
        return neg
