"""Memory estimates and limits: refuse, before any allocation, a run that cannot fit.

:func:`check_memory` is called by the trainer after the data is loaded and before the graph and the model are
built. It compares :func:`estimate_training_memory` (a deliberately pessimistic model of full-graph training)
with the memory available to this process and raises :class:`~hashgnn.errors.ResourceError` naming the estimate,
its largest parts and what to change — instead of letting the kernel's OOM killer end the process mid-epoch.

Available memory is, in order: ``$HASHGNN_MEMORY_LIMIT`` (bytes, or with a K/M/G/T suffix; ``off`` disables the
check), else the smaller of the system's available memory (``MemAvailable``) and the cgroup limit minus current
usage (containers).
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from hashgnn.errors import ConfigError, ResourceError

MEMORY_LIMIT_ENV = "HASHGNN_MEMORY_LIMIT"
MALLOC_ENV = "HASHGNN_MALLOC"
RETAINED_BYTES = 1 << 30
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak bytes of a training run, by part."""

    parts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def largest(self, n: int = 3) -> list[tuple[str, int]]:
        return sorted(self.parts.items(), key=lambda kv: -kv[1])[:n]


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def parse_bytes(text: str) -> int:
    """``"512M"``, ``"2G"``, ``"1.5GiB"``, ``"1000000"`` → bytes."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(?:I?B)?\s*", text.upper())
    if not m:
        raise ConfigError(f"${MEMORY_LIMIT_ENV}={text!r}: expected bytes like 2G, 512M or 1000000 (or 'off')")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def estimate_training_memory(n_users: int, n_items: int, n_edges: int, config) -> MemoryEstimate:
    """Peak memory of full-graph training (:class:`~hashgnn.training.trainer.Trainer`) on ``n_edges`` train
    edges, from the model and train settings of ``config`` (a :class:`~hashgnn.config.RunConfig`).

    Every propagation step keeps all nodes' activations of every layer for backpropagation, so the dominant
    terms are nodes × (embedding + layer widths + K) and the two-way edge list of the graph. The activation and
    evaluation terms are calibrated on measured peaks (issue 32: 2.71 GiB at 1/8 of the Alibaba size, batch
    131,072): autograd keeps about one copy of every layer's width (a layer's output is the next one's saved
    input) and the backward pass about one more in gradients; evaluation scores items in blocks of at most
    :data:`~hashgnn.index.float_index.SCORE_BLOCK_BYTES`, after the training activations are freed.
    """
    from hashgnn.index.float_index import SCORE_BLOCK_BYTES

    m, t = config.model, config.train
    n_nodes = n_users + n_items
    f32, i64 = 4, 8
    widths = m.embedding_dim + sum(m.dims) + m.n_bits
    batch = min(t.batch_for(n_edges), max(n_edges, 1))
    parts = {
        # users/items arrays, split indices, id maps, sampler sets
        "interaction log": 6 * n_edges * i64,
        # both directions: edge_index (2 × int64), CSR indices + weights, degree normalisation, a copy in torch
        "graph": 2 * n_edges * (2 * i64 + i64 + f32) * 2,
        # embedding table with its gradient and two Adam moments
        "parameters + Adam": 4 * n_nodes * m.embedding_dim * f32,
        # activations kept for backward (about one copy of every width), + their gradients
        "activations": 2 * n_nodes * widths * f32,
        # hashed batch: users, positives, triplets × K, and their gradients
        "batch": 2 * batch * (2 + t.triplets) * m.n_bits * f32,
        # validation: score blocks (ranks and masks beside them) and every node's z and codes
        "evaluation": 3 * min(min(n_users, 8192) * n_items * f32, SCORE_BLOCK_BYTES) + 2 * n_nodes * m.n_bits * f32,
    }
    return MemoryEstimate({k: int(v) for k, v in parts.items()})


def available_memory() -> int | None:
    """Bytes this process may still allocate (None: unknown or the check is disabled)."""
    env = os.environ.get(MEMORY_LIMIT_ENV)
    if env is not None and env.strip():
        if env.strip().lower() in ("off", "none", "0"):
            return None
        return parse_bytes(env)
    candidates = []
    try:
        import psutil

        candidates.append(int(psutil.virtual_memory().available))
    except Exception:  # noqa: BLE001 - psutil missing or unsupported platform
        pass
    cg = _cgroup_headroom()
    if cg is not None:
        candidates.append(cg)
    return min(candidates) if candidates else None


def _cgroup_headroom() -> int | None:
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            raw = Path(limit_file).read_text().strip()
            if raw == "max":
                return None
            limit = int(raw)
            if limit >= 1 << 60:  # cgroup v1 "unlimited"
                return None
            return max(limit - int(Path(usage_file).read_text().strip()), 0)
        except (OSError, ValueError):
            continue
    return None


def check_memory(n_users: int, n_items: int, n_edges: int, config, available: int | None = None,
                 what: str = "full-graph training") -> MemoryEstimate:
    """Raise :class:`ResourceError` when the estimated peak of training exceeds the available memory.

    Args:
        n_users, n_items, n_edges: Sizes of the training graph (``n_edges`` = train interactions).
        config: The run's :class:`~hashgnn.config.RunConfig`.
        available: Bytes available (default: :func:`available_memory`); None or ``$HASHGNN_MEMORY_LIMIT=off``
            skips the check.

    Returns:
        The estimate (also when the check passes or is skipped).
    """
    est = estimate_training_memory(n_users, n_items, n_edges, config)
    if available is None:
        available = available_memory()
    if available is None or est.total <= available:
        return est
    parts = ", ".join(f"{name} {format_bytes(b)}" for name, b in est.largest())
    raise ResourceError(
        f"{what} of {n_users:,} users × {n_items:,} items with {n_edges:,} train edges needs about "
        f"{format_bytes(est.total)} of memory (largest parts: {parts}) but only {format_bytes(available)} is "
        f"available; use a smaller model (model.embedding_dim={config.model.embedding_dim}, model.dims="
        f"{list(config.model.dims)}, model.n_bits={config.model.n_bits}), a subset of the data, or a machine "
        f"with more memory (override the limit with ${MEMORY_LIMIT_ENV}, e.g. 64G, or 'off')")


@functools.lru_cache(maxsize=1)
def retain_freed_memory() -> bool:
    """Let glibc's malloc serve blocks up to 1 GiB from its heap and keep up to 1 GiB of freed memory.

    Why: glibc maps every block above its mmap threshold (at most 32 MiB when it adapts it) fresh from the kernel
    and unmaps it when freed, so each full-graph tensor of a mid-size graph (Gowalla: 70,839 nodes x 128 floats,
    36 MB) is page-faulted in again at every training step. Measured with ``benchmarks/bench_malloc.py``
    (``benchmarks/README.md``): Gowalla HashGNN training 1.11x faster, same peak memory; MovieLens-1M (tensors
    below the threshold) 1.05x, within the noise.
    Called by the trainers (HashGNN and the embedding baselines); once per process. ``$HASHGNN_MALLOC=default``
    leaves malloc as it is. Returns whether the setting is in force (glibc only).
    """
    if os.environ.get(MALLOC_ENV, "").strip().lower() == "default" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, RETAINED_BYTES)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, RETAINED_BYTES))
    except (OSError, AttributeError):
        return False
