"""Start-up of a look-up from a run directory: ``hashgnn recommend RUN --user ID`` must not import torch.

The stored embeddings and codes answer it; torch (seconds of CPU to import), scipy.stats, pandas and matplotlib
are for training, evaluation and plots. The packages ``hashgnn.data``, ``hashgnn.training`` and
``hashgnn.evaluation`` import their public names on first use (PEP 562), and the valid names of settings whose
code needs torch live in the torch-free ``hashgnn.defaults``. Each check runs in a fresh interpreter, so this
process's imports do not count (benchmarks/startup.py measures the time).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

#: modules a look-up from stored embeddings never needs
HEAVY = ("torch", "scipy.stats", "pandas", "matplotlib", "torch_geometric")
LAZY_PACKAGES = ("hashgnn.data", "hashgnn.training", "hashgnn.evaluation")


def _fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter; it leaves its answer in ``out``, printed as JSON after the heavy
    modules it imported."""
    script = (f"import json, sys\nout = None\n{code}\n"
              f"print(json.dumps({{'heavy': [m for m in {HEAVY!r} if m in sys.modules], 'out': out}}))")
    env = dict(os.environ, COLUMNS="100", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hashgnn.data.interactions import Interactions
    from hashgnn.recommender import HashGNN

    rng = np.random.default_rng(0)
    users = rng.integers(0, 30, 800)
    items = (users * 3 + rng.integers(0, 20, len(users))) % 60
    inter = Interactions.from_raw(np.array([f"u{u}" for u in users]), (items + 1000).astype(np.int64), name="tiny")
    out = tmp_path_factory.mktemp("startup") / "run"
    HashGNN(n_bits=16, epochs=1, batch_size=512,
            overrides={"train.auc_pairs": 200, "train.log_every": 5}).fit(inter, run_dir=out, progress=False)
    return out


def test_recommend_command_does_not_import_torch(tiny_run: Path) -> None:
    code = (
        "import contextlib, io\n"
        "from hashgnn.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    try:\n"
        f"        main(['recommend', {str(tiny_run)!r}, '--user', 'u3', '-k', '10'])\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, exc.code\n"
        "out = buf.getvalue()\n"
    )
    result = _fresh(code)
    assert "top-10 for user u3" in result["out"]
    assert result["heavy"] == [], f"hashgnn recommend imported {result['heavy']}"


def test_service_lookup_does_not_import_torch(tiny_run: Path) -> None:
    """The code path under the command: a run loaded without its network answers a known user and an item."""
    code = (
        "from hashgnn.serve.service import RecallService\n"
        f"svc = RecallService.from_run_dir({str(tiny_run)!r}, inductive=False)\n"
        "out = [[str(i) for i, _ in svc.recommend_user('u3', 5, None).items],\n"
        "       [str(i) for i, _ in svc.similar_items(1003, 5, None).items]]\n"
    )
    result = _fresh(code)
    assert [len(x) for x in result["out"]] == [5, 5]
    assert result["heavy"] == []


def test_light_modules_do_not_import_torch() -> None:
    code = ("import hashgnn.config, hashgnn.recommender, hashgnn.serve, hashgnn.training.rundir, hashgnn.index\n"
            "from hashgnn.data import DataConfig, Interactions, Split, SplitConfig, load_split_for\n"
            "from hashgnn.training import RunDir\n"
            "from hashgnn.evaluation import build_index, search_users\n"
            "hashgnn.config.RunConfig().validate()\n")
    assert _fresh(code)["heavy"] == []


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_packages_keep_their_public_names(package: str) -> None:
    """Every name of ``__all__`` resolves (to the defining submodule's object), ``dir`` lists it, ``import *``
    binds it, and an unknown name is still an AttributeError."""
    mod = importlib.import_module(package)
    for name in mod.__all__:
        value = getattr(mod, name)
        source = importlib.import_module(f"{package}.{mod._EXPORTS[name]}")
        assert value is getattr(source, name)
        assert name in dir(mod)
    namespace: dict = {}
    exec(f"from {package} import *", namespace)  # noqa: S102
    assert set(mod.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no_such_name"):
        mod.no_such_name  # noqa: B018
    with pytest.raises(ImportError):
        exec(f"from {package} import no_such_name", {})  # noqa: S102


def test_lazy_packages_still_import_their_submodules() -> None:
    from hashgnn.data import graph, splits
    from hashgnn.training import rundir, trainer

    assert graph.BipartiteGraph.__module__ == "hashgnn.data.graph"
    assert splits.Split.__module__ == "hashgnn.data.splits"
    assert rundir.RunDir.__module__ == "hashgnn.training.rundir"
    assert trainer.Trainer.__module__ == "hashgnn.training.trainer"
