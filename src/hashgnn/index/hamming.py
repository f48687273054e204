"""Exact Hamming top-k over packed codes (HamR)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from hashgnn.errors import ConfigError
from hashgnn.index import _kernels
from hashgnn.index.base import SearchIndex, check_packed
from hashgnn.index.packing import padded_words

QUERY_BLOCK = 64
ITEM_BLOCK = 16384
# Up to this many items (and 248 bits, so distances fit a byte below the 255 that marks excluded items) the
# plane kernel scans; above it the streaming kernel, whose running limit skips most item blocks.
PLANES_MAX_ITEMS = 1 << 20
PLANES_MAX_BITS = 248
# HammingIndex switches to multi-index hashing (same results) from this many items and queries per call:
# at 4.2M items MIH is ~20-40x faster than the scan; below ~1M items the scan is as fast and needs no tables.
MIH_MIN_ITEMS = 1 << 20
MIH_MIN_QUERIES = 256
MIH_MAX_BITS = 64
# Between these sizes the faster exact path depends on the CPU and the codes, so the index times both once, on
# a sample of the first large enough batch, and keeps the winner. Only the speed depends on the outcome, never
# the results.
AUTOTUNE_MIN_ITEMS = 1 << 14
AUTOTUNE_SAMPLE = 256
AUTOTUNE_ROUNDS = 3  # best of 3 per path: a sample search takes milliseconds, single timings are noisy
AUTOTUNE_MARGIN = 1.15  # MIH must win clearly: near a tie the scan keeps no tables and is the safer default
# the trial searches the sample 6 times, once per index; HieS asks for candidates in batches of ~1,200-2,500
AUTOTUNE_MIN_QUERIES = 4 * AUTOTUNE_SAMPLE
# Plane layouts of the scan (same results, speed depends on the CPU): "words" = one uint32/uint64 word per
# item and plane, popcounted per word lane (vpopcntd/q with AVX-512 VPOPCNTDQ); "bytes" = one byte plane per
# code byte, popcounted per byte lane (a nibble-table shuffle with AVX2, where a word popcount is emulated).
LAYOUTS = ("words", "bytes")

_DUMMY2 = np.zeros((1, 1), dtype=np.uint64)


def code_words(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(1-D words or dummy, 2-D words or dummy, n_words) — n_words 0 selects the single-word kernels
    (uint32 for K <= 32, uint64 for K <= 64)."""
    n_bits = packed.shape[1] * 8
    if n_bits <= 32:
        return np.ascontiguousarray(padded_words(packed, np.uint32)[:, 0]), _DUMMY2, 0
    if n_bits <= 64:
        return np.ascontiguousarray(padded_words(packed, np.uint64)[:, 0]), _DUMMY2, 0
    words = np.ascontiguousarray(padded_words(packed, np.uint64))
    return np.zeros(1, dtype=np.uint64), words, words.shape[1]


def cpu_features() -> frozenset[str]:
    """The CPU features numba compiles for: ``$NUMBA_CPU_FEATURES`` when set (numba then targets those), else
    the host's."""
    import llvmlite.binding as llvm
    from numba.core import config

    spec = config.CPU_FEATURES if config.CPU_FEATURES is not None else llvm.get_host_cpu_features().flatten()
    return frozenset(f[1:] for f in spec.split(",") if f.startswith("+"))


def scan_layout(features: frozenset[str] | None = None) -> str:
    """The faster plane layout for these CPU features (default: the compile target's), see :data:`LAYOUTS`."""
    features = cpu_features() if features is None else features
    return "words" if "avx512vpopcntdq" in features else "bytes"


def query_planes(packed: np.ndarray, layout: str) -> np.ndarray:
    """Codes ``[n, K/8]`` as ``[n, n_planes]`` words of the layout (uint8 bytes, or uint32 / uint64 words)."""
    if layout == "bytes":
        return np.ascontiguousarray(packed)
    return np.ascontiguousarray(padded_words(packed, np.uint32 if packed.shape[1] <= 4 else np.uint64))


@dataclass(frozen=True)
class ScanCodes:
    """Item codes in position order, laid out for the scan kernel their size selects: ``planes``
    ``[n_planes, n]`` for the plane kernel, else the word arrays of :func:`code_words` (streaming kernel)."""

    n_items: int
    n_bits: int
    layout: str  # a LAYOUTS entry, or "stream"
    planes: np.ndarray | None = None
    words: tuple[np.ndarray, np.ndarray, int] | None = None

    @classmethod
    def build(cls, packed: np.ndarray, layout: str | None = None) -> ScanCodes:
        n, n_bits = packed.shape[0], packed.shape[1] * 8
        if n > PLANES_MAX_ITEMS or n_bits > PLANES_MAX_BITS:
            return cls(n, n_bits, "stream", words=code_words(packed))
        layout = scan_layout() if layout is None else layout
        if layout not in LAYOUTS:
            raise ConfigError(f"layout must be one of {LAYOUTS} or None (chosen by the CPU), got {layout!r}")
        return cls(n, n_bits, layout, planes=np.ascontiguousarray(query_planes(packed, layout).T))


def hamming_topk_positions(q_packed: np.ndarray, codes: ScanCodes, k: int, ex_ptr: np.ndarray,
                           ex_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k positions (ascending distance, then position) and distances; -1 padding."""
    nq = q_packed.shape[0]
    out_pos = np.empty((nq, k), dtype=np.int64)
    out_d = np.empty((nq, k), dtype=np.int64)
    if nq == 0:
        return out_pos, out_d
    if codes.planes is not None:
        _kernels.hamming_topk_planes(query_planes(q_packed, codes.layout), codes.planes, codes.n_bits, k, ex_ptr,
                                     ex_pos, out_pos, out_d)
        return out_pos, out_d
    x1, x2, n_words = codes.words
    q1, q2, _ = code_words(q_packed)
    if n_words == 0:
        q1 = q1.astype(x1.dtype, copy=False)
    _kernels.hamming_topk(q1, x1, q2, x2, n_words, codes.n_bits, k, ex_ptr, ex_pos, QUERY_BLOCK, ITEM_BLOCK,
                          out_pos, out_d)
    return out_pos, out_d


def distances_to_scores(dist: np.ndarray, n_bits: int) -> np.ndarray:
    scores = (n_bits - dist).astype(np.float32)
    scores[dist < 0] = -np.inf
    return scores


class HammingIndex(SearchIndex):
    """Exact top-k by Hamming distance; score = K − distance. Queries: packed uint8 codes ``[B, K/8]``.

    Two exact paths return the same results: a scan of all items and multi-index hashing (tables built on first
    use). Catalogues of 2^20 items or more use MIH, small ones the scan; in between the index times both once,
    on its first batch of at least :data:`AUTOTUNE_MIN_QUERIES` queries, and keeps the faster on this machine.
    ``layout``: the scan's plane layout (:data:`LAYOUTS`); None = the faster one for this CPU (:func:`scan_layout`).
    """

    kind = "hamming"

    def __init__(self, item_codes_packed: np.ndarray, tie_seed: int | None = None, layout: str | None = None
                 ) -> None:
        codes = check_packed(item_codes_packed, "item codes")
        self._setup_ties(codes.shape[0], tie_seed)
        self.codes = codes
        self.n_bytes = codes.shape[1]
        self.n_bits = self.n_bytes * 8
        self._scan_codes = ScanCodes.build(codes[self._item_at], layout)
        self._mih_index = None
        self._mih_faster: bool | None = None  # measured by _time_paths, once per index

    def _check_queries(self, queries: Any) -> np.ndarray:
        return check_packed(queries, "query codes", self.n_bytes)

    def _n_queries(self, queries: np.ndarray) -> int:
        return queries.shape[0]

    def _slice_queries(self, queries: np.ndarray, start: int, stop: int) -> np.ndarray:
        return queries[start:stop]

    def _search(self, queries, k, ex_ptr, ex_pos):
        if self._use_mih(queries, k):
            return self._mih()._search(queries, k, ex_ptr, ex_pos)
        return self._scan(queries, k, ex_ptr, ex_pos)

    def _scan(self, queries, k, ex_ptr, ex_pos):
        pos, dist = hamming_topk_positions(queries, self._scan_codes, k, ex_ptr, ex_pos)
        return pos, distances_to_scores(dist, self.n_bits)

    def _use_mih(self, queries: np.ndarray, k: int) -> bool:
        """The fastest exact path (both return the same positions, so identical results): multi-index hashing
        for large catalogues and enough queries to pay for its tables (built once, on first use), the scan for
        small ones, and in between whichever :meth:`_time_paths` measured faster on this machine."""
        n_queries = len(queries)
        if self.n_bits > MIH_MAX_BITS or n_queries < MIH_MIN_QUERIES:
            return False
        if self.n_items >= MIH_MIN_ITEMS:
            return True
        if self._mih_faster is None:
            if self.n_items < AUTOTUNE_MIN_ITEMS or n_queries < AUTOTUNE_MIN_QUERIES:
                return False
            self._mih_faster = self._time_paths(queries[:AUTOTUNE_SAMPLE], k)
        return self._mih_faster

    def _time_paths(self, sample: np.ndarray, k: int) -> bool:
        """Whether multi-index hashing answers ``sample`` clearly faster than the scan (best of alternating
        runs, no exclusions; the MIH tables are built before the clock starts, as they are kept)."""
        no_ptr, no_pos = np.zeros(len(sample) + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
        paths = {"scan": self._scan, "mih": self._mih()._search}
        best = dict.fromkeys(paths, np.inf)
        for _ in range(AUTOTUNE_ROUNDS):
            for name, run in paths.items():
                t0 = time.perf_counter()
                run(sample, k, no_ptr, no_pos)
                best[name] = min(best[name], time.perf_counter() - t0)
        return bool(AUTOTUNE_MARGIN * best["mih"] < best["scan"])

    def _mih(self):
        if self._mih_index is None:
            from hashgnn.index.mih import MultiIndexHashing

            self._mih_index = MultiIndexHashing(self.codes, tie_seed=self.tie_seed)
        return self._mih_index

    def _state(self):
        return {}, {"item_codes": self.codes}

    @classmethod
    def _from_state(cls, params, arrays):
        return cls(arrays["item_codes"], tie_seed=params["tie_seed"])
