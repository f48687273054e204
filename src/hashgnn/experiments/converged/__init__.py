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

Layout: :mod:`.plan` (variants, datasets and seeds; each run's config and folder), :mod:`.runs` (train, resume or
load each run and measure it on test; refits, warm starts, cascades) and :mod:`.report` (the summaries, table and
plots from the runs' records). This module only re-exports what ``hashgnn experiment converged`` calls.
"""

from __future__ import annotations

from hashgnn.experiments.converged.plan import ConvergedPlan, make_converged_plan
from hashgnn.experiments.converged.runs import run_converged

__all__ = ["ConvergedPlan", "make_converged_plan", "run_converged"]
