"""Which runs an experiment plans, and how far each one is: ``hashgnn experiment NAME ... --status``.

The experiments take their runs from :func:`~hashgnn.experiments.plan.planned_runs`, so the status lists exactly
what the same command would train. A run is *stored* (in ``results.csv``; skipped), *given* (``--run``: a trained
run directory is evaluated instead), *same as* a stored run of identical settings in the folder or a ``--reuse``
folder (stored again, not trained), *checkpointed* (an earlier process stopped it; it continues after the last
epoch saved in ``OUT/.checkpoints``) or *to train*. The time left is estimated from the stored runs of the same
method and dataset, in the folder and the ``--reuse`` folders (median training time and epochs run), so it is only
as good as those runs are alike; nothing is written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hashgnn.errors import ConfigError
from hashgnn.experiments.caches import GRAPHSAGE_FAMILY
from hashgnn.experiments.checkpoints import checkpoint_dir, checkpoint_epochs, stage_dirs
from hashgnn.experiments.plan import Plan, RunSpec, build_method, planned_runs, run_config
from hashgnn.experiments.report import md_table
from hashgnn.experiments.reuse import find_same_run
from hashgnn.experiments.store import ResultStore


def _typical(runs: pd.DataFrame, dataset: str, method: str) -> tuple[float, float] | None:
    """``(training seconds, epochs run)``, medians over the stored runs of ``method`` on ``dataset`` that trained
    (not copies). The GraphSage stage shared by GraphSage, LSH and HashGNN_sp counts in the GraphSage row only:
    LSH and HashGNN_sp are estimated from the runs that reused a stage (their own part)."""
    if runs.empty:
        return None
    if "shared_seconds" not in runs:  # runs.csv written before the GraphSage stage was shared: nothing reused
        runs = runs.assign(shared_seconds=0.0)
    own = runs[(runs["dataset"] == dataset) & (runs["method"] == method) & (runs["epochs_run"] > 0)]
    if "same_as" in own:
        own = own[own["same_as"].isna() | (own["same_as"] == "")]
    if method in GRAPHSAGE_FAMILY and method != "GraphSage":
        own = own[own["shared_seconds"] > 0]
    seconds = own[["train_seconds", "shared_seconds"]].max(axis=1) if method == "GraphSage" else own["train_seconds"]
    if own.empty:
        return None
    return float(np.median(seconds)), float(np.median(own["epochs_run"]))


def run_status(plan: Plan) -> pd.DataFrame:
    """One row per planned run: ``dataset, seed, variant, method, state, detail, left_seconds`` (NaN: unknown)."""
    if plan.options.fresh:
        raise ConfigError("--status describes what resuming would do; drop --fresh")
    store = ResultStore(plan.out, fresh=False) if (plan.out / "runs.csv").is_file() else None
    # the pace of this folder's runs and of the --reuse folders' (e.g. Table 2's HashGNN for a Figure 5 sweep)
    stores = [s for s in [store, *(ResultStore(f, fresh=False) for f in plan.options.reuse)] if s is not None]
    runs = pd.concat([s.runs for s in stores], ignore_index=True) if stores else pd.DataFrame()
    rows = []
    for spec in planned_runs(plan):
        state, detail, done = _state(plan, store, spec)
        typical = _typical(runs, spec.dataset, spec.method)
        left = 0.0 if state not in ("to train", "checkpointed") else float("nan")
        if state in ("to train", "checkpointed") and typical is not None:
            seconds, epochs = typical
            left = seconds if not done else seconds / epochs * max(epochs - done, 1.0)
        rows.append({"dataset": spec.dataset, "seed": spec.seed, "variant": spec.variant, "method": spec.method,
                     "state": state, "detail": detail, "left_seconds": left})
    return pd.DataFrame(rows, columns=["dataset", "seed", "variant", "method", "state", "detail", "left_seconds"])


def _stored(plan: Plan, store: ResultStore | None, spec: RunSpec) -> bool:
    if store is None:
        return False
    if plan.experiment.stored is not None:
        return plan.experiment.stored(plan, store, spec)
    return store.done(spec.dataset, spec.variant, spec.seed)


def _state(plan: Plan, store: ResultStore | None, spec: RunSpec) -> tuple[str, str, int]:
    """``(state, detail, epochs an interrupted run already trained)``, in the order
    :func:`~hashgnn.experiments.runs.train_and_evaluate` decides."""
    if _stored(plan, store, spec):
        return "stored", "", 0
    if spec.method == "HashGNN" and spec.dataset in plan.options.runs:
        return "given run", str(plan.options.runs[spec.dataset]), 0
    if not plan.experiment.keeps_models:  # those train the model they need even when a copy is stored
        cfg = run_config(plan, spec.dataset, spec.seed, list(spec.extra))
        found = find_same_run(plan, store, spec.dataset, spec.seed, spec.method,
                              build_method(plan, spec.method, cfg), cfg)
        if found is not None:
            return "same as", found[0], 0
    if spec.method == "GraphSage":  # its model is the stage it shares with LSH and HashGNN_sp
        folders = stage_dirs(plan, spec.dataset, spec.seed)
    else:
        folders = [checkpoint_dir(plan, spec.dataset, spec.variant, spec.seed)]
    epochs = max((checkpoint_epochs(f) for f in folders), default=0)
    if epochs:
        return "checkpointed", f"after epoch {epochs}", epochs
    return "to train", "", 0


def status_markdown(plan: Plan, status: pd.DataFrame) -> str:
    """The status table and a summary line (counts per state, estimated training time left)."""
    counts = status["state"].value_counts()
    left = status["left_seconds"]
    pending = status["state"].isin(["to train", "checkpointed"])
    unknown = int((pending & left.isna()).sum())
    summary = (f"{plan.name} → {plan.out}: {len(status)} runs planned; "
               + ", ".join(f"{counts[s]} {s}" for s in ("stored", "same as", "checkpointed", "to train")
                           if s in counts)
               + f". Training left: about {left[pending].sum() / 3600:.1f} h at the pace of the stored runs"
               + (f" (+ {unknown} run{'s' if unknown > 1 else ''} with no stored run of its method to estimate "
                  "from)" if unknown else "")
               + ".")
    shown = status.assign(left=[("" if not p else "?" if np.isnan(s) else f"{s / 60:.0f} min")
                                for p, s in zip(pending, left, strict=True)]).drop(columns="left_seconds")
    return md_table(shown, index=False) + "\n\n" + summary + "\n"
