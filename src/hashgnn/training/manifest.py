"""``manifest.json``: what a run directory holds, and the checks across its files that checksums cannot give.

::

    {"format": 1, "sha256": "<digest of the canonical files JSON>",
     "files": {"split.npz": {"sha256": ["..."], "bytes": 1234, "arrays": {"train": {"shape": [320], "dtype": "<i8"}}},
               "embeddings_users.npy": {"sha256": ["..."], "bytes": 2048, "shape": [30, 16], "dtype": "<f4"}, ...}}

A side file proves a file is whole, not that it belongs with the others: an ``id_maps.npz`` reordered, codes of
another length or an ``n_bits`` edited in ``config.json`` all carry valid side files once those are rewritten. The
manifest records each file's digest when hashgnn writes it, so a file replaced afterwards no longer matches; and
the invariants below (ids match rows, bits match the config, indices in range, no NaN) hold even when the
manifest itself was rewritten to match. An entry lists two digests only while its file is being replaced.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hashgnn.errors import ArtifactError
from hashgnn.io_utils import atomic_write_bytes, read_verified, sha256_bytes

if TYPE_CHECKING:
    from hashgnn.training.rundir import RunDir

MANIFEST = "manifest.json"
FORMAT = 1
#: what a finished run directory must list (the codes too when ``embeddings.json`` gives ``n_bits``)
FINISHED = ("config.json", "split.npz", "id_maps.npz", "interactions.npz", "embeddings.json",
            "embeddings_users.npy", "embeddings_items.npy")
Facts = dict[str, Any]


def _canonical(files: dict[str, Facts]) -> bytes:
    return json.dumps(files, sort_keys=True, separators=(",", ":")).encode("utf-8")


def write_manifest(path: Path, files: dict[str, Facts]) -> None:
    body = {"format": FORMAT, "sha256": sha256_bytes(_canonical(files)), "files": files}
    atomic_write_bytes(path, json.dumps(body, indent=1, sort_keys=True).encode("utf-8"))


def read_manifest(path: Path) -> dict[str, Facts] | None:
    """The ``files`` of the manifest at ``path``; None when there is none.

    Raises:
        ArtifactError: unreadable, of another format, or not matching its own digest.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        body = json.loads(raw.decode("utf-8"))
        files, digest, fmt = body["files"], body["sha256"], body["format"]
    except (ValueError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path}: corrupt manifest ({type(exc).__name__}: {exc})") from None
    if fmt != FORMAT or not isinstance(files, dict):
        raise ArtifactError(f"{path}: manifest format {fmt!r}, this hashgnn reads format {FORMAT}")
    if sha256_bytes(_canonical(files)) != digest:
        raise ArtifactError(f"{path}: the manifest does not match its own sha256 — truncated or edited")
    return files


def _npy_facts(fp: io.BytesIO) -> Facts:
    version = np.lib.format.read_magic(fp)
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read is None:
        return {}
    shape, _, dtype = read(fp)
    return {"shape": list(shape), "dtype": dtype.str}


def file_facts(name: str, data: bytes) -> Facts:
    """Size, and shape and dtype of each array, of a file about to be written as ``name``."""
    facts: Facts = {"bytes": len(data)}
    try:
        if name.endswith(".npy"):
            facts.update(_npy_facts(io.BytesIO(data)))
        elif name.endswith(".npz"):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                facts["arrays"] = {m[:-4]: _npy_facts(io.BytesIO(z.read(m))) for m in z.namelist()
                                   if m.endswith(".npy")}
    except (ValueError, OSError, zipfile.BadZipFile):
        pass  # not an array file after all: recorded by digest and size only
    return facts


def adopt_unlisted(rd: RunDir) -> None:
    """Give a run written before manifests existed one, listing the files whose side files verify them, so a
    writer resuming it keeps it loadable (a run without a manifest is refused by :meth:`RunDir.verify`)."""
    if rd.manifest() is not None or not rd.exists():
        return
    files: dict[str, Facts] = {}
    for side in [*rd.path.glob("*.sha256"), *rd.checkpoints.glob("*.sha256")]:
        artifact = side.with_name(side.name[: -len(".sha256")])
        try:
            data, digest = read_verified(artifact)
        except ArtifactError:
            continue
        files[artifact.relative_to(rd.path).as_posix()] = {"sha256": [digest], **file_facts(artifact.name, data)}
    write_manifest(rd.file(MANIFEST), files)
    warnings.warn(f"{rd.file(MANIFEST)}: the run had no manifest; recorded the {len(files)} files its side files "
                  "verify", stacklevel=3)


# -- checks across files --------------------------------------------------------------------------------------
def _shape(files: dict[str, Facts], name: str, key: str | None = None) -> list[int] | None:
    entry = files.get(name, {})
    facts = entry.get("arrays", {}).get(key, {}) if key else entry
    return facts.get("shape")


def _dtype(files: dict[str, Facts], name: str) -> str:
    return str(files.get(name, {}).get("dtype", ""))


def _row_problems(files: dict[str, Facts], dim: Any) -> list[str]:
    problems = []
    for side in ("users", "items"):
        ids = _shape(files, "id_maps.npz", f"{side[:-1]}_ids")
        z = _shape(files, f"embeddings_{side}.npy")
        if ids is None or len(ids) != 1:
            problems.append(f"id_maps.npz: {side[:-1]}_ids missing or not 1-D")
        elif z != [ids[0], dim]:
            problems.append(f"embeddings_{side}.npy is {z}, but id_maps.npz has {ids[0]} {side} and "
                            f"embeddings.json dim {dim}")
        if _dtype(files, f"embeddings_{side}.npy") not in ("<f4", ""):
            problems.append(f"embeddings_{side}.npy: dtype {_dtype(files, f'embeddings_{side}.npy')}, not float32")
    return problems


def _code_problems(files: dict[str, Facts], config: dict, n_bits: Any) -> list[str]:
    model = config.get("model", {}) if isinstance(config, dict) else {}
    if model.get("method") == "continuous" and n_bits is None:
        return []
    if n_bits != model.get("n_bits"):
        return [f"embeddings.json n_bits {n_bits} != config.json model.n_bits {model.get('n_bits')}"]
    if not isinstance(n_bits, int) or n_bits <= 0 or n_bits % 8:
        return [f"embeddings.json: n_bits {n_bits!r} is not a positive multiple of 8"]
    problems = []
    for side in ("users", "items"):
        ids = _shape(files, "id_maps.npz", f"{side[:-1]}_ids") or [None]
        codes = _shape(files, f"codes_{side}.npy")
        if codes != [ids[0], n_bits // 8] or _dtype(files, f"codes_{side}.npy") != "|u1":
            problems.append(f"codes_{side}.npy is {codes} {_dtype(files, f'codes_{side}.npy')}, expected "
                            f"[{ids[0]}, {n_bits // 8}] uint8 ({n_bits}-bit codes of {ids[0]} {side})")
    return problems


def _index_problems(files: dict[str, Facts]) -> list[str]:
    users, items = _shape(files, "interactions.npz", "users"), _shape(files, "interactions.npz", "items")
    problems = [] if users == items and users is not None and len(users) == 1 else [
        f"interactions.npz: users {users} and items {items} differ"]
    for part in ("train", "valid", "test"):
        shape = _shape(files, "split.npz", part)
        if shape is None or len(shape) != 1:
            problems.append(f"split.npz: {part} missing or not 1-D")
    return problems


def check_invariants(rd: RunDir, files: dict[str, Facts], config: Any, emb_meta: Any) -> None:
    """Raise :class:`ArtifactError` naming every broken invariant between the files a finished run lists."""
    emb_meta = emb_meta if isinstance(emb_meta, dict) else {}
    problems = [*_row_problems(files, emb_meta.get("dim")), *_index_problems(files),
                *_code_problems(files, config, emb_meta.get("n_bits"))]
    if problems:
        raise ArtifactError(f"{rd.path}: inconsistent run directory — " + "; ".join(problems))


def _check_ids(path: Path, arrays: dict[str, np.ndarray]) -> None:
    for key in ("user_ids", "item_ids"):
        ids = arrays.get(key)
        if ids is None or ids.ndim != 1:
            raise ArtifactError(f"{path}: {key} missing or not 1-D")
        if len(ids) > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            raise ArtifactError(f"{path}: {key} are not sorted and unique — reordered or edited, so ids would "
                                "name the wrong rows")


def _check_indices(path: Path, arrays: dict[str, np.ndarray], bounds: dict[str, int | None]) -> None:
    for key, bound in bounds.items():
        arr = arrays.get(key)
        if arr is None or arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise ArtifactError(f"{path}: {key} missing or not a 1-D integer array")
        if len(arr) and (int(arr.min()) < 0 or (bound is not None and int(arr.max()) >= bound)):
            raise ArtifactError(f"{path}: {key} holds indices outside [0, {bound}) "
                                f"(min {int(arr.min())}, max {int(arr.max())})")


def _first(shape: list[int] | None) -> int | None:
    return shape[0] if shape else None


def check_array_values(rd: RunDir, name: str, arrays: dict[str, np.ndarray]) -> None:
    """The checks of one ``.npz`` of a run that need its values: shapes as the manifest recorded, ids sorted and
    unique, interaction and split indices within the sizes the other files give."""
    path, files = rd.file(name), rd.manifest() or {}
    recorded = files.get(name, {}).get("arrays")
    if recorded is not None:
        actual = {k: {"shape": list(v.shape), "dtype": v.dtype.str} for k, v in arrays.items()}
        if actual != recorded:
            raise ArtifactError(f"{path}: arrays {actual} differ from those {rd.file(MANIFEST)} records")
    if name == "id_maps.npz":
        _check_ids(path, arrays)
    elif name == "interactions.npz":
        _check_indices(path, arrays, {"users": _first(_shape(files, "id_maps.npz", "user_ids")),
                                      "items": _first(_shape(files, "id_maps.npz", "item_ids"))})
    elif name == "split.npz":
        n_rows = _first(_shape(files, "interactions.npz", "users"))
        _check_indices(path, arrays, dict.fromkeys(("train", "valid", "test"), n_rows))
