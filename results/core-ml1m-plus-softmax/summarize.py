"""Core issue point 2 for the ``plus-softmax`` preset: ``python summarize.py --hashgnn RUN... --graphsage RUN...``.

Reads each run directory's ``results.json`` (written by ``hashgnn train``; hierarchical search with M = 200) and
writes ``runs.csv`` (one row per run, search mode and protocol), ``summary.csv`` and ``table.md`` (means ± std over
seeds, the shares of GraphSage, and the paper's Table 2 rows beside the paper-protocol numbers), so every figure
in the table comes from the run files.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from hashgnn.experiments.paper import METRICS, TABLE2

MODES = {"hamming": "HamR", "hierarchical": "HieS (M = 200)", "continuous": "CeS"}


def rows(method: str, runs: list[Path]) -> list[dict]:
    out = []
    for run in runs:
        cfg = json.loads((run / "config.json").read_text())
        res = json.loads((run / "results.json").read_text())
        seconds = json.loads((run / "training.json").read_text())["seconds"]
        for mode, by_protocol in res["test"].items():
            for protocol, metrics in by_protocol.items():
                out.append({"method": method, "seed": cfg["seed"], "run": run.name, "search": MODES[mode],
                            "protocol": protocol, "train_seconds": round(seconds, 1),
                            **{m: round(metrics[m], 4) for m in METRICS}})
    return out


def markdown(runs: pd.DataFrame) -> str:
    order = {name: i for i, name in enumerate(["HieS (M = 200)", "HamR", "CeS"])}
    runs = runs.sort_values(["method", "search"], key=lambda c: c.map(order) if c.name == "search" else c,
                            ascending=[False, True], kind="stable")
    grouped = runs.groupby(["method", "search", "protocol"], sort=False)[list(METRICS)]
    mean, std = grouped.mean(), grouped.std(ddof=1)
    lines = []
    for protocol in ("standard", "paper"):
        lines += [f"### protocol `{protocol}` (mean ± std over seeds)", "",
                  "| method | search | Recall@50 | Recall@100 | NDCG@50 | NDCG@100 |", "|---|---|---|---|---|---|"]
        for (method, search, prot), m in mean.iterrows():
            if prot != protocol:
                continue
            s = std.loc[(method, search, prot)]
            lines.append(f"| {method} | {search} | " + " | ".join(f"{m[c]:.4f} ± {s[c]:.4f}" for c in METRICS) + " |")
        if protocol == "paper":
            for name in ("GraphSage", "HashGNN"):
                lines.append(f"| paper's Table 2: {name} | as printed | "
                             + " | ".join(f"{v:.3f}" for v in TABLE2["movielens-1m"][name]) + " |")
        lines.append("")
    std_r50 = runs[runs.protocol == "standard"].pivot_table(index="seed", columns=["method", "search"],
                                                            values="recall@50")
    gs = std_r50[("GraphSage", "CeS")]
    lines += ["### Recall@50, standard protocol, per seed, and the share of GraphSage", "",
              "| seed | GraphSage CeS | HashGNN HieS | HieS / GraphSage | HashGNN HamR | HamR / GraphSage |",
              "|---|---|---|---|---|---|"]
    hies, hamr = std_r50[("HashGNN", "HieS (M = 200)")], std_r50[("HashGNN", "HamR")]
    for seed in std_r50.index:
        lines.append(f"| {seed} | {gs[seed]:.4f} | {hies[seed]:.4f} | {hies[seed] / gs[seed]:.1%} | "
                     f"{hamr[seed]:.4f} | {hamr[seed] / gs[seed]:.1%} |")
    lines.append(f"| mean | {gs.mean():.4f} | {hies.mean():.4f} | **{hies.mean() / gs.mean():.1%}** | "
                 f"{hamr.mean():.4f} | **{hamr.mean() / gs.mean():.1%}** |")
    secs = runs.groupby("method")["train_seconds"].mean()
    lines += ["", "Mean train seconds per run (1 thread): "
              + ", ".join(f"{k} {v:.0f}" for k, v in secs.items()) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hashgnn", nargs="+", type=Path, required=True)
    parser.add_argument("--graphsage", nargs="+", type=Path, required=True)
    args = parser.parse_args()
    runs = pd.DataFrame(rows("HashGNN", args.hashgnn) + rows("GraphSage", args.graphsage))
    here = Path(__file__).parent
    runs.to_csv(here / "runs.csv", index=False)
    summary = runs.groupby(["method", "search", "protocol"], sort=False)[list(METRICS)].agg(["mean", "std"])
    summary.round(4).to_csv(here / "summary.csv")
    (here / "table.md").write_text(markdown(runs))


if __name__ == "__main__":
    main()
