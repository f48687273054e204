"""A hash layer on a continuous recommender's embedding: ``model.rerank=encoder`` (z = u), the objective that
trains u and the codes together, and ``train.init_from`` (start from another run's selected embeddings)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hashgnn.config import PRESETS, RunConfig
from hashgnn.data.graph import BipartiteGraph
from hashgnn.data.interactions import Interactions
from hashgnn.data.splits import random_split
from hashgnn.data.synth import SynthConfig, generate
from hashgnn.errors import ConfigError
from hashgnn.losses import batch_objective, embedding_objective
from hashgnn.models.encoders import GraphInputs
from hashgnn.models.hashgnn import HashGNNModel
from hashgnn.training import RunDir, Trainer
from hashgnn.training.inference import layerwise_encode

#: LightGCN's model and BPR objective under a 16-bit guided-STE hash layer, re-ranking with LightGCN's output
HASHED_LIGHTGCN = [*PRESETS["lightgcn"], "model.head=hash", "model.method=guided", "model.n_bits=16",
                   "model.rerank=encoder", "model.score_scale=0.25", "train.rank_loss=softmax", "train.triplets=4"]


def _split(valid_ratio: float = 0.1):
    rng = np.random.default_rng(3)
    users = np.repeat(np.arange(60), 6)
    items = (users % 4) * 8 + rng.integers(0, 8, len(users))  # 4 user groups, each with its own 8 items
    return random_split(Interactions.from_raw(users, items), test_ratio=0.2, valid_ratio=valid_ratio, seed=0)


def _config(*extra: str) -> RunConfig:
    return RunConfig().override([*HASHED_LIGHTGCN, "train.epochs=6", "train.batch_size=64", "train.lr=0.01",
                                 "train.patience=30", "train.auc_pairs=50", "train.log_every=1", *extra])


def test_rerank_encoder_searches_with_u_and_hashes_w_u() -> None:
    cfg = RunConfig().override(HASHED_LIGHTGCN).validate()
    graph = BipartiteGraph.from_interactions(_split().interactions)
    inputs = GraphInputs.from_graph(graph)
    torch.manual_seed(0)
    model = HashGNNModel(graph.num_nodes, cfg.model, n_users=graph.n_users)
    u, a = model.represent(inputs)
    z, h = model.encode(inputs)
    assert (u.shape[1], a.shape[1]) == (64, 16)
    assert torch.equal(z, u)  # the 64-d LightGCN embedding, not the 16-d tanh
    assert torch.equal(h, torch.where(torch.tanh(model.hash(u)) >= 0, 1.0, -1.0))
    paper = HashGNNModel(graph.num_nodes, RunConfig().override([*HASHED_LIGHTGCN, "model.rerank=tanh"]).model)
    paper.load_state_dict(model.state_dict())
    z_paper, h_paper = paper.encode(inputs)
    assert torch.equal(z_paper, torch.tanh(a)) and torch.equal(h_paper, h)


def test_objective_is_the_embedding_loss_on_u_plus_weighted_eq7_on_the_codes() -> None:
    split = _split()
    trainer = Trainer(_config("train.code_weight=0.3"), split, progress=False)
    torch.manual_seed(0)
    model = HashGNNModel(trainer.n_users + trainer.n_items, trainer.config.model, n_users=trainer.n_users)
    u, a = model.represent(trainer.graph)
    batch = (torch.tensor([0, 1, 2]), torch.tensor([70, 71, 72]), torch.tensor([[73] * 4, [74] * 4, [75] * 4]))
    tcfg = trainer.config.train
    torch.manual_seed(5)
    loss, parts = trainer._batch_loss(model, u, a, batch, 0.25, 1, None)
    torch.manual_seed(5)  # the guided binarizer draws its mask from torch's generator
    codes, _, _ = batch_objective(model.relaxed(a), a, *batch, 0.25, tcfg.lam, tcfg.margin, "softmax",
                                  **tcfg.extra_terms(1))
    emb, _, _ = embedding_objective(u, model.input.embedding.weight, *batch, "bpr", 1e-4)
    assert torch.allclose(loss, emb + 0.3 * codes)
    assert {"loss_embedding", "loss_l2", "loss_cross", "loss_rank"} <= set(parts)
    loss.backward()
    assert model.hash.linear.weight.grad.abs().sum() > 0  # the codes' term trains the hash layer ...
    assert model.input.embedding.weight.grad.abs().sum() > 0  # ... and both terms the embeddings


def test_training_gives_codes_and_64d_embeddings_and_lowers_the_embedding_loss() -> None:
    result = Trainer(_config("train.epochs=25"), _split(), progress=False).fit()
    losses = [row["loss_embedding"] for row in result.log]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    emb = result.embeddings
    assert emb.has_codes and emb.user_z.shape[1] == 64


def test_init_from_starts_at_the_source_runs_selected_embeddings(tmp_path) -> None:
    split = _split()
    source = tmp_path / "lightgcn"
    lightgcn_cfg = RunConfig().override([*PRESETS["lightgcn"], "train.epochs=3", "train.batch_size=64",
                                         "train.auc_pairs=50"])
    Trainer(lightgcn_cfg, split, RunDir(source), progress=False).fit()
    selected = RunDir(source).load_checkpoint("best")["model"]["input.embedding.weight"]
    cfg = _config("train.epochs=1", f"train.init_from={source}")
    trainer = Trainer(cfg, split, progress=False)
    captured = {}
    original = trainer._run_epoch

    def spy(model, optimizer, state, epoch):
        captured["start"] = model.input.embedding.weight.detach().clone()
        original(model, optimizer, state, epoch)

    trainer._run_epoch = spy
    trainer.fit()
    assert torch.equal(captured["start"], selected)


@pytest.mark.parametrize("change", ["valid_ratio", "embedding_dim", "not_a_run"])
def test_init_from_refuses_another_train_part_or_shape(tmp_path, change: str) -> None:
    source = tmp_path / "lightgcn"
    base = RunConfig().override([*PRESETS["lightgcn"], "train.epochs=1", "train.batch_size=64",
                                 "train.auc_pairs=50"])
    Trainer(base, _split(0.0 if change == "valid_ratio" else 0.1), RunDir(source), progress=False).fit()
    extra = ["model.embedding_dim=32"] if change == "embedding_dim" else []
    where = tmp_path if change == "not_a_run" else source
    trainer = Trainer(_config(f"train.init_from={where}", *extra), _split(), progress=False)
    with pytest.raises(ConfigError, match="init_from"):
        trainer.fit()


def test_layerwise_encode_follows_rerank_encoder() -> None:
    inter = generate(SynthConfig(n_users=120, n_items=200, n_interactions=1500, seed=3)).interactions
    graph = BipartiteGraph.from_interactions(inter)
    torch.manual_seed(0)
    model = HashGNNModel(graph.num_nodes, RunConfig().override(["model.rerank=encoder"]).model)
    z_full, h_full = model.encode(GraphInputs.from_graph(graph))
    z, h = layerwise_encode(model, graph, chunk_size=50)
    assert z.shape[1] == model.encoder.out_dim != model.hash.linear.out_features
    torch.testing.assert_close(z, z_full, atol=1e-5, rtol=0)
    assert torch.equal(h, h_full)


@pytest.mark.parametrize("bad", [["model.rerank=sideways"],
                                 [*PRESETS["lightgcn"], "model.rerank=encoder"],
                                 ["train.code_weight=2"],
                                 [*PRESETS["lightgcn"], "train.shared_negatives=8"],
                                 [*HASHED_LIGHTGCN, "train.rank_loss=bpr", "train.shared_negatives=8"],
                                 [*HASHED_LIGHTGCN, "train.code_weight=-1"]])
def test_settings_without_effect_are_errors(bad: list[str]) -> None:
    with pytest.raises(ConfigError):
        RunConfig().override(bad).validate()


def test_shared_negatives_join_the_codes_softmax_and_not_bpr() -> None:
    result = Trainer(_config("train.epochs=3", "train.shared_negatives=8"), _split(), progress=False).fit()
    assert result.embeddings.has_codes and np.isfinite([row["loss"] for row in result.log]).all()
