"""Figure 5 (paper 5.6): sensitivity of HashGNN to the trade-off λ, the number of triplets per node and the code
length K, one sweep per parameter (``sweeps`` in ``configs/figure5.json``); hierarchical search."""

from __future__ import annotations

from hashgnn.experiments.plan import Experiment, Plan, RunSpec
from hashgnn.experiments.report import HEADERS, pyplot, savefig, sweep_markdown, sweep_summary
from hashgnn.experiments.runs import train_planned
from hashgnn.experiments.store import ResultStore


def figure5_runs(plan: Plan) -> list[RunSpec]:
    """Every point of every sweep on each (dataset, seed), named ``KEY=VALUE``. A setting that appears in several
    sweeps (the default point) is trained once and stored again for the others (:mod:`.reuse`)."""
    return [RunSpec(dataset, label, seed, "HashGNN", f"{key}={v}", (f"{key}={v}",), (key, v))
            for dataset, label in plan.datasets for seed in plan.seeds
            for key, values in plan.config["sweeps"].items() for v in values]


def run_figure5(plan: Plan) -> str:
    """Sensitivity of HashGNN to λ, the number of triplets per node and K (paper 5.6); table and plot rewritten
    after every run, as Figure 7's."""
    store = ResultStore(plan.out, plan.options.fresh)
    train_planned(plan, store, after_run=lambda: write_figure5(plan, store))
    return write_figure5(plan, store)


def write_figure5(plan: Plan, store: ResultStore) -> str:
    """``summary.csv``, ``figure5.png`` and ``table.md`` from the points in ``store``; trains nothing."""
    sweeps: dict[str, list] = plan.config["sweeps"]
    summary = sweep_summary(plan, store)
    plt = pyplot()
    protocol = plan.config["protocols"][0]
    fig, axes = plt.subplots(1, len(sweeps), figsize=(5 * len(sweeps), 4), squeeze=False)
    titles = {"train.lam": "trade-off λ", "train.triplets": "triplets per node", "model.n_bits": "code length K"}
    for ax, key in zip(axes[0], sweeps, strict=True):
        for dataset, label in plan.datasets:
            for metric in ("recall@50", "ndcg@50"):
                s = summary[(summary["dataset"] == dataset) & (summary["param"] == key) & (summary["metric"] == metric)
                            & (summary["protocol"] == protocol)].sort_values("value_", key=lambda c: c.astype(float))
                ax.errorbar(s["value_"].astype(float), s["mean"], yerr=s["std"].fillna(0), marker="o", capsize=2,
                            label=f"{label} {HEADERS[metric]}")
        ax.set(title=f"Sensitivity to {titles.get(key, key)}", xlabel=key, ylabel=f"HieS metric ({protocol})")
        if key == "model.n_bits":
            ax.set_xscale("log", base=2)
        ax.legend(fontsize=8)
    savefig(fig, plan.out / "figure5.png")
    return sweep_markdown(plan, summary, "figure5")


EXPERIMENT = Experiment("figure5", run_figure5, runs=figure5_runs)
