"""Reference numbers copied from the paper's text (Tan et al., WWW 2020): Tables 2, 3 and 4.

Table 2 / 3 cells are ``(HR@50, HR@100, ndcg@50, ndcg@100)``; the paper's "HR" is recall (share of a user's
test items in the top n). Table 2 is hierarchical search; the paper does not say which search the continuous
methods (MF, PTE, BiNE, GraphSage) used there, presumably their own continuous ranking. Table 3 is in percent
as printed. Table 4 is seconds for all-user search (computing and sorting distances) on the paper's machine
(MacOS, Intel Core i5, Python 3.6).
"""

from __future__ import annotations

METRICS = ("recall@50", "recall@100", "ndcg@50", "ndcg@100")
"""Column order of the Table 2 / 3 tuples (paper headers: HR@50, HR@100, ndcg@50, ndc@100)."""

TABLE2: dict[str, dict[str, tuple[float, float, float, float]]] = {
    "movielens-1m": {
        "LSH": (0.063, 0.127, 0.143, 0.192),
        "HashGNN_sp": (0.108, 0.177, 0.207, 0.272),
        "Hash_gumb": (0.136, 0.220, 0.234, 0.324),
        "Hash_ste": (0.145, 0.225, 0.249, 0.335),
        "HashNet": (0.185, 0.216, 0.266, 0.372),
        "HashGNN_nr": (0.223, 0.340, 0.294, 0.405),
        "MF": (0.187, 0.256, 0.276, 0.383),
        "PTE": (0.159, 0.249, 0.257, 0.353),
        "BiNE": (0.209, 0.289, 0.283, 0.392),
        "GraphSage": (0.228, 0.354, 0.304, 0.411),
        "HashGNN": (0.248, 0.373, 0.325, 0.431),
    },
    "gowalla": {
        "LSH": (0.165, 0.235, 0.282, 0.378),
        "HashGNN_sp": (0.219, 0.261, 0.375, 0.443),
        "Hash_gumb": (0.264, 0.335, 0.452, 0.507),
        "Hash_ste": (0.331, 0.363, 0.485, 0.516),
        "HashNet": (0.346, 0.388, 0.502, 0.530),
        "HashGNN_nr": (0.378, 0.423, 0.533, 0.557),
        "MF": (0.345, 0.369, 0.504, 0.523),
        "PTE": (0.344, 0.356, 0.498, 0.517),
        "BiNE": (0.363, 0.389, 0.515, 0.546),
        "GraphSage": (0.389, 0.434, 0.542, 0.563),
        "HashGNN": (0.405, 0.443, 0.551, 0.572),
    },
    "pinterest-20": {
        "LSH": (0.044, 0.093, 0.066, 0.117),
        "HashGNN_sp": (0.052, 0.113, 0.083, 0.127),
        "Hash_gumb": (0.098, 0.172, 0.104, 0.149),
        "Hash_ste": (0.126, 0.208, 0.127, 0.175),
        "HashNet": (0.169, 0.282, 0.147, 0.188),
        "HashGNN_nr": (0.189, 0.315, 0.162, 0.204),
        "MF": (0.041, 0.072, 0.104, 0.152),
        "PTE": (0.031, 0.052, 0.088, 0.125),
        "BiNE": (0.109, 0.248, 0.117, 0.186),
        "GraphSage": (0.193, 0.317, 0.166, 0.213),
        "HashGNN": (0.212, 0.334, 0.176, 0.234),
    },
}

TABLE3_PERCENT: dict[str, tuple[float, float, float, float]] = {
    "LSH": (0.72, 3.65, 1.02, 2.98),
    "HashGNN_sp": (1.17, 5.51, 1.97, 6.59),
    "Hash_gumb": (1.81, 5.90, 2.26, 7.14),
    "Hash_ste": (2.87, 6.78, 3.83, 8.59),
    "HashNet": (3.63, 7.37, 5.38, 9.30),
    "HashGNN_nr": (4.48, 9.30, 6.65, 11.18),
    "MF": (3.31, 7.22, 5.18, 9.19),
    "PTE": (3.11, 7.08, 4.84, 9.03),
    "BiNE": (3.94, 8.29, 5.89, 10.22),
    "GraphSage": (4.73, 9.86, 6.91, 11.44),
    "HashGNN": (5.17, 10.66, 7.75, 12.84),
}
"""Alibaba (601,946 users, 4,167,708 items; not public), in percent as printed."""

TABLE4_SECONDS: dict[str, dict[str, float]] = {
    "movielens-1m": {"continuous": 3.8, "hierarchical": 2.8, "hamming": 1.5},
    "pinterest-20": {"continuous": 73.5, "hierarchical": 41.2, "hamming": 27.8},
    "gowalla": {"continuous": 189.6, "hierarchical": 82.1, "hamming": 66.1},
    "alibaba": {"continuous": 15181.7, "hierarchical": 4295.8, "hamming": 4163.9},
}
"""Seconds; the paper prints the speed-ups over CeS: HieS ×1.3/×1.7/×2.3/×3.5, HamR ×2.5/×2.6/×2.8/×3.6."""

DATASET_LABELS = {"movielens-1m": "MovieLens", "gowalla": "Gowalla", "pinterest-20": "Pinterest",
                  "amazon-cds": "Amazon-CDs (substitute for Pinterest)", "movielens-100k": "MovieLens-100K",
                  "alibaba": "Alibaba"}

SUBSTITUTES = {"pinterest-20": "amazon-cds"}
"""Dataset used in place of a paper dataset whose files are absent (Pinterest's train half is not available)."""


def table2_reference(dataset: str, method: str) -> dict[str, float] | None:
    """The Table 2 cell of ``method`` on ``dataset`` (paper name or registry name) as ``{metric: value}``."""
    row = TABLE2.get(dataset, {}).get(method)
    return dict(zip(METRICS, row, strict=True)) if row else None


def table3_reference(method: str) -> dict[str, float] | None:
    """Table 3 (Alibaba) as fractions, not percent."""
    row = TABLE3_PERCENT.get(method)
    return {m: v / 100.0 for m, v in zip(METRICS, row, strict=True)} if row else None
