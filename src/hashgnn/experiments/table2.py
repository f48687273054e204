"""Table 2: every method on every dataset and seed, ours beside the paper's numbers, with each
method's training time and, as a by-product, Figure 3-style Hamming-space Recall@n curves."""

from __future__ import annotations

from hashgnn.experiments.paper import table2_reference
from hashgnn.experiments.plan import Experiment, Plan
from hashgnn.experiments.report import write_method_table
from hashgnn.experiments.runs import train_planned
from hashgnn.experiments.store import ResultStore

REFERENCE_NAME = "Table 2 of the paper"


def run_table2(plan: Plan) -> str:
    """All methods × datasets × seeds; Table 2 (hierarchical column: continuous search for methods without
    codes), timing per method, Figure 3-style Hamming curves as a by-product. The table and plots are rewritten
    after every run, so an experiment stopped part-way leaves them up to date with its stored runs."""
    store = ResultStore(plan.out, plan.options.fresh)
    train_planned(plan, store, after_run=lambda: write_method_table(plan, store, table2_reference, REFERENCE_NAME))
    return write_method_table(plan, store, table2_reference, REFERENCE_NAME)


EXPERIMENT = Experiment("table2", run_table2)
