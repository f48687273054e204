"""Metrics, the two evaluation protocols and the three search modes.

The public names are imported on first use (PEP 562), so that importing one submodule does not import the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashgnn.evaluation.metrics import PROTOCOLS, hit_matrix, ranking_metrics
    from hashgnn.evaluation.protocol import evaluate_part
    from hashgnn.evaluation.search import build_index, search_items, search_users

#: public name → the submodule defining it
_EXPORTS = {
    "PROTOCOLS": "metrics", "hit_matrix": "metrics", "ranking_metrics": "metrics",
    "evaluate_part": "protocol",
    "build_index": "search", "search_items": "search", "search_users": "search",
}

__all__ = ["PROTOCOLS", "build_index", "evaluate_part", "hit_matrix", "ranking_metrics", "search_items",
           "search_users"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
