"""Datasets, preprocessing, splits and the bipartite graph."""

from hashgnn.data.datasets import DATASETS, DatasetSpec, get_dataset
from hashgnn.data.graph import BipartiteGraph
from hashgnn.data.interactions import Interactions
from hashgnn.data.loading import DataConfig, load_interactions, load_split_for
from hashgnn.data.splits import Split, SplitConfig, make_split, random_split, temporal_split

__all__ = [
    "DATASETS", "BipartiteGraph", "DataConfig", "DatasetSpec", "Interactions", "Split", "SplitConfig",
    "get_dataset", "load_interactions", "load_split_for", "make_split", "random_split", "temporal_split",
]
