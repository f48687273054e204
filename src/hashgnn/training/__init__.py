"""Training loop, negative sampling and the run directory.

The public names are imported on first use (PEP 562): reading a run directory (:class:`RunDir`) does not import
the trainer, and with it torch and scipy.stats.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashgnn.training.rundir import RunDir
    from hashgnn.training.trainer import Trainer, TrainResult

#: public name → the submodule defining it
_EXPORTS = {"RunDir": "rundir", "TrainResult": "trainer", "Trainer": "trainer"}

__all__ = ["RunDir", "TrainResult", "Trainer"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
