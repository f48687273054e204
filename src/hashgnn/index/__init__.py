"""Retrieval engine: packed binary codes, exact Hamming top-k, multi-index hashing, hierarchical and float search.

Every index implements :class:`SearchIndex` (``search(queries, k, exclude)`` → ``(ids, scores)``, higher score
is better, ``-1``/``-inf`` padding) with one tie rule (:func:`tie_ranks`), and saves to / loads from one file.
"""

from hashgnn.index.base import SearchIndex, exact_topk_reference, load_index, tie_ranks
from hashgnn.index.float_index import FloatIndex
from hashgnn.index.hamming import HammingIndex
from hashgnn.index.hierarchical import HierarchicalIndex
from hashgnn.index.mih import MultiIndexHashing
from hashgnn.index.packing import as_words, hamming_distances, pack_codes, unpack_codes

__all__ = [
    "FloatIndex",
    "HammingIndex",
    "HierarchicalIndex",
    "MultiIndexHashing",
    "SearchIndex",
    "as_words",
    "exact_topk_reference",
    "hamming_distances",
    "load_index",
    "pack_codes",
    "tie_ranks",
    "unpack_codes",
]
