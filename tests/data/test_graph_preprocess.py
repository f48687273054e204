"""graph.py (edge_index, the eq. 1 mean operator and its transpose), k-core, de-duplication, id round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hashgnn.data import BipartiteGraph, Interactions
from hashgnn.data.preprocess import k_core
from hashgnn.errors import DataError

# Hand graph: 2 users, 3 items; user 0 - items 0, 1; user 1 - items 1, 2.  Nodes: u0=0, u1=1, i0=2, i1=3,
# i2=4.
HAND = Interactions.from_raw(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 2]))


def test_edge_index_both_directions() -> None:
    g = BipartiteGraph.from_interactions(HAND)
    ei = g.edge_index()
    assert ei.dtype == torch.int64 and ei.shape == (2, 2 * len(HAND))
    edges = set(map(tuple, ei.T.tolist()))
    assert edges == {(0, 2), (0, 3), (1, 3), (1, 4), (2, 0), (3, 0), (3, 1), (4, 1)}
    assert all(u < g.n_users <= i for u, i in edges if u < i)  # users 0..U-1, items U..U+I-1


def test_mean_operator_on_hand_graph() -> None:
    g = BipartiteGraph.from_interactions(HAND)
    a = np.zeros((5, 5))
    for u, i in [(0, 2), (0, 3), (1, 3), (1, 4)]:
        a[u, i] = a[i, u] = 1
    expected = (a + np.eye(5)) / (a.sum(1, keepdims=True) + 1)  # (A + I) / (deg + 1), self included
    op, op_t = g.mean_operator()
    assert op.layout == torch.sparse_csr and op_t.layout == torch.sparse_csr
    dense = op.to_dense().numpy()
    np.testing.assert_allclose(dense, expected, rtol=1e-6)
    np.testing.assert_allclose(dense.sum(1), np.ones(5), rtol=1e-6)
    np.testing.assert_allclose(op_t.to_dense().numpy(), expected.T, rtol=1e-6)
    assert dense[0, 0] == pytest.approx(1 / 3) and dense[2, 2] == pytest.approx(1 / 2)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 15)), min_size=1, max_size=80))
def test_mean_operator_properties(pairs) -> None:
    arr = np.asarray(pairs)
    inter = Interactions.from_raw(arr[:, 0], arr[:, 1])
    g = BipartiteGraph.from_interactions(inter)
    assert g.edge_index().shape == (2, 2 * len(inter))  # duplicates were removed: 2E columns
    op, op_t = g.mean_operator()
    dense = op.to_dense().numpy()
    np.testing.assert_allclose(dense.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(op_t.to_dense().numpy(), dense.T)
    sym, _ = g.sym_operator()
    np.testing.assert_allclose(sym.to_dense().numpy(), sym.to_dense().numpy().T, rtol=1e-6)


def test_dedup_keeps_one_row_per_pair_and_earliest_time() -> None:
    inter = Interactions.from_raw(np.array(["a", "a", "a", "b"]), np.array(["x", "x", "y", "x"]),
                                  np.array([5, 3, 9, 1]))
    assert len(inter) == 3
    rows = {(inter.user_ids[u], inter.item_ids[i], t) for u, i, t in zip(inter.users, inter.items,
                                                                         inter.timestamps, strict=True)}
    assert rows == {("a", "x", 3), ("a", "y", 9), ("b", "x", 1)}
    assert inter.to_csr().sum() == 3


@settings(max_examples=60, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), min_size=1, max_size=150),
       k=st.integers(2, 5))
def test_k_core(pairs, k) -> None:
    arr = np.asarray(pairs)
    inter = Interactions.from_raw(arr[:, 0], arr[:, 1])
    try:
        core = k_core(inter, k)
    except DataError as exc:
        assert f"{k}-core" in str(exc)
        return
    assert core.user_degrees().min() >= k and core.item_degrees().min() >= k
    original = {(inter.user_ids[u], inter.item_ids[i])
                for u, i in zip(inter.users, inter.items, strict=True)}
    kept = {(core.user_ids[u], core.item_ids[i]) for u, i in zip(core.users, core.items, strict=True)}
    assert kept <= original
    # maximality: every dropped pair touches a user or item outside the core
    for u, i in original - kept:
        assert u not in set(core.user_ids.tolist()) or i not in set(core.item_ids.tolist())


def test_k_core_chain_needs_many_rounds() -> None:
    # A 2-core "ladder" that peels one rung per round from one end: more rounds than a fixed cap of 100.
    n = 150
    users, items = [0], [0]
    for j in range(1, n):
        users += [j, j]
        items += [j - 1, j]
    core = Interactions.from_raw(np.array(users), np.array(items))
    with pytest.raises(DataError):
        k_core(core, 2)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=5), st.text(min_size=1, max_size=5)), min_size=1,
                max_size=40))
def test_original_id_round_trip_with_string_ids(pairs) -> None:
    us = np.array([p[0] for p in pairs], dtype=object)
    its = np.array([p[1] for p in pairs], dtype=object)
    inter = Interactions.from_raw(us, its)
    got = {(inter.user_ids[u], inter.item_ids[i]) for u, i in zip(inter.users, inter.items, strict=True)}
    assert got == set(pairs)
    for raw in set(us.tolist()):
        assert inter.user_ids[inter.user_index(raw)] == raw
    for raw in set(its.tolist()):
        assert inter.item_ids[inter.item_index(raw)] == raw
