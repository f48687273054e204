"""The public Python API: ``HashGNN(...).fit(data)``, ``.recommend``, ``.similar_items``, ``.similar_users``,
``.save(dir)`` and ``HashGNN.load(dir)``.

>>> from hashgnn import HashGNN                                                   # doctest: +SKIP
>>> model = HashGNN(n_bits=32, method="guided", epochs=10).fit("movielens-1m")   # doctest: +SKIP
>>> items, scores = model.recommend(1, N=10, mode="hierarchical")                # doctest: +SKIP
>>> items, scores = model.recommend(new_user_items=[260, 1196, 1210], N=10)      # doctest: +SKIP

Users and items are named by the ids of the data (MovieLens user ``1``, a shop's ``"u123"`` and ``"sku-9"``);
``ids="index"`` switches a call to the contiguous indices the arrays use. A user the model never saw is named by
the items it interacted with (``new_user_items``) and encoded by the trained network.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hashgnn.config import RunConfig, as_assignments, with_preset
from hashgnn.data.interactions import Interactions
from hashgnn.data.loading import DataConfig, load_split_for
from hashgnn.data.splits import Split, make_split
from hashgnn.errors import ConfigError, HashGNNError
from hashgnn.io_utils import LOCK_NAME, TEMP_SUFFIX
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

    The settings come from three places, each over the one before: ``config`` (default: every default of
    :class:`~hashgnn.config.RunConfig`), then ``preset``, then the keyword arguments and ``overrides``. A keyword
    left at ``None`` keeps what the config (or preset) says, so ``HashGNN(config=cfg)`` trains exactly ``cfg``:
    a 64-bit config trains 64-bit codes. A keyword that is given wins over the config, as a ``--set`` wins over
    ``--config`` on the command line: ``HashGNN(config=cfg, n_bits=64)`` is ``cfg`` with 64 bits. The config
    object passed in is never changed (configs are frozen; :attr:`config` is a new, validated one).

    Args:
        n_bits: Code length K (config default 32).
        method: ``guided`` (paper) | ``ste`` | ``hashnet`` | ``gumbel`` | ``continuous``.
        encoder: ``sage`` (paper) | ``gcn`` | ``lightgcn`` | ``gat``.
        epochs, batch_size, lr, lam, seed, device: common settings; anything else via ``config`` or
            ``overrides`` (dotted keys, e.g. ``{"train.triplets": 10}``).
        config: The starting :class:`~hashgnn.config.RunConfig` (e.g. a run's ``config.json``).
        overrides: Dotted settings applied last; they win over ``preset`` and the keywords.
        preset: ``paper`` (the config's defaults: the paper's text at CPU batch and lr) | ``paper-literal`` (its
            batch 256, lr 1e-3) | ``official-options`` (three options of the authors' released code) | ``plus`` |
            ``plus-softmax`` (beyond the paper); see :data:`hashgnn.config.PRESETS`. Applied over ``config``
            when given; ``None`` (default) applies none. A preset's setting for a component this model does not
            have (``plus``'s guide draw with ``method="hashnet"``) is left out; any other setting that no
            component reads is an error (:func:`hashgnn.config.ignored_settings`).

    Raises:
        ConfigError: an impossible setting, an unknown preset or override key.
    """

    def __init__(self, n_bits: int | None = None, method: str | None = None, encoder: str | None = None,
                 epochs: int | None = None, batch_size: int | None = None, lr: float | None = None,
                 lam: float | None = None, seed: int | None = None, device: str | None = None,
                 config: RunConfig | None = None, overrides: dict[str, object] | None = None,
                 preset: str | None = None) -> None:
        if config is not None and not isinstance(config, RunConfig):
            raise ConfigError(f"config must be a hashgnn.config.RunConfig (e.g. RunConfig.from_json(path)), not "
                              f"{type(config).__name__}")
        given = {"model.n_bits": n_bits, "model.method": method, "model.encoder": encoder, "train.epochs": epochs,
                 "train.batch_size": batch_size, "train.lr": lr, "train.lam": lam, "train.device": device,
                 "seed": seed}
        own = as_assignments({**{k: v for k, v in given.items() if v is not None}, **(overrides or {})})
        cfg = config if config is not None else RunConfig()
        # a preset's setting for a component this model does not have is left out (with_preset), its own are not
        cfg = with_preset(preset, own, cfg) if preset is not None else cfg.override(own)
        self.config = cfg.validate()
        self.tie_seed = cfg.eval.tie_seed
        self.n_candidates = cfg.eval.n_candidates
        self._embeddings: Embeddings | None = None
        self.split: Split | None = None
        self.user_ids: np.ndarray | None = None
        self.item_ids: np.ndarray | None = None
        self.run_dir: RunDir | None = None
        self.result = None
        self._network = None
        self._user_space: tuple[Embeddings, Embeddings] | None = None

    def fit(self, dataset: str | Interactions | Split | sp.spmatrix | sp.sparray, run_dir: str | Path | None = None,
            resume: bool = False, progress: bool = True) -> HashGNN:
        """Train on a registry name / file path, an :class:`Interactions` log (split per the config), a Split, or
        a scipy.sparse user × item matrix (as implicit takes it; see :func:`interactions_from_matrix`).

        With ``run_dir`` every artifact is written there as training goes (resumable with ``resume=True``);
        without it the model lives in memory until :meth:`save`.
        """
        if sp.issparse(dataset):
            dataset = interactions_from_matrix(dataset)
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
            raise ConfigError("fit() takes a dataset name, Interactions, a Split or a scipy.sparse user × item "
                              f"matrix, not {type(dataset).__name__}")
        from hashgnn.training.distributed import is_distributed_env, run_distributed
        from hashgnn.training.trainer import make_trainer  # torch and scipy.stats: not for a look-up from a run

        if is_distributed_env():
            self.result = run_distributed(self.config, split, run_dir, resume=resume, progress=progress)
        else:
            trainer = make_trainer(self.config, split, RunDir(run_dir) if run_dir else None, progress=progress)
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
        model = cls(config=cfg, device="cpu")  # the run's own settings; searched and served on the CPU
        model.run_dir = rd
        emb = Embeddings.load(rd.path)
        ids = rd.read_arrays("id_maps.npz")
        parts = rd.read_arrays("split.npz")
        users, items = _interactions_from_run(rd)
        inter = Interactions(users, items, ids["user_ids"], ids["item_ids"], name=cfg.data.dataset)
        model._attach(Split(inter, parts["train"], parts["valid"], parts["test"]), emb)
        return model

    def save(self, directory: str | Path) -> Path:
        """Write the fitted model as a run directory that :meth:`load` reads back; returns its path.

        The folder appears whole or not at all: it is built in a temporary sibling (a copy of the model's run
        directory when it was fitted with ``run_dir`` or loaded, else written from memory), verified as
        :meth:`load` verifies a run, and renamed into place, so a reader never sees half a model. Saving into the
        model's own run directory does nothing. A model fitted in memory gets ``checkpoints/best.pt`` (its
        network, so that new users and items can still be encoded after loading) but no ``last.pt``: training
        does not resume from it.

        Raises:
            ConfigError: the model is not fitted, or ``directory`` exists and is not an empty folder.
        """
        self.embeddings()  # the "not fitted" error first
        dest = Path(directory)
        if self.run_dir is not None and dest.resolve() == self.run_dir.path.resolve():
            return dest
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise ConfigError(f"{dest}: exists and is not an empty folder; save the model into a new one")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}.saving-{os.getpid()}{TEMP_SUFFIX}"
        shutil.rmtree(tmp, ignore_errors=True)  # left by an earlier save of this pid that was killed
        try:
            if self.run_dir is not None:
                shutil.copytree(self.run_dir.path, tmp, ignore=_not_artifacts)
            else:
                self._write_run(RunDir(tmp))
            RunDir(tmp).verify()
            try:
                os.replace(tmp, dest)  # POSIX rename: atomic, and allowed over an empty folder
            except OSError as exc:  # e.g. another writer filled the folder since the check above
                raise ConfigError(f"{dest}: cannot put the saved model there ({exc.strerror or exc})") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return dest

    def _write_run(self, rd: RunDir) -> None:
        """The files of a finished run for a model fitted in memory (those ``fit(run_dir=...)`` writes), with
        the embeddings last: ``embeddings.json`` marks a complete set."""
        import io

        import torch

        result = self.result
        with rd:
            rd.write_inputs(self.config, self.split)
            net = getattr(result, "model", None)
            if net is not None:
                weights = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
                buf = io.BytesIO()
                torch.save({"model": weights, "best_model": weights}, buf)
                rd.write_bytes("checkpoints/best.pt", buf.getvalue())
            if result is not None:
                rd.write_json("history.json", result.history)
                rd.write_metrics_csv(result.log)
                rd.write_json("training.json", {"best_epoch": result.best_epoch, "best_valid_metric":
                                                result.best_metric, "epochs_run": len(result.history),
                                                "seconds": result.seconds,
                                                "stopped": getattr(result, "stopped", "epochs")})
            self.embeddings().save(rd.path)
        (rd.path / LOCK_NAME).unlink(missing_ok=True)  # a lock belongs to a writer, not to the saved model


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
        encoder = self.config.model.encoder
        if encoder != "sage":  # layer_states would refuse too, without naming the encoder the run has
            raise ConfigError(f"this model's encoder is {encoder!r}, and only the 'sage' encoder can encode users or "
                              "items outside the training data (eq. 1's mean over a node and its neighbours); "
                              "train with model.encoder=sage for new users and items")
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
        :meth:`item_indices` for the data's ids; :meth:`recommend` with ``new_user_items`` searches for them)."""
        import torch

        lists = [self._check_indices(list(np.atleast_1d(items)), "item") for items in item_lists]
        if not lists or any(len(items) == 0 for items in lists):  # an empty mean would give NaN codes
            raise ConfigError("encode_new_users needs at least one user, each with at least one item")
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
    def recommend(self, userid: Any = None, N: int = 10, mode: str | None = None,
                  filter_already_liked_items: bool = True, user_items: sp.csr_matrix | None = None,
                  ids: str = "original", *, new_user_items: Any = None) -> tuple[Any, Any]:
        """Top-``N`` items for a user or a list of users: ``(items, scores)``, best first.

        ``ids="original"`` (default): users and items are the data's ids (``"u123"``, ``"sku-9"``, 42); one user
        gives 1-D arrays, a list of users a list of such arrays; each holds the items found, fewer than ``N`` only
        when the user has seen nearly every item. ``ids="index"``: contiguous indices in and out, ``[B, N]``
        arrays with ``-1`` / ``-inf`` padding (:meth:`Recommender.recommend`). An unknown id or an index out of
        range raises :class:`IdError` naming it. ``user_items`` rows align with the users asked for.

        ``new_user_items`` instead of ``userid``: users the model never saw, by the items they interacted with —
        one list of item ids for one user, or a list of such lists (ids as ``ids`` says). The trained network
        encodes each user from its items, without retraining (eq. 1 over the user and its items; the ``sage``
        encoder only, :meth:`encode_new_users`); an item named twice counts once, and the items given are not
        recommended back (unless ``user_items`` says what to exclude instead). The service's
        ``POST /recommendations`` answers through this method.
        """
        if new_user_items is not None:
            if userid is not None:
                raise ConfigError("recommend() takes a userid or new_user_items, not both")
            single, lists = self._new_user_lists(new_user_items, ids)
            found, scores = self._recommend_new_users(lists, N, mode, filter_already_liked_items, user_items)
            if single:
                found, scores = found[0], scores[0]
            return self._answer(found, scores, single, ids)
        if userid is None:
            raise ConfigError("recommend() needs a userid, or new_user_items for a user the model never saw")
        single, users = self._resolve(userid, "user", ids)
        found, scores = super().recommend(users[0] if single else users, N, mode, filter_already_liked_items,
                                          user_items)
        return self._answer(found, scores, single, ids)

    def _new_user_lists(self, query: Any, ids: str) -> tuple[bool, list[np.ndarray]]:
        """(one new user given?, the sorted distinct item indices of each) of ``new_user_items``."""
        if not _is_list(query):
            raise ConfigError(f"new_user_items takes the item ids of a new user (a list), or a list of such lists, "
                              f"not {type(query).__name__}")
        rows = list(query)
        nested = [_is_list(row) for row in rows]
        if rows and all(nested):
            single = False
        elif not any(nested):
            single, rows = True, [rows]
        else:
            raise ConfigError("new_user_items mixes item ids and lists of item ids: give one new user's items, or "
                              "a list of lists (one per new user)")
        lists = []
        for n, row in enumerate(rows):
            items = np.unique(self._resolve(list(row), "item", ids)[1])  # the service's rule: a set of items
            if len(items) == 0:
                which = "the new user" if single else f"new user {n} (0-based)"
                raise ConfigError(f"{which} has no items: a user the model never saw is encoded from at least one")
            lists.append(items)
        return single, lists

    def _recommend_new_users(self, lists: list[np.ndarray], N: int, mode: str | None, filter_seen: bool,
                             user_items: sp.csr_matrix | None) -> tuple[np.ndarray, np.ndarray]:
        """``(ids [B, N], scores [B, N])`` item indices for new users given by their item indices.

        Each user is encoded on its own and searched with one query per kernel call (outside Hamming search):
        BLAS rounds a matrix product differently from a matrix-vector product, in the hash layer as in the
        search, and each user of a batch must get bit for bit the answer it gets when asked alone."""
        from hashgnn.evaluation.search import build_index, search_queries

        emb = self.embeddings()
        mode = mode or self.default_mode()
        index = build_index(emb, mode, max(self.n_candidates, N), self.tie_seed)  # a bad mode fails first
        new = [self.encode_new_users([items]) for items in lists]
        z = np.ascontiguousarray(np.concatenate([e.user_z for e in new]), dtype=np.float32)
        exclude = None
        if filter_seen:
            exclude = sp.csr_matrix(user_items) if user_items is not None else _item_rows(lists, len(emb.item_z))
        queries = search_queries(mode, np.concatenate([e.user_codes for e in new]), z)
        return index.search(queries, N, exclude=exclude, batch_size=None if mode == "hamming" else 1)

    def _searching(self, emb: Embeddings) -> HashGNN:
        """This model with ``emb`` as the embeddings it searches: the same network, split and id maps. The
        service's catalogue (trained items first, items added since after them) is searched this way, so that a
        new user is answered there by the one implementation of :meth:`recommend`."""
        view = copy.copy(self)
        view._embeddings, view._user_space = emb, None
        return view

    def similar_items(self, itemid: Any, N: int = 10, mode: str | None = None,
                      ids: str = "original") -> tuple[Any, Any]:
        """The ``N`` items closest to an item (or to each of a list), the item itself excluded; ids as in
        :meth:`recommend`."""
        single, items = self._resolve(itemid, "item", ids)
        found, scores = super().similar_items(items[0] if single else items, N, mode)
        return self._answer(found, scores, single, ids)

    def similar_users(self, userid: Any, N: int = 10, mode: str | None = None,
                      ids: str = "original") -> tuple[Any, Any]:
        """The ``N`` users closest to a user (or to each of a list), the user itself excluded: the mirror of
        :meth:`similar_items` on the users' codes and embeddings, with the same search modes; users in and out,
        ids as in :meth:`recommend`."""
        from hashgnn.evaluation.search import search_items

        single, users = self._resolve(userid, "user", ids)
        found, scores = search_items(self._users_as_items(), users, N, mode or self.default_mode(),
                                     self.n_candidates, self.tie_seed)
        if single:
            found, scores = found[0], scores[0]
        return self._answer(found, scores, single, ids, self.user_ids)

    def _users_as_items(self) -> Embeddings:
        """The users as the item side of an Embeddings, so that the one item-to-item search (and its tie rule)
        serves users too; kept while the embeddings are, so its search indices are built once."""
        emb = self.embeddings()
        if self._user_space is None or self._user_space[0] is not emb:
            users = Embeddings(emb.user_z, emb.user_z, emb.user_codes, emb.user_codes, emb.n_bits)
            self._user_space = (emb, users)
        return self._user_space[1]

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

    def _answer(self, found: np.ndarray, scores: np.ndarray, single: bool, ids: str,
                labels: np.ndarray | None = None) -> tuple[Any, Any]:
        """Search results in the id kind asked for; ``labels``: the original ids of the rows found (items)."""
        if ids == "index":
            return found, scores
        labels = self.item_ids if labels is None else labels
        if single:
            keep = found >= 0
            return labels[found[keep]], scores[keep]
        return [labels[row[row >= 0]] for row in found], [s[row >= 0] for row, s in zip(found, scores, strict=True)]


def interactions_from_matrix(matrix: sp.spmatrix | sp.sparray, name: str = "matrix") -> Interactions:
    """The interactions of a scipy.sparse user × item matrix: rows are users, columns items, every stored
    nonzero one interaction; the row and column indices are the ids (``recommend(3)`` is row 3). A row or
    column without a nonzero has nothing to learn from and is not part of the model."""
    if matrix.ndim != 2:
        raise ConfigError(f"fit() takes a 2-D user × item matrix, got shape {matrix.shape}")
    coo = sp.coo_matrix(matrix)
    nonzero = coo.data != 0  # explicitly stored zeros are not interactions
    if not nonzero.any():
        raise ConfigError(f"the {coo.shape[0]} × {coo.shape[1]} user × item matrix has no nonzero entry to learn "
                          "from")
    return Interactions.from_raw(coo.row[nonzero].astype(np.int64), coo.col[nonzero].astype(np.int64), name=name)


def _not_artifacts(folder: str, names: list[str]) -> set[str]:
    """What a copy of a run leaves behind: the writer's lock file and temp files of an interrupted write."""
    return {n for n in names if n == LOCK_NAME or (n.startswith(".") and n.endswith(TEMP_SUFFIX))}


def _is_list(value: Any) -> bool:
    """A list-like of ids (list, tuple, range, 1-D or wider array), not a string and not a single id."""
    if isinstance(value, np.ndarray):
        return value.ndim > 0
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _item_rows(lists: list[np.ndarray], n_items: int) -> sp.csr_matrix:
    """One CSR row per new user, its nonzeros the item indices it was described by."""
    indptr = np.concatenate([[0], np.cumsum([len(items) for items in lists])])
    return sp.csr_matrix((np.ones(int(indptr[-1]), dtype=np.float32), np.concatenate(lists), indptr),
                         shape=(len(lists), n_items))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _interactions_from_run(rd: RunDir) -> tuple[np.ndarray, np.ndarray]:
    arrays = rd.read_arrays("interactions.npz")
    return arrays["users"], arrays["items"]
