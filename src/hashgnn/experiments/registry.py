"""The experiments of ``configs/NAME.json`` by name: each is one module that describes itself with an
:class:`~hashgnn.experiments.plan.Experiment` (its ``EXPERIMENT``). The only module that imports them all, so that
the generic ones (:mod:`.plan`, :mod:`.runs`, ...) are handed an experiment instead of knowing any.
"""

from __future__ import annotations

from types import ModuleType

from hashgnn.experiments import figure3, figure4_6, figure5, figure7, table2, table3, table4
from hashgnn.experiments.plan import EXPERIMENTS, Experiment, load_experiment_config

MODULES: dict[str, ModuleType] = {"table2": table2, "table3": table3, "table4": table4, "figure3": figure3,
                                  "figure4_6": figure4_6, "figure5": figure5, "figure7": figure7}
assert set(MODULES) == set(EXPERIMENTS), "every experiment of plan.EXPERIMENTS has its module here"


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name`` (its module's ``EXPERIMENT``)."""
    load_experiment_config(name)  # an unknown name fails here, listing the known ones
    return MODULES[name].EXPERIMENT
