"""Training loop, negative sampling and the run directory.

The public names are imported on first use (PEP 562): reading a run directory (:class:`RunDir`) does not import
the trainer, and with it torch and scipy.stats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hashgnn._lazy import lazy_exports

if TYPE_CHECKING:
    from hashgnn.training.rundir import RunDir
    from hashgnn.training.trainer import Trainer, TrainResult

#: public name → the submodule defining it
_EXPORTS = {"RunDir": "rundir", "TrainResult": "trainer", "Trainer": "trainer"}

__all__ = ["RunDir", "TrainResult", "Trainer"]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
