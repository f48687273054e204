"""Metrics, the two evaluation protocols and the three search modes.

The public names are imported on first use (PEP 562), so that importing one submodule does not import the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hashgnn._lazy import lazy_exports

if TYPE_CHECKING:
    from hashgnn.evaluation.cascade import cascade_embeddings
    from hashgnn.evaluation.metrics import PROTOCOLS, hit_matrix, ranking_metrics
    from hashgnn.evaluation.protocol import evaluate_part
    from hashgnn.evaluation.search import build_index, search_items, search_users

#: public name → the submodule defining it
_EXPORTS = {
    "cascade_embeddings": "cascade",
    "PROTOCOLS": "metrics", "hit_matrix": "metrics", "ranking_metrics": "metrics",
    "evaluate_part": "protocol",
    "build_index": "search", "search_items": "search", "search_users": "search",
}

__all__ = ["PROTOCOLS", "build_index", "cascade_embeddings", "evaluate_part", "hit_matrix", "ranking_metrics",
           "search_items", "search_users"]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
