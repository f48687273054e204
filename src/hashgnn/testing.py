"""Helpers for tests and the reliability benchmark: damage a copy of a run directory the way a hand edit or a
buggy tool would (PyG keeps such helpers in ``torch_geometric.testing`` for the same reason: one copy)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from hashgnn.io_utils import sha256_bytes
from hashgnn.training.manifest import MANIFEST, file_facts, read_manifest, write_manifest


def forge(run: Path, name: str, data: bytes, manifest: bool) -> None:
    """Replace ``name`` and rewrite its side file (and with ``manifest`` its manifest entry) to match."""
    (run / name).write_bytes(data)
    (run / f"{name}.sha256").write_text(sha256_bytes(data) + "\n")
    if manifest:
        files = read_manifest(run / MANIFEST)
        files[name] = {"sha256": [sha256_bytes(data)], **file_facts(name, data)}
        write_manifest(run / MANIFEST, files)


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def npz_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
