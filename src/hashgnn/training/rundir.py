"""The run directory: one self-describing folder per training run.

::

    RUN_DIR/
      config.json            resolved RunConfig (every setting, defaults included)
      env.json               library versions, device, threads, git commit
      split.npz              train/valid/test row indices (later runs and the service reuse the same split)
      id_maps.npz            original user and item ids, by index
      interactions.npz       the (user, item) index pairs the split's rows refer to
      checkpoints/last.pt    model + optimiser + schedule + history, every epoch (resume point)
      checkpoints/best.pt    the weights with the best validation metric
      embeddings_users.npy   z of every user (float32)     embeddings_items.npy
      codes_users.npy        h of every user, packed bits   codes_items.npy
      embeddings.json        K and d
      metrics.csv            training log: iteration, loss terms, p/β/τ, AUC on held-out links
      history.json           per-epoch validation metric
      results.json           evaluation: {mode: {protocol: {metric@n: value}}}
      training_curve.png

Every file is written atomically (temp file + fsync + rename); ``.npy``/``.pt``/``.npz``/``.json``/``.csv`` files
carry sha256 side files, verified on reading (a corrupt or truncated artifact raises ArtifactError).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from hashgnn.errors import ArtifactError
from hashgnn.io_utils import atomic_torch_save, atomic_write_checked, read_checked, torch_load_checked


def environment() -> dict[str, Any]:
    """Versions and machine facts recorded with every run."""
    import importlib.metadata as md

    import torch

    versions = {}
    for pkg in ("hashgnn", "torch", "torch_geometric", "numpy", "scipy", "pandas", "faiss-cpu", "numba"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    sha, dirty = code_version()
    return {"python": platform.python_version(), "platform": platform.platform(), "versions": versions,
            "cpu": cpu_info(), "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
            "git_commit": sha, "git_dirty": dirty}


@functools.lru_cache(maxsize=4)
def code_version(package: Path = Path(__file__).resolve().parents[1]) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the hashgnn source this process runs (``package``): HEAD and whether the package's
    tracked files differ from it (``None``, ``None`` outside a git checkout). Read once per process, at the first
    run it records, so a long experiment keeps describing the code it loaded even after later commits."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=package).stdout.strip() or None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
                                capture_output=True, text=True, timeout=5, cwd=package)
    except (OSError, subprocess.SubprocessError):
        return None, None
    return sha, (bool(status.stdout.strip()) if sha and status.returncode == 0 else None)


# The vector extensions the Hamming scan and the float products are compiled for: measured search times moved
# 1.4-6x between two hosts of the same machine type (AMD EPYC; one without AVX-512), so timings need them.
SIMD_FLAGS = ("sse4_2", "popcnt", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vpopcntdq", "avx512_vnni",
              "neon", "asimd")


def cpu_info(cpuinfo: str | Path = "/proc/cpuinfo") -> dict[str, Any]:
    """CPU model, logical cores and the SIMD extensions of :data:`SIMD_FLAGS` it has (Linux: from ``cpuinfo``;
    elsewhere the model from :mod:`platform` and no flags)."""
    import os

    model, flags = platform.processor() or platform.machine(), set()
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and value.strip():
            model = value.strip()
        elif key in ("flags", "features"):
            flags.update(value.split())
    return {"model": model, "logical_cores": os.cpu_count(), "simd": [f for f in SIMD_FLAGS if f in flags]}


def describe_cpu(cpu: dict[str, Any]) -> str:
    """One line for a table footnote: ``AMD EPYC, 2 logical cores, SIMD avx2 popcnt``."""
    simd = " ".join(cpu.get("simd") or []) or "none listed"
    return f"{cpu.get('model') or 'unknown CPU'}, {cpu.get('logical_cores')} logical cores, SIMD {simd}"


class RunDir:
    """Paths and atomic readers/writers of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def exists(self) -> bool:
        return (self.path / "config.json").is_file()

    def write_json(self, name: str, data: Any) -> None:
        text = json.dumps(data, indent=2, sort_keys=True, default=_jsonable)
        atomic_write_checked(self.file(name), text.encode("utf-8"))

    def read_json(self, name: str) -> Any:
        path = self.file(name)
        if not path.is_file():
            raise ArtifactError(f"{path}: missing — is {self.path} a hashgnn run directory?")
        data = read_checked(path, "file")
        try:
            return json.loads(data.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"{path}: corrupt JSON ({exc})") from None

    def epochs_done(self) -> int:
        """How many epochs the run's ``history.json`` records (0: none yet, or no readable history)."""
        try:
            return len(self.read_json("history.json"))
        except ArtifactError:
            return 0

    def write_config(self, config) -> None:
        self.write_json("config.json", config.to_dict())

    def read_config(self):
        from hashgnn.config import RunConfig

        return RunConfig.from_dict(self.read_json("config.json"))

    def write_arrays(self, name: str, **arrays: np.ndarray) -> None:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_checked(self.file(name), buf.getvalue())

    def read_arrays(self, name: str) -> dict[str, np.ndarray]:
        path = self.file(name)
        data = read_checked(path, "file")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except Exception as exc:  # zipfile.BadZipFile, ValueError, EOFError, ... for a damaged archive
            raise ArtifactError(f"{path}: corrupt ({type(exc).__name__}: {exc})") from None

    def save_checkpoint(self, state: dict, best: bool = False) -> None:
        # best.pt first: a kill between the two writes leaves last.pt at the previous epoch, whose resume
        # repeats this epoch and rewrites both; the other order could leave best.pt older than last.pt's best.
        if best:
            atomic_torch_save(self.checkpoints / "best.pt", state)
        atomic_torch_save(self.checkpoints / "last.pt", state)

    def load_checkpoint(self, which: str = "last") -> dict:
        path = self.checkpoints / f"{which}.pt"
        if not path.is_file():
            raise ArtifactError(f"{path}: no checkpoint to resume from")
        return torch_load_checked(path)

    def write_metrics_csv(self, rows: list[dict[str, float]], name: str = "metrics.csv") -> None:
        if not rows:
            return
        keys = sorted({k for row in rows for k in row}, key=lambda k: (k != "iteration", k != "epoch", k))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_checked(self.file(name), out.getvalue().encode("utf-8"))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
