"""Scale benchmark of mini-batch training and layer-wise inference (the training half of the "Scale" issue).

Two parts, run separately (each prints one JSON document, also written with ``--json``):

``alibaba`` (default): on the synthetic Alibaba-size graph (601,946 users x 4,167,708 items, 28.5 M interactions,
from ``hashgnn data-synth``), all interactions as train edges:

* mini-batch training throughput: train edges/s over ``--steps`` steps after ``--warmup`` steps, for dense Adam
  (the core optimiser; what DDP uses) and/or SparseAdam on the id embeddings (``--optim``), and the extrapolated
  time of one epoch;
* the time to encode all 4.77 M nodes with exact layer-wise full-graph inference;
* peak RSS of the process (ru_maxrss) — the acceptance bound is 20 GiB.

``epoch`` (issue 32): one whole epoch of full-graph training (:class:`Trainer`, chosen by ``make_trainer`` from the
config) on the synthetic Alibaba-size graph, split as the paper splits Alibaba (temporal: last day test, last 10 %
of train validation), end to end: epoch seconds, validation Recall@50 after it on a seeded sample of validation
users (``eval.max_valid_users``) against the most-popular ranking on the same users, peak RSS, load average at
start and end, host and git state. Writes ``benchmarks/results/scale_train_<cpu>_<simd>.json`` (``--quick``: a
small graph, ``..._quick.json``).

``gowalla``: validation Recall@50 of full-graph training (:class:`Trainer`) vs mini-batch training
(:class:`MiniBatchTrainer`, fan-outs ``--fanouts``) after the same number of epochs, same config and seed.

Usage::

    /usr/bin/time -v python benchmarks/bench_scale_train.py --part epoch --data /tmp/scale/alibaba_cli.npz

    python benchmarks/bench_scale_train.py --data /tmp/scale/alibaba_cli.npz --json /tmp/scale/train.json
    python benchmarks/bench_scale_train.py --quick                       # small synthetic graph, seconds
    HASHGNN_DATA=... python benchmarks/bench_scale_train.py --part gowalla --epochs 3 --json /tmp/scale/gw.json
"""

from __future__ import annotations

import argparse
import json
import os
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


def memory_watchdog(limit_gib: float, reserve_gib: float = 1.0, every: float = 0.5) -> None:
    """End the process (exit 3) when its RSS passes ``limit_gib`` or the machine's available memory falls below
    ``reserve_gib``: the acceptance bound is 20 GiB, and the machine (no swap) is shared with other jobs that an
    out-of-memory kill could hit instead of this one."""
    import threading

    def status() -> tuple[float, float]:
        with open("/proc/self/status", encoding="utf-8") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        with open("/proc/meminfo", encoding="utf-8") as f:
            avail = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
        return rss / 2**20, avail / 2**20

    def watch() -> None:
        while True:
            rss, avail = status()
            if rss > limit_gib or avail < reserve_gib:
                print(f"memory watchdog: RSS {rss:.2f} GiB, available {avail:.2f} GiB: stopping", file=sys.stderr,
                      flush=True)
                os._exit(3)
            time.sleep(every)

    threading.Thread(target=watch, daemon=True).start()


def epoch_settings(args: argparse.Namespace) -> list[str]:
    """The recipe of the epoch part: the default model, one epoch at ``--batch-size`` and ``--lr``."""
    return ["train.epochs=1", f"train.batch_size={args.batch_size}", f"train.lr={args.lr}",
            f"eval.max_valid_users={args.valid_users}", f"train.threads={args.threads}", "train.log_every=5",
            "train.auc_pairs=20000", *args.set]


def bench_epoch(args: argparse.Namespace) -> dict:
    """Issue 32 point 1: one whole full-graph epoch at Alibaba size, its validation and popularity's."""
    from bench_index import host_info
    from hashgnn.data.splits import SplitConfig, make_split
    from hashgnn.data.synth import SynthConfig, generate, load_synth
    from hashgnn.evaluation.health import evaluate_popularity
    from hashgnn.training.trainer import make_trainer

    memory_watchdog(args.rss_limit_gib)
    out: dict = {"command": " ".join(sys.argv), "host": host_info(), "load_average_start": os.getloadavg()}
    t0 = time.perf_counter()
    inter = (generate(SynthConfig(n_users=12_000, n_items=83_000, n_interactions=570_000, seed=0)).interactions
             if args.quick else load_synth(args.data))
    split = make_split(inter, SplitConfig(kind="temporal"))  # the paper's Alibaba protocol: last day is test
    out.update(users=inter.n_users, items=inter.n_items, interactions=len(inter), split=split.summary(),
               load_and_split_seconds=time.perf_counter() - t0)
    settings = epoch_settings(args)
    cfg = RunConfig().override(settings)
    t0 = time.perf_counter()
    trainer = make_trainer(cfg, split, progress=not args.no_progress)
    out.update(settings=settings, trainer=type(trainer).__name__, setup_seconds=time.perf_counter() - t0,
               steps_per_epoch=trainer.steps_per_epoch(), rss_after_setup_gib=peak_rss_gib())
    validate, timed = trainer.validate, {}

    def timed_validate(model):  # noqa: ANN001, ANN202 - the trainer's own validation, timed
        start = time.perf_counter()
        value = validate(model)
        timed["seconds"] = time.perf_counter() - start
        return value

    trainer.validate = timed_validate  # type: ignore[method-assign]
    t0 = time.perf_counter()
    result = trainer.fit()
    n = cfg.eval.valid_n
    record = result.history[0]
    out.update(fit_seconds=time.perf_counter() - t0, epoch_seconds=record["seconds"],
               validation_seconds=timed.get("seconds"), validation_users=cfg.eval.max_valid_users,
               valid_mode=cfg.eval.valid_mode, loss_log=result.log, peak_rss_gib_after_fit=peak_rss_gib())
    out[f"valid_recall@{n}"] = record[f"valid_recall@{n}"]
    t0 = time.perf_counter()  # the same seeded sample of validation users (evaluate_part's max_users)
    pop = evaluate_popularity(split, "valid", (n,), cfg.eval.tie_seed, cfg.eval.max_valid_users)["standard"]
    out.update({f"popularity_valid_recall@{n}": pop[f"recall@{n}"], "popularity_users": pop["users"],
                "popularity_seconds": time.perf_counter() - t0})
    out["recall_over_popularity"] = out[f"valid_recall@{n}"] / max(pop[f"recall@{n}"], 1e-12)
    out.update(peak_rss_gib=peak_rss_gib(), load_average_end=os.getloadavg())
    return out


def epoch_result_path(out: dict, quick: bool) -> Path:
    """``benchmarks/results/scale_train_<cpu>_<simd>[_quick].json``: one file per host, as the scan table's."""
    from bench_index import host_result_path

    return Path(host_result_path("scale_train", out["host"], f"{'_quick' if quick else ''}.json"))


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
    p.add_argument("--part", choices=("alibaba", "epoch", "gowalla"), default="alibaba")
    p.add_argument("--data", default="/tmp/scale/alibaba_cli.npz", help="hashgnn data-synth output")
    p.add_argument("--quick", action="store_true", help="small synthetic graph instead of --data")
    p.add_argument("--batch-size", type=int, default=None, help="default: 4096 (alibaba, gowalla), 2^20 (epoch)")
    p.add_argument("--lr", type=float, default=0.01, help="epoch: Adam's learning rate")
    p.add_argument("--valid-users", type=int, default=10_000, help="epoch: eval.max_valid_users")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--rss-limit-gib", type=float, default=20.0, help="epoch: stop past this RSS (the bound)")
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
    if args.batch_size is None:
        args.batch_size = 2**20 if args.part == "epoch" else 4096
    parts = {"alibaba": bench_alibaba, "epoch": bench_epoch, "gowalla": bench_gowalla}
    out = parts[args.part](args)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    if args.part == "epoch":
        epoch_result_path(out, args.quick).write_text(text + "\n")


if __name__ == "__main__":
    main()
