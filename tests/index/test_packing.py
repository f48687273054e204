from __future__ import annotations

import numpy as np
import pytest

from hashgnn.errors import ConfigError
from hashgnn.index import as_words, hamming_distances, pack_codes, unpack_codes


@pytest.mark.parametrize("n_bits", [8, 16, 32, 64, 128])
def test_pack_unpack_round_trip(rng, n_bits):
    signs = rng.choice([-1, 1], (17, n_bits)).astype(np.int8)
    packed = pack_codes(signs)
    assert packed.dtype == np.uint8 and packed.shape == (17, n_bits // 8)
    assert np.array_equal(unpack_codes(packed, n_bits), signs)


def test_pack_sign_zero_is_plus_one_and_float_input():
    packed = pack_codes(np.array([[0.0, -0.5, 2.0, -1, 1, 1, -3, 0]]))
    assert np.array_equal(unpack_codes(packed, 8), [[1, -1, 1, -1, 1, 1, -1, 1]])


@pytest.mark.parametrize("bad", [np.ones((3, 12)), np.ones((3, 0)), np.ones(8), np.array([["a"] * 8])])
def test_pack_rejects_bad_shapes(bad):
    with pytest.raises(ConfigError):
        pack_codes(bad)


def test_unpack_checks_width(rng):
    with pytest.raises(ConfigError, match="n_bits"):
        unpack_codes(pack_codes(rng.choice([-1, 1], (2, 32))), 64)


def test_word_views_preserve_hamming_distance(rng):
    a = pack_codes(rng.choice([-1, 1], (9, 64)))
    b = pack_codes(rng.choice([-1, 1], (7, 64)))
    ref = hamming_distances(a, b)
    for dtype in (np.uint8, np.uint32, np.uint64):
        wa, wb = as_words(a, dtype), as_words(b, dtype)
        assert wa.dtype == dtype and wa.shape == (9, 64 // (8 * np.dtype(dtype).itemsize))
        d = np.bitwise_count(wa[:, None, :] ^ wb[None, :, :]).sum(-1)
        assert np.array_equal(d, ref)
    with pytest.raises(ConfigError):
        as_words(pack_codes(rng.choice([-1, 1], (2, 32))), np.uint64)


def test_hamming_distances_matches_sign_arithmetic(rng):
    a = rng.choice([-1, 1], (5, 32))
    b = rng.choice([-1, 1], (6, 32))
    expected = (32 - a @ b.T) // 2
    assert np.array_equal(hamming_distances(pack_codes(a), pack_codes(b)), expected)
