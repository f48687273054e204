"""Reproductions of the paper's experiments (section 5): ``hashgnn experiment NAME``.

Each experiment has a JSON config under ``configs/`` (datasets, methods, seeds, budgets, the ``quick``
subset and the paper's reference numbers) and writes, under ``results/NAME/``: ``results.csv`` (long metrics
of every run), ``runs.csv`` (per-run wall times, the experiment's RunConfig and the method's resolved one),
``summary.csv`` (mean/std over seeds), ``table.md`` (ours beside the paper's), PNG plots, ``command.txt`` and
``wall_time.txt`` (one line per invocation) and ``experiment.json``.

Layout, in layers; a module imports only from the layers below it (``tests/experiments/test_layout.py``):

1. the generic machinery, which knows no experiment, each module importing only the ones before it:
   :mod:`.paper` (the paper's numbers), :mod:`.caches` (split, shared GraphSage), :mod:`.store` (the output
   folder), :mod:`.plan` (options, plan, planned runs), :mod:`.checkpoints`, :mod:`.reuse` (runs of identical
   settings), :mod:`.report` (summaries, Markdown, plots), :mod:`.parallel` (``--jobs`` workers), :mod:`.runs`
   (train, evaluate, store one run; the loop over a plan's runs), :mod:`.status` (``--status``);
2. the experiments, which import no other experiment: one module each (:mod:`.table2`, :mod:`.table3`,
   :mod:`.table4`, :mod:`.figure3`, :mod:`.figure4_6`, :mod:`.figure5`, :mod:`.figure7`) describing itself with an
   :class:`~hashgnn.experiments.plan.Experiment`; :mod:`.converged` (a package: its own plan, runs and report) and
   :mod:`.compare` (``hashgnn compare``);
3. :mod:`.registry` (the experiments by name) and :mod:`.launch` (``hashgnn experiment NAME``), which hand an
   experiment to the generic modules.

This module only registers: it re-exports the public names.
"""

from __future__ import annotations

from hashgnn.experiments.launch import make_plan, run_experiment
from hashgnn.experiments.plan import EXPERIMENTS, Experiment, Options, Plan, load_experiment_config
from hashgnn.experiments.registry import get_experiment

__all__ = ["EXPERIMENTS", "Experiment", "Options", "Plan", "get_experiment", "load_experiment_config", "make_plan",
           "run_experiment"]
