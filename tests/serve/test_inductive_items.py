"""HashGNNModel.encode_new_items: the mirror of encode_new_users, for items the model never saw."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hashgnn.config import RunConfig
from hashgnn.data.graph import BipartiteGraph
from hashgnn.data.synth import SynthConfig, generate
from hashgnn.models.encoders import GraphInputs
from hashgnn.models.hashgnn import HashGNNModel


@pytest.mark.parametrize("typed", [False, True])
def test_new_item_codes_equal_a_trained_item_whose_embedding_is_its_users_mean(typed: bool):
    """encode_new_items applies eq. 1 to {item} ∪ users with the item's input = mean of its users' inputs; a
    train item whose id embedding is set to that mean must therefore get the same z and h from the full forward."""
    inter = generate(SynthConfig(n_users=40, n_items=60, n_interactions=400, seed=1)).interactions
    graph = GraphInputs.from_graph(BipartiteGraph.from_interactions(inter))
    cfg = RunConfig().override(["model.typed_hash=true"] if typed else []).model
    torch.manual_seed(0)
    model = HashGNNModel(inter.n_users + inter.n_items, cfg, n_users=inter.n_users).eval()
    item = int(np.bincount(inter.items).argmax())  # the most connected item: a mean over several users
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.3)
        users = torch.from_numpy(np.unique(inter.users[inter.items == item]))
        weight = model.input.embedding.weight
        weight[inter.n_users + item] = weight[users].mean(0)
    assert len(users) > 2
    z_full, h_full = model.encode(graph)
    z_new, h_new = model.encode_new_items([users], model.layer_states(graph), inter.n_users)
    node = inter.n_users + item
    assert z_full[node].abs().mean() > 0.1
    torch.testing.assert_close(z_new[0], z_full[node], atol=1e-5, rtol=1e-5)
    assert torch.equal(h_new[0], h_full[node])
    if typed:  # items go through the item projection: the user projection would give other codes
        u = model.layer_states(graph)[-1][node]
        assert not torch.allclose(torch.tanh(model.hash.linear(u)), z_full[node], atol=1e-3)


def test_recommender_encode_new_items_checks_and_keeps_the_user_side(model):
    from hashgnn.errors import ConfigError
    from hashgnn.recommender import IdError

    new = model.encode_new_items([np.array([0, 3]), np.array([5])])
    emb = model.embeddings()
    assert new.item_z.shape == (2, emb.item_z.shape[1]) and new.item_z.dtype == np.float32
    assert new.item_codes.shape == (2, emb.n_bits // 8)
    assert new.user_z is emb.user_z and new.user_codes is emb.user_codes
    with pytest.raises(IdError, match="user index 40 is out of range"):
        model.encode_new_items([[1, 40]])
    with pytest.raises(ConfigError, match="at least one user"):
        model.encode_new_items([[]])
