"""``hashgnn evaluate RUN_DIR [--candidates M]`` on a trained run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashgnn.cli import main


def _cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code or 0


@pytest.mark.dataset("movielens-100k")
def test_evaluate_with_every_item_as_candidate_makes_hies_equal_ces(tmp_path: Path):
    run = tmp_path / "run"
    assert _cli(["train", "--dataset", "movielens-100k", "--epochs", "1", "--out", str(run), "--no-progress",
                 "--no-evaluate", "--set", "train.batch_size=4096", "--set", "train.threads=1"]) == 0
    assert _cli(["evaluate", str(run), "--no-progress"]) == 0
    default = json.loads((run / "results.json").read_text())
    assert default["n_candidates"] == 200  # DEFAULT_CANDIDATES
    assert _cli(["evaluate", str(run), "--no-progress", "--candidates", "2000"]) == 0  # > 1,682 items
    every = json.loads((run / "results-M2000.json").read_text())
    assert every["n_candidates"] == 2000
    # every item is a candidate: the re-rank by z is CeS itself (same tie rule), for both protocols
    assert every["test"]["hierarchical"] == every["test"]["continuous"]
    assert default["test"]["hierarchical"] != every["test"]["hierarchical"]
    assert _cli(["evaluate", str(run), "--no-progress", "--candidates", "0"]) != 0


@pytest.mark.dataset("movielens-100k")
def test_evaluate_with_another_runs_embeddings_reranks_this_runs_hamming_candidates(tmp_path: Path):
    runs = {}
    for name, extra in (("codes", []), ("floats", ["--set", "model.method=continuous"]), ("other", [
            "--set", "model.method=continuous", "--set", "split.seed=7"])):
        runs[name] = tmp_path / name
        assert _cli(["train", "--dataset", "movielens-100k", "--epochs", "1", "--out", str(runs[name]),
                     "--no-progress", "--no-evaluate", "--set", "train.batch_size=4096", "--set", "train.threads=1",
                     *extra]) == 0
    assert _cli(["evaluate", str(runs["floats"]), "--no-progress"]) == 0
    assert _cli(["evaluate", str(runs["codes"]), "--no-progress", "--candidates", "2000", "--rerank-run",
                 str(runs["floats"])]) == 0
    cascade = json.loads((runs["codes"] / "results-M2000-rerank.json").read_text())
    floats = json.loads((runs["floats"] / "results.json").read_text())
    assert cascade["rerank_run"] == str(runs["floats"])
    # every item a candidate: re-ranking by the other run's embeddings is that run's own continuous search
    assert cascade["test"]["hierarchical"] == floats["test"]["continuous"]
    assert _cli(["evaluate", str(runs["codes"]), "--no-progress", "--rerank-run", str(runs["other"])]) != 0
