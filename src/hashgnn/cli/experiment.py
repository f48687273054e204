"""``hashgnn experiment NAME``: reproduce one of the paper's tables or figures (see :mod:`hashgnn.experiments`)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer
from rich.console import Console

console = Console()


def _split_list(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _run_dirs(values: list[str]) -> dict[str, Path]:
    from hashgnn.errors import ConfigError

    runs = {}
    for value in values:
        dataset, sep, path = value.partition("=")
        if not sep or not dataset or not path:
            raise ConfigError(f"--run expects DATASET=RUN_DIR, got {value!r}")
        runs[dataset.strip()] = Path(path.strip())
    return runs


def register(app: typer.Typer) -> None:
    @app.command("experiment")
    def experiment(
        name: str = typer.Argument(..., help="table2 | figure3 | figure4_6 | figure5 | figure7 | table3 | table4 "
                                   "| converged"),
        datasets: list[str] = typer.Option(None, "--datasets", "-d",
                                           help="dataset name(s), repeat or comma-separate (default: the config's)"),
        seeds: int = typer.Option(None, "--seeds", help="number of seeds (0..N-1)"),
        quick: bool = typer.Option(False, "--quick", help="small end-to-end check: ML-100K, 1 seed, 1-2 epochs"),
        out: Path = typer.Option(None, "--out", "-o", help="output folder (default results/NAME[-quick])"),
        methods: list[str] = typer.Option(None, "--methods", "-m", help="registry names, repeat or comma-separate"),
        set_: list[str] = typer.Option([], "--set", help="dotted RunConfig override for every run"),
        fresh: bool = typer.Option(False, "--fresh", help="ignore runs already recorded in --out (default: resume)"),
        progress: bool = typer.Option(False, help="progress bars of each training run"),
        run: list[str] = typer.Option([], "--run", help="DATASET=RUN_DIR: evaluate that `hashgnn train` run "
                                      "instead of training HashGNN again (table4); repeat per dataset"),
        from_results: Path = typer.Option(None, "--from-results", help="figure3: take the hamming rows of the runs "
                                          "in this `experiment table2` output folder instead of training; give "
                                          "the same --set values as that experiment (default: all its seeds)"),
        reuse: list[Path] = typer.Option([], "--reuse", help="another experiment's output folder: a run there with "
                                         "identical method and settings (for core methods: identical resolved "
                                         "config) is taken instead of trained again; "
                                         "repeat for more folders"),
        status: bool = typer.Option(False, "--status", help="list the runs this command plans and how far each is "
                                    "(stored, same as a stored run, checkpointed, to train) with the training "
                                    "time left; trains and writes nothing"),
        jobs: int = typer.Option(1, "--jobs", "-j", help="worker processes training runs side by side, each with "
                                 "cores/jobs threads (table2, table3, figure3, figure5, figure7); on 2 cores two "
                                 "1-thread workers train ~1.5x more per hour than one 2-thread process"),
    ) -> None:
        """Run an experiment of the paper; writes CSV, a Markdown table and PNG plots, prints ours vs paper.
        ``converged`` trains each model to its validation plateau (hashgnn.experiments.converged)."""
        from hashgnn.experiments import Options, run_experiment

        command = "hashgnn " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if name == "converged":
            from hashgnn.experiments.converged import make_converged_plan, run_converged

            plan = make_converged_plan(_split_list(datasets), _split_list(methods), seeds, out, list(set_), progress)
            print(run_converged(plan, command))
            console.print(f"written to {plan.out}")
            return
        options = Options(name, _split_list(datasets), seeds, quick, out, _split_list(methods), list(set_), fresh,
                          progress, command, _run_dirs(run), source=from_results, reuse=list(reuse), status=status,
                          jobs=jobs)
        folder, text = run_experiment(options)
        print(text)
        if not status:
            console.print(f"written to {folder}")
