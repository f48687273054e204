"""Synthetic user–item interaction logs of any size, shaped like real recommendation data.

The paper's Alibaba set (601,946 users, 4,167,708 items, 28,489,957 interactions over 7 days) is not public,
so scale work (sampling, propagation, index build, memory) needs a stand-in with the properties that make real
logs hard: heavy-tailed user activity and item popularity (hubs), community structure that a recommender can
learn, and timestamps for the paper's "last day is test" split.

The model is a degree-corrected stochastic block model on the bipartite graph. Users and items are spread over
``C`` communities of near-equal size. Each user has a lognormal activity and each item a Zipf (or lognormal)
popularity. One interaction:

1. picks a user with probability proportional to activity (drawn at once for all interactions as a
   multinomial over users, on top of ``min_user_degree`` guaranteed interactions per user);
2. picks a community: the user's own with probability ``in_community``, otherwise a uniformly random one;
3. picks an item of that community with probability proportional to popularity.

Every item first gets ``min_item_degree`` interactions from users of its community (chosen by activity), so no
item is isolated, as in a log where items only exist once someone touched them. Duplicate (user, item) pairs
are dropped, and missing interactions redrawn until the target count is met (a few rounds; see
:attr:`SyntheticGraph.requested`). Timestamps are uniform over ``days`` days from 2019-09-09 00:00 UTC, the
start of the Alibaba log.

Everything is vectorised numpy, drawn in chunks so temporaries stay a fraction of the output, and a pure
function of the seed.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from hashgnn.data.interactions import Interactions
from hashgnn.errors import ConfigError, DataError

__all__ = ["ALIBABA_SIZE", "SynthConfig", "SyntheticGraph", "generate", "generate_interactions", "load_synth",
           "load_synth_graph", "save_synth"]

#: Table 1 of the paper: (users, items, interactions) of the Alibaba set.
ALIBABA_SIZE = (601_946, 4_167_708, 28_489_957)

_CHUNK = 4_000_000  # draws per vectorised chunk: bounds the float64/int64 temporaries to ~100 MB
_FORMAT = "hashgnn-synth-v1"
_ROUNDS = 12  # top-up rounds after the first draw; at Alibaba size one or two are used


@dataclass(frozen=True)
class SynthConfig:
    """Size and shape of a synthetic log (see the module docstring for the model).

    Args:
        n_users: Users ``U``.
        n_items: Items ``I``.
        n_interactions: Target number of distinct (user, item) pairs.
        n_communities: Communities ``C`` (at most ``min(U, I)``); 0 = about ``sqrt(I) / 20`` (102 at Alibaba
            size).
        in_community: Probability an interaction stays in the user's own community.
        user_sigma: Sigma of the lognormal user activity (1.0: the busiest users have ~100x the median).
        item_popularity: ``"zipf"`` (weight ``rank^-item_exponent`` over a random global rank) or
            ``"lognormal"`` (sigma ``item_exponent``).
        item_exponent: Zipf exponent or lognormal sigma of the item popularity.
        min_user_degree: Interactions every user gets before the activity-weighted draws (the paper's Alibaba
            set keeps users with >= 10). Duplicates may remove a few of them.
        min_item_degree: Draws every item gets from its community's users, so no item is isolated.
        days: Time span of the timestamps.
        start_time: Unix time of the first second (default 2019-09-09 00:00 UTC).
        oversample: Extra share drawn in each round to make up for duplicates.
        seed: Seed of every random choice.
        name: Dataset name carried by the :class:`Interactions`.
    """

    n_users: int = 10_000
    n_items: int = 20_000
    n_interactions: int = 200_000
    n_communities: int = 0
    in_community: float = 0.8
    user_sigma: float = 1.0
    item_popularity: str = "zipf"
    item_exponent: float = 0.8
    min_user_degree: int = 1
    min_item_degree: int = 1
    days: float = 7.0
    start_time: int = 1_567_987_200
    oversample: float = 0.03
    seed: int = 0
    name: str = "synth"

    def communities(self) -> int:
        """The actual ``C``: the configured one, or the size-based default."""
        if self.n_communities > 0:
            return self.n_communities
        return int(max(1, min(self.n_users, self.n_items, round(math.sqrt(self.n_items) / 20))))

    def validate(self) -> None:
        if self.n_users < 1 or self.n_items < 1:
            raise ConfigError(f"synth needs >= 1 user and >= 1 item; got {self.n_users}, {self.n_items}")
        if self.n_users * self.n_items >= 2**62:
            raise ConfigError("synth: users x items must stay below 2**62")
        if self.n_interactions < 1:
            raise ConfigError(f"synth.n_interactions must be >= 1, got {self.n_interactions}")
        if self.n_interactions > 0.5 * self.n_users * self.n_items:
            raise ConfigError(f"synth: {self.n_interactions:,} interactions would fill more than half of "
                              f"the {self.n_users:,} x {self.n_items:,} matrix; this generator is for sparse "
                              "logs")
        if self.n_communities < 0 or self.n_communities > min(self.n_users, self.n_items):
            raise ConfigError("synth.n_communities must be in [0, min(users, items)], "
                              f"got {self.n_communities}")
        if not 0.0 <= self.in_community <= 1.0:
            raise ConfigError(f"synth.in_community must be in [0, 1], got {self.in_community}")
        if self.user_sigma < 0 or self.item_exponent < 0:
            raise ConfigError("synth.user_sigma and synth.item_exponent must be >= 0")
        if self.item_popularity not in ("zipf", "lognormal"):
            raise ConfigError("synth.item_popularity must be 'zipf' or 'lognormal', "
                              f"got {self.item_popularity!r}")
        if self.min_user_degree < 0 or self.min_item_degree < 0:
            raise ConfigError("synth.min_user_degree and synth.min_item_degree must be >= 0")
        floor = self.n_users * self.min_user_degree + self.n_items * self.min_item_degree
        if floor > self.n_interactions:
            raise ConfigError(f"synth: the minimum degrees already need {floor:,} interactions, more than "
                              f"the {self.n_interactions:,} asked for; lower the minimum degrees")
        if self.days <= 0:
            raise ConfigError(f"synth.days must be > 0, got {self.days}")
        if not 0.0 <= self.oversample <= 1.0:
            raise ConfigError(f"synth.oversample must be in [0, 1], got {self.oversample}")


@dataclass(frozen=True)
class SyntheticGraph:
    """A generated log with its ground truth.

    Args:
        interactions: Distinct pairs sorted by user then item; ids are ``0..U-1`` and ``0..I-1``.
        user_community: ``int32 [U]`` community of each user.
        item_community: ``int32 [I]`` community of each item.
        config: How it was generated.
        requested: ``config.n_interactions``; ``len(interactions)`` can fall short of it only when the redraw
            rounds ran out (a log so dense that duplicates dominate).
    """

    interactions: Interactions
    user_community: np.ndarray
    item_community: np.ndarray
    config: SynthConfig
    requested: int

    def within_community_share(self) -> float:
        """Share of interactions whose item is in the user's community (ground truth for tests, reports)."""
        inter = self.interactions
        if len(inter) == 0:
            return 0.0
        same = self.user_community[inter.users] == self.item_community[inter.items]
        return float(same.mean())


def _balanced_labels(n: int, c: int, rng: np.random.Generator) -> np.ndarray:
    """Community of each of ``n`` nodes: sizes differ by at most one and every community is used."""
    return rng.permutation(np.arange(n, dtype=np.int64) % c).astype(np.int32)


class _Grouped:
    """Weighted choice of a member of a given community, for many draws at once.

    Members are sorted by community and their weights cumulated once; a draw for community ``c`` is a uniform
    point in ``c``'s slice of the cumulative sum, located by binary search. Cost: ``O(log n)`` per draw, no
    per-community Python work.
    """

    def __init__(self, labels: np.ndarray, weights: np.ndarray, n_groups: int) -> None:
        self.order = np.argsort(labels, kind="stable").astype(np.int64)
        cum = np.cumsum(weights[self.order], dtype=np.float64)
        counts = np.bincount(labels, minlength=n_groups)
        ends = np.cumsum(counts)
        self.first = ends - counts
        self.last = np.maximum(ends - 1, 0)
        self.lo = np.where(self.first > 0, cum[np.maximum(self.first - 1, 0)], 0.0)
        self.hi = cum[self.last]
        self.cum = cum

    def draw(self, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        u = rng.random(len(groups))
        target = self.lo[groups] + u * (self.hi[groups] - self.lo[groups])
        pos = np.searchsorted(self.cum, target, side="right")
        pos = np.clip(pos, self.first[groups], self.last[groups])  # float rounding at a slice's edges
        return self.order[pos]


class _Model:
    """The drawn parameters (communities, weights) of one generation."""

    def __init__(self, cfg: SynthConfig, rng: np.random.Generator) -> None:
        self.cfg = cfg
        self.c = cfg.communities()
        self.user_comm = _balanced_labels(cfg.n_users, self.c, rng)
        self.item_comm = _balanced_labels(cfg.n_items, self.c, rng)
        activity = rng.lognormal(0.0, cfg.user_sigma, cfg.n_users)
        self.user_p = activity / activity.sum()
        if cfg.item_popularity == "zipf":
            rank = rng.permutation(cfg.n_items).astype(np.float64)
            popularity = (rank + 1.0) ** (-cfg.item_exponent)
        else:
            popularity = rng.lognormal(0.0, cfg.item_exponent, cfg.n_items)
        self.items = _Grouped(self.item_comm, popularity, self.c)
        self.users = _Grouped(self.user_comm, activity, self.c)

    def items_for(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One item per user: own community w.p. ``in_community``, else a uniform one; then by popularity."""
        comm = self.user_comm[users].astype(np.int64)
        away = rng.random(len(users)) >= self.cfg.in_community
        comm[away] = rng.integers(0, self.c, int(away.sum()))
        return self.items.draw(comm, rng)

    def keys(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return users.astype(np.int64) * self.cfg.n_items + items.astype(np.int64)

    def activity_draws(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` pair keys with users by activity, chunked so temporaries stay bounded."""
        counts = rng.multinomial(n, self.user_p) if n > 0 else np.zeros(self.cfg.n_users, dtype=np.int64)
        return self._keys_for_counts(counts, rng)

    def _keys_for_counts(self, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.empty(int(counts.sum()), dtype=np.int64)
        ends = np.cumsum(counts)
        pos = 0
        user = 0
        n_users = len(counts)
        while user < n_users:  # chunks of whole users, ~_CHUNK draws each (a handful of iterations)
            stop = int(np.searchsorted(ends, pos + _CHUNK, side="right"))
            stop = max(stop, user + 1)
            users = np.repeat(np.arange(user, stop, dtype=np.int64), counts[user:stop])
            out[pos: pos + len(users)] = self.keys(users, self.items_for(users, rng))
            pos += len(users)
            user = stop
        return out

    def coverage_draws(self, rng: np.random.Generator) -> np.ndarray:
        """``min_item_degree`` keys per item, each with a user of the item's community chosen by activity."""
        k = self.cfg.min_item_degree
        if k == 0:
            return np.empty(0, dtype=np.int64)
        items = np.repeat(np.arange(self.cfg.n_items, dtype=np.int64), k)
        out = np.empty(len(items), dtype=np.int64)
        for s in range(0, len(items), _CHUNK):
            it = items[s: s + _CHUNK]
            users = self.users.draw(self.item_comm[it].astype(np.int64), rng)
            out[s: s + len(it)] = self.keys(users, it)
        return out


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values, sorting ``a`` in place.

    ``np.unique`` on numpy >= 2.3 goes through a hash table first, which is several times slower than a plain
    sort for tens of millions of int64 keys (measured: 26 s of a 38 s run); a sort and a neighbour comparison
    do the same job.
    """
    a.sort()
    if len(a) == 0:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def _protected(groups: np.ndarray, k: int, n_groups: int) -> np.ndarray:
    """Mask of the first ``k`` rows (in row order) of each group: the rows a minimum degree rests on."""
    if k == 0:
        return np.zeros(len(groups), dtype=bool)
    order = np.argsort(groups, kind="stable")
    counts = np.bincount(groups, minlength=n_groups)
    starts = np.cumsum(counts) - counts
    rank = np.empty(len(groups), dtype=np.int64)
    rank[order] = np.arange(len(groups)) - np.repeat(starts, counts)
    return rank < k


def _drop_surplus(users: np.ndarray, items: np.ndarray, surplus: int, config: SynthConfig,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Remove ``surplus`` uniformly random rows, never one that a minimum user or item degree rests on."""
    keep_min = _protected(users, config.min_user_degree, config.n_users)
    keep_min |= _protected(items, config.min_item_degree, config.n_items)
    candidates = np.flatnonzero(~keep_min)
    del keep_min
    drop = candidates[rng.choice(len(candidates), min(surplus, len(candidates)), replace=False)]
    keep = np.ones(len(users), dtype=bool)
    keep[drop] = False
    return users[keep], items[keep]


def generate(config: SynthConfig) -> SyntheticGraph:
    """Generate a log (see the module docstring); deterministic given ``config`` (seed included)."""
    config.validate()
    rng = np.random.default_rng(config.seed)
    model = _Model(config, rng)
    target = config.n_interactions
    base = np.full(config.n_users, config.min_user_degree, dtype=np.int64)
    n_free = target - int(base.sum()) - config.n_items * config.min_item_degree
    extra = int(math.ceil(target * config.oversample))
    counts = base + rng.multinomial(n_free + extra, model.user_p)
    keys = np.concatenate([model.coverage_draws(rng), model._keys_for_counts(counts, rng)])
    keys = _sorted_unique(keys)
    fresh_rate = 1.0  # share of a round's draws that turned out new: 1/rate draws per missing pair
    for _ in range(_ROUNDS):
        deficit = target - len(keys)
        if deficit <= 0:
            break
        n_draw = int(math.ceil(deficit * (1.0 + config.oversample) / max(fresh_rate, 0.02))) + 16
        before = len(keys)
        keys = _sorted_unique(np.concatenate([keys, model.activity_draws(n_draw, rng)]))
        fresh_rate = max(len(keys) - before, 1) / n_draw
    users = keys // config.n_items
    items = keys - users * config.n_items
    del keys
    if len(users) > target:
        users, items = _drop_surplus(users, items, len(users) - target, config, rng)
    span = int(round(config.days * 86400))
    timestamps = config.start_time + rng.integers(0, span, len(users), dtype=np.int64)
    inter = Interactions(users=users, items=items, user_ids=np.arange(config.n_users, dtype=np.int64),
                         item_ids=np.arange(config.n_items, dtype=np.int64), timestamps=timestamps,
                         name=config.name)
    return SyntheticGraph(inter, model.user_comm, model.item_comm, config, target)


def generate_interactions(config: SynthConfig) -> Interactions:
    """Just the :class:`Interactions` of :func:`generate`."""
    return generate(config).interactions


def save_synth(graph: SyntheticGraph, path: str | Path) -> Path:
    """Write a compressed ``.npz`` atomically (temp file in the same directory, then rename).

    Indices are stored as int32 and timestamps as uint32 offsets from ``start_time`` to halve the file; the
    config is stored as JSON so a file documents how it was made.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ConfigError(f"synthetic data is saved as .npz; got {path}")
    inter = graph.interactions
    cfg = graph.config
    assert inter.timestamps is not None
    offsets = inter.timestamps - cfg.start_time
    if len(offsets) and (offsets.min() < 0 or offsets.max() >= 2**32):
        raise DataError("timestamps do not fit the compact format", path)
    idx = np.int32 if max(cfg.n_users, cfg.n_items) < 2**31 else np.int64
    arrays = {
        "format": np.array(_FORMAT),
        "config": np.array(json.dumps(asdict(cfg), sort_keys=True)),
        "users": inter.users.astype(idx), "items": inter.items.astype(idx),
        "time_offsets": offsets.astype(np.uint32),
        "user_community": graph.user_community.astype(np.int32),
        "item_community": graph.item_community.astype(np.int32),
        "requested": np.array(graph.requested, dtype=np.int64),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the permissions open() would
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_synth_graph(path: str | Path) -> SyntheticGraph:
    """Read a file written by :func:`save_synth`, checking its format and index ranges."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if "format" not in z.files or str(z["format"]) != _FORMAT:
                raise DataError(f"not a hashgnn synthetic dataset (expected format {_FORMAT})", path)
            raw = json.loads(str(z["config"]))
            known = {f.name for f in fields(SynthConfig)}
            cfg = SynthConfig(**{k: v for k, v in raw.items() if k in known})
            users = z["users"].astype(np.int64)
            items = z["items"].astype(np.int64)
            ts = z["time_offsets"].astype(np.int64) + cfg.start_time
            user_comm, item_comm = z["user_community"], z["item_community"]
            requested = int(z["requested"])
    except DataError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"cannot read synthetic dataset ({exc})", path) from None
    if len(users) != len(items) or len(users) != len(ts):
        raise DataError("users, items and timestamps have different lengths", path)
    if len(users) and (users.min() < 0 or users.max() >= cfg.n_users or items.min() < 0
                       or items.max() >= cfg.n_items):
        raise DataError("an index is out of range of the stored sizes", path)
    if len(user_comm) != cfg.n_users or len(item_comm) != cfg.n_items:
        raise DataError("community arrays do not match the stored sizes", path)
    inter = Interactions(users=users, items=items, user_ids=np.arange(cfg.n_users, dtype=np.int64),
                         item_ids=np.arange(cfg.n_items, dtype=np.int64), timestamps=ts, name=cfg.name)
    return SyntheticGraph(inter, user_comm, item_comm, cfg, requested)


def load_synth(path: str | Path) -> Interactions:
    """A synthetic ``.npz`` as a dataset: its :class:`Interactions` (ids ``0..U-1``, ``0..I-1``, times)."""
    return load_synth_graph(path).interactions
