"""Resource limits: a run that cannot fit in memory fails before the graph and the model are built, with the
estimate in the message (not an OOM kill)."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from hashgnn import resources
from hashgnn.config import RunConfig
from hashgnn.errors import ConfigError, HashGNNError, ResourceError

from .conftest import tiny_interactions, tiny_model


def test_estimate_grows_with_the_data_and_the_model():
    cfg = RunConfig()
    small = resources.estimate_training_memory(6040, 3706, 800_000, cfg).total
    big = resources.estimate_training_memory(60_400, 37_060, 8_000_000, cfg).total
    wide = resources.estimate_training_memory(6040, 3706, 800_000, RunConfig().override(["model.n_bits=256"]))
    assert 5 * small < big and wide.total > small
    assert 50e6 < small < 8e9  # MovieLens-1M scale: tens of MB to a few GB, never absurd


def test_check_memory_passes_and_fails_on_the_estimate():
    cfg = RunConfig()
    est = resources.check_memory(100, 100, 1000, cfg, available=1 << 40)
    assert est.total > 0
    with pytest.raises(ResourceError) as info:
        resources.check_memory(10_000_000, 5_000_000, 2_000_000_000, cfg, available=8 << 30)
    msg = str(info.value)
    assert "needs about" in msg and "GiB" in msg and "8.0 GiB is available" in msg
    assert "10,000,000 users" in msg and "2,000,000,000 train edges" in msg
    assert "HASHGNN_MEMORY_LIMIT" in msg
    assert isinstance(info.value, HashGNNError)


def test_trainer_fails_early_with_a_fake_low_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The check runs before the graph is built: building it must never be reached."""
    from hashgnn.data import graph as graph_mod

    def boom(*args, **kwargs):
        raise AssertionError("the graph was built despite the memory check")

    monkeypatch.setattr(graph_mod.BipartiteGraph, "from_interactions", classmethod(boom))
    monkeypatch.setenv(resources.MEMORY_LIMIT_ENV, "1K")
    run = tmp_path / "run"
    with pytest.raises(ResourceError, match=r"needs about .* but only 1\.0 KiB is available"):
        tiny_model().fit(tiny_interactions(), run_dir=run, progress=False)
    assert not run.exists()


def test_cli_reports_memory_error_in_one_line(tiny_csv_path: Path, tmp_path: Path, capsys, monkeypatch):
    from hashgnn.cli import main

    monkeypatch.setenv(resources.MEMORY_LIMIT_ENV, "10K")
    monkeypatch.setenv("COLUMNS", "500")
    with pytest.raises(SystemExit) as info:
        main(["train", "--dataset", str(tiny_csv_path), "--out", str(tmp_path / "run"), "--no-progress"])
    assert info.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and "needs about" in err[0] and "10.0 KiB" in err[0]


def test_limit_env_parsing(monkeypatch):
    assert resources.parse_bytes("512M") == 512 << 20
    assert resources.parse_bytes("1.5G") == int(1.5 * (1 << 30))
    assert resources.parse_bytes("2GiB") == 2 << 30
    assert resources.parse_bytes("12345") == 12345
    with pytest.raises(ConfigError, match="HASHGNN_MEMORY_LIMIT"):
        resources.parse_bytes("lots")
    monkeypatch.setenv(resources.MEMORY_LIMIT_ENV, "off")
    assert resources.available_memory() is None
    resources.check_memory(10**9, 10**9, 10**12, RunConfig())  # disabled: no error
    monkeypatch.delenv(resources.MEMORY_LIMIT_ENV)
    avail = resources.available_memory()
    assert avail is None or avail > 0


def test_tiny_training_passes_the_real_check(tmp_path: Path, monkeypatch):
    """The trainer runs the check with the real sizes and this machine's real limit, and a tiny run passes it."""
    from hashgnn.training import trainer as trainer_mod

    monkeypatch.delenv(resources.MEMORY_LIMIT_ENV, raising=False)
    calls = []

    def recording_check(n_users, n_items, n_edges, config, *args, **kwargs):
        est = resources.check_memory(n_users, n_items, n_edges, config, *args, **kwargs)
        calls.append((n_users, n_items, n_edges, est.total))
        return est

    monkeypatch.setattr(trainer_mod, "check_memory", recording_check)
    inter = tiny_interactions()
    model = tiny_model(epochs=1).fit(inter, progress=False)
    assert len(calls) == 1
    n_users, n_items, n_edges, total = calls[0]
    assert (n_users, n_items) == (inter.n_users, inter.n_items)
    assert 0 < n_edges == len(model.split.train_idx)
    available = resources.available_memory()
    assert available is None or total <= available
    assert len(model.result.history) == 1  # it trained, not only passed the check


def test_malloc_setting_applies_on_glibc_and_can_be_turned_off(monkeypatch):
    apply = resources.retain_freed_memory.__wrapped__  # uncached: the public function applies once per process
    monkeypatch.setenv(resources.MALLOC_ENV, "default")
    assert apply() is False
    monkeypatch.delenv(resources.MALLOC_ENV)
    assert apply() is (platform.libc_ver()[0] == "glibc")
