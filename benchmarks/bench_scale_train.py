"""Scale benchmark of mini-batch training and layer-wise inference (the training half of the "Scale" issue).

Two parts, run separately (each prints one JSON document, also written with ``--json``):

``alibaba`` (default): on the synthetic Alibaba-size graph (601,946 users x 4,167,708 items, 28.5 M interactions,
from ``hashgnn data-synth``), all interactions as train edges:

* mini-batch training throughput: train edges/s over ``--steps`` steps after ``--warmup`` steps, for dense Adam
  (the core optimiser; what DDP uses) and/or SparseAdam on the id embeddings (``--optim``), and the extrapolated
  time of one epoch;
* the time to encode all 4.77 M nodes with exact layer-wise full-graph inference;
* peak RSS of the process (ru_maxrss) — the acceptance bound is 20 GiB.

``gowalla``: validation Recall@50 of full-graph training (:class:`Trainer`) vs mini-batch training
(:class:`MiniBatchTrainer`, fan-outs ``--fanouts``) after the same number of epochs, same config and seed.

Usage::

    python benchmarks/bench_scale_train.py --data /tmp/scale/alibaba_cli.npz --json /tmp/scale/train.json
    python benchmarks/bench_scale_train.py --quick                       # small synthetic graph, seconds
    HASHGNN_DATA=... python benchmarks/bench_scale_train.py --part gowalla --epochs 3 --json /tmp/scale/gw.json
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from hashgnn.config import RunConfig
from hashgnn.data.splits import Split
from hashgnn.training.inference import layerwise_encode
from hashgnn.training.minibatch import MiniBatchTrainer

GIB = 2**30


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


def all_train_split(inter) -> Split:
    """Every interaction is a train edge (throughput and memory do not depend on which are held out); one
    validation edge keeps the Trainer's bookkeeping happy."""
    n = len(inter)
    return Split(inter, np.arange(1, n), np.arange(0, 1), np.arange(0, 0))


def bench_alibaba(args: argparse.Namespace) -> dict:
    from hashgnn.data.synth import SynthConfig, generate, load_synth
    from hashgnn.models.hashgnn import HashGNNModel

    t0 = time.perf_counter()
    if args.quick:
        inter = generate(SynthConfig(n_users=12_000, n_items=83_000, n_interactions=570_000, seed=0)).interactions
    else:
        inter = load_synth(args.data)
    out: dict = {"users": inter.n_users, "items": inter.n_items, "interactions": len(inter),
                 "load_seconds": time.perf_counter() - t0, "threads": torch.get_num_threads(),
                 "batch_size": args.batch_size, "fanouts": args.fanouts, "triplets": 5}
    split = all_train_split(inter)
    cfg = RunConfig().override([f"train.batch_size={args.batch_size}", "train.log_every=1000000",
                                "train.auc_pairs=1000"])
    t0 = time.perf_counter()
    trainer = MiniBatchTrainer(cfg, split, progress=False, fanouts=tuple(args.fanouts))
    out["setup_seconds"] = time.perf_counter() - t0  # CSR adjacency + negative sampler
    out["rss_after_setup_gib"] = peak_rss_gib()
    n_train = len(trainer.train_users)
    out["train_edges"] = n_train
    runs = {}
    for optim in args.optim:
        torch.manual_seed(0)
        trainer.sparse_embedding = optim == "sparse"
        trainer._forward = None
        model = HashGNNModel(trainer.n_users + trainer.n_items, cfg.model)
        optimizer = trainer.make_optimizer(list(model.parameters()))
        stamps: list[float] = []
        sizes: list[tuple[int, int]] = []
        trainer.on_step = [lambda _t, _m, _i, _s=stamps: _s.append(time.perf_counter())]
        trainer.max_steps_per_epoch = args.warmup + args.steps
        state = trainer._new_state()
        t_start = time.perf_counter()
        original_sample = trainer.neighbors.sample

        def sample(nodes, _orig=original_sample, _sizes=sizes):  # record subgraph sizes
            sub = _orig(nodes)
            _sizes.append((sub.n_seeds, len(sub.n_id)))
            return sub

        trainer.neighbors.sample = sample  # type: ignore[method-assign]
        trainer._run_epoch(model, optimizer, state, epoch=1)
        trainer.neighbors.sample = original_sample  # type: ignore[method-assign]
        timed = np.diff(stamps[args.warmup - 1:]) if args.warmup else np.diff([t_start, *stamps])
        sec_per_step = float(np.mean(timed))
        eps = args.batch_size / sec_per_step
        runs[optim] = {"seconds_per_step": sec_per_step, "train_edges_per_second": eps,
                       "epoch_minutes_extrapolated": n_train / eps / 60,
                       "steps_per_epoch": int(np.ceil(n_train / args.batch_size)),
                       "mean_seeds": float(np.mean([s for s, _ in sizes])),
                       "mean_sampled_nodes": float(np.mean([n for _, n in sizes])),
                       "final_loss": state["log"][-1]["loss"] if state["log"] else None,
                       "peak_rss_gib_so_far": peak_rss_gib()}
        print(json.dumps({optim: runs[optim]}), file=sys.stderr, flush=True)
        del optimizer
    out["train"] = runs
    model.eval()
    t0 = time.perf_counter()
    z, h = layerwise_encode(model, trainer.csr, chunk_size=args.chunk)
    out["encode_all_nodes_seconds"] = time.perf_counter() - t0
    out["encoded_nodes"] = int(z.shape[0])
    out["encode_chunk"] = args.chunk
    out["peak_rss_gib"] = peak_rss_gib()
    return out


def bench_gowalla(args: argparse.Namespace) -> dict:
    from hashgnn.data import load_split_for
    from hashgnn.training import Trainer

    settings = [f"data.dataset={args.dataset}", f"train.epochs={args.epochs}", f"train.batch_size={args.batch_size}",
                "train.patience=100", f"train.threads={torch.get_num_threads()}", "train.log_every=50", *args.set]
    cfg = RunConfig().override(settings)
    split = load_split_for(cfg.data, cfg.split)
    out: dict = {"dataset": args.dataset, "settings": settings, "fanouts": args.fanouts,
                 "train_edges": len(split.train)}
    out["debias"] = cfg.train.debias and not args.no_debias
    for name, make in (("minibatch", lambda: MiniBatchTrainer(cfg, split, progress=False, debias=out["debias"],
                                                               fanouts=tuple(args.fanouts))),
                       ("full_graph", lambda: Trainer(cfg, split, progress=False))):
        if name not in args.which:
            continue
        t0 = time.perf_counter()
        res = make().fit()
        out[name] = {"valid_recall@50_by_epoch": [h["valid_recall@50"] for h in res.history],
                     "seconds": time.perf_counter() - t0, "final_loss": res.log[-1]["loss"]}
        print(json.dumps({name: out[name]}), file=sys.stderr, flush=True)
    if len(args.which) == 2:
        a = out["minibatch"]["valid_recall@50_by_epoch"][-1]
        b = out["full_graph"]["valid_recall@50_by_epoch"][-1]
        out["relative_gap_last_epoch"] = (b - a) / b
    out["peak_rss_gib"] = peak_rss_gib()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", choices=("alibaba", "gowalla"), default="alibaba")
    p.add_argument("--data", default="/tmp/scale/alibaba_cli.npz", help="hashgnn data-synth output")
    p.add_argument("--quick", action="store_true", help="small synthetic graph instead of --data")
    p.add_argument("--batch-size", type=int, default=4096)
    p.add_argument("--fanouts", type=int, nargs="+", default=[10, 5])
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--optim", nargs="+", choices=("dense", "sparse"), default=["sparse", "dense"])
    p.add_argument("--chunk", type=int, default=65_536)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dataset", default="gowalla")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--which", nargs="+", choices=("minibatch", "full_graph"), default=["minibatch", "full_graph"],
                   help="gowalla: which trainers to run (separate processes can run them in parallel)")
    p.add_argument("--set", nargs="*", default=[], help="gowalla: extra config overrides, e.g. model.score_scale=sqrt")
    p.add_argument("--no-debias", action="store_true", help="plain sampled mean operators (train.debias=false)")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    torch.set_num_threads(args.threads)
    out = bench_alibaba(args) if args.part == "alibaba" else bench_gowalla(args)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
