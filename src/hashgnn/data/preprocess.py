"""Preprocessing of implicit feedback: k-core filtering.

Implicit conversion (every rating counts as 1) and de-duplication happen in
:meth:`~hashgnn.data.interactions.Interactions.from_raw`.
"""

from __future__ import annotations

import numpy as np

from hashgnn.data.interactions import Interactions
from hashgnn.errors import DataError


def k_core(inter: Interactions, k: int, max_rounds: int | None = None) -> Interactions:
    """Keep the largest sub-log where every user and every item has at least ``k`` interactions.

    Removing a low-degree item can push a user under ``k``, so the filter repeats until nothing changes
    (the "10-core" of the Gowalla preprocessing of NGCF, which the paper follows). Each round removes at least
    one row, so it always ends; ``max_rounds`` (default: no limit) stops earlier, and then the result is not
    guaranteed to be a k-core.
    """
    if k <= 1:
        return inter
    keep = np.ones(len(inter), dtype=bool)
    rounds = 0
    while max_rounds is None or rounds < max_rounds:
        rounds += 1
        ud = np.bincount(inter.users[keep], minlength=inter.n_users)
        idg = np.bincount(inter.items[keep], minlength=inter.n_items)
        new_keep = keep & (ud[inter.users] >= k) & (idg[inter.items] >= k)
        if (new_keep == keep).all():
            break
        keep = new_keep
    if not keep.any():
        raise DataError(f"{inter.name}: no interaction is left after the {k}-core filter")
    return inter.select(np.flatnonzero(keep)).compact()
