"""The host's ceiling for the Hamming scan: XOR + popcount + compare over packed 32-bit codes, no selection.

Measured Hamming search times moved up to 6x between two hosts of the same machine type (results/README.md,
Table 4): this prints the CPU's vector extensions and how many (query, item) pairs per second each form of the
inner loop of ``hashgnn.index._kernels.hamming_topk`` reaches on it, so a search time can be read against what
the hardware allows. Random codes, a limit of 10 bits, all threads (numba ``prange`` over queries), median of
``--repeats`` after a compile run.

- ``count``: the sparse path's test "is any item of the chunk below the limit?" (a sum of compares);
- ``mask64``: the dense path's 64-item bitmask, built in one loop (what the kernel does);
- ``bytes-then-mask64``: the same mask from a 64-byte buffer of compares filled first (a candidate rewrite).

    python benchmarks/bench_popcount.py
    python benchmarks/bench_popcount.py --queries 200 --repeats 1      # smoke run
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from numba import njit, prange

from hashgnn.index._kernels import popcount
from hashgnn.training.rundir import cpu_info, describe_cpu


@njit(parallel=True)
def count(q: np.ndarray, x: np.ndarray, limit: int) -> int:
    total = 0
    for a in prange(q.shape[0]):
        qc = q[a]
        hits = np.int32(0)
        for j in range(x.shape[0]):
            hits += np.int32(popcount(qc ^ x[j])) < np.int32(limit)
        total += hits
    return total


@njit(parallel=True)
def mask64(q: np.ndarray, x: np.ndarray, limit: int) -> int:
    total = 0
    for a in prange(q.shape[0]):
        qc = q[a]
        acc = np.uint64(0)
        for c0 in range(0, x.shape[0], 64):
            xt = x[c0:c0 + 64]
            m = np.uint64(0)
            for j in range(xt.shape[0]):
                m |= np.uint64(np.int32(popcount(qc ^ xt[j])) < np.int32(limit)) << np.uint64(j)
            acc += np.uint64(popcount(m))
        total += acc
    return total


@njit(parallel=True)
def bytes_then_mask64(q: np.ndarray, x: np.ndarray, limit: int) -> int:
    total = 0
    for a in prange(q.shape[0]):
        qc = q[a]
        acc = np.uint64(0)
        below = np.empty(64, np.uint8)
        for c0 in range(0, x.shape[0], 64):
            xt = x[c0:c0 + 64]
            for j in range(xt.shape[0]):
                below[j] = np.uint8(np.int32(popcount(qc ^ xt[j])) < np.int32(limit))
            m = np.uint64(0)
            for j in range(xt.shape[0]):
                m |= np.uint64(below[j]) << np.uint64(j)
            acc += np.uint64(popcount(m))
        total += acc
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--queries", type=int, default=4000)
    p.add_argument("--items", type=int, default=40_960)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/popcount_<cpu>_<simd>.json")
    args = p.parse_args()
    rows = []
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2**32, args.items, dtype=np.uint32)
    q = rng.integers(0, 2**32, args.queries, dtype=np.uint32)
    pairs = len(x) * len(q)
    print(f"CPU: {describe_cpu(cpu_info())}; {args.queries:,} queries x {args.items:,} items, "
          f"median of {args.repeats}")
    print("| inner loop | G pairs/s | hits counted |\n|---|---|---|")
    counted = set()
    for kernel in (count, mask64, bytes_then_mask64):
        kernel(q[:8], x, 10)  # compile
        times, hits = [], 0
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            hits = kernel(q, x, 10)
            times.append(time.perf_counter() - t0)
        print(f"| {kernel.__name__} | {pairs / statistics.median(times) / 1e9:.2f} | {int(hits):,} |")
        counted.add(int(hits))
        rows.append({"inner_loop": kernel.__name__, "g_pairs_per_s": pairs / statistics.median(times) / 1e9,
                     "hits": int(hits), "seconds": times})
    if len(counted) > 1:
        raise SystemExit("the inner loops counted different hits: a timing of wrong code is no ceiling")
    from bench_index import write_host_result

    write_host_result("popcount", {"queries": args.queries, "items": args.items, "repeats": args.repeats,
                                   "rows": rows}, save=not args.no_save)


if __name__ == "__main__":
    main()
