"""``hashgnn compare RUN...``: one table of several `hashgnn train` runs, means ± std over their seeds.

Each run directory contributes its test metrics (``results.json``, written by ``hashgnn train`` or
``hashgnn evaluate``), its config and its training seconds. Runs are grouped into *labels*: given explicitly
(``--label NAME=RUN,RUN``), or else by configuration — runs whose configs differ only in the seed (or in
settings that do not change what is learned: threads, device, data paths) share a label, named by the settings
that tell the groups apart (``model.method=continuous``). ``--baseline LABEL`` adds each row's Recall@50 as a
share of that label's best search mode (exhaustive continuous search for a continuous model), the comparison the
paper's Table 2 makes between HashGNN and GraphSage.

Each row also carries the run's best validation metric (``training.json``: the figure early stopping kept the model
for, ``eval.valid_mode`` Recall@``eval.valid_n`` on the validation part of train), so a choice between labels is
made on validation and the test figures are reported beside it, never chosen on. ``--out`` also writes
``compare.json``: the command, the date, the code commit (and whether the tree was dirty) and the CPU.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hashgnn.config import RunConfig, flat_config
from hashgnn.errors import ArtifactError, ConfigError
from hashgnn.experiments.report import fmt, md_table
from hashgnn.io_utils import atomic_write_text
from hashgnn.training.rundir import RunDir

#: settings that never split runs into different labels (they do not change what is learned or measured)
NEUTRAL_KEYS = ("seed", "train.threads", "train.device", "data.root", "data.use_cache", "train.log_every")
MODE_NAMES = {"hierarchical": "HieS", "hamming": "HamR", "continuous": "CeS"}  # the table's row order
METRICS = ("recall@50", "recall@100", "ndcg@50", "ndcg@100")


@dataclass
class Comparison:
    """``runs``: one row per (run, search mode, protocol, metric); ``labels``: run directory → label."""

    runs: pd.DataFrame
    labels: dict[str, str]

    def summary(self) -> pd.DataFrame:
        """Mean, std and number of runs per (label, mode, protocol, metric)."""
        g = self.runs.groupby(["label", "mode", "protocol", "metric"], sort=False)["value"]
        return g.agg(mean="mean", std="std", n="count").reset_index()

    def validation(self) -> pd.DataFrame:
        """Per label: mean, std and number of the runs' best validation metric, and which metric it is."""
        runs = self.runs.drop_duplicates("run")
        g = runs.groupby("label", sort=False)
        return g.agg(valid_metric=("valid_metric", "first"), mean=("best_valid", "mean"), std=("best_valid", "std"),
                     n=("best_valid", "count")).reset_index()

    def write(self, out: Path, protocol: str = "standard", baseline: str | None = None, command: str = "") -> str:
        """``runs.csv``, ``summary.csv``, ``validation.csv``, ``table.md`` and ``compare.json`` (provenance) into
        ``out``; returns the table."""
        from datetime import datetime, timezone

        from hashgnn.training.rundir import environment

        text = self.markdown(protocol, baseline)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "runs.csv", self.runs.to_csv(index=False))
        atomic_write_text(out / "summary.csv", self.summary().to_csv(index=False))
        atomic_write_text(out / "validation.csv", self.validation().to_csv(index=False))
        atomic_write_text(out / "table.md", text)
        env = environment()
        meta = {"command": command, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "git_commit": env["git_commit"], "git_dirty": env["git_dirty"], "cpu": env["cpu"],
                "labels": self.labels}
        atomic_write_text(out / "compare.json", json.dumps(meta, indent=1))
        return text

    def markdown(self, protocol: str = "standard", baseline: str | None = None) -> str:
        """Rows label × search mode; mean ± std of Recall/NDCG @50/@100, train seconds, and with ``baseline``
        the share of that label's best Recall@50."""
        summary = self.summary()
        part = summary[summary["protocol"] == protocol]
        if part.empty:
            raise ConfigError(f"no results under protocol {protocol!r}; the runs have: "
                              f"{', '.join(sorted(summary['protocol'].unique()))}")
        share = (baseline, self._baseline_recall(part, baseline)) if baseline is not None else None
        seconds = self.runs.drop_duplicates("run").groupby("label", sort=False)["train_seconds"].mean()
        valid = self.validation().set_index("label")
        rows = [{**_table_row(label, mode, cell.set_index("metric"), share, seconds[label]),
                 "best valid": _valid_cell(valid.loc[label])}
                for (label, mode), cell in self._ordered(part).groupby(["label", "mode"], sort=False)]
        head = (f"Test metrics, `{protocol}` protocol, mean ± std over the runs of each label "
                f"(HamR: Hamming ranking; HieS: Hamming candidates re-ranked by z; CeS: exhaustive over z). "
                f"`best valid`: the validation metric each run was selected on (per label: "
                f"{'; '.join(f'{k}: {v}' for k, v in valid['valid_metric'].items())}) — choose on it, not on test.")
        legend = "\n".join(f"- `{label}`: {', '.join(r for r, lab in self.labels.items() if lab == label)}"
                           for label in self._label_order())
        return f"{head}\n\n{md_table(pd.DataFrame(rows), index=False)}\n\nRuns per label:\n{legend}\n"

    def _ordered(self, part: pd.DataFrame) -> pd.DataFrame:
        """Labels in the order their runs were given, search modes HieS, HamR, CeS within each."""
        modes = {mode: i for i, mode in enumerate(MODE_NAMES)}
        part = part.sort_values("mode", key=lambda c: c.map(modes).fillna(len(modes)), kind="stable")
        return part.sort_values("label", key=lambda c: c.map(self._label_order()), kind="stable")

    def _label_order(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(dict.fromkeys(self.labels.values()))}

    def _baseline_recall(self, part: pd.DataFrame, baseline: str) -> float:
        rows = part[(part["label"] == baseline) & (part["metric"] == "recall@50")]
        if rows.empty:
            raise ConfigError(f"--baseline {baseline!r} is not a label; the labels are: "
                              f"{', '.join(dict.fromkeys(self.labels.values()))}")
        return float(rows["mean"].max())


def _table_row(label: str, mode: str, by_metric: pd.DataFrame, share: tuple[str, float] | None,
               seconds: float) -> dict[str, object]:
    row: dict[str, object] = {"label": label, "search": MODE_NAMES.get(mode, mode), "runs": int(by_metric["n"].max())}
    for metric in METRICS:
        if metric in by_metric.index:
            m = by_metric.loc[metric]
            row[metric] = fmt(m["mean"], m["std"], int(m["n"]))
    if share is not None and "recall@50" in by_metric.index:
        row[f"recall@50 / {share[0]}"] = f"{by_metric.loc['recall@50', 'mean'] / share[1]:.1%}"
    row["train s"] = "–" if pd.isna(seconds) else f"{seconds:,.0f}"
    return row


def _valid_cell(row: pd.Series) -> str:
    return "–" if pd.isna(row["mean"]) else fmt(row["mean"], row["std"], int(row["n"]))


def valid_metric_name(cfg: RunConfig) -> str:
    """What ``best_valid_metric`` of a run is: its validation search mode and cut-off."""
    mode = cfg.eval.valid_mode
    if mode == "auto":
        mode = "continuous" if cfg.model.method == "continuous" else "hierarchical"
    return f"{MODE_NAMES.get(mode, mode)} Recall@{cfg.eval.valid_n}"


def run_commit(rd: RunDir) -> tuple[str | None, bool | None]:
    """The code commit a run was trained with and whether the tree was dirty (``env.json``; None if unknown)."""
    env = rd.read_json("env.json") if rd.file("env.json").is_file() else {}
    return env.get("git_commit"), env.get("git_dirty")


def read_run(run_dir: Path) -> tuple[RunConfig, dict, float, float]:
    """``(config, test results, training seconds, best validation metric)`` of a run directory, with an error
    naming what is missing (the validation metric is NaN for a run trained without validation)."""
    rd = RunDir(run_dir)
    if not rd.exists():
        raise ConfigError(f"{run_dir}: not a run directory (no config.json)")
    if not rd.file("results.json").is_file():
        raise ConfigError(f"{run_dir}: no results.json yet; evaluate it first: hashgnn evaluate {run_dir}")
    results = rd.read_json("results.json")
    if not isinstance(results, dict) or not isinstance(results.get("test"), dict):
        raise ArtifactError(f"{rd.file('results.json')}: no 'test' metrics in it")
    training = rd.read_json("training.json") if rd.file("training.json").is_file() else {}
    best = training.get("best_valid_metric")
    return (rd.read_config(), results["test"], float(training.get("seconds", float("nan"))),
            float("nan") if best is None else float(best))


def auto_labels(configs: dict[str, RunConfig]) -> dict[str, str]:
    """Runs whose settings differ only in :data:`NEUTRAL_KEYS` share a label, named by the settings that tell
    the groups apart (or by the method when every run has the same settings)."""
    flat = {run: {k: v for k, v in flat_config(cfg).items() if k not in NEUTRAL_KEYS} for run, cfg in configs.items()}
    keys = sorted({k for f in flat.values() for k in f})
    varying = [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flat.values()}) > 1]
    if not varying:
        method = next(iter(configs.values())).model.method
        return dict.fromkeys(configs, method)
    return {run: ", ".join(f"{k}={_short(f.get(k))}" for k in varying) for run, f in flat.items()}


def _short(value: object) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def parse_labels(specs: Sequence[str]) -> dict[str, str]:
    """``NAME=RUN[,RUN...]`` options → run directory → label."""
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, runs = spec.partition("=")
        if not sep or not name.strip() or not runs.strip():
            raise ConfigError(f"--label {spec!r}: expected NAME=RUN[,RUN...]")
        for run in (str(Path(r.strip())) for r in runs.split(",") if r.strip()):
            if run in out and out[run] != name:
                raise ConfigError(f"--label: {run} is in both {out[run]!r} and {name!r}")
            out[run] = name.strip()
    return out


def compare_runs(run_dirs: Sequence[str | Path], labels: dict[str, str] | None = None) -> Comparison:
    """Read every run (``labels``: run directory → label for all of them, or None for :func:`auto_labels`)."""
    runs = list(dict.fromkeys(str(r) for r in run_dirs))
    if not runs:
        raise ConfigError("compare needs at least one run directory")
    if labels:
        missing = [r for r in runs if r not in labels]
        if missing:
            raise ConfigError(f"--label covers some runs but not {', '.join(missing)}: label every run or none")
    read = {run: read_run(Path(run)) for run in runs}
    datasets = {cfg.data.dataset for cfg, *_ in read.values()}
    if len(datasets) > 1:
        raise ConfigError(f"the runs were trained on different datasets ({', '.join(sorted(datasets))}): "
                          "compare runs of one dataset at a time")
    labels = labels or auto_labels({run: cfg for run, (cfg, *_) in read.items()})
    commits = {run: run_commit(RunDir(Path(run))) for run in runs}
    rows = [{"label": labels[run], "run": run, "dataset": cfg.data.dataset, "seed": cfg.seed, "mode": mode,
             "protocol": protocol, "metric": metric, "value": float(value), "train_seconds": seconds,
             "best_valid": best_valid, "valid_metric": valid_metric_name(cfg), "commit": commits[run][0],
             "dirty": commits[run][1]}
            for run, (cfg, results, seconds, best_valid) in read.items()
            for mode, by_protocol in results.items() for protocol, metrics in by_protocol.items()
            for metric, value in metrics.items()]
    return Comparison(pd.DataFrame(rows), {run: labels[run] for run in runs})
