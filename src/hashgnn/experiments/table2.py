"""Table 2: every method on every dataset and seed, ours beside the paper's numbers, with each
method's training time and, as a by-product, Figure 3-style Hamming-space Recall@n curves."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from hashgnn.experiments.paper import METRICS, table2_reference
from hashgnn.experiments.plan import Experiment, Plan
from hashgnn.experiments.report import (
    HEADERS,
    fmt,
    heading,
    headline,
    pyplot,
    recall_curves,
    savefig,
    summarize,
)
from hashgnn.experiments.runs import train_planned
from hashgnn.experiments.store import ResultStore
from hashgnn.io_utils import atomic_write_text
from hashgnn.models.baselines import CONTINUOUS

#: ``(dataset, method) → {metric: value}`` of the paper's table, or None where it has no cell
Reference = Callable[[str, str], dict[str, float] | None]


def run_table2(plan: Plan, reference: Reference | None = None, ref_name: str = "Table 2 of the paper") -> str:
    """All methods × datasets × seeds; Table 2 (hierarchical column: continuous search for methods without
    codes), timing per method, Figure 3-style Hamming curves as a by-product. The table and plots are rewritten
    after every run, so an experiment stopped part-way leaves them up to date with its stored runs."""
    store = ResultStore(plan.out, plan.options.fresh)
    reference = reference or table2_reference
    train_planned(plan, store, after_run=lambda: write_table2(plan, store, reference, ref_name))
    return write_table2(plan, store, reference, ref_name)


def write_table2(plan: Plan, store: ResultStore, reference: Reference, ref_name: str) -> str:
    """``summary.csv``, ``timing.csv``, ``table.md`` and the plots from the runs in ``store``; trains nothing."""
    summary = summarize(store.results)
    atomic_write_text(plan.out / "summary.csv", summary.to_csv(index=False))
    head = summarize(headline(store.results, CONTINUOUS))
    md = [heading(plan, plan.name) + "\n"]
    for protocol in plan.config["protocols"]:
        md.append(_method_table(head, plan, protocol, reference, ref_name))
    md.append("\nHieS = hierarchical search (Hamming top-M, re-ranked by z); CeS = continuous search, used for the "
              "methods without codes (MF, PTE, BiNE, GraphSage, LightGCN_eq7, LightGCN).\n")
    _, timing = _timing_table(store)
    md.append("\n## Training time per method\n\n" + timing)
    text = "\n".join(md)
    atomic_write_text(plan.out / "table.md", text)
    _bars_vs_paper(head, plan, reference, "recall50_vs_paper.png", f"{plan.name}: HR@50, ours vs paper")
    if (store.results["mode"] == "hamming").any():
        recall_curves(summary, plan, "hamming", "Hamming-space retrieval (HamR)", "hamming_recall_at_n.png",
                      plan.config["protocols"][0])
    return text


def _method_table(summary: pd.DataFrame, plan: Plan, protocol: str, reference: Reference, ref_name: str) -> str:
    """Markdown: one row per method, per dataset the four metrics as ``ours (paper)``."""
    lines = []
    for dataset, label in plan.datasets:
        sub = summary[(summary["dataset"] == dataset) & (summary["protocol"] == protocol)]
        if sub.empty:
            continue
        lines += [f"\n#### {label} — protocol `{protocol}`\n",
                  "| method | search | " + " | ".join(f"{HEADERS[m]} (paper)" for m in METRICS) + " |",
                  "|---|---|" + "---|" * len(METRICS)]
        for variant in dict.fromkeys(sub["variant"]):
            cells = []
            rows = sub[sub["variant"] == variant]
            mode = rows["mode"].iloc[0]
            ref = reference(dataset, variant)
            for metric in METRICS:
                r = rows[rows["metric"] == metric]
                ours = fmt(r["mean"].iloc[0], r["std"].iloc[0], int(r["n"].iloc[0])) if len(r) else "–"
                cells.append(f"{ours} ({ref[metric]:.3f})" if ref else ours)
            search = {"hierarchical": "HieS", "continuous": "CeS"}.get(mode, mode)
            lines.append(f"| {variant} | {search} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\n(paper) = {ref_name}; cells are mean ± std over seeds.\n"


def _timing_table(store: ResultStore) -> tuple[pd.DataFrame, str]:
    """Mean seconds per method: its own training, the shared GraphSage stage it reused, their sum (what the
    method costs trained alone), evaluation; as ``timing.csv`` and Markdown."""
    runs = store.runs.copy()
    # runs.csv written before the GraphSage stage was shared has no such column: nothing was reused then
    runs["shared_seconds"] = runs.get("shared_seconds", pd.Series(0.0, index=runs.index)).fillna(0.0)
    runs["total_seconds"] = runs["train_seconds"] + runs["shared_seconds"]
    cols = ["train_seconds", "shared_seconds", "total_seconds", "eval_seconds", "epochs_run"]
    t = runs.groupby(["label", "variant"], sort=False)[cols].mean().reset_index()
    atomic_write_text(store.out / "timing.csv", t.to_csv(index=False))
    lines = ["| dataset | method | train s (own) | reused GraphSage s | total s | eval s | epochs |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.label} | {r.variant} | {r.train_seconds:.1f} | {r.shared_seconds:.1f} | {r.total_seconds:.1f} "
              f"| {r.eval_seconds:.1f} | {r.epochs_run:.0f} |" for r in t.itertuples()]
    lines.append("\nGraphSage, LSH and HashGNN_sp share one GraphSage per dataset and seed: the run that trains it "
                 "counts it in its own train s, the others list it as reused GraphSage s; total = own + reused is "
                 "what the method costs trained alone. The experiment's true wall time is in `wall_time.txt`.")
    return t, "\n".join(lines) + "\n"


def _bars_vs_paper(summary: pd.DataFrame, plan: Plan, reference: Reference, path_name: str, title: str) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(plan.datasets), figsize=(6 * len(plan.datasets), 4), squeeze=False)
    for ax, (dataset, label) in zip(axes[0], plan.datasets, strict=True):
        sub = summary[(summary["dataset"] == dataset) & (summary["metric"] == "recall@50")
                      & (summary["protocol"] == "standard")]
        variants = list(dict.fromkeys(sub["variant"]))
        x = np.arange(len(variants))
        ours = [sub[sub["variant"] == v]["mean"].iloc[0] for v in variants]
        err = [np.nan_to_num(sub[sub["variant"] == v]["std"].iloc[0]) for v in variants]
        paper = [(reference(dataset, v) or {}).get("recall@50", np.nan) for v in variants]
        ax.bar(x - 0.2, ours, 0.4, yerr=err, label="ours (standard protocol)")
        ax.bar(x + 0.2, paper, 0.4, label="paper")
        ax.set_xticks(x, variants, rotation=45, ha="right", fontsize=8)
        ax.set(title=label, ylabel="HR(Recall)@50")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    savefig(fig, plan.out / path_name)


EXPERIMENT = Experiment("table2", run_table2)
