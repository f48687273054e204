"""Data-layer speed: load + split from the dataset files (cold: fresh empty cache dir) and from the split
cache.

Usage (the README figures):
    HASHGNN_DATA=/work/shared/data .venv/bin/python benchmarks/bench_data.py --runs 5

Each run starts a fresh Python process (so imports, file reads and allocations are all counted) with
``HASHGNN_CACHE`` pointing to a new empty directory (cold), then runs again with the same directory (warm: the
processed and split caches exist). Reported: medians over ``--runs`` runs, wall time inside the process,
excluding interpreter start-up and ``import hashgnn``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

LIMITS = {"movielens-1m": 5.0, "gowalla": 10.0, "amazon-cds": 10.0, "movielens-100k": 5.0}
WARM_LIMIT = 1.0

CHILD = r"""
import json, sys, time
from hashgnn.data import DataConfig, SplitConfig, load_split_for
name, kind = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
split = load_split_for(DataConfig(name), SplitConfig(kind=kind, seed=2020))
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "train": int(len(split.train_idx)), "test": int(len(split.test_idx))}))
"""


def one(name: str, kind: str, cache: str) -> float:
    env = dict(os.environ, HASHGNN_CACHE=cache)
    out = subprocess.run([sys.executable, "-c", CHILD, name, kind], env=env, check=True, capture_output=True,
                         text=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kind", default="random", help="split kind (random = the paper's 70/30 + 10 %%)")
    parser.add_argument("datasets", nargs="*", default=list(LIMITS))
    parser.add_argument("--no-save", action="store_true",
                        help="do not write benchmarks/results/data_layer_<cpu>_<simd>.json")
    args = parser.parse_args()
    if not os.environ.get("HASHGNN_DATA"):
        print("set HASHGNN_DATA to the data root", file=sys.stderr)
        return 2
    print("| dataset | cold load+split (s) | limit | warm from cache (s) | limit | runs |")
    print("|---|---|---|---|---|---|")
    ok, rows = True, []
    for name in args.datasets:
        cold, warm = [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="hashgnn-bench-") as cache:
                cold.append(one(name, args.kind, cache))
                warm.append(one(name, args.kind, cache))
        c, w = statistics.median(cold), statistics.median(warm)
        limit = LIMITS.get(name, 10.0)
        ok &= c < limit and w < WARM_LIMIT
        print(f"| {name} | {c:.2f} | < {limit:g} | {w:.3f} | < {WARM_LIMIT:g} | {args.runs} |", flush=True)
        rows.append({"dataset": name, "cold_seconds": c, "cold_limit": limit, "warm_seconds": w,
                     "warm_limit": WARM_LIMIT, "runs": args.runs, "cold_all": cold, "warm_all": warm})
    from bench_index import write_host_result

    write_host_result("data_layer", {"split_kind": args.kind, "python": sys.version.split()[0], "rows": rows,
                                     "within_limits": ok}, save=not args.no_save)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
