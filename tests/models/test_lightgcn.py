"""LightGCN (He et al., SIGIR 2020) as the ``LightGCN`` baseline: each mechanism of the paper pinned on its own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hashgnn.config import PRESETS, RunConfig
from hashgnn.data.graph import BipartiteGraph
from hashgnn.data.interactions import Interactions
from hashgnn.data.splits import random_split
from hashgnn.errors import ConfigError
from hashgnn.losses import embedding_objective, layer0_l2
from hashgnn.models.baselines import BASELINES, LightGCN, LightGCNEq7
from hashgnn.models.encoders import GraphInputs
from hashgnn.models.hashgnn import HashGNNModel
from hashgnn.training.trainer import Trainer

N_USERS, N_ITEMS = 7, 9


def _graph_and_model() -> tuple[BipartiteGraph, GraphInputs, HashGNNModel, RunConfig]:
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(N_USERS), 3)
    items = np.concatenate([rng.choice(N_ITEMS, 3, replace=False) for _ in range(N_USERS)])
    items[:N_ITEMS] = np.arange(N_ITEMS)  # every item has a link, so indices equal ids
    graph = BipartiteGraph.from_interactions(Interactions.from_raw(users, items))
    cfg = RunConfig().override(list(PRESETS["lightgcn"])).validate()
    torch.manual_seed(0)
    return graph, GraphInputs.from_graph(graph), HashGNNModel(N_USERS + N_ITEMS, cfg.model, n_users=N_USERS), cfg


def test_free_id_embeddings_are_the_only_parameters() -> None:
    _, _, model, cfg = _graph_and_model()
    assert cfg.model.embedding_dim == 64
    assert model.hash is None
    params = dict(model.named_parameters())
    assert list(params) == ["input.embedding.weight"]
    assert params["input.embedding.weight"].shape == (N_USERS + N_ITEMS, 64)


def test_three_layers_of_symmetric_propagation_averaged_with_the_input() -> None:
    graph, inputs, model, cfg = _graph_and_model()
    assert cfg.model.num_layers == 3
    a = graph.adjacency().toarray().astype(np.float64)
    deg = a.sum(1)
    inv_sqrt = np.where(deg > 0, deg ** -0.5, 0.0)
    norm = inv_sqrt[:, None] * a * inv_sqrt[None, :]  # D^-1/2 A D^-1/2
    e0 = model.input.embedding.weight.detach().double().numpy()
    layers = [e0]
    for _ in range(3):
        layers.append(norm @ layers[-1])
    expected = sum(layers) / 4  # α_k = 1 / (K + 1)
    z, _ = model.encode(inputs)
    np.testing.assert_allclose(z.double().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_scores_are_plain_inner_products_without_tanh() -> None:
    _, inputs, model, _ = _graph_and_model()
    with torch.no_grad():
        model.input.embedding.weight.mul_(50.0)  # far outside tanh's linear range
    a = model(inputs)
    z, _ = model.encode(inputs)
    assert torch.equal(model.relaxed(a), a)
    assert torch.allclose(z, a)
    assert z.abs().max() > 1.5


def test_bpr_objective_with_l2_on_the_batch_layer0_embeddings() -> None:
    torch.manual_seed(1)
    rep, layer0 = torch.randn(10, 4), torch.randn(10, 4, requires_grad=True)
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([5, 6]), torch.tensor([[7], [8]])
    loss, rank, l2 = embedding_objective(rep, layer0, users, pos, neg, "bpr", reg=1e-4)
    s_pos = (rep[users] * rep[pos]).sum(1)
    s_neg = (rep[users] * rep[neg[:, 0]]).sum(1)
    assert torch.allclose(rank, F.softplus(s_neg - s_pos).mean())
    e = layer0.detach()
    manual = 0.5 * (e[users].square().sum(1) + e[pos].square().sum(1) + e[neg[:, 0]].square().sum(1)).mean()
    assert torch.allclose(l2, manual)
    assert torch.allclose(loss, rank + 1e-4 * manual)
    layer0_l2(layer0, users, pos, neg).backward()
    touched = layer0.grad.abs().sum(1) > 0
    assert touched.nonzero().flatten().tolist() == [0, 1, 5, 6, 7, 8]  # only the batch's rows, not weight decay


def test_sampled_softmax_objective_at_a_temperature() -> None:
    torch.manual_seed(2)
    rep, layer0 = torch.randn(10, 4), torch.randn(10, 4)
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([5, 6]), torch.tensor([[7, 8], [8, 9]])
    _, rank, _ = embedding_objective(rep, layer0, users, pos, neg, "softmax", reg=0.0, temperature=0.5)
    logits = torch.stack([(rep[users] * rep[c]).sum(-1) for c in (pos, neg[:, 0], neg[:, 1])], 1) / 0.5
    assert torch.allclose(rank, F.cross_entropy(logits, torch.zeros(2, dtype=torch.long)))


def test_the_baseline_is_the_reference_recipe_and_keeps_its_architecture() -> None:
    model = LightGCN(overrides=["train.lr=0.01", "model.head=hash"])
    cfg = model.config
    assert (cfg.model.encoder, cfg.model.head, cfg.model.method, cfg.train.objective) == (
        "lightgcn", "none", "continuous", "bpr")  # the architecture and objective cannot be overridden
    assert cfg.train.lr == 0.01  # the recipe can
    ref = LightGCN().config.train
    assert (ref.batch_size, ref.lr, ref.reg, ref.triplets) == (2048, 1e-3, 1e-4, 1)
    assert BASELINES["LightGCN"] is LightGCN and BASELINES["LightGCN_eq7"] is LightGCNEq7
    old = LightGCNEq7().config
    assert (old.model.head, old.train.objective) == ("hash", "hashgnn")


def test_trainer_uses_adam_and_lowers_the_bpr_loss(tmp_path) -> None:
    rng = np.random.default_rng(3)
    users = np.repeat(np.arange(40), 6)
    items = (users % 4) * 5 + rng.integers(0, 5, len(users))  # 4 user groups, each with its own 5 items
    inter = Interactions.from_raw(users, items)
    split = random_split(inter, test_ratio=0.2, valid_ratio=0.1, seed=0)
    cfg = RunConfig().override([*PRESETS["lightgcn"], "train.epochs=30", "train.batch_size=64", "train.lr=0.01",
                                "train.patience=30", "train.auc_pairs=50", "train.log_every=1"])
    result = Trainer(cfg, split, progress=False).fit()
    losses = [row["loss_rank"] for row in result.log]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    assert {"loss_rank", "loss_l2"} <= set(result.log[0])
    assert not result.embeddings.has_codes


@pytest.mark.parametrize("bad", [["model.head=none"], ["model.head=sideways"], ["train.code_weight=2"],
                                 [*PRESETS["lightgcn"], "train.temperature=0"],
                                 [*PRESETS["lightgcn"], "train.reg=-1"],
                                 [*PRESETS["lightgcn"], "train.sampler=neighbor", "model.encoder=sage"]])
def test_settings_that_cannot_apply_are_errors(bad: list[str]) -> None:
    with pytest.raises(ConfigError):
        RunConfig().override(bad).validate()
