"""Write ``make-run.json`` (the README's `make run` table and its provenance) from one `hashgnn train` run directory.

    python results/make-run/collect.py RUN_DIR --time-log TIME_V_OUTPUT --command "..." --started ISO --finished ISO

Copies the run's small files (config, env, history, training, results) beside it, and evaluates the kept model on
the validation part (no training) so that the file also holds what a choice between presets may look at; the test
numbers stay beside, never the criterion.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import numpy as np

from hashgnn.config import RunConfig
from hashgnn.data.interactions import Interactions
from hashgnn.data.splits import Split
from hashgnn.evaluation import evaluate_part
from hashgnn.models.base import Embeddings
from hashgnn.training.rundir import describe_cpu

HERE = Path(__file__).parent
COPIED = ("config.json", "env.json", "history.json", "training.json", "results.json")


def time_v(text: str) -> dict[str, float]:
    """Wall seconds and peak RSS from ``/usr/bin/time -v`` output."""
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    seconds = 0.0
    if wall:
        for part in wall.group(1).split(":"):
            seconds = seconds * 60 + float(part)
    return {"wall_seconds": seconds, "peak_rss_bytes": int(rss.group(1)) * 1024 if rss else None}


def load_kept_model(run_dir: Path) -> tuple[Embeddings, Split, RunConfig]:
    """The run's kept embeddings and its split, read with numpy: ``HashGNN.load`` also wants the checksum
    manifest that runs written by later code carry, and this run predates it (its arrays are the ones it wrote)."""
    cfg = RunConfig.from_json(run_dir / "config.json")
    arrays = {attr: np.load(run_dir / name) for attr, name in Embeddings.FILES.items()}
    meta = json.loads((run_dir / "embeddings.json").read_text())
    inter_arrays, parts = np.load(run_dir / "interactions.npz"), np.load(run_dir / "split.npz")
    n_users, n_items = arrays["user_z"].shape[0], arrays["item_z"].shape[0]
    inter = Interactions(inter_arrays["users"], inter_arrays["items"], np.arange(n_users), np.arange(n_items),
                         name=cfg.data.dataset)
    return (Embeddings(n_bits=meta["n_bits"], **arrays), Split(inter, parts["train"], parts["valid"], parts["test"]),
            cfg)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--time-log", type=Path, required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--started", required=True)
    ap.add_argument("--finished", required=True)
    args = ap.parse_args()
    for name in COPIED:
        shutil.copyfile(args.run_dir / name, HERE / name)
    env = json.loads((args.run_dir / "env.json").read_text())
    training = json.loads((args.run_dir / "training.json").read_text())
    results = json.loads((args.run_dir / "results.json").read_text())
    emb, split, cfg = load_kept_model(args.run_dir)
    valid = evaluate_part(emb, split, "valid", ns=(50, 100), protocols=("standard",),
                          n_candidates=cfg.eval.n_candidates, tie_seed=cfg.eval.tie_seed)
    # the same evaluation code on the test part must give the run's own results.json: the arrays were read right
    again = evaluate_part(emb, split, "test", modes=("hamming",), ns=(50,), protocols=("standard",),
                          n_candidates=cfg.eval.n_candidates, tie_seed=cfg.eval.tie_seed)
    assert abs(again["hamming"]["standard"]["recall@50"] - results["test"]["hamming"]["standard"]["recall@50"]) < 1e-9
    out = {
        "command": args.command,
        "git_commit": env["git_commit"], "git_dirty": env["git_dirty"],
        "started": args.started, "finished": args.finished,
        "cpu": describe_cpu(env["cpu"]), "cpu_model": env["cpu"]["model"], "simd": env["cpu"]["simd"],
        "torch_threads": env["torch_threads"],
        "train_seconds": training["seconds"], "best_epoch": training["best_epoch"],
        "epochs_run": training["epochs_run"], **time_v(args.time_log.read_text()),
        "valid": {"early_stopping_metric": f"valid_recall@{cfg.eval.valid_n}",
                  "best": training["best_valid_metric"], "by_mode": valid},
        "test": results["test"], "n_candidates": results["n_candidates"],
    }
    (HERE / "make-run.json").write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
