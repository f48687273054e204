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
      export-FORMAT/         `hashgnn export RUN` (its default folder), e.g. a faiss index of the item codes
      *.hgi                  search indexes kept with the run (:meth:`RunDir.write_index`)

      manifest.json          every file above: sha256, size, array shapes and dtypes (see hashgnn.training.manifest)
      .lock                  the write lock; holds the pid of the process writing the run
      converged.json         `hashgnn experiment converged`'s record of the run (not listed: see manifest.UNLISTED)

Every file is written atomically (temp file + fsync + rename), carries a sha256 side file verified on reading (a
corrupt or truncated artifact, or a missing side file, raises ArtifactError) and is recorded in ``manifest.json``,
which every read checks too; a file the manifest does not list is refused. Only one process writes a run at a time
(:meth:`RunDir.lock`). Checkpoints load with ``weights_only=True``: a pickle payload is refused. A run written
before manifests existed is refused by readers and writers alike until ``hashgnn upgrade RUN`` (:meth:`upgrade`).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import platform
import subprocess
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from hashgnn.errors import ArtifactError, ConfigError
from hashgnn.io_utils import (
    DirLock,
    atomic_write_checked,
    checksum_path,
    read_verified,
    sha256_bytes,
    torch_load_bytes,
)
from hashgnn.training.manifest import (
    FINISHED,
    MANIFEST,
    check_array_values,
    check_invariants,
    file_facts,
    no_manifest_message,
    read_manifest,
    record_unlisted,
    unlisted_files,
    write_manifest,
)


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


#: listed files up to this size are hashed by :meth:`RunDir.verify`; larger ones (arrays, checkpoints) as read
HASHED_ON_VERIFY = 1 << 20


class RunDir:
    """Paths and verified atomic readers/writers of one run directory.

    Writing takes the run's lock (:meth:`lock`, shared by every RunDir of this process on the folder and held
    until the last of them is closed or garbage-collected): a second process that writes the same run fails at
    once with :class:`~hashgnn.io_utils.LockedError` naming the holder's pid. Every write also records the file
    in ``manifest.json``; every read checks the file against it, and :meth:`verify` checks a finished run.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock_finalizer: weakref.finalize | None = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def exists(self) -> bool:
        return (self.path / "config.json").is_file()

    # -- the write lock ----------------------------------------------------------------------------------
    def lock(self) -> RunDir:
        """Hold the run's write lock (idempotent).

        Raises:
            LockedError: another process writes this run (the message names its pid).
            ArtifactError: the run has no manifest (written before manifests: ``hashgnn upgrade`` first).
        """
        if not self._locked():
            self._acquire()
            if self.exists() and self.manifest() is None:
                self.unlock()  # writing would record a few files and leave the rest of the run unlisted
                raise ArtifactError(no_manifest_message(self))
        return self

    def _locked(self) -> bool:
        return self._lock_finalizer is not None and self._lock_finalizer.alive

    def _acquire(self) -> None:
        handle = DirLock.acquire(self.path, "writing this run")
        self._lock_finalizer = weakref.finalize(self, DirLock.release, handle)

    def upgrade(self) -> list[str]:
        """Record in the manifest every file the run holds and it does not list — all of them for a run written
        before manifests existed, else files put there by hand — once each matches its side file (see
        :func:`~hashgnn.training.manifest.record_unlisted`); then check the listed files. Returns the names
        recorded.

        Raises:
            ConfigError: not a run directory.
            LockedError: another process writes the run.
            ArtifactError: a file that does not match its side file or lost it; nothing is recorded then.
        """
        if not self.exists():
            raise ConfigError(f"{self.path}: not a hashgnn run directory (no config.json)")
        held = self._locked()
        if not held:
            self._acquire()
        try:
            recorded = record_unlisted(self)
        finally:
            if not held:
                self.unlock()
        self._check_listed(self.manifest() or {})
        return recorded

    def unlock(self) -> None:
        if self._lock_finalizer is not None:
            self._lock_finalizer()

    def __enter__(self) -> RunDir:
        return self.lock()

    def __exit__(self, *exc: object) -> None:
        self.unlock()

    # -- the manifest ------------------------------------------------------------------------------------
    def manifest(self) -> dict[str, dict[str, Any]] | None:
        """``{file name: entry}`` of ``manifest.json`` (None when the run has none)."""
        return read_manifest(self.file(MANIFEST))

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write ``name`` (and its side file) atomically and record it in the manifest, crash-safely: the entry
        accepts the new digest before the file changes and drops the old one after; while a file is first
        written its entry is ``pending``, so a writer killed before the file exists leaves no missing file."""
        self.lock()
        files = self.manifest() or {}
        new = sha256_bytes(data)
        entry = {"sha256": [new], **file_facts(name, data)}
        old = files.get(name, {}).get("sha256", [])
        if files.get(name) != entry:
            files[name] = {**entry, "sha256": [*[d for d in old if d != new], new]}
            if not self.file(name).is_file():
                files[name]["pending"] = True
            write_manifest(self.file(MANIFEST), files)
        atomic_write_checked(self.file(name), data)
        if files[name] != entry:
            files[name] = entry
            write_manifest(self.file(MANIFEST), files)

    def read_bytes(self, name: str, what: str = "file") -> bytes:
        """The verified bytes of ``name``: its side file and, when the run has a manifest, its manifest entry."""
        path = self.file(name)
        data, digest = read_verified(path, what)
        files = self.manifest()
        if files is None:
            raise ArtifactError(no_manifest_message(self))
        entry = files.get(name)
        if entry is None:
            raise ArtifactError(f"{path}: not listed in {self.file(MANIFEST)} — not written by this run")
        if digest not in entry.get("sha256", []):
            raise ArtifactError(f"{path}: does not match {self.file(MANIFEST)} (sha256 {digest[:12]}… not "
                                "recorded) — the file was replaced or edited, with its side file rewritten")
        return data

    def verify(self) -> None:
        """Check a finished run before it is used: the manifest; every file it lists there with its side file and
        its size; no other file (but those of ``manifest.UNLISTED``); the files a finished run needs; and the
        invariants across them (ids match rows, bits match the config, indices in range). The digests are checked
        as each file is read: hashing the checkpoints here would slow every load for files most never read.

        Raises:
            ArtifactError: naming the file (or the pair of files) at fault.
        """
        files = self.manifest()
        if files is None:
            raise ArtifactError(no_manifest_message(self))
        self._check_listed(files)
        extra = unlisted_files(self, files)
        if extra:
            names = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
            raise ArtifactError(f"{self.path}: {names} not listed in {self.file(MANIFEST)} — not written by hashgnn "
                                f"as part of this run; move {'it' if len(extra) == 1 else 'them'} out of the run "
                                f"directory, or record {'it' if len(extra) == 1 else 'them'} with `hashgnn upgrade "
                                f"{self.path}`")
        missing = [n for n in FINISHED if n not in files]
        if missing:
            raise ArtifactError(f"{self.path}: not a finished run — {', '.join(missing)} not in its manifest")
        check_invariants(self, files, self.read_json("config.json"), self.read_json("embeddings.json"))

    def _check_listed(self, files: dict[str, dict[str, Any]]) -> None:
        """Every listed file is there with its side file and of the size recorded (unless it is being replaced);
        those of at most :data:`HASHED_ON_VERIFY` bytes are hashed too (the JSON, the logs, the plot: most are
        never read by a loader, and together they take about a millisecond)."""
        for name in sorted(files):
            path, entry = self.file(name), files[name]
            if entry.get("pending") and not path.is_file():
                continue  # being written or deleted, or a writer died doing so: there is no file to check
            for must in (path, checksum_path(path)):
                if not must.is_file():
                    raise ArtifactError(f"{must}: missing (listed in {self.file(MANIFEST)})")
            size = path.stat().st_size
            if len(entry.get("sha256", [])) == 1 and entry.get("bytes") not in (None, size):
                raise ArtifactError(f"{path}: {size} bytes, {self.file(MANIFEST)} records {entry['bytes']} — "
                                    "truncated, extended or replaced")
            if size <= HASHED_ON_VERIFY:
                _, digest = read_verified(path)
                if digest not in entry.get("sha256", []):
                    raise ArtifactError(f"{path}: does not match {self.file(MANIFEST)} (sha256 {digest[:12]}… not "
                                        "recorded) — the file was replaced or edited, with its side file rewritten")

    # -- JSON, arrays, checkpoints ------------------------------------------------------------------------
    def write_json(self, name: str, data: Any) -> None:
        text = json.dumps(data, indent=2, sort_keys=True, default=_jsonable)
        self.write_bytes(name, text.encode("utf-8"))

    def read_json(self, name: str) -> Any:
        path = self.file(name)
        if not path.is_file():
            raise ArtifactError(f"{path}: missing — is {self.path} a hashgnn run directory?")
        data = self.read_bytes(name)
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

    def write_inputs(self, config, split) -> None:
        """What a run starts from: config, environment, the split's parts, id maps and interactions."""
        inter = split.interactions
        self.write_config(config)
        self.write_json("env.json", environment())
        self.write_arrays("split.npz", train=split.train_idx, valid=split.valid_idx, test=split.test_idx)
        self.write_arrays("id_maps.npz", user_ids=_npz_ids(inter.user_ids), item_ids=_npz_ids(inter.item_ids))
        self.write_arrays("interactions.npz", users=inter.users, items=inter.items)

    def read_config(self):
        from hashgnn.config import RunConfig

        return RunConfig.from_stored(self.read_json("config.json"))

    def write_arrays(self, name: str, **arrays: np.ndarray) -> None:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        self.write_bytes(name, buf.getvalue())

    def read_arrays(self, name: str) -> dict[str, np.ndarray]:
        """The arrays of ``name``, checked against the manifest and, for the split, id maps and interactions,
        against the other files (sorted unique ids, indices in range)."""
        path = self.file(name)
        data = self.read_bytes(name)
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as exc:  # zipfile.BadZipFile, ValueError, EOFError, ... for a damaged archive
            raise ArtifactError(f"{path}: corrupt ({type(exc).__name__}: {exc})") from None
        check_array_values(self, name, arrays)
        return arrays

    def write_npy(self, name: str, array: np.ndarray) -> None:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
        self.write_bytes(name, buf.getvalue())

    def read_npy(self, name: str) -> np.ndarray:
        path = self.file(name)
        data = self.read_bytes(name)
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as exc:  # numpy raises ValueError, OSError, EOFError, ... for a damaged file
            raise ArtifactError(f"{path}: not a valid .npy array ({type(exc).__name__}: {exc})") from None

    def forget(self, name: str) -> None:
        """Delete ``name`` and drop it from the manifest (a file about to be rewritten as the last of a set); its
        entry is ``pending`` meanwhile, so a kill in between leaves neither a missing listed file nor an unlisted
        one."""
        self.lock()
        files = self.manifest() or {}
        if name in files:
            files[name]["pending"] = True
            write_manifest(self.file(MANIFEST), files)
        self.file(name).unlink(missing_ok=True)
        checksum_path(self.file(name)).unlink(missing_ok=True)  # a side file of no file would be unlisted
        if name in files:
            del files[name]
            write_manifest(self.file(MANIFEST), files)

    def save_checkpoint(self, state: dict, best: bool = False) -> None:
        import torch

        buf = io.BytesIO()
        torch.save(state, buf)
        data = buf.getvalue()
        # best.pt first: a kill between the two writes leaves last.pt at the previous epoch, whose resume
        # repeats this epoch and rewrites both; the other order could leave best.pt older than last.pt's best.
        if best:
            self.write_bytes("checkpoints/best.pt", data)
        self.write_bytes("checkpoints/last.pt", data)

    def load_checkpoint(self, which: str = "last") -> dict:
        """``checkpoints/{which}.pt``, verified, then loaded with ``weights_only=True`` (never runs code)."""
        name = f"checkpoints/{which}.pt"
        if not self.file(name).is_file():
            raise ArtifactError(f"{self.file(name)}: no checkpoint to resume from")
        return torch_load_bytes(self.file(name), self.read_bytes(name, "checkpoint"))

    def write_index(self, name: str, index) -> None:
        """Keep a search index (:class:`hashgnn.index.SearchIndex`) with the run, recorded in its manifest."""
        self.write_bytes(name, index.to_bytes())

    def read_index(self, name: str):
        """An index written by :meth:`write_index`, checked against the manifest and against the run: one row
        per item of ``id_maps.npz`` and, for a code index, the run's bits."""
        from hashgnn.index.base import index_from_bytes

        path = self.file(name)
        index = index_from_bytes(self.read_bytes(name, "index"), path)
        n_items = ((self.manifest() or {}).get("id_maps.npz", {}).get("arrays", {}).get("item_ids", {})
                   .get("shape") or [None])[0]
        n_bits = getattr(index, "n_bits", None)
        run_bits = self.read_config().model.n_bits
        if index.n_items != n_items or (n_bits is not None and n_bits != run_bits):
            raise ArtifactError(f"{path}: a {type(index).__name__} of {index.n_items} items"
                                f"{f', {n_bits} bits' if n_bits is not None else ''}, but the run has {n_items} "
                                f"items and {run_bits}-bit codes — built for another run")
        return index

    def write_metrics_csv(self, rows: list[dict[str, float]], name: str = "metrics.csv") -> None:
        if not rows:
            return
        keys = sorted({k for row in rows for k in row}, key=lambda k: (k != "iteration", k != "epoch", k))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
        self.write_bytes(name, out.getvalue().encode("utf-8"))


def _npz_ids(ids: np.ndarray) -> np.ndarray:
    """Object (string) ids as a fixed-width str array: npz stores it without pickling."""
    return ids.astype(str) if ids.dtype == object else ids


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
