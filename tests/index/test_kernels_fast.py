"""The threshold-then-collect Hamming kernel and the automatic MIH path equal the brute-force oracle."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hashgnn.index import HammingIndex, exact_topk_reference, hamming_distances
from hashgnn.index import hamming as hamming_mod

from .conftest import make_codes


def _ref(q, x, k, ex, tie_seed):
    return exact_topk_reference(x.shape[1] * 8 - hamming_distances(q, x), k, ex, tie_seed)


def _ex(rng, nq, n, density):
    return sp.random(nq, n, density=density, format="csr", random_state=int(rng.integers(1 << 30)))


@pytest.mark.parametrize("n_bits", [8, 32, 64])
@pytest.mark.parametrize("qblock", [1, 7, 64])
def test_threshold_kernel_heavy_ties_and_exclusion(rng, monkeypatch, n_bits, qblock):
    """Clustered codes with many ties at the threshold; window moves up and down (queries vary)."""
    monkeypatch.setattr(hamming_mod, "QUERY_BLOCK", qblock)
    x = make_codes(rng, 1500, n_bits, "clustered")
    q = np.concatenate([make_codes(rng, 15, n_bits, "clustered"), make_codes(rng, 15, n_bits, "random")])
    for density in (0.0, 0.05, 0.6):
        ex = None if density == 0 else _ex(rng, 30, 1500, density)
        for k in (1, 3, 100, 1499, 1600):
            got = HammingIndex(x, tie_seed=11).search(q, k, exclude=ex)
            ref = _ref(q, x, k, ex, 11)
            assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])


def test_threshold_kernel_all_excluded_and_identical_codes(rng):
    x = np.zeros((70, 4), dtype=np.uint8)  # every item at the same distance
    q = make_codes(rng, 5, 32, "random")
    ex = sp.csr_matrix(np.ones((5, 70)))
    ex[0, 3] = 0
    ex.eliminate_zeros()
    for e in (None, ex):
        for k in (1, 69, 70, 71):
            got = HammingIndex(x, tie_seed=2).search(q, k, exclude=e)
            ref = _ref(q, x, k, e, 2)
            assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])


@pytest.mark.parametrize("n_bits", [32, 64])
def test_hamming_index_automatic_mih_path(rng, monkeypatch, n_bits):
    """Large-catalogue path (multi-index hashing, queries reordered with their exclusion rows) is exact."""
    monkeypatch.setattr(hamming_mod, "MIH_MIN_ITEMS", 0)
    monkeypatch.setattr(hamming_mod, "MIH_MIN_QUERIES", 1)
    x = make_codes(rng, 3000, n_bits, "clustered")
    q = make_codes(rng, 25, n_bits, "clustered")
    ex = _ex(rng, 25, 3000, 0.1)
    index = HammingIndex(x, tie_seed=5)
    for e in (None, ex):
        for k in (1, 50, 2900):
            got = index.search(q, k, exclude=e)
            ref = _ref(q, x, k, e, 5)
            assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])
    assert index._mih_index is not None


@pytest.mark.parametrize("mih_faster", [True, False])
def test_hamming_index_times_both_paths_once_in_the_middle_range_and_keeps_the_faster(rng, monkeypatch,
                                                                                     mih_faster):
    """Mid-size catalogues: the index measures scan vs MIH once (on a sample) and uses the winner from then on;
    either way the results are the exact ones."""
    monkeypatch.setattr(hamming_mod, "AUTOTUNE_MIN_ITEMS", 1000)
    monkeypatch.setattr(hamming_mod, "AUTOTUNE_SAMPLE", 8)
    monkeypatch.setattr(hamming_mod, "AUTOTUNE_MIN_QUERIES", 300)
    x = make_codes(rng, 3000, 32, "clustered")
    q = make_codes(rng, 300, 32, "clustered")
    index = HammingIndex(x, tie_seed=3)
    assert index.search(q[:299], 10)[0].shape == (299, 10) and index._mih_faster is None  # too few queries
    trials = []
    real = HammingIndex._time_paths

    def timed(self, sample, k):
        trials.append(len(sample))
        assert isinstance(real(self, sample, k), bool)  # the real measurement runs and answers
        return mih_faster

    monkeypatch.setattr(HammingIndex, "_time_paths", timed)
    scans = []
    real_scan = HammingIndex._scan
    monkeypatch.setattr(HammingIndex, "_scan", lambda self, *a: scans.append(1) or real_scan(self, *a))
    ex = _ex(rng, 300, 3000, 0.1)
    for e in (None, ex, None):
        got = index.search(q, 20, exclude=e)
        ref = _ref(q, x, 20, e, 3)
        assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])
    assert trials == [8] and index._mih_faster is mih_faster
    assert len(scans) == hamming_mod.AUTOTUNE_ROUNDS + (0 if mih_faster else 3)  # the trial, then the searches
