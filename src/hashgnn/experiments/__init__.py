"""Reproductions of the paper's experiments (section 5): ``hashgnn experiment NAME``.

Each experiment has a JSON config under ``configs/`` (datasets, methods, seeds, budgets, the ``quick``
subset and the paper's reference numbers) and writes, under ``results/NAME/``: ``results.csv`` (long metrics
of every run), ``runs.csv`` (per-run wall times, the experiment's RunConfig and the method's resolved one),
``summary.csv`` (mean/std over seeds), ``table.md`` (ours beside the paper's), PNG plots, ``command.txt`` and
``wall_time.txt`` (one line per invocation) and ``experiment.json``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hashgnn.experiments.runner import EXPERIMENTS, Options, load_experiment_config, make_plan, write_meta


def run_experiment(options: Options) -> tuple[Path, str]:
    """Run one experiment; returns ``(output folder, markdown table)`` (with ``options.status``: the table of
    its planned runs and their state, nothing trained or written)."""
    from hashgnn.experiments.tables import RUNNERS
    from hashgnn.io_utils import atomic_write_text

    plan = make_plan(options)
    if options.status:
        from hashgnn.experiments.status import run_status, status_markdown

        return plan.out, status_markdown(plan, run_status(plan))
    wall_path = plan.out / "wall_time.txt"
    earlier = wall_path.read_text() if wall_path.is_file() and not options.fresh else ""
    write_meta(plan)
    t0 = time.perf_counter()
    text = RUNNERS[plan.name](plan)
    seconds = time.perf_counter() - t0
    # one line per invocation, like command.txt: a resumed or shared folder keeps every process's wall time
    command = plan.options.command or " ".join(sys.argv)
    atomic_write_text(wall_path, f"{earlier}{seconds:.1f} s  {command}\n")
    return plan.out, text


__all__ = ["EXPERIMENTS", "Options", "load_experiment_config", "make_plan", "run_experiment"]
