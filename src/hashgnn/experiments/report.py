"""What the experiments write from their stored rows: summaries over seeds, Markdown tables and matplotlib plots.

Reads and writes only: nothing here trains. Tables and plots specific to one experiment live in its module; the
pieces several share (headings, Recall@n curves, the parameter sweeps of Figures 5 and 7) live here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hashgnn.experiments.paper import METRICS
from hashgnn.experiments.plan import Plan, planned_runs
from hashgnn.experiments.store import ResultStore
from hashgnn.io_utils import atomic_write_text

#: the paper's column names of our metrics
HEADERS = {"recall@50": "HR@50", "recall@100": "HR@100", "ndcg@50": "NDCG@50", "ndcg@100": "NDCG@100"}


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
