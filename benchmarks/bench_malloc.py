"""Benchmark of :func:`hashgnn.resources.retain_freed_memory`: HashGNN training with glibc's malloc tuned or not.

Each measurement is a fresh Python process (the malloc setting is process-wide) that trains HashGNN (the paper
experiments' options) for ``--epochs`` epochs on one thread and reports the training seconds and the peak
resident memory; ``HASHGNN_MALLOC=default`` leaves malloc as glibc sets it. The two variants alternate,
``--repeats`` times each; medians are reported. The validation Recall@50 must be identical (checked).

    HASHGNN_DATA=../shared/data python benchmarks/bench_malloc.py --datasets movielens-1m,gowalla --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = """
import json, resource, sys, time
from hashgnn.config import RunConfig
from hashgnn.data.loading import load_split_for
from hashgnn.resources import retain_freed_memory
from hashgnn.training.trainer import Trainer
cfg = RunConfig().override([f"data.dataset={sys.argv[1]}", "model.activation=leaky_relu", "model.guide=node",
                            "train.rank_loss=bpr", f"train.epochs={sys.argv[2]}", "train.threads=1"]).validate()
split = load_split_for(cfg.data, cfg.split)
start = time.perf_counter()
result = Trainer(cfg, split, progress=False).fit()
print(json.dumps({"seconds": time.perf_counter() - start, "valid": result.best_metric,
                  "tuned": retain_freed_memory(),
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(dataset: str, epochs: int, tuned: bool) -> dict:
    env = dict(os.environ)
    if tuned:
        env.pop("HASHGNN_MALLOC", None)
    else:
        env["HASHGNN_MALLOC"] = "default"
    out = subprocess.run([sys.executable, "-c", CHILD, dataset, str(epochs)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="movielens-1m,gowalla")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/malloc_<cpu>_<simd>.json")
    args = p.parse_args(argv)
    rows = []
    print(f"HashGNN, {args.epochs} epochs, 1 thread, medians of {args.repeats} processes each")
    print("| dataset | malloc as glibc sets it (s) | retain_freed_memory (s) | speed-up | peak RSS MB (glibc / "
          "retained) |")
    print("|---|---|---|---|---|")
    for dataset in args.datasets.split(","):
        res: dict[bool, list[dict]] = {False: [], True: []}
        for _ in range(args.repeats):
            for tuned in (False, True):
                res[tuned].append(run(dataset, args.epochs, tuned))
        if not all(r["tuned"] for r in res[True]) or any(r["tuned"] for r in res[False]):
            raise SystemExit("the malloc setting was not applied as asked (not glibc?)")
        if len({r["valid"] for r in res[False] + res[True]}) != 1:
            raise SystemExit(f"{dataset}: validation differs between runs: {res}")
        base, kept = (statistics.median(r["seconds"] for r in res[t]) for t in (False, True))
        rss = [statistics.median(r["max_rss_mb"] for r in res[t]) for t in (False, True)]
        print(f"| {dataset} | {base:.1f} | {kept:.1f} | {base / kept:.2f}x | {rss[0]:,.0f} / {rss[1]:,.0f} |",
              flush=True)
        rows.append({"dataset": dataset, "epochs": args.epochs, "repeats": args.repeats, "glibc_seconds": base,
                     "retained_seconds": kept, "speedup": base / kept, "glibc_peak_rss_mb": rss[0],
                     "retained_peak_rss_mb": rss[1], "valid": res[True][0]["valid"], "runs": res[False] + res[True]})
    from bench_index import write_host_result

    write_host_result("malloc", {"rows": rows}, save=not args.no_save)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
