"""Shared machinery of the paper experiments: configs, dataset substitution, one training+evaluation run,
resumable result files, summaries and output writing.

Every run trains one registry method (:data:`hashgnn.models.baselines.BASELINES`) on one dataset and seed,
records its wall time (training, evaluation) and appends long-format rows
``dataset, label, variant, method, seed, mode, protocol, metric, value`` to ``results.csv`` right away, so an
interrupted experiment continues where it stopped (``fresh=False``): stored runs are skipped, and a core run
(one Trainer, or MF / PTE / BiNE) that was training continues from its last epoch's checkpoint in ``OUT/.checkpoints/``.

GraphSage, LSH and HashGNN_sp all train the same GraphSage first: :class:`SharedGraphSage` keeps the fitted one of
the current (dataset, seed) so that it is trained once per experiment and config (whichever row runs first) and
reused by the others; ``runs.csv`` then records the reused stage's time as ``shared_seconds`` beside the row's own
``train_seconds``. Its checkpoints stay until every GraphSage-family row of the plan for that (dataset, seed) is
stored, so a process started again loads the finished stage instead of training it twice.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock

from hashgnn.config import RunConfig
from hashgnn.data.datasets import get_dataset
from hashgnn.data.loading import load_split_for
from hashgnn.data.splits import Split
from hashgnn.errors import ArtifactError, ConfigError
from hashgnn.evaluation.protocol import evaluate_part
from hashgnn.experiments.paper import DATASET_LABELS, SUBSTITUTES
from hashgnn.io_utils import atomic_write_text
from hashgnn.models.base import Recommender
from hashgnn.models.baselines import BASELINES, GraphSage, canonical_name
from hashgnn.models.baselines.core import CoreBaseline
from hashgnn.models.baselines.embedding import EmbeddingBaseline
from hashgnn.models.baselines.twostage import LSH, HashGNNSeparate
from hashgnn.training.rundir import RunDir, code_version, cpu_info, describe_cpu, environment

CONFIG_DIR = Path(__file__).parent / "configs"
EXPERIMENTS = ("table2", "figure3", "figure4_6", "figure5", "figure7", "table3", "table4")
KEY = ["dataset", "variant", "seed"]


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
    #: worker processes training runs side by side (``--jobs``; table2, table3, figure3, figure5, figure7)
    jobs: int = 1


@dataclass
class SharedGraphSage:
    """Fitted GraphSage stages keyed by ``(dataset, seed, GraphSage config JSON)``, each with the wall seconds its
    training took. Only the current (dataset, seed) is kept: a new one empties the cache, which bounds memory to
    the GraphSage models of one dataset and seed (the experiments loop over methods inside seeds)."""

    entries: dict[tuple[str, int, str], tuple[GraphSage, float]] = field(default_factory=dict)

    def get(self, key: tuple[str, int, str]) -> tuple[GraphSage, float] | None:
        if any(k[:2] != key[:2] for k in self.entries):
            self.entries.clear()
        return self.entries.get(key)

    def put(self, key: tuple[str, int, str], graphsage: GraphSage, seconds: float) -> None:
        self.get(key)  # evicts other (dataset, seed) entries
        self.entries[key] = (graphsage, seconds)


@dataclass
class Plan:
    """The resolved experiment: config, datasets ``(name, label)``, seeds, methods and the output folder."""

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
    graphsage: SharedGraphSage = field(default_factory=SharedGraphSage, repr=False, compare=False)


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


def make_plan(options: Options) -> Plan:
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
    check_jobs(options)
    check_source(options, Path(out))
    for folder in options.reuse:
        if not (Path(folder) / "runs.csv").is_file():
            raise ConfigError(f"--reuse {folder}: no runs.csv there (not an experiment output folder)")
    plan = Plan(options.name, merged, resolve_datasets(list(datasets)), list(range(n_seeds)), methods, Path(out),
                overrides, params, options.quick, options)
    if options.source is not None:  # all its checks now, before write_meta touches the output folder
        from hashgnn.experiments.tables import load_figure3_source  # lazy: tables imports this module

        load_figure3_source(plan)
    return plan


PARALLEL_EXPERIMENTS = ("table2", "table3", "figure3", "figure5", "figure7")


def check_jobs(options: Options) -> None:
    """``--jobs`` must be a positive count, and > 1 only for the experiments whose runs are independent (Figure 4/6
    and Table 4 keep each trained model for curves or timings in the process that trained it)."""
    if options.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {options.jobs}")
    if options.jobs > 1 and options.name not in PARALLEL_EXPERIMENTS:
        raise ConfigError(f"--jobs {options.jobs}: {options.name} trains its runs one by one; --jobs applies to "
                          f"{', '.join(PARALLEL_EXPERIMENTS)}")


def check_source(options: Options, out: Path) -> None:
    """Reject ``--from-results`` for another experiment or into the source folder itself (whose ``command.txt`` and
    ``experiment.json`` :func:`write_meta` would overwrite); the source's contents are checked by the caller."""
    if options.source is None:
        return
    if options.name != "figure3":
        raise ConfigError(f"--from-results is only for figure3, not {options.name}")
    if out.resolve() == options.source.resolve():
        raise ConfigError(f"--from-results {options.source}: --out must be another folder, figure3 would "
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


def shared_stage_config(model: Recommender) -> RunConfig | None:
    """The config of the GraphSage that ``model`` trains first (GraphSage itself, LSH, HashGNN_sp), else None."""
    if type(model) is GraphSage:
        return model.config
    if isinstance(model, (LSH, HashGNNSeparate)):
        return model.graphsage.config
    return None


CHECKPOINTS = ".checkpoints"  # in the output folder; git-ignored, emptied as runs are stored
GRAPHSAGE_FAMILY = ("GraphSage", "LSH", "HashGNN_sp")


def checkpoint_dir(plan: Plan, dataset: str, variant: str, seed: int) -> Path:
    """Where one run of ``plan`` keeps its checkpoints while it trains (core methods and MF / PTE / BiNE)."""
    return plan.out / CHECKPOINTS / f"{dataset}-{variant.replace('/', '_')}-seed{seed}"


def stage_dir(plan: Plan, dataset: str, seed: int, stage_json: str) -> Path:
    """Checkpoints of the GraphSage stage shared by the GraphSage, LSH and HashGNN_sp rows of (dataset, seed)."""
    digest = hashlib.sha256(stage_json.encode()).hexdigest()[:12]
    return plan.out / CHECKPOINTS / f"{dataset}-GraphSage-stage-seed{seed}-{digest}"


def fit_resumable(plan: Plan, model: Recommender, split: Split, path: Path) -> tuple[float, bool]:
    """Fit ``model``; a core method (one :class:`~hashgnn.training.trainer.Trainer` run) or a shallow embedding
    baseline (MF, PTE, BiNE) checkpoints every epoch into ``path`` and continues from there when an earlier
    process was stopped mid-run, so a killed experiment loses at most one epoch. Returns ``(seconds trained
    before this call, whether anything was trained now)``. HashGNN_sp's hash stage (minutes) starts over."""
    if isinstance(model, EmbeddingBaseline):
        model.fit(split, checkpoint=path)
        return model.resumed_seconds, model.resumed_epoch < len(model.history)
    if not isinstance(model, CoreBaseline):
        model.fit(split)
        return 0.0, True
    _drop_stale_checkpoints(path, model.config)
    done = RunDir(path).epochs_done()
    if done:
        print(f"[{plan.name}] {path.name}: resuming after epoch {done} from {path}", flush=True)
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


def remove_checkpoints(plan: Plan, store: ResultStore, dataset: str, variant: str, seed: int) -> None:
    """After a run is stored: its own checkpoints, and the shared GraphSage stage's once every GraphSage-family
    row of the plan for (dataset, seed) is stored too."""
    shutil.rmtree(checkpoint_dir(plan, dataset, variant, seed), ignore_errors=True)
    family = [m for m in plan.methods if m in GRAPHSAGE_FAMILY]
    if variant in family and all(store.done(dataset, m, seed) for m in family):
        for path in (plan.out / CHECKPOINTS).glob(f"{dataset}-GraphSage-stage-seed{seed}-*"):
            shutil.rmtree(path, ignore_errors=True)


_SPLITS: dict[tuple, Split] = {}


def get_split(cfg: RunConfig) -> Split:
    key = (cfg.data, cfg.split)
    if key not in _SPLITS:
        _SPLITS.clear()
        _SPLITS[key] = load_split_for(cfg.data, cfg.split)
    return _SPLITS[key]


def md_table(df: pd.DataFrame, index: bool = True) -> str:
    """A GitHub Markdown table of ``df`` (no optional dependency); index levels become leading columns."""
    if index:
        df = df.reset_index()
    head = [str(c) for c in df.columns]
    rows = [[f"{v:.4f}" if isinstance(v, float) else str(v) for v in r] for r in df.itertuples(index=False)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def default_modes(model) -> tuple[str, ...]:
    return ("hamming", "hierarchical", "continuous") if model.embeddings().has_codes else ("continuous",)


#: Registry names that changed meaning: runs stored under the old name are read under the new one. Until
#: 2026-12-07 "LightGCN" was LightGCN propagation under HashGNN's tanh head and eq. 7 (now "LightGCN_eq7");
#: the name now belongs to LightGCN itself.
RENAMED_METHODS = {"LightGCN": "LightGCN_eq7"}


def _stored_before_rename(runs: pd.DataFrame) -> set[tuple]:
    """``(dataset, variant, seed)`` of the runs stored under a renamed method's old name: their recorded
    resolved config predates ``model.head``."""
    if runs.empty or "resolved_config" not in runs:
        return set()
    old = runs["variant"].isin(list(RENAMED_METHODS))
    old &= ~runs["resolved_config"].astype(str).str.contains('"head"', regex=False)
    return set(zip(runs.loc[old, "dataset"], runs.loc[old, "variant"], runs.loc[old, "seed"], strict=True))


def _renamed_methods(frame: pd.DataFrame, keys: set[tuple]) -> pd.DataFrame:
    """The rows of ``keys`` (see :func:`_stored_before_rename`) under the method's new name."""
    if frame.empty or not keys:
        return frame
    hit = pd.Series([k in keys for k in zip(frame["dataset"], frame["variant"], frame["seed"], strict=True)],
                    index=frame.index)
    frame = frame.copy()
    for column in ("variant", "method"):
        if column in frame:
            frame.loc[hit, column] = frame.loc[hit, column].replace(RENAMED_METHODS)
    return frame


class ResultStore:
    """``results.csv`` (long metrics) and ``runs.csv`` (one row per run: times, config) in the output folder.

    Several processes may fill one folder at once, each with its own ``--methods`` (two 1-thread processes train
    ~1.6x more per hour than one 2-thread process on this project's 2-core machine): every read and write holds
    the folder's lock file, ``add`` appends to what is on disk rather than to a copy read at start, and reads see
    what the other processes have added, so the last one to finish writes the complete tables.
    """

    def __init__(self, out: Path, fresh: bool) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.results_path, self.runs_path = out / "results.csv", out / "runs.csv"
        self._lock = FileLock(str(out / ".results.lock"))
        self.added = 0  # runs stored by this process (other processes may share the folder)
        if fresh:
            with self._lock:
                for p in (self.results_path, self.runs_path):
                    p.unlink(missing_ok=True)
                shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)  # nor continue a run started before

    def _read(self, path: Path) -> pd.DataFrame:
        """A stored table, with runs stored under a renamed method's old name under the new one."""
        frame = pd.read_csv(path) if path.is_file() else pd.DataFrame()
        runs = frame if path == self.runs_path else (
            pd.read_csv(self.runs_path) if self.runs_path.is_file() else pd.DataFrame())
        return _renamed_methods(frame, _stored_before_rename(runs))

    @staticmethod
    def _without(frame: pd.DataFrame, key: tuple) -> pd.DataFrame:
        if frame.empty:
            return frame
        dataset, variant, seed = key
        return frame[~((frame["dataset"] == dataset) & (frame["variant"] == variant) & (frame["seed"] == seed))]

    @property
    def results(self) -> pd.DataFrame:
        with self._lock:
            return self._read(self.results_path)

    @property
    def runs(self) -> pd.DataFrame:
        with self._lock:
            return self._read(self.runs_path)

    def done(self, dataset: str, variant: str, seed: int) -> bool:
        r = self.runs
        if r.empty:
            return False
        return bool(((r["dataset"] == dataset) & (r["variant"] == variant) & (r["seed"] == seed)).any())

    def add(self, rows: list[dict], run: dict) -> None:
        """Store one run's rows; a run trained again (e.g. Figure 4/6 without its curve) replaces its old rows."""
        key = (run["dataset"], run["variant"], run["seed"])
        with self._lock:
            results = pd.concat([self._without(self._read(self.results_path), key), pd.DataFrame(rows)],
                                ignore_index=True)
            runs = pd.concat([self._without(self._read(self.runs_path), key), pd.DataFrame([run])],
                             ignore_index=True)
            atomic_write_text(self.results_path, results.to_csv(index=False))
            atomic_write_text(self.runs_path, runs.to_csv(index=False))
        self.added += 1


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
        return RunConfig.from_dict(json.loads(config_json)).to_json()
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
    have trained. For one config and seed training is deterministic, so the copy is what the run would have
    produced with the code it ran on.
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
        split = get_split(cfg)
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


def headline(results: pd.DataFrame, continuous_methods: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows of the 'hierarchical' column: hierarchical search, or continuous search for methods without codes."""
    if results.empty:
        return results
    has_h = results.groupby(["dataset", "variant"])["mode"].transform(lambda s: (s == "hierarchical").any())
    pick = (results["mode"] == "hierarchical") | (~has_h & (results["mode"] == "continuous"))
    return results[pick]


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and count over seeds of every (dataset, label, variant, mode, protocol, metric)."""
    cols = ["dataset", "label", "variant", "mode", "protocol", "metric"]
    g = results.groupby(cols, sort=False)["value"]
    return g.agg(mean="mean", std="std", n="count").reset_index()


def fmt(mean: float, std: float, n: int) -> str:
    if np.isnan(mean):
        return "–"
    return f"{mean:.3f} ± {std:.3f}" if n > 1 and not np.isnan(std) else f"{mean:.3f}"


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


def savefig(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
