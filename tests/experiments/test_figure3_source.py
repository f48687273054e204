"""``hashgnn experiment figure3 --from-results DIR`` takes table2's hamming rows instead of training again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from hashgnn.errors import ConfigError
from hashgnn.experiments import Options, run_experiment
from hashgnn.experiments.report import summarize

pytestmark = pytest.mark.dataset("movielens-100k")

METHODS = ["LSH", "HashGNN"]


def _cli(*args: str) -> None:
    from hashgnn.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["experiment", *args])
    assert exc.value.code in (0, None)


@pytest.fixture(scope="module")
def table2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quick table2 of LSH and HashGNN (one seed), shared by the tests: the source they read, never write."""
    out = tmp_path_factory.mktemp("source") / "t2"
    _cli("table2", "--quick", "--methods", ",".join(METHODS), "--out", str(out))
    return out


def _figure3(source: Path, out: Path, **kw) -> Path:
    run_experiment(Options("figure3", quick=True, methods=kw.pop("methods", METHODS), out=out, source=source, **kw))
    return out


def _copy(source: Path, to: Path) -> Path:
    """A copy of the source to edit (the module's source stays as table2 wrote it)."""
    return Path(shutil.copytree(source, to))


def test_figure3_from_results_writes_the_hamming_rows_as_a_trained_figure3_would(table2: Path, tmp_path: Path):
    out = tmp_path / "f3"
    _cli("figure3", "--quick", "--methods", ",".join(METHODS), "--from-results", str(table2), "--out", str(out))
    source = pd.read_csv(table2 / "results.csv")
    hamming = source[source["mode"] == "hamming"].reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), hamming)
    pd.testing.assert_frame_equal(pd.read_csv(out / "summary.csv"), summarize(hamming))
    for name in ("runs.csv", "table.md", "command.txt", "experiment.json", "figure3_standard.png",
                 "figure3_paper.png"):
        assert (out / name).is_file(), name
    assert f"runs of the table2 experiment in `{table2}`" in (out / "table.md").read_text()
    assert str(table2) in (out / "command.txt").read_text().splitlines()[1]
    assert json.loads((out / "experiment.json").read_text())["source"] == str(table2)
    # what figure3 would have trained itself: the same rows, byte for byte, and the same run configs
    trained = tmp_path / "trained"
    _cli("figure3", "--quick", "--methods", ",".join(METHODS), "--out", str(trained))
    assert (trained / "results.csv").read_bytes() == (out / "results.csv").read_bytes()
    assert pd.read_csv(trained / "runs.csv")["config"].tolist() == pd.read_csv(out / "runs.csv")["config"].tolist()


def test_a_source_filled_by_several_invocations_is_cited_with_all_of_them(table2: Path, tmp_path: Path):
    source = _copy(table2, tmp_path / "t2")
    first = (source / "command.txt").read_text().splitlines()[0]
    second = first + " --methods HashGNN"
    (source / "command.txt").write_text(f"{first}\n{second}\n")
    out = _figure3(source, tmp_path / "f3")
    assert f"its 2 invocations in `{source / 'command.txt'}`" in (out / "table.md").read_text()
    assert json.loads((out / "experiment.json").read_text())["source_commands"] == [first, second]
    # rebuilt once the source holds a third invocation: the note is replaced, never stacked
    (source / "command.txt").write_text(f"{first}\n{second}\n{first} --methods LSH\n")
    _figure3(source, out)
    lines = (out / "command.txt").read_text().splitlines()
    notes = [line for line in lines if line.startswith("#")]
    assert len(notes) == 1 and "its 3 invocations" in notes[0]
    assert len(lines) == 2  # the same figure3 command once, then the note


def test_other_settings_missing_methods_datasets_or_files_are_one_line_errors(table2: Path, tmp_path: Path):
    out = tmp_path / "f3"
    with pytest.raises(ConfigError, match=r"runs\.csv: 2 run\(s\).*model\.activation: 'leaky_relu' != 'relu'"):
        _figure3(table2, out, sets=["model.activation=leaky_relu"])
    assert not out.exists()  # checked before anything is written
    with pytest.raises(ConfigError, match=r"no hamming rows of HashNet on movielens-100k; .*: LSH, HashGNN"):
        _figure3(table2, out, methods=["LSH", "HashNet"])
    with pytest.raises(ConfigError, match=r"no hamming rows of dataset movielens-1m; .*: movielens-100k"):
        _figure3(table2, out, datasets=["movielens-1m"])
    with pytest.raises(ConfigError, match="no results.csv there"):
        _figure3(tmp_path / "nothing", out)
    with pytest.raises(ConfigError, match="--out must be another folder"):
        _figure3(table2, table2)
    with pytest.raises(ConfigError, match="only for figure3"):
        run_experiment(Options("table2", quick=True, out=out, source=table2))


def _add_seed_1(source: Path) -> None:
    """Give every run of ``source`` a seed-1 twin (values + 1) as if table2 had run with --seeds 2."""
    res, runs = pd.read_csv(source / "results.csv"), pd.read_csv(source / "runs.csv")
    res1, runs1 = res.assign(seed=1, value=res["value"] + 1), runs.assign(seed=1)
    runs1["config"] = [json.dumps({**json.loads(c), "seed": 1}) for c in runs["config"]]
    pd.concat([res, res1]).to_csv(source / "results.csv", index=False)
    pd.concat([runs, runs1]).to_csv(source / "runs.csv", index=False)


def test_all_source_seeds_unless_seeds_is_given(table2: Path, tmp_path: Path):
    source = _copy(table2, tmp_path / "two-seeds")
    _add_seed_1(source)
    summary = pd.read_csv(_figure3(source, tmp_path / "all") / "summary.csv")
    assert (summary["n"] == 2).all()
    assert set(pd.read_csv(_figure3(source, tmp_path / "one", seeds=1) / "results.csv")["seed"]) == {0}
    with pytest.raises(ConfigError, match=r"--seeds 3 needs seeds 0\.\.2 of LSH on movielens-100k, seed\(s\) \[2\]"):
        _figure3(source, tmp_path / "three", seeds=3)


def _edit_configs(source: Path, section: str, key: str, value: object) -> None:
    runs = pd.read_csv(source / "runs.csv")
    configs = [json.loads(c) for c in runs["config"]]
    for c in configs:
        c[section][key] = value
    runs["config"] = [json.dumps(c) for c in configs]
    runs.to_csv(source / "runs.csv", index=False)


def test_only_the_thread_count_may_differ(table2: Path, tmp_path: Path):
    source = _copy(table2, tmp_path / "threads")
    _edit_configs(source, "train", "threads", 2)
    assert pd.read_csv(_figure3(source, tmp_path / "ok") / "results.csv")["seed"].eq(0).all()
    _edit_configs(source, "eval", "n_candidates", 300)  # validation picks the best epoch with it: it matters
    with pytest.raises(ConfigError, match=r"eval\.n_candidates: 200 != 300"):
        _figure3(source, tmp_path / "bad")
    meta = json.loads((source / "experiment.json").read_text())
    meta["config"]["method_settings"] = {"HashGNN": {"overrides": ["train.lam=0.3"]}}
    (source / "experiment.json").write_text(json.dumps(meta))
    _edit_configs(source, "eval", "n_candidates", 200)
    with pytest.raises(ConfigError, match="method_settings of HashGNN differ"):
        _figure3(source, tmp_path / "settings")
