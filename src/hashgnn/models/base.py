"""The one recommender contract every model and baseline implements (benfred/implicit style).

A model is fitted on a :class:`~hashgnn.data.splits.Split` and then exposes its :class:`Embeddings`: continuous
user/item vectors z and, for hashing methods, K-bit codes h. Recommendation, similar items and evaluation are
written once, here and in :mod:`hashgnn.evaluation`, on top of those and the :mod:`hashgnn.index` search
engines (``hamming`` = HamR, ``hierarchical`` = HieS, ``continuous`` = CeS), so a baseline only implements
``fit`` and ``embeddings``.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from hashgnn.defaults import DEFAULT_CANDIDATES
from hashgnn.errors import ArtifactError, ConfigError
from hashgnn.io_utils import atomic_save_npy, atomic_write_checked, load_npy, read_checked

if TYPE_CHECKING:
    from hashgnn.training.rundir import RunDir

SEARCH_MODES = ("hamming", "hierarchical", "continuous")


@dataclass
class Embeddings:
    """Trained outputs: ``user_z``/``item_z`` float32 ``[n, d]``; ``user_codes``/``item_codes`` packed uint8
    ``[n, K/8]`` (None for continuous-only methods)."""

    user_z: np.ndarray
    item_z: np.ndarray
    user_codes: np.ndarray | None = None
    item_codes: np.ndarray | None = None
    n_bits: int | None = None

    @property
    def has_codes(self) -> bool:
        return self.user_codes is not None and self.item_codes is not None

    @classmethod
    def from_signs(cls, user_z: np.ndarray, item_z: np.ndarray, user_signs: np.ndarray | None,
                   item_signs: np.ndarray | None) -> Embeddings:
        """Build from continuous vectors and ±1 codes (packed here)."""
        from hashgnn.index import pack_codes

        if user_signs is None or item_signs is None:
            return cls(user_z.astype(np.float32), item_z.astype(np.float32))
        return cls(user_z.astype(np.float32), item_z.astype(np.float32), pack_codes(user_signs),
                   pack_codes(item_signs), int(user_signs.shape[1]))

    def rerank_with(self, other: Embeddings) -> Embeddings:
        """These codes with ``other``'s continuous vectors: hierarchical search then takes its Hamming candidates
        from this model and re-ranks them with ``other`` (a cascade of two models, e.g. a hash model's codes and a
        float recommender's embeddings; beyond the paper, whose HieS re-ranks with the same model's z).

        Raises:
            ConfigError: no codes here, or ``other`` embeds another number of users or items.
        """
        if not self.has_codes:
            raise ConfigError("rerank_with: these embeddings have no codes to take the Hamming candidates from")
        mine, theirs = (len(self.user_z), len(self.item_z)), (len(other.user_z), len(other.item_z))
        if mine != theirs:
            raise ConfigError(f"rerank_with: the codes embed {mine[0]} users x {mine[1]} items, the re-ranking "
                              f"embeddings {theirs[0]} x {theirs[1]}: not the same data")
        return Embeddings(other.user_z, other.item_z, self.user_codes, self.item_codes, self.n_bits)

    FILES = {"user_z": "embeddings_users.npy", "item_z": "embeddings_items.npy",
             "user_codes": "codes_users.npy", "item_codes": "codes_items.npy"}

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        rd = _run_dir(directory)
        # embeddings.json is written last and marks a complete set: drop the old one first, so a save killed
        # half-way is reported as unfinished instead of mixing new and old arrays.
        if rd is not None:
            rd.forget("embeddings.json")
        else:
            (directory / "embeddings.json").unlink(missing_ok=True)
        for attr, name in self.FILES.items():
            value = getattr(self, attr)
            if value is not None and rd is not None:
                rd.write_npy(name, value)
            elif value is not None:
                atomic_save_npy(directory / name, value)
        meta = {"n_bits": self.n_bits, "dim": int(self.user_z.shape[1])}
        if rd is not None:
            rd.write_json("embeddings.json", meta)
        else:
            atomic_write_checked(directory / "embeddings.json", json.dumps(meta).encode("utf-8"))

    @classmethod
    def load(cls, directory: str | Path) -> Embeddings:
        """The embeddings saved in ``directory``; in a run directory only after :meth:`RunDir.verify` passed.

        Raises:
            ArtifactError: a file missing, corrupt or inconsistent (shapes, bits, NaN/inf), naming it.
        """
        directory = Path(directory)
        meta_path = directory / "embeddings.json"
        if not meta_path.is_file():
            raise ArtifactError(f"{directory}: no embeddings.json — not a finished run directory")
        rd = _run_dir(directory)
        if rd is not None:
            rd.verify()
        meta = _read_meta(rd, meta_path)
        arrays = {}
        for attr, name in cls.FILES.items():
            path = directory / name
            arrays[attr] = (rd.read_npy(name) if rd is not None else load_npy(path)) if path.is_file() else None
        if arrays["user_z"] is None or arrays["item_z"] is None:
            raise ArtifactError(f"{directory}: embeddings_users.npy / embeddings_items.npy missing")
        if meta.get("n_bits") is not None and (arrays["user_codes"] is None or arrays["item_codes"] is None):
            raise ArtifactError(f"{directory}: codes_users.npy / codes_items.npy missing (embeddings.json says "
                                f"{meta.get('n_bits')}-bit codes)")
        emb = cls(n_bits=meta.get("n_bits"), **arrays)
        emb.check(directory, meta.get("dim"))
        return emb

    def check(self, directory: Path, dim: int | None = None) -> None:
        """Shapes, dtypes and values that search relies on: float32 z of one width, finite; codes of ``n_bits``.

        Raises:
            ArtifactError: naming the file in ``directory`` at fault.
        """
        where = {a: directory / n for a, n in self.FILES.items()}
        dim = self.user_z.shape[1] if dim is None and self.user_z.ndim == 2 else dim
        for attr in ("user_z", "item_z"):
            z = getattr(self, attr)
            if z.ndim != 2 or z.dtype != np.float32 or z.shape[1] != dim:
                raise ArtifactError(f"{where[attr]}: {z.dtype} array of shape {z.shape}, expected float32 [n, {dim}]")
            bad = int(z.size - np.count_nonzero(np.isfinite(z)))
            if bad:
                raise ArtifactError(f"{where[attr]}: {bad} NaN/inf values — the embeddings are unusable")
        if self.n_bits is not None:
            self._check_codes(where)

    def _check_codes(self, where: dict[str, Path]) -> None:
        n_bits = self.n_bits
        if not isinstance(n_bits, int) or isinstance(n_bits, bool) or n_bits <= 0 or n_bits % 8:
            raise ArtifactError(f"{where['user_z'].parent / 'embeddings.json'}: n_bits {n_bits!r} is not a "
                                "positive multiple of 8")
        for attr, z in (("user_codes", self.user_z), ("item_codes", self.item_z)):
            codes = getattr(self, attr)
            if codes.dtype != np.uint8 or codes.shape != (len(z), n_bits // 8):
                raise ArtifactError(f"{where[attr]}: {codes.dtype} codes of shape {codes.shape}, expected uint8 "
                                    f"[{len(z)}, {n_bits // 8}] ({n_bits} bits, one row per embedding)")


def _run_dir(directory: Path) -> RunDir | None:
    """The :class:`RunDir` of ``directory`` when it is a run directory (it has ``config.json``), else None."""
    if not (directory / "config.json").is_file():
        return None
    from hashgnn.training.rundir import RunDir  # training imports this module: import on use

    return RunDir(directory)


def _read_meta(rd: RunDir | None, meta_path: Path) -> dict:
    if rd is not None:
        meta = rd.read_json(meta_path.name)
    else:
        try:
            meta = json.loads(read_checked(meta_path).decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"{meta_path}: corrupt JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ArtifactError(f"{meta_path}: not a JSON object")
    return meta


class Recommender(ABC):
    """Contract: ``fit(split)`` then ``embeddings()``; ``recommend`` and ``similar_items`` come for free."""

    tie_seed: int = 0
    n_candidates: int = DEFAULT_CANDIDATES
    _train_items: sp.csr_matrix | None = None

    @abstractmethod
    def fit(self, split, **kwargs) -> Recommender:  # split: hashgnn.data.Split
        """Train on ``split.train`` (and use ``split.valid`` for model selection only)."""

    @abstractmethod
    def embeddings(self) -> Embeddings:
        """The trained continuous vectors and (if any) codes."""

    def default_mode(self) -> str:
        return "hierarchical" if self.embeddings().has_codes else "continuous"

    def recommend(self, userid: int | np.ndarray, N: int = 10, mode: str | None = None,
                  filter_already_liked_items: bool = True,
                  user_items: sp.csr_matrix | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``N`` items for one user index or an array of them: ``(ids, scores)``, higher score = better.

        ``user_items`` (rows aligned with ``userid``) are excluded when ``filter_already_liked_items``; by
        default the items the model was trained on are.
        """
        from hashgnn.evaluation.search import search_users

        single = np.isscalar(userid)
        users = np.atleast_1d(np.asarray(userid, dtype=np.int64))
        emb = self.embeddings()
        mode = mode or self.default_mode()
        exclude = None
        if filter_already_liked_items:
            if user_items is not None:
                exclude = sp.csr_matrix(user_items)
            elif self._train_items is not None:
                exclude = self._train_items[users]
        ids, scores = search_users(emb, users, N, mode, exclude, self.n_candidates, self.tie_seed)
        return (ids[0], scores[0]) if single else (ids, scores)

    def similar_items(self, itemid: int | np.ndarray, N: int = 10,
                      mode: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Items closest to the given item(s), the item itself excluded."""
        from hashgnn.evaluation.search import search_items

        single = np.isscalar(itemid)
        items = np.atleast_1d(np.asarray(itemid, dtype=np.int64))
        emb = self.embeddings()
        mode = mode or self.default_mode()
        if mode not in SEARCH_MODES:
            raise ConfigError(f"unknown search mode {mode!r}; choose one of {', '.join(SEARCH_MODES)}")
        ids, scores = search_items(emb, items, N, mode, self.n_candidates, self.tie_seed)
        return (ids[0], scores[0]) if single else (ids, scores)
