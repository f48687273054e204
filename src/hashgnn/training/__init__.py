"""Training loop, negative sampling and the run directory."""

from hashgnn.training.rundir import RunDir
from hashgnn.training.trainer import Trainer, TrainResult

__all__ = ["RunDir", "TrainResult", "Trainer"]
