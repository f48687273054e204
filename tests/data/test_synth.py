"""Synthetic interaction logs (hashgnn.data.synth) and the ``data-synth`` command, at small sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hashgnn.data.splits import temporal_split
from hashgnn.data.synth import (
    SynthConfig,
    generate,
    generate_interactions,
    load_synth,
    load_synth_graph,
    save_synth,
)
from hashgnn.errors import ConfigError, DataError

CFG = SynthConfig(n_users=2_000, n_items=5_000, n_interactions=40_000, n_communities=10, seed=3)


@pytest.fixture(scope="module")
def synth():  # noqa: ANN201 - a SyntheticGraph
    return generate(CFG)


def test_sizes_and_ids(synth) -> None:  # noqa: ANN001
    inter = synth.interactions
    assert inter.n_users == CFG.n_users and inter.n_items == CFG.n_items
    assert len(inter) == CFG.n_interactions == synth.requested
    assert inter.users.dtype == np.int64 and inter.items.dtype == np.int64
    assert inter.users.min() >= 0 and inter.users.max() < CFG.n_users
    assert inter.items.min() >= 0 and inter.items.max() < CFG.n_items
    assert inter.user_degrees().min() >= CFG.min_user_degree
    assert inter.item_degrees().min() >= CFG.min_item_degree  # no isolated item
    assert len(synth.user_community) == CFG.n_users and len(synth.item_community) == CFG.n_items


def test_no_duplicate_pairs_and_sorted(synth) -> None:  # noqa: ANN001
    inter = synth.interactions
    keys = inter.users * CFG.n_items + inter.items
    assert np.all(np.diff(keys) > 0)  # strictly increasing: sorted by (user, item) and distinct
    assert len(inter.deduplicated()) == len(inter)


def test_degree_skew(synth) -> None:  # noqa: ANN001
    inter = synth.interactions
    for deg in (inter.user_degrees(), inter.item_degrees()):
        assert deg.max() >= 8 * max(1.0, float(np.median(deg)))


def test_community_structure(synth) -> None:  # noqa: ANN001
    share = synth.within_community_share()
    # in_community=0.8 plus 1/C of the rest; a random graph would give ~1/C = 0.1
    assert share > 0.7
    counts = np.bincount(synth.user_community, minlength=10)
    assert counts.min() >= CFG.n_users // 10  # balanced communities


def test_timestamps_span_seven_days_and_temporal_split_works(synth) -> None:  # noqa: ANN001
    inter = synth.interactions
    ts = inter.timestamps
    assert ts is not None and ts.dtype == np.int64
    assert ts.min() >= CFG.start_time and ts.max() < CFG.start_time + 7 * 86400
    split = temporal_split(inter, test_days=1.0, valid_ratio=0.1)
    test_share = len(split.test_idx) / len(inter)
    assert 0.1 < test_share < 0.2  # about one day in seven


def test_determinism() -> None:
    small = SynthConfig(n_users=300, n_items=500, n_interactions=4_000, seed=7)
    a, b = generate_interactions(small), generate_interactions(small)
    assert np.array_equal(a.users, b.users) and np.array_equal(a.items, b.items)
    assert np.array_equal(a.timestamps, b.timestamps)
    c = generate_interactions(SynthConfig(n_users=300, n_items=500, n_interactions=4_000, seed=8))
    assert not np.array_equal(a.items, c.items)


def test_min_user_degree_and_lognormal_popularity() -> None:
    cfg = SynthConfig(n_users=200, n_items=3_000, n_interactions=6_000, min_user_degree=10,
                      item_popularity="lognormal", item_exponent=1.5, seed=1)
    inter = generate_interactions(cfg)
    assert len(inter) == 6_000
    assert inter.user_degrees().min() >= 10


def test_dense_request_still_meets_target() -> None:
    """Many duplicates (few items, heavy users): the redraw rounds still reach the exact count."""
    for seed in range(3):
        cfg = SynthConfig(n_users=50, n_items=100, n_interactions=2_000, n_communities=2, seed=seed)
        inter = generate_interactions(cfg)  # 40 % of all pairs: most draws are duplicates
        assert len(inter) == 2_000
        assert len(inter.deduplicated()) == 2_000


@pytest.mark.parametrize("kwargs", [
    {"n_users": 0}, {"n_interactions": 0}, {"n_communities": 10**9}, {"in_community": 1.5},
    {"item_popularity": "pareto"}, {"min_user_degree": 1000}, {"days": 0}, {"n_interactions": 10**8},
])
def test_bad_config(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        generate(SynthConfig(**{**dict(n_users=100, n_items=100, n_interactions=500), **kwargs}))


def test_save_load_roundtrip(synth, tmp_path: Path) -> None:  # noqa: ANN001
    path = save_synth(synth, tmp_path / "sub" / "s.npz")
    assert path.is_file() and not list(path.parent.glob(".*.tmp"))  # atomic: no temp file left
    back = load_synth_graph(path)
    assert back.config == synth.config and back.requested == synth.requested
    inter = load_synth(path)
    orig = synth.interactions
    for name in ("users", "items", "timestamps", "user_ids", "item_ids"):
        assert np.array_equal(getattr(inter, name), getattr(orig, name))
    assert inter.users.dtype == np.int64 and inter.name == orig.name
    assert np.array_equal(back.user_community, synth.user_community)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        load_synth(tmp_path / "missing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, users=np.arange(3))
    with pytest.raises(DataError, match="not a hashgnn synthetic"):
        load_synth(other)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(DataError):
        load_synth(garbage)
    with pytest.raises(ConfigError):
        save_synth(generate(SynthConfig(n_users=10, n_items=10, n_interactions=20)), tmp_path / "x.csv")


def test_cli_data_synth(tmp_path: Path) -> None:
    import typer

    from hashgnn.cli.scale import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps typer in multi-command mode
    out = tmp_path / "cli.npz"
    result = CliRunner().invoke(app, ["data-synth", "--users", "300", "--items", "400", "--interactions",
                                      "3000", "--out", str(out), "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert "3,000" in result.output
    inter = load_synth(out)
    assert len(inter) == 3_000 and inter.n_users == 300 and inter.n_items == 400
