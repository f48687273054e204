"""The user–item bipartite graph built from train interactions only.

Nodes ``0..U-1`` are users and ``U..U+I-1`` are items. The message-passing operator is the mean over a node
and its neighbours of eq. 1 of the paper, :math:`\\hat{A} = (D + I)^{-1}(A + I)`, stored as a torch sparse
CSR matrix together with its transpose, whose rows are what the backward pass of a sparse product needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from hashgnn.data.interactions import Interactions


def _to_torch_csr(m: sp.csr_matrix) -> torch.Tensor:
    m = m.tocsr()
    m.sort_indices()
    return torch.sparse_csr_tensor(
        torch.from_numpy(m.indptr.astype(np.int64)),
        torch.from_numpy(m.indices.astype(np.int64)),
        torch.from_numpy(m.data.astype(np.float32)),
        size=m.shape,
        check_invariants=False,  # built from a canonical scipy CSR (sorted, in range); checking costs O(nnz)
    )


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
        a = self.adjacency() + sp.identity(self.num_nodes, dtype=np.float32, format="csr")
        deg = np.asarray(a.sum(axis=1)).ravel()
        return sp.diags(1.0 / deg).astype(np.float32) @ a

    def mean_operator(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Â, Âᵀ)`` as torch sparse CSR tensors, ready for
        :func:`~hashgnn.models.propagation.sparse_propagate`."""
        m = self.mean_operator_scipy().tocsr()
        return _to_torch_csr(m), _to_torch_csr(m.T.tocsr())

    def sym_operator(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``D^{-1/2} A D^{-1/2}`` (LightGCN/GCN normalisation without self loops) and its transpose
        (itself)."""
        a = self.adjacency()
        deg = np.asarray(a.sum(axis=1)).ravel()
        inv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1)), 0.0).astype(np.float32)
        m = (sp.diags(inv) @ a @ sp.diags(inv)).tocsr().astype(np.float32)
        t = _to_torch_csr(m)
        return t, t
