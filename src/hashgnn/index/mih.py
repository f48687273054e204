"""Multi-index hashing (Norouzi, Punjani & Fleet, CVPR 2012): exact Hamming k-NN, sub-linear on large corpora.

Codes are split into ``m`` disjoint substrings; substring ``j`` of each item keys a table (items grouped by
key: an offsets array of size 2^len + 1, like CSR). A query probes, for increasing radius ``s``, all keys at
exactly substring distance ``s``; by the pigeonhole principle, after radius ``s`` of substring ``j`` every
item within full distance ``m*s + j`` has been seen. Results equal :class:`HammingIndex` exactly (same tie
rule, same exclusion).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hashgnn.errors import ConfigError
from hashgnn.index import _kernels
from hashgnn.index.base import SearchIndex, check_packed
from hashgnn.index.hamming import distances_to_scores
from hashgnn.index.packing import padded_words

MAX_SUBSTRING_BITS = 24


def default_substrings(n_bits: int, n_items: int) -> int:
    """Norouzi et al.: substrings of about log2(n) bits (clamped to 8..16)."""
    length = min(16, max(8, round(math.log2(max(n_items, 2)))))
    return max(1, min(n_bits, math.ceil(n_bits / length)))


def _words(packed: np.ndarray) -> np.ndarray:
    dtype = np.uint32 if packed.shape[1] * 8 <= 32 else np.uint64
    return np.ascontiguousarray(padded_words(packed, dtype))


def _substring_keys(words: np.ndarray, lo: int, length: int) -> np.ndarray:
    ws = words.dtype.itemsize * 8
    w0, s0 = divmod(lo, ws)
    n0 = min(length, ws - s0)
    w = words.astype(np.uint64)
    keys = (w[:, w0] >> np.uint64(s0)) & np.uint64((1 << n0) - 1)
    if n0 < length:
        keys |= (w[:, w0 + 1] & np.uint64((1 << (length - n0)) - 1)) << np.uint64(n0)
    return keys.astype(np.int64)


class MultiIndexHashing(SearchIndex):
    """Exact Hamming top-k via ``n_substrings`` hash tables (default: substrings of ≈ log2(n_items) bits).
    Queries: packed uint8 codes ``[B, K/8]``; score = K − distance."""

    kind = "mih"

    def __init__(self, item_codes_packed: np.ndarray, n_substrings: int | None = None,
                 tie_seed: int | None = None) -> None:
        codes = check_packed(item_codes_packed, "item codes")
        self._setup_ties(codes.shape[0], tie_seed)
        self.codes = codes
        self.n_bytes = codes.shape[1]
        self.n_bits = self.n_bytes * 8
        m = default_substrings(self.n_bits, self.n_items) if n_substrings is None else n_substrings
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m <= self.n_bits:
            raise ConfigError(f"n_substrings must be an integer in 1..{self.n_bits}, got {n_substrings!r}")
        m = int(m)
        lengths = np.array([self.n_bits // m + (j < self.n_bits % m) for j in range(m)], dtype=np.int64)
        if lengths.max() > MAX_SUBSTRING_BITS:
            raise ConfigError(f"n_substrings={m} gives {lengths.max()}-bit substrings; at most "
                              f"{MAX_SUBSTRING_BITS} are supported — use at least "
                              f"{math.ceil(self.n_bits / MAX_SUBSTRING_BITS)} substrings")
        self.n_substrings = m
        self._len = lengths
        self._lo = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        words = _words(codes[self._item_at])
        self._dtype = words.dtype
        ws = words.dtype.itemsize * 8
        n_words = words.shape[1]
        masks = np.zeros((m, n_words), dtype=np.uint64)
        for j in range(m):
            for b in range(self._lo[j], self._lo[j] + lengths[j]):
                masks[j, b // ws] |= np.uint64(1) << np.uint64(b % ws)
        self._mask = masks.astype(words.dtype)
        size = 1 << int(lengths.max())
        n = self.n_items
        self._offsets = np.zeros((m, size + 1), dtype=np.int64)
        self._tab_pos = np.empty((m, n), dtype=np.int32 if n < 2**31 else np.int64)
        self._tab_codes = np.empty((m, n, n_words), dtype=words.dtype)
        for j in range(m):
            keys = _substring_keys(words, int(self._lo[j]), int(lengths[j]))
            order = np.argsort(keys, kind="stable")
            self._offsets[j, 1:] = np.cumsum(np.bincount(keys, minlength=size))
            self._tab_pos[j] = order
            self._tab_codes[j] = words[order]

    def _check_queries(self, queries: Any) -> np.ndarray:
        return check_packed(queries, "query codes", self.n_bytes)

    def _n_queries(self, queries: np.ndarray) -> int:
        return queries.shape[0]

    def _slice_queries(self, queries: np.ndarray, start: int, stop: int) -> np.ndarray:
        return queries[start:stop]

    def _search(self, queries, k, ex_ptr, ex_pos):
        if len(queries) > 1:
            # visit queries in code order: similar queries probe the same buckets back to back (cache reuse)
            order = np.lexsort(queries.T[::-1])
            counts = np.diff(ex_ptr)[order]
            ptr = np.zeros(len(order) + 1, dtype=np.int64)
            np.cumsum(counts, out=ptr[1:])
            rows = np.repeat(order, counts)
            pos = ex_pos[ex_ptr[rows] + np.arange(len(rows)) - np.repeat(ptr[:-1], counts)]
            p_sorted, s_sorted = self._search_ordered(np.ascontiguousarray(queries[order]), k, ptr, pos)
            out_pos = np.empty_like(p_sorted)
            out_s = np.empty_like(s_sorted)
            out_pos[order] = p_sorted
            out_s[order] = s_sorted
            return out_pos, out_s
        return self._search_ordered(queries, k, ex_ptr, ex_pos)

    def _search_ordered(self, queries, k, ex_ptr, ex_pos):
        qw = _words(queries)
        qkeys = np.stack([_substring_keys(qw, int(self._lo[j]), int(self._len[j]))
                          for j in range(self.n_substrings)], axis=1)
        out_pos = np.empty((len(queries), k), dtype=np.int64)
        out_d = np.empty((len(queries), k), dtype=np.int64)
        if len(queries):
            _kernels.mih_topk(qw, np.ascontiguousarray(qkeys), self.n_bits, k, self._len, self._mask,
                              self._offsets, self._tab_pos, self._tab_codes, ex_ptr, ex_pos, out_pos, out_d)
        return out_pos, distances_to_scores(out_d, self.n_bits)

    def _state(self):
        return {"n_substrings": self.n_substrings}, {"item_codes": self.codes}

    @classmethod
    def _from_state(cls, params, arrays):
        return cls(arrays["item_codes"], n_substrings=int(params["n_substrings"]), tie_seed=params["tie_seed"])
