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
           "lr_schedule": t["lr_schedule"], "balance_weight": t.get("balance_weight", 0.0), "lam": t["lam"],
           "lr": t["lr"], "quant_start": t.get("quant_start", 1), "rank_loss": t["rank_loss"], "seed": cfg["seed"],
           "shared_negatives": t.get("shared_negatives", 0), "distill_weight": t.get("distill_weight", 0.0),
           "link_bias": bool(m.get("link_bias", False)), "typed_hash": bool(m.get("typed_hash", False)),
           "guide": m.get("guide", "node"),
           "command": command}
    for mode, res in (("hamming", full), ("hierarchical", m100), ("continuous", full)):
        for protocol in ("standard", "paper"):  # a continuous run has no codes: NaN in the code columns
            out[f"{mode}_{protocol}_recall@50"] = round(res[mode][protocol]["recall@50"], 4) if mode in res else None
    hies = full.get("hierarchical")
    out["hierarchical_M200_standard_recall@50"] = round(hies["standard"]["recall@50"], 4) if hies else None
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
    both = both.fillna({"epochs": 40, "lr_schedule": "constant", "balance_weight": 0.0, "lam": 0.5, "lr": 0.01,
                        "quant_start": 1, "rank_loss": "bpr", "seed": 0, "shared_negatives": 0,
                        "distill_weight": 0.0, "link_bias": False, "typed_hash": False,
                        "guide": "node"})
    both = both.astype({"epochs": int, "quant_start": int, "seed": int, "shared_negatives": int})
    both.to_csv(here / "runs.csv", index=False)
    (here / "table.md").write_text(markdown(both))


#: (column, its value in the plus preset's 40-epoch run, label): shown in "other" when a row differs
OTHER = (("p_every", 250, "p every {} it."), ("triplets", 5, "{} triplets"), ("epochs", 40, "{} epochs"),
         ("lr_schedule", "constant", "{} lr"), ("balance_weight", 0.0, "balance weight {}"), ("lam", 0.5, "λ = {}"),
         ("lr", 0.01, "lr {}"), ("quant_start", 1, "quantisation from epoch {}"),
         ("rank_loss", "bpr", "{} ranking term"), ("shared_negatives", 0, "{} shared negatives"),
         ("distill_weight", 0.0, "distillation weight {}"), ("link_bias", False, "link bias"),
         ("typed_hash", False, "typed hash layer"), ("guide", "node", "guide drawn per {}"),
         ("seed", 0, "seed {}"))


def markdown(runs: pd.DataFrame) -> str:
    """The table of every row of runs.csv: test Recall@50, standard protocol."""
    def cell(v: float) -> str:
        return "–" if pd.isna(v) else f"{v:.4f}"

    lines = ["| run | z_weight | quant_weight | score_scale | other | HamR | HieS (M=100) | HieS (M=200) "
             "| CeS on own z | median abs z | best epoch |", "|" + "---|" * 11]
    for r in runs.to_dict("records"):
        other = [label.format(r[col]) for col, default, label in OTHER if r[col] != default]
        if r["rank_loss"] == "softmax":  # the softmax term's cost is part of what these rows compare
            other.append(f"train {r['train_seconds']:.0f} s")
        if r["method"] == "continuous":
            other.append("continuous (GraphSage)")
        coded = r["method"] != "continuous"
        lines.append(f"| {r['run']} | {r['z_weight']:g} | {r['quant_weight']:g} | {r['score_scale']:g} | "
                     f"{', '.join(other)} | {cell(r['hamming_standard_recall@50'] if coded else float('nan'))} | "
                     f"{cell(r['hierarchical_standard_recall@50'] if coded else float('nan'))} | "
                     f"{cell(r['hierarchical_M200_standard_recall@50'] if coded else float('nan'))} | "
                     f"{cell(r['continuous_standard_recall@50'])} | {r['median_abs_z']:.3f} | {r['best_epoch']} |")
    note = "Test Recall@50, standard protocol, MovieLens-1M, K = 32, seed 0 unless the other column says; commands in "
    note += "command.txt. \"train\" (softmax-term rows): wall seconds of training, 1 thread, beside another run or "
    note += "two, so a time compares only with rows trained the same day."
    return "\n".join(lines) + f"\n\n{note}\n"


if __name__ == "__main__":
    main(sys.argv[1:])
