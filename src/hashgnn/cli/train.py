"""``hashgnn train``, ``hashgnn evaluate`` and ``hashgnn upgrade`` (a run directory from before manifests)."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hashgnn.cli.data import DATA_HELP, FORMAT_HELP, given_data_options
from hashgnn.config import PRESETS, RunConfig, with_preset
from hashgnn.errors import ConfigError

if TYPE_CHECKING:  # imported on use: it brings in torch, too slow for `hashgnn --help`
    from hashgnn.training.rundir import RunDir

console = Console()

PAPER_TABLE2 = {  # Table 2 of the paper (hierarchical search), "HR" = recall
    "movielens-1m": {"HashGNN": (0.248, 0.373, 0.325, 0.431), "GraphSage": (0.228, 0.354, 0.304, 0.411)},
    "gowalla": {"HashGNN": (0.405, 0.443, 0.551, 0.572), "GraphSage": (0.389, 0.434, 0.542, 0.563)},
    "pinterest-20": {"HashGNN": (0.212, 0.334, 0.176, 0.234), "GraphSage": (0.193, 0.317, 0.166, 0.213)},
}


def build_config(config_file: Path | None, dataset: str | None, method: str | None, bits: int | None,
                 epochs: int | None, batch_size: int | None, seed: int | None, device: str | None,
                 sets: list[str], preset: str = "paper", data_options: dict[str, object] | None = None) -> RunConfig:
    """The run's config: a config file or the defaults, then the named options, the preset, the ``--set``s.

    ``data_options``: ``DataConfig`` fields given on the command line (``--user-col`` ...), see
    :func:`hashgnn.cli.data.given_data_options`.
    """
    from hashgnn.recommender import check_data_options

    cfg = RunConfig.from_json(config_file) if config_file else RunConfig()
    if dataset:
        cfg = replace(cfg, data=replace(cfg.data, dataset=dataset))
    if data_options:
        cfg = replace(cfg, data=replace(cfg.data, **data_options))
    if method:
        cfg = replace(cfg, model=replace(cfg.model, method=method))
    if bits is not None:  # --bits 0 must reach validate(), not fall back to the default K
        cfg = replace(cfg, model=replace(cfg.model, n_bits=bits))
    train_kwargs = {k: v for k, v in (("epochs", epochs), ("batch_size", batch_size), ("device", device))
                    if v is not None}
    cfg = replace(cfg, train=replace(cfg.train, **train_kwargs))
    if seed is not None:
        cfg = replace(cfg, seed=seed, split=replace(cfg.split, seed=cfg.split.seed))
    # a preset's setting for a component this run does not have (``--method hashnet --preset plus``: guided STE's
    # draw) is left out; a --set or option that has no effect is an error
    bits_set = [f"model.n_bits={bits}"] if bits is not None else []
    cfg = with_preset(preset, [*bits_set, *sets], cfg).validate()
    check_data_options(cfg.data)
    return cfg


SEARCH_NAMES = {"hamming": "HamR", "hierarchical": "HieS", "continuous": "CeS"}


def results_table(results: dict, title: str, ns: tuple[int, ...] = (50, 100),
                  popularity: dict | None = None) -> Table:
    """One row per search mode and protocol; ``popularity`` (``{protocol: metrics}``) adds the reference row."""
    table = Table(title=title)
    table.add_column("search")
    table.add_column("protocol")
    for n in ns:
        table.add_column(f"Recall@{n}", justify="right")
    for n in ns:
        table.add_column(f"NDCG@{n}", justify="right")
    rows = [(SEARCH_NAMES.get(mode, mode), by_protocol) for mode, by_protocol in results.items()]
    if popularity:
        rows.append(("popularity", popularity))
    for name, by_protocol in rows:
        for protocol, metrics in by_protocol.items():
            table.add_row(name, protocol,
                          *[f"{metrics.get(f'recall@{n}', float('nan')):.4f}" for n in ns],
                          *[f"{metrics.get(f'ndcg@{n}', float('nan')):.4f}" for n in ns])
    return table


def _training_steps(rd: RunDir) -> tuple[int | None, int | None]:
    """Optimiser steps of a finished run and the step a validation plateau ended its binarizer's schedule at
    (``training.json``; None when unknown or not ended), for the health report's schedule check."""
    if not rd.file("training.json").is_file():
        return None, None
    training = rd.read_json("training.json")
    return training.get("iterations"), training.get("schedule_ended_at")


def evaluate_run(run_dir: Path, progress: bool = True, n_candidates: int | None = None,
                 rerank_run: Path | None = None) -> dict:
    """Test metrics of a run, the popularity row and the code health report, as written to results.json (or
    results-M{n}.json for a non-default HieS M, ``-rerank`` added when ``rerank_run``'s continuous embeddings
    replace the run's own, see :mod:`hashgnn.evaluation.cascade`): ``{"test": {mode: {protocol: metrics}},
    "popularity": ..., "health": ...}``."""
    from hashgnn.evaluation import evaluate_part
    from hashgnn.evaluation.health import POPULARITY, evaluate_popularity, health_report
    from hashgnn.recommender import HashGNN
    from hashgnn.training.rundir import RunDir

    model = HashGNN.load(run_dir)
    cfg = model.config
    m = cfg.eval.n_candidates if n_candidates is None else n_candidates
    if m <= 0:
        raise ConfigError(f"--candidates must be > 0, got {m}")
    emb = model.embeddings()
    if rerank_run is not None:  # the codes are the loaded model's: only the re-ranking run is read from disk
        from hashgnn.evaluation.cascade import check_cascade_runs
        from hashgnn.models.base import Embeddings

        check_cascade_runs(run_dir, rerank_run)
        emb = emb.rerank_with(Embeddings.load(rerank_run))
    t0 = time.perf_counter()
    results = evaluate_part(emb, model.split, "test", ns=cfg.eval.ns, n_candidates=m,
                            tie_seed=cfg.eval.tie_seed, max_users=cfg.eval.max_test_users, progress=progress)
    seconds = time.perf_counter() - t0
    popularity = evaluate_popularity(model.split, "test", cfg.eval.ns, cfg.eval.tie_seed, cfg.eval.max_test_users)
    rd = RunDir(run_dir)
    steps, ended_at = _training_steps(rd)
    health = health_report(emb, model.split, cfg, results, popularity, "test", steps, schedule_ended_at=ended_at)
    payload = {"test": results, POPULARITY: popularity, "health": health, "seconds": seconds,
               "reference_seconds": time.perf_counter() - t0 - seconds, "tie_seed": cfg.eval.tie_seed,
               "n_candidates": m, "rerank_run": None if rerank_run is None else str(rerank_run)}
    name = "results" + ("" if m == cfg.eval.n_candidates else f"-M{m}") + ("" if rerank_run is None else "-rerank")
    rd.write_json(f"{name}.json", payload)
    return payload


def print_results(run_dir: Path, payload: dict, dataset: str) -> None:
    """The results table with its popularity row, the code health lines and any warning."""
    from hashgnn.evaluation.health import POPULARITY, describe

    console.print(results_table(payload["test"], f"{dataset} — {run_dir}", popularity=payload.get(POPULARITY)))
    paper = PAPER_TABLE2.get(dataset)
    if paper:
        rows = "; ".join(f"{k}: HR@50 {v[0]:.3f} HR@100 {v[1]:.3f} ndcg@50 {v[2]:.3f} ndcg@100 {v[3]:.3f}"
                         for k, v in paper.items())
        console.print(f"paper Table 2 (hierarchical search, paper protocol): {rows}")
    health = payload.get("health")
    if health:
        console.print("code health: " + "; ".join(describe(health)), markup=False, highlight=False, soft_wrap=True)
        for warning in health["warnings"]:
            console.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)


#: the options ``--resume`` takes; every other one would change a run that continues with its own config.json
RESUME_OPTIONS = ("out", "resume", "evaluate", "progress")


def refuse_options_with_resume(ctx: typer.Context, out: Path) -> None:
    """``--resume`` with settings (``--epochs 30``, ``--set ...``) would silently train with the run's own."""
    given = [p.opts[0] for p in ctx.command.params if p.name not in RESUME_OPTIONS and p.opts
             and getattr(ctx.get_parameter_source(p.name), "name", None) in ("COMMANDLINE", "ENVIRONMENT")]
    if given:
        raise ConfigError(f"--resume continues {out} with the settings of its config.json, so {', '.join(given)} "
                          "would be ignored: drop them, or train a new run with another --out")


def lock_run(out: Path) -> RunDir:
    """The run directory, write-locked by this process (rank 0 of a torchrun job; the other ranks never write).

    Raises:
        LockedError: another process writes ``out``; the message names its pid.
    """
    from hashgnn.training.rundir import RunDir

    run = RunDir(out)
    return run.lock() if int(os.environ.get("RANK", "0")) == 0 else run


def remove_unused_run(run: RunDir) -> None:
    """A run folder this command created and that holds nothing but its lock (the run failed before writing,
    e.g. on a bad dataset name) is removed, so a failed start leaves nothing behind."""
    run.unlock()
    if run.path.is_dir() and {p.name for p in run.path.iterdir()} <= {".lock"}:
        shutil.rmtree(run.path, ignore_errors=True)


def train(
    ctx: typer.Context,
    dataset: str = typer.Option(None, "--dataset", "-d", help="registry name or CSV/TSV/Parquet path"),
    user_col: str = typer.Option(None, help=DATA_HELP["user_col"]),
    item_col: str = typer.Option(None, help=DATA_HELP["item_col"]),
    rating_col: str = typer.Option(None, help=DATA_HELP["rating_col"]),
    timestamp_col: str = typer.Option(None, help=DATA_HELP["timestamp_col"]),
    sep: str = typer.Option(None, help=DATA_HELP["sep"]),
    min_rating: float = typer.Option(None, help=DATA_HELP["min_rating"]),
    fmt: str = typer.Option(None, "--format", help=FORMAT_HELP),
    min_degree: int = typer.Option(None, help=DATA_HELP["min_degree"]),
    root: str = typer.Option(None, help=DATA_HELP["root"]),
    method: str = typer.Option(None, help="guided | ste | hashnet | gumbel | continuous"),
    bits: int = typer.Option(None, "--bits", help="code length K (multiple of 8)"),
    epochs: int = typer.Option(None), batch_size: int = typer.Option(None),
    seed: int = typer.Option(None), device: str = typer.Option(None, help="cpu | cuda | cuda:N"),
    out: Path = typer.Option(None, "--out", "-o", help="run directory (default runs/<dataset>-<method>-<time>)"),
    config: Path = typer.Option(None, "--config", help="a config.json to start from"),
    preset: str = typer.Option("paper", "--preset",
                               help=f"starting settings, before --set: {' | '.join(PRESETS)} "
                                    "(what each trains: hashgnn.config.PRESETS)"),
    set_: list[str] = typer.Option([], "--set", help="dotted override, e.g. --set train.lam=0.3"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out from its last checkpoint"),
    evaluate: bool = typer.Option(True, help="evaluate on the test set after training"),
    progress: bool = typer.Option(True, help="progress bars"),
) -> None:
    """Train HashGNN (or a variant) and write a run directory; then evaluate it on the test split."""
    from hashgnn.recommender import HashGNN
    from hashgnn.training.plots import plot_training_curve
    from hashgnn.training.rundir import RunDir

    if resume:
        if out is None:
            raise ConfigError("--resume needs --out RUN_DIR")
        refuse_options_with_resume(ctx, out)
        cfg = RunDir(out).read_config()
    else:
        data_options = given_data_options(root, min_degree, user_col, item_col, rating_col, timestamp_col, sep,
                                          min_rating, fmt)
        cfg = build_config(config, dataset, method, bits, epochs, batch_size, seed, device, set_, preset,
                           data_options)
    from hashgnn.training.distributed import is_distributed_env

    if out is None and is_distributed_env():
        raise ConfigError("distributed training (torchrun) needs --out: every rank must write to the same run")
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{Path(cfg.data.dataset).stem}-{cfg.model.method}-{cfg.model.n_bits}b-{stamp}"
    if not resume and RunDir(out).exists():
        raise ConfigError(f"{out} already holds a run; use --resume to continue it or choose another --out")
    created = not out.exists()
    run = lock_run(out)  # held until the command returns: a second writer of the run fails here, at once
    if not resume and run.exists():
        raise ConfigError(f"{out} already holds a run; use --resume to continue it or choose another --out")
    t0 = time.perf_counter()
    size = f"K={cfg.model.n_bits}" if cfg.model.head == "hash" else f"d={cfg.model.embedding_dim}, no hash layer"
    console.print(f"training {cfg.model.method} ({cfg.model.encoder}, {size}) on {cfg.data.dataset} → {out}")
    model = HashGNN(config=cfg)  # cfg is final (preset, --set, options): trained as it is
    try:
        model.fit(cfg.data.dataset, run_dir=out, resume=resume, progress=progress)
    except Exception:
        if created:
            remove_unused_run(run)
        raise
    if int(os.environ.get("RANK", "0")) != 0:
        return
    plot_training_curve(out)
    console.print(f"trained in {time.perf_counter() - t0:.1f} s (best epoch {model.result.best_epoch}, "
                  f"valid recall@{cfg.eval.valid_n} {model.result.best_metric:.4f})")
    if evaluate:
        results = evaluate_run(out, progress)
        print_results(out, results, cfg.data.dataset)
    console.print(f"total {time.perf_counter() - t0:.1f} s")


def compare(runs: list[Path] = typer.Argument(..., help="run directories written by `hashgnn train`"),
            label: list[str] = typer.Option([], "--label", help="NAME=RUN[,RUN...]; repeat (default: "
                                            "group the runs by the settings that differ)"),
            baseline: str = typer.Option(None, "--baseline", help="a label: add Recall@50 as a share of "
                                         "its best search mode"),
            protocol: str = typer.Option("standard", "--protocol", help="standard | paper"),
            out: Path = typer.Option(None, "--out", "-o", help="also write runs.csv, summary.csv, "
                                     "validation.csv, table.md and compare.json (provenance) here")) -> None:
    """One table of several runs: mean ± std over the runs of each label, by search mode."""
    from hashgnn.experiments.compare import compare_runs, parse_labels

    comparison = compare_runs(runs, parse_labels(label) or None)
    command = shlex.join(["hashgnn", *sys.argv[1:]])
    text = comparison.write(out, protocol, baseline, command) if out else comparison.markdown(protocol, baseline)
    console.print(text, highlight=False, soft_wrap=True)


def evaluate_cmd(run_dir: Path = typer.Argument(..., help="a run directory written by `hashgnn train`"),
                 progress: bool = typer.Option(True),
                 candidates: int = typer.Option(None, "--candidates", "-M",
                                                help="HieS's Hamming candidates M (default: the run's "
                                                     "eval.n_candidates); written to results-M{M}.json"),
                 rerank_run: Path = typer.Option(None, "--rerank-run",
                                                 help="another run on the same data and test part whose continuous "
                                                      "embeddings re-rank this run's Hamming candidates (HieS) and "
                                                      "rank all items (CeS); written to results[-M{M}]-rerank.json"),
                 ) -> None:
    """Evaluate a run on its test split: HamR / HieS / CeS × Recall, NDCG @50/@100, both protocols, a
    most-popular row and a code health report (distinct codes, constant bits, top-k coverage, warnings)."""
    from hashgnn.training.rundir import RunDir

    results = evaluate_run(run_dir, progress, candidates, rerank_run)
    print_results(run_dir, results, RunDir(run_dir).read_config().data.dataset)


def upgrade(run_dir: Path = typer.Argument(..., help="a run directory")) -> None:
    """Record a run directory's files in its manifest.json: a run written by a hashgnn older than manifests
    (nothing reads or writes it before), or files put in a run by hand. Each must match its checksum side
    file; a finished run is then loaded as `serve` loads it."""
    from hashgnn.recommender import HashGNN
    from hashgnn.training.rundir import RunDir

    rd = RunDir(run_dir)
    recorded = rd.upgrade()
    if recorded:
        console.print(f"recorded {len(recorded)} files in {rd.file('manifest.json')}: {', '.join(recorded)}",
                      highlight=False, soft_wrap=True)
    else:
        console.print(f"{rd.file('manifest.json')} already lists every file of the run", highlight=False)
    if rd.file("embeddings.json").is_file():
        HashGNN.load(run_dir)  # every check a reader makes: a run that does not load fails here, not later
        console.print(f"{run_dir} loads", highlight=False)
    else:
        console.print(f"{run_dir} is not finished: continue it with `hashgnn train --out {run_dir} --resume`",
                      highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command()(compare)
    app.command("evaluate")(evaluate_cmd)
    app.command()(upgrade)
