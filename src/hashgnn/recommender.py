"""The public Python API: ``HashGNN(...).fit(dataset)``, ``.recommend(...)``, ``.similar_items(...)``.

>>> model = HashGNN(n_bits=32, method="guided", epochs=10).fit("movielens-1m")   # doctest: +SKIP
>>> ids, scores = model.recommend(0, N=10, mode="hierarchical")                  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from hashgnn.config import RunConfig, preset_overrides
from hashgnn.data.interactions import Interactions
from hashgnn.data.loading import load_split_for
from hashgnn.data.splits import Split, make_split
from hashgnn.errors import ConfigError
from hashgnn.models.base import Embeddings, Recommender
from hashgnn.training.rundir import RunDir
from hashgnn.training.trainer import Trainer


class HashGNN(Recommender):
    """HashGNN and its hashing variants behind the recommender contract.

    Args:
        n_bits: Code length K (default 32).
        method: ``guided`` (paper) | ``ste`` | ``hashnet`` | ``gumbel`` | ``continuous``.
        encoder: ``sage`` (paper) | ``gcn`` | ``lightgcn`` | ``gat``.
        epochs, batch_size, lr, lam, seed, device: common settings; anything else via ``config`` or
            ``overrides`` (dotted keys, e.g. ``{"train.triplets": 10}``).
        preset: ``paper`` (default: the paper's text) | ``official`` (the authors' released code) | ``plus`` |
            ``plus-softmax`` (beyond the paper; the latter the best measured); see :data:`hashgnn.config.PRESETS`.
            ``overrides`` win over it.
    """

    def __init__(self, n_bits: int = 32, method: str = "guided", encoder: str = "sage", epochs: int | None = None,
                 batch_size: int | None = None, lr: float | None = None, lam: float | None = None, seed: int = 0,
                 device: str = "cpu", config: RunConfig | None = None,
                 overrides: dict[str, object] | None = None, preset: str = "paper") -> None:
        cfg = config or RunConfig()
        if preset_overrides(preset):
            cfg = cfg.override(preset_overrides(preset))
        model = replace(cfg.model, n_bits=n_bits, method=method, encoder=encoder)
        train = replace(cfg.train, device=device)
        for name, value in (("epochs", epochs), ("batch_size", batch_size), ("lr", lr), ("lam", lam)):
            if value is not None:
                train = replace(train, **{name: value})
        cfg = replace(cfg, model=model, train=train, seed=seed)
        if overrides:
            import json

            cfg = cfg.override([f"{k}={json.dumps(v)}" for k, v in overrides.items()])
        self.config = cfg.validate()
        self.tie_seed = cfg.eval.tie_seed
        self.n_candidates = cfg.eval.n_candidates
        self._embeddings: Embeddings | None = None
        self.split: Split | None = None
        self.user_ids: np.ndarray | None = None
        self.item_ids: np.ndarray | None = None

    def fit(self, dataset: str | Interactions | Split, run_dir: str | Path | None = None, resume: bool = False,
            progress: bool = True) -> HashGNN:
        """Train on a registry name / file path, an :class:`Interactions` log (split per the config) or a Split."""
        if isinstance(dataset, str):
            self.config = replace(self.config, data=replace(self.config.data, dataset=dataset))
            split = load_split_for(self.config.data, self.config.split)
        elif isinstance(dataset, Interactions):
            self.config = replace(self.config, data=replace(self.config.data, dataset=dataset.name))
            split = make_split(dataset, self.config.split)
        elif isinstance(dataset, Split):
            split = dataset
        else:
            raise ConfigError(f"fit() takes a dataset name, Interactions or Split, not {type(dataset).__name__}")
        from hashgnn.training.distributed import is_distributed_env, run_distributed
        from hashgnn.training.minibatch import MiniBatchTrainer

        if is_distributed_env():
            self.result = run_distributed(self.config, split, run_dir, resume=resume, progress=progress)
        else:
            cls = MiniBatchTrainer if self.config.train.sampler == "neighbor" else Trainer
            trainer = cls(self.config, split, RunDir(run_dir) if run_dir else None, progress=progress)
            self.result = trainer.fit(resume=resume)
        self._attach(split, self.result.embeddings)
        return self

    def _attach(self, split: Split, emb: Embeddings) -> None:
        self.split = split
        self._embeddings = emb
        inter = split.interactions
        self.user_ids, self.item_ids = inter.user_ids, inter.item_ids
        seen = np.concatenate([split.train_idx, split.valid_idx])
        self._train_items = sp.csr_matrix(
            (np.ones(len(seen), dtype=np.float32), (inter.users[seen], inter.items[seen])),
            shape=(inter.n_users, inter.n_items))

    def embeddings(self) -> Embeddings:
        if self._embeddings is None:
            raise ConfigError("the model is not fitted: call fit() or HashGNN.load(run_dir) first")
        return self._embeddings

    @classmethod
    def load(cls, run_dir: str | Path) -> HashGNN:
        """A fitted model from a run directory (embeddings, codes, split and id maps; no dataset needed)."""
        rd = RunDir(run_dir)
        cfg = rd.read_config()
        model = cls(n_bits=cfg.model.n_bits, method=cfg.model.method, encoder=cfg.model.encoder, seed=cfg.seed,
                    device="cpu", config=cfg)
        model.run_dir = rd
        emb = Embeddings.load(rd.path)
        ids = rd.read_arrays("id_maps.npz")
        parts = rd.read_arrays("split.npz")
        users, items = _interactions_from_run(rd)
        inter = Interactions(users, items, ids["user_ids"], ids["item_ids"], name=cfg.data.dataset)
        model._attach(Split(inter, parts["train"], parts["valid"], parts["test"]), emb)
        return model


    def load_network(self):
        """The trained network and its train-graph inputs (for inductive inference), from ``checkpoints/best.pt``."""
        from hashgnn.data.graph import BipartiteGraph
        from hashgnn.models.encoders import GraphInputs
        from hashgnn.models.hashgnn import HashGNNModel

        if getattr(self, "_network", None) is None:
            rd = getattr(self, "run_dir", None)
            if rd is None:
                raise ConfigError("load_network() needs a model loaded from a run directory")
            ckpt = rd.load_checkpoint("best")
            inter = self.split.interactions
            net = HashGNNModel(inter.n_users + inter.n_items, self.config.model, n_users=inter.n_users)
            net.load_state_dict(ckpt.get("best_model") or ckpt["model"])
            net.eval()
            graph = GraphInputs.from_graph(BipartiteGraph.from_interactions(self.split.train))
            self._network = (net, net.layer_states(graph))
        return self._network

    def encode_new_users(self, item_lists: list[np.ndarray]) -> Embeddings:
        """z and codes for users outside the training data, from the item indices each interacted with."""
        import torch

        net, states = self.load_network()
        n_users = self.split.interactions.n_users
        with torch.no_grad():
            z, h = net.encode_new_users([torch.as_tensor(np.asarray(i, dtype=np.int64)) for i in item_lists],
                                        states, n_users)
        emb = self.embeddings()
        from hashgnn.index import pack_codes

        return Embeddings(z.numpy(), emb.item_z, pack_codes(h.numpy()), emb.item_codes, emb.n_bits)


def _interactions_from_run(rd: RunDir) -> tuple[np.ndarray, np.ndarray]:
    arrays = rd.read_arrays("interactions.npz")
    return arrays["users"], arrays["items"]
