"""Issue 34, point 6: test users without train interactions (a temporal split's newcomers) have untrained
embeddings; they are reported in a row of their own, with a warning, and left out of the averages."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hashgnn.data.interactions import Interactions
from hashgnn.data.splits import Split
from hashgnn.evaluation import evaluate_part
from hashgnn.models.base import Embeddings


def _split_with_cold_users(n_cold: int) -> Split:
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 20, 400), rng.integers(0, 40, 400)
    inter = Interactions.from_raw(users.astype(np.int64), items.astype(np.int64), name="cold")
    cold = np.flatnonzero(inter.users < n_cold)  # every row of these users goes to test
    warm = np.setdiff1d(np.arange(len(inter.users)), cold)
    return Split(inter, warm[::2], np.array([], dtype=np.int64), np.sort(np.concatenate([warm[1::2], cold])))


def _emb(seed: int = 1) -> Embeddings:
    rng = np.random.default_rng(seed)
    z_u, z_i = rng.normal(size=(20, 8)), rng.normal(size=(40, 8))
    return Embeddings.from_signs(z_u, z_i, np.sign(z_u[:, :8]), np.sign(z_i[:, :8]))


def test_cold_users_get_their_own_row_and_a_warning():
    split = _split_with_cold_users(3)
    with pytest.warns(UserWarning, match="3 of .* test users have no train interactions"):
        res = evaluate_part(_emb(), split, "test", ns=(10,))
    for mode in ("hamming", "hierarchical", "continuous"):
        assert set(res[mode]) == {"standard", "paper", "standard-cold", "paper-cold"}
        assert res[mode]["standard-cold"]["users"] == 3
        assert res[mode]["standard"]["users"] == len(np.unique(split.test.users)) - 3


def test_the_warm_row_equals_an_evaluation_of_the_warm_users_alone():
    split = _split_with_cold_users(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mixed = evaluate_part(_emb(), split, "test", modes=("continuous",), ns=(10,))
    keep = np.flatnonzero(split.interactions.users[split.test_idx] >= 3)
    warm_only = Split(split.interactions, split.train_idx, split.valid_idx, split.test_idx[keep])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no cold user left: no warning
        alone = evaluate_part(_emb(), warm_only, "test", modes=("continuous",), ns=(10,))
    assert mixed["continuous"]["standard"] == alone["continuous"]["standard"]
    assert set(alone["continuous"]) == {"standard", "paper"}  # the return shape of a split without cold users
