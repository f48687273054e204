"""Defaults shared by packages that must not import one another (index, evaluation, config, models, serve)."""

#: M of hierarchical search: twice the longest list the evaluation reports (Recall/NDCG@100). With M = 100 the
#: re-rank could only reorder HamR's top-100, so HieS's Recall@100 was HamR's by construction. The paper asks the
#: recall stage for "hundreds of candidate items" and does not give its M.
DEFAULT_CANDIDATES = 200

#: Valid names of the settings whose code imports torch; kept here (torch-free) so that reading and validating a
#: run's config (``hashgnn recommend``, the service) does not import torch.
RANK_LOSSES = ("hinge", "bpr", "softmax")  # hashgnn.losses
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "identity")  # hashgnn.models.encoders
ENCODERS = ("sage", "gcn", "lightgcn", "gat")  # hashgnn.models.encoders.build_encoder
GUIDES = ("element", "node")  # hashgnn.models.hashing.GuidedSTE
#: where the straight-through gradient of h = sign(z) lands: "z" (the paper: ∂h/∂z = I, then through tanh',
#: which vanishes once z saturates) or "a" (∂h/∂a = I: past the tanh, so saturated bits can still flip)
STE_GRADS = ("z", "a")
METHODS = ("guided", "ste", "hashnet", "gumbel", "continuous")  # hashgnn.models.hashing.build_binarizer
#: what the binarizers' schedules (p, β, τ) count in: "epoch" (fractional epochs: a run of any size goes through
#: the same schedule) or "step" (optimiser steps, the paper's iterations); hashgnn.models.hashing.Binarizer
SCHEDULE_UNITS = ("epoch", "step")
