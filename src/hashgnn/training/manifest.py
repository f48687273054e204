"""``manifest.json``: what a run directory holds, and the checks across its files that checksums cannot give.

::

    {"format": 1, "sha256": "<digest of the canonical files JSON>",
     "files": {"split.npz": {"sha256": ["..."], "bytes": 1234, "arrays": {"train": {"shape": [320], "dtype": "<i8"}}},
               "embeddings_users.npy": {"sha256": ["..."], "bytes": 2048, "shape": [30, 16], "dtype": "<f4"}, ...}}

A side file proves a file is whole, not that it belongs with the others: an ``id_maps.npz`` reordered, codes of
another length or an ``n_bits`` edited in ``config.json`` all carry valid side files once those are rewritten. The
manifest records each file's digest when hashgnn writes it, so a file replaced afterwards no longer matches; and
the invariants below (ids match rows, bits match the config, indices in range, no NaN) hold even when the
manifest itself was rewritten to match. An entry lists two digests only while its file is being replaced, and
is ``pending`` while its file is first written or deleted (a missing file is then no error).

Every file of a run directory is listed, with its side file, except those of :data:`UNLISTED` (each with the
reason it is not); :meth:`RunDir.verify` refuses any other file, a listed file or side file that is missing, and
a listed file whose size differs. A run written before manifests existed (or one holding files put there by
hand) is used by nothing until ``hashgnn upgrade RUN`` (:func:`record_unlisted`) has recorded its files.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hashgnn.errors import ArtifactError
from hashgnn.io_utils import (
    LOCK_NAME,
    TEMP_SUFFIX,
    atomic_write_bytes,
    atomic_write_text,
    checksum_path,
    read_verified,
    sha256_bytes,
)

if TYPE_CHECKING:
    from hashgnn.training.rundir import RunDir

MANIFEST = "manifest.json"
FORMAT = 1
#: what a finished run directory must list (the codes too when ``embeddings.json`` gives ``n_bits``)
FINISHED = ("config.json", "split.npz", "id_maps.npz", "interactions.npz", "embeddings.json",
            "embeddings_users.npy", "embeddings_items.npy")
Facts = dict[str, Any]
CONVERGED = "converged.json"
#: what a run directory holds that its manifest does not list, and why
UNLISTED = {
    MANIFEST: "the manifest itself, checked against the digest in its body",
    "<listed file>.sha256": "the side file of a listed file, checked with it (a missing one is an error)",
    LOCK_NAME: "the write lock: the pid of the process writing the run, rewritten by every writer",
    f".<name>.*{TEMP_SUFFIX}": "the temp file of an atomic write a killed writer left; never read (a write "
                               "only ever renames its own)",
    CONVERGED: "`hashgnn experiment converged`'s record of the run, written after it and read by that experiment "
               "only (its summary tables); no loader of the run reads it",
}
#: files hashgnn has always written with a side file: :func:`record_unlisted` refuses one that has lost it
SIDE_FILE_KINDS = (".npy", ".npz", ".pt", ".json", ".csv")


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


def no_manifest_message(rd: RunDir) -> str:
    return (f"{rd.file(MANIFEST)}: missing — {rd.path} was written by a hashgnn older than run manifests, or its "
            f"manifest was deleted; `hashgnn upgrade {rd.path}` checks its files against their side files and "
            "records them")


def _allowed(rel: str, files: dict[str, Facts]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    if rel in files or rel in (MANIFEST, LOCK_NAME, CONVERGED):
        return True
    if name.startswith(".") and name.endswith(TEMP_SUFFIX):
        return True
    return rel.endswith(".sha256") and rel[: -len(".sha256")] in files


def unlisted_files(rd: RunDir, files: dict[str, Facts]) -> list[str]:
    """The run directory's files (relative paths) that ``files`` does not list and :data:`UNLISTED` does not
    allow; a symbolic link to a folder counts as a file (it is not followed)."""
    found = []
    for folder, dirs, names in os.walk(rd.path):
        base = Path(folder).relative_to(rd.path)
        links = [d for d in dirs if Path(folder, d).is_symlink()]
        for name in [*names, *links]:
            rel = (base / name).as_posix()
            if not _allowed(rel, files):
                found.append(rel)
    return sorted(found)


def record_unlisted(rd: RunDir) -> list[str]:
    """Record in the manifest every file of the run it does not list (all of them for a run written before
    manifests existed); the caller holds the run's lock. Returns the recorded names.

    A file with a side file is recorded if it matches it; one of :data:`SIDE_FILE_KINDS` without it is refused
    (hashgnn wrote it with one: it was deleted); any other file (a plot, a search index, a file put there by hand)
    is recorded as it is, with a new side file. A side file of no file is removed. Nothing is recorded unless
    every file passes.

    Raises:
        ArtifactError: a file that does not match its side file, or lost it, naming it.
    """
    files = rd.manifest() or {}
    entries: dict[str, Facts] = {}
    new_sides: list[tuple[Path, str]] = []
    orphans = []
    todo = unlisted_files(rd, files)
    for rel in todo:
        path = rd.file(rel)
        if rel.endswith(".sha256"):
            artifact = rel[: -len(".sha256")]
            if not rd.file(artifact).exists():
                orphans.append(path)
                continue
            if artifact in todo:
                continue  # recorded with its file
        if not path.is_file() or path.is_symlink():
            raise ArtifactError(f"{path}: not a regular file — a run directory holds files only; move it out")
        if checksum_path(path).is_file():
            data, digest = read_verified(path)
        elif path.suffix in SIDE_FILE_KINDS:
            raise ArtifactError(f"{checksum_path(path)}: missing — hashgnn writes {rel} with its side file, so it "
                                "was deleted and the file cannot be verified; restore it or move the file out")
        else:
            data = path.read_bytes()
            digest = sha256_bytes(data)
            new_sides.append((checksum_path(path), digest))
        entries[rel] = {"sha256": [digest], **file_facts(path.name, data)}
    for side, digest in new_sides:  # before the manifest lists their files: a listed file always has one
        atomic_write_text(side, digest + "\n")
    if entries:
        write_manifest(rd.file(MANIFEST), {**files, **entries})
    for side in orphans:
        side.unlink(missing_ok=True)
    return sorted(entries)


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
