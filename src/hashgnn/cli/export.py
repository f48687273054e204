"""``hashgnn export RUN --format faiss|npy|parquet``: a run's codes and embeddings for other tools.

Every format carries the id maps, so row ``i`` of any array (and faiss id ``i``) is the data's user or item
``*_ids[i]``; ``export.json`` says what each file holds and how the bits are packed. Written inside the run
directory (the default ``RUN/export-FORMAT``), the files are recorded in the run's manifest, as every file of a run
is; elsewhere they are plain files.

* ``faiss``: ``items.faiss``, a :class:`faiss.IndexBinaryFlat` of the item codes (exact Hamming search, the
  same distances as :class:`hashgnn.index.HammingIndex`), ``user_codes.npy`` to query it, and the id maps.
* ``npy``: codes (packed uint8), z (float32) and id maps as plain ``.npy`` files (no pickle needed).
* ``parquet``: ``users.parquet`` and ``items.parquet`` with columns ``id``, ``code`` (the packed bytes) and
  ``z`` (a list of float32).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import typer
from rich.console import Console

from hashgnn.errors import ConfigError

console = Console()
FORMATS = ("faiss", "npy", "parquet")
BIT_ORDER = ("numpy.packbits, big-endian within a byte: bit j of a K-bit code is bit 7 - j % 8 of byte j // 8; "
             "a set bit is the sign +1")


def _plain_ids(ids: np.ndarray) -> np.ndarray:
    """Object arrays (string ids read from a CSV) as unicode, so ``np.load`` needs no pickle."""
    return ids.astype(str) if ids.dtype == object else ids


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _faiss_files(model) -> dict[str, bytes]:
    import faiss

    emb = model.embeddings()
    index = faiss.IndexBinaryFlat(emb.n_bits)
    index.add(np.ascontiguousarray(emb.item_codes))
    return {"items.faiss": faiss.serialize_index_binary(index).tobytes(),
            "user_codes.npy": _npy_bytes(emb.user_codes)}


def _npy_files(model) -> dict[str, bytes]:
    emb = model.embeddings()
    files = {"user_z.npy": _npy_bytes(emb.user_z), "item_z.npy": _npy_bytes(emb.item_z)}
    if emb.has_codes:
        files |= {"user_codes.npy": _npy_bytes(emb.user_codes), "item_codes.npy": _npy_bytes(emb.item_codes)}
    return files


def _parquet_table(ids: np.ndarray, codes: np.ndarray | None, z: np.ndarray) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"id": pa.array(_plain_ids(ids).tolist())}
    if codes is not None:
        columns["code"] = pa.array([row.tobytes() for row in codes], type=pa.binary(codes.shape[1]))
    flat = pa.array(np.ascontiguousarray(z, dtype=np.float32).ravel())
    columns["z"] = pa.FixedSizeListArray.from_arrays(flat, z.shape[1])
    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf)
    return buf.getvalue()


def _parquet_files(model) -> dict[str, bytes]:
    emb = model.embeddings()
    return {"users.parquet": _parquet_table(model.user_ids, emb.user_codes, emb.user_z),
            "items.parquet": _parquet_table(model.item_ids, emb.item_codes, emb.item_z)}


def export_run(run_dir: Path, fmt: str, out: Path | None = None) -> tuple[Path, list[str]]:
    """Write the run's codes/embeddings in ``fmt`` to ``out`` (default ``RUN/export-FMT``); (folder, files)."""
    from hashgnn.io_utils import atomic_write_bytes
    from hashgnn.recommender import HashGNN
    from hashgnn.training.rundir import RunDir

    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    model = HashGNN.load(run_dir)
    emb = model.embeddings()
    if fmt == "faiss" and not emb.has_codes:
        raise ConfigError(f"{run_dir}: a {model.config.model.method} run has no hash codes for a faiss binary "
                          "index; export it with --format npy or parquet")
    files = {"faiss": _faiss_files, "npy": _npy_files, "parquet": _parquet_files}[fmt](model)
    if fmt != "parquet":
        files |= {"user_ids.npy": _npy_bytes(_plain_ids(model.user_ids)),
                  "item_ids.npy": _npy_bytes(_plain_ids(model.item_ids))}
    out = Path(out) if out is not None else Path(run_dir) / f"export-{fmt}"
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"format": fmt, "run": str(run_dir), "dataset": model.config.data.dataset,
                "users": int(len(model.user_ids)), "items": int(len(model.item_ids)), "n_bits": emb.n_bits,
                "dim": int(emb.item_z.shape[1]), "bit_order": BIT_ORDER if emb.has_codes else None,
                "files": sorted(files), "rows": "row i (faiss id i) is the user/item of *_ids[i] / column id"}
    files["export.json"] = json.dumps(manifest, indent=2).encode("utf-8")  # last: it describes a complete set
    try:
        inside = out.resolve().relative_to(Path(run_dir).resolve())
    except ValueError:
        inside = None
    if inside is None:
        for name, data in files.items():
            atomic_write_bytes(out / name, data)
    else:
        with RunDir(run_dir) as rd:  # a file of the run's folder: listed in its manifest, or the run is refused
            for name, data in files.items():
                rd.write_bytes((inside / name).as_posix(), data)
    return out, [*sorted(n for n in files if n != "export.json"), "export.json"]


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_cmd(run_dir: Path = typer.Argument(..., help="a run directory written by `hashgnn train`"),
                   fmt: str = typer.Option("npy", "--format", help=" | ".join(FORMATS)),
                   out: Path = typer.Option(None, "--out", "-o", help="folder to write (default RUN/export-FORMAT)"),
                   ) -> None:
        """Codes, embeddings and id maps for other tools: a faiss binary index, .npy arrays or Parquet tables."""
        folder, names = export_run(run_dir, fmt, out)
        console.print(f"wrote {len(names)} files to {folder}: {', '.join(names)}", highlight=False, soft_wrap=True)
