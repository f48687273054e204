"""Reproductions of the paper's experiments (section 5): ``hashgnn experiment NAME``.

Each experiment has a JSON config under ``configs/`` (datasets, methods, seeds, budgets, the ``quick``
subset and the paper's reference numbers) and writes, under ``results/NAME/``: ``results.csv`` (long metrics
of every run), ``runs.csv`` (per-run wall times, the experiment's RunConfig and the method's resolved one),
``summary.csv`` (mean/std over seeds), ``table.md`` (ours beside the paper's), PNG plots, ``command.txt`` and
``wall_time.txt`` (one line per invocation) and ``experiment.json``.

Layout: the generic machinery — :mod:`.plan` (options, plan, planned runs), :mod:`.store` (the output folder),
:mod:`.checkpoints`, :mod:`.reuse` (runs of identical settings), :mod:`.runs` (train, evaluate, store one run),
:mod:`.parallel` (``--jobs``), :mod:`.status` (``--status``), :mod:`.report` (summaries, Markdown, plots) — knows no
experiment. Each experiment is one module (:mod:`.table2`, :mod:`.table3`, :mod:`.table4`, :mod:`.figure3`,
:mod:`.figure4_6`, :mod:`.figure5`, :mod:`.figure7`) that describes itself with an
:class:`~hashgnn.experiments.plan.Experiment`; this package looks it up by name and hands it to the generic
modules. :mod:`.converged` (its own plan), :mod:`.compare` (``hashgnn compare``) and :mod:`.paper` (the paper's
numbers) stand apart.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hashgnn.errors import ConfigError
from hashgnn.experiments import plan as _plan
from hashgnn.experiments.plan import EXPERIMENTS, Experiment, Options, Plan, load_experiment_config


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name`` (its module's ``EXPERIMENT``)."""
    load_experiment_config(name)  # an unknown name fails here, listing the known ones
    # imported here, not at the top: the experiment modules import the generic ones, which import this package
    from hashgnn.experiments import figure3, figure4_6, figure5, figure7, table2, table3, table4

    modules = {"table2": table2, "table3": table3, "table4": table4, "figure3": figure3, "figure4_6": figure4_6,
               "figure5": figure5, "figure7": figure7}
    return modules[name].EXPERIMENT


def make_plan(options: Options) -> Plan:
    """The plan of ``options.name``, every setting checked before any work. The options only some experiments take
    are checked here, where all experiments are known: ``--jobs`` > 1 for the ones that do not keep their fitted
    models, ``--from-results`` for the ones that can be built from another experiment's rows."""
    experiment = get_experiment(options.name)
    if options.jobs > 1 and experiment.keeps_models:
        parallel = [n for n in EXPERIMENTS if not get_experiment(n).keeps_models]
        raise ConfigError(f"--jobs {options.jobs}: {options.name} trains its runs one by one; --jobs applies to "
                          f"{', '.join(parallel)}")
    if options.source is not None and experiment.check_source is None:
        takers = [n for n in EXPERIMENTS if get_experiment(n).check_source is not None]
        raise ConfigError(f"--from-results is only for {', '.join(takers)}, not {options.name}")
    return _plan.make_plan(options, experiment)


def run_experiment(options: Options) -> tuple[Path, str]:
    """Run one experiment; returns ``(output folder, markdown table)`` (with ``options.status``: the table of
    its planned runs and their state, nothing trained or written)."""
    from hashgnn.experiments.store import write_meta
    from hashgnn.io_utils import atomic_write_text

    plan = make_plan(options)
    if options.status:
        from hashgnn.experiments.status import run_status, status_markdown

        return plan.out, status_markdown(plan, run_status(plan))
    wall_path = plan.out / "wall_time.txt"
    earlier = wall_path.read_text() if wall_path.is_file() and not options.fresh else ""
    write_meta(plan)
    t0 = time.perf_counter()
    text = plan.experiment.run(plan)
    seconds = time.perf_counter() - t0
    # one line per invocation, like command.txt: a resumed or shared folder keeps every process's wall time
    command = plan.options.command or " ".join(sys.argv)
    atomic_write_text(wall_path, f"{earlier}{seconds:.1f} s  {command}\n")
    return plan.out, text


__all__ = ["EXPERIMENTS", "Experiment", "Options", "Plan", "get_experiment", "load_experiment_config", "make_plan",
           "run_experiment"]
