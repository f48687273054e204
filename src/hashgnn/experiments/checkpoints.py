"""Checkpoints of the runs an experiment is training, in ``OUT/.checkpoints/``: a run killed mid-way continues
from its last epoch when the experiment is started again, and its checkpoints are removed once it is stored.

A core method (one :class:`~hashgnn.training.trainer.Trainer` run), a shallow embedding baseline (MF, PTE, BiNE)
and HashGNN_sp's hash stage checkpoint every epoch. The GraphSage stage shared by GraphSage, LSH and HashGNN_sp has
its own folder, kept until every GraphSage-family row of the plan for that (dataset, seed) is stored, so a process
started again loads the finished stage instead of training it twice.
"""

from __future__ import annotations

import hashlib
import shutil
from functools import singledispatch
from pathlib import Path

from hashgnn.config import RunConfig
from hashgnn.data.splits import Split
from hashgnn.errors import ArtifactError, ConfigError
from hashgnn.experiments.caches import GRAPHSAGE_FAMILY
from hashgnn.experiments.plan import Plan
from hashgnn.experiments.store import CHECKPOINTS, ResultStore
from hashgnn.models.base import Recommender
from hashgnn.models.baselines.core import CoreBaseline
from hashgnn.models.baselines.embedding import EmbeddingBaseline
from hashgnn.training.rundir import RunDir


def checkpoint_dir(plan: Plan, dataset: str, variant: str, seed: int) -> Path:
    """Where one run of ``plan`` keeps its checkpoints while it trains (core methods and MF / PTE / BiNE)."""
    return plan.out / CHECKPOINTS / f"{dataset}-{variant.replace('/', '_')}-seed{seed}"


def stage_dir(plan: Plan, dataset: str, seed: int, stage_json: str) -> Path:
    """Checkpoints of the GraphSage stage shared by the GraphSage, LSH and HashGNN_sp rows of (dataset, seed)."""
    digest = hashlib.sha256(stage_json.encode()).hexdigest()[:12]
    return plan.out / CHECKPOINTS / f"{dataset}-GraphSage-stage-seed{seed}-{digest}"


def stage_dirs(plan: Plan, dataset: str, seed: int) -> list[Path]:
    """The shared GraphSage stage folders of (dataset, seed), whatever their config."""
    return sorted((plan.out / CHECKPOINTS).glob(f"{dataset}-GraphSage-stage-seed{seed}-*"))


def fit_resumable(plan: Plan, model: Recommender, split: Split, path: Path) -> tuple[float, bool]:
    """Fit ``model``, checkpointing into ``path`` and continuing from there when an earlier process was stopped
    mid-run, so a killed experiment loses at most one epoch (for the models that checkpoint, see :func:`_fit`).
    Returns ``(seconds trained before this call, whether anything was trained now)``."""
    return _fit(model, split, path, plan.name)


@singledispatch
def _fit(model: Recommender, split: Split, path: Path, experiment: str) -> tuple[float, bool]:
    """A model with no checkpoints of its own starts over: LSH's projection (HashGNN_sp's hash stage is given its
    folder where its shared GraphSage is, :func:`hashgnn.experiments.runs.fit_method`)."""
    model.fit(split)
    return 0.0, True


@_fit.register
def _(model: EmbeddingBaseline, split: Split, path: Path, experiment: str) -> tuple[float, bool]:
    model.fit(split, checkpoint=path)
    return model.resumed_seconds, model.resumed_epoch < len(model.history)


@_fit.register
def _(model: CoreBaseline, split: Split, path: Path, experiment: str) -> tuple[float, bool]:
    _drop_stale_checkpoints(path, model.config)
    done = RunDir(path).epochs_done()
    if done:
        print(f"[{experiment}] {path.name}: resuming after epoch {done} from {path}", flush=True)
    model.run_dir = str(path)
    model.fit(split, resume=True)
    trainer = model.trainer
    return trainer.resumed_seconds, trainer.resumed_epoch < len(model.history)


def _drop_stale_checkpoints(path: Path, config: RunConfig) -> None:
    """A checkpoint folder left by a run with other settings (the experiment's --set changed) or damaged by a
    crash is removed, and the run starts over."""
    if not path.exists():
        return
    try:
        stale = RunDir(path).read_config() != config
    except (ArtifactError, ConfigError, ValueError, TypeError):
        stale = True
    if stale:
        print(f"{path}: checkpoints of another configuration or damaged; starting that run over", flush=True)
        shutil.rmtree(path, ignore_errors=True)


def remove_checkpoints(plan: Plan, store: ResultStore, dataset: str, variant: str, seed: int) -> None:
    """After a run is stored: its own checkpoints, and the shared GraphSage stage's once every GraphSage-family
    row of the plan for (dataset, seed) is stored too."""
    shutil.rmtree(checkpoint_dir(plan, dataset, variant, seed), ignore_errors=True)
    family = [m for m in plan.methods if m in GRAPHSAGE_FAMILY]
    if variant in family and all(store.done(dataset, m, seed) for m in family):
        for path in stage_dirs(plan, dataset, seed):
            shutil.rmtree(path, ignore_errors=True)


def checkpoint_epochs(path: Path) -> int:
    """Epochs an interrupted run saved in its checkpoint folder (a run directory of the Trainer, for core methods
    and MF / PTE / BiNE alike), else 0. Read from ``history.json``: no checkpoint is unpickled."""
    return RunDir(path).epochs_done()
