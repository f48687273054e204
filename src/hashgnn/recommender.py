"""The public Python API: ``HashGNN(...).fit(dataset)``, ``.recommend(...)``, ``.similar_items(...)``.

>>> model = HashGNN(n_bits=32, method="guided", epochs=10).fit("movielens-1m")   # doctest: +SKIP
>>> items, scores = model.recommend(1, N=10, mode="hierarchical")                # doctest: +SKIP

Users and items are named by the ids of the data (MovieLens user ``1``, a shop's ``"u123"`` and ``"sku-9"``);
``ids="index"`` switches a call to the contiguous indices the arrays use.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hashgnn.config import RunConfig, preset_overrides
from hashgnn.data.interactions import Interactions
from hashgnn.data.loading import DataConfig, load_split_for
from hashgnn.data.splits import Split, make_split
from hashgnn.errors import ConfigError, HashGNNError
from hashgnn.models.base import Embeddings, Recommender
from hashgnn.training.rundir import RunDir

ID_KINDS = ("original", "index")
#: DataConfig fields only a user's own CSV/TSV/Parquet file reads, by their command-line option
FILE_ONLY_OPTIONS = {"user_col": "--user-col", "item_col": "--item-col", "rating_col": "--rating-col",
                     "timestamp_col": "--timestamp-col", "sep": "--sep", "min_rating": "--min-rating",
                     "format": "--format"}


class IdError(HashGNNError, ValueError):
    """A user or item id the model does not know, or an index out of range; the message names it."""


def check_data_options(data: DataConfig) -> None:
    """A registered dataset has its own reader, so a file-only setting given for it would be silently ignored."""
    from hashgnn.data.datasets import DATASETS

    if data.dataset not in DATASETS:
        return
    default = DataConfig()
    given = [f"data.{k}={getattr(data, k)!r} ({flag})" for k, flag in FILE_ONLY_OPTIONS.items()
             if getattr(data, k) != getattr(default, k)]
    if given:
        raise ConfigError(f"{', '.join(given)}: only read from a CSV/TSV/Parquet file, but {data.dataset!r} is a "
                          "registered dataset with its own reader; drop the setting, or give the path of your "
                          "file as the dataset")


class HashGNN(Recommender):
    """HashGNN and its hashing variants behind the recommender contract.

    Args:
        n_bits: Code length K (default 32).
        method: ``guided`` (paper) | ``ste`` | ``hashnet`` | ``gumbel`` | ``continuous``.
        encoder: ``sage`` (paper) | ``gcn`` | ``lightgcn`` | ``gat``.
        epochs, batch_size, lr, lam, seed, device: common settings; anything else via ``config`` or
            ``overrides`` (dotted keys, e.g. ``{"train.triplets": 10}``).
        preset: ``paper`` (default: the paper's text at CPU batch and lr) | ``paper-literal`` (its batch 256,
            lr 1e-3) | ``official-options`` (three options of the authors' released code) | ``plus`` |
            ``plus-softmax`` (beyond the paper); see :data:`hashgnn.config.PRESETS`.
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
        self.run_dir: RunDir | None = None
        self.result = None

    def fit(self, dataset: str | Interactions | Split, run_dir: str | Path | None = None, resume: bool = False,
            progress: bool = True) -> HashGNN:
        """Train on a registry name / file path, an :class:`Interactions` log (split per the config) or a Split."""
        if isinstance(dataset, str):
            self.config = replace(self.config, data=replace(self.config.data, dataset=dataset))
            check_data_options(self.config.data)
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
        from hashgnn.training.trainer import Trainer  # torch and scipy.stats: not for a look-up from a run

        if is_distributed_env():
            self.result = run_distributed(self.config, split, run_dir, resume=resume, progress=progress)
        else:
            cls = MiniBatchTrainer if self.config.train.sampler == "neighbor" else Trainer
            trainer = cls(self.config, split, RunDir(run_dir) if run_dir else None, progress=progress)
            self.result = trainer.fit(resume=resume)
        self._attach(split, self.result.embeddings)
        self.run_dir = RunDir(run_dir) if run_dir else None
        self._network = None  # a network built for an earlier fit must not answer for this one
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
        if not rd.path.is_dir():
            raise ConfigError(f"{rd.path}: no such run directory" if not rd.path.exists() else
                              f"{rd.path}: not a directory; expected a run directory written by `hashgnn train`")
        if not rd.exists():
            raise ConfigError(f"{rd.path}: not a hashgnn run directory (no config.json)")
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
        """The trained network and its train-graph inputs (for inductive inference): the one ``fit`` trained
        in this process, else the best weights of the run directory (``checkpoints/best.pt``)."""
        import torch

        from hashgnn.data.graph import BipartiteGraph
        from hashgnn.models.encoders import GraphInputs

        if getattr(self, "_network", None) is None:
            net = self._trained_network()
            graph = GraphInputs.from_graph(BipartiteGraph.from_interactions(self.split.train))
            with torch.no_grad():
                self._network = (net, net.layer_states(graph))
        return self._network

    def _trained_network(self):
        from hashgnn.models.hashgnn import HashGNNModel

        self.embeddings()  # the "not fitted" error comes first
        if self.result is not None and getattr(self.result, "model", None) is not None:
            return self.result.model.cpu().eval()  # fit's best weights, already loaded by the trainer
        if self.run_dir is None:
            raise ConfigError("load_network() needs a model fitted in this process or loaded from a run directory")
        ckpt = self.run_dir.load_checkpoint("best")
        inter = self.split.interactions
        net = HashGNNModel(inter.n_users + inter.n_items, self.config.model, n_users=inter.n_users)
        net.load_state_dict(ckpt.get("best_model") or ckpt["model"])
        return net.eval()

    def encode_new_users(self, item_lists: list[np.ndarray]) -> Embeddings:
        """z and codes for users outside the training data, from the item *indices* each interacted with (see
        :meth:`item_indices` for the data's ids)."""
        import torch

        lists = [self._check_indices(list(np.atleast_1d(items)), "item") for items in item_lists]
        net, states = self.load_network()
        n_users = self.split.interactions.n_users
        with torch.no_grad():
            z, h = net.encode_new_users([torch.as_tensor(i) for i in lists], states, n_users)
        emb = self.embeddings()
        from hashgnn.index import pack_codes

        return Embeddings(z.numpy(), emb.item_z, pack_codes(h.numpy()), emb.item_codes, emb.n_bits)

    def encode_new_items(self, user_lists: list[np.ndarray]) -> Embeddings:
        """z and codes for items outside the training data, from the user *indices* that interacted with each
        (the mirror of :meth:`encode_new_users`, so that new items can join a served index without retraining).
        The new items are the item side of the answer (codes None for a continuous-only model); users unchanged."""
        import torch

        from hashgnn.index import pack_codes

        lists = [self._check_indices(list(np.atleast_1d(users)), "user") for users in user_lists]
        if not lists or any(len(users) == 0 for users in lists):
            raise ConfigError("encode_new_items needs at least one item, each with at least one user")
        net, states = self.load_network()
        with torch.no_grad():
            z, h = net.encode_new_items([torch.as_tensor(u) for u in lists], states,
                                        self.split.interactions.n_users)
        emb = self.embeddings()
        codes = pack_codes(h.numpy()) if emb.has_codes else None
        return Embeddings(emb.user_z, np.ascontiguousarray(z.numpy(), dtype=np.float32), emb.user_codes, codes,
                          emb.n_bits)

    # -- ids ---------------------------------------------------------------------------------------------------
    def recommend(self, userid: Any, N: int = 10, mode: str | None = None, filter_already_liked_items: bool = True,
                  user_items: sp.csr_matrix | None = None, ids: str = "original") -> tuple[Any, Any]:
        """Top-``N`` items for a user or a list of users: ``(items, scores)``, best first.

        ``ids="original"`` (default): users and items are the data's ids (``"u123"``, ``"sku-9"``, 42); one user
        gives 1-D arrays, a list of users a list of such arrays; each holds the items found, fewer than ``N`` only
        when the user has seen nearly every item. ``ids="index"``: contiguous indices in and out, ``[B, N]``
        arrays with ``-1`` / ``-inf`` padding (:meth:`Recommender.recommend`). An unknown id or an index out of
        range raises :class:`IdError` naming it. ``user_items`` rows align with the users asked for.
        """
        single, users = self._resolve(userid, "user", ids)
        found, scores = super().recommend(users[0] if single else users, N, mode, filter_already_liked_items,
                                          user_items)
        return self._answer(found, scores, single, ids)

    def similar_items(self, itemid: Any, N: int = 10, mode: str | None = None,
                      ids: str = "original") -> tuple[Any, Any]:
        """The ``N`` items closest to an item (or to each of a list), the item itself excluded; ids as in
        :meth:`recommend`."""
        single, items = self._resolve(itemid, "item", ids)
        found, scores = super().similar_items(items[0] if single else items, N, mode)
        return self._answer(found, scores, single, ids)

    def user_indices(self, users: Any) -> np.ndarray:
        """Indices of the data's user ids (an :class:`IdError` names every unknown one)."""
        return self._resolve(users, "user", "original")[1]

    def item_indices(self, items: Any) -> np.ndarray:
        """Indices of the data's item ids (an :class:`IdError` names every unknown one)."""
        return self._resolve(items, "item", "original")[1]

    def _resolve(self, query: Any, kind: str, ids: str) -> tuple[bool, np.ndarray]:
        """(one id given?, the indices) of a user/item query in either id kind."""
        if ids not in ID_KINDS:
            raise ConfigError(f"ids must be one of {', '.join(map(repr, ID_KINDS))}, got {ids!r}")
        self.embeddings()
        single = np.ndim(query) == 0
        # object dtype turns numpy scalars into Python ones, which the id lookups and messages expect
        values = [query] if single else list(np.asarray(query, dtype=object).ravel())
        if ids == "index":
            return single, self._check_indices(values, kind)
        inter = self.split.interactions
        lookup = inter.user_index if kind == "user" else inter.item_index
        found, unknown = [], []
        for value in values:
            try:
                found.append(lookup(_plain(value)))
            except KeyError:
                unknown.append(value)
        if unknown:
            shown = ", ".join(repr(_plain(v)) for v in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
            raise IdError(f"unknown {kind} id{'s' * (len(unknown) > 1)} {shown} (not in the training data; "
                          f"pass ids='index' for 0-based indices)")
        return single, np.asarray(found, dtype=np.int64)

    def _check_indices(self, values: list[Any], kind: str) -> np.ndarray:
        """Integer indices in ``[0, n)``; anything else is an IdError naming the first bad value."""
        n = self.split.interactions.n_users if kind == "user" else self.split.interactions.n_items
        for value in values:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise IdError(f"{kind} index {_plain(value)!r} is not an integer (ids='index' takes 0-based "
                              "indices; the data's own ids need ids='original')")
            if not 0 <= value < n:
                raise IdError(f"{kind} index {int(value)} is out of range: the model has {n:,} {kind}s, indices "
                              f"0..{n - 1}")
        return np.asarray(values, dtype=np.int64)

    def _answer(self, found: np.ndarray, scores: np.ndarray, single: bool, ids: str) -> tuple[Any, Any]:
        if ids == "index":
            return found, scores
        if single:
            keep = found >= 0
            return self.item_ids[found[keep]], scores[keep]
        return [self.item_ids[row[row >= 0]] for row in found], [s[row >= 0] for row, s in zip(found, scores,
                                                                                                strict=True)]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _interactions_from_run(rd: RunDir) -> tuple[np.ndarray, np.ndarray]:
    arrays = rd.read_arrays("interactions.npz")
    return arrays["users"], arrays["items"]
