"""Which runs an experiment plans, and how far each one is: ``hashgnn experiment NAME ... --status``.

The experiments of :mod:`hashgnn.experiments.tables` take their runs from :func:`planned_runs`, so the status
lists exactly what the same command would train. A run is *stored* (in ``results.csv``; skipped), *same as* a
stored run of identical settings in the folder or a ``--reuse`` folder (stored again, not trained), *checkpointed*
(an earlier process stopped it; it continues after the last epoch saved in ``OUT/.checkpoints``) or *to train*.
The time left is estimated from the stored runs of the same method and dataset, in the folder and the ``--reuse``
folders (median training time and epochs run), so it is only as good as those runs are alike; nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hashgnn.errors import ConfigError
from hashgnn.experiments.runner import (
    CHECKPOINTS,
    GRAPHSAGE_FAMILY,
    Plan,
    ResultStore,
    build_method,
    checkpoint_dir,
    find_same_run,
    md_table,
    run_config,
)
from hashgnn.training.rundir import RunDir


@dataclass(frozen=True)
class RunSpec:
    """One run of an experiment: ``method`` trained on (``dataset``, ``seed``) with ``extra`` overrides, stored
    under ``variant``; ``param`` is the swept ``(key, value)`` of Figures 5 and 7."""

    dataset: str
    label: str
    seed: int
    method: str
    variant: str
    extra: tuple[str, ...] = ()
    param: tuple[str, object] | None = field(default=None, compare=False)


def planned_runs(plan: Plan) -> list[RunSpec]:
    """Every run of ``plan`` in the order the experiment trains them."""
    name, runs = plan.name, []
    if name == "figure3" and plan.options.source is not None:
        return []  # built from another experiment's rows
    for dataset, label in plan.datasets:
        if name == "table4":
            runs.append(RunSpec(dataset, label, plan.seeds[0], "HashGNN", "HashGNN"))
            continue
        if name == "figure4_6":  # seeds inside methods: one method's curves are logged back to back
            runs += [RunSpec(dataset, label, seed, m, m) for m in plan.methods for seed in plan.seeds]
            continue
        for seed in plan.seeds:
            runs += _runs_of_seed(plan, dataset, label, seed)
    return runs


def _runs_of_seed(plan: Plan, dataset: str, label: str, seed: int) -> list[RunSpec]:
    if plan.name == "figure7":
        return [RunSpec(dataset, label, seed, "HashGNN", "dynamic", param=("p", "dynamic"))] + [
            RunSpec(dataset, label, seed, "HashGNN", f"p={p}", (f"model.fixed_p={p}",), ("p", p))
            for p in plan.config["fixed_p"]]
    if plan.name == "figure5":
        return [RunSpec(dataset, label, seed, "HashGNN", f"{key}={v}", (f"{key}={v}",), (key, v))
                for key, values in plan.config["sweeps"].items() for v in values]
    # methods innermost: GraphSage, LSH and HashGNN_sp of one (dataset, seed) then run back to back and share the
    # one GraphSage the runner keeps per (dataset, seed) (see runner.SharedGraphSage)
    return [RunSpec(dataset, label, seed, m, m) for m in plan.methods]


def _checkpoint_epochs(path: Path) -> int:
    """Epochs an interrupted run saved in its checkpoint folder (core methods and MF / PTE / BiNE), else 0."""
    import torch

    from hashgnn.models.baselines.embedding import STATE_FILE

    if (path / STATE_FILE).is_file():
        try:
            # memory-mapped and unverified: only the epoch is read, not the ~80 MB of tensors a BiNE state holds;
            # the training path verifies the checksum before it continues from the file. weights_only: an
            # unverified file must never run the code a pickle can carry.
            state = torch.load(path / STATE_FILE, map_location="cpu", mmap=True, weights_only=True)
            return int(state["epoch"])
        except Exception:  # a damaged or foreign file: torch and pickle raise many types; the run starts over
            return 0
    return RunDir(path).epochs_done()


def _typical(runs: pd.DataFrame, dataset: str, method: str) -> tuple[float, float] | None:
    """``(training seconds, epochs run)``, medians over the stored runs of ``method`` on ``dataset`` that trained
    (not copies). The GraphSage stage shared by GraphSage, LSH and HashGNN_sp counts in the GraphSage row only:
    LSH and HashGNN_sp are estimated from the runs that reused a stage (their own part)."""
    if runs.empty:
        return None
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


#: experiments that need each fitted model itself (its timing, its logged curve), so a stored run's rows are not
#: enough: Table 4 trains its run every time (unless --run gives one), Figure 4/6 skips a run only with its curve
KEEPS_MODELS = ("table4", "figure4_6")


def _stored(plan: Plan, store: ResultStore | None, spec: RunSpec) -> bool:
    if store is None or plan.name == "table4" or not store.done(spec.dataset, spec.variant, spec.seed):
        return False
    if plan.name == "figure4_6":
        log = plan.out / "training_log.csv"
        curves = pd.read_csv(log) if log.is_file() else pd.DataFrame(columns=["dataset", "method", "seed"])
        return bool(((curves["dataset"] == spec.dataset) & (curves["method"] == spec.method)
                     & (curves["seed"] == spec.seed)).any())
    return True


def _state(plan: Plan, store: ResultStore | None, spec: RunSpec) -> tuple[str, str, int]:
    """``(state, detail, epochs an interrupted run already trained)``."""
    if plan.name == "table4" and spec.dataset in plan.options.runs:
        return "given run", str(plan.options.runs[spec.dataset]), 0
    if _stored(plan, store, spec):
        return "stored", "", 0
    if plan.name not in KEEPS_MODELS:
        cfg = run_config(plan, spec.dataset, spec.seed, list(spec.extra))
        found = find_same_run(plan, store, spec.dataset, spec.seed, spec.method,
                              build_method(plan, spec.method, cfg), cfg)
        if found is not None:
            return "same as", found[0], 0
    if spec.method == "GraphSage":  # its model is the stage it shares with LSH and HashGNN_sp
        folders = sorted((plan.out / CHECKPOINTS).glob(f"{spec.dataset}-GraphSage-stage-seed{spec.seed}-*"))
    else:
        folders = [checkpoint_dir(plan, spec.dataset, spec.variant, spec.seed)]
    epochs = max((_checkpoint_epochs(f) for f in folders), default=0)
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
