"""Sizes of the registered datasets the READMEs quote (users, items, interactions), as the loader reads them.

    python results/datasets/measure.py

writes ``datasets.json`` beside this file with the command, the code commit and whether the package differed from
it, the date and the CPU model with its vector flags, so that README figures such as Gowalla's 29,858 users are
checked against a committed machine-written file (issue 29), not typed by hand. Needs the data (``HASHGNN_DATA``).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from hashgnn.data import DataConfig, load_interactions
from hashgnn.experiments.runs import provenance
from hashgnn.io_utils import atomic_write_text

DATASETS = ("movielens-1m", "gowalla", "amazon-cds")


def sizes(name: str) -> dict[str, int]:
    inter, _ = load_interactions(DataConfig(dataset=name))
    stats = inter.stats()
    return {key: int(stats[key]) for key in ("users", "items", "interactions")}


def main() -> None:
    record = {"command": " ".join(["python", "results/datasets/measure.py", *sys.argv[1:]]),
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **provenance(),
              "datasets": {name: sizes(name) for name in DATASETS}}
    out = Path(__file__).with_name("datasets.json")
    atomic_write_text(out, json.dumps(record, indent=2) + "\n")
    print(json.dumps(record["datasets"], indent=2))


if __name__ == "__main__":
    main()
