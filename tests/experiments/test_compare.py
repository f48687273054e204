"""``hashgnn compare``: several run directories in one table, grouped by their settings."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hashgnn.config import RunConfig
from hashgnn.errors import ConfigError
from hashgnn.experiments.compare import auto_labels, compare_runs, parse_labels
from hashgnn.training.rundir import RunDir


def _run(path: Path, method: str, seed: int, recall: float, **extra: object) -> Path:
    """A run directory holding only what compare reads: config, test results, training seconds."""
    cfg = RunConfig().override([f"model.method={method}", f"seed={seed}", "train.threads=1",
                                *[f"{k}={v}" for k, v in extra.items()]]).validate()
    rd = RunDir(path)
    rd.path.mkdir(parents=True)
    rd.write_config(cfg)
    modes = ["continuous"] if method == "continuous" else ["hamming", "hierarchical", "continuous"]
    test = {mode: {p: {"recall@50": recall - i * 0.01, "ndcg@50": recall / 2} for p in ("standard", "paper")}
            for i, mode in enumerate(modes)}
    rd.write_json("results.json", {"test": test})
    rd.write_json("training.json", {"seconds": 100.0 + 10 * seed, "best_valid_metric": recall + 0.05})
    return path


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    return [_run(tmp_path / "gs0", "continuous", 0, 0.30), _run(tmp_path / "gs1", "continuous", 1, 0.32),
            _run(tmp_path / "h0", "guided", 0, 0.27), _run(tmp_path / "h1", "guided", 1, 0.29)]


def test_runs_are_grouped_by_the_settings_that_differ_and_averaged_over_seeds(runs: list[Path]):
    cmp = compare_runs(runs)
    assert cmp.labels == {str(runs[0]): "model.method=continuous", str(runs[1]): "model.method=continuous",
                          str(runs[2]): "model.method=guided", str(runs[3]): "model.method=guided"}
    s = cmp.summary().set_index(["label", "mode", "protocol", "metric"])
    cell = s.loc[("model.method=guided", "hierarchical", "standard", "recall@50")]
    assert cell["mean"] == pytest.approx(0.27) and cell["n"] == 2  # (0.26 + 0.28) / 2
    text = cmp.markdown(baseline="model.method=continuous")
    # HieS's 0.270 against the continuous label's best, 0.310: 87.1 %
    assert "| model.method=guided | HieS | 2 | 0.270 ± 0.014 |" in text and "87.1%" in text
    assert "| 105 |" in text  # mean train seconds of seeds 0 and 1 (100 s and 110 s)
    # the validation figure each run was selected on, beside the test figures: (0.32 + 0.34) / 2
    assert "| 0.330 ± 0.014 |" in text and "model.method=guided: HieS Recall@50" in text
    valid = cmp.validation().set_index("label")
    assert valid.loc["model.method=continuous", "valid_metric"] == "CeS Recall@50"
    assert valid.loc["model.method=guided", "mean"] == pytest.approx(0.33)


def test_explicit_labels_and_settings_that_do_not_split_groups(tmp_path: Path, runs: list[Path]):
    other_threads = _run(tmp_path / "h2", "guided", 2, 0.28, **{"train.threads": 2})
    assert len(set(auto_labels({str(r): RunDir(r).read_config() for r in [*runs[2:], other_threads]}).values())) == 1
    labels = parse_labels([f"GraphSage={runs[0]},{runs[1]}/", f"HashGNN={runs[2]},{runs[3]}"])
    text = compare_runs(runs, labels).markdown(protocol="paper", baseline="GraphSage")
    assert "| HashGNN | HamR | 2 |" in text and "`GraphSage`:" in text


def test_bad_inputs_are_one_line_errors(tmp_path: Path, runs: list[Path]):
    with pytest.raises(ConfigError, match="no results.json yet; evaluate it first"):
        bare = tmp_path / "bare"
        RunDir(bare).path.mkdir()
        RunDir(bare).write_config(RunConfig())
        compare_runs([runs[0], bare])
    with pytest.raises(ConfigError, match="not a run directory"):
        compare_runs([tmp_path / "nothing"])
    with pytest.raises(ConfigError, match="different datasets"):
        compare_runs([runs[0], _run(tmp_path / "ml", "guided", 0, 0.2, **{"data.dataset": "movielens-100k"})])
    with pytest.raises(ConfigError, match="label every run or none"):
        compare_runs(runs, parse_labels([f"A={runs[0]}"]))
    with pytest.raises(ConfigError, match="expected NAME=RUN"):
        parse_labels(["no-equals-sign"])
    with pytest.raises(ConfigError, match="is not a label"):
        compare_runs(runs).markdown(baseline="GraphSage")
    with pytest.raises(ConfigError, match="no results under protocol 'other'"):
        compare_runs(runs).markdown(protocol="other")


def test_cli_prints_and_writes_the_table(tmp_path: Path, runs: list[Path], capsys):
    from hashgnn.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["compare", *map(str, runs), "--out", str(tmp_path / "cmp"), "--baseline", "model.method=continuous"])
    assert exc.value.code in (0, None)
    assert "model.method=guided" in capsys.readouterr().out
    assert {p.name for p in (tmp_path / "cmp").iterdir()} >= {"runs.csv", "summary.csv", "validation.csv",
                                                               "table.md", "compare.json"}
    rows = pd.read_csv(tmp_path / "cmp" / "runs.csv")
    assert {"best_valid", "valid_metric", "commit", "dirty"} <= set(rows.columns)
    meta = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert meta["command"].startswith("hashgnn") and meta["cpu"]["model"] and "git_dirty" in meta
