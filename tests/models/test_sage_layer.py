"""SAGEMeanLayer, the one implementation of eq. 1: each path that runs it equals the full-graph forward.

Paths: full graph (``SAGEMeanEncoder.forward``), mini-batch with every neighbour (``SampledForward``), layer-wise
chunked inference (``layerwise_encode``) and inductive encoding of a node from its neighbours
(``SAGEMeanEncoder.encode_new``); plus checkpoints written when the layers were ``nn.Linear``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from hashgnn.config import RunConfig
from hashgnn.data.graph import BipartiteGraph
from hashgnn.data.sampling import CSRGraph, NeighborSampler
from hashgnn.models.encoders import GraphInputs, SAGEMeanEncoder, SAGEMeanLayer
from hashgnn.models.hashgnn import HashGNNModel
from hashgnn.models.propagation import sparse_propagate
from hashgnn.training.inference import layerwise_encode
from hashgnn.training.minibatch import SampledForward

TIGHT = {"atol": 2e-6, "rtol": 1e-5}


@pytest.fixture(scope="module")
def graph() -> BipartiteGraph:
    """A small random bipartite graph with isolated nodes on both sides."""
    rng = np.random.default_rng(5)
    n_users, n_items = 60, 45
    pairs = np.unique(rng.integers(0, n_users - 2, 500) * n_items + rng.integers(0, n_items - 2, 500))
    return BipartiteGraph(n_users, n_items, pairs // n_items, pairs % n_items)


@pytest.fixture(scope="module")
def model(graph: BipartiteGraph) -> HashGNNModel:
    """Large random weights so outputs are O(1) and a wrong aggregation cannot hide in rounding; the default dims
    (64 → 128 → 68) run one layer mean-then-project and one project-then-mean."""
    torch.manual_seed(0)
    net = HashGNNModel(graph.num_nodes, RunConfig().override(["model.activation=tanh"]).model)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.3)
    assert [layer.project_first for layer in net.encoder.layers] == [False, True]
    return net.eval()


@pytest.mark.parametrize(("d_in", "d_out"), [(6, 9), (9, 4)])
def test_layer_is_eq1_with_its_gradients(graph: BipartiteGraph, d_in: int, d_out: int):
    torch.manual_seed(1)
    layer = SAGEMeanLayer(d_in, d_out, "tanh")
    a, a_t = graph.mean_operator()
    x = torch.randn(graph.num_nodes, d_in, requires_grad=True)
    out = layer(x, a, a_t)
    # σ(W · MEAN({u_i} ∪ N(i)) + b), the mean written densely
    x_ref = x.detach().clone().requires_grad_(True)
    ref = torch.tanh((a.to_dense() @ x_ref) @ layer.weight.T + layer.bias)
    torch.testing.assert_close(out, ref, **TIGHT)
    grads = torch.autograd.grad(out.sum(), [x, layer.weight, layer.bias])
    ref_grads = torch.autograd.grad(ref.sum(), [x_ref, layer.weight, layer.bias])
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r, **TIGHT)
    # without Âᵀ (inference) the same values
    with torch.no_grad():
        torch.testing.assert_close(layer(x, a), out, atol=0, rtol=0)


def test_sampled_path_with_all_neighbours_equals_full_graph(graph: BipartiteGraph, model: HashGNNModel):
    full = model(GraphInputs.from_graph(graph))
    nodes = np.arange(graph.num_nodes)[::-1].copy()  # every node, in another order than the graph's
    sub = NeighborSampler(graph, [-1, -1], seed=0).sample(nodes)
    out = SampledForward(model)(torch.from_numpy(sub.n_id), sub.operators, sub.operators_t)
    assert full.abs().mean() > 0.1
    torch.testing.assert_close(out[torch.from_numpy(sub.seed_index)], full[torch.from_numpy(nodes)], **TIGHT)


@pytest.mark.parametrize("chunk", [1, 16, 1000])
def test_layerwise_inference_equals_full_graph(graph: BipartiteGraph, model: HashGNNModel, chunk: int):
    z_full, _ = model.encode(GraphInputs.from_graph(graph))
    z, _ = layerwise_encode(model, CSRGraph.from_bipartite(graph), chunk_size=chunk)
    torch.testing.assert_close(z, z_full, **TIGHT)


def test_new_node_encoding_of_graph_nodes_equals_full_graph(graph: BipartiteGraph, model: HashGNNModel):
    """A node of the graph encoded as if new, from its own input and its train neighbours, gets its full-graph
    output: users from their items, items from their users, an isolated node from nothing but itself."""
    states = model.layer_states(GraphInputs.from_graph(graph))
    full_u = model.encoder(model.input(), GraphInputs.from_graph(graph))
    torch.testing.assert_close(states[-1], full_u, atol=0, rtol=0)
    adj = graph.adjacency()
    nodes = [0, 7, graph.n_users - 1, graph.n_users, graph.n_users + 11, graph.num_nodes - 1]
    assert adj.indptr[graph.n_users] == adj.indptr[graph.n_users - 1]  # the last user is isolated
    neighbours = [torch.from_numpy(adj.indices[adj.indptr[v]:adj.indptr[v + 1]].astype(np.int64)) for v in nodes]
    u = model.encoder.encode_new(model.input()[nodes], neighbours, states)
    assert full_u[nodes].abs().mean() > 0.1
    torch.testing.assert_close(u, full_u[nodes], **TIGHT)


def test_normalized_output_is_the_same_on_every_path(graph: BipartiteGraph):
    """``model.normalize``: u has unit rows on the full-graph, sampled, layer-wise and new-node paths, and the
    hash layer and z see that u."""
    torch.manual_seed(0)
    net = HashGNNModel(graph.num_nodes, RunConfig().override(["model.normalize=true", "model.rerank=encoder"]).model)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.3)
    net.eval()
    inputs = GraphInputs.from_graph(graph)
    u, a = net.represent(inputs)
    raw = net.encoder(net.input(), inputs)
    torch.testing.assert_close(u, raw / raw.norm(dim=-1, keepdim=True), **TIGHT)
    torch.testing.assert_close(a, net.hash(u), atol=0, rtol=0)
    z, _ = layerwise_encode(net, CSRGraph.from_bipartite(graph), chunk_size=16)
    torch.testing.assert_close(z, u, **TIGHT)
    nodes = np.arange(graph.num_nodes)
    sub = NeighborSampler(graph, [-1, -1], seed=0).sample(nodes)
    sampled = SampledForward(net)(torch.from_numpy(sub.n_id), sub.operators, sub.operators_t)
    torch.testing.assert_close(sampled[torch.from_numpy(sub.seed_index)], a, **TIGHT)
    adj = graph.adjacency()
    new_z, _ = net.encode_new_users([torch.from_numpy(adj.indices[adj.indptr[3]:adj.indptr[4]].astype(np.int64))
                                     - graph.n_users], net.layer_states(inputs), graph.n_users)
    assert torch.allclose(new_z.norm(dim=-1), torch.ones(1), atol=1e-6)


class _LinearSAGE(nn.Module):
    """The encoder as it was written before SAGEMeanLayer: nn.Linear layers and one activation."""

    def __init__(self, in_dim: int, dims: Sequence[int], init_std: float = 0.02) -> None:
        super().__init__()
        sizes = [in_dim, *dims]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=False))
        self.act = nn.ReLU()
        for name, param in self.named_parameters():
            nn.init.zeros_(param) if name.endswith("bias") else nn.init.normal_(param, 0.0, init_std)

    def forward(self, x: Tensor, graph: GraphInputs) -> Tensor:
        a, a_t = graph.mean_op
        for layer in self.layers:
            if layer.out_features < layer.in_features:
                x = sparse_propagate(a, a_t, x @ layer.weight.T) + layer.bias
            else:
                x = layer(sparse_propagate(a, a_t, x))
            x = self.act(x)
        return x


def test_checkpoints_of_linear_layers_load_and_give_the_same_outputs(graph: BipartiteGraph):
    torch.manual_seed(3)
    old = _LinearSAGE(64, (128, 68))
    torch.manual_seed(3)
    new = SAGEMeanEncoder(64, (128, 68))
    state = old.state_dict()
    assert list(new.state_dict()) == list(state) == [f"layers.{i}.{p}" for i in (0, 1) for p in ("weight", "bias")]
    for key, value in state.items():  # same seed, same initial weights (the generator is drawn the same way)
        assert torch.equal(new.state_dict()[key], value), key
    with torch.no_grad():
        for p in old.parameters():
            p.normal_(0.0, 0.3)
    new.load_state_dict(old.state_dict(), strict=True)
    gi = GraphInputs.from_graph(graph)
    x = torch.randn(graph.num_nodes, 64)
    assert torch.equal(new(x, gi), old(x, gi))
    keys = HashGNNModel(graph.num_nodes, RunConfig().model).state_dict()
    assert [k for k in keys if k.startswith("encoder.")] == [f"encoder.{k}" for k in state]
