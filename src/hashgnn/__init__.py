"""hashgnn: learning to hash with graph neural networks for recommender systems."""

__version__ = "0.1.0"
