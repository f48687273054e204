"""The plan of ``hashgnn experiment converged``: the datasets (with their split overrides), variants (named lists
of config overrides in ``configs/converged.json``; ``preset:NAME`` expands to that preset) and seeds, checked
before any training, and each run's config and run directory. A variant may start from another one's selected
model or be taught by it (:data:`SOURCE_SETTINGS`), be refit on all of train (:func:`refit_overrides`), or be a
cascade of two trained variants.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashgnn.config import RunConfig, assigned_keys, preset_overrides, without_stale
from hashgnn.errors import ConfigError
from hashgnn.experiments.plan import CONFIG_DIR

#: how a variant names the variant it is trained from: its parameters start it, or its ranking teaches it
SOURCE_SETTINGS = ("init_from", "teacher")


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
    #: variant → its overrides that are not a preset's (``preset:NAME`` entries left out); a variant missing
    #: here counts all of :attr:`variants` as its own. A setting of :attr:`common` or of a preset that no component
    #: of the variant reads is left out of its config, an own one is an error (:func:`run_config`)
    explicit: dict[str, list[str]] = field(default_factory=dict)


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
                          if "candidates" in known[m]["cascade"]},
                         {m: [o for o in known[m]["overrides"] if not o.startswith("preset:")] for m in chosen})
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
    data = [f"data.dataset={dataset}", *plan.datasets[dataset]]
    cfg = RunConfig().override([*data, *plan.common, *plan.variants[variant], *start, *plan.sets, f"seed={seed}"])
    # ``common`` and ``--set`` (for every variant) and a variant's presets are bundles: a setting of theirs that no
    # component of the variant reads is left out (``model.schedule_unit`` on LightGCN), one of the variant's own
    # is an error
    own = assigned_keys([*data, *plan.explicit.get(variant, plan.variants[variant]), *start, "seed"])
    return without_stale(cfg, own, f"converged variant {variant}'s common settings, --set or preset").validate()


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
