"""hashgnn: learning to hash with graph neural networks for recommender systems."""

import warnings

# Every propagation runs on torch's sparse CSR tensors, which warn "in beta state" on first use; the message says
# nothing about the user's run and would be the first line of every training log (PyG silences it the same way).
warnings.filterwarnings("ignore", message=r".*Sparse CSR tensor support is in beta.*", category=UserWarning)

__version__ = "0.1.0"
