"""``hashgnn train`` and ``hashgnn evaluate``."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from hashgnn.config import PRESETS, RunConfig, preset_overrides
from hashgnn.errors import ConfigError

console = Console()

PAPER_TABLE2 = {  # Table 2 of the paper (hierarchical search), "HR" = recall
    "movielens-1m": {"HashGNN": (0.248, 0.373, 0.325, 0.431), "GraphSage": (0.228, 0.354, 0.304, 0.411)},
    "gowalla": {"HashGNN": (0.405, 0.443, 0.551, 0.572), "GraphSage": (0.389, 0.434, 0.542, 0.563)},
    "pinterest-20": {"HashGNN": (0.212, 0.334, 0.176, 0.234), "GraphSage": (0.193, 0.317, 0.166, 0.213)},
}


def build_config(config_file: Path | None, dataset: str | None, method: str | None, bits: int | None,
                 epochs: int | None, batch_size: int | None, seed: int | None, device: str | None,
                 sets: list[str], preset: str = "paper") -> RunConfig:
    """The run's config: a config file or the defaults, then the named options, the preset, the ``--set``s."""
    cfg = RunConfig.from_json(config_file) if config_file else RunConfig()
    if dataset:
        cfg = replace(cfg, data=replace(cfg.data, dataset=dataset))
    if method:
        cfg = replace(cfg, model=replace(cfg.model, method=method))
    if bits:
        cfg = replace(cfg, model=replace(cfg.model, n_bits=bits))
    train_kwargs = {k: v for k, v in (("epochs", epochs), ("batch_size", batch_size), ("device", device))
                    if v is not None}
    cfg = replace(cfg, train=replace(cfg.train, **train_kwargs))
    if seed is not None:
        cfg = replace(cfg, seed=seed, split=replace(cfg.split, seed=cfg.split.seed))
    return cfg.override([*preset_overrides(preset), *sets]).validate()


def results_table(results: dict, title: str, ns: tuple[int, ...] = (50, 100)) -> Table:
    table = Table(title=title)
    table.add_column("search")
    table.add_column("protocol")
    for n in ns:
        table.add_column(f"Recall@{n}", justify="right")
    for n in ns:
        table.add_column(f"NDCG@{n}", justify="right")
    names = {"hamming": "HamR", "hierarchical": "HieS", "continuous": "CeS"}
    for mode, by_protocol in results.items():
        for protocol, metrics in by_protocol.items():
            table.add_row(names.get(mode, mode), protocol,
                          *[f"{metrics.get(f'recall@{n}', float('nan')):.4f}" for n in ns],
                          *[f"{metrics.get(f'ndcg@{n}', float('nan')):.4f}" for n in ns])
    return table


def evaluate_run(run_dir: Path, progress: bool = True, n_candidates: int | None = None) -> dict:
    """Test metrics of a run; written to results.json, or results-M{n}.json for a non-default HieS M."""
    from hashgnn.evaluation import evaluate_part
    from hashgnn.recommender import HashGNN
    from hashgnn.training.rundir import RunDir

    model = HashGNN.load(run_dir)
    cfg = model.config
    m = cfg.eval.n_candidates if n_candidates is None else n_candidates
    if m <= 0:
        raise ConfigError(f"--candidates must be > 0, got {m}")
    t0 = time.perf_counter()
    results = evaluate_part(model.embeddings(), model.split, "test", ns=cfg.eval.ns, n_candidates=m,
                            tie_seed=cfg.eval.tie_seed, max_users=cfg.eval.max_test_users, progress=progress)
    name = "results.json" if m == cfg.eval.n_candidates else f"results-M{m}.json"
    RunDir(run_dir).write_json(name, {"test": results, "seconds": time.perf_counter() - t0,
                                      "tie_seed": cfg.eval.tie_seed, "n_candidates": m})
    return results


def print_results(run_dir: Path, results: dict, dataset: str) -> None:
    console.print(results_table(results, f"{dataset} — {run_dir}"))
    paper = PAPER_TABLE2.get(dataset)
    if paper:
        rows = "; ".join(f"{k}: HR@50 {v[0]:.3f} HR@100 {v[1]:.3f} ndcg@50 {v[2]:.3f} ndcg@100 {v[3]:.3f}"
                         for k, v in paper.items())
        console.print(f"paper Table 2 (hierarchical search, paper protocol): {rows}")


def register(app: typer.Typer) -> None:
    @app.command()
    def train(
        dataset: str = typer.Option(None, "--dataset", "-d", help="registry name or CSV/TSV/Parquet path"),
        method: str = typer.Option(None, help="guided | ste | hashnet | gumbel | continuous"),
        bits: int = typer.Option(None, "--bits", help="code length K (multiple of 8)"),
        epochs: int = typer.Option(None), batch_size: int = typer.Option(None),
        seed: int = typer.Option(None), device: str = typer.Option(None, help="cpu | cuda | cuda:N"),
        out: Path = typer.Option(None, "--out", "-o", help="run directory (default runs/<dataset>-<method>-<time>)"),
        config: Path = typer.Option(None, "--config", help="a config.json to start from"),
        preset: str = typer.Option("paper", "--preset",
                                   help=f"starting settings, before --set: {' | '.join(PRESETS)} "
                                        "(paper text; authors' released code; the last two beyond the paper)"),
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
            cfg = RunDir(out).read_config()
        else:
            cfg = build_config(config, dataset, method, bits, epochs, batch_size, seed, device, set_, preset)
        from hashgnn.training.distributed import is_distributed_env

        if out is None and is_distributed_env():
            raise ConfigError("distributed training (torchrun) needs --out: every rank must write to the same run")
        if out is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            out = Path("runs") / f"{Path(cfg.data.dataset).stem}-{cfg.model.method}-{cfg.model.n_bits}b-{stamp}"
        if not resume and RunDir(out).exists():
            raise ConfigError(f"{out} already holds a run; use --resume to continue it or choose another --out")
        t0 = time.perf_counter()
        console.print(f"training {cfg.model.method} ({cfg.model.encoder}, K={cfg.model.n_bits}) on "
                      f"{cfg.data.dataset} → {out}")
        model = HashGNN(config=cfg, n_bits=cfg.model.n_bits, method=cfg.model.method, encoder=cfg.model.encoder,
                        seed=cfg.seed, device=cfg.train.device)
        model.fit(cfg.data.dataset, run_dir=out, resume=resume, progress=progress)
        if int(os.environ.get("RANK", "0")) != 0:
            return
        plot_training_curve(out)
        console.print(f"trained in {time.perf_counter() - t0:.1f} s (best epoch {model.result.best_epoch}, "
                      f"valid recall@{cfg.eval.valid_n} {model.result.best_metric:.4f})")
        if evaluate:
            results = evaluate_run(out, progress)
            print_results(out, results, cfg.data.dataset)
        console.print(f"total {time.perf_counter() - t0:.1f} s")

    @app.command()
    def compare(runs: list[Path] = typer.Argument(..., help="run directories written by `hashgnn train`"),
                label: list[str] = typer.Option([], "--label", help="NAME=RUN[,RUN...]; repeat (default: "
                                                "group the runs by the settings that differ)"),
                baseline: str = typer.Option(None, "--baseline", help="a label: add Recall@50 as a share of "
                                             "its best search mode"),
                protocol: str = typer.Option("standard", "--protocol", help="standard | paper"),
                out: Path = typer.Option(None, "--out", "-o", help="also write runs.csv, summary.csv and "
                                         "table.md here")) -> None:
        """One table of several runs: mean ± std over the runs of each label, by search mode."""
        from hashgnn.experiments.compare import compare_runs, parse_labels

        comparison = compare_runs(runs, parse_labels(label) or None)
        text = comparison.write(out, protocol, baseline) if out else comparison.markdown(protocol, baseline)
        console.print(text, highlight=False, soft_wrap=True)

    @app.command("evaluate")
    def evaluate_cmd(run_dir: Path = typer.Argument(..., help="a run directory written by `hashgnn train`"),
                     progress: bool = typer.Option(True),
                     candidates: int = typer.Option(None, "--candidates", "-M",
                                                    help="HieS's Hamming candidates M (default: the run's "
                                                         "eval.n_candidates); written to results-M{M}.json")) -> None:
        """Evaluate a run on its test split: HamR / HieS / CeS × Recall, NDCG @50/@100, both protocols."""
        from hashgnn.training.rundir import RunDir

        results = evaluate_run(run_dir, progress, candidates)
        print_results(run_dir, results, RunDir(run_dir).read_config().data.dataset)
