"""Benchmark of hierarchical search's re-rank stage: gather the M candidates' embeddings, score, keep the top k.

Side by side in one process and thread, interleaved, median of ``--repeats``: the former implementation
(fancy indexing with the 2-d candidate array, then a two-key ``np.lexsort`` of all M) against the current one
(``np.take`` on flat indices, then :func:`hashgnn.index.hierarchical.rerank_topk`: one packed uint64 key,
partition + sort of k). Candidates are random items; scores come from 32-d Gaussian embeddings rounded
to a coarse grid so that exact ties occur. Both must return identical ids and scores (checked).

    python benchmarks/bench_rerank.py                  # Amazon-CDs size: 43,169 users x 35,648 items
    python benchmarks/bench_rerank.py --users 2000     # smoke run
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from hashgnn.index.hierarchical import rerank_topk


def former(cand: np.ndarray, z_items: np.ndarray, z_users: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = np.einsum("bd,bmd->bm", z_users, z_items[np.maximum(cand, 0)], optimize=False).astype(np.float32)
    scores[cand < 0] = -np.inf
    tie_key = np.where(cand >= 0, cand, np.iinfo(np.int64).max)
    order = np.lexsort((tie_key, -scores.astype(np.float64)), axis=-1)[:, :k]
    return np.take_along_axis(cand, order, axis=1), np.take_along_axis(scores, order, axis=1)


def current(cand: np.ndarray, z_items: np.ndarray, z_users: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.take(z_items, np.maximum(cand, 0).ravel(), axis=0).reshape(*cand.shape, z_items.shape[1])
    scores = np.einsum("bd,bmd->bm", z_users, rows, optimize=False).astype(np.float32)
    scores[cand < 0] = -np.inf
    return rerank_topk(cand, scores, k)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=43_169)
    p.add_argument("--items", type=int, default=35_648)
    p.add_argument("--candidates", type=int, default=200)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--batch", type=int, default=4_096, help="queries per call (the index's own blocks are ~5,000)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/rerank_<cpu>_<simd>.json")
    args = p.parse_args(argv)
    rows = []
    rng = np.random.default_rng(0)
    z_items = np.round(rng.standard_normal((args.items, args.dim)), 1).astype(np.float32)
    z_users = np.round(rng.standard_normal((args.users, args.dim)), 1).astype(np.float32)
    cand = rng.integers(0, args.items, (args.users, args.candidates))  # repeats within a row time the same
    cand[::97, -5:] = -1  # a few queries with fewer real candidates (padding)
    print("| queries x items, M, k | former s | current s | speed-up | identical |\n|---|---|---|---|---|")
    for k in (50, 100):
        same = True
        times: dict[str, list[float]] = {"former": [], "current": []}
        for _ in range(args.repeats):
            outs = {}
            for name, fn in (("former", former), ("current", current)):
                t0 = time.perf_counter()
                parts = [fn(cand[s:s + args.batch], z_items, z_users[s:s + args.batch], k)
                         for s in range(0, args.users, args.batch)]
                times[name].append(time.perf_counter() - t0)
                outs[name] = (np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts]))
            same &= all(np.array_equal(a, b) for a, b in zip(outs["former"], outs["current"], strict=True))
        f, c = statistics.median(times["former"]), statistics.median(times["current"])
        print(f"| {args.users:,} x {args.items:,}, M = {args.candidates}, k = {k} | {f:.3f} | {c:.3f} | "
              f"**{f / c:.2f}x** | {same} |")
        rows.append({"users": args.users, "items": args.items, "candidates": args.candidates, "k": k,
                     "former_seconds": f, "current_seconds": c, "speedup": f / c, "identical": bool(same)})
    import os

    from bench_index import write_host_result

    write_host_result("rerank", {"omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "repeats": args.repeats,
                                 "dim": args.dim, "batch": args.batch, "rows": rows}, save=not args.no_save)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
