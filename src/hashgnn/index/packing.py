"""±1 hash codes ↔ packed bits, word views and a reference Hamming distance.

Bit layout: code bit ``j`` of a row is bit ``7 - j % 8`` of byte ``j // 8`` (``np.packbits`` order); a sign
``>= 0`` (including 0, so ``sign(0) = +1``) is bit 1. Hamming distance is invariant to how the bytes are then
grouped into words, so :func:`as_words` is a plain (little-endian) view.
"""

from __future__ import annotations

import numpy as np

from hashgnn.errors import ConfigError


def _check_packed(packed: np.ndarray, name: str = "packed codes") -> np.ndarray:
    packed = np.asarray(packed)
    if packed.dtype != np.uint8:
        raise ConfigError(f"{name} must be uint8 (from pack_codes), got dtype {packed.dtype}")
    if packed.ndim != 2:
        raise ConfigError(f"{name} must be 2-D [n, K/8], got shape {packed.shape}")
    if packed.shape[1] == 0:
        raise ConfigError(f"{name} have zero bytes per code")
    return packed


def pack_codes(signs: np.ndarray) -> np.ndarray:
    """Pack ``[n, K]`` ±1 codes (any numeric dtype; ``>= 0`` → bit 1) into uint8 ``[n, K/8]``."""
    signs = np.asarray(signs)
    if signs.ndim != 2:
        raise ConfigError(f"codes must be 2-D [n, K], got shape {signs.shape}")
    if signs.dtype == np.bool_ or not np.issubdtype(signs.dtype, np.number):
        raise ConfigError(f"codes must be numeric ±1 values, got dtype {signs.dtype}")
    n_bits = signs.shape[1]
    if n_bits == 0 or n_bits % 8:
        raise ConfigError(f"the number of bits K must be a positive multiple of 8, got K={n_bits}")
    return np.packbits(signs >= 0, axis=1)


def unpack_codes(packed: np.ndarray, n_bits: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`: int8 ``[n, n_bits]`` of ±1."""
    packed = _check_packed(packed)
    if n_bits <= 0 or n_bits != packed.shape[1] * 8:
        raise ConfigError(f"n_bits={n_bits} does not match packed codes of {packed.shape[1]} bytes "
                          f"({packed.shape[1] * 8} bits)")
    bits = np.unpackbits(packed, axis=1)
    return (bits.astype(np.int8) * 2 - 1).astype(np.int8)


def as_words(packed: np.ndarray, dtype=np.uint32) -> np.ndarray:
    """View packed codes ``[n, K/8]`` as ``[n, K/(8*itemsize)]`` words of ``dtype`` (uint8/16/32/64).

    No copy when the array is C-contiguous; K/8 must be a multiple of the word size.
    """
    packed = _check_packed(packed)
    dtype = np.dtype(dtype)
    if dtype.kind != "u":
        raise ConfigError(f"word dtype must be an unsigned integer type, got {dtype}")
    if packed.shape[1] % dtype.itemsize:
        raise ConfigError(f"codes of {packed.shape[1] * 8} bits cannot be viewed as {dtype} words "
                          f"({dtype.itemsize * 8} bits each)")
    return np.ascontiguousarray(packed).view(dtype)


def padded_words(packed: np.ndarray, dtype=np.uint64) -> np.ndarray:
    """Like :func:`as_words` but zero-pads each code to a whole number of words (zero bits add no distance)."""
    packed = _check_packed(packed)
    size = np.dtype(dtype).itemsize
    n_bytes = packed.shape[1]
    width = -(-n_bytes // size) * size
    if width == n_bytes:
        return as_words(packed, dtype)
    out = np.zeros((packed.shape[0], width), dtype=np.uint8)
    out[:, :n_bytes] = packed
    return out.view(dtype)


def hamming_distances(q_packed: np.ndarray, x_packed: np.ndarray) -> np.ndarray:
    """Reference ``[nq, nx]`` Hamming distances (int64) between two sets of packed codes (numpy only)."""
    q = _check_packed(q_packed, "query codes")
    x = _check_packed(x_packed, "item codes")
    if q.shape[1] != x.shape[1]:
        raise ConfigError(f"query codes have {q.shape[1] * 8} bits but item codes have {x.shape[1] * 8}")
    out = np.zeros((q.shape[0], x.shape[0]), dtype=np.int64)
    for b in range(q.shape[1]):
        out += np.bitwise_count(q[:, b, None] ^ x[None, :, b])
    return out
