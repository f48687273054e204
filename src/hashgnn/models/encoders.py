"""Graph encoders φ: node ids (and optional features) → intermediate representation u (paper section 3.2).

The default is the paper's 2-layer GraphSAGE with the MEAN-over-self-and-neighbours aggregator of eq. 1, run as
full-graph propagation over a sparse CSR operator. GCN, LightGCN and GAT are the PyG layers, selectable by
name, because the method "can extend arbitrary GNNs".
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from hashgnn.defaults import ACTIVATIONS, ENCODERS
from hashgnn.errors import ConfigError
from hashgnn.models.propagation import sparse_propagate


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
    def from_graph(cls, graph) -> GraphInputs:  # graph: hashgnn.data.BipartiteGraph
        return cls(graph.mean_operator(), graph.sym_operator(), graph.edge_index())

    def to(self, device: torch.device | str) -> GraphInputs:
        return GraphInputs(tuple(t.to(device) for t in self.mean_op),  # type: ignore[arg-type]
                           tuple(t.to(device) for t in self.sym_op),  # type: ignore[arg-type]
                           self.edge_index.to(device))


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


class SAGEMeanEncoder(nn.Module):
    r"""GraphSAGE with the mean-over-self-and-neighbours aggregator (paper eq. 1):

    .. math::
        \mathbf{u}_i^l = \sigma\big(\mathbf{W}^l \cdot \mathrm{MEAN}\{\mathbf{u}_i^{l-1}\} \cup
        \{\mathbf{u}_j^{l-1} \mid v_j \in \mathcal{N}(v_i)\}\big)

    computed for all nodes at once as :math:`\sigma(\hat{A} U^{l-1} W^l)` with
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
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=False))
        self.act = _activation(activation)
        self.init_std = init_std
        self.out_dim = sizes[-1]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _normal_(self, self.init_std)

    def forward(self, x: Tensor, graph: GraphInputs) -> Tensor:
        a, a_t = graph.mean_op
        for layer in self.layers:
            # Project first when it shrinks the width: Â(XW) = (ÂX)W, and the sparse product is the costly part.
            if layer.out_features < layer.in_features:
                x = sparse_propagate(a, a_t, x @ layer.weight.T) + layer.bias
            else:
                x = layer(sparse_propagate(a, a_t, x))
            x = self.act(x)
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
    """Encoder by registry name: ``sage`` (paper), ``gcn``, ``lightgcn``, ``gat``."""
    if name == "sage":
        return SAGEMeanEncoder(in_dim, dims, activation, init_std)
    if name == "lightgcn":
        return LightGCNEncoder(in_dim, num_layers)
    if name in ("gcn", "gat"):
        return PyGConvEncoder(name, in_dim, dims, init_std)
    raise ConfigError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
