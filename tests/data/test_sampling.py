"""Neighbour sampling and GraphSAGE mini-batches (hashgnn.data.sampling): correctness on small graphs."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashgnn.data.graph import BipartiteGraph
from hashgnn.data.sampling import (
    CSRGraph,
    NeighborSampler,
    mean_operator_from_edges,
    pyg_sampler_available,
    sample_neighbors,
)
from hashgnn.errors import ConfigError


def _graph(n_users: int, n_items: int, n_edges: int, seed: int = 0, isolated: bool = True) -> BipartiteGraph:
    """Random bipartite graph; with ``isolated`` the last user and last item have no edge."""
    rng = np.random.default_rng(seed)
    hi_u = n_users - 1 if isolated else n_users
    hi_i = n_items - 1 if isolated else n_items
    return BipartiteGraph(n_users, n_items, rng.integers(0, hi_u, n_edges), rng.integers(0, hi_i, n_edges))


def _neighbor_sets(adj: sp.csr_matrix) -> list[set[int]]:
    return [set(adj.indices[adj.indptr[v]: adj.indptr[v + 1]].tolist()) for v in range(adj.shape[0])]


def _check_sample(adj: sp.csr_matrix, nodes: np.ndarray, fanout: int, ptr: np.ndarray,
                  nbrs: np.ndarray) -> None:
    sets = _neighbor_sets(adj)
    assert ptr.shape == (len(nodes) + 1,) and ptr[0] == 0 and ptr[-1] == len(nbrs)
    for j, v in enumerate(nodes):
        got = nbrs[ptr[j]: ptr[j + 1]].tolist()
        true = sets[v]
        assert set(got) <= true, "every sampled neighbour is a true neighbour"
        assert len(got) == len(set(got)), "no duplicate neighbour for one node"
        if fanout == -1 or len(true) <= fanout:
            assert set(got) == true, "all neighbours when degree <= fanout"
        else:
            assert len(got) == fanout


@pytest.fixture(scope="module")
def graph() -> BipartiteGraph:
    return _graph(40, 60, 500, seed=1)


@pytest.mark.parametrize("fanout", [-1, 0, 1, 3, 10, 1000])
def test_sample_neighbors_respects_graph_and_fanout(graph: BipartiteGraph, fanout: int) -> None:
    adj = graph.adjacency()
    csr = CSRGraph.from_bipartite(graph)
    nodes = np.arange(graph.num_nodes)
    ptr, nbrs = sample_neighbors(csr.indptr, csr.indices, nodes, fanout, np.random.default_rng(0))
    _check_sample(adj, nodes, fanout, ptr, nbrs)


def test_isolated_nodes_get_no_neighbour(graph: BipartiteGraph) -> None:
    csr = CSRGraph.from_bipartite(graph)
    isolated = np.flatnonzero(csr.degrees() == 0)
    assert len(isolated) >= 2  # the last user and the last item
    ptr, nbrs = sample_neighbors(csr.indptr, csr.indices, isolated, 5, np.random.default_rng(0))
    assert ptr.tolist() == [0] * (len(isolated) + 1) and len(nbrs) == 0
    sub = NeighborSampler(graph, [3, 2], seed=0).sample(isolated)
    assert sub.hop_sizes == [len(isolated)] * 3  # nobody else is reached
    for a in sub.operators:
        assert torch.equal(a.to_dense(), torch.eye(len(isolated)))  # the mean over {self} alone


def test_sample_neighbors_is_uniform_over_subsets() -> None:
    """One node with 5 neighbours, fanout 2: each of the 10 pairs should come up ~10 % of the time."""
    rng = np.random.default_rng(0)
    ptr, nbrs = sample_neighbors(np.array([0, 5]), np.arange(5), np.zeros(20_000, dtype=np.int64), 2, rng)
    pairs = np.sort(nbrs.reshape(-1, 2), axis=1)
    counts = {p: 0 for p in itertools.combinations(range(5), 2)}
    for a, b in pairs.tolist():
        counts[(a, b)] += 1
    freq = np.array(list(counts.values())) / len(pairs)
    assert np.all(np.abs(freq - 0.1) < 0.015)


def test_sample_neighbors_bad_input(graph: BipartiteGraph) -> None:
    csr = CSRGraph.from_bipartite(graph)
    with pytest.raises(ConfigError):
        sample_neighbors(csr.indptr, csr.indices, np.array([0]), -2, np.random.default_rng(0))
    with pytest.raises(ConfigError):
        sample_neighbors(csr.indptr, csr.indices, np.array([graph.num_nodes]), 2, np.random.default_rng(0))
    with pytest.raises(ConfigError):
        NeighborSampler(graph, [], seed=0)
    with pytest.raises(ConfigError):
        NeighborSampler(graph, [2], seed=0).sample(np.array([], dtype=np.int64))


def _check_subgraph(graph: BipartiteGraph, fanouts: list[int], batch: np.ndarray, seed: int = 0) -> None:
    sampler = NeighborSampler(graph, fanouts, seed=seed)
    sub = sampler.sample(batch)
    sets = _neighbor_sets(graph.adjacency())
    n_layers = len(fanouts)
    # seeds first, deduplicated, in order of first appearance; seed_index maps the batch back
    seeds = list(dict.fromkeys(batch.tolist()))
    assert sub.n_id[: len(seeds)].tolist() == seeds
    assert len(np.unique(sub.n_id)) == len(sub.n_id)
    assert np.array_equal(sub.n_id[sub.seed_index], batch)
    assert sub.hop_sizes[0] == len(seeds) and sub.hop_sizes[-1] == len(sub.n_id)
    assert all(a <= b for a, b in itertools.pairwise(sub.hop_sizes))
    assert len(sub.operators) == n_layers == len(sub.operators_t)
    for layer, (a, at) in enumerate(zip(sub.operators, sub.operators_t, strict=True)):
        hop = n_layers - 1 - layer  # operators are in application order: the outermost hop first
        assert a.layout == torch.sparse_csr and a.dtype == torch.float32
        assert tuple(a.shape) == (sub.hop_sizes[hop], sub.hop_sizes[hop + 1])
        dense = a.to_dense().numpy()
        assert np.allclose(at.to_dense().numpy(), dense.T)
        assert np.allclose(dense.sum(axis=1), 1.0, atol=1e-6), "rows are means"
        fanout = fanouts[hop]
        for i in range(dense.shape[0]):
            cols = np.flatnonzero(dense[i])
            assert i in cols, "the node itself is in its mean (eq. 1)"
            assert np.allclose(dense[i, cols], 1.0 / len(cols))
            v = int(sub.n_id[i])
            nbr_global = set(sub.n_id[cols[cols != i]].tolist())
            assert nbr_global <= sets[v]
            deg = len(sets[v])
            expected = deg if fanout == -1 or deg <= fanout else fanout
            assert len(nbr_global) == expected


def test_subgraph_structure(graph: BipartiteGraph) -> None:
    batch = np.array([5, 3, 5, graph.n_users + 7, 3, graph.num_nodes - 1])  # duplicates and an isolated item
    _check_subgraph(graph, [4, 2], batch)
    _check_subgraph(graph, [-1], batch)
    _check_subgraph(graph, [3, 2, 1], batch)


def test_operator_matches_full_mean_when_fanout_is_all(graph: BipartiteGraph) -> None:
    """With fanout -1 one layer is exactly the rows of (D+I)^-1 (A+I) for the seeds."""
    batch = np.array([0, 1, graph.n_users + 2])
    sub = NeighborSampler(graph, [-1], seed=0).sample(batch)
    x = torch.randn(graph.num_nodes, 3)
    ours = sub.operators[0] @ x[torch.from_numpy(sub.n_id)]
    full = torch.from_numpy(graph.mean_operator_scipy()[batch].toarray()) @ x
    assert torch.allclose(ours, full, atol=1e-5)


def test_two_layer_forward_and_backward(graph: BipartiteGraph) -> None:
    sub = NeighborSampler(graph, [5, 3], seed=0).sample(np.array([1, 2, graph.n_users]))
    emb = torch.randn(graph.num_nodes, 4, requires_grad=True)
    h = emb[torch.from_numpy(sub.n_id)]
    for a in sub.operators:
        h = torch.tanh(a @ h)
    assert h.shape == (3, 4)
    h.sum().backward()
    assert emb.grad is not None and torch.isfinite(emb.grad).all()


def test_determinism(graph: BipartiteGraph) -> None:
    batch = np.arange(0, graph.num_nodes, 7)
    a = NeighborSampler(graph, [4, 3], seed=42)
    b = NeighborSampler(graph, [4, 3], seed=42)
    for _ in range(2):  # same sequence of calls, same subgraphs
        sa, sb = a.sample(batch), b.sample(batch)
        assert np.array_equal(sa.n_id, sb.n_id) and sa.hop_sizes == sb.hop_sizes
        for x, y in zip(sa.operators, sb.operators, strict=True):
            assert torch.equal(x.to_dense(), y.to_dense())
    c = NeighborSampler(graph, [4, 3], seed=43).sample(batch)
    assert not np.array_equal(c.n_id, NeighborSampler(graph, [4, 3], seed=42).sample(batch).n_id)


def test_mean_operator_from_edges_rejects_too_few_sources() -> None:
    with pytest.raises(ConfigError):
        mean_operator_from_edges(3, 2, np.array([0]), np.array([1]))


def test_use_pyg_falls_back_without_crashing(graph: BipartiteGraph) -> None:
    if pyg_sampler_available():
        pytest.skip("pyg-lib / torch-sparse installed: the fallback is not exercised")
    with pytest.warns(RuntimeWarning, match="numpy sampler"):
        sampler = NeighborSampler(graph, [2, 2], seed=0, use_pyg=True)
    assert not sampler.use_pyg
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NeighborSampler(graph, [2], seed=0, use_pyg=False)  # no warning when not asked for
    sampler.sample(np.array([0]))


@st.composite
def _small_graphs(draw: st.DrawFn) -> tuple[BipartiteGraph, np.ndarray, list[int], int]:
    n_users = draw(st.integers(1, 8))
    n_items = draw(st.integers(1, 8))
    pairs = draw(st.lists(st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1)), max_size=30))
    users = np.array([p[0] for p in pairs], dtype=np.int64)
    items = np.array([p[1] for p in pairs], dtype=np.int64)
    g = BipartiteGraph(n_users, n_items, users, items)
    batch = np.array(draw(st.lists(st.integers(0, g.num_nodes - 1), min_size=1, max_size=6)), dtype=np.int64)
    fanouts = draw(st.lists(st.integers(-1, 4), min_size=1, max_size=2))
    return g, batch, fanouts, draw(st.integers(0, 2**16))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_small_graphs())
def test_hypothesis_small_graphs(case: tuple[BipartiteGraph, np.ndarray, list[int], int]) -> None:
    g, batch, fanouts, seed = case
    csr = CSRGraph.from_bipartite(g)
    for fanout in fanouts:
        nodes = np.arange(g.num_nodes)
        ptr, nbrs = sample_neighbors(csr.indptr, csr.indices, nodes, fanout, np.random.default_rng(seed))
        _check_sample(g.adjacency(), nodes, fanout, ptr, nbrs)
    _check_subgraph(g, fanouts, batch, seed)
