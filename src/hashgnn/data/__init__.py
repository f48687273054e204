"""Datasets, preprocessing, splits and the bipartite graph.

The public names are imported on first use (PEP 562): ``from hashgnn.data import Split`` does not import torch,
which only :class:`BipartiteGraph` needs, so a look-up from a run directory starts without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hashgnn._lazy import lazy_exports

if TYPE_CHECKING:
    from hashgnn.data.datasets import DATASETS, DatasetSpec, get_dataset
    from hashgnn.data.graph import BipartiteGraph
    from hashgnn.data.interactions import Interactions
    from hashgnn.data.loading import DataConfig, load_interactions, load_split_for
    from hashgnn.data.splits import Split, SplitConfig, make_split, random_split, temporal_split

#: public name → the submodule defining it
_EXPORTS = {
    "DATASETS": "datasets", "DatasetSpec": "datasets", "get_dataset": "datasets",
    "BipartiteGraph": "graph",
    "Interactions": "interactions",
    "DataConfig": "loading", "load_interactions": "loading", "load_split_for": "loading",
    "Split": "splits", "SplitConfig": "splits", "make_split": "splits", "random_split": "splits",
    "temporal_split": "splits",
}

__all__ = [
    "DATASETS", "BipartiteGraph", "DataConfig", "DatasetSpec", "Interactions", "Split", "SplitConfig",
    "get_dataset", "load_interactions", "load_split_for", "make_split", "random_split", "temporal_split",
]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
