"""The runs of ``hashgnn experiment converged``: each (dataset, variant, seed) trained with
:class:`~hashgnn.training.trainer.Trainer` until its validation plateau (resumed from its run directory, or loaded
when finished) and its selected checkpoint measured once on test; refits, warm-start sources and cascades counted
in; then the report written from every record (:mod:`.report`).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from hashgnn.config import RunConfig
from hashgnn.data.splits import Split
from hashgnn.evaluation.metrics import PROTOCOLS
from hashgnn.experiments.converged.plan import SOURCE_SETTINGS, ConvergedPlan, refit_overrides, run_config, run_path
from hashgnn.experiments.converged.report import write_report
from hashgnn.io_utils import atomic_write_text
from hashgnn.models.base import Embeddings
from hashgnn.training.rundir import environment


def run_converged(plan: ConvergedPlan, command: str = "") -> str:
    """Train every planned run (resuming what exists), then write summary, curves, table and plots."""
    plan.out.mkdir(parents=True, exist_ok=True)
    records = train_all(plan)
    this_time = {(x["dataset"], x["method"], x["seed"]) for x in records}
    records += [r for r in stored_records(plan.out) if (r["dataset"], r["method"], r["seed"]) not in this_time]
    return write_report(plan, records, command)


def train_all(plan: ConvergedPlan) -> list[dict[str, Any]]:
    """The record of every planned run, in plan order: trained, resumed or loaded; refits after their selection
    run, cascades after a dataset's trained variants."""
    records: list[dict[str, Any]] = []
    for dataset in plan.datasets:
        for variant in plan.variants:  # sources of warm starts come first (make_converged_plan)
            for seed in plan.seeds:
                record = train_one(plan, dataset, variant, seed)
                source = plan.init_from.get(variant)
                found = {r["method"]: r for r in records if (r["dataset"], r["seed"]) == (dataset, seed)}
                if source is not None:
                    record = count_source(plan, record, found[source])
                records.append(record)
                if variant in plan.refit:
                    records.append(refit(plan, record, found[f"{source}+refit"] if source else None))
        for name, (codes, rerank) in plan.cascades.items():
            for seed in plan.seeds:
                found = {r["method"]: r for r in records if (r["dataset"], r["seed"]) == (dataset, seed)}
                records.append(cascade(plan, name, found[codes], found[rerank]))
    return records


#: settings of how a run was executed, not of the model it trains: a finished run stays valid under others
EXECUTION_KEYS = ("threads", "max_minutes")


def same_model(a: RunConfig, b: RunConfig) -> bool:
    """Whether two configs train the same model: they may differ in :data:`EXECUTION_KEYS`, and a source run
    (:data:`SOURCE_SETTINGS`) counts by its place in the results folder (dataset folder and run name), not by the
    folder's own path, so a finished run is reused wherever its results folder was moved or copied."""
    def strip(cfg: RunConfig) -> dict[str, Any]:
        d = cfg.to_dict()
        train = {k: v for k, v in d["train"].items() if k not in EXECUTION_KEYS}
        for key in SOURCE_SETTINGS:
            if train.get(key) is not None:
                train[key] = Path(train[key]).parts[-2:]
        return {**d, "train": train}
    return strip(a) == strip(b)


def train_one(plan: ConvergedPlan, dataset: str, variant: str, seed: int,
              extra: list[str] = (), label: str | None = None, is_refit: bool = False) -> dict[str, Any]:
    """Train (or resume, or load when finished) one run and measure its best checkpoint on test; ``is_refit``
    trains on all of train (validation folded in), under ``label``."""
    from hashgnn.data.loading import load_split_for
    from hashgnn.training.rundir import RunDir
    from hashgnn.training.trainer import make_trainer

    cfg = run_config(plan, dataset, variant, seed, refit=is_refit).override(list(extra)).validate()
    label = label or variant
    path = run_path(plan, dataset, label, seed)
    done = path / "converged.json"
    if done.is_file():
        stored = json.loads(done.read_text())
        if same_model(RunConfig.from_stored(stored["config"]), cfg):  # a changed variant or --set trains again
            return add_paper_protocol(stored, path, cfg)
    split = load_split_for(cfg.data, cfg.split)
    result = make_trainer(cfg, split, RunDir(path), progress=plan.progress).fit(resume=True)
    metrics = measure_test(result.embeddings, split, cfg)
    record = {"dataset": dataset, "method": label, "seed": seed, "config": cfg.to_dict(),
              "bits": cfg.model.n_bits if result.embeddings.has_codes else 0,
              "test": {mode: metrics[mode]["standard"] for mode in metrics},
              "test_paper": {mode: metrics[mode]["paper"] for mode in metrics},
              "best_epoch": result.best_epoch, "best_valid": result.best_metric, "epochs": len(result.history),
              "train_seconds": result.seconds, "stopped": result.stopped, "history": result.history,
              "environment": environment()}
    atomic_write_text(done, json.dumps(record, indent=1, default=float))
    return record


def measure_test(embeddings: Embeddings, split: Split, cfg: RunConfig) -> dict[str, dict[str, dict[str, float]]]:
    """The selected model on test, every search its embeddings allow, under both protocols."""
    from hashgnn.evaluation.protocol import evaluate_part

    modes = ("hamming", "hierarchical", "continuous") if embeddings.has_codes else ("continuous",)
    return evaluate_part(embeddings, split, "test", modes=modes, ns=cfg.eval.ns, protocols=PROTOCOLS,
                         n_candidates=cfg.eval.n_candidates, tie_seed=cfg.eval.tie_seed)


def add_paper_protocol(record: dict[str, Any], path: Path, cfg: RunConfig) -> dict[str, Any]:
    """A stored record measured before the paper protocol was: measured now from the run directory's selected
    embeddings when they are still there and give the stored standard figures again, else as it is."""
    from hashgnn.data.loading import load_split_for

    if "test_paper" in record or not (path / Embeddings.FILES["user_z"]).is_file():
        return record
    metrics = measure_test(Embeddings.load(path), load_split_for(cfg.data, cfg.split), cfg)
    for mode, values in record["test"].items():
        again = metrics[mode]["standard"]
        if any(abs(again[k] - v) > 1e-9 for k, v in values.items()):
            warnings.warn(f"{path}: the stored embeddings are not the model measured in converged.json ({mode} "
                          "differs), so no paper-protocol figures are added for it", stacklevel=2)
            return record
    record = {**record, "test_paper": {mode: metrics[mode]["paper"] for mode in record["test"]}}
    atomic_write_text(path / "converged.json", json.dumps(record, indent=1, default=float))
    return record


def refit(plan: ConvergedPlan, selected: dict[str, Any], source: dict[str, Any] | None = None) -> dict[str, Any]:
    """``VARIANT+refit``: the selection run's choices replayed on all of train (:func:`refit_overrides`). Its
    ``train_seconds`` are both runs' (the time from the first training step to the final model); the refit's own
    are ``refit_seconds``. A warm-started variant's refit starts from its source's refit (``source``), whose own
    refit time joins the total too."""
    label = f"{selected['method']}+refit"
    record = train_one(plan, selected["dataset"], selected["method"], selected["seed"], refit_overrides(selected),
                       label, is_refit=True)
    if "selection_seconds" not in record:  # first time: count the selection run in, once, on disk too
        record["selection_seconds"], record["refit_seconds"] = selected["train_seconds"], record["train_seconds"]
        record["train_seconds"] = selected["train_seconds"] + record["train_seconds"]
        if source is not None:
            record["source_refit_seconds"] = source["refit_seconds"]
            record["train_seconds"] += source["refit_seconds"]
        atomic_write_text(run_path(plan, selected["dataset"], label, selected["seed"]) / "converged.json",
                          json.dumps(record, indent=1, default=float))
    return record


def count_source(plan: ConvergedPlan, record: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """A warm-started (or taught) run's ``train_seconds`` include its source's (the time from the source's first
    step); its own are ``own_seconds``."""
    if "source_seconds" not in record:
        record["source"], record["source_seconds"] = source["method"], source["train_seconds"]
        record["own_seconds"] = record["train_seconds"]
        record["train_seconds"] = source["train_seconds"] + record["train_seconds"]
        atomic_write_text(run_path(plan, record["dataset"], record["method"], record["seed"]) / "converged.json",
                          json.dumps(record, indent=1, default=float))
    return record


def cascade(plan: ConvergedPlan, name: str, codes: dict[str, Any], rerank: dict[str, Any]) -> dict[str, Any]:
    """Hierarchical search with ``codes``'s run's codes re-ranked by ``rerank``'s run's embeddings, on test: no
    training (both runs were selected on validation); M is ``eval.n_candidates``, or the one of the variant's
    ``candidates`` with the best validation Recall@``eval.valid_n`` (:func:`choose_candidates`). Its
    ``train_seconds`` are both runs'; its ``epochs`` and ``best_epoch`` the codes run's. Measured again only when a
    source run or the candidate choices changed."""
    from hashgnn.data.loading import load_split_for
    from hashgnn.evaluation.cascade import cascade_embeddings
    from hashgnn.evaluation.protocol import evaluate_part

    dataset, seed = codes["dataset"], codes["seed"]
    done = run_path(plan, dataset, name, seed) / "converged.json"
    sources = {"codes_from": codes["method"], "rerank_from": rerank["method"],
               "source_seconds": [codes["train_seconds"], rerank["train_seconds"]]}
    if name in plan.cascade_candidates:
        sources["candidates"] = plan.cascade_candidates[name]
    if done.is_file():
        stored = json.loads(done.read_text())
        if all(stored.get(k) == v for k, v in sources.items()):
            return stored
    cfg = RunConfig.from_stored(codes["config"])
    emb = cascade_embeddings(run_path(plan, dataset, codes["method"], seed),
                             run_path(plan, dataset, rerank["method"], seed))
    split = load_split_for(cfg.data, cfg.split)
    n_candidates, by_candidates = cfg.eval.n_candidates, {}
    if name in plan.cascade_candidates:
        n_candidates, by_candidates = choose_candidates(emb, split, cfg, plan.cascade_candidates[name])
    metrics = evaluate_part(emb, split, "test", modes=("hierarchical",), ns=cfg.eval.ns, protocols=PROTOCOLS,
                            n_candidates=n_candidates, tie_seed=cfg.eval.tie_seed)["hierarchical"]
    record = {"dataset": dataset, "method": name, "seed": seed, "config": codes["config"], "bits": codes["bits"],
              "test": {"hierarchical": metrics["standard"]}, "test_paper": {"hierarchical": metrics["paper"]},
              "best_epoch": codes["best_epoch"], "best_valid": codes["best_valid"], "epochs": codes["epochs"],
              "train_seconds": codes["train_seconds"] + rerank["train_seconds"],
              "stopped": f"{codes['stopped']}+{rerank['stopped']}", "history": [], "environment": environment(),
              "n_candidates": n_candidates, "valid_by_candidates": by_candidates, **sources}
    done.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(done, json.dumps(record, indent=1, default=float))
    return record


def choose_candidates(emb: Embeddings, split: Split, cfg: RunConfig,
                      choices: list[int]) -> tuple[int, dict[int, float]]:
    """The number of Hamming candidates M, among ``choices``, whose hierarchical search has the best validation
    Recall@``eval.valid_n`` (a tie goes to the smaller M, the cheaper search), with every choice's figure."""
    from hashgnn.evaluation.protocol import evaluate_part

    metric = f"recall@{cfg.eval.valid_n}"
    by_candidates = {m: evaluate_part(emb, split, "valid", modes=("hierarchical",), ns=(cfg.eval.valid_n,),
                                      protocols=("standard",), n_candidates=m, tie_seed=cfg.eval.tie_seed)
                     ["hierarchical"]["standard"][metric] for m in sorted(choices)}
    best = max(by_candidates.values())
    return min(m for m, v in by_candidates.items() if v == best), by_candidates


def stored_records(out: Path) -> list[dict[str, Any]]:
    """Every finished run in ``out`` (runs of other invocations stay in the summary)."""
    records = []
    for path in sorted((out / "runs").glob("*/*/converged.json")):
        record = json.loads(path.read_text())
        records.append(add_paper_protocol(record, path.parent, RunConfig.from_stored(record["config"])))
    return records
