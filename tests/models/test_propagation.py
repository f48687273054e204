import pytest
import scipy.sparse as sp
import torch

from hashgnn.models import propagation
from hashgnn.models.propagation import sparse_mm, sparse_propagate


def _csr(m: sp.csr_matrix) -> torch.Tensor:
    m = m.tocsr().astype("float32")
    return torch.sparse_csr_tensor(torch.from_numpy(m.indptr).long(), torch.from_numpy(m.indices).long(),
                                   torch.from_numpy(m.data), size=m.shape)


@pytest.fixture
def operator() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    m = sp.random(40, 40, density=0.2, random_state=0, format="csr")
    return _csr(m), _csr(m.T), torch.from_numpy(m.toarray().astype("float32"))


@pytest.mark.parametrize("width", [1, 31, 32, 68, 96, 100, 130])
@pytest.mark.parametrize("block", [None, 7, 32])
def test_blocked_product_and_gradient_equal_dense(operator, width: int, block: int | None) -> None:
    a, a_t, dense = operator
    x = torch.randn(40, width, requires_grad=True, generator=torch.Generator().manual_seed(width))
    g = torch.randn(40, width)
    y = sparse_propagate(a, a_t, x, block)
    y.backward(g)
    torch.testing.assert_close(y, dense @ x.detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x.grad, dense.T @ g, atol=1e-5, rtol=1e-5)


def test_split_only_from_threshold(operator, monkeypatch) -> None:
    a, _, _ = operator
    calls: list[int] = []
    original = torch.sparse.mm

    def counting(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[1])
        return original(m, x)

    monkeypatch.setattr(torch.sparse, "mm", counting)
    sparse_mm(a, torch.randn(40, 68))
    assert calls == [68]
    calls.clear()
    sparse_mm(a, torch.randn(40, 100))
    assert calls == [25, 25, 25, 25]
    calls.clear()
    monkeypatch.setattr(propagation, "SPLIT_FROM_COLUMNS", 0)
    sparse_mm(a, torch.randn(40, 68))
    assert calls == [23, 23, 22]
