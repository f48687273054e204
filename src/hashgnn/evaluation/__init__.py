"""Metrics, the two evaluation protocols and the three search modes."""

from hashgnn.evaluation.metrics import PROTOCOLS, hit_matrix, ranking_metrics
from hashgnn.evaluation.protocol import evaluate_part
from hashgnn.evaluation.search import build_index, search_items, search_users

__all__ = ["PROTOCOLS", "build_index", "evaluate_part", "hit_matrix", "ranking_metrics", "search_items",
           "search_users"]
