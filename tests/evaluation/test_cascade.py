"""Hierarchical search across two runs: one model's codes, another's embeddings (hashgnn.evaluation.cascade)."""

from __future__ import annotations

import numpy as np
import pytest

from hashgnn.errors import ConfigError
from hashgnn.evaluation import search_users
from hashgnn.index import HierarchicalIndex
from hashgnn.models.base import Embeddings


def _embeddings(n_users: int, n_items: int, bits: int | None, seed: int) -> Embeddings:
    rng = np.random.default_rng(seed)
    uz, iz = rng.normal(size=(n_users, 8)).astype(np.float32), rng.normal(size=(n_items, 8)).astype(np.float32)
    if bits is None:
        return Embeddings(uz, iz)
    return Embeddings.from_signs(uz, iz, np.sign(rng.normal(size=(n_users, bits))),
                                 np.sign(rng.normal(size=(n_items, bits))))


def test_hierarchical_search_takes_candidates_from_the_codes_and_ranks_by_the_other_embeddings() -> None:
    codes, floats = _embeddings(30, 200, 16, 0), _embeddings(30, 200, None, 1)
    both = codes.rerank_with(floats)
    assert both.user_codes is codes.user_codes and both.item_z is floats.item_z and both.n_bits == 16
    users = np.arange(30)
    ids, scores = search_users(both, users, 10, "hierarchical", n_candidates=40)
    expected = HierarchicalIndex(codes.item_codes, floats.item_z, n_candidates=40, tie_seed=0)
    want_ids, want_scores = expected.search((codes.user_codes, floats.user_z), 10)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores)
    own, _ = search_users(codes, users, 10, "hierarchical", n_candidates=40)
    assert not np.array_equal(own, ids)  # the re-rank really is the other model's


def test_rerank_with_refuses_embeddings_without_codes_or_of_other_data() -> None:
    with pytest.raises(ConfigError, match="no codes"):
        _embeddings(5, 9, None, 0).rerank_with(_embeddings(5, 9, None, 1))
    with pytest.raises(ConfigError, match="5 x 10: not the same data"):
        _embeddings(5, 9, 8, 0).rerank_with(_embeddings(5, 10, None, 1))
