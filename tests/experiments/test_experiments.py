"""Experiment configs carry the paper's numbers, and ``hashgnn experiment table2 --quick`` runs end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hashgnn.errors import ConfigError
from hashgnn.experiments import EXPERIMENTS, Options, load_experiment_config, make_plan
from hashgnn.experiments.paper import TABLE2, TABLE3_PERCENT, TABLE4_SECONDS
from hashgnn.models.baselines import BASELINES


def test_configs_match_paper_numbers_and_registry():
    t2 = load_experiment_config("table2")
    assert {d: {m: tuple(v) for m, v in r.items()} for d, r in t2["paper"]["results"].items()} == TABLE2
    assert {m: tuple(v) for m, v in load_experiment_config("table3")["paper"]["results"].items()} == TABLE3_PERCENT
    assert load_experiment_config("table4")["paper"]["results"] == TABLE4_SECONDS
    assert TABLE2["movielens-1m"]["HashGNN"] == (0.248, 0.373, 0.325, 0.431)
    for name in EXPERIMENTS:
        cfg = load_experiment_config(name)
        assert set(cfg["methods"]) <= set(BASELINES)
    with pytest.raises(ConfigError, match="choose one of"):
        load_experiment_config("table9")


@pytest.mark.dataset
def test_pinterest_is_substituted_and_labelled():
    plan = make_plan(Options("table2"))
    names = [d for d, _ in plan.datasets]
    if "pinterest-20" not in names:
        assert "amazon-cds" in names
        assert any("substitute" in label for _, label in plan.datasets)


def _run_quick(name: str, out: Path) -> Path:
    """``hashgnn experiment NAME --quick --out OUT`` through the CLI; asserts it exits cleanly."""
    from hashgnn.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["experiment", name, "--quick", "--out", str(out)])
    assert exc.value.code in (0, None)
    return out


@pytest.mark.dataset("movielens-100k")
def test_table2_quick_end_to_end(tmp_path: Path):
    out = _run_quick("table2", tmp_path / "t2")
    for name in ("results.csv", "runs.csv", "summary.csv", "table.md", "timing.csv", "command.txt",
                 "experiment.json", "recall50_vs_paper.png", "hamming_recall_at_n.png"):
        assert (out / name).is_file(), name
    runs = pd.read_csv(out / "runs.csv")
    # LightGCN itself is compared at convergence (`experiment converged`), not at Table 2's epoch budget
    assert set(runs["variant"]) == set(BASELINES) - {"LightGCN"}
    assert (runs["train_seconds"] + runs["shared_seconds"] > 0).all()
    by_variant = runs.set_index("variant")["shared_seconds"]
    assert by_variant["LSH"] == 0 and by_variant["HashGNN_sp"] > 0 and by_variant["GraphSage"] > 0  # LSH trains it
    resolved = runs.set_index("variant")["resolved_config"].map(json.loads)
    assert resolved["HashGNN+"]["model"]["score_scale"] == 0.25 and resolved["HashGNN+"]["train"]["z_weight"] == 1.0
    assert resolved["GraphSage"]["model"]["method"] == "continuous"
    assert json.loads(runs.set_index("variant")["config"]["HashGNN+"])["model"]["score_scale"] == 1.0
    res = pd.read_csv(out / "results.csv")
    assert set(res["protocol"]) == {"standard", "paper"}
    assert set(res[res["variant"] == "MF"]["mode"]) == {"continuous"}
    assert "hierarchical" in set(res[res["variant"] == "HashGNN"]["mode"])
    assert "(0.248)" not in (out / "table.md").read_text()  # ML-100K has no paper row
    assert json.loads((out / "experiment.json").read_text())["quick"] is True


@pytest.mark.dataset("movielens-100k")
def test_table4_quick_times_every_mode_and_reports_recall_relative_to_ces(tmp_path: Path):
    out = _run_quick("table4", tmp_path / "t4")
    times = pd.read_csv(out / "table4.csv")
    assert set(times["mode"]) == {"continuous", "hierarchical", "hamming"} and (times["seconds"] > 0).all()
    text = (out / "table.md").read_text()
    ces_row = next(line for line in text.splitlines() if line.startswith("| CeS |") and "%" in line)
    assert ces_row.count("(100%)") == 2  # CeS relative to itself, both protocols
    assert (out / "table4.png").is_file()
    # seconds are only readable with the CPU they were measured on and the M HieS re-ranked
    cpu = json.loads((out / "experiment.json").read_text())["environment"]["cpu"]
    assert f"measured on {cpu['model']}, {cpu['logical_cores']} logical cores" in text
    assert f"M = {times['n_candidates'].iloc[0]} Hamming candidates" in text
    # the table is rewritten from the stored timings alone, also from a table4.csv older than the cpu column
    from hashgnn.experiments.store import ResultStore
    from hashgnn.experiments.table4 import write_table4

    plan = make_plan(Options("table4", quick=True, out=out))
    (out / "table.md").unlink()
    assert write_table4(plan, ResultStore(out, False), times) == text
    older = write_table4(plan, ResultStore(out, False), times.drop(columns=["cpu", "threads"]))
    assert "measured on an unrecorded CPU, unrecorded threads" in older and ces_row in older


@pytest.mark.dataset("movielens-100k")
def test_table4_reuses_a_trained_run_directory_instead_of_training(tmp_path: Path):
    from hashgnn.cli import main
    from hashgnn.experiments import run_experiment

    run = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "movielens-100k", "--epochs", "1", "--out", str(run), "--no-progress",
              "--no-evaluate", "--set", "train.batch_size=4096", "--set", "train.threads=1"])
    assert exc.value.code in (0, None)
    out = tmp_path / "t4"
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "table4", "--quick", "--out", str(out), "--run", f"movielens-100k={run}"])
    assert exc.value.code in (0, None)
    runs = pd.read_csv(out / "runs.csv")
    assert runs["run_dir"].tolist() == [str(run)]
    recorded = json.loads((run / "training.json").read_text())["seconds"]
    assert runs["train_seconds"].iloc[0] == pytest.approx(recorded)  # loaded, not trained again
    with pytest.raises(ConfigError, match="trained on 'movielens-100k'"):
        run_experiment(Options("table4", quick=True, out=tmp_path / "bad", runs={"movielens-1m": run},
                               datasets=["movielens-1m"]))


@pytest.mark.dataset("movielens-100k")
def test_table2_trains_graphsage_once_per_seed_for_graphsage_lsh_and_hashgnn_sp(tmp_path: Path, monkeypatch):
    from hashgnn.experiments import run_experiment
    from hashgnn.models.baselines import GraphSage

    fits: list[int] = []
    original = GraphSage.fit

    def counting_fit(self, split, **kwargs):
        fits.append(self.config.seed)
        return original(self, split, **kwargs)

    monkeypatch.setattr(GraphSage, "fit", counting_fit)
    shared = Options("table2", quick=True, seeds=2, methods=["LSH", "HashGNN_sp", "GraphSage"], out=tmp_path / "a")
    run_experiment(shared)
    assert fits == [0, 1]  # one GraphSage per seed, trained by LSH (first) and reused by the other two
    runs = pd.read_csv(tmp_path / "a" / "runs.csv").set_index(["seed", "variant"])
    for seed in (0, 1):
        lsh, sp, gs = (runs.loc[(seed, v)] for v in ("LSH", "HashGNN_sp", "GraphSage"))
        assert lsh["shared_seconds"] == 0 and lsh["train_seconds"] > 0
        assert sp["shared_seconds"] == gs["shared_seconds"] > 0 and gs["train_seconds"] < sp["train_seconds"]
        assert lsh["train_seconds"] > gs["shared_seconds"]  # LSH's own time includes the GraphSage it trained
    timing = pd.read_csv(tmp_path / "a" / "timing.csv")
    assert {"train_seconds", "shared_seconds", "total_seconds"} <= set(timing.columns)
    run_experiment(Options("table2", quick=True, seeds=2, methods=["HashGNN_sp"], out=tmp_path / "b"))
    assert fits == [0, 1, 0, 1]  # alone, HashGNN_sp trains its own GraphSage ...
    res_a, res_b = (pd.read_csv(tmp_path / d / "results.csv") for d in ("a", "b"))
    sp_a = res_a[res_a["variant"] == "HashGNN_sp"].reset_index(drop=True)
    pd.testing.assert_frame_equal(sp_a, res_b)  # ... and gets exactly what it got with the shared one
    run_experiment(shared)  # resumed with every row done: nothing is trained again
    assert fits == [0, 1, 0, 1]


def test_shared_graphsage_cache_keeps_only_the_current_dataset_and_seed():
    from hashgnn.experiments.caches import SharedGraphSage

    cache = SharedGraphSage()
    cache.put(("ml", 0, "cfg"), "gs0", 1.0)  # type: ignore[arg-type]
    cache.put(("ml", 0, "other"), "gs0b", 2.0)  # type: ignore[arg-type]
    assert cache.get(("ml", 0, "cfg")) == ("gs0", 1.0) and len(cache.entries) == 2
    assert cache.get(("ml", 1, "cfg")) is None and not cache.entries


def test_table_heading_names_the_datasets_chosen_with_datasets_option():
    from hashgnn.experiments.report import heading

    default = make_plan(Options("figure4_6"))
    assert "This run" not in heading(default, "figure4_6")
    chosen = make_plan(Options("figure4_6", datasets=["movielens-1m"]))
    assert "This run: MovieLens (chosen with --datasets)" in heading(chosen, "figure4_6")


@pytest.mark.dataset("movielens-100k")
def test_figure4_6_resumed_reuses_stored_runs_with_their_curves(tmp_path: Path, monkeypatch):
    from hashgnn.experiments import figure4_6, run_experiment

    calls: list[str] = []
    original = figure4_6.train_and_evaluate

    def counting(plan, store, dataset, label, seed, method, **kwargs):
        calls.append(method)
        return original(plan, store, dataset, label, seed, method, **kwargs)

    monkeypatch.setattr(figure4_6, "train_and_evaluate", counting)
    options = Options("figure4_6", quick=True, out=tmp_path / "f")
    run_experiment(options)
    assert calls == ["HashGNN_nr", "Hash_ste"]
    first = (tmp_path / "f" / "training_log.csv").read_text()
    (tmp_path / "f" / "figure4_loss.png").unlink()
    run_experiment(options)  # both runs and curves stored: nothing trains, the outputs are written again
    assert calls == ["HashGNN_nr", "Hash_ste"]
    assert (tmp_path / "f" / "training_log.csv").read_text() == first
    assert (tmp_path / "f" / "figure4_loss.png").exists()
    (tmp_path / "f" / "training_log.csv").unlink()
    run_experiment(options)  # a stored run without its curve is trained again
    assert calls == ["HashGNN_nr", "Hash_ste", "HashGNN_nr", "Hash_ste"]
    runs = pd.read_csv(tmp_path / "f" / "runs.csv")
    assert sorted(runs["variant"]) == ["HashGNN_nr", "Hash_ste"]  # replaced, not stored twice


@pytest.mark.dataset("movielens-100k")
def test_table2_stopped_part_way_leaves_its_table_up_to_date(tmp_path: Path, monkeypatch):
    from hashgnn.experiments import run_experiment, runs

    original = runs.train_and_evaluate

    def dies_on_the_second_method(plan, store, dataset, label, seed, method, **kwargs):
        if method == "PTE":
            raise KeyboardInterrupt  # as when a long experiment is killed
        return original(plan, store, dataset, label, seed, method, **kwargs)

    monkeypatch.setattr(runs, "train_and_evaluate", dies_on_the_second_method)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(Options("table2", quick=True, methods=["MF", "PTE"], out=tmp_path / "t"))
    table = (tmp_path / "t" / "table.md").read_text()
    assert "| MF |" in table and "| PTE |" not in table
    assert (tmp_path / "t" / "recall50_vs_paper.png").exists()
