"""HashGNN (Tan et al., WWW 2020): GNN encoder φ + hash layer ψ, trained end to end (sections 3–4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hashgnn.errors import ConfigError
from hashgnn.models.encoders import GraphInputs, NodeInput, SAGEMeanEncoder, build_encoder
from hashgnn.models.hashing import HashLayer, build_binarizer, sign


class HashGNNModel(nn.Module):
    r"""Node ids → u = φ(graph) → a = Wᵀu + b → z = tanh(a), h = sign(z).

    During training the loss sees the binarizer's relaxed code ĥ (guided STE by default, eq. 8); at inference
    :meth:`encode` returns z and h for every node.

    With ``config.head == "none"`` there is no hash layer and no tanh: z = u, the encoder's output, scored by
    inner product. With the ``lightgcn`` encoder this is LightGCN itself (He et al., SIGIR 2020): free id
    embeddings, :math:`\frac{1}{L+1}\sum_l \tilde{A}^l X`, nothing else (the ``LightGCN`` baseline).
    With ``config.rerank == "encoder"`` the hash layer stays (h = sign(Wᵀu + b)) but z = u, so hierarchical
    search re-ranks with the encoder's output instead of the K-dimensional tanh (beyond the paper).

    Args:
        num_nodes: Users + items (users first).
        config: :class:`~hashgnn.config.ModelConfig`.
        features: Optional fixed node features concatenated to the id embeddings.
        n_users: Number of users; required by ``model.typed_hash`` (one hash projection per node type).
    """

    def __init__(self, num_nodes: int, config, features: Tensor | None = None, n_users: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.input = NodeInput(num_nodes, config.embedding_dim, features, config.init_std)
        self.encoder = build_encoder(config.encoder, self.input.out_dim, config.dims, config.num_layers,
                                     config.activation, config.init_std)
        if config.typed_hash and n_users is None:
            raise ConfigError("model.typed_hash needs the number of users (HashGNNModel(..., n_users=...))")
        self.hash = (HashLayer(self.encoder.out_dim, config.n_bits, config.init_std,
                               n_users if config.typed_hash else None) if config.head == "hash" else None)
        self.binarizer = build_binarizer(config.method, **config.binarizer_kwargs())
        # eq. 5's offset (model.link_bias); None keeps the paper's parameters and checkpoints unchanged
        self.link_bias = nn.Parameter(torch.zeros(())) if config.link_bias else None

    def reset_parameters(self) -> None:
        self.input.reset_parameters()
        self.encoder.reset_parameters()
        if self.hash is not None:
            self.hash.reset_parameters()
        if self.link_bias is not None:
            nn.init.zeros_(self.link_bias)

    def represent(self, graph: GraphInputs) -> tuple[Tensor, Tensor]:
        """``(u, a)`` of every node: the encoder's output ``[N, d]`` and the hash layer's pre-activations
        a = Wᵀu + b ``[N, K]`` (without a hash layer a is u)."""
        u = self.normalized(self.encoder(self.input(), graph))
        return u, (u if self.hash is None else self.hash(u))

    def normalized(self, u: Tensor) -> Tensor:
        """u, L2-normalised per node with ``model.normalize`` (inner products become cosines)."""
        return F.normalize(u, dim=-1) if self.config.normalize else u

    def forward(self, graph: GraphInputs) -> Tensor:
        """Pre-activations ``a`` ``[N, K]`` of every node (without a hash layer: the encoder's output u)."""
        return self.represent(graph)[1]

    def relaxed(self, a: Tensor) -> Tensor:
        """ĥ that the loss sees during training (without a hash layer: ``a`` itself)."""
        return a if self.hash is None else self.binarizer(a)

    def continuous(self, a: Tensor, u: Tensor | None = None) -> Tensor:
        """z: tanh(a) (eq. 2); ``a`` itself without a hash layer; u with ``rerank="encoder"``."""
        if self.hash is None:
            return a
        if self.config.rerank == "encoder":
            if u is None:
                raise ValueError("model.rerank=encoder: z is the encoder's output u, pass it")
            return u
        return torch.tanh(a)

    @torch.no_grad()
    def encode(self, graph: GraphInputs) -> tuple[Tensor, Tensor]:
        """``(z, h)`` for every node: continuous embeddings and ±1 codes (eq. 2–3)."""
        u, a = self.represent(graph)
        return self.continuous(a, u), self.codes(a)

    def codes(self, a: Tensor) -> Tensor:
        """h = sign(tanh(a)) ±1 (sign(0) = +1, as sign(z) of eq. 3)."""
        return sign(a if self.hash is None else torch.tanh(a))

    @torch.no_grad()
    def layer_states(self, graph: GraphInputs) -> list[Tensor]:
        """Input and every encoder layer's output for all nodes (the 'sage' encoder), computed once for reuse."""
        encoder = self.sage_encoder()
        return encoder.layer_outputs(self.input(), [graph.mean_op] * len(encoder.layers))

    def sage_encoder(self) -> SAGEMeanEncoder:
        """The encoder, which must be the 'sage' one (eq. 1's mean aggregator) for inductive inference."""
        if not isinstance(self.encoder, SAGEMeanEncoder):
            raise ConfigError("inductive inference needs the 'sage' encoder (mean aggregator of eq. 1)")
        return self.encoder

    @torch.no_grad()
    def encode_new_users(self, item_lists: list[Tensor], states: list[Tensor], n_users: int) -> tuple[Tensor, Tensor]:
        """Inductive codes for users the model never saw, from the items they interacted with (GraphSAGE's point).

        A new user has no id embedding, so its own input is the mean of its items' inputs; every layer then
        applies eq. 1 over {the new user} ∪ {its items}, using the items' representations on the train graph
        (``states`` from :meth:`layer_states`; the new user is not added to the items' neighbourhoods).
        Returns ``(z, h)`` ``[B, K]``.
        """
        return self._encode_new([items + n_users for items in item_lists], states, as_type=0)

    @torch.no_grad()
    def encode_new_items(self, user_lists: list[Tensor], states: list[Tensor], n_users: int) -> tuple[Tensor, Tensor]:
        """Inductive codes for items the model never saw, from the users who interacted with them: the mirror of
        :meth:`encode_new_users`, so that a service can add items to its index without retraining.

        The new item's own input is the mean of its users' inputs; every layer applies eq. 1 over {the new item}
        ∪ {its users} with the users' train-graph representations (``states``; the users' neighbourhoods stay as
        trained), and a typed hash layer uses its item projection. ``user_lists`` hold user indices (< n_users).
        Returns ``(z, h)`` ``[B, K]``.
        """
        return self._encode_new(user_lists, states, as_type=n_users)

    def _encode_new(self, neighbour_lists: list[Tensor], states: list[Tensor], as_type: int
                    ) -> tuple[Tensor, Tensor]:
        """Eq. 1 layer by layer over {a new node} ∪ its neighbours (node rows, items offset by the users), then
        the hash layer of the new node's type (``as_type``: any node row of that type, for a typed hash layer).
        A new node has no id embedding: its input is the mean of its neighbours' inputs."""
        own = torch.stack([states[0][nodes].mean(0) for nodes in neighbour_lists])
        u = self.normalized(self.sage_encoder().encode_new(own, neighbour_lists, states))
        node_type = torch.full((len(u),), as_type, dtype=torch.long, device=u.device)
        a = u if self.hash is None else self.hash(u, node_type)
        return self.continuous(a, u), self.codes(a)

    def __repr__(self) -> str:
        c = self.config
        if self.hash is None:
            return (f"HashGNNModel(encoder={c.encoder}, layers={c.num_layers}, head=none, "
                    f"nodes={self.input.embedding.num_embeddings})")
        return (f"HashGNNModel(encoder={c.encoder}{tuple(c.dims)}, n_bits={c.n_bits}, method={c.method}, "
                f"nodes={self.input.embedding.num_embeddings})")
