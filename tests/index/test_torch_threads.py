"""numba's OpenMP layer shares libgomp with torch: a search must not change torch's thread count."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hashgnn.index.float_index import FloatIndex
from hashgnn.index.hamming import HammingIndex
from hashgnn.index.packing import pack_codes


@pytest.fixture
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_searches_keep_torch_thread_count(one_torch_thread) -> None:
    rng = np.random.default_rng(0)
    signs = np.where(rng.standard_normal((3000, 32)) >= 0, 1.0, -1.0)
    HammingIndex(pack_codes(signs), tie_seed=0).search(pack_codes(signs[:500]), 50)
    assert torch.get_num_threads() == 1
    z = rng.standard_normal((3000, 16)).astype(np.float32)
    FloatIndex(z, tie_seed=0).search(z[:500], 50)
    assert torch.get_num_threads() == 1
