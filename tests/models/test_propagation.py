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
@pytest.mark.parametrize("kernel", propagation.KERNELS)
def test_product_and_gradient_equal_dense(operator, width: int, block: int | None, kernel: str) -> None:
    a, a_t, dense = operator
    x = torch.randn(40, width, requires_grad=True, generator=torch.Generator().manual_seed(width))
    g = torch.randn(40, width)
    y = sparse_propagate(a, a_t, x, block, kernel)
    y.backward(g)
    torch.testing.assert_close(y, dense @ x.detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x.grad, dense.T @ g, atol=1e-5, rtol=1e-5)


def test_rows_without_entries_give_zeros() -> None:
    """An isolated node (empty CSR row) propagates to a zero row with either kernel, and its gradient is zero."""
    m = sp.csr_matrix(([0.5, 0.5, 1.0], ([0, 0, 2], [0, 2, 1])), shape=(4, 3))
    a, a_t = _csr(m), _csr(m.T)
    x = torch.randn(3, 5, requires_grad=True)
    for kernel in propagation.KERNELS:
        y = sparse_propagate(a, a_t, x, None, kernel)
        torch.testing.assert_close(y, torch.from_numpy(m.toarray()).float() @ x.detach())
        assert torch.count_nonzero(y[[1, 3]]) == 0


def test_unknown_kernel_is_refused(operator) -> None:
    a, a_t, _ = operator
    with pytest.raises(ValueError, match="kernel must be one of"):
        sparse_propagate(a, a_t, torch.randn(40, 4), None, "dense")


def test_split_only_from_threshold(operator, monkeypatch) -> None:
    a, _, _ = operator
    calls: list[int] = []
    original = propagation._kernel_product

    def counting(m: torch.Tensor, x: torch.Tensor, kernel: str) -> torch.Tensor:
        calls.append(x.shape[1])
        return original(m, x, kernel)

    monkeypatch.setattr(propagation, "_kernel_product", counting)
    sparse_mm(a, torch.randn(40, 68))
    assert calls == [68]
    calls.clear()
    sparse_mm(a, torch.randn(40, 100))
    assert calls == [25, 25, 25, 25]
    calls.clear()
    monkeypatch.setattr(propagation, "SPLIT_FROM_COLUMNS", 0)
    sparse_mm(a, torch.randn(40, 68))
    assert calls == [23, 23, 22]
