"""hashgnn: learning to hash with graph neural networks for recommender systems.

>>> from hashgnn import HashGNN   # doctest: +SKIP

``HashGNN`` is imported on first use (PEP 562), so ``import hashgnn`` (and a look-up from a run directory) does
not pay for torch or the model code.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashgnn.recommender import HashGNN

# Every propagation runs on torch's sparse CSR tensors, which warn "in beta state" on first use; the message says
# nothing about the user's run and would be the first line of every training log (PyG silences it the same way).
warnings.filterwarnings("ignore", message=r".*Sparse CSR tensor support is in beta.*", category=UserWarning)

__version__ = "0.1.0"

#: public name → the submodule defining it
_EXPORTS = {"HashGNN": "recommender"}

__all__ = ["HashGNN", "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
