"""``hashgnn experiment NAME ... --status`` prints the planned runs and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from hashgnn.cli import main


@pytest.mark.dataset("movielens-100k")
def test_experiment_status_prints_the_plan_without_training(tmp_path: Path, capsys):
    out = tmp_path / "t"
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "figure7", "--quick", "--out", str(out), "--status"])
    assert (exc.value.code or 0) == 0
    text = capsys.readouterr().out
    assert "| movielens-100k | 0 | dynamic | HashGNN | to train |" in text
    assert "figure7 → " in text and "8 runs planned; 8 to train" in text  # dynamic + 7 fixed p
    assert not out.exists()
