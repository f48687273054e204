"""Table 4: all-user top-100 search time of CeS / HieS / HamR on one HashGNN model per dataset, with the speed-up
over CeS and what each search mode gives up in test Recall@50.

The timings need the fitted model in this process, so Table 4 trains its run every time unless ``--run`` gives a
`hashgnn train` run directory; :func:`write_table4` rewrites the table from a stored ``table4.csv`` alone.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from hashgnn.errors import ConfigError
from hashgnn.experiments.paper import TABLE4_SECONDS
from hashgnn.experiments.plan import Experiment, Plan, RunSpec, planned_runs
from hashgnn.experiments.report import heading, pyplot, savefig
from hashgnn.experiments.runs import train_and_evaluate
from hashgnn.experiments.store import ResultStore
from hashgnn.io_utils import atomic_write_text
from hashgnn.training.rundir import cpu_info, describe_cpu

TABLE4_MODES = {"continuous": "CeS", "hierarchical": "HieS", "hamming": "HamR"}


def table4_runs(plan: Plan) -> list[RunSpec]:
    """One HashGNN per dataset, of the first seed."""
    return [RunSpec(dataset, label, plan.seeds[0], "HashGNN", "HashGNN") for dataset, label in plan.datasets]


def never_stored(plan: Plan, store: ResultStore, spec: RunSpec) -> bool:
    """Table 4 times a model it holds: a stored run's rows are no substitute."""
    return False


def run_table4(plan: Plan) -> str:
    """All-user top-100 search time of CeS / HieS / HamR on HashGNN embeddings; ratios CeS / mode."""
    from hashgnn.evaluation.search import build_index, search_users

    store = ResultStore(plan.out, plan.options.fresh)
    rows = []
    repeats = int(plan.config.get("repeats", 3))
    machine = describe_cpu(cpu_info())
    for spec in planned_runs(plan):
        dataset, label = spec.dataset, spec.label
        model = train_and_evaluate(plan, store, dataset, label, spec.seed, spec.method, keep_model=True)
        emb = model.embeddings()
        cfg = model.config
        users = np.arange(model.split.interactions.n_users)
        for mode in TABLE4_MODES:
            build_index(emb, mode, cfg.eval.n_candidates, cfg.eval.tie_seed)  # built once, outside the timing
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                search_users(emb, users, 100, mode, None, cfg.eval.n_candidates, cfg.eval.tie_seed)
                times.append(time.perf_counter() - t0)
            rows.append({"dataset": dataset, "label": label, "mode": mode, "n_candidates": cfg.eval.n_candidates,
                         "seconds": float(np.min(times)), "seconds_mean": float(np.mean(times)),
                         "users": len(users), "items": emb.item_z.shape[0], "repeats": repeats,
                         "cpu": machine, "threads": torch.get_num_threads()})
    df = pd.DataFrame(rows)
    if df.empty:
        raise ConfigError("table4: no dataset was run")
    ces = df[df["mode"] == "continuous"].set_index("dataset")["seconds"]
    df["speedup_vs_CeS"] = [ces[d] / s for d, s in zip(df["dataset"], df["seconds"], strict=True)]
    atomic_write_text(plan.out / "table4.csv", df.to_csv(index=False))
    return write_table4(plan, store, df)


def write_table4(plan: Plan, store: ResultStore, df: pd.DataFrame) -> str:
    """``table.md`` and ``table4.png`` from the timings ``df`` (``table4.csv``) and the recall rows in ``store``."""
    lines = [heading(plan, "table4") + "\n",
             "| search | " + " | ".join(f"{lab} ours s (×) | paper s (×)" for _, lab in plan.datasets) + " |",
             "|---|" + "---|---|" * len(plan.datasets)]
    for mode, name in TABLE4_MODES.items():
        cells = []
        for dataset, _ in plan.datasets:
            r = df[(df["dataset"] == dataset) & (df["mode"] == mode)].iloc[0]
            ref = TABLE4_SECONDS.get(dataset)
            paper = (f"{ref[mode]:.1f} (×{ref['continuous'] / ref[mode]:.1f})" if ref else "–")
            cells.append(f"{r.seconds:.3f} (×{r.speedup_vs_CeS:.1f}) | {paper}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(f"\nOurs: best of the repeats, top-100 for every user, no exclusion, index built beforehand, "
                 f"HieS re-ranking M = {_table4_values(df, 'n_candidates')} Hamming candidates; measured on "
                 f"{_table4_values(df, 'cpu')}, {_table4_values(df, 'threads')} threads. The paper's: linear scans "
                 "in Python 3.6 on a laptop. Compare the ratios, not the seconds: they depend on the CPU's vector "
                 "extensions (the Hamming scan most).\n")
    lines += _table4_quality(plan, store, TABLE4_MODES)
    text = "\n".join(lines)
    atomic_write_text(plan.out / "table.md", text)
    _plot_table4(plan, df)
    return text


def _plot_table4(plan: Plan, df: pd.DataFrame) -> None:
    # log scale: MovieLens-1M's bars are 40x shorter than the others' on a linear one
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    x = np.arange(len(plan.datasets))
    for k, (mode, name) in enumerate(TABLE4_MODES.items()):
        rows = [df[(df["dataset"] == d) & (df["mode"] == mode)].iloc[0] for d, _ in plan.datasets]
        bars = ax.bar(x + (k - 1) * 0.27, [r.seconds for r in rows], 0.27, label=name)
        if mode != "continuous":
            ax.bar_label(bars, [f"×{r.speedup_vs_CeS:.1f}" for r in rows], fontsize=7, padding=2)
    ax.set_yscale("log")
    ax.set_xticks(x, [lab for _, lab in plan.datasets], fontsize=8)
    ax.set(ylabel="seconds, all users, top-100 (log scale)",
           title="Table 4: search time by mode (bar labels: speed-up over CeS)")
    ax.legend(loc="upper left")  # the smallest dataset comes first: its corner is free
    savefig(fig, plan.out / "table4.png")


def _table4_values(times: pd.DataFrame, column: str) -> str:
    """A column of the timings, one value or each dataset's (older table4.csv files lack cpu / threads)."""
    if column not in times:
        return "an unrecorded CPU" if column == "cpu" else "unrecorded"
    per = times.drop_duplicates("dataset")
    values = sorted(set(per[column].astype(str)))
    if len(values) == 1:
        return values[0]
    return ", ".join(f"{getattr(r, column)} ({r.label})" for r in per.itertuples())


def _table4_quality(plan: Plan, store: ResultStore, names: dict[str, str]) -> list[str]:
    """Recall@50 of each search mode on the test set and its ratio to CeS's (what HieS gives up for speed)."""
    res = store.results
    lines = ["Test Recall@50 of the same HashGNN model by search mode (ratio to CeS):\n",
             "| search | " + " | ".join(f"{lab} ({p})" for _, lab in plan.datasets for p in plan.config["protocols"])
             + " |", "|---|" + "---|" * len(plan.datasets) * len(plan.config["protocols"])]
    for mode in names:
        cells = []
        for dataset, _ in plan.datasets:
            for protocol in plan.config["protocols"]:
                pick = res[(res["dataset"] == dataset) & (res["metric"] == "recall@50") & (res["protocol"] == protocol)]
                by_mode = pick.groupby("mode")["value"].last()
                value, ces = by_mode.get(mode, np.nan), by_mode.get("continuous", np.nan)
                cells.append(f"{value:.4f} ({value / ces:.0%})")
        lines.append(f"| {names[mode]} | " + " | ".join(cells) + " |")
    return lines


EXPERIMENT = Experiment("table4", run_table4, runs=table4_runs, keeps_models=True, stored=never_stored)
