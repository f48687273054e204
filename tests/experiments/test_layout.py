"""The layout of :mod:`hashgnn.experiments`: generic modules (plan, store, checkpoints, report, ...) import no
experiment module, each experiment is one module describing itself, and an experiment travels to ``--jobs``
workers."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest

import hashgnn.experiments as experiments
from hashgnn.experiments import EXPERIMENTS, get_experiment

PACKAGE = Path(experiments.__file__).parent
#: the modules that are one experiment each (converged has its own plan; compare is `hashgnn compare`)
EXPERIMENT_MODULES = {*EXPERIMENTS, "converged", "compare"}
GENERIC = ("caches", "checkpoints", "paper", "parallel", "plan", "report", "reuse", "runs", "status", "store")


def _imported(module: str) -> set[str]:
    """Every ``hashgnn.experiments`` module ``module`` imports, at the top or inside a function."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hashgnn.experiments"):
            if node.module == "hashgnn.experiments":  # `from hashgnn.experiments import x`: x may be a module
                found |= {f"hashgnn.experiments.{a.name}" for a in node.names}
                found.add("hashgnn.experiments")
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("hashgnn.experiments")}
    return found


def test_every_module_is_either_generic_or_one_experiment():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set(GENERIC) | EXPERIMENT_MODULES


@pytest.mark.parametrize("module", GENERIC)
def test_generic_modules_import_no_experiment_and_not_the_package_front(module: str):
    backward = {f"hashgnn.experiments.{m}" for m in EXPERIMENT_MODULES} | {"hashgnn.experiments"}
    assert not _imported(module) & backward


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_experiment_is_one_module_that_describes_itself(name: str):
    experiment = get_experiment(name)
    assert experiment.name == name and experiment.run.__module__ == f"hashgnn.experiments.{name}"
    assert pickle.loads(pickle.dumps(experiment)) == experiment  # how --jobs workers receive it (spawn)
