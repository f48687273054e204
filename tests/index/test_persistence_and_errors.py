from __future__ import annotations

import struct

import numpy as np
import pytest
import scipy.sparse as sp

from hashgnn.errors import ArtifactError, ConfigError
from hashgnn.index import FloatIndex, HammingIndex, HierarchicalIndex, MultiIndexHashing, load_index
from hashgnn.index.base import FORMAT_VERSION, MAGIC

from .conftest import make_codes


@pytest.fixture
def setup(rng):
    x = make_codes(rng, 200, 32, "clustered")
    q = make_codes(rng, 15, 32, "clustered")
    z = rng.standard_normal((200, 8)).astype(np.float32)
    qz = rng.standard_normal((15, 8)).astype(np.float32)
    ex = sp.random(15, 200, density=0.1, format="csr", random_state=0)
    indexes = {
        "hamming": (HammingIndex(x, tie_seed=3), q),
        "mih": (MultiIndexHashing(x, n_substrings=3, tie_seed=None), q),
        "float": (FloatIndex(z, tie_seed=5), qz),
        "hierarchical": (HierarchicalIndex(x, z, n_candidates=30, tie_seed=1), (q, qz)),
    }
    return indexes, ex


@pytest.mark.parametrize("name", ["hamming", "mih", "float", "hierarchical"])
def test_save_load_round_trip(tmp_path, setup, name):
    indexes, ex = setup
    index, queries = indexes[name]
    path = tmp_path / f"{name}.idx"
    index.save(path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # one file, no temp left behind
    for loaded in (load_index(path), type(index).load(path)):
        assert type(loaded) is type(index) and loaded.tie_seed == index.tie_seed
        assert loaded.n_items == index.n_items
        a, b = index.search(queries, 12, exclude=ex), loaded.search(queries, 12, exclude=ex)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_load_wrong_kind_via_class(tmp_path, setup):
    indexes, _ = setup
    indexes["float"][0].save(tmp_path / "f.idx")
    with pytest.raises(ArtifactError, match="not a HammingIndex"):
        HammingIndex.load(tmp_path / "f.idx")


@pytest.mark.parametrize("damage", ["truncate", "flip", "magic", "version", "empty", "missing"])
def test_damaged_files_raise_artifact_error_naming_the_file(tmp_path, setup, damage):
    indexes, _ = setup
    path = tmp_path / "h.idx"
    indexes["hamming"][0].save(path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "flip":
        data[-100] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "magic":
        path.write_bytes(b"NOTANIDX" + bytes(data[8:]))
    elif damage == "version":
        path.write_bytes(MAGIC + struct.pack("<I", FORMAT_VERSION + 1) + bytes(data[12:]))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path = tmp_path / "absent.idx"
    with pytest.raises(ArtifactError, match=str(path.name)) as info:
        load_index(path)
    if damage == "version":
        assert "version" in str(info.value)
    if damage == "flip":
        assert "checksum" in str(info.value)


def test_bad_arguments_raise_config_error(rng, setup):
    indexes, _ = setup
    index, q = indexes["hamming"]
    for bad_k in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="k must"):
            index.search(q, bad_k)
    with pytest.raises(ConfigError, match="64 bits"):
        index.search(make_codes(rng, 3, 64, "random"), 5)
    with pytest.raises(ConfigError, match="uint8"):
        index.search(q.astype(np.int32), 5)
    with pytest.raises(ConfigError, match="exclude"):
        index.search(q, 5, exclude=sp.csr_matrix((3, 200)))
    with pytest.raises(ConfigError, match="exclude"):
        index.search(q, 5, exclude=np.zeros((15, 200)))
    with pytest.raises(ConfigError, match="batch_size"):
        index.search(q, 5, batch_size=0)
    with pytest.raises(ConfigError):
        HammingIndex(np.ones((4, 4), dtype=np.float32))
    with pytest.raises(ConfigError, match="tie_seed"):
        HammingIndex(q, tie_seed="x")
    with pytest.raises(ConfigError, match="dimension"):
        indexes["float"][0].search(np.ones((2, 3), dtype=np.float32), 5)
    with pytest.raises(ConfigError, match="tuple"):
        indexes["hierarchical"][0].search(q, 5)
    with pytest.raises(ConfigError, match="same items"):
        HierarchicalIndex(q, np.ones((3, 8), dtype=np.float32))
    with pytest.raises(ConfigError, match="n_substrings"):
        MultiIndexHashing(q, n_substrings=0)
    with pytest.raises(ConfigError, match="substrings"):
        MultiIndexHashing(q, n_substrings=1)  # one 32-bit table is too large


def test_exclusion_ignores_explicit_zeros_and_duplicates(rng):
    x = make_codes(rng, 50, 32, "random")
    q = make_codes(rng, 2, 32, "random")
    index = HammingIndex(x, tie_seed=1)
    ids, _ = index.search(q, 50)
    first = ids[:, 0]
    ex = sp.csr_matrix((np.array([0.0, 1.0, 1.0]), np.array([first[0], first[1], first[1]]),
                        np.array([0, 1, 3])), shape=(2, 50))
    got, _ = index.search(q, 49, exclude=ex)
    assert got[0, 0] == first[0]  # explicit zero: not excluded
    assert first[1] not in got[1] and (got[1] >= 0).all()
