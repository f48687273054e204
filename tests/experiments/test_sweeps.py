"""Figure 5 and Figure 7 (parameter sweeps of HashGNN): the quick runs end to end, and no setting trained twice."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hashgnn.experiments import Options, run_experiment
from hashgnn.training.trainer import Trainer

pytestmark = pytest.mark.dataset("movielens-100k")


def test_figure5_trains_each_distinct_setting_once(tmp_path: Path, monkeypatch):
    fits: list[tuple[float, int, int]] = []
    original = Trainer.fit

    def counting(self, resume=False):
        c = self.config
        fits.append((c.train.lam, c.train.triplets, c.model.n_bits))
        return original(self, resume)

    monkeypatch.setattr(Trainer, "fit", counting)
    out = tmp_path / "f5"
    _, text = run_experiment(Options("figure5", quick=True, out=out))
    # quick sweeps: λ {0, 0.5}, T {1, 5}, K {16, 32}; λ = 0.5, T = 5 and K = 32 are one setting (the default)
    assert sorted(fits) == sorted([(0.0, 5, 32), (0.5, 5, 32), (0.5, 1, 32), (0.5, 5, 16)])
    runs = pd.read_csv(out / "runs.csv").set_index("variant")
    assert set(runs.index) == {"train.lam=0.0", "train.lam=0.5", "train.triplets=1", "train.triplets=5",
                               "model.n_bits=16", "model.n_bits=32"}
    assert runs.loc["train.triplets=5", "same_as"] == runs.loc["model.n_bits=32", "same_as"] == "train.lam=0.5"
    res = pd.read_csv(out / "results.csv")
    by = {v: g.drop(columns="variant").reset_index(drop=True) for v, g in res.groupby("variant")}
    pd.testing.assert_frame_equal(by["train.triplets=5"], by["train.lam=0.5"])
    assert (out / "figure5.png").is_file() and "train.triplets" in (out / "table.md").read_text()
    run_experiment(Options("figure5", quick=True, out=out))  # resumed with everything stored: nothing trains
    assert len(fits) == 4


def test_figure7_quick_end_to_end(tmp_path: Path):
    out = tmp_path / "f7"
    run_experiment(Options("figure7", quick=True, out=out))
    runs = pd.read_csv(out / "runs.csv")
    assert "dynamic" in set(runs["variant"]) and runs["variant"].str.startswith("p=").any()
    assert (out / "figure7.png").is_file() and (out / "table.md").is_file()


def test_reuse_takes_a_run_of_identical_settings_from_another_experiment(tmp_path: Path, monkeypatch):
    from hashgnn.errors import ConfigError

    run_experiment(Options("table2", quick=True, methods=["HashGNN", "HashGNN_nr", "GraphSage"], out=tmp_path / "t2"))
    fits: list[float] = []
    original = Trainer.fit

    def counting(self, resume=False):
        fits.append(self.config.train.lam)
        return original(self, resume)

    monkeypatch.setattr(Trainer, "fit", counting)
    out = tmp_path / "f5"
    run_experiment(Options("figure5", quick=True, out=out, reuse=[tmp_path / "t2"]))
    # the default setting (λ = 0.5, T = 5, K = 32) is table2's HashGNN seed 0, λ = 0 its HashGNN_nr (a core method
    # is its config, whatever its name); GraphSage's config differs from every point
    assert sorted(fits) == [0.5, 0.5]
    runs = pd.read_csv(out / "runs.csv").set_index("variant")
    assert runs.loc["train.lam=0.5", "same_as"] == f"{tmp_path / 't2'}:HashGNN"
    assert runs.loc["train.lam=0.0", "same_as"] == f"{tmp_path / 't2'}:HashGNN_nr"
    assert set(runs["method"]) == {"HashGNN"}
    assert runs.loc["train.lam=0.5", "label"] == runs.loc["train.lam=0.0", "label"]
    t2 = pd.read_csv(tmp_path / "t2" / "results.csv")
    f5 = pd.read_csv(out / "results.csv")
    pick = ["mode", "protocol", "metric", "value"]
    pd.testing.assert_frame_equal(f5[f5["variant"] == "train.lam=0.5"][pick].reset_index(drop=True),
                                  t2[t2["variant"] == "HashGNN"][pick].reset_index(drop=True))
    with pytest.raises(ConfigError, match="--reuse .*: no runs.csv there"):
        run_experiment(Options("figure5", quick=True, out=tmp_path / "other", reuse=[tmp_path / "nothing"]))
    assert not (tmp_path / "other").exists()  # checked before anything is written


@pytest.mark.parametrize("name", ["figure7", "figure5"])
def test_a_sweep_stopped_part_way_leaves_its_table_and_plot_up_to_date(name: str, tmp_path: Path, monkeypatch):
    from hashgnn.experiments import runs

    original, variants = runs.train_and_evaluate, []

    def dies_on_the_third_point(plan, store, dataset, label, seed, method, variant=None, **kwargs):
        if len(variants) == 2:
            raise KeyboardInterrupt  # as when a long sweep is killed
        variants.append(variant)
        return original(plan, store, dataset, label, seed, method, variant=variant, **kwargs)

    monkeypatch.setattr(runs, "train_and_evaluate", dies_on_the_third_point)
    out = tmp_path / name
    with pytest.raises(KeyboardInterrupt):
        run_experiment(Options(name, quick=True, out=out))
    table = (out / "table.md").read_text()
    assert all(f"| {v} |" in table for v in variants) and table.count("| standard |") == len(variants)
    assert (out / f"{name}.png").is_file()
