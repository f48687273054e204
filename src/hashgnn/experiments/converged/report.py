"""The report of ``hashgnn experiment converged``, from its runs' records: ``summary.csv`` (dataset, method, search,
bits, metric, value, std, seeds, train_seconds, epochs, stopped, commit, dirty, cpu), ``curves.csv``,
``time_to_target.csv`` (when the test curve first reached a dataset's ``target_recall@20``), ``table.md``,
``recall_vs_time-DATASET.png``, ``command.txt`` and ``machine.json``. Reads and writes only: nothing here trains.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hashgnn.evaluation.metrics import PROTOCOLS
from hashgnn.experiments.converged.plan import ConvergedPlan, folder_name
from hashgnn.experiments.report import md_table, pyplot, savefig
from hashgnn.io_utils import atomic_write_text
from hashgnn.training.rundir import cpu_info

SEARCH_LABELS = {"hamming": "HamR", "hierarchical": "HieS", "continuous": "CeS"}
# Records written before the paper protocol was measured carry ``standard`` only (``test``, no ``test_paper``).
SUMMARY_COLUMNS = ["dataset", "method", "search", "protocol", "bits", "metric", "value", "std", "seeds",
                   "train_seconds", "epochs", "stopped", "commit", "dirty", "cpu"]


def summary_rows(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (dataset, method, search, bits, metric): the mean over seeds, with the std and provenance."""
    rows = []
    for r in records:
        env = r["environment"]
        cpu = env["cpu"]
        measured = [(protocol, mode, values) for protocol, key in zip(PROTOCOLS, ("test", "test_paper"), strict=True)
                    for mode, values in r.get(key, {}).items()]
        for protocol, mode, values in measured:
            for metric, value in values.items():
                rows.append({"dataset": r["dataset"], "method": r["method"], "search": SEARCH_LABELS[mode],
                             "protocol": protocol, "bits": r["bits"], "metric": metric, "value": value,
                             "seed": r["seed"], "train_seconds": r["train_seconds"], "epochs": r["epochs"],
                             "stopped": r["stopped"],
                             "commit": env.get("git_commit"), "dirty": env.get("git_dirty"),
                             "cpu": f"{cpu.get('model')} [{' '.join(cpu.get('simd', []))}]"})
    df = pd.DataFrame(rows)
    keys = ["dataset", "method", "search", "protocol", "bits", "metric"]
    agg = df.groupby(keys, sort=False).agg(
        value=("value", "mean"), std=("value", lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0),
        seeds=("seed", "nunique"), train_seconds=("train_seconds", "mean"), epochs=("epochs", "mean"),
        stopped=("stopped", lambda v: "/".join(sorted(set(v)))), commit=("commit", "first"),
        dirty=("dirty", "any"), cpu=("cpu", "first")).reset_index()
    return agg[SUMMARY_COLUMNS]


def curve_rows(records: list[dict[str, Any]], n: int = 20) -> pd.DataFrame:
    """Every measured point of every run; a refit's seconds start where its selection run ended, so its curve
    shows the time from the first training step."""
    rows = []
    for r in records:
        start = r.get("selection_seconds", 0.0)
        for point in r["history"]:
            if f"valid_recall@{n}" in point or f"test_recall@{n}" in point:
                rows.append({"dataset": r["dataset"], "method": r["method"], "seed": r["seed"],
                             "epoch": point["epoch"], "seconds": start + point["seconds"],
                             f"valid_recall@{n}": point.get(f"valid_recall@{n}"),
                             f"test_recall@{n}": point.get(f"test_recall@{n}")})
    return pd.DataFrame(rows)


def time_to_target(curves: pd.DataFrame, published: dict[str, dict[str, Any]], n: int = 20) -> pd.DataFrame:
    """For each run of a dataset with a ``target_recall@n`` (the quality a model must reach, e.g. issue 30's
    0.175 on Gowalla), the first measured point whose test Recall@n reaches it: its epoch and the seconds from
    the first training step (a refit's include its selection run). Reported only: the test curve selects
    nothing."""
    rows = []
    for (dataset, method, seed), part in curves.groupby(["dataset", "method", "seed"], sort=False):
        target = published.get(dataset, {}).get(f"target_recall@{n}")
        if target is None:
            continue
        hit = part[part[f"test_recall@{n}"] >= target]
        first = hit.iloc[0] if len(hit) else None
        rows.append({"dataset": dataset, "method": method, "seed": seed, f"target_recall@{n}": target,
                     "epoch": None if first is None else int(first.epoch),
                     "seconds": None if first is None else float(first.seconds)})
    return pd.DataFrame(rows, columns=["dataset", "method", "seed", f"target_recall@{n}", "epoch", "seconds"])


def table_markdown(summary: pd.DataFrame, published: dict[str, dict[str, Any]]) -> str:
    """Per dataset: Recall/NDCG@20 and @50 of every method and search, with time, epochs and how it stopped."""
    parts = []
    wanted = ["recall@20", "ndcg@20", "recall@50"]
    standard = summary[summary.protocol == "standard"]
    for dataset, part in standard.groupby("dataset", sort=False):
        wide = part[part.metric.isin(wanted)].pivot_table(
            index=["method", "search", "bits", "train_seconds", "epochs", "stopped", "seeds"], columns="metric",
            values="value", sort=False).reset_index()
        wide["train min"] = (wide.pop("train_seconds") / 60).round(1).astype(str)
        wide["epochs"] = wide["epochs"].round().astype(int)
        text = f"### {dataset}\n\n" + md_table(wide.round(4), index=False)
        if dataset in published:
            ref = published[dataset]
            text += (f"\n\n{ref['method']}: Recall@20 {ref['recall@20']:.4f}, NDCG@20 {ref['ndcg@20']:.4f} "
                     f"({ref['source']}).")
        parts.append(text + paper_protocol_table(summary[summary.dataset == dataset]))
    return ("stopped: `patience` = validation plateau (converged); `epochs` / `max_minutes` = a budget ran out "
            "first. Main tables: standard protocol (a user's train and validation items excluded).\n\n"
            + "\n\n".join(parts) + "\n")


def paper_protocol_table(part: pd.DataFrame) -> str:
    """The same runs under the paper's protocol (nothing excluded from the ranking), where it was measured."""
    paper = part[(part.protocol == "paper") & part.metric.isin(["recall@20", "recall@50"])]
    if paper.empty:
        return ""
    wide = paper.pivot_table(index=["method", "search", "bits"], columns="metric", values="value",
                             sort=False).reset_index()
    return ("\n\nPaper protocol (nothing excluded from the ranking; runs measured before it was recorded are "
            "not listed):\n\n" + md_table(wide.round(4), index=False))


def plot_curves(curves: pd.DataFrame, published: dict[str, dict[str, Any]], out: Path, n: int = 20) -> list[Path]:
    plt = pyplot()
    paths = []
    for dataset, part in curves.groupby("dataset", sort=False):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for i, (method, rows) in enumerate(part.groupby("method", sort=False)):
            color = f"C{i}"
            minutes = rows.seconds / 60
            ax.plot(minutes, rows[f"test_recall@{n}"], color=color, label=f"{method} (test)")
            ax.plot(minutes, rows[f"valid_recall@{n}"], color=color, linestyle="--", alpha=0.6,
                    label=f"{method} (validation)")
        if dataset in published:
            ax.axhline(published[dataset][f"recall@{n}"], color="black", linestyle=":",
                       label=published[dataset]["method"])
        ax.set(xlabel="training wall time (min; threads per run in command.txt)", ylabel=f"Recall@{n}",
               title=f"{dataset}: Recall@{n} against training time")
        ax.legend(fontsize=7)
        paths.append(savefig(fig, out / f"recall_vs_time-{folder_name(dataset)}.png"))
    return paths


def write_report(plan: ConvergedPlan, records: list[dict[str, Any]], command: str = "") -> str:
    """Summary, curves, time to target, table and plots of ``records``; ``command`` joins ``command.txt``. Returns
    the Markdown table."""
    summary = summary_rows(records)
    curves = curve_rows(records)
    atomic_write_text(plan.out / "summary.csv", summary.to_csv(index=False))
    atomic_write_text(plan.out / "curves.csv", curves.to_csv(index=False))
    atomic_write_text(plan.out / "time_to_target.csv", time_to_target(curves, plan.published).to_csv(index=False))
    text = table_markdown(summary, plan.published)
    atomic_write_text(plan.out / "table.md", text)
    plot_curves(curves, plan.published, plan.out)
    if command:
        history = plan.out / "command.txt"
        earlier = history.read_text() if history.is_file() else ""
        atomic_write_text(history, f"{earlier}{command}\n")
    atomic_write_text(plan.out / "machine.json", json.dumps({"cpu": cpu_info()}, indent=1))
    return text
