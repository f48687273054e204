"""What the experiments write from their stored rows: summaries over seeds, Markdown tables and matplotlib plots.

Reads and writes only: nothing here trains. Tables and plots specific to one experiment live in its module; the
pieces several share (headings, Recall@n curves, the method table of Tables 2 and 3, the parameter sweeps of Figures
5 and 7) live here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from hashgnn.experiments.paper import METRICS
from hashgnn.experiments.plan import Plan, planned_runs
from hashgnn.experiments.store import ResultStore
from hashgnn.io_utils import atomic_write_text
from hashgnn.models.baselines import CONTINUOUS

#: the paper's column names of our metrics
HEADERS = {"recall@50": "HR@50", "recall@100": "HR@100", "ndcg@50": "NDCG@50", "ndcg@100": "NDCG@100"}
#: ``(dataset, method) → {metric: value}`` of the paper's table, or None where it has no cell
Reference = Callable[[str, str], dict[str, float] | None]


def md_table(df: pd.DataFrame, index: bool = True) -> str:
    """A GitHub Markdown table of ``df`` (no optional dependency); index levels become leading columns."""
    if index:
        df = df.reset_index()
    head = [str(c) for c in df.columns]
    rows = [[f"{v:.4f}" if isinstance(v, float) else str(v) for v in r] for r in df.itertuples(index=False)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def fmt(mean: float, std: float, n: int) -> str:
    if np.isnan(mean):
        return "–"
    return f"{mean:.3f} ± {std:.3f}" if n > 1 and not np.isnan(std) else f"{mean:.3f}"


def headline(results: pd.DataFrame, continuous_methods: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows of the 'hierarchical' column: hierarchical search, or continuous search for methods without codes."""
    if results.empty:
        return results
    has_h = results.groupby(["dataset", "variant"])["mode"].transform(lambda s: (s == "hierarchical").any())
    pick = (results["mode"] == "hierarchical") | (~has_h & (results["mode"] == "continuous"))
    return results[pick]


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and count over seeds of every (dataset, label, variant, mode, protocol, metric)."""
    cols = ["dataset", "label", "variant", "mode", "protocol", "metric"]
    g = results.groupby(cols, sort=False)["value"]
    return g.agg(mean="mean", std="std", n="count").reset_index()


def heading(plan: Plan, name: str) -> str:
    """The table's title: the experiment's description, and the datasets actually run when ``--datasets`` chose
    others than the description's defaults (so a Figure 4/6 run on MovieLens-1M does not read as Gowalla's)."""
    text = f"# {name}: {plan.config['description']}"
    chosen = plan.options.datasets
    if chosen and list(chosen) != list(plan.config["datasets"]):
        text += f"\n\nThis run: {', '.join(label for _, label in plan.datasets)} (chosen with --datasets)."
    return text


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def savefig(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def recall_curves(summary: pd.DataFrame, plan: Plan, mode: str, title: str, path_name: str, protocol: str) -> None:
    """Recall@n against n of every variant, one panel per dataset (Figure 3, and Table 2's by-product)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(plan.datasets), figsize=(5.5 * len(plan.datasets), 4), squeeze=False)
    for ax, (dataset, label) in zip(axes[0], plan.datasets, strict=True):
        sub = summary[(summary["dataset"] == dataset) & (summary["mode"] == mode) & (summary["protocol"] == protocol)
                      & summary["metric"].str.startswith("recall@")]
        for variant in dict.fromkeys(sub["variant"]):
            r = sub[sub["variant"] == variant].copy()
            r["n_"] = r["metric"].str.split("@").str[1].astype(int)
            r = r.sort_values("n_")
            ax.errorbar(r["n_"], r["mean"], yerr=r["std"].fillna(0), marker="o", capsize=2, label=variant)
        ax.set(title=f"{label}", xlabel="n (top-n)", ylabel=f"Recall@n ({mode}, {protocol})")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    savefig(fig, plan.out / path_name)


def sweep_summary(plan: Plan, store: ResultStore) -> pd.DataFrame:
    """A parameter sweep's stored points (Figures 5 and 7): the hierarchical-search summary, each row tagged with
    its swept ``param`` and ``value_``; written as ``summary.csv``."""
    key_of = {spec.variant: spec.param for spec in planned_runs(plan)}
    res = store.results
    summary = summarize(res[res["mode"] == "hierarchical"])
    summary["param"] = [key_of.get(v, ("?", None))[0] for v in summary["variant"]]
    summary["value_"] = [key_of.get(v, ("?", None))[1] for v in summary["variant"]]
    atomic_write_text(plan.out / "summary.csv", summary.to_csv(index=False))
    return summary


def sweep_markdown(plan: Plan, summary: pd.DataFrame, name: str) -> str:
    """A sweep's ``table.md``: the four metrics of every point."""
    s = summary[summary["metric"].isin(METRICS)].copy()
    s["cell"] = [fmt(m, sd, n) for m, sd, n in zip(s["mean"], s["std"], s["n"], strict=True)]
    table = s.pivot_table(index=["label", "protocol", "variant"], columns="metric", values="cell", aggfunc="first",
                          sort=False)
    text = (f"{heading(plan, name)}\n\nHierarchical search; the paper gives these only as plots.\n\n"
            + md_table(table[[m for m in METRICS if m in table.columns]]) + "\n")
    atomic_write_text(plan.out / "table.md", text)
    return text


def write_method_table(plan: Plan, store: ResultStore, reference: Reference, ref_name: str) -> str:
    """Tables 2 and 3 from the runs in ``store``: ``summary.csv``, ``timing.csv``, ``table.md`` (every method beside
    ``reference``, the paper's numbers) and the plots; trains nothing."""
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
