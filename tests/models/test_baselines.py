"""Baselines: each one's defining mechanism, and the recommender contract every registered baseline meets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hashgnn.config import PRESETS, RunConfig
from hashgnn.data import load_split_for
from hashgnn.data.graph import BipartiteGraph
from hashgnn.data.interactions import Interactions
from hashgnn.data.splits import Split
from hashgnn.errors import ConfigError
from hashgnn.evaluation import evaluate_part
from hashgnn.index import unpack_codes
from hashgnn.models.baselines import BASELINES, CONTINUOUS, HASHING, get_baseline
from hashgnn.models.baselines.embedding import bipartite_csr, random_walks, skipgram_pairs
from hashgnn.models.baselines.twostage import batch_rows, random_hyperplane_codes
from hashgnn.models.encoders import GraphInputs
from hashgnn.models.hashing import GumbelBinarizer, HashNetContinuation
from hashgnn.training.rundir import RunDir

N_GROUP = 8  # users per group = items per group


def checkerboard() -> Split:
    """Two user groups, each liking every item of its own group; per user one held-out test and one valid item."""
    users, items, part = [], [], []
    for u in range(2 * N_GROUP):
        g = u // N_GROUP
        own = [g * N_GROUP + k for k in range(N_GROUP)]
        test_item, valid_item = own[u % N_GROUP], own[(u + 1) % N_GROUP]
        for i in own:
            users.append(u)
            items.append(i)
            part.append(2 if i == test_item else 1 if i == valid_item else 0)
    inter = Interactions(np.array(users), np.array(items), np.arange(2 * N_GROUP), np.arange(2 * N_GROUP),
                         name="checkerboard")
    part = np.array(part)
    return Split(inter, np.flatnonzero(part == 0), np.flatnonzero(part == 1), np.flatnonzero(part == 2))


TINY_CORE = ["train.epochs=40", "train.batch_size=16", "train.lr=0.02", "train.patience=100",
             "model.schedule_unit=step", "model.p_every=20", "train.auc_pairs=16", "train.log_every=5",
             "model.hashnet_every=10", "model.gumbel_rate=0.01",
             "model.gumbel_tau_min=0.2", "eval.n_candidates=8", "eval.valid_n=1", "model.score_scale=sqrt",
             "train.threads=1"]
TINY_EMB = {"epochs": 60, "batch_size": 16, "lr": 0.05, "patience": 100, "walks_per_node": 4, "walk_length": 8}


def build(name: str):
    factory = BASELINES[name]
    if name in ("MF", "PTE", "BiNE"):
        return factory(overrides=["train.log_every=5", "eval.valid_n=1"], **TINY_EMB)
    return factory(overrides=TINY_CORE)


@pytest.fixture(scope="module")
def fitted() -> dict:
    split = checkerboard()
    return {name: build(name).fit(split) for name in BASELINES}


#: Methods that do not separate the two groups for every user within the tiny budget, with the recall@1 floor
#: their ranking must still reach (chance is about 0.1: one test item among ~10 unseen). Measured with this
#: fixture: Hash_ste 0.50 (plain STE collapses one group's codes), BiNE 0.94 (one user ranks an other-group item
#: first; 1-4 of the 16 users in 3-4 of 8 seeds, whatever lr, walk length or explicit negatives). Every other
#: contract check holds for them as for the rest.
KNOWN_WEAK = {"Hash_ste": 0.4, "BiNE": 0.75}


@pytest.mark.parametrize("name", list(BASELINES))
def test_contract_heldout_item_ranks_first(fitted: dict, name: str):
    model = fitted[name]
    split = model.split
    emb = model.embeddings()
    assert emb.has_codes == (name in HASHING)
    users = np.arange(2 * N_GROUP)
    ids, _ = model.recommend(users, N=5)
    test = split.test
    truth = dict(zip(test.users.tolist(), test.items.tolist(), strict=True))
    seen = model._train_items
    for u in users:
        assert len(set(ids[u].tolist())) == 5, (name, u, ids[u])
        assert not set(ids[u].tolist()) & set(seen[u].indices.tolist())  # seen items are excluded
    sim, _ = model.similar_items(np.arange(2 * N_GROUP), N=3)
    assert all(i not in row for i, row in enumerate(sim.tolist()))
    mode = "hierarchical" if emb.has_codes else "continuous"
    res = evaluate_part(emb, split, "test", modes=(mode,), ns=(1,), protocols=("standard",))
    recall = res[mode]["standard"]["recall@1"]
    first = np.mean([ids[u][0] == truth[u] for u in users])
    assert first == pytest.approx(recall)  # recommend() and the evaluation rank alike
    if name in KNOWN_WEAK:
        assert recall >= KNOWN_WEAK[name], (name, recall)
    else:
        assert recall == 1.0, (name, [(u, ids[u]) for u in users if ids[u][0] != truth[u]])


def test_registry_lookup_and_errors():
    assert get_baseline("hashgnn_sp") is BASELINES["HashGNN_sp"]
    assert set(HASHING) | set(CONTINUOUS) == set(BASELINES)
    with pytest.raises(ConfigError, match="choose one of"):
        get_baseline("nope")
    with pytest.raises(ConfigError, match="valid"):
        BASELINES["MF"](not_a_param=1)


def test_defining_overrides_win():
    m = BASELINES["HashNet"](overrides=["model.method=ste"])
    assert m.config.model.method == "hashnet"
    assert BASELINES["HashGNN_nr"]().config.train.lam == 0
    lg = BASELINES["LightGCN"]().config.model
    assert (lg.encoder, lg.method) == ("lightgcn", "continuous")
    plus = BASELINES["HashGNN+"](overrides=["train.quant_weight=0", "train.epochs=3"]).config
    assert plus == RunConfig().override(["train.epochs=3", *PRESETS["plus"]]).validate()  # the preset wins
    assert plus.train.quant_weight > 0 and plus.train.z_weight > 0 and plus.model.method == "guided"


def test_lsh_bits_are_signs_of_projections(fitted: dict):
    lsh = fitted["LSH"]
    emb, gs = lsh.embeddings(), lsh.graphsage.embeddings()
    assert np.array_equal(emb.user_z, gs.user_z) and np.array_equal(emb.item_z, gs.item_z)
    for z, codes in ((emb.user_z, emb.user_codes), (emb.item_z, emb.item_codes)):
        expected = np.where(z.astype(np.float64) @ lsh.projection >= 0, 1, -1)
        assert np.array_equal(unpack_codes(codes, emb.n_bits), expected)
    r = np.random.default_rng(0).standard_normal((4, 8))
    assert np.array_equal(random_hyperplane_codes(np.zeros((2, 4)), r), np.ones((2, 8)))  # sign(0) = +1


def test_hashnet_wrapper_uses_beta_schedule(fitted: dict):
    m = fitted["HashNet"]
    binarizer = m.result.model.binarizer
    assert isinstance(binarizer, HashNetContinuation)
    every, gamma = m.config.model.schedule("hashnet_every"), m.config.model.schedule("hashnet_gamma")
    for row in m.log:
        t = ((row["iteration"]) // every) * every
        assert row["beta"] == pytest.approx((1 + gamma * t) ** 0.5)
    assert m.log[-1]["beta"] > m.log[0]["beta"]


def test_gumbel_wrapper_uses_gumbel_binarizer(fitted: dict):
    m = fitted["Hash_gumb"]
    assert isinstance(m.result.model.binarizer, GumbelBinarizer)
    taus = [row["tau"] for row in m.log]
    assert taus[-1] < taus[0] and all(a >= b for a, b in zip(taus, taus[1:], strict=False))


def test_hashgnn_sp_keeps_graphsage_frozen():
    split = checkerboard()
    m = build("HashGNN_sp")
    gs = m.graphsage
    original_fit = gs.fit
    snapshot = {}

    def fit_and_snapshot(s):
        original_fit(s)
        snapshot.update({k: v.clone() for k, v in gs.result.model.state_dict().items()})
        return gs

    gs.fit = fit_and_snapshot
    m.fit(split)
    after = gs.result.model.state_dict()
    assert all(torch.equal(snapshot[k], after[k]) for k in snapshot)
    assert not any(p.requires_grad for p in gs.result.model.parameters())
    with torch.no_grad():
        u = gs.result.model.encoder(gs.result.model.input(), gs.trainer.graph)
    assert torch.allclose(u, m.frozen_u)
    assert m.hash_layer.linear.in_features == gs.result.model.encoder.out_dim


def test_hashgnn_sp_after_sampled_graphsage_hashes_its_layerwise_u():
    split = checkerboard()
    m = BASELINES["HashGNN_sp"](overrides=[*TINY_CORE, "train.sampler=neighbor", "train.epochs=3"])
    m.fit(split)
    gs = m.graphsage
    assert type(gs.trainer).__name__ == "MiniBatchTrainer" and len(m.history) == 3
    graph = GraphInputs.from_graph(BipartiteGraph.from_interactions(split.train))
    with torch.no_grad():
        full = gs.result.model.encoder(gs.result.model.input(), graph)
    assert torch.allclose(m.frozen_u, full, atol=1e-6)  # the full-graph forward's u
    assert m.embeddings().has_codes


def test_bine_walks_alternate_sides_and_follow_edges():
    rng = np.random.default_rng(0)
    n_users, n_items = 30, 20
    users = rng.integers(0, n_users, 200)
    items = rng.integers(0, n_items, 200)
    adj = bipartite_csr(users, items, n_users, n_items)
    starts = np.flatnonzero(np.diff(adj.indptr) > 0)
    walks = random_walks(adj, starts, 9, rng)
    edges = set(zip(adj.tocoo().row.tolist(), adj.tocoo().col.tolist(), strict=True))
    for w in walks:
        w = w[w >= 0]
        side = w < n_users
        assert np.all(side[1:] != side[:-1])  # user → item → user ...
        assert all((a, b) in edges for a, b in zip(w[:-1], w[1:], strict=False))
    c, x = skipgram_pairs(np.array([[0, 1, 2, -1]]), 2)
    assert sorted(zip(c.tolist(), x.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]


@pytest.mark.dataset("movielens-100k")
@pytest.mark.parametrize("name", ["MF", "PTE", "BiNE"])
def test_embedding_baselines_learn_on_ml100k(name: str):
    cfg = RunConfig().override(["data.dataset=movielens-100k", "train.log_every=5"])
    split = load_split_for(cfg.data, cfg.split)
    model = BASELINES[name](config=cfg, epochs=6, patience=100).fit(split)
    losses = [h["loss"] for h in model.history]
    assert losses[-1] < losses[0]
    res = evaluate_part(model.embeddings(), split, "test", modes=("continuous",), ns=(50,), protocols=("standard",))
    random_recall = 50 / split.interactions.n_items
    assert res["continuous"]["standard"]["recall@50"] > 2 * random_recall


def test_two_stage_methods_reuse_a_prefit_graphsage_with_standalone_results(fitted: dict):
    split = checkerboard()  # another object with the same content as the fixture's split
    gs = BASELINES["GraphSage"](overrides=TINY_CORE).fit(split)
    lsh = BASELINES["LSH"](overrides=TINY_CORE).fit(split, graphsage=gs)
    sp = BASELINES["HashGNN_sp"](overrides=TINY_CORE).fit(split, graphsage=gs)
    assert lsh.graphsage is gs and sp.graphsage is gs
    for reused, alone in ((lsh, fitted["LSH"]), (sp, fitted["HashGNN_sp"])):
        a, b = reused.embeddings(), alone.embeddings()
        assert np.array_equal(a.user_codes, b.user_codes) and np.array_equal(a.item_codes, b.item_codes)
        assert np.array_equal(a.user_z, b.user_z) and np.array_equal(a.item_z, b.item_z)
    assert torch.equal(sp.hash_layer.linear.weight, fitted["HashGNN_sp"].hash_layer.linear.weight)


def test_prefit_graphsage_must_be_fitted_with_the_same_config_on_the_same_split(fitted: dict):
    split, gs = fitted["GraphSage"].split, fitted["GraphSage"]
    with pytest.raises(ConfigError, match=r"model\.n_bits: 16 != 32"):
        BASELINES["LSH"](overrides=[*TINY_CORE, "model.n_bits=16"]).fit(split, graphsage=gs)
    with pytest.raises(ConfigError, match=r"another config.*model\.activation"):
        BASELINES["HashGNN_sp"](overrides=[*TINY_CORE, "model.activation=tanh"]).fit(split, graphsage=gs)
    # a setting stage 1 does not read (guided STE's p schedule) is not in its config: it is the same GraphSage
    sp = BASELINES["HashGNN_sp"](overrides=[*TINY_CORE, "model.p_every=7"])
    assert sp.graphsage.config == gs.config and sp.config.model.p_every == 7
    other = Split(split.interactions, split.train_idx[1:], split.valid_idx, split.test_idx)
    with pytest.raises(ConfigError, match="another split"):
        BASELINES["LSH"](overrides=TINY_CORE).fit(other, graphsage=gs)
    with pytest.raises(ConfigError, match="not fitted"):
        BASELINES["LSH"](overrides=TINY_CORE).fit(split, graphsage=BASELINES["GraphSage"](overrides=TINY_CORE))
    with pytest.raises(ConfigError, match="must be a fitted GraphSage"):
        BASELINES["HashGNN_sp"](overrides=TINY_CORE).fit(split, graphsage=fitted["HashNet"])


def test_batch_rows_match_unique_and_searchsorted():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 50, 20), rng.integers(50, 90, 20), rng.integers(50, 90, (20, 5))
    nodes, rows = batch_rows(100, *groups)
    expected = np.unique(np.concatenate([g.ravel() for g in groups]))
    assert np.array_equal(nodes, expected)
    for g, r in zip(groups, rows, strict=True):
        assert r.shape == g.shape and np.array_equal(r, np.searchsorted(expected, g))


class _Killed(Exception):
    pass


def _dies_at_call(original, n: int):
    """``original`` whose ``n``-th call raises :class:`_Killed`: for the validation, the kill of a run after the
    updates of epoch ``n``, before its checkpoint."""
    calls = []

    def dies(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise _Killed
        return original(*args, **kwargs)

    return dies


@pytest.mark.parametrize("name", ["MF", "PTE", "BiNE"])
def test_embedding_baseline_killed_mid_fit_resumes_from_its_checkpoint_exactly(name: str, tmp_path, monkeypatch):
    from hashgnn.models.baselines import embedding

    split = checkerboard()
    params = {**TINY_EMB, "epochs": 6}
    straight = BASELINES[name](overrides=["eval.valid_n=1"], **params).fit(split)

    original = embedding.valid_recall
    monkeypatch.setattr(embedding, "valid_recall", _dies_at_call(original, 4))
    with pytest.raises(_Killed):
        BASELINES[name](overrides=["eval.valid_n=1"], **params).fit(split, checkpoint=tmp_path)
    monkeypatch.setattr(embedding, "valid_recall", original)
    assert RunDir(tmp_path).load_checkpoint("last")["epoch"] == 3  # the Trainer's checkpoint of its run directory
    resumed = BASELINES[name](overrides=["eval.valid_n=1"], **params).fit(split, checkpoint=tmp_path)
    assert resumed.resumed_epoch == 3 and len(resumed.history) == 6
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in straight.history]
    a, b = resumed.embeddings(), straight.embeddings()
    assert np.array_equal(a.user_z, b.user_z) and np.array_equal(a.item_z, b.item_z)

    again = BASELINES[name](overrides=["eval.valid_n=1"], **params).fit(split, checkpoint=tmp_path)
    assert again.resumed_epoch == 6 and len(again.history) == 6  # finished: loaded, not trained further
    assert np.array_equal(again.embeddings().user_z, b.user_z)

    other = BASELINES[name](overrides=["eval.valid_n=1"], **{**params, "lr": 0.01}).fit(split, checkpoint=tmp_path)
    assert other.resumed_epoch == 0  # a checkpoint of other settings is not continued


def test_hashgnn_sp_killed_mid_stage_two_resumes_from_its_checkpoint_exactly(tmp_path, monkeypatch):
    """Stage two's guided draws come from one torch stream across epochs: its checkpoint carries the stream's state,
    so a run killed after epoch 3 and continued equals one never interrupted, bit for bit."""
    from hashgnn.models.baselines import twostage

    split = checkerboard()
    # p < 1 from step 2 on: the guided draws (torch.bernoulli) happen in every epoch, before the kill too
    overrides = [*TINY_CORE, "train.epochs=6", "train.valid_every=1", "eval.valid_n=1", "model.p_every=2"]
    gs = BASELINES["GraphSage"](overrides=overrides).fit(split)  # stage one, shared as the experiments do
    straight = BASELINES["HashGNN_sp"](overrides=overrides).fit(split, graphsage=gs)

    original = twostage.valid_recall
    monkeypatch.setattr(twostage, "valid_recall", _dies_at_call(original, 4))
    with pytest.raises(_Killed):
        BASELINES["HashGNN_sp"](overrides=overrides).fit(split, graphsage=gs, checkpoint=tmp_path)
    monkeypatch.setattr(twostage, "valid_recall", original)
    assert RunDir(tmp_path).load_checkpoint("last")["epoch"] == 3
    resumed = BASELINES["HashGNN_sp"](overrides=overrides).fit(split, graphsage=gs, checkpoint=tmp_path)
    assert resumed.resumed_epoch == 3 and len(resumed.history) == 6
    assert [r["loss"] for r in resumed.log] == [r["loss"] for r in straight.log]
    a, b = resumed.embeddings(), straight.embeddings()
    assert np.array_equal(a.user_z, b.user_z) and np.array_equal(a.item_z, b.item_z)
    assert np.array_equal(a.user_codes, b.user_codes) and np.array_equal(a.item_codes, b.item_codes)

    again = BASELINES["HashGNN_sp"](overrides=overrides).fit(split, graphsage=gs, checkpoint=tmp_path)
    assert again.resumed_epoch == 6 and np.array_equal(again.embeddings().user_z, b.user_z)  # finished: loaded
    checkpoint = RunDir(tmp_path).load_checkpoint("last")
    stage_two = twostage._StageTwoTrainer(straight.frozen_u, straight.config, split)
    assert stage_two.can_continue(checkpoint)
    another_u = twostage._StageTwoTrainer(straight.frozen_u + 1e-6, straight.config, split)
    assert not another_u.can_continue(checkpoint)  # another GraphSage's u: started over, not continued
    other = BASELINES["HashGNN_sp"](overrides=[*overrides, "train.lr=0.01"])
    other.graphsage = BASELINES["GraphSage"](overrides=[*overrides, "train.lr=0.01"]).fit(split)
    assert other.fit(split, graphsage=other.graphsage, checkpoint=tmp_path).resumed_epoch == 0  # other settings


#: What each method's own training loop gave before MF, PTE, BiNE and HashGNN_sp's stage two moved onto the one
#: Trainer (commit ea48e14), on the checkerboard with early stopping: (settings, epochs run before patience ran out,
#: iterations, sum |z| of the users, of the items), the selected epoch's embeddings.
OWN_LOOP = {
    "MF": ({**TINY_EMB, "patience": 2, "valid_every": 2}, 10, 60, 232.18083467287943, 225.46443785075098),
    "PTE": ({**TINY_EMB, "patience": 2, "valid_every": 2}, 12, 72, 205.04946322366595, 201.7378288609907),
    "BiNE": ({**TINY_EMB, "patience": 2, "valid_every": 2}, 8, 48, 207.564620217192, 209.0753923272714),
    "HashGNN_sp": ([*TINY_CORE, "train.patience=2", "train.valid_every=3"], 9, 54, 344.0193859934807,
                   334.13872058689594),
}


@pytest.mark.parametrize("name", list(OWN_LOOP))
def test_the_one_trainer_reproduces_the_methods_own_loops(name: str):
    settings, epochs, iterations, user_abs, item_abs = OWN_LOOP[name]
    if isinstance(settings, dict):
        model = BASELINES[name](overrides=["train.log_every=5", "eval.valid_n=1"], **settings)
    else:
        model = BASELINES[name](overrides=settings)
    model.fit(checkerboard())
    assert (len(model.history), model.history[-1]["iteration"]) == (epochs, iterations)
    emb = model.embeddings()
    assert np.abs(emb.user_z.astype(np.float64)).sum() == pytest.approx(user_abs, rel=1e-6)
    assert np.abs(emb.item_z.astype(np.float64)).sum() == pytest.approx(item_abs, rel=1e-6)
