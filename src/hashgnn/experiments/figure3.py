"""Figure 3: Hamming-space Recall@n (n = 10..100) of the hashing methods, one panel per dataset.

Trained like Table 2's runs but evaluated in Hamming space only, or (``--from-results``) built from the ``hamming``
rows a table2 experiment already stored, after checking that those runs are exactly the ones figure3 would train.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from hashgnn.config import RunConfig, config_differences
from hashgnn.errors import ConfigError
from hashgnn.experiments.plan import Experiment, Plan, RunSpec, method_grid, run_config, write_meta
from hashgnn.experiments.report import fmt, heading, md_table, recall_curves, summarize
from hashgnn.experiments.runs import train_planned
from hashgnn.experiments.store import ResultStore
from hashgnn.io_utils import atomic_write_text


def figure3_runs(plan: Plan) -> list[RunSpec]:
    """Table 2's grid; none with ``--from-results`` (built from another experiment's rows)."""
    return [] if plan.options.source is not None else method_grid(plan)


def run_figure3(plan: Plan) -> str:
    """Hamming-space Recall@n (n = 10..100) of the hashing methods, one panel per dataset; with ``--from-results``
    the hamming rows of a table2 experiment's runs instead of training again (see :func:`_figure3_from_source`)."""
    if plan.options.source is not None:
        results, note = _figure3_from_source(plan)
    else:
        store = ResultStore(plan.out, plan.options.fresh)
        train_planned(plan, store, modes=("hamming",))
        results, note = store.results, ""
    summary = summarize(results)
    atomic_write_text(plan.out / "summary.csv", summary.to_csv(index=False))
    for protocol in plan.config["protocols"]:
        recall_curves(summary, plan, "hamming", f"Figure 3: Hamming-space retrieval ({protocol} protocol)",
                      f"figure3_{protocol}.png", protocol)
    piv = summary[summary["metric"].str.startswith("recall@")].copy()
    piv["cell"] = [fmt(m, s, n) for m, s, n in zip(piv["mean"], piv["std"], piv["n"], strict=True)]
    table = piv.pivot_table(index=["label", "protocol", "variant"], columns="metric", values="cell", aggfunc="first",
                            sort=False)
    table = table[sorted(table.columns, key=lambda c: int(c.split("@")[1]))]
    text = f"{heading(plan, 'figure3')}\n\n{note}" + md_table(table) + "\n"
    atomic_write_text(plan.out / "table.md", text)
    return text


# Keys of a source run's config that may differ from figure3's own. Only train.threads: it sets torch's intra-op
# thread count, i.e. how fast a run goes; no setting of the method depends on it. It changes only the order in which
# multi-threaded scatter-adds sum (tests/training/test_trainer.py), i.e. float rounding, as any rerun with more than
# one thread does anyway. One table2 folder may mix counts (results/table2-ml1m: seed 0 with 2, later seeds 1).
# Everything else can change the codes (eval.n_candidates too: validation picks the best epoch with it).
IGNORED_KEYS = frozenset({"train.threads"})


def load_figure3_source(plan: Plan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The hamming rows of the plan's datasets × methods in ``plan.options.source`` (a table2 output folder) and
    their ``runs.csv`` rows, in a trained figure3's order, after checking that those runs are the ones figure3
    would train; :class:`ConfigError` naming the file and what is missing or different otherwise.

    Valid because figure3 evaluates ``hamming`` only and table2 evaluates it with the same ns and protocols on the
    same models: a trained figure3 and table2's hamming rows are equal (tests/experiments/test_figure3_source.py).
    """
    source = plan.options.source
    assert source is not None
    results, runs = (_read_csv(source / name) for name in ("results.csv", "runs.csv"))
    rows = _order_as_trained(plan, _source_hamming_rows(plan, results, source / "results.csv"))
    runs = _order_as_trained(plan, _source_runs(plan, runs, rows, source / "runs.csv"))
    _check_method_settings(plan, source / "experiment.json")
    return rows, runs


def _figure3_from_source(plan: Plan) -> tuple[pd.DataFrame, str]:
    """Write the source's checked rows as this folder's ``results.csv`` / ``runs.csv`` and name the source in
    ``command.txt`` / ``experiment.json``; returns the rows and the note for ``table.md``."""
    rows, runs = load_figure3_source(plan)
    atomic_write_text(plan.out / "results.csv", rows.to_csv(index=False))
    atomic_write_text(plan.out / "runs.csv", runs.to_csv(index=False))
    return rows, _record_source(plan, rows, plan.options.source)


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ConfigError(f"--from-results {path.parent}: no {path.name} there (give the --out folder of "
                          "`hashgnn experiment table2`)")
    return pd.read_csv(path)


def _listing(values: pd.Series) -> str:
    return ", ".join(str(v) for v in dict.fromkeys(values)) or "none"


def _source_hamming_rows(plan: Plan, results: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Hamming rows of every (dataset, method) of the plan and its seeds, with figure3's ns; ConfigError naming
    what ``path`` has when a dataset, method, seed, n or protocol is missing."""
    # variant == method: a trained figure3 records each method under its own name; a row whose variant differs
    # was trained with extra overrides (a sweep) and is not what figure3 would train
    ham = results[(results["mode"] == "hamming") & (results["variant"] == results["method"])]
    picked = []
    for dataset, _ in plan.datasets:
        of_dataset = ham[ham["dataset"] == dataset]
        if of_dataset.empty:
            raise ConfigError(f"{path}: no hamming rows of dataset {dataset}; it has hamming rows of: "
                              f"{_listing(ham['dataset'])}")
        for method in plan.methods:
            rows = of_dataset[of_dataset["method"] == method]
            if rows.empty:
                raise ConfigError(f"{path}: no hamming rows of {method} on {dataset}; methods with hamming rows "
                                  f"there: {_listing(of_dataset['method'])} (choose with --methods)")
            rows = rows[rows["seed"].isin(_source_seeds(plan, rows, path, f"{method} on {dataset}"))]
            picked.append(_with_figure3_metrics(plan, rows, path, f"{method} on {dataset}"))
    return pd.concat(picked, ignore_index=True)


def _source_seeds(plan: Plan, rows: pd.DataFrame, path: Path, what: str) -> list[int]:
    """All seeds ``rows`` have, or exactly 0..N-1 when ``--seeds N`` was given (an error if one is missing)."""
    present = sorted(int(s) for s in rows["seed"].unique())
    if plan.options.seeds is None:
        return present
    missing = [s for s in range(plan.options.seeds) if s not in present]
    if missing:
        raise ConfigError(f"{path}: --seeds {plan.options.seeds} needs seeds 0..{plan.options.seeds - 1} of {what}, "
                          f"seed(s) {missing} are not there (it has {present}; omit --seeds to use those)")
    return list(range(plan.options.seeds))


def _with_figure3_metrics(plan: Plan, rows: pd.DataFrame, path: Path, what: str) -> pd.DataFrame:
    """``rows`` cut to figure3's ns (metrics without a cut-off, e.g. ``users``, kept), as a trained figure3 would
    record them; ConfigError when a seed lacks Recall@n of one of figure3's ns or protocols."""
    cut = rows["metric"].str.partition("@")[2]
    rows = rows[(cut == "") | cut.isin([str(n) for n in plan.config["ns"]])]
    need = {(p, f"recall@{n}") for p in plan.config["protocols"] for n in plan.config["ns"]}
    for seed, of_seed in rows.groupby("seed"):
        missing = sorted(need - set(zip(of_seed["protocol"], of_seed["metric"], strict=True)))
        if missing:
            shown = ", ".join(f"{m} ({p})" for p, m in missing[:4])
            raise ConfigError(f"{path}: {what} seed {seed} has no hamming {shown}"
                              f"{' …' if len(missing) > 4 else ''}; figure3 needs n = {plan.config['ns']} "
                              f"and protocols {plan.config['protocols']}")
    return rows


def _source_runs(plan: Plan, runs: pd.DataFrame, rows: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The ``runs.csv`` rows of the picked (dataset, method, seed), each checked against the RunConfig figure3
    would train; one ConfigError listing every differing key (figure3 != source) and the runs concerned."""
    picked: list[pd.DataFrame] = []
    bad: list[str] = []
    diffs: dict[str, None] = {}  # ordered set: each differing key once, however many runs show it
    for dataset, method, seed in rows[["dataset", "method", "seed"]].drop_duplicates().itertuples(index=False):
        run = runs[(runs["dataset"] == dataset) & (runs["variant"] == method) & (runs["method"] == method)
                   & (runs["seed"] == seed)]
        if run.empty:
            raise ConfigError(f"{path}: no run of {method} seed {seed} on {dataset}, so its settings cannot be "
                              "checked")
        expected = run_config(plan, dataset, int(seed))
        for text in run["config"]:
            diff = [d for d in config_differences(expected, _run_config_of(text, path)) if
                    d.split(":")[0] not in IGNORED_KEYS]
            if diff:
                bad.append(f"{method} seed {seed}")
                diffs.update(dict.fromkeys(diff))
        picked.append(run)
    if bad:
        raise ConfigError(f"{path}: {len(bad)} run(s) ({', '.join(bad[:4])}{' …' if len(bad) > 4 else ''}) were "
                          f"made with other settings than figure3 would use (figure3 != source): "
                          f"{'; '.join(diffs)} — give figure3 the --set values of that experiment")
    return pd.concat(picked, ignore_index=True)


def _run_config_of(text: str, path: Path) -> RunConfig:
    # keys a source config lacks did not exist when it ran: from_dict gives them their defaults, which keep the
    # behaviour from before the key existed (e.g. train.quant_weight = 0)
    try:
        return RunConfig.from_stored(json.loads(text))
    except (json.JSONDecodeError, ConfigError) as exc:
        raise ConfigError(f"{path}: unreadable config column ({exc})") from None


def _check_method_settings(plan: Plan, path: Path) -> None:
    """Per-method overrides/params (``method_settings``) are applied after the recorded config, so runs.csv does
    not show them: compare the source experiment's with figure3's for every plan method."""
    if not path.is_file():
        raise ConfigError(f"{path}: missing, so the per-method settings of those runs cannot be checked")
    theirs = json.loads(path.read_text()).get("config", {}).get("method_settings", {})
    ours = plan.config.get("method_settings", {})
    differ = [m for m in plan.methods if theirs.get(m, {}) != ours.get(m, {})]
    if differ:
        raise ConfigError(f"{path}: method_settings of {', '.join(differ)} differ from figure3's "
                          f"({[theirs.get(m, {}) for m in differ]} != {[ours.get(m, {}) for m in differ]})")


def _order_as_trained(plan: Plan, df: pd.DataFrame) -> pd.DataFrame:
    """Rows in a trained figure3's order (datasets, seeds, then methods as the plan lists them)."""
    rank_d = {d: i for i, (d, _) in enumerate(plan.datasets)}
    rank_m = {m: i for i, m in enumerate(plan.methods)}
    order = df.assign(_d=df["dataset"].map(rank_d), _m=df["method"].map(rank_m))
    order = order.sort_values(["_d", "seed", "_m"], kind="stable")
    return order.drop(columns=["_d", "_m"]).reset_index(drop=True)


_SOURCE_NOTE = "Not trained here:"


def _record_source(plan: Plan, rows: pd.DataFrame, source: Path) -> str:
    """Name the source in ``command.txt`` and ``experiment.json``; returns the note for ``table.md``."""
    meta = source / "experiment.json"
    name = json.loads(meta.read_text()).get("experiment", "?") if meta.is_file() else "?"
    command_file = source / "command.txt"
    # a folder filled over several invocations (resumed, or processes with disjoint --methods) lists them all
    theirs = ([line for line in command_file.read_text().splitlines() if line.strip() and not line.startswith("#")]
              if command_file.is_file() else [])
    seeds = {f"{d} {m}": sorted(int(s) for s in g["seed"].unique())
             for (d, m), g in rows.groupby(["dataset", "method"], sort=False)}
    write_meta(plan, {"source": str(source), "source_experiment": name, "source_commands": theirs,
                      "seeds": sorted({s for v in seeds.values() for s in v}), "source_seeds": seeds})
    cited = (f"its command: `{theirs[0]}`" if len(theirs) == 1
             else f"its {len(theirs)} invocations in `{command_file}`" if theirs else "no command.txt")
    said = (f"{_SOURCE_NOTE} the `hamming` rows of the runs of the {name} experiment in `{source}` "
            f"({cited}), checked to have figure3's settings.")
    # '#': the file stays runnable commands; a rebuild replaces the note (the source may have grown since)
    commands = [line for line in (plan.out / "command.txt").read_text().splitlines()
                if not line.startswith(f"# {_SOURCE_NOTE}")]
    atomic_write_text(plan.out / "command.txt", "\n".join([*commands, f"# {said}"]) + "\n")
    kinds = {tuple(v) for v in seeds.values()}
    by = (f"{list(kinds.pop())} for every method" if len(kinds) == 1
          else "; ".join(f"{k}: {v}" for k, v in seeds.items()))
    return f"{said} Seeds: {by}.\n\n"


EXPERIMENT = Experiment("figure3", run_figure3, runs=figure3_runs, check_source=load_figure3_source)
