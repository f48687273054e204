"""The plane-scan Hamming kernel (both layouts), its CPU dispatch and the automatic MIH path equal the oracle."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hashgnn.errors import ConfigError
from hashgnn.index import HammingIndex, exact_topk_reference, hamming_distances
from hashgnn.index import hamming as hamming_mod
from hashgnn.index._kernels import le_mask64

from .conftest import make_codes


def _ref(q, x, k, ex, tie_seed):
    return exact_topk_reference(x.shape[1] * 8 - hamming_distances(q, x), k, ex, tie_seed)


def _ex(rng, nq, n, density):
    return sp.random(nq, n, density=density, format="csr", random_state=int(rng.integers(1 << 30)))


def _assert_equal(got, ref):
    assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])


@pytest.mark.parametrize("layout", hamming_mod.LAYOUTS)
@pytest.mark.parametrize("n_bits", [8, 24, 32, 40, 64, 128, 248])
def test_plane_kernel_heavy_ties_and_exclusion(rng, layout, n_bits):
    """Clustered codes (many ties at the k-th distance) and random ones (a different threshold per query, so
    the sampled limit is too low or too high for some), with exclusion; both layouts, every word width."""
    x = make_codes(rng, 1500, n_bits, "clustered")
    q = np.concatenate([make_codes(rng, 15, n_bits, "clustered"), make_codes(rng, 15, n_bits, "random")])
    index = HammingIndex(x, tie_seed=11, layout=layout)
    assert index._scan_codes.layout == layout
    for density in (0.0, 0.05, 0.6):
        ex = None if density == 0 else _ex(rng, 30, 1500, density)
        for k in (1, 3, 100, 1100, 1499, 1600):  # 1100 > the candidate cap: the limit is lowered mid-scan
            _assert_equal(index.search(q, k, exclude=ex), _ref(q, x, k, ex, 11))


@pytest.mark.parametrize("layout", hamming_mod.LAYOUTS)
def test_layouts_give_identical_results(rng, layout):
    """Every path this machine can run returns the same ids and scores as the one its CPU selects."""
    x = make_codes(rng, 5000, 64, "clustered")
    q = make_codes(rng, 200, 64, "clustered")
    ex = _ex(rng, 200, 5000, 0.01)
    auto = HammingIndex(x, tie_seed=1).search(q, 100, exclude=ex)
    _assert_equal(HammingIndex(x, tie_seed=1, layout=layout).search(q, 100, exclude=ex), auto)


def test_layout_follows_the_cpu_features(monkeypatch):
    assert hamming_mod.scan_layout(frozenset({"avx2", "avx512f", "avx512bw", "avx512vpopcntdq"})) == "words"
    assert hamming_mod.scan_layout(frozenset({"avx2", "popcnt"})) == "bytes"
    assert hamming_mod.scan_layout(frozenset({"avx2", "avx512f", "avx512bw"})) == "bytes"  # Skylake-X
    from numba.core import config

    monkeypatch.setattr(config, "CPU_FEATURES", "+avx2,+popcnt,-avx512vpopcntdq")
    assert hamming_mod.cpu_features() == frozenset({"avx2", "popcnt"})
    assert hamming_mod.scan_layout() == "bytes"
    monkeypatch.setattr(config, "CPU_FEATURES", None)
    host = hamming_mod.cpu_features()
    assert hamming_mod.scan_layout() == ("words" if "avx512vpopcntdq" in host else "bytes")
    with pytest.raises(ConfigError, match="layout"):
        HammingIndex(np.zeros((3, 4), dtype=np.uint8), layout="nibbles")


def test_le_mask64_is_an_unsigned_byte_compare(rng):
    from numba import njit

    @njit
    def masks(buf, t):
        return [le_mask64(buf, c, t) for c in range(0, buf.shape[0], 64)]

    buf = rng.integers(0, 256, 256).astype(np.uint8)
    for t in (0, 3, 127, 128, 200, 254):
        bits = np.array([(m >> j) & 1 for m in masks(buf, t) for j in range(64)], dtype=np.uint8)
        assert np.array_equal(bits, (buf <= t).astype(np.uint8))


def test_plane_kernel_all_excluded_and_identical_codes(rng):
    x = np.zeros((70, 4), dtype=np.uint8)  # every item at the same distance
    q = make_codes(rng, 5, 32, "random")
    ex = sp.csr_matrix(np.ones((5, 70)))
    ex[0, 3] = 0
    ex.eliminate_zeros()
    for layout in hamming_mod.LAYOUTS:
        for e in (None, ex):
            for k in (1, 69, 70, 71):
                _assert_equal(HammingIndex(x, tie_seed=2, layout=layout).search(q, k, exclude=e),
                              _ref(q, x, k, e, 2))


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
            _assert_equal(index.search(q, k, exclude=e), _ref(q, x, k, e, 5))
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
