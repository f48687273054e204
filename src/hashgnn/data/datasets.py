"""Registry of the datasets hashgnn knows: where their files come from, and how to read them.

Each :class:`DatasetSpec` lists its files relative to the data root (``$HASHGNN_DATA``), with the official
source URL and sha256 of each file, so that users with a network can fetch them (``hashgnn data download``) and
users without one know exactly what to put where.

The ids in each dataset's files are its "original ids"; they are mapped to contiguous indices in sorted order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hashgnn.data import io
from hashgnn.data.download import check_integrity, data_root, download_url
from hashgnn.data.interactions import Interactions
from hashgnn.errors import DatasetNotFoundError, HashGNNError


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its path under the data root, official URL and sha256 (None = not known)."""

    path: str
    url: str
    sha256: str | None


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset.

    Args:
        name: Registry key, e.g. ``"movielens-1m"``.
        description: One line for ``hashgnn data list``.
        files: Files in the order the reader expects (for a fixed split: train, then test).
        reader: Function reading one file into a raw log.
        fixed_split: True when ``files`` are a train file then a test file (``split="given"`` is available).
        paper: The paper's Table 1 numbers for this dataset, if it is one of the paper's.
        note: How this copy differs from the paper's, shown by ``hashgnn data info``.
    """

    name: str
    description: str
    files: tuple[RemoteFile, ...]
    reader: Callable[[Path], io.RawLog]
    fixed_split: bool = False
    paper: dict[str, int] = field(default_factory=dict)
    note: str = ""

    def paths(self, root: str | Path | None = None) -> list[Path]:
        base = data_root(root)
        return [base / f.path for f in self.files]

    def missing(self, root: str | Path | None = None) -> list[tuple[RemoteFile, Path]]:
        return [(f, p) for f, p in zip(self.files, self.paths(root)) if not p.is_file()]

    def is_available(self, root: str | Path | None = None) -> bool:
        return not self.missing(root)

    def require(self, root: str | Path | None = None) -> list[Path]:
        """The dataset's file paths; raises :class:`DatasetNotFoundError` saying where to put what."""
        missing = self.missing(root)
        if missing:
            lines = [f"  {p}  <-  {f.url}" + (f"  (sha256 {f.sha256})" if f.sha256 else "") for f, p in missing]
            raise DatasetNotFoundError(
                f"dataset {self.name!r} is not in the data root {data_root(root)} "
                f"(set HASHGNN_DATA or run `hashgnn data download {self.name}`). Missing file(s):\n"
                + "\n".join(lines)
            )
        return self.paths(root)

    def download(self, root: str | Path | None = None) -> list[Path]:
        return [download_url(f.url, p, f.sha256) for f, p in zip(self.files, self.paths(root))]

    def verify(self, root: str | Path | None = None) -> dict[str, bool]:
        """sha256 check of every present file."""
        return {f.path: check_integrity(p, f.sha256) for f, p in zip(self.files, self.paths(root))}

    def read_parts(self, root: str | Path | None = None) -> list[io.RawLog]:
        return [self.reader(p) for p in self.require(root)]

    def load(self, root: str | Path | None = None) -> tuple[Interactions, np.ndarray | None]:
        """All interactions (union of the files) and, for a fixed split, the part index (0 train, 1 test) per row."""
        parts = self.read_parts(root)
        users = np.concatenate([p[0] for p in parts])
        items = np.concatenate([p[1] for p in parts])
        has_time = all(p[2] is not None for p in parts)
        times = np.concatenate([p[2] for p in parts]) if has_time else None
        part = np.concatenate([np.full(len(p[0]), k, dtype=np.int8) for k, p in enumerate(parts)])
        order_key = part.astype(np.int64)
        inter = Interactions.from_raw(users, items, times, name=self.name)
        if not self.fixed_split:
            return inter, None
        # from_raw sorted and de-duplicated rows; recover each kept row's part by re-matching (user, item).
        u_idx = np.searchsorted(inter.user_ids, users)
        i_idx = np.searchsorted(inter.item_ids, items)
        key_all = u_idx * inter.n_items + i_idx
        key_kept = inter.users * inter.n_items + inter.items
        order = np.lexsort((order_key, key_all))
        first = np.ones(len(order), dtype=bool)
        first[1:] = key_all[order][1:] != key_all[order][:-1]
        uniq_keys = key_all[order][first]
        uniq_part = part[order][first]
        kept_part = uniq_part[np.searchsorted(uniq_keys, key_kept)]
        return inter, kept_part


def _gh(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


_BGCH = ("yankai-chen/BGCH", "b18f509e3b9b0202da3c5a3ec0c8abb5ce018a4d")
_LIGHTGCN = ("kuandeng/LightGCN", "b067ec05f16a24e0e1efe63cd82385f0c469af20")
_ULTRAGCN = ("xue-pai/UltraGCN", "b220010d62af08bd895963a3d71c7c8e55ee1f56")
_NCF = ("hexiangnan/neural_collaborative_filtering", "4aab159e81c44b062c091bdaed0ab54ac632371f")
_GROUPLENS_100K = "https://files.grouplens.org/datasets/movielens/ml-100k/u.data"

DATASETS: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    DATASETS[spec.name] = spec
    return spec


register(DatasetSpec(
    name="movielens-1m",
    description="MovieLens-1M, all 1,000,209 (user, movie) pairs as implicit feedback (BGCH adjacency lists)",
    files=(
        RemoteFile("ml-1m/bgch_movie/train.txt", _gh(*_BGCH, "dataset/movie/train.txt"),
                   "4e6d1e5cc25bccebedec745504afbfcbf6006bfb99d788f231c228eded9c2dcb"),
        RemoteFile("ml-1m/bgch_movie/test.txt", _gh(*_BGCH, "dataset/movie/test.txt"),
                   "764c1e4d8af7d8483b2d74958fcd144113db9edc4a9ee9e41e6f641d690c2aec"),
    ),
    reader=io.read_adjacency,
    fixed_split=True,
    paper={"users": 6040, "items": 3952, "interactions": 1000209},
    note="ids are MovieLens UserID-1 / MovieID-1; the paper's 3,952 items is the largest MovieID, 3,706 are rated",
))
register(DatasetSpec(
    name="movielens-1m-raw",
    description="MovieLens-1M from GroupLens' ratings.dat (UserID::MovieID::Rating::Timestamp), with timestamps",
    files=(RemoteFile("ml-1m/ratings.dat", "https://files.grouplens.org/datasets/movielens/ml-1m.zip", None),),
    reader=io.read_movielens_dat,
    paper={"users": 6040, "items": 3952, "interactions": 1000209},
    note="unzip ml-1m.zip and place ratings.dat; GroupLens publishes no checksum, so none is verified",
))
register(DatasetSpec(
    name="gowalla",
    description="Gowalla check-ins, 10-core, the NGCF/LightGCN train/test split",
    files=(
        RemoteFile("gowalla/lightgcn/train.txt", _gh(*_LIGHTGCN, "Data/gowalla/train.txt"),
                   "7244696fdeb23911319cf7b689f2e15a3c4c92549c873a5677b44e3f13cc3e62"),
        RemoteFile("gowalla/lightgcn/test.txt", _gh(*_LIGHTGCN, "Data/gowalla/test.txt"),
                   "099a2a73924e4b754dc6efd730d764f492321b53c38eb93298850c83acf57be3"),
    ),
    reader=io.read_adjacency,
    fixed_split=True,
    paper={"users": 29585, "items": 40981, "interactions": 1027370},
    note="the paper's 29,585 users is a transposition of 29,858, which NGCF/LightGCN report and the data holds",
))
register(DatasetSpec(
    name="pinterest-20",
    description="Pinterest-20 (NCF), one held-out pin per user",
    files=(
        RemoteFile("pinterest-20/ncf/pinterest-20.train.rating", _gh(*_NCF, "Data/pinterest-20.train.rating"),
                   None),
        RemoteFile("pinterest-20/ncf/pinterest-20.test.rating", _gh(*_NCF, "Data/pinterest-20.test.rating"),
                   "3a8a8f7eb8e21cc5928b8259dd2c265269ecfa219d92ba829249956aa293d732"),
    ),
    reader=io.read_ncf,
    fixed_split=True,
    paper={"users": 55187, "items": 9916, "interactions": 1500809},
    note="the train half (git blob 99813f8e…) could not be obtained here; its sha256 is therefore not recorded",
))
register(DatasetSpec(
    name="movielens-100k",
    description="MovieLens-100K (GroupLens u.data) with timestamps; not in the paper, small and fast",
    files=(RemoteFile("ml-100k/u.data", _GROUPLENS_100K,
                      "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"),),
    reader=io.read_movielens_100k,
))
register(DatasetSpec(
    name="amazon-cds",
    description="Amazon-CDs, the BGCF/UltraGCN split; not in the paper",
    files=(
        RemoteFile("amazon-cds/ultragcn/train.txt", _gh(*_ULTRAGCN, "data/amazoncds/train.txt"),
                   "dffb4e0cb45813f752ebe4c201a6c35aeb2755289b39b89bc1c148df8afcbd0c"),
        RemoteFile("amazon-cds/ultragcn/test.txt", _gh(*_ULTRAGCN, "data/amazoncds/test.txt"),
                   "5ad687ad2d00d7b3da4b366736aa606a63b3df5a53502ffc860f40990d7d6c36"),
    ),
    reader=io.read_adjacency,
    fixed_split=True,
))


def get_dataset(name: str) -> DatasetSpec:
    """The registered dataset ``name``; the error lists the valid names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise HashGNNError(f"unknown dataset {name!r}; choose one of: {', '.join(sorted(DATASETS))}, "
                           "or give a path to a CSV/TSV/Parquet file") from None
