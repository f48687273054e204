"""Runs that need no training: a stored run — of the same folder or of a ``--reuse`` folder — that trained exactly
what a planned run would train is stored again under the planned run's name (``runs.csv`` ``same_as`` names it).

A run's identity is its resolved config (with today's defaults for keys added since it was stored) and its method's
own parameters. For one config and seed training is deterministic, so the copy is what the run would have produced
with the code it ran on.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from hashgnn.config import RunConfig
from hashgnn.errors import ConfigError
from hashgnn.experiments.plan import Plan
from hashgnn.experiments.store import ResultStore
from hashgnn.models.baselines import BASELINES
from hashgnn.models.baselines.core import CoreBaseline
from hashgnn.models.baselines.embedding import EmbeddingBaseline


def _resolved_config(model, cfg: RunConfig) -> RunConfig:
    resolved = getattr(model, "config", None)
    return resolved if isinstance(resolved, RunConfig) else cfg


def resolved_json(model, cfg: RunConfig) -> str:
    """The settings a run really trains with, as one line of JSON: half of a run's identity (resume, --reuse,
    --jobs units)."""
    return _resolved_config(model, cfg).to_json().replace("\n", " ")


def params_json(model) -> str:
    """A baseline's own hyper-parameters as JSON (``{}`` for the config-only models): the other half."""
    return json.dumps(getattr(getattr(model, "params", None), "__dict__", {}) or {})


def _normalized(config_json: object) -> str | None:
    """A stored config JSON with today's defaults filled in (runs stored before a key existed lack it), or None."""
    if not isinstance(config_json, str):
        return None
    try:
        return RunConfig.from_stored(json.loads(config_json)).to_json()
    except (ValueError, TypeError, ConfigError):
        return None


def _reuse_stores(plan: Plan, store: ResultStore | None) -> list[tuple[str, ResultStore]]:
    """This folder's store (None: nothing stored there yet), then each ``--reuse`` folder's (read only)."""
    stores = [("", store)] if store is not None else []
    for folder in plan.options.reuse:
        stores.append((f"{folder}:", ResultStore(Path(folder), fresh=False)))
    return stores


def _modes_of(model, modes: tuple[str, ...] | None) -> set[str]:
    """The search modes train_and_evaluate will report for this (unfitted) model."""
    if modes:
        return set(modes)
    continuous_only = isinstance(model, EmbeddingBaseline) or (
        isinstance(model, CoreBaseline) and model.config.model.method == "continuous")
    return {"continuous"} if continuous_only else {"hamming", "hierarchical", "continuous"}


def _same_training_methods(method: str, model) -> set[str]:
    """The method names whose stored runs trained what ``model`` trains when their resolved configs agree. A core
    baseline is nothing but its resolved config (its name only picks the defining overrides), so e.g. Figure 5's
    HashGNN with λ = 0 is Table 2's HashGNN_nr; any other method is matched by its own name only."""
    if isinstance(model, CoreBaseline):
        return {name for name, factory in BASELINES.items()
                if isinstance(factory, type) and issubclass(factory, CoreBaseline)}
    return {method}


def find_same_run(plan: Plan, store: ResultStore | None, dataset: str, seed: int, method: str, model, cfg: RunConfig,
                  modes: tuple[str, ...] | None = None) -> tuple[str, pd.Series, pd.DataFrame] | None:
    """A stored run — of this folder, or of a ``--reuse`` folder — that trained exactly this (the same method, or
    for a core baseline any core method, see :func:`_same_training_methods`) with these settings (resolved config,
    with today's defaults for keys added since, and parameters) and has every metric this experiment reports:
    ``(origin, its runs.csv row, its results rows)``, else None. Reads only."""
    want_config, want_params = _normalized(resolved_json(model, cfg)), json.loads(params_json(model))
    needed = {f"{m}@{n}" for m in ("recall", "ndcg") for n in plan.config["ns"]}
    methods = _same_training_methods(method, model)
    for prefix, source_store in _reuse_stores(plan, store):
        runs = source_store.runs
        if runs.empty:
            continue
        for _, source in runs[(runs["dataset"] == dataset) & (runs["seed"] == seed)
                              & runs["method"].isin(methods)].iterrows():
            stored_config = source.get("resolved_config")
            if not isinstance(stored_config, str):  # folders written before that column existed
                stored_config = source.get("config")
            params = source.get("params")
            if (_normalized(stored_config) != want_config
                    or (json.loads(params) if isinstance(params, str) else {}) != want_params):
                continue
            results = source_store.results
            rows = results[(results["dataset"] == dataset) & (results["variant"] == source["variant"])
                           & (results["seed"] == seed)]
            if needed <= set(rows["metric"]) and _modes_of(model, modes) <= set(rows["mode"]):
                return f"{prefix}{source['variant']}", source, rows
    return None


def store_same_run(plan: Plan, store: ResultStore, dataset: str, label: str, variant: str, seed: int, method: str,
                   model, cfg: RunConfig, modes: tuple[str, ...] | None = None) -> bool:
    """If :func:`find_same_run` finds a run that trained exactly this, store its rows again under ``variant``
    (runs.csv ``same_as`` names it) instead of training the same thing twice; returns whether it did. E.g. Figure
    5's λ = 0.5, T = 5 and K = 32 points are all the default setting, which Table 2's HashGNN seed 0 may already
    have trained.
    """
    found = find_same_run(plan, store, dataset, seed, method, model, cfg, modes)
    if found is None:
        return False
    origin, source, rows = found
    run = {k: v for k, v in source.to_dict().items() if not (isinstance(v, float) and np.isnan(v))}
    run |= {"label": label, "variant": variant, "method": method, "same_as": origin,
            "config": cfg.to_json().replace("\n", " "), "finished": datetime.now().isoformat(timespec="seconds")}
    store.add(rows.assign(label=label, variant=variant).to_dict("records"), run)
    print(f"[{plan.name}] {dataset} {variant} seed {seed}: the same run as {origin} (stored again, not trained)",
          flush=True)
    return True
