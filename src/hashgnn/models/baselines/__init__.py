"""The baselines of paper section 5.2.2 (and LightGCN as a modern continuous reference), one registry.

``BASELINES[name](config=RunConfig, overrides=[...], progress=False, **params)`` returns an unfitted
:class:`~hashgnn.models.base.Recommender`; ``.fit(split)`` trains it on the split's train part (validation for
model selection only), and recommend / similar_items / evaluation come from the shared contract.

=============  =========================================================  ======
name           what                                                       codes
=============  =========================================================  ======
GraphSage      core, ``model.method=continuous``                          no
LightGCN       LightGCN itself: 3 layers, no hash layer, BPR + layer-0 L2    no
LightGCN_eq7   core, ``model.encoder=lightgcn``, tanh head, eq. 7 loss     no
MF             BPR matrix factorisation                                   no
PTE            PTE bipartite embedding (LINE 2nd order, neg. sampling)    no
BiNE           BiNE explicit + random-walk implicit relations             no
LSH            GraphSage z → sign(z R), R Gaussian                        yes
HashGNN_sp     GraphSage u frozen → hash layer (guided STE, eq. 5–8)      yes
Hash_gumb      core, ``model.method=gumbel``                              yes
Hash_ste       core, ``model.method=ste``                                 yes
HashNet        core, ``model.method=hashnet``                             yes
HashGNN_nr     core, guided, ``train.lam=0``                              yes
HashGNN        core, guided (the paper's method)                          yes
HashGNN+       core, guided, ``plus`` preset (beyond the paper)           yes
=============  =========================================================  ======
"""

from __future__ import annotations

from collections.abc import Callable

from hashgnn.errors import ConfigError
from hashgnn.models.base import Recommender
from hashgnn.models.baselines.common import FittedRecommender, seen_matrix, valid_recall
from hashgnn.models.baselines.core import (
    CoreBaseline,
    GraphSage,
    HashGNNFull,
    HashGNNNoRank,
    HashGNNPlus,
    HashGumbel,
    HashNet,
    HashSTE,
    LightGCN,
    LightGCNEq7,
)
from hashgnn.models.baselines.embedding import MF, PTE, BiNE, EmbeddingBaseline, EmbeddingParams
from hashgnn.models.baselines.twostage import LSH, HashGNNSeparate

BASELINES: dict[str, Callable[..., Recommender]] = {
    "LSH": LSH,
    "HashGNN_sp": HashGNNSeparate,
    "Hash_gumb": HashGumbel,
    "Hash_ste": HashSTE,
    "HashNet": HashNet,
    "HashGNN_nr": HashGNNNoRank,
    "MF": MF,
    "PTE": PTE,
    "BiNE": BiNE,
    "GraphSage": GraphSage,
    "HashGNN": HashGNNFull,
    "HashGNN+": HashGNNPlus,
    "LightGCN": LightGCN,
    "LightGCN_eq7": LightGCNEq7,
}
"""Name → factory, in the row order of the paper's Table 2 (HashGNN+ and LightGCN last: not in the paper)."""

HASHING = ("LSH", "HashGNN_sp", "Hash_gumb", "Hash_ste", "HashNet", "HashGNN_nr", "HashGNN", "HashGNN+")
CONTINUOUS = ("MF", "PTE", "BiNE", "GraphSage", "LightGCN", "LightGCN_eq7")


def get_baseline(name: str) -> Callable[..., Recommender]:
    """The factory registered as ``name`` (case-insensitive); the error lists the valid names."""
    if name in BASELINES:
        return BASELINES[name]
    folded = {k.lower(): v for k, v in BASELINES.items()}
    if name.lower() in folded:
        return folded[name.lower()]
    raise ConfigError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")


def canonical_name(name: str) -> str:
    """The registry spelling of ``name`` (case-insensitive match)."""
    for key in BASELINES:
        if key.lower() == name.lower():
            return key
    raise ConfigError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")


def build_baseline(name: str, **kwargs: object) -> Recommender:
    """``get_baseline(name)(**kwargs)``."""
    return get_baseline(name)(**kwargs)


__all__ = ["BASELINES", "CONTINUOUS", "HASHING", "LSH", "MF", "PTE", "BiNE", "CoreBaseline", "EmbeddingBaseline",
           "EmbeddingParams", "FittedRecommender", "GraphSage", "HashGNNFull", "HashGNNNoRank", "HashGNNPlus",
           "HashGNNSeparate",
           "HashGumbel", "HashNet", "HashSTE", "LightGCN", "LightGCNEq7", "build_baseline", "canonical_name",
           "get_baseline",
           "seen_matrix", "valid_recall"]
