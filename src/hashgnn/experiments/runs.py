"""One run of a plan: train a registry method (:data:`hashgnn.models.baselines.BASELINES`) on one dataset and seed,
evaluate it on the test part and store its rows with its wall times (:func:`train_and_evaluate`); and the loop
over a plan's runs (:func:`train_planned`), serial or in ``--jobs`` worker processes.

A run already stored is skipped, one of identical settings stored elsewhere is copied (:mod:`.reuse`), one that was
training when an earlier process stopped continues from its checkpoint (:mod:`.checkpoints`), and GraphSage, LSH and
HashGNN_sp share one trained GraphSage per (dataset, seed) (:class:`~hashgnn.experiments.caches.SharedGraphSage`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from hashgnn.config import RunConfig
from hashgnn.data.splits import Split
from hashgnn.errors import ConfigError
from hashgnn.evaluation.protocol import evaluate_part
from hashgnn.experiments.caches import shared_stage_config
from hashgnn.experiments.checkpoints import checkpoint_dir, fit_resumable, remove_checkpoints, stage_dir
from hashgnn.experiments.parallel import run_parallel
from hashgnn.experiments.plan import Plan, build_method, planned_runs, run_config
from hashgnn.experiments.reuse import params_json, resolved_json, store_same_run
from hashgnn.experiments.store import ResultStore
from hashgnn.models.base import Recommender
from hashgnn.models.baselines import GraphSage
from hashgnn.models.baselines.twostage import HashGNNSeparate
from hashgnn.training.rundir import code_version, cpu_info, describe_cpu


def fit_method(plan: Plan, model: Recommender, split: Split, dataset: str, seed: int,
               variant: str) -> tuple[Recommender, float, float]:
    """Fit ``model`` on ``split``, training its GraphSage stage only if the plan's cache has none of that config.

    Returns ``(fitted model, train seconds, shared seconds)``: the train seconds cover what this call trained
    (GraphSage included when it was not cached) plus what a resumed run had trained before; shared seconds the
    cached (or already finished) GraphSage's training time this run reused instead (0 when nothing was reused).
    For the GraphSage row a cache hit returns the cached model.
    """
    stage = shared_stage_config(model)
    t0 = time.perf_counter()
    if stage is None:
        before, _ = fit_resumable(plan, model, split, checkpoint_dir(plan, dataset, variant, seed))
        return model, time.perf_counter() - t0 + before, 0.0
    graphsage, shared, before = _shared_graphsage(plan, model, split, (dataset, seed, stage.to_json()))
    if type(model) is GraphSage:
        model = graphsage
    elif isinstance(model, HashGNNSeparate):  # its hash stage checkpoints, and resumes, like a core method
        model.fit(split, graphsage=graphsage, checkpoint=checkpoint_dir(plan, dataset, variant, seed))
        before += model.resumed_seconds
    else:
        model.fit(split, graphsage=graphsage)
    return model, time.perf_counter() - t0 + before, shared


def _shared_graphsage(plan: Plan, model: Recommender, split: Split,
                      key: tuple[str, int, str]) -> tuple[GraphSage, float, float]:
    """The GraphSage of ``key``: ``(model, seconds reused, seconds trained by an earlier process)``. Cached: its
    training time is reused. Else ``model``'s own is fitted now (resumed from its checkpoints if an earlier process
    was stopped; only loaded if that process had finished it, which then counts as reused)."""
    cached = plan.graphsage.get(key)
    if cached is not None:
        return cached[0], cached[1], 0.0
    graphsage = model if type(model) is GraphSage else model.graphsage
    t0 = time.perf_counter()
    before, trained_now = fit_resumable(plan, graphsage, split, stage_dir(plan, *key))
    plan.graphsage.put(key, graphsage, time.perf_counter() - t0 + before)
    return (graphsage, 0.0, before) if trained_now else (graphsage, before, 0.0)


def load_trained_run(run_dir: Path, dataset: str):
    """A fitted HashGNN from a `hashgnn train` run directory (must be trained on ``dataset``) and its training
    wall time in seconds (NaN when the run did not record it)."""
    from hashgnn.recommender import HashGNN

    if not Path(run_dir).is_dir():
        raise ConfigError(f"--run {dataset}={run_dir}: no such run directory")
    model = HashGNN.load(run_dir)
    if model.config.data.dataset != dataset:
        raise ConfigError(f"--run {dataset}={run_dir}: that run was trained on {model.config.data.dataset!r}")
    training = Path(run_dir) / "training.json"
    seconds = json.loads(training.read_text()).get("seconds", float("nan")) if training.is_file() else float("nan")
    return model, float(seconds)


def default_modes(model) -> tuple[str, ...]:
    return ("hamming", "hierarchical", "continuous") if model.embeddings().has_codes else ("continuous",)


def more_candidates(plan: Plan, model, split: Split, cfg: RunConfig, res: dict) -> dict:
    """Hierarchical search again with each M of the experiment config's ``extra_candidates``, as modes
    ``hierarchical@M{M}`` (Table 2 also reports M = 100, the default before ``DEFAULT_CANDIDATES`` = 200). The
    tables keep using ``hierarchical`` (M = ``eval.n_candidates``)."""
    extra = [m for m in plan.config.get("extra_candidates", []) if m != cfg.eval.n_candidates]
    if "hierarchical" not in res:
        return {}
    out = {}
    for m in extra:
        more = evaluate_part(model.embeddings(), split, "test", modes=("hierarchical",), ns=tuple(plan.config["ns"]),
                             protocols=tuple(plan.config["protocols"]), n_candidates=m, tie_seed=cfg.eval.tie_seed,
                             max_users=cfg.eval.max_test_users)
        out[f"hierarchical@M{m}"] = more["hierarchical"]
    return out


def provenance() -> dict[str, Any]:
    """The code and host a run was trained on, as ``runs.csv`` columns: one folder is often filled over several
    sessions, commits and hosts (timings moved 1.4-6x between two hosts of one type), so the folder-wide
    ``experiment.json`` cannot say which run came from where. ``git_dirty`` is True when the package's tracked
    files differed from ``git_commit`` (:func:`hashgnn.training.rundir.code_version`)."""
    sha, dirty = code_version()
    return {"git_commit": sha or "", "git_dirty": dirty, "cpu": describe_cpu(cpu_info())}


def validation_columns(model, split: Split, cfg: RunConfig, modes: tuple[str, ...]) -> dict[str, Any]:
    """What model selection may look at, never the test part: the early-stopping metric's best value and epoch
    (from the model's history) and Recall@50 / NDCG@50 (standard protocol) of the kept model on the validation
    part for every search mode. Empty values when the split has no validation part."""
    history = getattr(model, "history", None) or []
    key = f"valid_recall@{cfg.eval.valid_n}"
    scored = [r for r in history if isinstance(r.get(key), float) and not np.isnan(r[key])]
    best = max(scored, key=lambda r: r[key]) if scored else {}
    out: dict[str, Any] = {"valid_metric": key, "best_valid": best.get(key, float("nan")),
                           "best_epoch": best.get("epoch", 0)}
    if len(split.valid_idx) == 0:
        return out
    res = evaluate_part(model.embeddings(), split, "valid", modes=modes, ns=(50,), protocols=("standard",),
                        n_candidates=cfg.eval.n_candidates, tie_seed=cfg.eval.tie_seed,
                        max_users=cfg.eval.max_test_users)
    for mode, by_p in res.items():
        for metric in ("recall@50", "ndcg@50"):
            out[f"valid_{mode}_{metric}"] = by_p["standard"][metric]
    return out


def train_and_evaluate(plan: Plan, store: ResultStore, dataset: str, label: str, seed: int, method: str,
                       variant: str | None = None, extra: list[str] = (), modes: tuple[str, ...] | None = None,
                       keep_model: bool = False):
    """Fit ``method`` on (dataset, seed) with ``extra`` overrides, evaluate on the test part, store the rows.

    Returns the fitted model when ``keep_model`` (else None); a run already in the store is skipped.
    """
    variant = variant or method
    if store.done(dataset, variant, seed) and not keep_model:
        print(f"[{plan.name}] skip {dataset} {variant} seed {seed}: already in {store.runs_path}")
        return None
    run_dir = plan.options.runs.get(dataset) if method == "HashGNN" else None
    if run_dir is not None:
        model, train_wall = load_trained_run(run_dir, dataset)
        cfg, split, shared = model.config, model.split, 0.0
    else:
        cfg = run_config(plan, dataset, seed, list(extra))
        unfitted = build_method(plan, method, cfg)
        if not keep_model and store_same_run(plan, store, dataset, label, variant, seed, method, unfitted, cfg,
                                             modes):
            return None
        split = plan.splits.get(cfg)
        model, train_wall, shared = fit_method(plan, unfitted, split, dataset, seed, variant)
    modes = modes or default_modes(model)
    t1 = time.perf_counter()
    res = evaluate_part(model.embeddings(), split, "test", modes=modes, ns=tuple(plan.config["ns"]),
                        protocols=tuple(plan.config["protocols"]), n_candidates=cfg.eval.n_candidates,
                        tie_seed=cfg.eval.tie_seed, max_users=cfg.eval.max_test_users)
    res.update(more_candidates(plan, model, split, cfg, res))
    eval_wall = time.perf_counter() - t1
    rows = [{"dataset": dataset, "label": label, "variant": variant, "method": method, "seed": seed, "mode": mode,
             "protocol": protocol, "metric": metric, "value": value}
            for mode, by_p in res.items() for protocol, metrics in by_p.items() for metric, value in metrics.items()]
    run = {"dataset": dataset, "label": label, "variant": variant, "method": method, "seed": seed,
           "train_seconds": train_wall, "shared_seconds": shared,
           "model_seconds": float(getattr(model, "seconds", train_wall)),
           "eval_seconds": eval_wall, "epochs_run": len(getattr(model, "history", []) or []),
           # > 0: continued from an earlier process's checkpoint (its time is in train_seconds)
           "resumed_after_epoch": getattr(model, "resumed_epoch", 0),  # 0: from scratch
           "config": cfg.to_json().replace("\n", " "),
           # what the method actually trained with: its defining keys (e.g. HashGNN+'s preset) applied on top
           "resolved_config": resolved_json(model, cfg), "params": params_json(model),
           "finished": datetime.now().isoformat(timespec="seconds"), "run_dir": str(run_dir or ""), "same_as": "",
           **provenance(), **validation_columns(model, split, cfg, modes)}
    store.add(rows, run)
    remove_checkpoints(plan, store, dataset, variant, seed)
    main = "hierarchical" if "hierarchical" in res else next(iter(res))
    r50 = res[main][plan.config["protocols"][0]].get("recall@50", float("nan"))
    reused = f" (+{shared:.1f}s reused GraphSage)" if shared else ""
    print(f"[{plan.name}] {label} {variant} seed {seed}: train {train_wall:.1f}s{reused} eval {eval_wall:.1f}s "
          f"{main} recall@50 {r50:.4f}", flush=True)
    return model if keep_model else None


def train_planned(plan: Plan, store: ResultStore, after_run: Callable[[], object] | None = None, **kw) -> None:
    """Every run of the plan (:func:`~hashgnn.experiments.plan.planned_runs`) through :func:`train_and_evaluate`;
    ``after_run`` is called after each run trained here (not after the ones skipped as already stored), so that a
    long experiment's tables show the runs finished so far. With ``--jobs N`` > 1 the runs not yet stored are
    trained by N worker processes (:mod:`hashgnn.experiments.parallel`)."""
    if plan.options.jobs > 1:
        todo = [s for s in planned_runs(plan) if not store.done(s.dataset, s.variant, s.seed)]
        run_parallel(plan, todo, plan.options.jobs, train_and_evaluate, after_run, **kw)
        return
    for spec in planned_runs(plan):
        before = store.added
        train_and_evaluate(plan, store, spec.dataset, spec.label, spec.seed, spec.method, variant=spec.variant,
                           extra=list(spec.extra), **kw)
        if after_run is not None and store.added > before:
            after_run()
