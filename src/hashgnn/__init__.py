"""hashgnn: learning to hash with graph neural networks for recommender systems.

>>> from hashgnn import HashGNN   # doctest: +SKIP

``HashGNN`` is imported on first use (PEP 562), so ``import hashgnn`` (and a look-up from a run directory) does
not pay for torch or the model code.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from hashgnn._lazy import lazy_exports

if TYPE_CHECKING:
    from hashgnn.recommender import HashGNN

# Every propagation runs on torch's sparse CSR tensors, which warn "in beta state" on first use; the message says
# nothing about the user's run and would be the first line of every training log (PyG silences it the same way).
warnings.filterwarnings("ignore", message=r".*Sparse CSR tensor support is in beta.*", category=UserWarning)

__version__ = "0.1.0"

#: public name → the submodule defining it
_EXPORTS = {"HashGNN": "recommender"}

__all__ = ["HashGNN", "__version__"]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
