import math

import numpy as np
import pytest
import scipy.sparse as sp

from hashgnn.errors import ConfigError
from hashgnn.evaluation.metrics import hit_matrix, ranking_metrics

D = [1 / math.log2(i + 2) for i in range(10)]


def test_hand_computed_standard_and_paper():
    # user 0 has 3 test items, hits at ranks 1 and 3 of top-4; user 1 has 1 test item, hit at rank 2.
    hits = np.array([[1, 0, 1, 0], [0, 1, 0, 0]], dtype=bool)
    rel = np.array([3, 1])
    std = ranking_metrics(hits, rel, (2, 4), "standard")
    assert std["recall@2"] == pytest.approx((1 / 3 + 1) / 2)
    assert std["recall@4"] == pytest.approx((2 / 3 + 1) / 2)
    assert std["precision@4"] == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert std["hit_ratio@2"] == 1.0
    ndcg0 = (D[0] + D[2]) / (D[0] + D[1] + D[2])
    ndcg1 = D[1] / D[0]
    assert std["ndcg@4"] == pytest.approx((ndcg0 + ndcg1) / 2)
    paper = ranking_metrics(hits, rel, (2, 4), "paper")
    # paper protocol: ideal DCG over the hits retrieved (2 for user 0, 1 for user 1)
    assert paper["ndcg@4"] == pytest.approx(((D[0] + D[2]) / (D[0] + D[1]) + D[1] / D[0]) / 2)
    assert paper["recall@4"] == std["recall@4"]


def test_users_without_test_items_are_left_out():
    hits = np.array([[1, 0], [0, 0]], dtype=bool)
    out = ranking_metrics(hits, np.array([1, 0]), (2,))
    assert out["users"] == 1 and out["recall@2"] == 1.0


def test_bad_cutoff_and_protocol():
    with pytest.raises(ConfigError):
        ranking_metrics(np.zeros((1, 5), bool), np.array([1]), (10,))
    with pytest.raises(ConfigError):
        ranking_metrics(np.zeros((1, 5), bool), np.array([1]), (5,), "nope")


def test_hit_matrix_against_loop():
    rng = np.random.default_rng(0)
    truth = sp.random(20, 50, density=0.1, random_state=1, format="csr")
    truth.data[:] = 1
    users = rng.choice(20, 8, replace=False)
    topk = rng.integers(-1, 50, size=(8, 10))
    hits = hit_matrix(topk, users, truth)
    dense = truth.toarray() > 0
    for b, u in enumerate(users):
        for j, item in enumerate(topk[b]):
            assert hits[b, j] == (item >= 0 and dense[u, item])
