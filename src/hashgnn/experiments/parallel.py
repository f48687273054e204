"""Training an experiment's runs in several worker processes at once: ``hashgnn experiment NAME --jobs N``.

Why processes and not threads: on a small CPU much of a run's time is spent in steps too short for torch's
intra-op threads to split well. Measured on this project's 2-core machine (MovieLens-1M, HashGNN, 3 epochs): one
2-thread process 12.8 s per epoch; two 1-thread processes side by side 17.2 s per epoch each, i.e. 8.6 s per
epoch of work, 1.5x more training per hour (README.md, "Paper experiments").

The runs of a plan are grouped into *units* that must run in one process, in plan order:

- the GraphSage, LSH and HashGNN_sp rows of one (dataset, seed) share one trained GraphSage
  (:class:`~hashgnn.experiments.caches.SharedGraphSage` lives in a process);
- runs that train exactly the same thing (Figure 5's default point appears under λ, triplets and K) go to one
  unit, so the second finds the first stored and stores it again instead of training it twice.

Units are handed to a ``spawn`` pool as workers free up (greedy, in plan order). Every worker stores its runs in
the shared :class:`~hashgnn.experiments.store.ResultStore` (file-locked), so an interrupted parallel experiment
resumes exactly as a serial one does (stored runs skipped, checkpointed runs continued). Each worker gets
``cores // jobs`` torch threads unless the runs set ``train.threads`` themselves.

What trains one run is handed in (:func:`hashgnn.experiments.runs.train_and_evaluate`, pickled by reference like the
experiment): :mod:`.runs` starts the pool, so this module does not import it back.
"""

from __future__ import annotations

import dataclasses
import functools
import multiprocessing
import os
from collections.abc import Callable
from typing import Any

from hashgnn.experiments.caches import GRAPHSAGE_FAMILY
from hashgnn.experiments.plan import Experiment, Options, Plan, RunSpec, build_method, make_plan, run_config
from hashgnn.experiments.reuse import params_json, resolved_json
from hashgnn.experiments.store import ResultStore


def unit_key(plan: Plan, spec: RunSpec) -> tuple:
    """Runs with the same key must be trained by one process, one after the other (see the module docstring)."""
    if spec.method in GRAPHSAGE_FAMILY:
        return (spec.dataset, spec.seed, "GraphSage family")
    cfg = run_config(plan, spec.dataset, spec.seed, list(spec.extra))
    model = build_method(plan, spec.method, cfg)
    return (spec.dataset, spec.seed, resolved_json(model, cfg), params_json(model))


def units(plan: Plan, specs: list[RunSpec]) -> list[list[RunSpec]]:
    """``specs`` grouped by :func:`unit_key`, each unit in plan order, units ordered by their first run."""
    grouped: dict[tuple, list[RunSpec]] = {}
    for spec in specs:
        grouped.setdefault(unit_key(plan, spec), []).append(spec)
    return list(grouped.values())


def threads_per_job(jobs: int) -> int:
    """Torch threads for each of ``jobs`` workers: the usable cores shared out, at least one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // jobs)


#: trains one run: ``(plan, store, dataset, label, seed, method, variant=, extra=, **kw)``, as
#: :func:`hashgnn.experiments.runs.train_and_evaluate`
TrainRun = Callable[..., Any]

_WORKER: dict[str, object] = {}


def _start_worker(options: Options, experiment: Experiment, train: TrainRun, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    # the parent has already emptied the folder if --fresh was given; progress bars of parallel runs would interleave
    options = dataclasses.replace(options, fresh=False, progress=False)
    plan = make_plan(options, experiment)
    _WORKER["plan"], _WORKER["store"], _WORKER["train"] = plan, ResultStore(plan.out, fresh=False), train


def _run_unit(unit: list[RunSpec], kw: dict) -> int:
    plan, store, train = _WORKER["plan"], _WORKER["store"], _WORKER["train"]
    assert isinstance(plan, Plan) and isinstance(store, ResultStore) and callable(train)
    before = store.added
    for spec in unit:
        train(plan, store, spec.dataset, spec.label, spec.seed, spec.method, variant=spec.variant,
              extra=list(spec.extra), **kw)
    return store.added - before


def run_parallel(plan: Plan, specs: list[RunSpec], jobs: int, train: TrainRun,
                 after_run: Callable[[], object] | None = None, **kw) -> int:
    """Train ``specs`` with ``train`` in ``jobs`` worker processes; ``after_run`` is called in this process whenever
    a unit that trained something finishes. Returns the number of runs stored. The first failing run stops the
    others (their checkpoints stay, so the experiment run again continues them) and its error is raised here."""
    todo = units(plan, specs)
    if not todo:
        return 0
    stored = 0
    context = multiprocessing.get_context("spawn")  # fork after torch has started threads can deadlock
    pool = context.Pool(min(jobs, len(todo)), initializer=_start_worker,
                        initargs=(plan.options, plan.experiment, train, threads_per_job(jobs)))
    try:
        for added in pool.imap_unordered(functools.partial(_run_unit, kw=kw), todo):
            stored += added
            if added and after_run is not None:
                after_run()
        pool.close()
    finally:
        pool.terminate()
        pool.join()
    return stored
