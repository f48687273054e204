"""Figures 4 and 6 (paper 5.5): training loss and held-out AUC along iterations, guided STE (HashGNN_nr) vs STE
(Hash_ste). The logged curves are the product, so a run counts as stored only together with its curve in
``training_log.csv``."""

from __future__ import annotations

import pandas as pd

from hashgnn.experiments.plan import Experiment, Plan, RunSpec, planned_runs
from hashgnn.experiments.report import heading, md_table, pyplot, savefig
from hashgnn.experiments.runs import train_and_evaluate
from hashgnn.experiments.store import ResultStore
from hashgnn.io_utils import atomic_write_text

LOG_COLS = ("label", "method", "seed", "iteration", "loss", "auc_h", "auc_z")
LOG_FILE = "training_log.csv"


def figure4_6_runs(plan: Plan) -> list[RunSpec]:
    """Seeds inside methods: one method's curves are logged back to back."""
    return [RunSpec(dataset, label, seed, m, m) for dataset, label in plan.datasets for m in plan.methods
            for seed in plan.seeds]


def _stored_curve(log: pd.DataFrame, dataset: str, method: str, seed: int) -> pd.DataFrame:
    if log.empty:
        return log
    return log[(log["dataset"] == dataset) & (log["method"] == method) & (log["seed"] == seed)]


def stored_with_curve(plan: Plan, store: ResultStore, spec: RunSpec) -> bool:
    """A run is skipped only when both its rows and its logged curve are stored."""
    if not store.done(spec.dataset, spec.variant, spec.seed):
        return False
    path = plan.out / LOG_FILE
    curves = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=["dataset", "method", "seed"])
    return bool(((curves["dataset"] == spec.dataset) & (curves["method"] == spec.method)
                 & (curves["seed"] == spec.seed)).any())


def run_figure4_6(plan: Plan) -> str:
    """Training loss (Figure 4) and held-out AUC (Figure 6) along iterations, guided STE vs STE."""
    store = ResultStore(plan.out, plan.options.fresh)
    log_path = plan.out / LOG_FILE
    # the curves are the product here: a stored run is reused only together with its logged curve
    old = pd.read_csv(log_path) if log_path.exists() and not plan.options.fresh else pd.DataFrame()
    logs = []
    for spec in planned_runs(plan):
        dataset, label, method, seed = spec.dataset, spec.label, spec.method, spec.seed
        kept = _stored_curve(old, dataset, method, seed)
        if len(kept) and store.done(dataset, method, seed):
            print(f"[{plan.name}] skip {dataset} {method} seed {seed}: run and curve already in {plan.out}")
            logs.extend(kept.to_dict("records"))
            continue
        model = train_and_evaluate(plan, store, dataset, label, seed, method, keep_model=True)
        for row in model.log:
            logs.append({"dataset": dataset, "label": label, "method": method, "seed": seed, **row})
    log = pd.DataFrame(logs)
    atomic_write_text(log_path, log.to_csv(index=False))
    return write_figure4_6(plan, log)


def write_figure4_6(plan: Plan, log: pd.DataFrame) -> str:
    """``figure4_loss.png``, ``figure6_auc.png`` and ``table.md`` (last logged values) from the curves ``log``."""
    plt = pyplot()
    names = {"HashGNN_nr": "guided STE (HashGNN_nr)", "Hash_ste": "STE (Hash_ste)"}
    for fig_name, cols, ylabel in (("figure4_loss.png", ["loss"], "training loss (eq. 7)"),
                                   ("figure6_auc.png", ["auc_h", "auc_z"], "held-out AUC")):
        fig, axes = plt.subplots(1, len(plan.datasets), figsize=(6 * len(plan.datasets), 4), squeeze=False)
        for ax, (dataset, label) in zip(axes[0], plan.datasets, strict=True):
            for (method, seed), g in log[log["dataset"] == dataset].groupby(["method", "seed"], sort=False):
                for col in cols:
                    if col in g:
                        kind = "" if col == "loss" else f" [{'codes h' if col == 'auc_h' else 'z'}]"
                        ax.plot(g["iteration"], g[col], label=f"{names.get(method, method)}{kind} s{seed}")
            ax.set(title=label, xlabel="iteration", ylabel=ylabel)
            ax.legend(fontsize=7)
        fig.suptitle(("Figure 4: " if "loss" in cols else "Figure 6: ") + "guided STE vs STE")
        savefig(fig, plan.out / fig_name)
    last = log.groupby(["label", "method", "seed"], sort=False).tail(1)
    text = (f"{heading(plan, 'figure4_6')}\n\nLast logged values:\n\n"
            + md_table(last[[c for c in LOG_COLS if c in last]], index=False) + "\n")
    atomic_write_text(plan.out / "table.md", text)
    return text


EXPERIMENT = Experiment("figure4_6", run_figure4_6, runs=figure4_6_runs, keeps_models=True,
                        stored=stored_with_curve)
