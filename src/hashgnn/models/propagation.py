"""Sparse propagation ``y = A x`` with a hand-written backward, for a fixed sparse CSR operator ``A``.

Autograd's own backward for ``torch.sparse.mm`` builds the transpose on every call; passing the precomputed ``Aᵀ``
(also CSR) makes the backward one more product of the same kind, which measured 2.5x faster on this machine's CPU.

On CPU each product runs as a weighted ``embedding_bag`` over the CSR arrays: row ``i`` of ``A x`` is the bag of
rows ``x[col]`` for ``col`` in row ``i``, weighted by ``A``'s values, i.e. ``A x`` itself. PyTorch's embedding-bag
kernel measured 2.0-3.3x faster than ``torch.sparse.mm`` on the training graphs of MovieLens-1M and Gowalla for
the encoders' widths (64, 68), and whole HashGNN training 1.49x (MovieLens-1M) and 1.24x (Gowalla) faster
(``benchmarks/bench_propagation.py``, figures in ``benchmarks/README.md``). Other devices keep ``torch.sparse.mm``
(cuSPARSE; not measured here). Both kernels give the same result to float rounding (tested).

Wide ``x`` (≥ :data:`SPLIT_FROM_COLUMNS` columns) is multiplied in blocks of about :data:`BLOCK_COLUMNS` columns:
both kernels gather one row of ``x`` per non-zero, and narrower rows stay in cache (benchmark numbers in
``benchmarks/README.md``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

BLOCK_COLUMNS = 32
"""Widest column block of one product (``None`` or ``0``: never split)."""
SPLIT_FROM_COLUMNS = 96
"""Narrower products run whole: splitting them measured no faster, or slower."""
KERNELS = ("auto", "embedding_bag", "sparse_mm")
DEFAULT_KERNEL = "auto"
"""The kernel of calls that do not name one (benchmarks switch it to compare whole training runs)."""


def _kernel_product(a: torch.Tensor, x: torch.Tensor, kernel: str | None) -> torch.Tensor:
    kernel = kernel or DEFAULT_KERNEL
    if kernel == "auto":
        kernel = "embedding_bag" if a.layout == torch.sparse_csr and a.device.type == "cpu" else "sparse_mm"
    if kernel == "sparse_mm":
        return torch.sparse.mm(a, x)
    if kernel != "embedding_bag":
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    return F.embedding_bag(a.col_indices(), x, a.crow_indices(), mode="sum", per_sample_weights=a.values(),
                           include_last_offset=True)


def sparse_mm(a: torch.Tensor, x: torch.Tensor, block: int | None = BLOCK_COLUMNS,
              kernel: str | None = None) -> torch.Tensor:
    """``a @ x`` for sparse CSR ``a`` and dense ``x`` (no gradient); from :data:`SPLIT_FROM_COLUMNS` columns on, in
    near-equal column blocks of at most ``block`` columns. ``kernel``: ``"auto"`` (embedding bag on CPU,
    ``torch.sparse.mm`` elsewhere), ``"embedding_bag"``, ``"sparse_mm"``, or ``None`` for
    :data:`DEFAULT_KERNEL`."""
    width = x.shape[1]
    if not block or width <= block or width < SPLIT_FROM_COLUMNS:
        return _kernel_product(a, x, kernel)
    n_blocks = math.ceil(width / block)
    size = math.ceil(width / n_blocks)
    return torch.cat([_kernel_product(a, part.contiguous(), kernel) for part in x.split(size, dim=1)], dim=1)


class _SparseMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: torch.Tensor, a_t: torch.Tensor, x: torch.Tensor,  # type: ignore[override]
                block: int | None, kernel: str | None) -> torch.Tensor:
        ctx.a_t, ctx.block, ctx.kernel = a_t, block, kernel
        return sparse_mm(a, x, block, kernel)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return None, None, sparse_mm(ctx.a_t, grad.contiguous(), ctx.block, ctx.kernel), None, None


def sparse_propagate(a: torch.Tensor, a_t: torch.Tensor, x: torch.Tensor,
                     block: int | None = BLOCK_COLUMNS, kernel: str | None = None) -> torch.Tensor:
    """``A @ x`` for a constant sparse ``A`` (no gradient w.r.t. ``A``), gradient ``Aᵀ @ g`` w.r.t. ``x``;
    wide products run block by block (same result; see :func:`sparse_mm` for ``block`` and ``kernel``)."""
    if not x.requires_grad:
        return sparse_mm(a, x, block, kernel)
    return _SparseMM.apply(a, a_t, x, block, kernel)
