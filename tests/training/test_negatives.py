"""NegativeSampler: never a train positive, and the same draws as the plain all-entries rejection loop."""

from __future__ import annotations

import numpy as np
import pytest

from hashgnn.training.negatives import NegativeSampler


def reference_sample(keys: np.ndarray, n_items: int, users: np.ndarray, count: int, rng: np.random.Generator,
                     max_rounds: int = 30) -> np.ndarray:
    """Every round re-tests all entries by binary search (the sampler's first version)."""
    neg = rng.integers(0, n_items, size=(len(users), count))
    rows = np.repeat(users, count).reshape(len(users), count)
    for _ in range(max_rounds):
        q = rows.astype(np.int64) * n_items + neg
        bad = keys[np.clip(np.searchsorted(keys, q), 0, len(keys) - 1)] == q
        if not bad.any():
            break
        neg[bad] = rng.integers(0, n_items, size=int(bad.sum()))
    return neg


@pytest.mark.parametrize("bitmap", [True, False])
def test_same_draws_as_reference_and_never_positive(bitmap: bool) -> None:
    rng = np.random.default_rng(3)
    n_users, n_items = 40, 25
    users = np.concatenate([rng.integers(0, n_users, 600), np.zeros(n_items, np.int64)])  # user 0 has every item
    items = np.concatenate([rng.integers(0, n_items, 600), np.arange(n_items)])
    sampler = NegativeSampler(users, items, n_items)
    if not bitmap:
        sampler.bitmap = None
    batch = rng.integers(0, n_users, 300)
    batch[:3] = 0
    for seed in range(5):
        r1, r2 = np.random.default_rng(seed), np.random.default_rng(seed)
        neg = sampler.sample(batch, 5, r1)
        assert np.array_equal(neg, reference_sample(sampler.keys, n_items, batch, 5, r2))
        assert r1.integers(1 << 62) == r2.integers(1 << 62)  # both consumed the same draws
        keep = batch != 0  # user 0 has every item: no negative exists, it keeps its last draws
        assert not sampler.is_positive(np.repeat(batch[keep], 5), neg[keep].ravel()).any()


def test_bitmap_and_binary_search_agree_beyond_train_users() -> None:
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 30, 400), rng.integers(0, 50, 400)
    with_bitmap = NegativeSampler(users, items, 50)
    without = NegativeSampler(users, items, 50)
    without.bitmap = None
    assert with_bitmap.bitmap is not None
    q_users, q_items = rng.integers(0, 40, 2000), rng.integers(0, 50, 2000)  # users 30..39 have no train items
    assert np.array_equal(with_bitmap.is_positive(q_users, q_items), without.is_positive(q_users, q_items))
    assert with_bitmap.is_positive(q_users, q_items).sum() > 0


def test_shared_negatives_are_one_draw_for_the_batch_with_each_users_train_items_marked() -> None:
    rng = np.random.default_rng(1)
    users, items = rng.integers(0, 20, 300), rng.integers(0, 15, 300)
    sampler = NegativeSampler(users, items, 15)
    batch = rng.integers(0, 20, 50)
    shared, taken = sampler.shared(batch, 8, np.random.default_rng(4))
    assert shared.shape == (8,) and taken.shape == (50, 8)
    assert np.array_equal(shared, np.random.default_rng(4).integers(0, 15, size=8))
    for row, user in enumerate(batch):
        assert np.array_equal(taken[row], sampler.is_positive(np.full(8, user), shared))
    assert taken.any() and not taken.all()


def test_shared_mask_equals_pairwise_membership_with_repeated_draws() -> None:
    rng = np.random.default_rng(5)
    users = rng.integers(0, 30, 400)
    items = rng.integers(0, 12, 400)  # 12 items: a draw of 10 repeats items, and users hold most of them
    sampler = NegativeSampler(users, items, 12)
    batch = np.array([0, 3, 3, 29, 7, 31])  # a repeated user and one beyond the train users
    drawn, taken = sampler.shared(batch, 10, np.random.default_rng(1))
    assert len(np.unique(drawn)) < len(drawn)
    expected = sampler.is_positive(np.repeat(batch, 10), np.tile(drawn, len(batch))).reshape(len(batch), 10)
    np.testing.assert_array_equal(taken, expected)
    np.testing.assert_array_equal(drawn, np.random.default_rng(1).integers(0, 12, size=10))  # same draw as before
