"""Figure 7: HashGNN with a fixed Bernoulli p (``model.fixed_p``, the values in ``configs/figure7.json``) against
the dynamic schedule; hierarchical search."""

from __future__ import annotations

from hashgnn.experiments.plan import Experiment, Plan, RunSpec
from hashgnn.experiments.report import HEADERS, pyplot, savefig, sweep_markdown, sweep_summary
from hashgnn.experiments.runs import train_planned
from hashgnn.experiments.store import ResultStore


def figure7_runs(plan: Plan) -> list[RunSpec]:
    """On each (dataset, seed): the dynamic schedule, then each fixed p."""
    return [spec for dataset, label in plan.datasets for seed in plan.seeds for spec in (
        [RunSpec(dataset, label, seed, "HashGNN", "dynamic", param=("p", "dynamic"))]
        + [RunSpec(dataset, label, seed, "HashGNN", f"p={p}", (f"model.fixed_p={p}",), ("p", p))
           for p in plan.config["fixed_p"]])]


def run_figure7(plan: Plan) -> str:
    """HashGNN with fixed p (``model.fixed_p``) vs the dynamic schedule; hierarchical search. Table and plot are
    rewritten after every run, so a sweep stopped part-way shows the points stored so far."""
    store = ResultStore(plan.out, plan.options.fresh)
    train_planned(plan, store, after_run=lambda: write_figure7(plan, store))
    return write_figure7(plan, store)


def write_figure7(plan: Plan, store: ResultStore) -> str:
    """``summary.csv``, ``figure7.png`` and ``table.md`` from the points in ``store``; trains nothing."""
    summary = sweep_summary(plan, store)
    plt = pyplot()
    protocol = plan.config["protocols"][0]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("recall@50", "recall@100"), strict=True):
        for dataset, label in plan.datasets:
            s = summary[(summary["dataset"] == dataset) & (summary["metric"] == metric)
                        & (summary["protocol"] == protocol)]
            fixed = s[s["variant"] != "dynamic"].sort_values("value_", key=lambda c: c.astype(float))
            line = ax.errorbar(fixed["value_"].astype(float), fixed["mean"], yerr=fixed["std"].fillna(0), marker="o",
                               capsize=2, label=f"{label}: fixed p")
            dyn = s[s["variant"] == "dynamic"]["mean"]
            if len(dyn):
                ax.axhline(float(dyn.iloc[0]), linestyle="--", color=line[0].get_color(), label=f"{label}: dynamic p")
        ax.set(xlabel="fixed p", ylabel=f"{HEADERS[metric]} (HieS, {protocol})", title=f"Figure 7: {HEADERS[metric]}")
        ax.invert_xaxis()
        ax.legend(fontsize=8)
    savefig(fig, plan.out / "figure7.png")
    return sweep_markdown(plan, summary, "figure7")


EXPERIMENT = Experiment("figure7", run_figure7, runs=figure7_runs)
