"""The layout of :mod:`hashgnn.experiments` (issue 31): the generic modules (plan, store, checkpoints, report, ...)
each import only the generic modules below them and no experiment; an experiment imports no other experiment;
``registry`` and ``launch`` sit on top; ``__init__`` only re-exports. The imports are read from the source (ast),
at the top, inside functions and under ``TYPE_CHECKING`` alike, and the checker is tested on a broken package too.
"""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest

import hashgnn.experiments as experiments
from hashgnn.experiments import EXPERIMENTS, get_experiment

PACKAGE = Path(experiments.__file__).parent
ROOT = "hashgnn.experiments"
#: the generic machinery, bottom first: each may import only the ones before it, and no experiment
GENERIC = ("paper", "caches", "store", "plan", "checkpoints", "reuse", "report", "parallel", "runs", "status")
#: one experiment each (a module, or a package: ``converged`` has its own plan, runs and report); import only GENERIC
EXPERIMENT_UNITS = frozenset({*EXPERIMENTS, "converged", "compare"})
#: above the experiments: the registry imports them all, launch runs one
TOP = ("registry", "launch")
#: the order inside an experiment package, bottom first (its ``__init__`` re-exports)
INNER = {"converged": ("plan", "report", "runs")}


def module_names(package: Path) -> list[str]:
    """Every module of ``package`` relative to it, e.g. ``plan``, ``converged.runs``, ``__init__``."""
    names = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        names.append(".".join(parts[:-1]) if parts[-1] == "__init__" and len(parts) > 1 else ".".join(parts))
    return names


def _source(package: Path, name: str) -> Path:
    path = package.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _base(node: ast.ImportFrom, package: Path, name: str) -> str:
    """The module an ImportFrom imports from, a relative one resolved against module ``name``."""
    if not node.level:
        return node.module or ""
    parts = [*ROOT.split("."), *name.split(".")] if name != "__init__" else ROOT.split(".")
    if _source(package, name).name != "__init__.py":
        parts = parts[:-1]  # a module's relative imports start from its package, a package's from itself
    parts = parts[: len(parts) - node.level + 1]
    return ".".join(parts + ([node.module] if node.module else []))


def _resolve(target: str, known: set[str]) -> str | None:
    """The package module a dotted import target is in (``__init__``: the package front), None outside."""
    if target == ROOT:
        return "__init__"
    if not target.startswith(ROOT + "."):
        return None
    rest = target[len(ROOT) + 1:]
    while rest and rest not in known:  # `from PKG.mod import func`, `from PKG import name`: the module holding it
        rest = rest.rpartition(".")[0]
    return rest or "__init__"


def imports_of(package: Path, name: str, known: set[str]) -> set[str]:
    """The package modules that module ``name`` imports (relative to the package; ``__init__`` for the package
    front), wherever the import stands; ``from PKG import x`` counts as module ``x`` when that is one."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(_source(package, name).read_text())):
        if isinstance(node, ast.ImportFrom):
            base = _base(node, package, name)
            targets = [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        found |= {m for m in (_resolve(t, known) for t in targets) if m is not None}
    return found - {name}


def _unit(name: str) -> str:
    return name.split(".")[0]


def _allowed(name: str, dep: str) -> bool:
    """Whether module ``name`` may import module ``dep`` (both relative to the package)."""
    unit, target = _unit(name), _unit(dep)
    if name == "__init__":
        return True
    if unit == target:  # inside one experiment package: bottom first, the package front re-exports
        order = INNER.get(unit, ())
        inner, dep_inner = name.partition(".")[2], dep.partition(".")[2]
        return not inner or (dep_inner in order and inner in order and order.index(dep_inner) < order.index(inner))
    if unit in GENERIC:
        return target in GENERIC and GENERIC.index(target) < GENERIC.index(unit)
    if unit in EXPERIMENT_UNITS:
        return target in GENERIC
    if unit in TOP:
        return target in GENERIC or target in EXPERIMENT_UNITS or (
            target in TOP and TOP.index(target) < TOP.index(unit))
    return False


def layering_violations(package: Path) -> list[str]:
    """``'A imports B'`` for every import the layering forbids, ``'A: unclassified'`` for a module of no layer,
    ``'__init__ defines X'`` for anything but imports and ``__all__`` in the package front."""
    names = module_names(package)
    known = set(names)
    out = [f"{n}: unclassified" for n in names
           if n != "__init__" and _unit(n) not in {*GENERIC, *EXPERIMENT_UNITS, *TOP}]
    for name in names:
        out += [f"{name} imports {dep}" for dep in sorted(imports_of(package, name, known))
                if not _allowed(name, dep)]
    for node in ast.parse((package / "__init__.py").read_text()).body:
        if isinstance(node, ast.Import | ast.ImportFrom) or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["__all__"]:
            continue
        out.append(f"__init__ defines {ast.unparse(node).splitlines()[0]}")
    return out


def test_the_experiments_package_keeps_its_layers():
    assert layering_violations(PACKAGE) == []


def test_every_module_belongs_to_a_layer():
    units = {_unit(n) for n in module_names(PACKAGE)} - {"__init__"}
    assert units == {*GENERIC, *EXPERIMENT_UNITS, *TOP}


def _write(package: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_the_checker_finds_backward_and_sideways_imports(tmp_path: Path):
    """A package that breaks every rule once: each break is reported, and only those."""
    package = _write(tmp_path / "experiments", {
        "__init__.py": "from hashgnn.experiments.plan import Plan\n\ndef helper():\n    pass\n",
        "paper.py": "",
        "store.py": "def f():\n    from hashgnn.experiments.plan import Plan\n",  # backward, in a function
        "plan.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                   "    from hashgnn.experiments.table2 import EXPERIMENT\n",  # generic -> experiment
        "runs.py": "from hashgnn.experiments import figure3, store\n",  # generic -> experiment, via the package
        "report.py": "from . import launch\n",  # generic -> top, relative
        "table2.py": "from hashgnn.experiments.plan import Plan\nfrom hashgnn.experiments import runs\n",  # fine
        "figure3.py": "import hashgnn.experiments.table2\n",  # experiment -> experiment
        "compare.py": "from hashgnn.experiments import make_plan\n",  # experiment -> package front
        "converged/__init__.py": "from hashgnn.experiments.converged.runs import run\n",
        "converged/plan.py": "from .runs import run\n",  # inner backward
        "converged/runs.py": "from hashgnn.experiments.converged.plan import P\n"
                             "from hashgnn.experiments.report import x\n",
        "launch.py": "from hashgnn.experiments.registry import get\n",  # fine
        "registry.py": "from hashgnn.experiments import figure3, table2\n",  # fine
        "helpers.py": "",
    })
    assert sorted(layering_violations(package)) == sorted([
        "__init__ defines def helper():", "compare imports __init__", "converged.plan imports converged.runs",
        "figure3 imports table2", "helpers: unclassified", "plan imports table2", "report imports launch",
        "runs imports figure3", "store imports plan"])


def test_the_checker_accepts_a_package_that_keeps_its_layers(tmp_path: Path):
    package = _write(tmp_path / "experiments", {
        "__init__.py": '"""Doc."""\nfrom hashgnn.experiments.launch import run\n__all__ = ["run"]\n',
        "store.py": "", "plan.py": "from hashgnn.experiments.store import S\n",
        "runs.py": "def f():\n    from hashgnn.experiments import plan, store\n",
        "table2.py": "from hashgnn.experiments.runs import f\n", "launch.py": "from . import registry\n",
        "registry.py": "from hashgnn.experiments import table2\n",
    })
    assert layering_violations(package) == []


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_experiment_is_one_module_that_describes_itself(name: str):
    experiment = get_experiment(name)
    assert experiment.name == name and experiment.run.__module__ == f"hashgnn.experiments.{name}"
    assert pickle.loads(pickle.dumps(experiment)) == experiment  # how --jobs workers receive it (spawn)
