"""Issue 33's user log, measured: a 50,000-row CSV of one's own (2,000 users × 1,000 items, string ids such as
``u123`` / ``sku-9``, a rating and a timestamp column) trained by ``hashgnn train`` with nothing but its data
columns, against the same command with the schedules counted in steps and batch 8192 (what every run got before
the schedules counted epochs and the batch adapted to the data), with a faster p, with a validation plateau
ending p's schedule instead of the run (``train.end_schedule_on_plateau``), with the epoch kept by validation
Hamming ranking instead of hierarchical search, with the ``plus-softmax`` preset, and with three other definitions
of p's schedule (issue 33's ≥ 500 distinct item codes): p as a fraction of training (to 0.05 at 3/4 of the 40
epochs), all 40 epochs without early stopping, and a slower p; and, not a schedule, with leaky ReLU.

    python results/own-data/measure.py [--communities 20 6 2] [--settings NAME ...] [--work DIR] [--jobs N]

``--jobs N`` trains N runs at a time (each with one torch thread), the rows still in their fixed order.
``--settings`` measures only the settings named (default: all) and merges their rows into the existing
``summary.json`` (a row measured again replaces its old one; every row keeps its own command, commit and date).

The log comes from :func:`hashgnn.data.synth.generate_interactions` (a degree-corrected block model): how much
there is to learn beyond popularity is set by its number of planted communities, so each is measured. Writes
``summary.json`` beside this file: per log and setting, distinct user/item codes, constant item bits, Hamming
ranking and hierarchical search Recall@50 on test, the popularity row on the same split, training seconds, and
the validation figure the run selected its epoch on, the selected model's validation HamR Recall@50 (what the
settings are compared on, as Hamming ranking is what the codes are for), and the command, code commit, date and
CPU.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from hashgnn.data.synth import SynthConfig, generate_interactions
from hashgnn.evaluation import evaluate_part
from hashgnn.io_utils import atomic_write_text
from hashgnn.recommender import HashGNN
from hashgnn.training.rundir import describe_cpu

HERE = Path(__file__).parent
COLUMNS = ["--user-col", "user_id", "--item-col", "sku", "--rating-col", "stars", "--timestamp-col", "ts"]
#: the behaviour before issue 33's schedules: p counted in optimiser steps, every run at batch 8192
SETTINGS = {"default": [], "steps, batch 8192": ["--set", "model.schedule_unit=step", "--set", "train.batch_size=8192"],
            # a faster p than the default 3.25 epochs between decays, the alternative the health warning suggests
            "p every 2 epochs": ["--set", "model.p_every=2"],
            # the codes trained binary before the run stops: p to its floor at the plateau, training goes on
            "plateau ends the p schedule": ["--set", "train.end_schedule_on_plateau=true"],
            # the epoch kept by Hamming ranking on validation (what the codes are for) instead of hierarchical search
            "epoch chosen by HamR": ["--set", "eval.valid_mode=hamming"],
            # the `make run` preset (beyond the paper): another objective, the same schedules
            "preset plus-softmax": ["--preset", "plus-softmax"],
            # p's schedule as a fraction of the planned training, ending near plain STE as the paper's does at its
            # batch: ×0.95 every 0.5 epochs takes p to 0.05 by epoch 30 of the 40 (3/4 of training)
            "p to 0.05 at 3/4 of training": ["--set", "model.p_every=0.5"],
            # early stopping never cuts the p schedule short: all 40 planned epochs, the best validation one kept
            "all 40 epochs (no early stop)": ["--set", "train.patience=40"],
            # a slower p (0.74 after 40 epochs): codes trained longer while mostly continuous
            "p every 6.5 epochs": ["--set", "model.p_every=6.5"],
            # not a schedule: the default with leaky ReLU (dead ReLU units leave few bits that vary across items)
            "leaky ReLU": ["--set", "model.activation=leaky_relu"]}


def write_log(path: Path, communities: int, seed: int = 0) -> None:
    inter = generate_interactions(SynthConfig(n_users=2000, n_items=1000, n_interactions=50_000,
                                              n_communities=communities, min_user_degree=5, seed=seed))
    frame = pd.DataFrame({"user_id": [f"u{u}" for u in inter.user_ids[inter.users]],
                          "sku": [f"sku-{i}" for i in inter.item_ids[inter.items]],
                          "stars": np.random.default_rng(seed).integers(1, 6, len(inter)), "ts": inter.timestamps})
    frame.to_csv(path, index=False)


def train(log: Path, out: Path, extra: list[str]) -> dict:
    args = ["hashgnn", "train", "--dataset", str(log), *COLUMNS, "--out", str(out), "--no-progress",
            "--set", "train.threads=1", *extra]
    started = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    results = json.loads((out / "results.json").read_text())
    config = json.loads((out / "config.json").read_text())
    env = json.loads((out / "env.json").read_text())
    health, test = results["health"], results["test"]
    training = json.loads((out / "training.json").read_text())
    model = HashGNN.load(out)
    valid = evaluate_part(model.embeddings(), model.split, "valid", modes=("hamming",), ns=(50,),
                          protocols=("standard",), tie_seed=config["eval"]["tie_seed"])
    shown = [*args[:3], "my_log.csv", *args[4:]]
    return {"command": shlex.join(shown).replace(str(out), "runs/mine"),
            "rows": int(pd.read_csv(log).shape[0]), "batch_size": config["train"]["batch_size"],
            "schedule_unit": config["model"]["schedule_unit"],
            "distinct_item_codes": health["items"]["distinct_codes"], "items": health["items"]["count"],
            "distinct_user_codes": health["users"]["distinct_codes"], "users": health["users"]["count"],
            "constant_item_bits": health["items"].get("constant_bits"),
            "hamr_recall@50": test["hamming"]["standard"]["recall@50"],
            "hies_recall@50": test["hierarchical"]["standard"]["recall@50"],
            "popularity_recall@50": results["popularity"]["standard"]["recall@50"],
            "valid_metric": config["eval"]["valid_mode"], "best_valid": training["best_valid_metric"],
            "best_epoch": training["best_epoch"], "epochs_run": training["epochs_run"],
            "valid_hamr_recall@50": valid["hamming"]["standard"]["recall@50"],
            "stopped": training["stopped"], "warnings": health["warnings"], "wall_seconds": round(seconds, 1),
            "git_commit": env["git_commit"], "git_dirty": env["git_dirty"], "cpu": describe_cpu(env["cpu"])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--communities", type=int, nargs="+", default=[20, 6, 2])
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="own-data-"))
    for communities in args.communities:
        write_log(work / f"log-c{communities}.csv", communities)
    plan = [(communities, name) for communities in args.communities for name in args.settings]

    def measure(communities: int, name: str) -> dict:
        folder = f"c{communities}-{name.split(',')[0].replace(' ', '-')}"
        row = {"communities": communities, "setting": name,
               **train(work / f"log-c{communities}.csv", work / folder, SETTINGS[name]),
               "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        print(json.dumps(row), flush=True)
        return row

    # each run is its own `hashgnn train` process: threads only wait for them
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(lambda job: measure(*job), plan))
    script = ("python results/own-data/measure.py --communities " + " ".join(map(str, args.communities))
              + (" --settings " + " ".join(map(shlex.quote, args.settings)) if args.settings != list(SETTINGS) else "")
              + f" --jobs {args.jobs}")
    write_summary(rows, script)


def write_summary(rows: list[dict], script: str) -> None:
    """``summary.json`` with ``rows`` merged into the rows already there: one row per log and setting, the new
    one replacing the old, ordered by log (as first measured) and setting (as in :data:`SETTINGS`)."""
    path = HERE / "summary.json"
    old = json.loads(path.read_text()) if path.is_file() else {"runs": []}
    scripts = old.get("scripts", [old["script"]] if "script" in old else [])
    merged = {(r["communities"], r["setting"]): r for r in [*old["runs"], *rows]}
    logs = list(dict.fromkeys(c for c, _ in merged))
    order = sorted(merged, key=lambda key: (logs.index(key[0]), list(SETTINGS).index(key[1])))
    summary = {"about": __doc__.split("\n\n")[0], "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "scripts": [*scripts, script], "runs": [merged[key] for key in order]}
    atomic_write_text(path, json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
