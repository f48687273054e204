"""Where a run's Hamming ranking loses against its own z: ``python diagnose_codes.py RUN_DIR``.

Prints the distinct item codes, the bits that are nearly constant over items or over users (|mean| > 0.7),
test Recall@50 (standard protocol) with each side binarised alone, and the Spearman correlation between an
item's train popularity and how many of its bits agree with the users' majority on the near-constant user bits.
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.stats import spearmanr

from hashgnn.config import RunConfig
from hashgnn.data import load_split_for
from hashgnn.evaluation import evaluate_part
from hashgnn.models.base import Embeddings


def recall50(split, users: np.ndarray, items: np.ndarray) -> float:
    emb = Embeddings(users.astype(np.float32), items.astype(np.float32))
    res = evaluate_part(emb, split, "test", modes=("continuous",), ns=(50,), protocols=("standard",))
    return round(res["continuous"]["standard"]["recall@50"], 4)


def main(run: str) -> None:
    cfg = RunConfig.from_json(f"{run}/config.json")
    split = load_split_for(cfg.data, cfg.split)
    zu, zi = np.load(f"{run}/embeddings_users.npy"), np.load(f"{run}/embeddings_items.npy")
    hu, hi = np.where(zu >= 0, 1.0, -1.0), np.where(zi >= 0, 1.0, -1.0)
    print("distinct item codes", len(np.unique(hi, axis=0)), "of", len(hi))
    user_mean = hu.mean(0)
    const = np.abs(user_mean) > 0.7
    print("near-constant bits: items", int((np.abs(hi.mean(0)) > 0.7).sum()), "users", int(const.sum()))
    for name, u, i in (("z_u.z_i (CeS)", zu, zi), ("h_u.h_i (HamR)", hu, hi), ("z_u.h_i", zu, hi),
                       ("h_u.z_i", hu, zi)):
        print(f"Recall@50 {name}: {recall50(split, u, i)}")
    pop = np.bincount(split.train.items, minlength=split.interactions.n_items)
    agree = (hi[:, const] == np.sign(user_mean[const])).sum(1)
    print("spearman(item popularity, bits agreeing with users' majority on near-constant user bits)",
          round(float(spearmanr(pop, agree).correlation), 3))


if __name__ == "__main__":
    main(sys.argv[1])
