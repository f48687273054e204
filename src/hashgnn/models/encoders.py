"""Graph encoders φ: node ids (and optional features) → intermediate representation u (paper section 3.2).

The default is the paper's 2-layer GraphSAGE with the MEAN-over-self-and-neighbours aggregator of eq. 1, run as
full-graph propagation over a sparse CSR operator. GCN, LightGCN and GAT are the PyG layers, selectable by
name, because the method "can extend arbitrary GNNs".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hashgnn.components import component, component_kwargs
from hashgnn.data.graph import build_mean_operator
from hashgnn.defaults import ACTIVATIONS, ENCODERS
from hashgnn.errors import ConfigError
from hashgnn.models.propagation import sparse_mm, sparse_propagate


def _normal_(module: nn.Module, std: float) -> None:
    for name, param in module.named_parameters():
        if name.endswith("bias"):
            nn.init.zeros_(param)
        else:
            nn.init.normal_(param, 0.0, std)


class GraphInputs:
    """Everything an encoder may need about the train graph, computed once.

    Args:
        mean_op: ``(Â, Âᵀ)``: ``(D+I)^{-1}(A+I)`` and its transpose as torch sparse CSR (eq. 1).
        sym_op: ``(Ã, Ãᵀ)``: ``D^{-1/2} A D^{-1/2}`` (LightGCN propagation).
        edge_index: ``[2, 2E]`` PyG edge index (GCN/GAT layers).
    """

    def __init__(self, mean_op: tuple[Tensor, Tensor], sym_op: tuple[Tensor, Tensor], edge_index: Tensor) -> None:
        self.mean_op = mean_op
        self.sym_op = sym_op
        self.edge_index = edge_index

    @classmethod
    def from_graph(cls, graph, encoder: str | None = None) -> GraphInputs:  # graph: hashgnn.data.BipartiteGraph
        """The inputs of ``encoder`` (a :data:`~hashgnn.defaults.ENCODERS` name), or of every encoder (None).

        An encoder's own builds only the structure it reads (the others are None): at the paper's Alibaba size
        the sage encoder's mean operator alone is 1.5 GB, and the unused edge list and LightGCN operator would
        add 1.6 GB and a minute of building."""
        if encoder is not None and encoder not in _READS:
            raise ConfigError(f"unknown encoder {encoder!r}; choose one of {', '.join(ENCODERS)}")
        reads = _READS.get(encoder, ("mean_op", "sym_op", "edge_index"))  # type: ignore[arg-type]
        return cls(graph.mean_operator() if "mean_op" in reads else None,  # type: ignore[arg-type]
                   graph.sym_operator() if "sym_op" in reads else None,  # type: ignore[arg-type]
                   graph.edge_index() if "edge_index" in reads else None)  # type: ignore[arg-type]

    def to(self, device: torch.device | str) -> GraphInputs:
        def move(t):  # noqa: ANN001, ANN202 - a tensor, a pair of them, or None (not built)
            return None if t is None else t.to(device) if isinstance(t, Tensor) else tuple(x.to(device) for x in t)

        return GraphInputs(move(self.mean_op), move(self.sym_op), move(self.edge_index))


#: What each encoder reads of :class:`GraphInputs`.
_READS: dict[str, tuple[str, ...]] = {"sage": ("mean_op",), "lightgcn": ("sym_op",), "gcn": ("edge_index",),
                                      "gat": ("edge_index",)}


class NodeInput(nn.Module):
    """Learnable id embeddings, optionally concatenated with fixed node features.

    Args:
        num_nodes: Users + items.
        embedding_dim: Size of the id embedding (default: :obj:`64`).
        features: Optional ``[num_nodes, F]`` fixed features concatenated to the id embedding.
        init_std: Standard deviation of the N(0, σ) init (paper 5.2.3: 0.02).
    """

    def __init__(self, num_nodes: int, embedding_dim: int = 64, features: Tensor | None = None,
                 init_std: float = 0.02) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_nodes, embedding_dim)
        self.init_std = init_std
        self.register_buffer("features", features if features is not None else torch.empty(0), persistent=False)
        self.out_dim = embedding_dim + (features.shape[1] if features is not None else 0)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.embedding.weight, 0.0, self.init_std)

    def forward(self) -> Tensor:
        x = self.embedding.weight
        if self.features.numel():
            x = torch.cat([x, self.features], dim=1)
        return x


class SAGEMeanLayer(nn.Module):
    r"""One GraphSAGE layer with the mean-over-self-and-neighbours aggregator (paper eq. 1):

    .. math::
        \mathbf{u}_i^l = \sigma\big(\mathbf{W}^l \cdot \mathrm{MEAN}\{\mathbf{u}_i^{l-1}\} \cup
        \{\mathbf{u}_j^{l-1} \mid v_j \in \mathcal{N}(v_i)\} + \mathbf{b}^l\big)

    computed for a block of target nodes at once as :math:`\sigma(\hat{A} X \mathbf{W}^T + \mathbf{b})`, where
    ``x`` holds the source nodes' :math:`\mathbf{u}^{l-1}` and ``a`` is the row-normalised operator of
    :func:`~hashgnn.data.graph.build_mean_operator`: the whole graph's :math:`(D+I)^{-1}(A+I)`, a row chunk of
    it, a sampled hop or the rows of new nodes. The one implementation of eq. 1 behind every path (full graph,
    mini-batch, layer-wise inference, inductive encoding).

    The parameters are ``weight`` ``[out, in]`` and ``bias`` ``[out]``, as an ``nn.Linear`` has them, so
    checkpoints of the encoder written when its layers were ``nn.Linear`` load unchanged.

    Args:
        in_features: Input size.
        out_features: Output size.
        activation: σ: ``"relu"``, ``"leaky_relu"`` (slope 0.2), ``"tanh"`` or ``"identity"``.
    """

    def __init__(self, in_features: int, out_features: int, activation: str = "relu") -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        self.act = _activation(activation)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # nn.Linear's default init, draw for draw: a seed gives the same weights (and leaves the generator in
        # the same state) as when these layers were nn.Linear. The encoder then applies the paper's N(0, σ).
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        nn.init.uniform_(self.bias, -bound, bound)

    @property
    def project_first(self) -> bool:
        """Apply ``W`` before the mean when the layer shrinks the width: ``Â(XWᵀ) = (ÂX)Wᵀ``, and the sparse
        product, which gathers one source row per non-zero, is the costly part."""
        return self.out_features < self.in_features

    def project(self, x: Tensor) -> Tensor:
        """The part of the layer applied to the sources before the mean (``x Wᵀ``, or ``x`` itself)."""
        return x @ self.weight.T if self.project_first else x

    def update(self, pooled: Tensor) -> Tensor:
        """The rest of the layer on the mean of :meth:`project`'s rows: σ(pooled + b), or σ(pooled Wᵀ + b)."""
        out = pooled + self.bias if self.project_first else F.linear(pooled, self.weight, self.bias)
        return self.act(out)

    def forward(self, x: Tensor, a: Tensor, a_t: Tensor | None = None) -> Tensor:
        """``[T, out]`` outputs of the operator's target rows from the ``[S, in]`` sources ``x``.

        Args:
            x: Source representations, one row per column of ``a``.
            a: ``[T, S]`` mean operator (torch sparse CSR).
            a_t: ``aᵀ`` (CSR) for the hand-written backward of :func:`sparse_propagate`; required when ``x``
                needs a gradient, ``None`` for inference.
        """
        src = self.project(x)
        pooled = sparse_propagate(a, a_t, src) if a_t is not None else sparse_mm(a, src)
        return self.update(pooled)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, act={type(self.act).__name__}"


class SAGEMeanEncoder(nn.Module):
    r"""GraphSAGE with the mean-over-self-and-neighbours aggregator (paper eq. 1): a stack of
    :class:`SAGEMeanLayer`, computed for all nodes at once as :math:`\sigma(\hat{A} U^{l-1} W^l)` with
    :math:`\hat{A} = (D+I)^{-1}(A+I)`.

    Args:
        in_dim: Input size.
        dims: Output size of each layer (paper 5.2.3: 128 then 68).
        activation: σ of eq. 1 (the paper leaves it open): ``"relu"`` (GraphSAGE's), ``"leaky_relu"`` (slope 0.2,
            one of the official code's choices), ``"tanh"`` or ``"identity"``; applied after every layer.
        init_std: N(0, σ) init of the weights.
    """

    def __init__(self, in_dim: int, dims: Sequence[int] = (128, 68), activation: str = "relu",
                 init_std: float = 0.02) -> None:
        super().__init__()
        sizes = [in_dim, *dims]
        self.layers = nn.ModuleList(SAGEMeanLayer(a, b, activation)
                                    for a, b in zip(sizes[:-1], sizes[1:], strict=False))
        self.init_std = init_std
        self.out_dim = sizes[-1]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _normal_(self, self.init_std)

    def forward(self, x: Tensor, graph: GraphInputs) -> Tensor:
        return self.layer_outputs(x, [graph.mean_op] * len(self.layers))[-1]

    def layer_outputs(self, x: Tensor, operators: Sequence[tuple[Tensor, Tensor | None]]) -> list[Tensor]:
        """``x`` and the output of every layer; layer ``l`` averages with ``operators[l] = (Â_l, Â_lᵀ)``
        (the full graph's for every layer, or one sampled operator per hop, whose targets are a prefix of its
        sources). ``Â_lᵀ`` may be ``None`` when no gradient is needed."""
        if len(operators) != len(self.layers):
            raise ConfigError(f"{len(operators)} operators for an encoder of {len(self.layers)} layers")
        outputs = [x]
        for layer, (a, a_t) in zip(self.layers, operators, strict=True):
            outputs.append(layer(outputs[-1], a, a_t))
        return outputs

    @torch.no_grad()
    def encode_new(self, x: Tensor, neighbour_lists: Sequence[Tensor], states: Sequence[Tensor]) -> Tensor:
        """Outputs ``[B, d]`` of nodes outside the graph, from their inputs ``x`` ``[B, in]`` and neighbours.

        Every layer applies eq. 1 over {new node} ∪ its neighbours (node ids), with the neighbours'
        representations on the graph (``states``: the :meth:`layer_outputs` of the whole graph); the new nodes
        are not added to their neighbours' neighbourhoods. A node of the graph given its own input and
        neighbours gets its full-graph output.
        """
        nodes = torch.cat([torch.as_tensor(n, dtype=torch.long).reshape(-1).cpu() for n in neighbour_lists])
        # The sources are the new nodes, then each neighbour once: only the rows the operator reads.
        uniq, local = torch.unique(nodes, return_inverse=True)
        n_new = len(neighbour_lists)
        indptr = np.concatenate([[0], np.cumsum([len(n) for n in neighbour_lists])])
        a = build_mean_operator(indptr, local.numpy() + n_new, n_new + len(uniq)).to(x.device)
        uniq = uniq.to(x.device)
        for layer, prev in zip(self.layers, states[:-1], strict=True):
            x = layer(torch.cat([x, prev[uniq]]), a)
        return x

    def __repr__(self) -> str:
        dims = [self.layers[0].in_features] + [layer.out_features for layer in self.layers]
        return f"{self.__class__.__name__}({', '.join(map(str, dims))})"


class LightGCNEncoder(nn.Module):
    r"""LightGCN propagation (He et al., SIGIR 2020): :math:`U = \frac{1}{L+1}\sum_{l=0}^{L} \tilde{A}^l X`,
    no weights and no non-linearity.

    Args:
        in_dim: Input size (= output size).
        num_layers: L (default: :obj:`2`).
    """

    def __init__(self, in_dim: int, num_layers: int = 2) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.out_dim = in_dim

    def reset_parameters(self) -> None:
        pass

    def forward(self, x: Tensor, graph: GraphInputs) -> Tensor:
        a, a_t = graph.sym_op
        out = x
        for _ in range(self.num_layers):
            x = sparse_propagate(a, a_t, x)
            out = out + x
        return out / (self.num_layers + 1)


class PyGConvEncoder(nn.Module):
    """A stack of PyG convolutions over ``edge_index`` (GCN, GAT), with ReLU between layers.

    Args:
        kind: ``"gcn"`` (``GCNConv``) or ``"gat"`` (``GATConv``, 1 head).
        in_dim: Input size.
        dims: Output size of each layer.
        init_std: N(0, σ) init of the weights.
    """

    def __init__(self, kind: str, in_dim: int, dims: Sequence[int] = (128, 68), init_std: float = 0.02) -> None:
        super().__init__()
        from torch_geometric.nn import GATConv, GCNConv

        sizes = [in_dim, *dims]
        make = {"gcn": lambda a, b: GCNConv(a, b, cached=True), "gat": lambda a, b: GATConv(a, b, heads=1)}[kind]
        self.kind = kind
        self.convs = nn.ModuleList(make(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=False))
        self.init_std = init_std
        self.out_dim = sizes[-1]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()
        _normal_(self, self.init_std)

    def forward(self, x: Tensor, graph: GraphInputs) -> Tensor:
        for conv in self.convs:
            x = torch.relu(conv(x, graph.edge_index))
        return x


def _activation(name: str) -> nn.Module:
    acts = {"relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(0.2), "tanh": nn.Tanh(), "identity": nn.Identity()}
    if name not in acts:
        raise ConfigError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return acts[name]


def build_encoder(name: str, in_dim: int, dims: Sequence[int], num_layers: int = 2,
                  activation: str = "relu", init_std: float = 0.02) -> nn.Module:
    """Encoder by registry name (:data:`hashgnn.components.COMPONENTS`): ``sage`` (paper), ``gcn``, ``lightgcn``,
    ``gat``; each takes the settings its entry names."""
    values = {"model.dims": dims, "model.num_layers": num_layers, "model.activation": activation,
              "model.init_std": init_std}
    return component("encoder", name).load()(in_dim=in_dim, **component_kwargs("encoder", name, values))
