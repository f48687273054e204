"""The plan of an experiment: what the command line asked for (:class:`Options`) merged with the experiment's JSON
config (:class:`Plan`), the runs that follow from it (:class:`RunSpec`, :func:`planned_runs`), and the plan as the
output folder records it (:func:`write_meta`: ``command.txt``, ``experiment.json``).

Generic: this module knows no experiment. Each experiment module describes itself with an :class:`Experiment` (how
it runs, which runs it plans, what it checks before any work), which :mod:`hashgnn.experiments` looks up by name
and hands to :func:`make_plan`, so that nothing here imports an experiment.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hashgnn.config import RunConfig
from hashgnn.data.datasets import get_dataset
from hashgnn.errors import ConfigError
from hashgnn.experiments.caches import SharedGraphSage, SplitCache
from hashgnn.experiments.paper import DATASET_LABELS, SUBSTITUTES
from hashgnn.experiments.store import ResultStore
from hashgnn.io_utils import atomic_write_text
from hashgnn.models.baselines import BASELINES, canonical_name
from hashgnn.models.baselines.embedding import EmbeddingBaseline
from hashgnn.training.rundir import describe_cpu, environment

CONFIG_DIR = Path(__file__).parent / "configs"
#: the experiments of ``configs/NAME.json``; ``converged`` has its own plan (:mod:`hashgnn.experiments.converged`)
EXPERIMENTS = ("table2", "figure3", "figure4_6", "figure5", "figure7", "table3", "table4")


def load_experiment_config(name: str) -> dict[str, Any]:
    """The JSON config of experiment ``name`` (with the paper's numbers under ``"paper"``)."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    return json.loads((CONFIG_DIR / f"{name}.json").read_text())


@dataclass
class Options:
    """What the command line asked for; ``None`` fields fall back to the experiment config."""

    name: str
    datasets: list[str] | None = None
    seeds: int | None = None
    quick: bool = False
    out: Path | None = None
    methods: list[str] | None = None
    sets: list[str] = field(default_factory=list)
    fresh: bool = False
    progress: bool = False
    command: str = ""
    #: dataset → a run directory of `hashgnn train` to evaluate instead of training HashGNN again (table4)
    runs: dict[str, Path] = field(default_factory=dict)
    #: figure3 only: a table2 output folder whose hamming rows are taken instead of training (``--from-results``)
    source: Path | None = None
    #: other experiment output folders whose runs of identical settings are taken instead of training (``--reuse``)
    reuse: list[Path] = field(default_factory=list)
    #: only list the planned runs and how far each is (``--status``); trains and writes nothing
    status: bool = False
    #: worker processes training runs side by side (``--jobs``; the experiments that do not keep their models)
    jobs: int = 1


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


def method_grid(plan: Plan) -> list[RunSpec]:
    """Every method on every (dataset, seed), methods innermost: GraphSage, LSH and HashGNN_sp of one (dataset,
    seed) then run back to back and share the one GraphSage a process keeps (:class:`SharedGraphSage`)."""
    return [RunSpec(dataset, label, seed, m, m) for dataset, label in plan.datasets for seed in plan.seeds
            for m in plan.methods]


@dataclass(frozen=True)
class Experiment:
    """One experiment as the generic machinery sees it; each experiment module defines its own as ``EXPERIMENT``.

    The callables are module-level functions: ``--jobs`` workers receive the experiment pickled, by reference.
    """

    name: str
    #: trains what is not stored yet and writes the folder's tables and plots; returns the Markdown table
    run: Callable[[Plan], str]
    #: the runs it trains, in order (:func:`planned_runs`)
    runs: Callable[[Plan], list[RunSpec]] = method_grid
    #: it needs each fitted model itself (a timing, a logged curve), not only the stored rows: its runs are trained
    #: one by one in the process that uses them (no ``--jobs``) and never copied from a run of identical settings
    keeps_models: bool = False
    #: whether a planned run is stored, i.e. skipped (None: whether ``runs.csv`` has it)
    stored: Callable[[Plan, ResultStore, RunSpec], bool] | None = None
    #: for an experiment that can take another one's rows (``--from-results``): checks them, before any work
    check_source: Callable[[Plan], object] | None = None


@dataclass
class Plan:
    """The resolved experiment: config, datasets ``(name, label)``, seeds, methods and the output folder; and the
    caches of the process that runs it (split, shared GraphSage stages)."""

    name: str
    config: dict[str, Any]
    datasets: list[tuple[str, str]]
    seeds: list[int]
    methods: list[str]
    out: Path
    overrides: list[str]
    params: dict[str, Any]
    quick: bool
    options: Options
    experiment: Experiment = field(repr=False, compare=False)
    graphsage: SharedGraphSage = field(default_factory=SharedGraphSage, repr=False, compare=False)
    splits: SplitCache = field(default_factory=SplitCache, repr=False, compare=False)


def planned_runs(plan: Plan) -> list[RunSpec]:
    """Every run of ``plan`` in the order the experiment trains them."""
    return plan.experiment.runs(plan)


def dataset_available(name: str) -> bool:
    spec = get_dataset(name)
    return spec.is_available()


def resolve_datasets(names: list[str]) -> list[tuple[str, str]]:
    """``(dataset to run, label)``; a paper dataset whose files are absent runs its substitute, labelled so."""
    out = []
    for name in names:
        if name in SUBSTITUTES and not dataset_available(name):
            sub = SUBSTITUTES[name]
            out.append((sub, f"{DATASET_LABELS.get(sub, sub)}"))
        else:
            out.append((name, DATASET_LABELS.get(name, name)))
    return out


def make_plan(options: Options, experiment: Experiment) -> Plan:
    """The plan of ``experiment`` for ``options``; every setting and folder is checked here, before any work.
    Which experiments take ``--jobs`` or ``--from-results`` at all is checked by
    :func:`hashgnn.experiments.make_plan`, which knows them all."""
    if experiment.name != options.name:
        raise ConfigError(f"options of {options.name!r} given to experiment {experiment.name!r}")
    cfg = load_experiment_config(options.name)
    quick = cfg.get("quick", {}) if options.quick else {}
    merged = {**cfg, **{k: v for k, v in quick.items() if k not in ("overrides", "params")}}
    datasets = options.datasets or merged["datasets"]
    n_seeds = options.seeds or merged["seeds"]
    methods = [canonical_name(m) for m in (options.methods or merged["methods"])]
    overrides = [*merged.get("split", []), *cfg.get("overrides", []), *quick.get("overrides", []), *options.sets]
    params = {**cfg.get("params", {}), **quick.get("params", {})}
    out = options.out or Path("results") / (options.name + ("-quick" if options.quick else ""))
    RunConfig().override(overrides).validate()  # fail before any work
    if options.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {options.jobs}")
    check_source_folder(options, Path(out))
    for folder in options.reuse:
        if not (Path(folder) / "runs.csv").is_file():
            raise ConfigError(f"--reuse {folder}: no runs.csv there (not an experiment output folder)")
    plan = Plan(options.name, merged, resolve_datasets(list(datasets)), list(range(n_seeds)), methods, Path(out),
                overrides, params, options.quick, options, experiment)
    if options.source is not None and experiment.check_source is not None:
        experiment.check_source(plan)  # all its checks now, before write_meta touches the output folder
    return plan


def check_source_folder(options: Options, out: Path) -> None:
    """Reject ``--from-results`` into the source folder itself (whose ``command.txt`` and ``experiment.json``
    :func:`write_meta` would overwrite); the source's contents are checked by the
    experiment's own ``check_source``."""
    if options.source is not None and out.resolve() == options.source.resolve():
        raise ConfigError(f"--from-results {options.source}: --out must be another folder, {options.name} would "
                          "overwrite that experiment's files")


def run_config(plan: Plan, dataset: str, seed: int, extra: list[str] = ()) -> RunConfig:
    """The RunConfig of one run: dataset, seed (model seed; the split seed stays fixed), plan overrides, extra."""
    return RunConfig().override([f"data.dataset={dataset}", f"seed={seed}", *plan.overrides, *extra]).validate()


def build_method(plan: Plan, method: str, cfg: RunConfig, extra_params: dict | None = None):
    """An unfitted registry method for ``cfg``, with the plan's and the method's own settings."""
    settings = plan.config.get("method_settings", {}).get(method, {})
    factory = BASELINES[method]
    cfg = cfg.override(list(settings.get("overrides", [])))
    if isinstance(factory, type) and issubclass(factory, EmbeddingBaseline):
        params = {**plan.params, **settings.get("params", {}), **(extra_params or {})}
        return factory(config=cfg, progress=plan.options.progress, **params)
    return factory(config=cfg, progress=plan.options.progress)


def _command_history(plan: Plan, command: str) -> str:
    """Every distinct command that wrote into the folder, one per line, oldest first: a resumed experiment, or
    several processes sharing the folder with their own ``--methods``, keep all; a fresh folder starts over."""
    path = plan.out / "command.txt"
    # not "has runs.csv": a second process may start before the first has stored a run
    resuming = not plan.options.fresh and path.is_file()
    lines = path.read_text().splitlines() if resuming else []
    return "\n".join([*lines, *([command] if command not in lines else [])]) + "\n"


def write_meta(plan: Plan, extra: dict | None = None) -> None:
    """``command.txt`` (the exact command), ``experiment.json`` (the resolved plan) in the output folder."""
    plan.out.mkdir(parents=True, exist_ok=True)
    command = plan.options.command or " ".join(sys.argv)
    atomic_write_text(plan.out / "command.txt", _command_history(plan, command))
    # the command, commit, dirty flag, date and CPU at the top level: what a README figure's provenance needs
    env = environment()
    meta = {"experiment": plan.name, "command": command, "git_commit": env["git_commit"],
            "git_dirty": env["git_dirty"], "cpu": describe_cpu(env["cpu"]),
            "quick": plan.quick, "datasets": plan.datasets, "seeds": plan.seeds,
            "methods": plan.methods, "overrides": plan.overrides, "params": plan.params,
            "config": plan.config, "environment": env, "started": datetime.now().isoformat(),
            **(extra or {})}
    atomic_write_text(plan.out / "experiment.json", json.dumps(meta, indent=2, default=str) + "\n")
