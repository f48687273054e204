"""A user's own log end to end: README's "Your own data" commands on a generated log, and the errors that point a
user at the right option (data options, --bits, train.lr, a missing run folder)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hashgnn.cli import LogLines, main

README = Path(__file__).resolve().parents[2] / "README.md"
# only to keep the test short on a 2-core machine: README's commands run as written, plus these
FAST_TRAIN = ["--epochs", "2", "--batch-size", "512", "--no-progress", "--set", "train.threads=1"]


def _cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code or 0


def _section_blocks(lang: str) -> list[str]:
    text = README.read_text()
    section = text.split("## Your own data", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{lang}\n(.*?)```", section, re.S)


def _write_log(folder: Path) -> None:
    """300 users (u0 ..) and 200 items (sku-0 ..) in communities, with ratings and timestamps."""
    from hashgnn.data.synth import SynthConfig, generate_interactions

    inter = generate_interactions(SynthConfig(n_users=300, n_items=200, n_interactions=6000, n_communities=6,
                                              min_user_degree=5, seed=4))
    frame = pd.DataFrame({"user_id": [f"u{u}" for u in inter.user_ids[inter.users]],
                          "sku": [f"sku-{i}" for i in inter.item_ids[inter.items]],
                          "stars": np.random.default_rng(0).integers(1, 6, len(inter)), "ts": inter.timestamps})
    frame.to_csv(folder / "my_log.csv", index=False)
    frame.to_parquet(folder / "my_log.parquet")


def test_readme_own_data_section_runs_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write_log(tmp_path)
    (bash,) = _section_blocks("bash")
    commands = [shlex.split(line, comments=True) for line in bash.splitlines() if line.strip()]
    assert [c[:2] for c in commands] == [["hashgnn", "data"], ["hashgnn", "train"], ["hashgnn", "train"],
                                         ["hashgnn", "recommend"], ["hashgnn", "recommend"], ["hashgnn", "export"]]
    for command in commands:
        args = command[1:] + (FAST_TRAIN if command[1] == "train" else [])
        assert _cli(args) == 0, command
    out = capsys.readouterr().out
    assert re.search(r"popularity\s+│\s+standard", out)
    assert "code health: users:" in out
    assert "top-10 for user u123" in out and "10 items most similar to sku-9" in out
    results = json.loads((tmp_path / "runs/mine/results.json").read_text())
    assert set(results["popularity"]) == {"standard"} and results["popularity"]["standard"]["recall@50"] > 0
    health = results["health"]
    with np.load(tmp_path / "runs/mine/split.npz") as parts:
        n_train = len(parts["train"])
    assert health["items"]["count"] == 200 and health["steps"] == 2 * -(-n_train // 512)  # 2 epochs
    assert isinstance(health["warnings"], list)
    liked = json.loads((tmp_path / "runs/mine-liked/config.json").read_text())["data"]
    assert (liked["rating_col"], liked["min_rating"]) == ("stars", 4.0)
    assert (tmp_path / "runs/mine/export-faiss/items.faiss").is_file()


def test_readme_own_data_python_block_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_log(tmp_path)
    (code,) = _section_blocks("python")
    code = code.replace("HashGNN(overrides={", "HashGNN(epochs=2, batch_size=512, overrides={\"train.threads\": 1, ")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README's own example
    assert len(scope["items"]) == 10 and all(i.startswith("sku-") for i in scope["items"])
    assert len(scope["similar"]) == 5 and "sku-9" not in list(scope["similar"])


def test_missing_columns_say_which_option_names_them(tmp_path, capsys):
    _write_log(tmp_path)
    assert _cli(["train", "--dataset", str(tmp_path / "my_log.csv"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "missing column(s) ['user', 'item']" in err and "'user_id', 'sku'" in err
    assert "--user-col / --item-col" in err and "--set data.user_col=NAME" in err


@pytest.mark.parametrize(("args", "message"), [
    (["--dataset", "movielens-100k", "--set", "data.user_col=uid"],
     "data.user_col='uid' (--user-col): only read from a CSV/TSV/Parquet file, but 'movielens-100k' is a registered"),
    (["--dataset", "movielens-100k", "--min-rating", "4"], "data.min_rating=4.0 (--min-rating)"),
    (["--dataset", "x.csv", "--bits", "0"], "model.n_bits must be a positive multiple of 8, got 0"),
    (["--dataset", "x.csv", "--set", "train.lr=-1"], "train.lr must be > 0, got -1"),
])
def test_bad_settings_name_the_setting(args, message, tmp_path, capsys):
    assert _cli(["train", *args, "--out", str(tmp_path / "r")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err
    assert not (tmp_path / "r").exists()


def test_evaluate_names_a_missing_folder(tmp_path, capsys):
    assert _cli(["evaluate", str(tmp_path / "nonexistent")]) == 2
    err = capsys.readouterr().err
    assert "nonexistent: no such run directory" in err and "config.json" not in err


def test_progress_bars_in_a_log_become_whole_lines():
    import io

    sink = io.StringIO()
    log = LogLines(sink, every=3600)
    log.write("\repoch 1/3:  10%|#  | 1/10")
    log.write("\repoch 1/3:  20%|## | 2/10")  # within the interval: dropped
    log.write("\r" + " " * 20 + "\r")  # a bar clearing itself
    log.write("epoch=1 valid_recall@50=0.1\n")
    assert sink.getvalue() == "epoch 1/3:  10%|#  | 1/10\nepoch=1 valid_recall@50=0.1\n"
    assert "\r" not in sink.getvalue()


def test_the_default_run_on_a_small_log_trains_its_codes_and_beats_popularity(tmp_path, capsys):
    """Issue 33: on a log of one's own, `hashgnn train` with nothing but the data columns must train codes that
    tell items apart and rank better than a popularity count. Before schedules counted epochs and the batch
    adapted, 8192-edge batches gave such a log a handful of steps per epoch, p never left 1 and the codes
    collapsed to a few dozen patterns that ranked below popularity."""
    _write_log(tmp_path)
    run = tmp_path / "runs" / "default"
    args = ["train", "--dataset", str(tmp_path / "my_log.csv"), "--user-col", "user_id", "--item-col", "sku",
            "--rating-col", "stars", "--timestamp-col", "ts", "--out", str(run), "--no-progress",
            "--set", "train.threads=1"]  # threads only: one core of a busy machine, the same training
    assert _cli(args) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["batch_size"] == 64  # adapted to ~3,800 train edges (60 steps an epoch), and recorded
    assert config["model"]["schedule_unit"] == "epoch"
    results = json.loads((run / "results.json").read_text())
    health = results["health"]
    # the bar, ≥ 500 distinct codes for 1,000 items, at this log's size (was 22 codes for 200 items)
    assert health["items"]["distinct_codes"] >= 0.5 * health["items"]["count"]
    assert not any("item codes:" in w for w in health["warnings"])
    assert health["users"]["distinct_codes"] >= 0.4 * health["users"]["count"]  # was 22 for 300 users
    hamming = results["test"]["hamming"]["standard"]["recall@50"]
    popularity = results["popularity"]["standard"]["recall@50"]
    assert hamming >= 1.15 * popularity, (hamming, popularity)  # measured: 0.687 against 0.534
    assert "code health: users:" in capsys.readouterr().out
