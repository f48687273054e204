"""The popularity reference row and the code health report (hashgnn.evaluation.health)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from hashgnn.config import RunConfig
from hashgnn.data.interactions import Interactions
from hashgnn.data.splits import Split, random_split
from hashgnn.evaluation import evaluate_part
from hashgnn.evaluation.health import (
    code_stats,
    describe,
    evaluate_popularity,
    health_report,
    items_in_top_k,
    popularity_embeddings,
)
from hashgnn.index import pack_codes
from hashgnn.models.base import Embeddings

N_USERS, N_ITEMS, K = 80, 60, 16


@pytest.fixture(scope="module")
def split() -> Split:
    rng = np.random.default_rng(3)
    users = rng.integers(0, N_USERS, 2400)
    items = np.minimum(rng.zipf(1.5, len(users)) - 1, N_ITEMS - 1)  # a popular head, a long tail
    inter = Interactions.from_raw(users, items, name="zipf")
    return random_split(inter, seed=1)


def _embeddings(user_signs: np.ndarray, item_signs: np.ndarray) -> Embeddings:
    rng = np.random.default_rng(0)
    return Embeddings(rng.normal(size=(len(user_signs), 4)).astype(np.float32),
                      rng.normal(size=(len(item_signs), 4)).astype(np.float32),
                      pack_codes(user_signs), pack_codes(item_signs), user_signs.shape[1])


def _random_signs(n: int, seed: int) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random((n, K)) < 0.5, -1, 1)


def _collapsed(split: Split) -> Embeddings:
    inter = split.interactions
    return _embeddings(np.ones((inter.n_users, K)), np.ones((inter.n_items, K)))


def test_code_stats_of_collapsed_and_balanced_codes():
    same = code_stats(pack_codes(np.ones((10, K))), K)
    assert same == {"count": 10, "distinct_codes": 1, "distinct_share": 0.1, "constant_bits": K, "bit_balance": 0.0}
    # every bit set for exactly half the nodes, every code different
    half = np.array([[1 if (row >> (b % 4)) & 1 else -1 for b in range(K)] for row in range(16)])
    stats = code_stats(pack_codes(half), K)
    assert stats["distinct_codes"] == 16 and stats["constant_bits"] == 0 and stats["bit_balance"] == 1.0


def test_popularity_ranks_unseen_items_by_their_count_in_train_and_valid():
    # items 0 > 1 > 2 in popularity; user 0 has item 0 in train, so its first pick must be item 1
    train = [(1, 0), (2, 0), (3, 0), (1, 1), (2, 1), (0, 0)]
    valid = [(3, 1), (1, 2)]
    test = [(0, 1), (3, 2), (2, 2)]
    pairs = train + valid + test
    inter = Interactions(np.array([u for u, _ in pairs]), np.array([i for _, i in pairs]), np.arange(4),
                         np.arange(3))
    s = Split(inter, np.arange(6), np.arange(6, 8), np.arange(8, 11))
    assert popularity_embeddings(s, "test").item_z[:, 0].tolist() == [4.0, 3.0, 1.0]
    assert popularity_embeddings(s, "valid").item_z[:, 0].tolist() == [4.0, 2.0, 0.0]  # train only
    res = evaluate_popularity(s, "test", ns=(1,))
    assert set(res) == {"standard"}
    # user 0: unseen {1, 2} → 1 is a hit; user 2: unseen {2} → hit; user 3: unseen {2} → hit
    assert res["standard"]["recall@1"] == 1.0


def test_popularity_matches_a_direct_count_ranking(split):
    res = evaluate_popularity(split, "test", ns=(5, 10))["standard"]
    direct = evaluate_part(popularity_embeddings(split), split, "test", modes=("continuous",), ns=(5, 10),
                           protocols=("standard",))["continuous"]["standard"]
    assert res == direct
    assert 0.0 < res["recall@10"] < 1.0


@pytest.mark.parametrize(("sets", "steps", "unit", "words"), [
    ([], 2, "epoch", ["every 3.25 epochs", "model.schedule_unit=epoch", "p reaches 0.5 after 45.5 epochs",
                      "--set model.activation=leaky_relu"]),
    (["model.schedule_unit=step", "train.batch_size=8192"], 30, "step",
     ["--set model.p_every=2 (steps between decays)", "every 250 steps", "model.schedule_unit=step",
      "p reaches 0.5 after 3500 steps", "count the schedule in epochs", "--set model.schedule_unit=epoch"]),
])
def test_collapsed_codes_warn_with_the_cause_and_the_schedule_to_set(split, sets, steps, unit, words):
    cfg = RunConfig().override(sets)
    emb = _collapsed(split)
    report = health_report(emb, split, cfg, {"hamming": {"standard": {"recall@50": 0.9}}},
                           {"standard": {"recall@50": 0.1}}, steps=steps)
    assert report["items"]["distinct_codes"] == 1 and report["items"]["constant_bits"] == K
    assert report["schedule_end"] == {"p": 1.0}
    (warning,) = report["warnings"]
    assert "codes collapsed" in warning and f"{steps} steps" in warning and "p at 1.00" in warning
    assert "--batch-size" in warning  # the batch the run had, so the steps per epoch can be read
    assert all(w in warning for w in words), warning
    # the p_every it suggests, in the run's unit, takes p to 0.5 within the run's length
    every = float(re.search(r"--set model.p_every=([0-9.e-]+) \(.*?(\w+) between decays\)", warning).group(1))
    per_epoch = -(-len(split.train_idx) // cfg.train.batch_for(len(split.train_idx)))
    ran = steps if unit == "step" else steps / per_epoch
    assert every > 0 and 0.95 ** int(ran / every) < 0.5
    # the same k items top every user's Hamming list: coverage is k over the items, up to the exclusions
    assert report["items_in_top_k"]["share"] <= (cfg.eval.valid_n + 20) / split.interactions.n_items


def test_collapse_advice_names_leaky_relu_only_for_a_relu_sage_encoder(split):
    def warning(sets: list[str]) -> str:
        report = health_report(_collapsed(split), split, RunConfig().override(sets),
                               {"hamming": {"standard": {"recall@50": 0.9}}}, {"standard": {"recall@50": 0.1}},
                               steps=2)
        return report["warnings"][0]

    assert "model.activation=leaky_relu" in warning([])
    assert "model.activation=leaky_relu" not in warning(["model.activation=leaky_relu"])
    assert "model.activation=leaky_relu" not in warning(["model.encoder=lightgcn"])


def test_the_schedule_end_counts_epochs_from_the_runs_batch(split):
    n_train = len(split.train_idx)
    cfg = RunConfig().override(["model.p_every=1"])
    per_epoch = -(-n_train // cfg.train.batch_for(n_train))  # the batch the run adapted to so few edges
    assert per_epoch > 1
    report = health_report(_collapsed(split), split, cfg, {}, {}, steps=3 * per_epoch)
    assert report["schedule_end"]["p"] == pytest.approx(0.95 ** 3)


def test_healthy_codes_give_no_collapse_warning_and_wider_coverage(split):
    inter = split.interactions
    emb = _embeddings(_random_signs(inter.n_users, 1), _random_signs(inter.n_items, 2))
    cfg = RunConfig()
    report = health_report(emb, split, cfg, {"hamming": {"standard": {"recall@50": 0.5}}},
                           {"standard": {"recall@50": 0.1}}, steps=20_000, k=10)
    assert report["warnings"] == []
    assert report["items"]["distinct_share"] > 0.9
    collapsed = items_in_top_k(_collapsed(split), split, "test", 10)
    assert report["items_in_top_k"]["share"] > 2 * collapsed
    lines = describe(report)
    assert any(line.startswith("items:") and "distinct codes" in line for line in lines)
    assert any("training steps: 20,000" in line for line in lines)


def test_a_model_that_does_not_beat_popularity_is_named(split):
    inter = split.interactions
    emb = _embeddings(_random_signs(inter.n_users, 1), _random_signs(inter.n_items, 2))
    cfg = RunConfig()
    results = {"hamming": {"standard": {"recall@50": 0.20}}, "continuous": {"standard": {"recall@50": 0.25}}}
    report = health_report(emb, split, cfg, results, {"standard": {"recall@50": 0.30}}, steps=None)
    (warning,) = report["warnings"]
    assert "no search mode beats the most-popular ranking" in warning
    assert "continuous Recall@50 0.2500 vs popularity 0.3000" in warning and "--epochs" in warning


def test_continuous_models_report_coverage_only(split):
    inter = split.interactions
    rng = np.random.default_rng(0)
    emb = Embeddings(rng.normal(size=(inter.n_users, 4)).astype(np.float32),
                     rng.normal(size=(inter.n_items, 4)).astype(np.float32))
    cfg = RunConfig()
    cfg = replace(cfg, model=replace(cfg.model, method="continuous"))
    report = health_report(emb, split, cfg, {}, {"standard": {"recall@50": 0.3}}, steps=10)
    assert "items" not in report and report["items_in_top_k"]["mode"] == "continuous"
    assert report["warnings"] == [] and report["schedule_end"] == {}


def test_a_schedule_ended_by_a_plateau_is_reported_at_its_floor_and_not_blamed(split):
    """A run whose validation plateau ended guided STE's schedule trained its last steps at p = p_min: the
    report says so, and a collapse warning names too little binary training, not a slow p schedule."""
    cfg = RunConfig()
    report = health_report(_collapsed(split), split, cfg, {}, {}, steps=50, schedule_ended_at=30)
    assert report["schedule_end"] == {"p": 0.0} and report["schedule_ended_at"] == 30
    (warning,) = report["warnings"]
    assert "iteration 30 of 50" in warning and "p_every" not in warning
    running = health_report(_collapsed(split), split, cfg, {}, {}, steps=50)
    assert running["schedule_end"]["p"] > 0.9 and "model.p_every" in running["warnings"][0]
