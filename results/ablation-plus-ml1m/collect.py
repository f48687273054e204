"""Append one ablation row per run directory to runs.csv: ``python collect.py RUN_DIR... --command-file F``.

Reads what ``hashgnn train`` wrote (config.json, training.json, results.json, results-M100.json from
``hashgnn evaluate RUN_DIR -M 100``, embeddings) so that every figure in table rows comes from files, not by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def row(run: Path, command: str) -> dict:
    cfg = json.loads((run / "config.json").read_text())
    training = json.loads((run / "training.json").read_text())
    full = json.loads((run / "results.json").read_text())["test"]
    m100 = json.loads((run / "results-M100.json").read_text())["test"]
    z = np.concatenate([np.load(run / "embeddings_users.npy"), np.load(run / "embeddings_items.npy")])
    t, m = cfg["train"], cfg["model"]
    out = {"run": run.name, "z_weight": t["z_weight"], "quant_weight": t["quant_weight"],
           "score_scale": m["score_scale"], "p_every": m["p_every"], "triplets": t["triplets"], "method": m["method"],
           "best_epoch": training["best_epoch"], "train_seconds": round(training["seconds"], 1),
           "median_abs_z": round(float(np.median(np.abs(z))), 3), "epochs": t["epochs"],
           "lr_schedule": t["lr_schedule"], "balance_weight": t.get("balance_weight", 0.0), "command": command}
    for mode, res in (("hamming", full), ("hierarchical", m100), ("continuous", full)):
        for protocol in ("standard", "paper"):
            out[f"{mode}_{protocol}_recall@50"] = round(res[mode][protocol]["recall@50"], 4)
    out["hierarchical_M200_standard_recall@50"] = round(full["hierarchical"]["standard"]["recall@50"], 4)
    return out


def main(argv: list[str]) -> None:
    here = Path(__file__).parent
    commands = {}
    for line in (here / "command.txt").read_text().splitlines():
        if "--out " in line:
            commands[Path(line.split("--out ")[1].split()[0]).name] = line
    new = pd.DataFrame([row(Path(a), commands.get(Path(a).name, "")) for a in argv])
    old = pd.read_csv(here / "runs.csv")
    both = pd.concat([old[~old["run"].isin(new["run"])], new], ignore_index=True)
    # rows from before these columns existed were all trained with the defaults of the time
    both = both.fillna({"epochs": 40, "lr_schedule": "constant", "balance_weight": 0.0}).astype({"epochs": int})
    both.to_csv(here / "runs.csv", index=False)


if __name__ == "__main__":
    main(sys.argv[1:])
