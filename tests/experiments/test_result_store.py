"""ResultStore shared by several processes (one per --methods subset) and the folder's command history."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pandas as pd

from hashgnn.experiments import Options, make_plan
from hashgnn.experiments.plan import write_meta
from hashgnn.experiments.store import ResultStore

ADDS = 25


def _fill(out: str, variant: str) -> None:
    store = ResultStore(Path(out), fresh=False)
    for seed in range(ADDS):
        rows = [{"dataset": "d", "variant": variant, "seed": seed, "metric": "recall@50", "value": seed / 100}]
        store.add(rows, {"dataset": "d", "variant": variant, "seed": seed, "train_seconds": 1.0})


def test_two_processes_adding_to_one_folder_lose_no_run(tmp_path: Path):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_fill, args=(str(tmp_path), v)) for v in ("A", "B")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert len(runs) == 2 * ADDS
    assert sorted(runs.groupby("variant")["seed"].apply(sorted).tolist()) == [list(range(ADDS))] * 2
    store = ResultStore(tmp_path, fresh=False)
    assert store.done("d", "A", ADDS - 1) and store.done("d", "B", 0) and not store.done("d", "C", 0)
    assert len(store.results) == 2 * ADDS


def test_a_store_sees_runs_added_by_another_store(tmp_path: Path):
    first, second = ResultStore(tmp_path, fresh=False), ResultStore(tmp_path, fresh=False)
    first.add([{"dataset": "d", "variant": "A", "seed": 0, "value": 1.0}], {"dataset": "d", "variant": "A", "seed": 0})
    assert second.done("d", "A", 0)
    # only its own runs count as trained here: the tables are rewritten after those, not after another's
    assert (first.added, second.added) == (1, 0)
    assert ResultStore(tmp_path, fresh=True).runs.empty  # fresh starts over


def test_command_txt_keeps_every_distinct_command_of_a_shared_folder(tmp_path: Path):
    def meta(command: str, fresh: bool = False) -> list[str]:
        plan = make_plan(Options(name="table2", quick=True, out=tmp_path, command=command, fresh=fresh))
        write_meta(plan)
        return (tmp_path / "command.txt").read_text().splitlines()

    assert meta("cmd --methods A") == ["cmd --methods A"]
    assert meta("cmd --methods B") == ["cmd --methods A", "cmd --methods B"]  # kept before any run is stored
    assert meta("cmd --methods A") == ["cmd --methods A", "cmd --methods B"]  # a resume adds nothing
    assert meta("cmd --methods C", fresh=True) == ["cmd --methods C"]


def test_runs_stored_under_the_old_lightgcn_name_read_as_lightgcn_eq7(tmp_path) -> None:
    import pandas as pd

    from hashgnn.experiments.store import ResultStore

    old_config = '{"model": {"encoder": "lightgcn", "method": "continuous"}}'
    new_config = '{"model": {"encoder": "lightgcn", "head": "none", "method": "continuous"}}'
    runs = pd.DataFrame({"dataset": ["d", "d"], "variant": ["LightGCN", "LightGCN"], "method": ["LightGCN"] * 2,
                         "seed": [0, 1], "resolved_config": [old_config, new_config]})
    results = pd.DataFrame({"dataset": ["d", "d"], "variant": ["LightGCN", "LightGCN"], "method": ["LightGCN"] * 2,
                            "seed": [0, 1], "metric": ["recall@50"] * 2, "value": [0.1, 0.2]})
    runs.to_csv(tmp_path / "runs.csv", index=False)
    results.to_csv(tmp_path / "results.csv", index=False)
    store = ResultStore(tmp_path, fresh=False)
    assert store.runs.variant.tolist() == ["LightGCN_eq7", "LightGCN"]  # seed 1 is the real LightGCN
    assert store.results.method.tolist() == ["LightGCN_eq7", "LightGCN"]
    assert store.done("d", "LightGCN_eq7", 0) and not store.done("d", "LightGCN", 0)
