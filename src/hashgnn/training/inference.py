"""Layer-wise, row-chunked full-graph inference: codes for every node in bounded memory.

:meth:`HashGNNModel.encode` propagates over the whole mean operator ``Â = (D+I)^{-1}(A+I)`` at once, which at the
paper's Alibaba size (4.77 M nodes, 57 M directed edges) means materialising ``Â`` *and* ``Âᵀ`` as torch CSR
(several GiB) plus autograd-free but full-width temporaries. Sampled (GraphSAGE) inference would be cheaper per
node but is random and approximate. Instead this module computes the *exact* full-graph forward one layer at a
time (the layer-wise inference of GraphSAGE/PyG): layer ``l`` needs only the complete output of layer ``l-1``
(``N x d`` floats) and, for each block of ``chunk_size`` rows, a small CSR slice of ``Â`` built on the fly from
the bare adjacency (:class:`~hashgnn.data.sampling.CSRGraph`). Peak memory is two ``N x d`` activations plus one
chunk; the result equals ``model.encode(graph)`` up to float rounding.

Rows can also be restricted to a contiguous block (``rows``), which is how
:mod:`hashgnn.training.distributed` splits inference across ranks.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from hashgnn.data.graph import BipartiteGraph, build_mean_operator
from hashgnn.data.sampling import CSRGraph
from hashgnn.errors import ConfigError
from hashgnn.models.encoders import SAGEMeanEncoder
from hashgnn.models.hashing import sign
from hashgnn.models.propagation import sparse_mm

__all__ = ["layerwise_encode", "layerwise_encoder_output", "mean_operator_rows", "as_csr_graph", "DEFAULT_CHUNK"]

#: Rows per operator slice: at Alibaba's mean degree (~12) a chunk is ~800 K non-zeros (~10 MB as torch CSR).
DEFAULT_CHUNK = 65_536


def as_csr_graph(graph: BipartiteGraph | CSRGraph) -> CSRGraph:
    """The bare adjacency the chunks are cut from (reused as is when the caller already built it)."""
    if isinstance(graph, CSRGraph):
        return graph
    if isinstance(graph, BipartiteGraph):
        return CSRGraph.from_bipartite(graph)
    raise ConfigError(f"layer-wise inference needs a BipartiteGraph or CSRGraph, got {type(graph).__name__}")


def mean_operator_rows(csr: CSRGraph, start: int, stop: int) -> Tensor:
    """Rows ``start:stop`` of ``Â = (D+I)^{-1}(A+I)`` as a ``[stop-start, N]`` float32 torch sparse CSR tensor.

    Built directly from the adjacency slice by :func:`~hashgnn.data.graph.build_mean_operator` (no full ``Â``
    ever exists): row ``i`` is eq. 1's MEAN over ``{i} ∪ N(i)``, the same entries as the full operator's row,
    the node's own column first (column order inside a row does not matter for the product, and leaving the
    adjacency's order saves a pass over every edge of every chunk).
    """
    n = csr.num_nodes
    if not 0 <= start <= stop <= n:
        raise ConfigError(f"row range [{start}, {stop}) is outside [0, {n}]")
    return build_mean_operator(csr.indptr[start:stop + 1], csr.indices, n, self_start=start, node_first=True)


def _sage_encoder(model) -> SAGEMeanEncoder:
    encoder = model.encoder
    if not isinstance(encoder, SAGEMeanEncoder):
        raise ConfigError("layer-wise inference and mini-batch training need the 'sage' encoder (eq. 1's mean "
                          f"aggregator); this model uses {type(encoder).__name__}")
    return encoder


@torch.no_grad()
def layerwise_encode(model, graph: BipartiteGraph | CSRGraph, chunk_size: int = DEFAULT_CHUNK,
                     rows: tuple[int, int] | None = None,
                     gather: Callable[[Tensor, tuple[int, int]], Tensor] | None = None,
                     progress: Callable[[int, int], None] | None = None) -> tuple[Tensor, Tensor]:
    """``(z, h)`` of every node (or of ``rows``) by exact full-graph propagation, one layer and chunk at a time.

    Args:
        model: A :class:`~hashgnn.models.hashgnn.HashGNNModel` with the ``sage`` encoder (any device; the
            operator chunks are moved to the model's device).
        graph: The train graph, or its prebuilt :class:`CSRGraph` (saves rebuilding 57 M edges at scale).
        chunk_size: Rows of ``Â`` per slice: bounds the temporary operator and output block.
        rows: Only compute the final ``(z, h)`` for nodes ``rows[0]:rows[1]`` (intermediate layers still need
            every node, which ``gather`` provides when set).
        gather: Distributed hook: called with this process's block of a layer's output and its row range, returns
            the full ``[N, d]`` layer output (an all-gather). Without it, every row of every layer is computed
            here.
        progress: Called as ``progress(layer, rows_done)`` after each chunk (benchmarks, logs).

    Returns:
        ``z = tanh(a)`` (or the encoder's output with ``model.rerank=encoder``) float32 and ``h = sign(tanh(a))``
        (±1), ``[n_rows, K]``, on the model's device, same as ``model.encode(graph)`` restricted to those rows.
    """
    csr = as_csr_graph(graph)
    lo, hi = rows if rows is not None else (0, csr.num_nodes)
    was_training = model.training
    model.eval()
    x = model.normalized(_encoder_rows(model, csr, chunk_size, lo, hi, gather, progress))
    # x: [hi - lo, d] final encoder output of the requested rows → hash layer, chunked to bound temporaries.
    k = model.hash.linear.out_features
    a = torch.empty(hi - lo, k, dtype=x.dtype, device=x.device)
    for s in range(0, hi - lo, chunk_size):
        a[s:s + chunk_size] = model.hash(x[s:s + chunk_size], start=lo + s)
    if was_training:
        model.train()
    if model.config.rerank == "encoder":
        return x, model.codes(a)
    z = a.tanh_()  # in place: at Alibaba size another [N, K] copy is hundreds of MB
    return z, sign(z)


@torch.no_grad()
def layerwise_encoder_output(model, graph: BipartiteGraph | CSRGraph, chunk_size: int = DEFAULT_CHUNK) -> Tensor:
    """The encoder's output u ``[N, d]`` of every node (before any hash layer), layer-wise as
    :func:`layerwise_encode`: ``model.represent(graph)[0]`` up to float rounding."""
    csr = as_csr_graph(graph)
    was_training = model.training
    model.eval()
    u = model.normalized(_encoder_rows(model, csr, chunk_size, 0, csr.num_nodes))
    model.train(was_training)
    return u


def _encoder_rows(model, csr: CSRGraph, chunk_size: int, lo: int, hi: int,
                  gather: Callable[[Tensor, tuple[int, int]], Tensor] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> Tensor:
    """The last encoder layer's output of rows ``lo:hi``, one layer and row chunk at a time (arguments as for
    :func:`layerwise_encode`)."""
    if chunk_size <= 0:
        raise ConfigError(f"chunk_size must be > 0, got {chunk_size}")
    encoder = _sage_encoder(model)
    n = csr.num_nodes
    if model.input.embedding.num_embeddings != n:
        raise ConfigError(f"the model has {model.input.embedding.num_embeddings} node embeddings, the graph {n} "
                          "nodes")
    device = model.input.embedding.weight.device
    x = model.input()
    n_layers = len(encoder.layers)
    for li, layer in enumerate(encoder.layers):
        last = li == n_layers - 1
        # Which rows this process computes at this layer: all of them, unless the caller gathers blocks or
        # this is the last layer (only the requested rows are needed).
        r0, r1 = (lo, hi) if (gather is not None or last) else (0, n)
        src = layer.project(x)  # once for all chunks: each chunk's rows average rows of every node
        out = torch.empty(r1 - r0, layer.out_features, dtype=x.dtype, device=device)
        for s in range(r0, r1, chunk_size):
            e = min(s + chunk_size, r1)
            out[s - r0:e - r0] = layer.update(sparse_mm(mean_operator_rows(csr, s, e).to(device), src))
            if progress is not None:
                progress(li, e - r0)
        del src
        x = gather(out, (r0, r1)) if (gather is not None and not last) else out
    return x
