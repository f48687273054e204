"""Benchmark of sparse propagation: one product ``Â X`` and its backward ``Âᵀ G``, by kernel and column blocks.

Side by side in one process, interleaved rounds, median of ``--repeats``: ``sparse_propagate`` with
``torch.sparse.mm`` (the former kernel) against a weighted ``embedding_bag`` over the same CSR arrays (the CPU
default since 2026-12-02), each whole and in column blocks of at most 32 columns, for the widths the encoders
propagate (64 = embedding size, 68 = the paper's second layer) and wider ones (128, 256). The operator is the
GraphSAGE mean operator of the dataset's training graph. The blocked variants bypass the library's
``SPLIT_FROM_COLUMNS`` threshold (set to 0 here; this benchmark is what chose it). Every variant's output and
gradient must equal the first one's (checked, 1e-4).

``--epochs N`` also times whole training runs: HashGNN (the released-code options of the paper experiments)
for N epochs with each kernel, one after the other after an untimed 1-epoch warm-up run, wall seconds of
``Trainer.fit`` including each epoch's validation, and the best validation Recall@50 of both (the kernels
differ only by float rounding).

    HASHGNN_DATA=../shared/data python benchmarks/bench_propagation.py --datasets movielens-1m,gowalla --threads 1
    HASHGNN_DATA=../shared/data python benchmarks/bench_propagation.py --widths '' --epochs 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from hashgnn.config import DataConfig, SplitConfig
from hashgnn.data.graph import BipartiteGraph
from hashgnn.data.loading import load_split_for
from hashgnn.models import propagation
from hashgnn.models.propagation import sparse_propagate

VARIANTS: dict[str, tuple[int | None, str]] = {
    "sparse.mm": (None, "sparse_mm"),
    "sparse.mm, blocks ≤ 32": (32, "sparse_mm"),
    "embedding_bag": (None, "embedding_bag"),
    "embedding_bag, blocks ≤ 32": (32, "embedding_bag"),
}


def step(a: torch.Tensor, a_t: torch.Tensor, x: torch.Tensor, g: torch.Tensor,
         variant: tuple[int | None, str]) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_(True)
    y = sparse_propagate(a, a_t, x, *variant)
    y.backward(g)
    return y.detach(), x.grad


def bench(dataset: str, widths: list[int], repeats: int, records: list[dict] | None = None) -> list[str]:
    split = load_split_for(DataConfig(dataset=dataset), SplitConfig())
    a, a_t = BipartiteGraph.from_interactions(split.train).mean_operator()
    rows = []
    for width in widths:
        gen = torch.Generator().manual_seed(width)
        x = torch.randn(a.shape[0], width, generator=gen)
        g = torch.randn(a.shape[0], width, generator=gen)
        ref = step(a, a_t, x, g, VARIANTS["sparse.mm"])
        for name, variant in VARIANTS.items():
            out = step(a, a_t, x, g, variant)
            if not all(torch.allclose(r, o, atol=1e-4) for r, o in zip(ref, out, strict=True)):
                raise SystemExit(f"{name} differs from sparse.mm ({dataset}, width {width})")
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for _ in range(repeats):
            for name, variant in VARIANTS.items():
                start = time.perf_counter()
                step(a, a_t, x, g, variant)
                times[name].append(time.perf_counter() - start)
        base = statistics.median(times["sparse.mm"])
        cells = [f"{statistics.median(t) * 1e3:.1f} ({base / statistics.median(t):.2f}x)" for t in times.values()]
        rows.append(f"| {dataset} | {a._nnz():,} | {width} | " + " | ".join(cells) + " |")
        if records is not None:
            records.append({"dataset": dataset, "nnz": int(a._nnz()), "width": width, "threads":
                            torch.get_num_threads(), "ms": {n: statistics.median(t) * 1e3 for n, t in times.items()}})
    return rows


def train_seconds(dataset: str, epochs: int, threads: int, records: list[dict] | None = None) -> list[str]:
    from hashgnn.config import RunConfig
    from hashgnn.training.trainer import Trainer

    cfg = RunConfig().override([f"data.dataset={dataset}", "model.activation=leaky_relu", "model.guide=node",
                                "train.rank_loss=bpr", f"train.epochs={epochs}", f"train.threads={threads}"])
    split = load_split_for(cfg.validate().data, cfg.split)
    Trainer(cfg.override(["train.epochs=1"]), split, progress=False).fit()  # untimed: one-time start-up costs
    cells = []
    for kernel in ("sparse_mm", "embedding_bag"):
        propagation.DEFAULT_KERNEL = kernel
        start = time.perf_counter()
        result = Trainer(cfg, split, progress=False).fit()
        cells.append((time.perf_counter() - start, result.best_metric))
    propagation.DEFAULT_KERNEL = "auto"
    (old, old_valid), (new, new_valid) = cells
    if records is not None:
        records.append({"dataset": dataset, "epochs": epochs, "threads": threads, "sparse_mm_seconds": old,
                        "embedding_bag_seconds": new, "sparse_mm_valid": old_valid, "embedding_bag_valid": new_valid})
    return [f"| {dataset} | {epochs} | {old:.1f} | {new:.1f} | {old / new:.2f}x | {old_valid:.4f} | {new_valid:.4f} |"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="movielens-1m,gowalla")
    p.add_argument("--widths", default="64,68,128,256")
    p.add_argument("--threads", default="1", help="torch threads; a comma list (1,2) runs the kernels at each")
    p.add_argument("--repeats", type=int, default=11)
    p.add_argument("--epochs", type=int, default=0, help="also time HashGNN training runs of this many epochs")
    p.add_argument("--no-save", action="store_true",
                   help="do not write benchmarks/results/propagation[_training]_<cpu>_<simd>.json")
    args = p.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    propagation.SPLIT_FROM_COLUMNS = 0
    widths = [int(w) for w in args.widths.split(",") if w]
    kernels: list[dict] = []
    for n_threads in threads if widths else []:
        torch.set_num_threads(n_threads)
        print(f"threads {n_threads}, median of {args.repeats}, forward + backward, ms (speed-up vs sparse.mm)")
        print("| dataset | nnz(Â) | width | " + " | ".join(VARIANTS) + " |")
        print("|---|---|---|" + "---|" * len(VARIANTS))
        for dataset in args.datasets.split(","):
            for row in bench(dataset, widths, args.repeats, kernels):
                print(row, flush=True)
    from bench_index import write_host_result

    if kernels:
        write_host_result("propagation", {"repeats": args.repeats, "variants": list(VARIANTS), "rows": kernels},
                          save=not args.no_save)
    if args.epochs:
        torch.set_num_threads(threads[0])
        runs: list[dict] = []
        print(f"\nHashGNN training, {threads[0]} thread(s): wall seconds of Trainer.fit, sparse.mm vs embedding_bag")
        print("| dataset | epochs | sparse.mm s | embedding_bag s | speed-up | best valid Recall@50 (sparse.mm) "
              "| (embedding_bag) |")
        print("|---|---|---|---|---|---|---|")
        for dataset in args.datasets.split(","):
            print(*train_seconds(dataset, args.epochs, threads[0], runs), flush=True)
        write_host_result("propagation_training", {"rows": runs}, save=not args.no_save)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
