"""Benchmark of sparse propagation: one CSR product ``Â X`` and its backward ``Âᵀ G``, whole against column blocks.

Side by side in one process, interleaved rounds, median of ``--repeats``: ``sparse_propagate`` with
``block=None`` (one ``torch.sparse.mm`` over all columns) against column blocks of at most 16 / 32 / 48
columns, for the widths the encoders propagate (64 = embedding size, 68 = the paper's second layer, 128).
The blocked variants bypass the library's ``SPLIT_FROM_COLUMNS`` threshold (set to 0 here), which this
benchmark is what chose.
The operator is the GraphSAGE mean operator of the dataset's training graph. Every variant's output and
gradient must equal the unblocked ones (checked, 1e-5).

    HASHGNN_DATA=../shared/data python benchmarks/bench_propagation.py --datasets movielens-1m,gowalla --threads 1
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

BLOCKS: tuple[int | None, ...] = (None, 16, 32, 48)


def step(a: torch.Tensor, a_t: torch.Tensor, x: torch.Tensor, g: torch.Tensor,
         block: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_(True)
    y = sparse_propagate(a, a_t, x, block)
    y.backward(g)
    return y.detach(), x.grad


def bench(dataset: str, widths: list[int], repeats: int) -> list[str]:
    split = load_split_for(DataConfig(dataset=dataset), SplitConfig())
    a, a_t = BipartiteGraph.from_interactions(split.train).mean_operator()
    rows = []
    for width in widths:
        gen = torch.Generator().manual_seed(width)
        x = torch.randn(a.shape[0], width, generator=gen)
        g = torch.randn(a.shape[0], width, generator=gen)
        ref = step(a, a_t, x, g, None)
        for block in BLOCKS[1:]:
            out = step(a, a_t, x, g, block)
            if not all(torch.allclose(r, o, atol=1e-5) for r, o in zip(ref, out, strict=True)):
                raise SystemExit(f"block {block} differs from the whole product ({dataset}, width {width})")
        times: dict[int | None, list[float]] = {b: [] for b in BLOCKS}
        for _ in range(repeats):
            for block in BLOCKS:
                start = time.perf_counter()
                step(a, a_t, x, g, block)
                times[block].append(time.perf_counter() - start)
        whole = statistics.median(times[None])
        cells = [f"{statistics.median(times[b]) * 1e3:.1f} ({whole / statistics.median(times[b]):.2f}x)"
                 for b in BLOCKS[1:]]
        rows.append(f"| {dataset} | {a._nnz():,} | {width} | {whole * 1e3:.1f} | " + " | ".join(cells) + " |")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="movielens-1m,gowalla")
    p.add_argument("--widths", default="64,68,128")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    propagation.SPLIT_FROM_COLUMNS = 0
    print(f"threads {args.threads}, median of {args.repeats}, forward + backward, ms (speed-up vs whole)")
    print("| dataset | nnz(Â) | width | whole | " + " | ".join(f"blocks ≤ {b}" for b in BLOCKS[1:]) + " |")
    print("|---|---|---|---|" + "---|" * (len(BLOCKS) - 1))
    for dataset in args.datasets.split(","):
        for row in bench(dataset, [int(w) for w in args.widths.split(",")], args.repeats):
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
