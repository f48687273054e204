"""Scale benchmark: Alibaba-size synthetic graph, its full mean operator, GraphSAGE mini-batch sampling.

Phases (each reports wall time, and the process's peak RSS so far):

1. generate the synthetic log (:mod:`hashgnn.data.synth`), or load it with ``--data``;
2. temporal split (last day = test, as the paper's Alibaba set) -> train graph;
3. full-graph ``BipartiteGraph.mean_operator()`` (``(D+I)^-1 (A+I)`` and its transpose, torch sparse CSR);
4. ``NeighborSampler`` (CSR build, then 2-hop subgraphs for batches of train edges' endpoints).

Usage::

    .venv/bin/python benchmarks/bench_scale.py               # Alibaba size: 601,946 x 4,167,708, 28.5 M
    .venv/bin/python benchmarks/bench_scale.py --quick       # 1/50 of it, a few seconds
    .venv/bin/python benchmarks/bench_scale.py --fanouts 10,5 --batch-sizes 1024,4096 --batches 20 \\
        --json out.json
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import psutil

from hashgnn.data.graph import BipartiteGraph
from hashgnn.data.sampling import CSRGraph, NeighborSampler
from hashgnn.data.splits import temporal_split
from hashgnn.data.synth import ALIBABA_SIZE, SynthConfig, generate, load_synth_graph, save_synth


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mib() -> float:
    return psutil.Process().memory_info().rss / 2**20


def log(msg: str) -> None:
    print(msg, flush=True)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1/50 of the Alibaba size")
    p.add_argument("--users", type=int, default=None)
    p.add_argument("--items", type=int, default=None)
    p.add_argument("--interactions", type=int, default=None)
    p.add_argument("--min-user-degree", type=int, default=10, help="paper's Alibaba filter keeps users >= 10")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", type=Path, default=None, help="load this synthetic .npz instead of generating")
    p.add_argument("--save", type=Path, default=None, help="also save the generated log here (.npz)")
    p.add_argument("--fanouts", default="10,5", help="neighbours per hop, seeds' hop first")
    p.add_argument("--batch-sizes", default="1024,4096", help="train edges per batch (seeds: endpoints)")
    p.add_argument("--batches", type=int, default=20, help="timed batches per batch size (after 2 warm-up)")
    p.add_argument("--skip-operator", action="store_true", help="skip the full-graph mean operator")
    p.add_argument("--json", type=Path, default=None, help="write the results as JSON here")
    args = p.parse_args(argv)

    users, items, n_inter = ALIBABA_SIZE
    if args.quick:
        users, items, n_inter = users // 50, items // 50, n_inter // 50
    users = args.users or users
    items = args.items or items
    n_inter = args.interactions or n_inter
    fanouts = [int(f) for f in args.fanouts.split(",")]
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    res: dict = {"machine": {"python": sys.version.split()[0], "cpus": psutil.cpu_count(),
                             "mem_gib": round(psutil.virtual_memory().total / 2**30, 1),
                             "platform": platform.platform()},
                 "fanouts": fanouts}

    # 1. data
    t0 = time.perf_counter()
    if args.data is not None:
        synth = load_synth_graph(args.data)
        res["load_s"] = round(time.perf_counter() - t0, 2)
        log(f"loaded {args.data} in {res['load_s']} s")
    else:
        cfg = SynthConfig(n_users=users, n_items=items, n_interactions=n_inter, seed=args.seed,
                          min_user_degree=args.min_user_degree, name="synth-alibaba")
        synth = generate(cfg)
        res["generate_s"] = round(time.perf_counter() - t0, 2)
        log(f"generated in {res['generate_s']} s")
        if args.save is not None:
            t1 = time.perf_counter()
            save_synth(synth, args.save)
            res["save_s"] = round(time.perf_counter() - t1, 2)
            res["file_mib"] = round(args.save.stat().st_size / 2**20, 1)
            log(f"saved {args.save} ({res['file_mib']} MiB) in {res['save_s']} s")
    inter = synth.interactions
    res["peak_rss_after_data_mib"] = round(peak_rss_mib())
    ud, idg = inter.user_degrees(), inter.item_degrees()
    res["data"] = {"users": inter.n_users, "items": inter.n_items, "interactions": len(inter),
                   "requested": synth.requested, "communities": synth.config.communities(),
                   "within_community_share": round(synth.within_community_share(), 4),
                   "user_degree_median_max": [float(np.median(ud)), int(ud.max())],
                   "item_degree_median_max": [float(np.median(idg)), int(idg.max())]}
    log(json.dumps(res["data"]))

    # 2. split -> train graph
    t0 = time.perf_counter()
    split = temporal_split(inter, test_days=1.0, valid_ratio=0.0)
    train = split.train
    graph = BipartiteGraph.from_interactions(train)
    res["split_s"] = round(time.perf_counter() - t0, 2)
    res["split"] = {"train": len(split.train_idx), "test": len(split.test_idx)}
    del split, synth, ud, idg
    gc.collect()
    log(f"temporal split in {res['split_s']} s: {res['split']}")

    # 3. full mean operator
    if not args.skip_operator:
        t0 = time.perf_counter()
        a, at = graph.mean_operator()
        res["mean_operator_s"] = round(time.perf_counter() - t0, 2)
        res["mean_operator_nnz"] = int(a.values().numel())
        res["peak_rss_after_operator_mib"] = round(peak_rss_mib())
        log(f"mean operator ({res['mean_operator_nnz']:,} nnz) in {res['mean_operator_s']} s, "
            f"peak RSS {res['peak_rss_after_operator_mib']:,} MiB")
        del a, at
        gc.collect()

    # 4. sampler
    t0 = time.perf_counter()
    csr = CSRGraph.from_bipartite(graph)
    res["csr_build_s"] = round(time.perf_counter() - t0, 2)
    sampler = NeighborSampler(graph, fanouts, seed=args.seed, csr=csr)
    rng = np.random.default_rng(args.seed)
    res["sampling"] = []
    for bs in batch_sizes:
        times, seeds, n_ids, edges = [], [], [], []
        for b in range(args.batches + 2):
            rows = rng.integers(0, len(train), bs)
            batch = np.concatenate([train.users[rows], train.items[rows] + graph.n_users])
            t1 = time.perf_counter()
            sub = sampler.sample(batch)
            dt = time.perf_counter() - t1
            if b >= 2:  # warm-up batches are not timed
                times.append(dt)
                seeds.append(sub.n_seeds)
                n_ids.append(len(sub.n_id))
                edges.append(sum(sub.n_sampled_edges))
        total = float(np.sum(times))
        row = {"batch_edges": bs, "endpoints": 2 * bs,
               "mean_distinct_seeds": round(float(np.mean(seeds)), 1),
               "mean_nodes": round(float(np.mean(n_ids)), 1),
               "mean_sampled_edges": round(float(np.mean(edges)), 1),
               "ms_per_batch": round(1000 * total / len(times), 2),
               "seed_nodes_per_s": round(2 * bs * len(times) / total),
               "sampled_edges_per_s": round(float(np.sum(edges)) / total)}
        res["sampling"].append(row)
        log(json.dumps(row))
    res["peak_rss_mib"] = round(peak_rss_mib())
    res["rss_end_mib"] = round(rss_mib())
    log(f"peak RSS {res['peak_rss_mib']:,} MiB")
    if args.json is not None:
        args.json.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
