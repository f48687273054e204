"""Issue 34, points 1, 3 and 4: no artifact runs code, and inconsistent artifacts are refused with a clear error.

Each case replaces a file of a finished run *with its checksums kept valid*: the side file is rewritten and, in
the ``manifest`` variants, the manifest entry too, as someone editing the folder by hand (or a buggy tool) would.
The load must then fail with an :class:`ArtifactError` naming the file at fault, in the API, the service and the
CLI (one line, exit status 2, no traceback), instead of answering wrong ids or scoring NaNs.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from hashgnn.errors import ArtifactError
from hashgnn.io_utils import sha256_bytes
from hashgnn.testing import forge, npy_bytes, npz_arrays, npz_bytes
from hashgnn.training.manifest import MANIFEST, read_manifest
from hashgnn.training.rundir import RunDir


@pytest.fixture
def run(trained_run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(trained_run, out)
    return out


# -- 1. code execution ----------------------------------------------------------------------------------------
class Payload:
    """Unpickling this calls ``open(marker, "w")``: the marker file proves code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str, str]]:
        return open, (str(self.marker), "w")


def _payload_checkpoint(marker: Path, state: dict) -> bytes:
    buf = io.BytesIO()
    torch.save({**state, "best_model": Payload(marker)}, buf)
    data = buf.getvalue()
    torch.load(io.BytesIO(data), weights_only=False)  # the payload is live: an unsafe load runs it
    assert marker.exists()
    marker.unlink()
    return data


@pytest.mark.parametrize("manifest", [False, True])
@pytest.mark.parametrize("side_file", ["rewritten", "deleted"])
def test_a_pickle_payload_in_best_pt_never_runs(run: Path, tmp_path: Path, manifest: bool, side_file: str):
    from hashgnn.recommender import HashGNN
    from hashgnn.serve import RecallService

    marker = tmp_path / "pwned"
    forge(run, "checkpoints/best.pt", _payload_checkpoint(marker, RunDir(run).load_checkpoint("best")), manifest)
    if side_file == "deleted":
        (run / "checkpoints/best.pt.sha256").unlink()
    with pytest.raises(ArtifactError, match="best.pt"):
        HashGNN.load(run).load_network()
    with pytest.raises(ArtifactError, match="best.pt"):  # the service refuses to start, not just new users
        RecallService.from_run_dir(run)
    assert _cli(["recommend", str(run), "--items", "1,2"]) == 2
    assert not marker.exists()


@pytest.mark.parametrize("manifest", [False, True])
def test_a_pickle_payload_in_last_pt_never_runs_on_resume(run: Path, tmp_path: Path, manifest: bool):
    from .conftest import tiny_interactions, tiny_model

    marker = tmp_path / "pwned"
    forge(run, "checkpoints/last.pt", _payload_checkpoint(marker, RunDir(run).load_checkpoint("last")), manifest)
    with pytest.raises(ArtifactError, match="last.pt"):
        RunDir(run).load_checkpoint("last")
    with pytest.raises(ArtifactError, match="last.pt"):  # what `hashgnn train --resume` runs
        tiny_model(epochs=3).fit(tiny_interactions(), run_dir=run, resume=True, progress=False)
    assert not marker.exists()


def test_experiment_status_never_unpickles_code(tmp_path: Path):
    from hashgnn.experiments.checkpoints import checkpoint_epochs

    marker = tmp_path / "pwned"
    folder = tmp_path / "ckpt"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "last.pt").write_bytes(_payload_checkpoint(marker, {"epoch": 3}))
    assert checkpoint_epochs(folder) == 0  # unreadable: the run starts over
    assert not marker.exists()


# -- 3. inconsistent artifacts with valid checksums -------------------------------------------------------------
def _reorder_item_ids(run: Path) -> bytes:
    ids = npz_arrays(run / "id_maps.npz")
    ids["item_ids"] = ids["item_ids"][[1, 0, *range(2, len(ids["item_ids"]))]]
    return npz_bytes(**ids)


def _fewer_item_ids(run: Path) -> bytes:
    ids = npz_arrays(run / "id_maps.npz")
    ids["item_ids"] = ids["item_ids"][:-1]
    return npz_bytes(**ids)


def _nan_items(run: Path) -> bytes:
    z = np.load(run / "embeddings_items.npy")
    z[3, 1] = np.nan
    return npy_bytes(z)


def _split_out_of_range(run: Path) -> bytes:
    parts = npz_arrays(run / "split.npz")
    parts["test"][0] = 10**6
    return npz_bytes(**parts)


def _codes_of(bits: int) -> Callable[[Path], bytes]:
    def make(run: Path) -> bytes:
        return npy_bytes(np.zeros((len(np.load(run / "codes_items.npy")), bits // 8), dtype=np.uint8))
    return make


def _edit_json(name: str, edit: Callable[[dict], None]) -> Callable[[Path], bytes]:
    def make(run: Path) -> bytes:
        data = json.loads((run / name).read_text())
        edit(data)
        return json.dumps(data).encode()
    return make


def _set_bits(data: dict) -> None:
    data["n_bits"] = 32


def _set_model_bits(data: dict) -> None:
    data["model"]["n_bits"] = 32


CASES = {
    "reordered item_ids": ("id_maps.npz", _reorder_item_ids),
    "fewer item_ids": ("id_maps.npz", _fewer_item_ids),
    "NaN item embeddings": ("embeddings_items.npy", _nan_items),
    "split index out of range": ("split.npz", _split_out_of_range),
    "8-bit item codes (run is 16)": ("codes_items.npy", _codes_of(8)),
    "32-bit item codes (run is 16)": ("codes_items.npy", _codes_of(32)),
    "n_bits edited in embeddings.json": ("embeddings.json", _edit_json("embeddings.json", _set_bits)),
    "n_bits edited in config.json": ("config.json", _edit_json("config.json", _set_model_bits)),
}


@pytest.mark.parametrize("manifest", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_inconsistent_artifacts_are_refused(run: Path, case: str, manifest: bool):
    from hashgnn.recommender import HashGNN
    from hashgnn.serve import RecallService

    name, make = CASES[case]
    forge(run, name, make(run), manifest)
    with pytest.raises(ArtifactError) as info:
        HashGNN.load(run)
    at_fault = {name, "config.json" if name == "embeddings.json" else name}
    assert any(n in str(info.value) for n in at_fault), str(info.value)
    with pytest.raises(ArtifactError):
        RecallService.from_run_dir(run)


@pytest.mark.parametrize("case", ["fewer item_ids", "split index out of range", "swapped codes"])
def test_evaluate_reports_inconsistent_artifacts_without_a_traceback(run: Path, case: str, capsys):
    """The issue's IndexError / ValueError tracebacks of ``hashgnn evaluate``."""
    if case == "swapped codes":
        users, items = (run / "codes_users.npy").read_bytes(), (run / "codes_items.npy").read_bytes()
        forge(run, "codes_users.npy", items, manifest=True)
        forge(run, "codes_items.npy", users, manifest=True)
    else:
        name, make = CASES[case]
        forge(run, name, make(run), manifest=True)
    assert _cli(["evaluate", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
    assert ".npz" in err or ".npy" in err


def test_a_deleted_side_file_is_an_error_not_a_skip(run: Path):
    from hashgnn.recommender import HashGNN

    (run / "embeddings_items.npy.sha256").unlink()
    with pytest.raises(ArtifactError, match=r"embeddings_items\.npy\.sha256: missing"):
        HashGNN.load(run)


def test_a_flipped_byte_with_its_side_file_deleted_does_not_load(run: Path):
    from hashgnn.recommender import HashGNN

    path = run / "embeddings_items.npy"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x40
    path.write_bytes(bytes(data))
    (run / "embeddings_items.npy.sha256").unlink()
    with pytest.raises(ArtifactError, match="embeddings_items.npy"):
        HashGNN.load(run)


def test_a_file_replaced_with_its_side_file_rewritten_fails_the_manifest(run: Path):
    from hashgnn.recommender import HashGNN

    forge(run, "history.json", b"[]", manifest=False)
    with pytest.raises(ArtifactError, match="does not match .*manifest.json"):
        RunDir(run).read_json("history.json")
    forge(run, "embeddings_items.npy", npy_bytes(np.load(run / "embeddings_items.npy")[::-1].copy()), manifest=False)
    with pytest.raises(ArtifactError, match="embeddings_items.npy: does not match"):
        HashGNN.load(run)


@pytest.mark.parametrize("name", [MANIFEST, "id_maps.npz", "checkpoints/best.pt", "training_curve.png",
                                  "training_curve.png.sha256", "index.hgi", "metrics.csv.sha256"])
def test_a_missing_listed_file_or_manifest_is_an_error(run: Path, name: str):
    from hashgnn.serve import RecallService

    (run / name).unlink()
    with pytest.raises(ArtifactError, match=Path(name).name):
        RecallService.from_run_dir(run)


def test_an_edited_manifest_is_refused(run: Path):
    text = (run / MANIFEST).read_text().replace('"bytes": ', '"bytes": 1', 1)
    (run / MANIFEST).write_text(text)
    with pytest.raises(ArtifactError, match="does not match its own sha256"):
        RunDir(run).verify()


def test_manifest_records_every_artifact_with_digest_shape_and_dtype(run: Path):
    files = read_manifest(run / MANIFEST)
    for name in ["config.json", "split.npz", "id_maps.npz", "interactions.npz", "embeddings_users.npy",
                 "embeddings_items.npy", "codes_users.npy", "codes_items.npy", "embeddings.json", "history.json",
                 "training.json", "metrics.csv", "checkpoints/last.pt", "checkpoints/best.pt"]:
        assert files[name]["sha256"] == [sha256_bytes((run / name).read_bytes())], name
    assert files["codes_items.npy"]["dtype"] == "|u1" and files["codes_items.npy"]["shape"][1] == 2
    assert files["id_maps.npz"]["arrays"]["item_ids"]["shape"] == [len(np.load(run / "embeddings_items.npy"))]
    RunDir(run).verify()


def test_a_writer_killed_between_manifest_and_file_leaves_a_loadable_run(run: Path, monkeypatch):
    """The manifest accepts the new digest before the file changes: a kill in between keeps the old file valid."""
    from hashgnn.training import rundir

    def die(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(rundir, "atomic_write_checked", die)
    with pytest.raises(KeyboardInterrupt):
        RunDir(run).write_json("history.json", [{"epoch": 99}])
    monkeypatch.undo()
    assert len(read_manifest(run / MANIFEST)["history.json"]["sha256"]) == 2
    assert RunDir(run).read_json("history.json")[-1]["epoch"] != 99
    RunDir(run).write_json("history.json", [{"epoch": 99}])
    assert len(read_manifest(run / MANIFEST)["history.json"]["sha256"]) == 1


@pytest.mark.parametrize("step", ["first write", "forget"])
def test_a_writer_killed_while_a_file_appears_or_goes_leaves_a_loadable_run(run: Path, monkeypatch, step: str):
    """A file written for the first time (or deleted) is ``pending`` in the manifest meanwhile: a kill between the
    manifest and the file leaves neither a listed file missing nor a file unlisted."""
    from hashgnn.recommender import HashGNN
    from hashgnn.training import rundir

    def die(*_args: object) -> None:
        raise KeyboardInterrupt

    if step == "first write":
        monkeypatch.setattr(rundir, "atomic_write_checked", die)
        with pytest.raises(KeyboardInterrupt):
            RunDir(run).write_json("results.json", {"test": {}})
        assert read_manifest(run / MANIFEST)["results.json"]["pending"] and not (run / "results.json").exists()
    else:
        real, calls = rundir.write_manifest, []

        def second_dies(path: Path, files: dict) -> None:  # forget: pending, unlink, drop the entry
            calls.append(path)
            if len(calls) == 2:
                raise KeyboardInterrupt
            real(path, files)

        monkeypatch.setattr(rundir, "write_manifest", second_dies)
        with pytest.raises(KeyboardInterrupt):
            RunDir(run).forget("history.json")
        assert read_manifest(run / MANIFEST)["history.json"]["pending"] and not (run / "history.json").exists()
    monkeypatch.undo()
    HashGNN.load(run)
    RunDir(run).write_json("results.json" if step == "first write" else "history.json", [])
    assert "pending" not in read_manifest(run / MANIFEST)["results.json" if step == "first write" else "history.json"]
    HashGNN.load(run)


# -- 2. every file of a run is listed (or deliberately not) ------------------------------------------------------
def test_every_file_of_a_run_is_listed_or_deliberately_unlisted(run: Path):
    """The plot, a kept index and an export into the run are listed like the model's files; the rest of what a
    run holds is exactly what ``manifest.UNLISTED`` names."""
    from hashgnn.training.manifest import CONVERGED, UNLISTED, unlisted_files

    assert _cli(["export", str(run), "--format", "npy"]) == 0  # default folder: RUN/export-npy
    (run / CONVERGED).write_text("{}")  # what `hashgnn experiment converged` adds to its runs
    files = read_manifest(run / MANIFEST)
    for name in ("training_curve.png", "index.hgi", "export-npy/item_z.npy", "export-npy/export.json"):
        assert files[name]["sha256"] == [sha256_bytes((run / name).read_bytes())], name
    assert unlisted_files(RunDir(run), files) == []
    on_disk = {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}
    others = on_disk - set(files) - {f"{name}.sha256" for name in files}
    assert {MANIFEST, CONVERGED} <= others <= {MANIFEST, ".lock", CONVERGED} and set(UNLISTED) >= others
    RunDir(run).verify()


@pytest.mark.parametrize("name", ["notes.txt", "index2.hgi", "export-faiss/items.faiss", "checkpoints/old.pt",
                                  "embeddings.json.sha256.sha256"])
def test_a_file_the_manifest_does_not_list_is_refused_until_recorded(run: Path, name: str, capsys):
    from hashgnn.recommender import HashGNN
    from hashgnn.serve import RecallService

    (run / name).parent.mkdir(exist_ok=True)
    (run / name).write_bytes(b"put here by hand")
    for load in (lambda: HashGNN.load(run), lambda: RecallService.from_run_dir(run)):
        with pytest.raises(ArtifactError, match=f"{name}.* not listed in .*manifest.json.*hashgnn upgrade"):
            load()
    if name.endswith(".pt"):  # a kind hashgnn always writes with its side file: not recorded without one
        assert _cli(["upgrade", str(run)]) == 2
        assert "old.pt.sha256: missing" in capsys.readouterr().err
        return
    assert _cli(["upgrade", str(run)]) == 0
    assert f"recorded 1 files in {run / MANIFEST}: {name}" in " ".join(capsys.readouterr().out.split())
    HashGNN.load(run)
    assert read_manifest(run / MANIFEST)[name]["sha256"] == [sha256_bytes(b"put here by hand")]


def test_an_unread_file_of_another_size_or_content_is_refused(run: Path):
    """No loader reads the plot: the load checks every listed file's size, and hashes the small ones."""
    from hashgnn.recommender import HashGNN

    path = run / "training_curve.png"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="training_curve.png: checksum mismatch"):
        HashGNN.load(run)
    forge(run, "training_curve.png", bytes(data), manifest=False)  # its side file rewritten to match
    with pytest.raises(ArtifactError, match="training_curve.png: does not match .*manifest.json"):
        HashGNN.load(run)
    forge(run, "training_curve.png", bytes(data[:-10]), manifest=False)
    with pytest.raises(ArtifactError, match=r"training_curve.png: \d+ bytes, .*manifest.json records"):
        HashGNN.load(run)


def test_an_index_built_for_another_run_is_refused(run: Path):
    from hashgnn.index import HammingIndex

    codes = np.load(run / "codes_items.npy")
    with RunDir(run) as rd:
        rd.write_index("fewer.hgi", HammingIndex(codes[:-1]))
        rd.write_index("wider.hgi", HammingIndex(np.concatenate([codes, codes], axis=1)))
        assert rd.read_index("index.hgi").n_items == len(codes)
        with pytest.raises(ArtifactError, match=r"fewer.hgi: .* of \d+ items.*built for another run"):
            rd.read_index("fewer.hgi")
        with pytest.raises(ArtifactError, match="wider.hgi: .*32 bits.*16-bit codes"):
            rd.read_index("wider.hgi")


def test_an_export_into_the_run_is_part_of_it(run: Path):
    from hashgnn.recommender import HashGNN

    assert _cli(["export", str(run), "--format", "npy"]) == 0
    assert _cli(["export", str(run), "--format", "npy", "--out", str(run)]) == 0  # the run's folder itself
    assert "item_z.npy" in read_manifest(run / MANIFEST)
    HashGNN.load(run)
    (run / "export-npy/item_z.npy").unlink()
    with pytest.raises(ArtifactError, match="export-npy/item_z.npy: missing"):
        HashGNN.load(run)


# -- 2. runs written before manifests: refused until `hashgnn upgrade` -----------------------------------------------
@pytest.fixture
def old_run(run: Path) -> Path:
    """The run as a hashgnn before manifests left it: no manifest.json, the plot and the index without side files."""
    for name in (MANIFEST, "training_curve.png.sha256", "index.hgi.sha256"):
        (run / name).unlink()
    return run


def test_a_run_without_manifest_is_refused_by_readers_and_writers_naming_the_upgrade(old_run: Path, capsys):
    from hashgnn.recommender import HashGNN
    from hashgnn.serve import RecallService

    upgrade = f"hashgnn upgrade {old_run}"
    readers = [lambda: HashGNN.load(old_run), lambda: RecallService.from_run_dir(old_run),
               lambda: RunDir(old_run).load_checkpoint("last"), lambda: RunDir(old_run).read_json("history.json")]
    for read in readers:
        with pytest.raises(ArtifactError, match=f"manifest.json: missing .*`{upgrade}`"):
            read()
    with pytest.raises(ArtifactError, match=f"`{upgrade}`"):  # a writer would list a few files, not the run
        RunDir(old_run).write_json("results.json", {})
    for args in (["recommend", str(old_run), "--similar-to", "1"], ["evaluate", str(old_run), "--no-progress"],
                 ["train", "--out", str(old_run), "--resume", "--no-progress"]):
        assert _cli(args) == 2, args
        err = " ".join(capsys.readouterr().err.split())
        assert upgrade in err and "Traceback" not in err, args
    assert not (old_run / MANIFEST).exists() and not (old_run / "results.json").exists()


def test_upgrade_records_an_old_run_which_then_loads_and_resumes(old_run: Path, trained_run: Path, capsys):
    from hashgnn.recommender import HashGNN

    from .conftest import tiny_interactions

    assert _cli(["upgrade", str(old_run)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    listed = read_manifest(trained_run / MANIFEST)
    assert f"recorded {len(listed)} files" in out and f"{old_run} loads" in out
    assert set(read_manifest(old_run / MANIFEST)) == set(listed)
    assert (old_run / "training_curve.png.sha256").is_file() and (old_run / "index.hgi.sha256").is_file()
    HashGNN.load(old_run)
    RunDir(old_run).read_index("index.hgi")
    model = HashGNN(config=RunDir(old_run).read_config())  # a writer: resuming the finished run trains nothing
    assert [h["epoch"] for h in model.fit(tiny_interactions(), run_dir=old_run, resume=True,
                                          progress=False).result.history] == [1, 2]
    HashGNN.load(old_run)
    assert _cli(["upgrade", str(old_run)]) == 0  # nothing left to record
    assert "already lists every file" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["flipped byte", "deleted side file", "orphan side file"])
def test_upgrade_refuses_a_damaged_old_run_and_records_nothing(old_run: Path, damage: str, capsys):
    path = old_run / "embeddings_items.npy"
    if damage == "flipped byte":
        data = bytearray(path.read_bytes())
        data[-3] ^= 0x40
        path.write_bytes(bytes(data))
    elif damage == "deleted side file":
        (old_run / "embeddings_items.npy.sha256").unlink()
    else:  # a side file whose file is gone: nothing to check, removed by the upgrade
        (old_run / "gone.npy.sha256").write_text("0" * 64 + "\n")
        assert _cli(["upgrade", str(old_run)]) == 0
        assert not (old_run / "gone.npy.sha256").exists()
        return
    assert _cli(["upgrade", str(old_run)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "embeddings_items.npy" in err and "Traceback" not in err
    assert not (old_run / MANIFEST).exists()


# -- 4. no traceback for a huge id on the command line ----------------------------------------------------------
def test_cli_recommend_with_a_5000_digit_id_is_a_clear_error(run: Path, capsys):
    assert _cli(["recommend", str(run), "--similar-to", "9" * 5000]) == 2
    err = capsys.readouterr().err
    assert "unknown item" in err and "Traceback" not in err


def _cli(args: list[str]) -> int:
    from hashgnn.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code
