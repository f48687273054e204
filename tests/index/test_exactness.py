"""Every index equals the brute-force oracle: ids and order under the shared tie rule, with exclusion."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashgnn.index import (
    FloatIndex,
    HammingIndex,
    HierarchicalIndex,
    MultiIndexHashing,
    exact_topk_reference,
    hamming_distances,
    tie_ranks,
)
from hashgnn.index import hamming as hamming_mod

from .conftest import make_codes


def _exclude(rng, n_queries, n_items, density):
    if density == 0:
        return None
    return sp.random(n_queries, n_items, density=density, format="csr", random_state=rng.integers(1 << 30))


def _check(got, ref):
    assert np.array_equal(got[0], ref[0])
    assert np.array_equal(got[1], ref[1])
    assert got[0].dtype == np.int64 and got[1].dtype == np.float32


def hamming_reference(q, x, k, exclude, tie_seed):
    return exact_topk_reference(x.shape[1] * 8 - hamming_distances(q, x), k, exclude, tie_seed)


def hierarchical_reference(q, qz, x, z, m, k, exclude, tie_seed):
    """Hamming top-M (oracle), then exact float re-rank of those M with the same tie rule."""
    cand, _ = hamming_reference(q, x, m, exclude, tie_seed)
    scores = (qz @ z.T).astype(np.float64)
    keep = np.zeros(scores.shape, dtype=bool)
    for r, row in enumerate(cand):
        keep[r, row[row >= 0]] = True
    ids, s = exact_topk_reference(np.where(keep, scores, 0), k, sp.csr_matrix(~keep), tie_seed)
    return ids, s


@pytest.mark.parametrize("n_bits", [8, 16, 32, 64, 128])
@pytest.mark.parametrize("kind", ["random", "clustered"])
@pytest.mark.parametrize("density", [0.0, 0.3])
def test_hamming_and_mih_equal_oracle(rng, n_bits, kind, density):
    x = make_codes(rng, 300, n_bits, kind)
    q = make_codes(rng, 40, n_bits, kind)
    ex = _exclude(rng, 40, 300, density)
    for tie_seed in (None, 7):
        indexes = [HammingIndex(x, tie_seed=tie_seed), MultiIndexHashing(x, tie_seed=tie_seed)]
        if n_bits >= 16:
            indexes.append(MultiIndexHashing(x, n_substrings=n_bits // 8, tie_seed=tie_seed))
        for k in (1, 10, 250, 400):  # 250/400 exceed the unseen items with exclusion
            ref = hamming_reference(q, x, k, ex, tie_seed)
            for index in indexes:
                _check(index.search(q, k, exclude=ex), ref)


@pytest.mark.parametrize("n_bits", [32, 64, 128])
def test_streaming_kernel_equals_oracle(rng, monkeypatch, n_bits):
    """The large-catalogue (blocked, streaming) kernel, forced on a small catalogue."""
    monkeypatch.setattr(hamming_mod, "PLANES_MAX_ITEMS", 0)
    monkeypatch.setattr(hamming_mod, "ITEM_BLOCK", 64)
    monkeypatch.setattr(hamming_mod, "QUERY_BLOCK", 3)
    x = make_codes(rng, 2000, n_bits, "clustered")
    q = make_codes(rng, 20, n_bits, "clustered")
    ex = _exclude(rng, 20, 2000, 0.2)
    for k in (1, 5, 100, 1700):
        for e in (None, ex):
            index = HammingIndex(x, tie_seed=3)
            assert index._scan_codes.layout == "stream"
            _check(index.search(q, k, exclude=e), hamming_reference(q, x, k, e, 3))


@pytest.mark.parametrize("n_items", [1, 2, 9])
def test_tiny_catalogues(rng, n_items):
    x = make_codes(rng, n_items, 32, "random")
    q = make_codes(rng, 4, 32, "random")
    ex = sp.csr_matrix(np.eye(4, n_items, dtype=np.float32))
    for k in (1, 3, 20):
        for e in (None, ex):
            ref = hamming_reference(q, x, k, e, 5)
            _check(HammingIndex(x, tie_seed=5).search(q, k, exclude=e), ref)
            _check(MultiIndexHashing(x, tie_seed=5).search(q, k, exclude=e), ref)


def test_everything_excluded_gives_padding(rng):
    x = make_codes(rng, 12, 32, "random")
    q = make_codes(rng, 2, 32, "random")
    ex = sp.csr_matrix(np.ones((2, 12)))
    for index in (HammingIndex(x), MultiIndexHashing(x)):
        ids, scores = index.search(q, 5, exclude=ex)
        assert (ids == -1).all() and np.isneginf(scores).all()


@pytest.mark.parametrize("density", [0.0, 0.3])
def test_float_index_equals_oracle(rng, density):
    # small integer embeddings: exact float arithmetic and many ties
    z = rng.integers(-2, 3, (200, 6)).astype(np.float32)
    qz = rng.integers(-2, 3, (30, 6)).astype(np.float32)
    ex = _exclude(rng, 30, 200, density)
    for tie_seed in (None, 11):
        index = FloatIndex(z, tie_seed=tie_seed)
        for k in (1, 17, 150, 300):
            _check(index.search(qz, k, exclude=ex), exact_topk_reference(qz @ z.T, k, ex, tie_seed))
            _check(index.search(qz, k, exclude=ex, batch_size=7),
                   exact_topk_reference(qz @ z.T, k, ex, tie_seed))


@pytest.mark.parametrize("n_bits", [32, 64])
@pytest.mark.parametrize("density", [0.0, 0.3])
@pytest.mark.parametrize("mih_faster", [None, True, False])
def test_hierarchical_equals_reference(rng, monkeypatch, n_bits, density, mih_faster):
    """``mih_faster``: None = a small catalogue (the candidate stage scans, no trial); True / False = the
    candidate stage's path chosen by its timing trial (forced here), MIH or the scan."""
    if mih_faster is not None:
        for name, value in (("AUTOTUNE_MIN_ITEMS", 1), ("AUTOTUNE_SAMPLE", 4), ("AUTOTUNE_MIN_QUERIES", 1),
                            ("MIH_MIN_QUERIES", 1)):
            monkeypatch.setattr(hamming_mod, name, value)
        monkeypatch.setattr(HammingIndex, "_time_paths", lambda self, sample, k: mih_faster)
    x = make_codes(rng, 250, n_bits, "clustered")
    q = make_codes(rng, 25, n_bits, "clustered")
    z = rng.integers(-2, 3, (250, 5)).astype(np.float32)
    qz = rng.integers(-2, 3, (25, 5)).astype(np.float32)
    ex = _exclude(rng, 25, 250, density)
    for m in (1, 20, 240):
        index = HierarchicalIndex(x, z, n_candidates=m, tie_seed=2)
        for k in (1, 10, 300):
            ids, scores = index.search((q, qz), k, exclude=ex)
            kk = min(k, m)
            ref = hierarchical_reference(q, qz, x, z, m, kk, ex, 2)
            assert np.array_equal(ids[:, :kk], ref[0]) and np.array_equal(scores[:, :kk], ref[1])
            assert (ids[:, kk:] == -1).all() and np.isneginf(scores[:, kk:]).all()
        assert index._hamming._mih_faster is mih_faster
        assert (index._hamming._mih_index is not None) == bool(mih_faster)


def test_tie_rule_is_a_property_of_items_not_storage_order(rng):
    """Permuting items (and their codes) consistently permutes the ranks: same scores, same strict winners."""
    x = make_codes(rng, 400, 32, "clustered")
    q = make_codes(rng, 30, 32, "clustered")
    perm = rng.permutation(400)
    k = 25
    ids_a, s_a = HammingIndex(x, tie_seed=4).search(q, k)
    ids_b, s_b = HammingIndex(x[perm], tie_seed=4).search(q, k)
    assert np.array_equal(s_a, s_b)
    mapped = perm[ids_b]  # back to original item ids
    for r in range(len(q)):
        strict = s_a[r] > s_a[r, -1]
        assert set(ids_a[r, strict]) == set(mapped[r, s_b[r] > s_b[r, -1]])
    # storing the items in tie-rank order with tie_seed=None is the same ranking, mapped back
    by_rank = np.argsort(tie_ranks(400, 4))
    ids_c, s_c = HammingIndex(x[by_rank], tie_seed=None).search(q, k)
    assert np.array_equal(by_rank[ids_c], ids_a) and np.array_equal(s_c, s_a)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_items=st.integers(1, 60), n_queries=st.integers(1, 6), n_bytes=st.sampled_from([1, 2, 4, 8, 16]),
       k=st.integers(1, 80), density=st.sampled_from([0.0, 0.2, 0.9]), seed=st.integers(0, 2**16),
       tie_seed=st.one_of(st.none(), st.integers(0, 100)), n_distinct=st.integers(1, 8))
def test_property_all_hamming_indexes_equal_oracle(n_items, n_queries, n_bytes, k, density, seed, tie_seed,
                                                   n_distinct):
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 256, (n_distinct, n_bytes), dtype=np.uint8)  # few distinct codes: many ties
    x = pool[rng.integers(0, n_distinct, n_items)]
    q = rng.integers(0, 256, (n_queries, n_bytes), dtype=np.uint8)
    ex = _exclude(rng, n_queries, n_items, density)
    ref = hamming_reference(q, x, k, ex, tie_seed)
    _check(HammingIndex(x, tie_seed=tie_seed).search(q, k, exclude=ex), ref)
    _check(MultiIndexHashing(x, tie_seed=tie_seed).search(q, k, exclude=ex), ref)
    z = rng.integers(-1, 2, (n_items, 3)).astype(np.float32)
    qz = rng.integers(-1, 2, (n_queries, 3)).astype(np.float32)
    _check(FloatIndex(z, tie_seed=tie_seed).search(qz, k, exclude=ex),
           exact_topk_reference(qz @ z.T, k, ex, tie_seed))
    m = max(1, k // 2)
    ids, scores = HierarchicalIndex(x, z, n_candidates=m, tie_seed=tie_seed).search((q, qz), k, exclude=ex)
    kk = min(k, m)
    ref_h = hierarchical_reference(q, qz, x, z, m, kk, ex, tie_seed)
    assert np.array_equal(ids[:, :kk], ref_h[0]) and np.array_equal(scores[:, :kk], ref_h[1])


@settings(max_examples=60, deadline=None)
@given(n_rows=st.integers(1, 5), m=st.integers(1, 40), k=st.integers(1, 40), seed=st.integers(0, 2**16),
       n_distinct=st.integers(1, 6), pad=st.floats(0.0, 0.5))
def test_rerank_topk_equals_a_two_key_sort(n_rows, m, k, seed, n_distinct, pad):
    """Higher score first, then smaller position; -0.0 ties with 0.0; padding (-1, -inf) last."""
    from hashgnn.index.hierarchical import rerank_topk

    rng = np.random.default_rng(seed)
    k = min(k, m)
    pool = np.array([0.0, -0.0, 1.5, -2.25, 3e-38, -7.0, np.float32(1e30)], dtype=np.float32)[:max(2, n_distinct)]
    scores = rng.choice(pool, (n_rows, m)).astype(np.float32)
    positions = np.stack([rng.permutation(10 * m)[:m] for _ in range(n_rows)])
    padded = rng.random((n_rows, m)) < pad
    positions[padded], scores[padded] = -1, -np.inf
    order = np.lexsort((np.where(positions >= 0, positions, np.iinfo(np.int64).max), -scores.astype(np.float64)),
                       axis=-1)[:, :k]
    pos, got = rerank_topk(positions, scores, k)
    assert np.array_equal(pos, np.take_along_axis(positions, order, 1))
    assert np.array_equal(got, np.take_along_axis(scores, order, 1)) and got.dtype == np.float32


@pytest.mark.parametrize("k", [1, 7, 64, 700])
def test_float_index_equals_oracle_on_a_catalogue_larger_than_its_buffer(rng, k):
    """Thousands of items with few distinct scores: the one-pass kernel compacts its candidate buffer many
    times per row, and each compaction must keep the first-positioned of the tied scores."""
    z = rng.integers(-2, 3, (6000, 4)).astype(np.float32)
    qz = rng.integers(-2, 3, (12, 4)).astype(np.float32)
    ex = _exclude(rng, 12, 6000, 0.3)
    for tie_seed in (None, 3):
        _check(FloatIndex(z, tie_seed=tie_seed).search(qz, k, exclude=ex),
               exact_topk_reference(qz @ z.T, k, ex, tie_seed))
