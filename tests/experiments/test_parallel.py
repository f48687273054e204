"""``--jobs N``: an experiment's runs trained by N worker processes give what one process gives."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pandas as pd
import pytest

from hashgnn.errors import ConfigError
from hashgnn.experiments import Options, make_plan, run_experiment
from hashgnn.experiments.parallel import run_parallel, threads_per_job, units
from hashgnn.experiments.plan import RunSpec, planned_runs
from hashgnn.experiments.runs import train_and_evaluate


def test_graphsage_family_of_a_seed_is_one_unit_and_other_methods_run_alone():
    plan = make_plan(Options("table2", quick=True, seeds=2, methods=["GraphSage", "LSH", "MF", "HashGNN_sp"]))
    grouped = [[(s.seed, s.variant) for s in unit] for unit in units(plan, planned_runs(plan))]
    assert grouped == [[(0, "GraphSage"), (0, "LSH"), (0, "HashGNN_sp")], [(0, "MF")],
                       [(1, "GraphSage"), (1, "LSH"), (1, "HashGNN_sp")], [(1, "MF")]]


def test_runs_training_the_same_settings_share_a_unit():
    """Figure 5's default point (λ = 0.5, 5 triplets, K = 32) appears in all three sweeps: one worker trains it once
    and stores it again for the other two."""
    plan = make_plan(Options("figure5", quick=True))
    grouped = [[s.variant for s in unit] for unit in units(plan, planned_runs(plan))]
    assert ["train.lam=0.5", "train.triplets=5", "model.n_bits=32"] in grouped
    assert sorted(v for unit in grouped for v in unit) == sorted(s.variant for s in planned_runs(plan))
    assert len(grouped) == 4  # λ = 0, 1 triplet, K = 16, and the default point


def test_jobs_is_checked_before_any_work(tmp_path: Path):
    with pytest.raises(ConfigError, match="at least 1"):
        make_plan(Options("table2", quick=True, jobs=0, out=tmp_path))
    with pytest.raises(ConfigError, match="one by one"):
        make_plan(Options("figure4_6", quick=True, jobs=2, out=tmp_path))
    assert threads_per_job(1) >= threads_per_job(2) >= threads_per_job(10**6) == 1


@pytest.mark.dataset("movielens-100k")
def test_two_workers_store_what_one_process_stores(tmp_path: Path):
    methods = ["GraphSage", "LSH", "HashGNN_sp", "MF", "HashGNN"]
    run_experiment(Options("table2", quick=True, methods=methods, out=tmp_path / "serial"))
    run_experiment(Options("table2", quick=True, methods=methods, out=tmp_path / "parallel", jobs=2))
    serial, parallel = (pd.read_csv(tmp_path / f / "results.csv") for f in ("serial", "parallel"))
    key = ["variant", "mode", "protocol", "metric"]
    merged = serial.merge(parallel, on=key, suffixes=("_1", "_2"), validate="one_to_one")
    assert len(merged) == len(serial) == len(parallel) > 0
    pd.testing.assert_series_equal(merged["value_1"], merged["value_2"], check_names=False, atol=1e-6)
    runs = pd.read_csv(tmp_path / "parallel" / "runs.csv").set_index("variant")
    assert set(runs.index) == set(methods)
    # GraphSage was trained once, by the first of its family, and reused by the other two in the same worker
    assert (runs.loc[["GraphSage", "LSH", "HashGNN_sp"], "shared_seconds"] > 0).sum() == 2
    assert (tmp_path / "parallel" / "table.md").is_file()


@pytest.mark.dataset("movielens-100k")
def test_a_failing_run_stops_the_workers_and_its_error_reaches_the_caller(tmp_path: Path):
    """The GraphSage family's key is computed without resolving its settings, so this run's bad setting is only
    found in a worker: its ConfigError must come back to the caller, and no worker may be left running."""
    plan = make_plan(Options("table2", quick=True, methods=["MF"], out=tmp_path, jobs=2))
    good = planned_runs(plan)
    bad = RunSpec(good[0].dataset, good[0].label, 0, "GraphSage", "GraphSage", extra=("train.epochs=0",))
    with pytest.raises(ConfigError, match="train.epochs"):
        run_parallel(plan, [bad, *good], 2, train_and_evaluate)
    assert multiprocessing.active_children() == []
