"""``hashgnn experiment converged``: models compared at convergence, not at a fixed epoch budget.

Each (dataset, variant, seed) trains with :class:`~hashgnn.training.trainer.Trainer` until validation
Recall@``eval.valid_n`` has not improved for ``train.patience`` validations (``train.epochs`` is only a safety
cap), keeping the best validation checkpoint; the test part is measured once, on that checkpoint. With
``eval.test_curve`` the test metric is also recorded at every validation, for the learning-curve plot only.

Writes under the output folder: ``runs/DATASET/VARIANT-seedN/`` (resumable run directories), ``summary.csv``
(dataset, method, search, bits, metric, value, std, seeds, train_seconds, epochs, stopped, commit, dirty, cpu),
``curves.csv``, ``time_to_target.csv`` (when the test curve first reached a dataset's ``target_recall@20``),
``table.md`` and ``recall_vs_time-DATASET.png``. Variants are named lists of config overrides in
``configs/converged.json``; ``preset:NAME`` expands to that preset. A ``cascade`` variant trains nothing: it
measures hierarchical search with one variant's codes re-ranked by another's continuous embeddings
(:mod:`hashgnn.evaluation.cascade`), both selected on validation on their own.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hashgnn.config import RunConfig, preset_overrides
from hashgnn.data.splits import Split
from hashgnn.errors import ConfigError
from hashgnn.evaluation.metrics import PROTOCOLS
from hashgnn.experiments.plan import CONFIG_DIR
from hashgnn.experiments.report import md_table, pyplot, savefig
from hashgnn.io_utils import atomic_write_text
from hashgnn.models.base import Embeddings
from hashgnn.training.rundir import cpu_info, environment

#: how a variant names the variant it is trained from: its parameters start it, or its ranking teaches it
SOURCE_SETTINGS = ("init_from", "teacher")
SEARCH_LABELS = {"hamming": "HamR", "hierarchical": "HieS", "continuous": "CeS"}
# Records written before the paper protocol was measured carry ``standard`` only (``test``, no ``test_paper``).
SUMMARY_COLUMNS = ["dataset", "method", "search", "protocol", "bits", "metric", "value", "std", "seeds",
                   "train_seconds", "epochs", "stopped", "commit", "dirty", "cpu"]


@dataclass
class ConvergedPlan:
    """Datasets (with their split overrides), variants (with their overrides), seeds, output folder."""

    datasets: dict[str, list[str]]
    variants: dict[str, list[str]]
    seeds: list[int]
    out: Path
    common: list[str]
    sets: list[str] = field(default_factory=list)
    published: dict[str, dict[str, Any]] = field(default_factory=dict)
    progress: bool = False
    #: variants whose selected model is trained again on all of train (validation folded in), see :func:`refit`
    refit: set[str] = field(default_factory=set)
    #: variant → the variant whose selected model starts it (``train.init_from``; a refit starts from the
    #: source's refit), trained first when not planned itself
    init_from: dict[str, str] = field(default_factory=dict)
    #: cascade variant → (the variant giving the codes, the variant whose embeddings re-rank), measured after both
    cascades: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: variant of :attr:`init_from` → the setting its source's run directory goes to (``init_from``: start from
    #: its parameters; ``teacher``: distil its ranking, :mod:`hashgnn.training.teacher`)
    source_setting: dict[str, str] = field(default_factory=dict)
    #: cascade variant → the numbers of Hamming candidates M to choose from on validation (``candidates`` in its
    #: spec); a cascade without one searches with ``eval.n_candidates``
    cascade_candidates: dict[str, list[int]] = field(default_factory=dict)


def folder_name(dataset: str) -> str:
    """A file-name-safe label of ``dataset`` (a registry name, or a path to a user's file)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(dataset).name)


def expand(overrides: list[str]) -> list[str]:
    """``preset:NAME`` entries replaced by the preset's overrides, in place."""
    out: list[str] = []
    for item in overrides:
        out.extend(preset_overrides(item.split(":", 1)[1]) if item.startswith("preset:") else [item])
    return out


def make_converged_plan(datasets: list[str] | None, methods: list[str] | None, seeds: int | None, out: Path | None,
                        sets: list[str], progress: bool = False) -> ConvergedPlan:
    config = json.loads((CONFIG_DIR / "converged.json").read_text())
    known = config["variants"]
    chosen = methods or config["methods"]
    unknown = [m for m in chosen if m not in known]
    if unknown:
        raise ConfigError(f"unknown converged variant(s) {unknown}; choose from {', '.join(known)}")
    settings = {m: k for m in chosen for k in SOURCE_SETTINGS if k in known[m]}
    sources = {m: known[m][k] for m, k in settings.items()}
    for variant, source in sources.items():
        if source not in known or any(k in known[source] for k in SOURCE_SETTINGS) or \
                sum(k in known[variant] for k in SOURCE_SETTINGS) > 1:
            raise ConfigError(f"converged variant {variant}: one of {'/'.join(SOURCE_SETTINGS)} naming a variant "
                              f"trained from scratch, got {source!r}")
        if known[variant].get("refit") and not known[source].get("refit"):
            raise ConfigError(f"converged variant {variant} is refit, so its source {source} must be too")
    cascades = cascade_sources(known, chosen)
    chosen = [m for m in chosen if m not in cascades]
    needed = [*sources.values(), *(s for pair in cascades.values() for s in pair)]
    chosen = [*dict.fromkeys([s for s in needed if s not in chosen])] + list(chosen)
    names = datasets or list(config["datasets"])
    plan = ConvergedPlan({d: config["datasets"].get(d, []) for d in names},
                         {m: expand(known[m]["overrides"]) for m in chosen}, list(range(seeds or config["seeds"])),
                         Path(out or "results/converged"), list(config["common"]), list(sets),
                         config.get("published", {}), progress, {m for m in chosen if known[m].get("refit")},
                         sources, cascades, settings,
                         {m: list(known[m]["cascade"]["candidates"]) for m in cascades
                          if "candidates" in known[m]["cascade"]})
    for dataset in plan.datasets:  # every configuration fails here, before any training
        for variant in plan.variants:
            run_config(plan, dataset, variant, 0)
    return plan


def cascade_sources(known: dict[str, Any], chosen: list[str]) -> dict[str, tuple[str, str]]:
    """The chosen cascade variants with their (codes, re-rank) variants, which must be trained variants."""
    cascades = {}
    for name in chosen:
        if "cascade" not in known[name]:
            continue
        pair = (known[name]["cascade"]["codes"], known[name]["cascade"]["rerank"])
        if any(p not in known or "cascade" in known[p] for p in pair):
            raise ConfigError(f"converged variant {name}: a cascade's codes and rerank must name trained variants, "
                              f"got {pair}")
        choices = known[name]["cascade"].get("candidates", [1])
        if not choices or not all(isinstance(m, int) and m > 0 for m in choices):
            raise ConfigError(f"converged variant {name}: a cascade's candidates must be a list of numbers of Hamming "
                              f"candidates > 0, got {choices!r}")
        cascades[name] = pair
    return cascades


def run_path(plan: ConvergedPlan, dataset: str, label: str, seed: int) -> Path:
    return plan.out / "runs" / folder_name(dataset) / f"{label}-seed{seed}"


def run_config(plan: ConvergedPlan, dataset: str, variant: str, seed: int, refit: bool = False) -> RunConfig:
    start = []
    if variant in plan.init_from:
        source = plan.init_from[variant] + ("+refit" if refit else "")
        setting = plan.source_setting.get(variant, "init_from")
        start = [f"train.{setting}={run_path(plan, dataset, source, seed)}"]
    return RunConfig().override([f"data.dataset={dataset}", *plan.datasets[dataset], *plan.common,
                                 *plan.variants[variant], *start, *plan.sets, f"seed={seed}"]).validate()


def refit_overrides(record: dict[str, Any]) -> list[str]:
    """The selected run trained again on all of train: validation folded into train (``split.valid_ratio=0``),
    exactly the selected number of epochs, and the learning rate of each epoch replayed (the epochs after which
    the plateau schedule lowered it become milestones). Nothing is chosen here: every choice was made on
    validation by the selection run."""
    milestones, lr = [], record["config"]["train"]["lr"]
    for point in record["history"]:
        if "lr" in point and point["lr"] < lr * (1 - 1e-9) and point["epoch"] < record["best_epoch"]:
            milestones.append(point["epoch"])
        lr = point.get("lr", lr)
    return ["split.valid_ratio=0", f"train.epochs={record['best_epoch']}", "train.lr_schedule=milestones",
            f"train.lr_milestones={json.dumps(milestones)}", "train.max_minutes=null"]


#: settings of how a run was executed, not of the model it trains: a finished run stays valid under others
EXECUTION_KEYS = ("threads", "max_minutes")


def same_model(a: RunConfig, b: RunConfig) -> bool:
    """Whether two configs train the same model (they may differ in :data:`EXECUTION_KEYS` only)."""
    def strip(cfg: RunConfig) -> dict[str, Any]:
        d = cfg.to_dict()
        return {**d, "train": {k: v for k, v in d["train"].items() if k not in EXECUTION_KEYS}}
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
        if same_model(RunConfig.from_dict(stored["config"]), cfg):  # a changed variant or --set trains again
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
    cfg = RunConfig.from_dict(codes["config"])
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


def summary_rows(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (dataset, method, search, bits, metric): the mean over seeds, with the std and provenance."""
    rows = []
    for r in records:
        env = r["environment"]
        cpu = env["cpu"]
        measured = [(protocol, mode, values) for protocol, key in zip(PROTOCOLS, ("test", "test_paper"), strict=True)
                    for mode, values in r.get(key, {}).items()]
        for protocol, mode, values in measured:
            for metric, value in values.items():
                rows.append({"dataset": r["dataset"], "method": r["method"], "search": SEARCH_LABELS[mode],
                             "protocol": protocol, "bits": r["bits"], "metric": metric, "value": value,
                             "seed": r["seed"], "train_seconds": r["train_seconds"], "epochs": r["epochs"],
                             "stopped": r["stopped"],
                             "commit": env.get("git_commit"), "dirty": env.get("git_dirty"),
                             "cpu": f"{cpu.get('model')} [{' '.join(cpu.get('simd', []))}]"})
    df = pd.DataFrame(rows)
    keys = ["dataset", "method", "search", "protocol", "bits", "metric"]
    agg = df.groupby(keys, sort=False).agg(
        value=("value", "mean"), std=("value", lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0),
        seeds=("seed", "nunique"), train_seconds=("train_seconds", "mean"), epochs=("epochs", "mean"),
        stopped=("stopped", lambda v: "/".join(sorted(set(v)))), commit=("commit", "first"),
        dirty=("dirty", "any"), cpu=("cpu", "first")).reset_index()
    return agg[SUMMARY_COLUMNS]


def curve_rows(records: list[dict[str, Any]], n: int = 20) -> pd.DataFrame:
    """Every measured point of every run; a refit's seconds start where its selection run ended, so its curve
    shows the time from the first training step."""
    rows = []
    for r in records:
        start = r.get("selection_seconds", 0.0)
        for point in r["history"]:
            if f"valid_recall@{n}" in point or f"test_recall@{n}" in point:
                rows.append({"dataset": r["dataset"], "method": r["method"], "seed": r["seed"],
                             "epoch": point["epoch"], "seconds": start + point["seconds"],
                             f"valid_recall@{n}": point.get(f"valid_recall@{n}"),
                             f"test_recall@{n}": point.get(f"test_recall@{n}")})
    return pd.DataFrame(rows)


def time_to_target(curves: pd.DataFrame, published: dict[str, dict[str, Any]], n: int = 20) -> pd.DataFrame:
    """For each run of a dataset with a ``target_recall@n`` (the quality a model must reach, e.g. issue 30's
    0.175 on Gowalla), the first measured point whose test Recall@n reaches it: its epoch and the seconds from
    the first training step (a refit's include its selection run). Reported only: the test curve selects
    nothing."""
    rows = []
    for (dataset, method, seed), part in curves.groupby(["dataset", "method", "seed"], sort=False):
        target = published.get(dataset, {}).get(f"target_recall@{n}")
        if target is None:
            continue
        hit = part[part[f"test_recall@{n}"] >= target]
        first = hit.iloc[0] if len(hit) else None
        rows.append({"dataset": dataset, "method": method, "seed": seed, f"target_recall@{n}": target,
                     "epoch": None if first is None else int(first.epoch),
                     "seconds": None if first is None else float(first.seconds)})
    return pd.DataFrame(rows, columns=["dataset", "method", "seed", f"target_recall@{n}", "epoch", "seconds"])


def table_markdown(summary: pd.DataFrame, published: dict[str, dict[str, Any]]) -> str:
    """Per dataset: Recall/NDCG@20 and @50 of every method and search, with time, epochs and how it stopped."""
    parts = []
    wanted = ["recall@20", "ndcg@20", "recall@50"]
    standard = summary[summary.protocol == "standard"]
    for dataset, part in standard.groupby("dataset", sort=False):
        wide = part[part.metric.isin(wanted)].pivot_table(
            index=["method", "search", "bits", "train_seconds", "epochs", "stopped", "seeds"], columns="metric",
            values="value", sort=False).reset_index()
        wide["train min"] = (wide.pop("train_seconds") / 60).round(1).astype(str)
        wide["epochs"] = wide["epochs"].round().astype(int)
        text = f"### {dataset}\n\n" + md_table(wide.round(4), index=False)
        if dataset in published:
            ref = published[dataset]
            text += (f"\n\n{ref['method']}: Recall@20 {ref['recall@20']:.4f}, NDCG@20 {ref['ndcg@20']:.4f} "
                     f"({ref['source']}).")
        parts.append(text + paper_protocol_table(summary[summary.dataset == dataset]))
    return ("stopped: `patience` = validation plateau (converged); `epochs` / `max_minutes` = a budget ran out "
            "first. Main tables: standard protocol (a user's train and validation items excluded).\n\n"
            + "\n\n".join(parts) + "\n")


def paper_protocol_table(part: pd.DataFrame) -> str:
    """The same runs under the paper's protocol (nothing excluded from the ranking), where it was measured."""
    paper = part[(part.protocol == "paper") & part.metric.isin(["recall@20", "recall@50"])]
    if paper.empty:
        return ""
    wide = paper.pivot_table(index=["method", "search", "bits"], columns="metric", values="value",
                             sort=False).reset_index()
    return ("\n\nPaper protocol (nothing excluded from the ranking; runs measured before it was recorded are "
            "not listed):\n\n" + md_table(wide.round(4), index=False))


def plot_curves(curves: pd.DataFrame, published: dict[str, dict[str, Any]], out: Path, n: int = 20) -> list[Path]:
    plt = pyplot()
    paths = []
    for dataset, part in curves.groupby("dataset", sort=False):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for i, (method, rows) in enumerate(part.groupby("method", sort=False)):
            color = f"C{i}"
            minutes = rows.seconds / 60
            ax.plot(minutes, rows[f"test_recall@{n}"], color=color, label=f"{method} (test)")
            ax.plot(minutes, rows[f"valid_recall@{n}"], color=color, linestyle="--", alpha=0.6,
                    label=f"{method} (validation)")
        if dataset in published:
            ax.axhline(published[dataset][f"recall@{n}"], color="black", linestyle=":",
                       label=published[dataset]["method"])
        ax.set(xlabel="training wall time (min; threads per run in command.txt)", ylabel=f"Recall@{n}",
               title=f"{dataset}: Recall@{n} against training time")
        ax.legend(fontsize=7)
        paths.append(savefig(fig, out / f"recall_vs_time-{folder_name(dataset)}.png"))
    return paths


def run_converged(plan: ConvergedPlan, command: str = "") -> str:
    """Train every planned run (resuming what exists), then write summary, curves, table and plots."""
    plan.out.mkdir(parents=True, exist_ok=True)
    records = []
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
    this_time = {(x["dataset"], x["method"], x["seed"]) for x in records}
    records += [r for r in stored_records(plan.out) if (r["dataset"], r["method"], r["seed"]) not in this_time]
    summary = summary_rows(records)
    curves = curve_rows(records)
    atomic_write_text(plan.out / "summary.csv", summary.to_csv(index=False))
    atomic_write_text(plan.out / "curves.csv", curves.to_csv(index=False))
    atomic_write_text(plan.out / "time_to_target.csv", time_to_target(curves, plan.published).to_csv(index=False))
    text = table_markdown(summary, plan.published)
    atomic_write_text(plan.out / "table.md", text)
    plot_curves(curves, plan.published, plan.out)
    if command:
        history = plan.out / "command.txt"
        earlier = history.read_text() if history.is_file() else ""
        atomic_write_text(history, f"{earlier}{command}\n")
    atomic_write_text(plan.out / "machine.json", json.dumps({"cpu": cpu_info()}, indent=1))
    return text


def stored_records(out: Path) -> list[dict[str, Any]]:
    """Every finished run in ``out`` (runs of other invocations stay in the summary)."""
    records = []
    for path in sorted((out / "runs").glob("*/*/converged.json")):
        record = json.loads(path.read_text())
        records.append(add_paper_protocol(record, path.parent, RunConfig.from_dict(record["config"])))
    return records
