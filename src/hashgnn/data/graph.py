"""The user–item bipartite graph built from train interactions only, and eq. 1's mean operator.

Nodes ``0..U-1`` are users and ``U..U+I-1`` are items. The message-passing operator is the mean over a node
and its neighbours of eq. 1 of the paper, :math:`\\hat{A} = (D + I)^{-1}(A + I)`, stored as a torch sparse
CSR matrix together with its transpose, whose rows are what the backward pass of a sparse product needs.

:func:`build_mean_operator` is the one builder of that operator: the full graph's (here), a row block of it
(layer-wise inference), a sampled subgraph's (mini-batch training) and the rows of nodes outside the graph
(inductive encoding) all come from it, so every path averages the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from hashgnn.data.interactions import Interactions
from hashgnn.errors import ConfigError

__all__ = ["BipartiteGraph", "build_mean_operator", "csr_to_scipy", "scipy_to_torch_csr", "transpose_csr",
           "with_transpose"]


def _torch_csr(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    return torch.sparse_csr_tensor(
        torch.from_numpy(np.ascontiguousarray(indptr, dtype=np.int64)),
        torch.from_numpy(np.ascontiguousarray(indices, dtype=np.int64)),
        torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)),
        size=shape,
        check_invariants=False,  # built from canonical CSR arrays (in range); checking costs O(nnz)
    )


def scipy_to_torch_csr(m: sp.spmatrix) -> torch.Tensor:
    """A scipy sparse matrix as a float32 torch sparse CSR tensor with sorted column indices."""
    m = m.tocsr()
    m.sort_indices()
    return _torch_csr(m.indptr, m.indices, m.data, m.shape)


def csr_to_scipy(a: torch.Tensor) -> sp.csr_matrix:
    """A (CPU) torch sparse CSR tensor as a scipy CSR matrix over the same values."""
    return sp.csr_matrix((a.values().numpy(), a.col_indices().numpy(), a.crow_indices().numpy()),
                         shape=tuple(a.shape))


def transpose_csr(a: torch.Tensor) -> torch.Tensor:
    """``aᵀ`` as torch sparse CSR (sorted columns): the operator a hand-written backward of ``a @ x`` needs."""
    return scipy_to_torch_csr(csr_to_scipy(a).T)


def with_transpose(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(a, aᵀ)``, the pair :func:`~hashgnn.models.propagation.sparse_propagate` takes."""
    return a, transpose_csr(a)


def _sorted_insertion(indptr: np.ndarray, neighbours: np.ndarray, n_cols: int,
                      self_start: int) -> tuple[np.ndarray, np.ndarray]:
    """``neighbours`` with every row sorted (a copy only when some row is not: sampled and new nodes' rows), and
    per row how many of them are smaller than the row's own column."""
    n_rows = len(indptr) - 1
    # scipy's row-wise check and sort (C++) measured 10x faster than a numpy lexsort on sampled rows.
    m = sp.csr_matrix((np.zeros(len(neighbours), dtype=np.float32), neighbours, indptr - indptr[0]),
                      shape=(n_rows, n_cols))
    if not m.has_sorted_indices:
        m = m.copy()  # sort_indices works in place, and the indices may be a view of the caller's adjacency
        m.sort_indices()
        neighbours = m.indices
    row_of = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(indptr))
    smaller = neighbours < row_of + self_start
    return neighbours, np.bincount(row_of[smaller], minlength=n_rows)


def build_mean_operator(indptr: np.ndarray, indices: np.ndarray, n_cols: int, self_start: int = 0,
                        node_first: bool = False) -> torch.Tensor:
    """Eq. 1's MEAN over a node and its neighbours, for a block of target rows, as float32 torch sparse CSR.

    Row ``i`` of the ``[T, n_cols]`` result (``T = len(indptr) - 1``) averages column ``self_start + i`` (the
    node itself) and its ``k_i`` neighbours ``indices[indptr[i]:indptr[i+1]]``, weight ``1/(k_i+1)`` each: row
    ``i`` of :math:`(D+I)^{-1}(A+I)` when ``indptr``/``indices`` are the adjacency's CSR arrays (``indptr`` may
    be a slice of them, not starting at 0: the rows of a layer-wise chunk).

    Column indices come out sorted within each row (a canonical CSR matrix: the full graph's operator equals the
    scipy ``(D+I)^{-1}(A+I)`` entry for entry, and transposes and scipy views need no sort), or with
    ``node_first`` the node's own column first, then its neighbours as given: the same operator for a product,
    built in fewer passes over the neighbours (layer-wise inference builds a chunk per layer).

    Args:
        indptr: ``[T+1]`` row pointers into ``indices``.
        indices: Neighbour columns; a column listed twice in a row counts twice.
        n_cols: Columns of the operator (the source nodes).
        self_start: Column of row 0's own node; row ``i``'s is ``self_start + i``.
        node_first: Put each row's own column first instead of sorting the row.
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    n_rows = len(indptr) - 1
    if self_start < 0 or self_start + n_rows > n_cols:
        raise ConfigError(f"the {n_cols} columns must include the {n_rows} targets from column {self_start}")
    counts = np.diff(indptr) + 1  # every row grows by its own column
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    neighbours = np.asarray(indices[indptr[0]:indptr[-1]])
    own = ptr[:-1]
    if not node_first:
        neighbours, smaller = _sorted_insertion(indptr, neighbours, n_cols, self_start)
        own = own + smaller
    is_own = np.zeros(int(ptr[-1]), dtype=bool)
    is_own[own] = True
    cols = np.empty(int(ptr[-1]), dtype=np.int64)
    cols[is_own] = np.arange(self_start, self_start + n_rows, dtype=np.int64)
    cols[~is_own] = neighbours
    vals = np.repeat((1.0 / counts).astype(np.float32), counts)
    return _torch_csr(ptr, cols, vals, (n_rows, n_cols))


@dataclass
class BipartiteGraph:
    """Bipartite user–item graph.

    Args:
        n_users: Number of users ``U``.
        n_items: Number of items ``I``.
        users: ``int64 [E]`` user index of each train edge.
        items: ``int64 [E]`` item index of each train edge (``0..I-1``, not offset).
    """

    n_users: int
    n_items: int
    users: np.ndarray
    items: np.ndarray

    @classmethod
    def from_interactions(cls, train: Interactions) -> BipartiteGraph:
        return cls(train.n_users, train.n_items, train.users.astype(np.int64), train.items.astype(np.int64))

    @property
    def num_nodes(self) -> int:
        return self.n_users + self.n_items

    def adjacency(self) -> sp.csr_matrix:
        """Symmetric binary ``[N, N]`` adjacency (no self loops)."""
        n = self.num_nodes
        rows = np.concatenate([self.users, self.items + self.n_users])
        cols = np.concatenate([self.items + self.n_users, self.users])
        a = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))
        a.sum_duplicates()
        a.data[:] = 1.0
        return a

    def edge_index(self) -> torch.Tensor:
        """PyG ``edge_index`` ``[2, 2E]`` with both directions of every edge."""
        coo = self.adjacency().tocoo()
        return torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))

    def mean_operator_scipy(self) -> sp.csr_matrix:
        """Row-normalised ``(D+I)^{-1}(A+I)``: row ``i`` averages node ``i`` and its neighbours (eq. 1)."""
        return csr_to_scipy(self._mean_operator())

    def mean_operator(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Â, Âᵀ)`` as torch sparse CSR tensors, ready for
        :func:`~hashgnn.models.propagation.sparse_propagate`."""
        return with_transpose(self._mean_operator())

    def _mean_operator(self) -> torch.Tensor:
        adj = self.adjacency()
        return build_mean_operator(adj.indptr, adj.indices, self.num_nodes)

    def sym_operator(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``D^{-1/2} A D^{-1/2}`` (LightGCN/GCN normalisation without self loops) and its transpose
        (itself)."""
        a = self.adjacency()
        deg = np.asarray(a.sum(axis=1)).ravel()
        inv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1)), 0.0).astype(np.float32)
        m = (sp.diags(inv) @ a @ sp.diags(inv)).tocsr().astype(np.float32)
        t = scipy_to_torch_csr(m)
        return t, t
