"""Registry of the datasets hashgnn knows: where their files come from, and how to read them.

Each :class:`DatasetSpec` lists its files relative to the data root (``$HASHGNN_DATA``), with the official
source URL and sha256 of each file, so that users with a network can fetch them (``hashgnn data download``)
and
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
    """One file of a dataset: its path under the data root, official URL and sha256 (None = not known).

    ``member``: when ``url`` is a zip archive, the file's path inside it.
    """

    path: str
    url: str
    sha256: str | None
    member: str | None = None

    def hint(self, dest: Path) -> str:
        """One line saying where to put this file and where it comes from."""
        src = f"{self.member} from {self.url}" if self.member else self.url
        return f"  {dest}  <-  {src}" + (f"  (sha256 {self.sha256})" if self.sha256 else "")


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
        extras: Companion files (id maps, metadata, negatives) that are checked by ``hashgnn data verify``
            and fetched by ``download`` but not needed to load the interactions.
    """

    name: str
    description: str
    files: tuple[RemoteFile, ...]
    reader: Callable[[Path], io.RawLog]
    fixed_split: bool = False
    paper: dict[str, int] = field(default_factory=dict)
    note: str = ""
    extras: tuple[RemoteFile, ...] = ()

    def paths(self, root: str | Path | None = None) -> list[Path]:
        base = data_root(root)
        return [base / f.path for f in self.files]

    def missing(self, root: str | Path | None = None) -> list[tuple[RemoteFile, Path]]:
        return [(f, p) for f, p in zip(self.files, self.paths(root), strict=False) if not p.is_file()]

    def is_available(self, root: str | Path | None = None) -> bool:
        return not self.missing(root)

    def require(self, root: str | Path | None = None) -> list[Path]:
        """The dataset's file paths; raises :class:`DatasetNotFoundError` saying where to put what."""
        missing = self.missing(root)
        if missing:
            lines = [f.hint(p) for f, p in missing]
            raise DatasetNotFoundError(
                f"dataset {self.name!r} is not in the data root {data_root(root)} "
                f"(set HASHGNN_DATA or run `hashgnn data download {self.name}`). Missing file(s):\n"
                + "\n".join(lines)
            )
        return self.paths(root)

    def download(self, root: str | Path | None = None) -> list[Path]:
        base = data_root(root)
        return [download_url(f.url, base / f.path, f.sha256, member=f.member)
                for f in self.files + self.extras]

    def verify(self, root: str | Path | None = None) -> dict[str, bool]:
        """sha256 check of every file (missing = False); a file with no known checksum passes when present."""
        base = data_root(root)
        return {f.path: check_integrity(base / f.path, f.sha256) for f in self.files + self.extras}

    def verify_status(self, root: str | Path | None = None) -> dict[str, str]:
        """Per file (data files, then extras): ``"ok"``, ``"BAD"`` (sha256 mismatch), ``"missing"``, or
        ``"unchecked"`` (present, but no checksum is known)."""
        base = data_root(root)
        out: dict[str, str] = {}
        for f in self.files + self.extras:
            p = base / f.path
            if not p.is_file():
                out[f.path] = "missing"
            elif f.sha256 is None:
                out[f.path] = "unchecked"
            else:
                out[f.path] = "ok" if check_integrity(p, f.sha256) else "BAD"
        return out

    def read_parts(self, root: str | Path | None = None) -> list[io.RawLog]:
        return [self.reader(p) for p in self.require(root)]

    def load(self, root: str | Path | None = None) -> tuple[Interactions, np.ndarray | None]:
        """All interactions (union of the files) and, for a fixed split, the part index (0 train, 1 test)
        per row."""
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
_ML1M_ZIP = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"

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
    note="ids are MovieLens UserID-1 / MovieID-1; the paper's 3,952 items is the largest MovieID, "
         "3,706 are rated",
))
register(DatasetSpec(
    name="movielens-1m-raw",
    description="MovieLens-1M from GroupLens' ratings.dat (UserID::MovieID::Rating::Timestamp), "
                "with timestamps",
    files=(RemoteFile("ml-1m/ratings.dat", _ML1M_ZIP, None, member="ml-1m/ratings.dat"),),
    reader=io.read_movielens_dat,
    extras=(
        RemoteFile("ml-1m/grouplens_meta/README", _ML1M_ZIP,
                   "dc90e3a7a0786854ef5b93ace2f3187b67e0a19650a51725d40086d8495c2c72", member="ml-1m/README"),
        RemoteFile("ml-1m/grouplens_meta/movies.dat", _ML1M_ZIP,
                   "0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9",
                   member="ml-1m/movies.dat"),
        RemoteFile("ml-1m/grouplens_meta/users.dat", _ML1M_ZIP,
                   "1dc3a95300cb19f7c10e027daf29b8cdf1d908dab65b5edfb45950aa389a10a3",
                   member="ml-1m/users.dat"),
    ),
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
    note="the paper's 29,585 users is a transposition of 29,858, which NGCF/LightGCN report and the "
         "data holds",
    extras=(
        RemoteFile("gowalla/lightgcn/user_list.txt", _gh(*_LIGHTGCN, "Data/gowalla/user_list.txt"),
                   "5344c4d0deef610e1f148f23ad216a0db03b36f88834cd39a06786a672c5f5a1"),
        RemoteFile("gowalla/lightgcn/item_list.txt", _gh(*_LIGHTGCN, "Data/gowalla/item_list.txt"),
                   "6b186f92890cc3f0c15a6dae5d6285f125a302bb8c5ea0cd9a16cf9c16347139"),
        RemoteFile("gowalla/lightgcn/README.md", _gh(*_LIGHTGCN, "Data/gowalla/README.md"),
                   "d2eea49ca83f034c71ddaa03422d4491e86fb6131bccfb35e35ec5f575a10955"),
    ),
))
register(DatasetSpec(
    name="movielens-1m-ncf",
    description="MovieLens-1M (NCF leave-one-out: train.rating + test.rating, with timestamps)",
    files=(
        RemoteFile("ml-1m/ncf/ml-1m.train.rating", _gh(*_NCF, "Data/ml-1m.train.rating"), None),
        RemoteFile("ml-1m/ncf/ml-1m.test.rating", _gh(*_NCF, "Data/ml-1m.test.rating"),
                   "231ae11eb060b643a8c58c063cd17ffc743b54f569afb073d1abb6cf126b88b5"),
    ),
    reader=io.read_ncf,
    fixed_split=True,
    paper={"users": 6040, "items": 3952, "interactions": 1000209},
    note="NCF's own item ids (order of first appearance), not MovieID-1; the train half (git blob 31ba384f…) "
         "could not be obtained here, so its sha256 is not recorded",
    extras=(
        RemoteFile("ml-1m/ncf/ml-1m.test.negative", _gh(*_NCF, "Data/ml-1m.test.negative"),
                   "127853228a76b7d21c0481e8ef8d00dd009cd5c88670dbdd9e9debfdb9f93de4"),
    ),
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
    note="the train half (git blob 99813f8e…) could not be obtained here; its sha256 is therefore "
         "not recorded",
))
register(DatasetSpec(
    name="movielens-100k",
    description="MovieLens-100K (GroupLens u.data) with timestamps; not in the paper, small and fast",
    files=(RemoteFile("ml-100k/u.data", _GROUPLENS_100K,
                      "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"),),
    reader=io.read_movielens_100k,
    extras=tuple(
        RemoteFile(f"ml-100k/{name}", _GROUPLENS_100K.rsplit("/", 1)[0] + f"/{name}", sha)
        for name, sha in (
            ("README", "d5f41f88d1a96b8faefed3c2f51fce1fca3be1ba6ab0d06e346898ffae920de9"),
            ("u.item", "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701"),
            ("u.user", "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c"),
            ("u.info", "5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b"),
            ("u.genre", "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb"),
            ("u.occupation", "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d"),
        )
    ),
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
