"""``hashgnn experiment converged``: runs to a validation plateau, a summary with provenance, curves and a plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hashgnn.errors import ConfigError
from hashgnn.experiments.converged import make_converged_plan, run_converged
from hashgnn.experiments.converged.report import SUMMARY_COLUMNS
from hashgnn.experiments.converged.runs import stored_records


def _log(path: Path) -> Path:
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(60), 8)
    items = (users % 3) * 10 + rng.integers(0, 10, len(users))  # 3 groups of users, each with its own 10 items
    pd.DataFrame({"user": users, "item": items}).drop_duplicates().to_csv(path, index=False)
    return path


def _with_variants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **variants: dict) -> dict:
    """The converged config with ``variants`` merged into its variants (each name's spec updated, or added), read
    from a copy in ``tmp_path`` for the rest of the test; the config is returned for further edits."""
    import hashgnn.experiments.converged.plan as converged

    config = json.loads((converged.CONFIG_DIR / "converged.json").read_text())
    for name, spec in variants.items():
        config["variants"][name] = {**config["variants"].get(name, {}), **spec}
    (tmp_path / "configs").mkdir(exist_ok=True)
    (tmp_path / "configs" / "converged.json").write_text(json.dumps(config))
    monkeypatch.setattr(converged, "CONFIG_DIR", tmp_path / "configs")
    return config


def test_converged_runs_write_summary_curves_and_plot_and_are_not_retrained(tmp_path: Path) -> None:
    data = _log(tmp_path / "log.csv")
    sets = ["train.epochs=40", "train.patience=2", "train.batch_size=128", "train.lr=0.01", "train.auc_pairs=50",
            "train.threads=1", "data.use_cache=false"]
    plan = make_converged_plan([str(data)], ["LightGCN", "HashGNN-LightGCN"], 1, tmp_path / "out", sets)
    text = run_converged(plan, "hashgnn experiment converged (test)")
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert set(summary.protocol) == {"standard", "paper"}
    both = summary[summary.metric == "recall@20"].pivot_table(index=["method", "search"], columns="protocol",
                                                               values="value")
    assert (both.paper <= both.standard + 1e-12).all()  # the paper's protocol leaves train items in the ranking
    assert set(summary.method) == {"LightGCN", "HashGNN-LightGCN"}
    assert set(summary[summary.method == "HashGNN-LightGCN"].search) == {"HamR", "HieS", "CeS"}
    assert set(summary[summary.method == "LightGCN"].search) == {"CeS"}
    lightgcn = summary[(summary.method == "LightGCN") & (summary.metric == "recall@20")].iloc[0]
    assert lightgcn.stopped == "patience" and lightgcn.epochs < 40  # stopped by the plateau, not the cap
    assert lightgcn.value > 0.3  # 3 clean groups of 10 items: far above the 20/30 items of a random ranking
    curves = pd.read_csv(tmp_path / "out" / "curves.csv")
    assert {"seconds", "valid_recall@20", "test_recall@20"} <= set(curves.columns)
    assert (curves.groupby("method").seconds.diff().dropna() > 0).all()
    assert (tmp_path / "out" / "recall_vs_time-log.csv.png").stat().st_size > 0
    assert "patience" in text
    record = json.loads(next((tmp_path / "out" / "runs").glob("*/LightGCN-seed0/converged.json")).read_text())
    assert record["environment"]["git_commit"] is None or len(record["environment"]["git_commit"]) == 40
    stamp = next((tmp_path / "out" / "runs").glob("*/LightGCN-seed0/converged.json")).stat().st_mtime_ns
    run_converged(plan)  # finished runs are loaded, not trained again
    done = next((tmp_path / "out" / "runs").glob("*/LightGCN-seed0/converged.json"))
    assert done.stat().st_mtime_ns == stamp
    paper = record.pop("test_paper")  # a record written before the paper protocol was measured
    done.write_text(json.dumps(record))
    again = stored_records(tmp_path / "out")[-1]["test_paper"]  # measured again from the run directory
    assert again.keys() == paper.keys() and all(again[m] == pytest.approx(paper[m]) for m in paper)


def test_unknown_variant_is_an_error_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LightGCN-fast"):
        make_converged_plan(["movielens-100k"], ["NoSuchModel"], 1, tmp_path, [])


def test_refit_replays_the_selected_epochs_and_learning_rate_steps_on_all_of_train() -> None:
    from hashgnn.experiments.converged.plan import refit_overrides

    record = {"config": {"train": {"lr": 0.01}}, "best_epoch": 60,
              "history": [{"epoch": 10, "lr": 0.01}, {"epoch": 20, "lr": 0.005}, {"epoch": 30, "lr": 0.005},
                          {"epoch": 40, "lr": 0.0025}, {"epoch": 50, "lr": 0.0025}, {"epoch": 70, "lr": 0.00125}]}
    assert refit_overrides(record) == ["split.valid_ratio=0", "train.epochs=60", "train.lr_schedule=milestones",
                                       "train.lr_milestones=[20, 40]", "train.max_minutes=null"]


def test_every_planned_converged_run_is_a_valid_config(tmp_path: Path) -> None:
    config = json.loads((Path(__file__).parents[2] / "src/hashgnn/experiments/configs/converged.json").read_text())
    plan = make_converged_plan(None, list(config["variants"]), 1, tmp_path, [])  # validates every combination
    assert set(plan.datasets) == {"gowalla", "movielens-1m", "amazon-cds"}
    assert plan.refit == {v for v, spec in config["variants"].items() if spec.get("refit")}


def test_warm_started_variant_trains_its_source_first_and_refits_from_the_sources_refit(tmp_path: Path,
                                                                                        monkeypatch) -> None:
    _with_variants(tmp_path, monkeypatch, **{"HashGNN-LightGCN-warm": {"refit": True}})  # warm-started and refit
    data = _log(tmp_path / "log.csv")
    sets = ["train.epochs=6", "train.valid_every=2", "train.patience=2", "train.batch_size=128", "train.lr=0.01",
            "train.auc_pairs=50", "train.threads=1", "data.use_cache=false", "model.n_bits=16"]
    plan = make_converged_plan([str(data)], ["HashGNN-LightGCN-warm"], 1, tmp_path / "out", sets)
    assert list(plan.variants) == ["LightGCN-fast", "HashGNN-LightGCN-warm"]
    run_converged(plan)
    runs = tmp_path / "out" / "runs" / "log.csv"
    hashed = json.loads((runs / "HashGNN-LightGCN-warm-seed0" / "converged.json").read_text())
    refit = json.loads((runs / "HashGNN-LightGCN-warm+refit-seed0" / "converged.json").read_text())
    source = json.loads((runs / "LightGCN-fast+refit-seed0" / "converged.json").read_text())
    assert hashed["config"]["train"]["init_from"].endswith("LightGCN-fast-seed0")
    assert refit["config"]["train"]["init_from"].endswith("LightGCN-fast+refit-seed0")
    assert set(hashed["test"]) == {"hamming", "hierarchical", "continuous"}
    assert hashed["train_seconds"] == hashed["source_seconds"] + hashed["own_seconds"]
    assert refit["train_seconds"] == pytest.approx(hashed["train_seconds"] + refit["refit_seconds"]
                                                   + source["refit_seconds"])


def test_cascade_variant_measures_one_runs_codes_reranked_by_anothers_embeddings(tmp_path: Path) -> None:
    from hashgnn.config import RunConfig
    from hashgnn.data.loading import load_split_for
    from hashgnn.evaluation import cascade_embeddings, evaluate_part
    from hashgnn.models.base import Embeddings

    data = _log(tmp_path / "log.csv")
    sets = ["train.epochs=4", "train.valid_every=2", "train.patience=2", "train.batch_size=128", "train.lr=0.01",
            "train.auc_pairs=50", "train.threads=1", "data.use_cache=false", "model.n_bits=16"]
    name = "HashGNN-LightGCN-2layers+LightGCN-fast-rerank"
    plan = make_converged_plan([str(data)], [name], 1, tmp_path / "out", sets)
    assert list(plan.variants) == ["HashGNN-LightGCN-2layers", "LightGCN-fast"] and name not in plan.variants
    run_converged(plan)
    runs = tmp_path / "out" / "runs" / "log.csv"
    record = json.loads((runs / f"{name}-seed0" / "converged.json").read_text())
    codes = json.loads((runs / "HashGNN-LightGCN-2layers-seed0" / "converged.json").read_text())
    rerank = json.loads((runs / "LightGCN-fast-seed0" / "converged.json").read_text())
    assert set(record["test"]) == {"hierarchical"} and record["bits"] == 16
    assert record["train_seconds"] == pytest.approx(codes["train_seconds"] + rerank["train_seconds"])
    cfg = RunConfig.from_dict(codes["config"])
    both = Embeddings.load(runs / "HashGNN-LightGCN-2layers-seed0").rerank_with(
        Embeddings.load(runs / "LightGCN-fast-seed0"))
    again = evaluate_part(both, load_split_for(cfg.data, cfg.split), "test", modes=("hierarchical",), ns=cfg.eval.ns,
                          protocols=("standard",), n_candidates=cfg.eval.n_candidates)
    assert again["hierarchical"]["standard"] == pytest.approx(record["test"]["hierarchical"])
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert set(summary[summary.method == name].search) == {"HieS"}
    stamp = (runs / f"{name}-seed0" / "converged.json").stat().st_mtime_ns
    two_seeds = make_converged_plan([str(data)], ["LightGCN-fast"], 2, tmp_path / "out", sets)
    run_converged(two_seeds)
    run_converged(plan)  # sources unchanged: not measured again; the second seed stays in the summary
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert set(summary[summary.method == "LightGCN-fast"].seeds) == {2}
    assert (runs / f"{name}-seed0" / "converged.json").stat().st_mtime_ns == stamp
    cascade_embeddings(runs / "HashGNN-LightGCN-2layers-seed0", runs / "LightGCN-fast+refit-seed0")  # test unseen
    other = make_converged_plan([str(data)], ["LightGCN"], 1, tmp_path / "other", [*sets, "split.seed=7"])
    run_converged(other)
    with pytest.raises(ConfigError, match="different test parts"):  # trained on another split
        cascade_embeddings(runs / "HashGNN-LightGCN-2layers-seed0", tmp_path / "other/runs/log.csv/LightGCN-seed0")


def test_cascade_with_candidates_chooses_m_on_validation_and_measures_test_at_it(tmp_path: Path,
                                                                                 monkeypatch) -> None:
    from hashgnn.config import RunConfig
    from hashgnn.data.loading import load_split_for
    from hashgnn.evaluation import cascade_embeddings, evaluate_part

    cascade = {"codes": "HashGNN-LightGCN-2layers", "rerank": "LightGCN-fast", "candidates": [30, 1, 4]}
    _with_variants(tmp_path, monkeypatch, **{"chosen-m": {"cascade": cascade}})
    data = _log(tmp_path / "log.csv")
    sets = ["train.epochs=4", "train.valid_every=2", "train.patience=2", "train.batch_size=128", "train.lr=0.01",
            "train.auc_pairs=50", "train.threads=1", "data.use_cache=false", "model.n_bits=16"]
    run_converged(make_converged_plan([str(data)], ["chosen-m"], 1, tmp_path / "out", sets))
    runs = tmp_path / "out" / "runs" / "log.csv"
    record = json.loads((runs / "chosen-m-seed0" / "converged.json").read_text())
    cfg = RunConfig.from_dict(record["config"])
    split = load_split_for(cfg.data, cfg.split)
    emb = cascade_embeddings(runs / "HashGNN-LightGCN-2layers-seed0", runs / "LightGCN-fast-seed0")
    valid = {m: evaluate_part(emb, split, "valid", modes=("hierarchical",), ns=(20,), protocols=("standard",),
                              n_candidates=m)["hierarchical"]["standard"]["recall@20"] for m in (1, 4, 30)}
    assert {int(m): v for m, v in record["valid_by_candidates"].items()} == pytest.approx(valid)
    best = max(valid.values())
    assert record["n_candidates"] == min(m for m, v in valid.items() if v == best)
    assert valid[1] < best  # one candidate per user cannot be the best, so a choice was made
    test = evaluate_part(emb, split, "test", modes=("hierarchical",), ns=cfg.eval.ns, protocols=("standard",),
                         n_candidates=record["n_candidates"])
    assert test["hierarchical"]["standard"] == pytest.approx(record["test"]["hierarchical"])
    _with_variants(tmp_path, monkeypatch, **{"chosen-m": {"cascade": {**cascade, "candidates": [0, 5]}}})
    with pytest.raises(ConfigError, match="candidates must be"):
        make_converged_plan([str(data)], ["chosen-m"], 1, tmp_path / "out", sets)


def test_taught_variant_trains_its_teacher_first_and_points_train_teacher_at_its_run(tmp_path: Path) -> None:
    from hashgnn.experiments.converged.plan import run_config

    plan = make_converged_plan(["gowalla"], ["HashGNN-LightGCN-2layers-taught"], 2, tmp_path / "out", [])
    assert list(plan.variants) == ["LightGCN-fast", "HashGNN-LightGCN-2layers-taught"]
    cfg = run_config(plan, "gowalla", "HashGNN-LightGCN-2layers-taught", 1)
    assert cfg.train.teacher == str(tmp_path / "out/runs/gowalla/LightGCN-fast-seed1") and cfg.train.init_from is None
    plain = run_config(plan, "gowalla", "LightGCN-fast", 1).train
    assert plain.teacher is None


def test_cascade_of_a_cascade_is_an_error(tmp_path: Path, monkeypatch) -> None:
    _with_variants(tmp_path, monkeypatch, nested={"cascade": {"codes": "HashGNN-LightGCN-2layers+LightGCN-fast-rerank",
                                                               "rerank": "LightGCN-fast"}})
    with pytest.raises(ConfigError, match="must name trained variants"):
        make_converged_plan(["gowalla"], ["nested"], 1, tmp_path / "out", [])


def test_time_to_target_is_the_first_test_point_at_or_above_it() -> None:
    from hashgnn.experiments.converged.report import time_to_target

    curves = pd.DataFrame({"dataset": ["d"] * 4 + ["e"], "method": ["A", "A", "A", "B", "A"], "seed": 0,
                           "epoch": [10, 20, 30, 10, 10], "seconds": [5.0, 9.0, 14.0, 3.0, 1.0],
                           "test_recall@20": [0.1, 0.2, 0.3, 0.1, 0.9]})
    out = time_to_target(curves, {"d": {"target_recall@20": 0.2}})
    assert list(out.method) == ["A", "B"]  # dataset e has no target
    assert (out.epoch[0], out.seconds[0]) == (20, 9.0)  # 0.2 reached exactly counts
    assert out.epoch.isna()[1] and out.seconds.isna()[1]  # never reached


def test_a_finished_run_is_the_same_model_wherever_its_results_folder_and_its_sources_live() -> None:
    from hashgnn.config import RunConfig
    from hashgnn.experiments.converged.runs import same_model

    def taught(folder: str, run: str = "LightGCN-fast-seed0", threads: int = 1) -> RunConfig:
        return RunConfig().override([f"train.teacher={folder}/runs/movielens-1m/{run}", f"train.threads={threads}"])

    assert same_model(taught("/tmp/scratch"), taught("results/converged", threads=2))  # moved, run elsewhere
    assert not same_model(taught("/tmp/scratch"), taught("/tmp/scratch", run="LightGCN-fast-seed1"))
    assert not same_model(taught("/tmp/scratch"), RunConfig().override(["train.threads=1"]))
    warm = RunConfig().override(["train.init_from=/tmp/scratch/runs/movielens-1m/LightGCN-fast-seed0"])
    assert not same_model(taught("/tmp/scratch"), warm)  # the same run, but distilled rather than started from
