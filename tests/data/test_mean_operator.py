"""build_mean_operator: the one builder of eq. 1's mean operator, against eq. 1 computed densely by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hashgnn.data.graph import BipartiteGraph, build_mean_operator, transpose_csr
from hashgnn.data.sampling import CSRGraph, NeighborSampler, mean_operator_from_edges
from hashgnn.errors import ConfigError
from hashgnn.training.inference import mean_operator_rows


@pytest.fixture(scope="module")
def graph() -> BipartiteGraph:
    rng = np.random.default_rng(11)
    n_users, n_items = 40, 30
    pairs = np.unique(rng.integers(0, n_users, 300) * n_items + rng.integers(0, n_items, 300))
    return BipartiteGraph(n_users, n_items, pairs // n_items, pairs % n_items)  # some nodes isolated


def _eq1_dense(n_rows: int, n_cols: int, neighbours: list[list[int]], self_start: int = 0) -> np.ndarray:
    """Eq. 1's MEAN written out: row i averages column self_start+i and each listed neighbour."""
    out = np.zeros((n_rows, n_cols))
    for i, nbrs in enumerate(neighbours):
        for col in [self_start + i, *nbrs]:
            out[i, col] += 1.0 / (len(nbrs) + 1)
    return out


def _neighbour_lists(graph: BipartiteGraph) -> list[list[int]]:
    lists: list[list[int]] = [[] for _ in range(graph.num_nodes)]
    for u, i in zip(graph.users, graph.items, strict=True):
        lists[u].append(graph.n_users + i)
        lists[graph.n_users + i].append(u)
    return lists


def _flat(neighbours: list[list[int]]) -> np.ndarray:
    return np.concatenate([np.array(n, dtype=np.int64) for n in neighbours])


def _assert_canonical(a: torch.Tensor) -> None:
    """Sorted, distinct columns within each row: the layout of a scipy canonical CSR matrix."""
    crow, col = a.crow_indices().numpy(), a.col_indices().numpy()
    for r in range(len(crow) - 1):
        assert np.all(np.diff(col[crow[r]:crow[r + 1]]) > 0)


def test_full_graph_operator_is_eq1(graph: BipartiteGraph) -> None:
    n = graph.num_nodes
    expected = _eq1_dense(n, n, _neighbour_lists(graph))
    adj = graph.adjacency()
    a = build_mean_operator(adj.indptr, adj.indices, n)
    assert a.layout == torch.sparse_csr and a.dtype == torch.float32
    np.testing.assert_allclose(a.to_dense().numpy(), expected, rtol=1e-6, atol=0)
    _assert_canonical(a)
    op, op_t = graph.mean_operator()
    assert torch.equal(op.to_dense(), a.to_dense())
    assert torch.equal(op_t.to_dense(), a.to_dense().T)
    np.testing.assert_array_equal(graph.mean_operator_scipy().toarray(), a.to_dense().numpy())


def test_row_block_of_the_adjacency(graph: BipartiteGraph) -> None:
    """A layer-wise chunk: indptr is a slice not starting at 0, the node itself sits at column start + i."""
    n, (start, stop) = graph.num_nodes, (33, 52)
    csr = CSRGraph.from_bipartite(graph)
    expected = _eq1_dense(n, n, _neighbour_lists(graph))[start:stop]
    block = build_mean_operator(csr.indptr[start:stop + 1], csr.indices, n, self_start=start)
    np.testing.assert_allclose(block.to_dense().numpy(), expected, rtol=1e-6, atol=0)
    _assert_canonical(block)
    assert torch.equal(mean_operator_rows(csr, start, stop).to_dense(), block.to_dense())


def test_unsorted_rectangular_rows_as_sampled() -> None:
    """Targets are the first sources; neighbours in any order come out sorted, weights 1/(k+1)."""
    neighbours = [[7, 3, 5], [], [0, 6], [4]]
    indptr = np.cumsum([0, *map(len, neighbours)])
    a = build_mean_operator(indptr, _flat(neighbours), 8)
    np.testing.assert_allclose(a.to_dense().numpy(), _eq1_dense(4, 8, neighbours), rtol=1e-6, atol=0)
    _assert_canonical(a)
    assert torch.equal(transpose_csr(a).to_dense(), a.to_dense().T)
    target = np.repeat(np.arange(4), list(map(len, neighbours)))
    a_e, a_e_t = mean_operator_from_edges(4, 8, target[::-1].copy(), _flat(neighbours)[::-1].copy())
    assert torch.equal(a_e.to_dense(), a.to_dense()) and torch.equal(a_e_t.to_dense(), a.to_dense().T)


def test_node_first_rows_are_the_same_operator(graph: BipartiteGraph) -> None:
    """The layer-wise layout: each row's own column first, then its neighbours as given; same entries."""
    csr = CSRGraph.from_bipartite(graph)
    n = graph.num_nodes
    sorted_rows = build_mean_operator(csr.indptr, csr.indices, n)
    first = build_mean_operator(csr.indptr, csr.indices, n, node_first=True)
    assert torch.equal(first.to_dense(), sorted_rows.to_dense())
    crow, col = first.crow_indices().numpy(), first.col_indices().numpy()
    np.testing.assert_array_equal(col[crow[:-1]], np.arange(n))
    neighbours = [[7, 3, 5], [], [0, 6]]
    a = build_mean_operator(np.cumsum([0, *map(len, neighbours)]), _flat(neighbours), 8, self_start=1,
                            node_first=True)
    np.testing.assert_allclose(a.to_dense().numpy(), _eq1_dense(3, 8, neighbours, self_start=1), rtol=1e-6)


def test_sampled_operator_with_all_neighbours_is_the_full_rows(graph: BipartiteGraph) -> None:
    seeds = np.array([3, 0, graph.n_users + 5, 17])
    sub = NeighborSampler(graph, [-1], seed=0).sample(seeds)
    full = _eq1_dense(graph.num_nodes, graph.num_nodes, _neighbour_lists(graph))
    dense = sub.operators[0].to_dense().numpy()
    mapped = np.zeros((len(seeds), graph.num_nodes))
    mapped[:, sub.n_id] = dense
    np.testing.assert_allclose(mapped, full[seeds], rtol=1e-6, atol=0)


def test_the_columns_must_hold_the_targets() -> None:
    with pytest.raises(ConfigError, match="columns must include"):
        build_mean_operator(np.array([0, 1, 2, 2]), np.array([1, 0]), 2)
    with pytest.raises(ConfigError):
        build_mean_operator(np.array([0, 0]), np.array([], dtype=np.int64), 5, self_start=5)
