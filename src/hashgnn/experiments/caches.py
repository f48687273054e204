"""What one process keeps from one run of a plan to the next: the split it trains and evaluates on, and the fitted
GraphSage stages that GraphSage, LSH and HashGNN_sp share. A :class:`~hashgnn.experiments.plan.Plan` carries one of
each, so they live as long as the plan (one experiment invocation, or one ``--jobs`` worker).

GraphSage, LSH and HashGNN_sp all train the same GraphSage first: :class:`SharedGraphSage` keeps the fitted one of
the current (dataset, seed) so that it is trained once per experiment and config (whichever row runs first) and
reused by the others; ``runs.csv`` then records the reused stage's time as ``shared_seconds`` beside the row's own
``train_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hashgnn.config import RunConfig
from hashgnn.data.loading import load_split_for
from hashgnn.data.splits import Split
from hashgnn.models.base import Recommender
from hashgnn.models.baselines import GraphSage
from hashgnn.models.baselines.twostage import LSH, HashGNNSeparate

#: the rows that share one GraphSage stage per (dataset, seed)
GRAPHSAGE_FAMILY = ("GraphSage", "LSH", "HashGNN_sp")


def shared_stage_config(model: Recommender) -> RunConfig | None:
    """The config of the GraphSage that ``model`` trains first (GraphSage itself, LSH, HashGNN_sp), else None."""
    if type(model) is GraphSage:
        return model.config
    if isinstance(model, (LSH, HashGNNSeparate)):
        return model.graphsage.config
    return None


@dataclass
class SharedGraphSage:
    """Fitted GraphSage stages keyed by ``(dataset, seed, GraphSage config JSON)``, each with the wall seconds its
    training took. Only the current (dataset, seed) is kept: a new one empties the cache, which bounds memory to
    the GraphSage models of one dataset and seed (the experiments loop over methods inside seeds)."""

    entries: dict[tuple[str, int, str], tuple[GraphSage, float]] = field(default_factory=dict)

    def get(self, key: tuple[str, int, str]) -> tuple[GraphSage, float] | None:
        if any(k[:2] != key[:2] for k in self.entries):
            self.entries.clear()
        return self.entries.get(key)

    def put(self, key: tuple[str, int, str], graphsage: GraphSage, seconds: float) -> None:
        self.get(key)  # evicts other (dataset, seed) entries
        self.entries[key] = (graphsage, seconds)


@dataclass
class SplitCache:
    """The split of the current data and split settings. A plan's runs loop over methods and seeds inside each
    dataset, so one split is all it needs at a time; keeping only that one bounds memory to one dataset."""

    key: tuple | None = None
    split: Split | None = None

    def get(self, cfg: RunConfig) -> Split:
        key = (cfg.data, cfg.split)
        if self.split is None or key != self.key:
            self.key, self.split = None, None  # released before the next one is loaded, not after
            self.split = load_split_for(cfg.data, cfg.split)
            self.key = key
        return self.split
