"""HashGNNModel: inductive codes for new users and the typed hash layer's wiring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hashgnn.config import RunConfig
from hashgnn.data.graph import BipartiteGraph
from hashgnn.data.synth import SynthConfig, generate
from hashgnn.errors import ConfigError
from hashgnn.models.encoders import GraphInputs
from hashgnn.models.hashgnn import HashGNNModel


@pytest.mark.parametrize("typed", [False, True])
def test_new_user_codes_equal_a_trained_user_whose_embedding_is_its_items_mean(typed: bool):
    """encode_new_users applies eq. 1 to {user} ∪ items with the user's input = mean of its items' inputs; a
    train user whose id embedding is set to that mean must therefore get the same z from the full forward."""
    inter = generate(SynthConfig(n_users=40, n_items=60, n_interactions=400, seed=1)).interactions
    graph = GraphInputs.from_graph(BipartiteGraph.from_interactions(inter))
    cfg = RunConfig().override(["model.typed_hash=true"] if typed else []).model
    torch.manual_seed(0)
    model = HashGNNModel(inter.n_users + inter.n_items, cfg, n_users=inter.n_users).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.3)
        user = 5
        items = torch.from_numpy(np.unique(inter.items[inter.users == user]))
        weight = model.input.embedding.weight
        weight[user] = weight[items + inter.n_users].mean(0)
    z_full, _ = model.encode(graph)
    z_new, _ = model.encode_new_users([items], model.layer_states(graph), inter.n_users)
    assert z_full[user].abs().mean() > 0.1
    torch.testing.assert_close(z_new[0], z_full[user], atol=1e-5, rtol=1e-5)
    if typed:  # users go through the user projection: the item projection would give other codes
        u = model.layer_states(graph)[-1][user]
        assert not torch.allclose(torch.tanh(model.hash.item_linear(u)), z_full[user], atol=1e-3)


def test_typed_hash_needs_the_user_count():
    cfg = RunConfig().override(["model.typed_hash=true"]).model
    with pytest.raises(ConfigError, match="typed_hash"):
        HashGNNModel(10, cfg)
    assert "hash.item_linear.weight" not in HashGNNModel(10, RunConfig().model).state_dict()  # the paper's ψ
