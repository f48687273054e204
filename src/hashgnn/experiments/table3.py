"""Table 3: Table 2's method list on a dataset with a given train/test split, the paper's Alibaba
numbers beside ours (a different dataset: compare orderings, not values)."""

from __future__ import annotations

from hashgnn.experiments.paper import table3_reference
from hashgnn.experiments.plan import Experiment, Plan
from hashgnn.experiments.report import write_method_table
from hashgnn.experiments.runs import train_planned
from hashgnn.experiments.store import ResultStore

REFERENCE_NAME = "Table 3 of the paper (Alibaba, a different dataset: compare orderings, not values)"


def _reference(dataset: str, method: str) -> dict[str, float] | None:
    return table3_reference(method)  # one paper dataset (Alibaba) stands beside every dataset of ours


def run_table3(plan: Plan) -> str:
    """Table 3's method list on the substitute set (a given train/test split), the paper's Alibaba numbers beside;
    table and plots rewritten after every run, as Table 2's."""
    store = ResultStore(plan.out, plan.options.fresh)
    train_planned(plan, store, after_run=lambda: write_method_table(plan, store, _reference, REFERENCE_NAME))
    return write_method_table(plan, store, _reference, REFERENCE_NAME)


EXPERIMENT = Experiment("table3", run_table3)
