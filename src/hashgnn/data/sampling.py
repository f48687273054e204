"""Uniform neighbour sampling and GraphSAGE k-hop mini-batches over the user–item bipartite graph.

Full-graph propagation (:meth:`~hashgnn.data.graph.BipartiteGraph.mean_operator`) touches every edge on
every step; on a graph the size of the paper's Alibaba set (4.8 M nodes, 57 M directed edges) a mini-batch
only needs the few thousand nodes within ``L`` hops of its seeds, with the neighbourhoods capped by a fan-out
as in GraphSAGE. This module builds those mini-batches without pyg-lib or torch-sparse (which do not install
for the pinned torch): sampling is vectorised numpy, and each layer comes out as a small torch sparse CSR
operator that implements the MEAN of eq. 1 of the paper on the sampled neighbourhood.

Node space: users are ``0..U-1`` and items ``U..U+I-1``, as in :class:`~hashgnn.data.graph.BipartiteGraph`.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

from hashgnn.data.graph import BipartiteGraph, build_mean_operator, with_transpose
from hashgnn.errors import ConfigError

__all__ = [
    "CSRGraph", "NeighborSampler", "SampledSubgraph", "mean_operator_from_edges", "pyg_sampler_available",
    "sample_neighbors",
]


@dataclass(frozen=True)
class CSRGraph:
    """A graph's adjacency as bare CSR arrays: node ``v``'s neighbours are ``indices[indptr[v]:indptr[v+1]]``.

    Kept as plain numpy arrays (not a scipy matrix) because sampling only needs the structure, and the float
    ``data`` array of a scipy matrix would cost another 4 bytes per edge at Alibaba scale.

    Args:
        indptr: ``int64 [N+1]`` row pointers.
        indices: ``int32`` or ``int64 [nnz]`` neighbour ids, no duplicates within a row.
    """

    indptr: np.ndarray
    indices: np.ndarray

    @property
    def num_nodes(self) -> int:
        return len(self.indptr) - 1

    @property
    def num_edges(self) -> int:
        """Directed edges (each undirected user–item edge counts twice)."""
        return len(self.indices)

    def degrees(self) -> np.ndarray:
        return np.diff(self.indptr)

    @classmethod
    def from_scipy(cls, adj: sp.spmatrix) -> CSRGraph:
        """From any scipy sparse matrix; duplicate entries are merged so every neighbour appears once."""
        csr = sp.csr_matrix(adj)
        csr.sum_duplicates()
        idx_dtype = np.int32 if csr.shape[0] < 2**31 else np.int64
        return cls(csr.indptr.astype(np.int64), csr.indices.astype(idx_dtype, copy=False))

    @classmethod
    def from_bipartite(cls, graph: BipartiteGraph) -> CSRGraph:
        """The symmetric user–item adjacency of ``graph`` (``graph.adjacency()``), no self loops."""
        return cls.from_scipy(graph.adjacency())


def _check_fanout(fanout: int) -> None:
    if not isinstance(fanout, (int, np.integer)) or isinstance(fanout, bool) or fanout < -1:
        raise ConfigError(f"fanout must be an integer >= 0, or -1 for all neighbours; got {fanout!r}")


def sample_neighbors(
    csr_indptr: np.ndarray,
    csr_indices: np.ndarray,
    nodes: np.ndarray,
    fanout: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample up to ``fanout`` distinct neighbours of each node, uniformly without replacement.

    A node of degree ``d <= fanout`` (or any node when ``fanout == -1``) gets all its ``d`` neighbours; an
    isolated node gets none. Otherwise the ``fanout`` positions are drawn with Floyd's algorithm, which yields
    every ``fanout``-subset with equal probability from exactly ``fanout`` random numbers per node. It is
    vectorised over nodes: the only Python loop runs over the ``fanout`` draw positions (10 or so), never over
    nodes, and its cost does not depend on the degrees, so a hub with a million neighbours costs the same as
    any other node.

    Args:
        csr_indptr: ``[N+1]`` CSR row pointers of the adjacency.
        csr_indices: ``[nnz]`` CSR neighbour ids (no duplicates within a row, so samples are distinct).
        nodes: ``[n]`` node ids to sample for (duplicates allowed; each occurrence is sampled independently).
        fanout: Neighbours per node; ``-1`` = all.
        rng: Source of randomness; the result is a pure function of its state.

    Returns:
        ``(ptr, neighbors)``: ``ptr`` is ``int64 [n+1]`` and ``neighbors[ptr[j]:ptr[j+1]]`` are the sampled
        neighbours of ``nodes[j]`` (in no particular order), with the dtype of ``csr_indices``.
    """
    _check_fanout(fanout)
    nodes = np.asarray(nodes, dtype=np.int64).reshape(-1)
    n_nodes = len(csr_indptr) - 1
    if len(nodes) and (nodes.min() < 0 or nodes.max() >= n_nodes):
        raise ConfigError(f"node ids must be in [0, {n_nodes}); got min {nodes.min()}, max {nodes.max()}")
    start = csr_indptr[nodes].astype(np.int64)
    deg = csr_indptr[nodes + 1].astype(np.int64) - start
    take = deg if fanout == -1 else np.minimum(deg, fanout)
    ptr = np.zeros(len(nodes) + 1, dtype=np.int64)
    np.cumsum(take, out=ptr[1:])
    total = int(ptr[-1])
    out = np.empty(total, dtype=csr_indices.dtype)
    if total == 0:
        return ptr, out

    full = take == deg  # every neighbour is kept: copy the whole row
    if full.any():
        f_start, f_take, f_ptr = start[full], take[full], ptr[:-1][full]
        # position of each output slot within its row, without a loop: global slot - row's first slot
        row_of = np.repeat(np.arange(len(f_take)), f_take)
        within = np.arange(int(f_take.sum()), dtype=np.int64) - np.repeat(np.cumsum(f_take) - f_take, f_take)
        out[f_ptr[row_of] + within] = csr_indices[f_start[row_of] + within]

    part = ~full
    if part.any():
        k = int(fanout)
        p_deg, p_start, p_ptr = deg[part], start[part], ptr[:-1][part]
        u = rng.random((len(p_deg), k))
        chosen = np.empty((len(p_deg), k), dtype=np.int64)
        # Floyd: for j = d-k .. d-1, draw t in [0, j]; take t unless already taken, else take j itself.
        for step in range(k):
            j = p_deg - k + step
            t = np.minimum((u[:, step] * (j + 1)).astype(np.int64), j)
            seen = (chosen[:, :step] == t[:, None]).any(axis=1) if step else np.zeros(len(t), dtype=bool)
            chosen[:, step] = np.where(seen, j, t)
        slots = p_ptr[:, None] + np.arange(k)
        out[slots.ravel()] = csr_indices[(p_start[:, None] + chosen).ravel()]
    return ptr, out


def mean_operator_from_edges(
    n_targets: int, n_sources: int, target: np.ndarray, source: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row-normalised ``[n_targets, n_sources]`` operator averaging each target with its listed neighbours.

    Row ``i`` has weight ``1/(k_i+1)`` on column ``i`` (the node itself: targets are the first ``n_targets``
    sources) and on each of its ``k_i`` neighbours ``source[target == i]``: eq. 1's MEAN over
    ``{self} ∪ neighbours``. ``(target, source)`` pairs must be distinct and never ``target == source``.

    Returns:
        ``(A, Aᵀ)`` as float32 torch sparse CSR tensors with sorted column indices (built by
        :func:`~hashgnn.data.graph.build_mean_operator`); the transpose is what the backward pass of ``A @ x``
        needs, as for :meth:`BipartiteGraph.mean_operator`.
    """
    target = np.asarray(target, dtype=np.int64)
    order = np.argsort(target, kind="stable")
    indptr = np.zeros(n_targets + 1, dtype=np.int64)
    np.cumsum(np.bincount(target, minlength=n_targets), out=indptr[1:])
    return with_transpose(build_mean_operator(indptr, np.asarray(source, dtype=np.int64)[order], n_sources))


@functools.cache
def pyg_sampler_available() -> bool:
    """Whether ``torch_geometric``'s neighbour sampler can run (it needs pyg-lib or torch-sparse).

    Checked once per process; any import problem means "no", never an exception.
    """
    try:
        import torch_geometric.typing as pyg_typing
    except Exception:  # noqa: BLE001 - a broken optional install must not break sampling
        return False
    return bool(getattr(pyg_typing, "WITH_PYG_LIB", False) or getattr(pyg_typing, "WITH_TORCH_SPARSE", False))


@dataclass
class SampledSubgraph:
    """One GraphSAGE mini-batch: the nodes it needs and one mean operator per layer.

    Node sets are nested prefixes of ``n_id``: hop ``h`` (``h = 0..L``) is ``n_id[:hop_sizes[h]]``; hop 0 is
    the distinct seeds in order of first appearance, and hop ``h+1`` is hop ``h`` followed by the newly
    reached nodes. So "targets first" holds in every operator, and features enter as ``x = emb[n_id]``.

    ``operators`` are in *application* order, ``L`` of them: ``operators[l]`` is
    ``[hop_sizes[L-1-l], hop_sizes[L-l]]`` and maps layer-``l`` representations (of hop ``L-l``'s nodes) to
    layer-``l+1`` ones (of hop ``L-1-l``'s nodes)::

        h = emb[sub.n_id]
        for l, (a, w) in enumerate(zip(sub.operators, weights)):
            h = act(w(a @ h))          # after the last layer, h is [hop_sizes[0], d]: one row per seed
        out = h[sub.seed_index]        # back to the order (and duplicates) of the batch

    Row ``i`` of ``operators[l]`` is the MEAN over ``{node i} ∪ S(i)`` (eq. 1), weight ``1/(|S(i)|+1)`` each,
    where ``S(i)`` are the neighbours sampled for node ``i`` at hop ``L-1-l`` (without replacement, at most
    ``fanouts[L-1-l]``, all of them for a low-degree node, none for an isolated one).

    Args:
        n_id: ``int64`` global node ids (users ``0..U-1``, items ``U..``), seeds first.
        hop_sizes: ``L+1`` increasing prefix lengths of ``n_id``.
        operators: ``L`` float32 torch sparse CSR mean operators, application order.
        operators_t: Their transposes (CSR), for a backward pass through ``A @ x``.
        seed_index: ``int64 [batch]``: position in ``n_id`` of each node of the requested batch.
        n_sampled_edges: Sampled (target, neighbour) pairs per hop, hop 0 first.
    """

    n_id: np.ndarray
    hop_sizes: list[int]
    operators: list[torch.Tensor]
    operators_t: list[torch.Tensor]
    seed_index: np.ndarray
    n_sampled_edges: list[int] = field(default_factory=list)

    @property
    def num_layers(self) -> int:
        return len(self.operators)

    @property
    def n_seeds(self) -> int:
        return self.hop_sizes[0]

    def hop_nodes(self, hop: int) -> np.ndarray:
        """Global ids of the nodes of hop ``hop`` (0 = seeds)."""
        return self.n_id[: self.hop_sizes[hop]]


class NeighborSampler:
    """GraphSAGE k-hop neighbour sampler over a :class:`BipartiteGraph` (see :class:`SampledSubgraph`).

    At hop ``h`` *every* node of hop ``h`` (seeds included) gets its own sample of ``fanouts[h]`` neighbours,
    as in GraphSAGE (Hamilton et al., algorithm 2): a seed's layer-1 representation, needed by the last layer,
    uses a fresh neighbourhood. ``fanouts[0]`` is the hop next to the seeds (PyG's ``num_neighbors`` order).

    Args:
        graph: The train graph (never the test edges: sampling them would leak test links).
        fanouts: Neighbours per node at each hop, seeds' hop first; ``-1`` = all. ``len(fanouts)`` = layers.
        seed: Seed of the sampler's own generator; two samplers with the same seed, graph and call sequence
            return identical subgraphs.
        use_pyg: Sample with ``torch_geometric``'s neighbour sampler (pyg-lib / torch-sparse) when it can run;
            when it cannot (the case for the pinned torch), warn once and use the numpy sampler. Note PyG's
            semantics differ: it samples each node once, at the hop that first reaches it, and later layers
            reuse those edges.
        csr: A prebuilt adjacency of ``graph`` (saves building it again at scale).

    The sampler keeps one ``int64 [N]`` scratch array for global→local ids, so one instance must not be used
    from several threads at once.
    """

    def __init__(self, graph: BipartiteGraph, fanouts: list[int], seed: int = 0, use_pyg: bool = False,
                 csr: CSRGraph | None = None) -> None:
        if len(fanouts) == 0:
            raise ConfigError("fanouts must list at least one hop")
        for f in fanouts:
            _check_fanout(f)
        self.graph = graph
        self.fanouts = [int(f) for f in fanouts]
        self.csr = csr if csr is not None else CSRGraph.from_bipartite(graph)
        if self.csr.num_nodes != graph.num_nodes:
            raise ConfigError(f"csr has {self.csr.num_nodes} nodes, the graph {graph.num_nodes}")
        self.rng = np.random.default_rng(seed)
        self._local = np.full(graph.num_nodes, -1, dtype=np.int64)
        self.use_pyg = bool(use_pyg) and pyg_sampler_available()
        if use_pyg and not self.use_pyg:
            warnings.warn("torch_geometric neighbour sampling needs pyg-lib or torch-sparse, which are not "
                          "installed; using hashgnn's numpy sampler", RuntimeWarning, stacklevel=2)
        self._pyg = None
        if self.use_pyg:  # pragma: no cover - pyg-lib/torch-sparse do not install for the pinned torch
            self._pyg = self._make_pyg_sampler(seed)

    @property
    def num_layers(self) -> int:
        return len(self.fanouts)

    def sample(self, batch_nodes: np.ndarray) -> SampledSubgraph:
        """The k-hop subgraph of ``batch_nodes`` (global ids; duplicates allowed, e.g. edge endpoints)."""
        batch = np.asarray(batch_nodes, dtype=np.int64).reshape(-1)
        if len(batch) == 0:
            raise ConfigError("cannot sample a subgraph for an empty batch")
        n = self.graph.num_nodes
        if batch.min() < 0 or batch.max() >= n:
            raise ConfigError(f"batch node ids must be in [0, {n}); got min {batch.min()}, max {batch.max()}")
        uniq, first, inverse = np.unique(batch, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")  # distinct seeds in order of first appearance
        seeds = uniq[order]
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        seed_index = rank[inverse.reshape(-1)]
        if self._pyg is not None:  # pragma: no cover
            return self._sample_pyg(seeds, seed_index)
        return self._sample_numpy(seeds, seed_index)

    def _sample_numpy(self, seeds: np.ndarray, seed_index: np.ndarray) -> SampledSubgraph:
        local = self._local
        n_id_parts = [seeds]
        local[seeds] = np.arange(len(seeds))
        size = len(seeds)
        hop_sizes = [size]
        edges: list[tuple[np.ndarray, np.ndarray]] = []
        try:
            for fanout in self.fanouts:
                targets = np.concatenate(n_id_parts) if len(n_id_parts) > 1 else n_id_parts[0]
                ptr, nbrs = sample_neighbors(self.csr.indptr, self.csr.indices, targets, fanout, self.rng)
                nbrs = nbrs.astype(np.int64, copy=False)
                fresh = nbrs[local[nbrs] < 0]
                if len(fresh):
                    u, first = np.unique(fresh, return_index=True)
                    new = u[np.argsort(first, kind="stable")]  # first-reached order, deterministic
                    local[new] = np.arange(size, size + len(new))
                    n_id_parts.append(new)
                    size += len(new)
                edges.append((ptr, local[nbrs]))  # hop h's targets are its first hop_sizes[h] local ids
                hop_sizes.append(size)
            n_id = np.concatenate(n_id_parts)
        finally:
            for part in n_id_parts:  # reset only what we touched: O(batch), not O(N)
                local[part] = -1
        ops, ops_t = [], []
        for hop in reversed(range(self.num_layers)):
            a, at = with_transpose(build_mean_operator(*edges[hop], hop_sizes[hop + 1]))
            ops.append(a)
            ops_t.append(at)
        return SampledSubgraph(n_id=n_id, hop_sizes=hop_sizes, operators=ops, operators_t=ops_t,
                               seed_index=seed_index, n_sampled_edges=[len(e[1]) for e in edges])

    # --- optional torch_geometric backend ------------------------------------------------------------------
    def _make_pyg_sampler(self, seed: int) -> object:  # pragma: no cover - needs pyg-lib or torch-sparse
        from torch_geometric.data import Data
        from torch_geometric.sampler import NeighborSampler as PygNeighborSampler

        torch.manual_seed(seed)
        ones = np.ones(self.csr.num_edges, dtype=np.float32)
        coo = sp.csr_matrix((ones, self.csr.indices, self.csr.indptr),
                            shape=(self.csr.num_nodes, self.csr.num_nodes)).tocoo()
        edge_index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
        data = Data(edge_index=edge_index, num_nodes=self.csr.num_nodes)
        return PygNeighborSampler(data, num_neighbors=self.fanouts, replace=False)

    def _sample_pyg(self, seeds: np.ndarray, seed_index: np.ndarray) -> SampledSubgraph:  # pragma: no cover
        """PyG's sampler output turned into our operators: its ``row`` is the neighbour, ``col`` the target.

        Every sampled edge has its target in hop ``h`` and its source in hop ``h+1`` for the hop ``h`` that
        sampled it, so layer ``L-1-h``'s operator uses the edges of hops ``0..h``.
        """
        from torch_geometric.sampler import NodeSamplerInput

        out = self._pyg.sample_from_nodes(NodeSamplerInput(input_id=None, node=torch.from_numpy(seeds)))
        n_id = out.node.numpy().astype(np.int64)
        hop_sizes = np.cumsum(out.num_sampled_nodes).tolist()
        edge_counts = np.cumsum(out.num_sampled_edges).tolist()
        src, tgt = out.row.numpy().astype(np.int64), out.col.numpy().astype(np.int64)
        ops, ops_t = [], []
        for hop in reversed(range(self.num_layers)):
            m = edge_counts[hop]
            a, at = mean_operator_from_edges(hop_sizes[hop], hop_sizes[hop + 1], tgt[:m], src[:m])
            ops.append(a)
            ops_t.append(at)
        return SampledSubgraph(n_id=n_id, hop_sizes=hop_sizes, operators=ops, operators_t=ops_t,
                               seed_index=seed_index, n_sampled_edges=list(out.num_sampled_edges))
