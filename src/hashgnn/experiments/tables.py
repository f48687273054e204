"""The experiments of paper section 5, each ``run_<name>(plan) -> markdown`` writing CSV + Markdown + PNG under
``plan.out`` (see :mod:`hashgnn.experiments.runner` for the run/record machinery)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hashgnn.config import RunConfig, config_differences
from hashgnn.errors import ConfigError
from hashgnn.experiments.paper import METRICS, TABLE4_SECONDS, table2_reference, table3_reference
from hashgnn.experiments.runner import (
    Plan,
    ResultStore,
    fmt,
    headline,
    md_table,
    pyplot,
    run_config,
    savefig,
    summarize,
    train_and_evaluate,
    write_meta,
)
from hashgnn.experiments.status import planned_runs
from hashgnn.io_utils import atomic_write_text
from hashgnn.models.baselines import CONTINUOUS
from hashgnn.training.rundir import cpu_info, describe_cpu

LOG_COLS = ("label", "method", "seed", "iteration", "loss", "auc_h", "auc_z")
HEADERS = {"recall@50": "HR@50", "recall@100": "HR@100", "ndcg@50": "NDCG@50", "ndcg@100": "NDCG@100"}


def _method_table(summary: pd.DataFrame, plan: Plan, protocol: str, reference, ref_name: str) -> str:
    """Markdown: one row per method, per dataset the four metrics as ``ours (paper)``."""
    lines = []
    for dataset, label in plan.datasets:
        sub = summary[(summary["dataset"] == dataset) & (summary["protocol"] == protocol)]
        if sub.empty:
            continue
        lines += [f"\n#### {label} — protocol `{protocol}`\n",
                  "| method | search | " + " | ".join(f"{HEADERS[m]} (paper)" for m in METRICS) + " |",
                  "|---|---|" + "---|" * len(METRICS)]
        for variant in dict.fromkeys(sub["variant"]):
            cells = []
            rows = sub[sub["variant"] == variant]
            mode = rows["mode"].iloc[0]
            ref = reference(dataset, variant)
            for metric in METRICS:
                r = rows[rows["metric"] == metric]
                ours = fmt(r["mean"].iloc[0], r["std"].iloc[0], int(r["n"].iloc[0])) if len(r) else "–"
                cells.append(f"{ours} ({ref[metric]:.3f})" if ref else ours)
            search = {"hierarchical": "HieS", "continuous": "CeS"}.get(mode, mode)
            lines.append(f"| {variant} | {search} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\n(paper) = {ref_name}; cells are mean ± std over seeds.\n"


def _timing_table(store: ResultStore) -> tuple[pd.DataFrame, str]:
    """Mean seconds per method: its own training, the shared GraphSage stage it reused, their sum (what the
    method costs trained alone), evaluation; as ``timing.csv`` and Markdown."""
    runs = store.runs.copy()
    # runs.csv written before the GraphSage stage was shared has no such column: nothing was reused then
    runs["shared_seconds"] = runs.get("shared_seconds", pd.Series(0.0, index=runs.index)).fillna(0.0)
    runs["total_seconds"] = runs["train_seconds"] + runs["shared_seconds"]
    cols = ["train_seconds", "shared_seconds", "total_seconds", "eval_seconds", "epochs_run"]
    t = runs.groupby(["label", "variant"], sort=False)[cols].mean().reset_index()
    atomic_write_text(store.out / "timing.csv", t.to_csv(index=False))
    lines = ["| dataset | method | train s (own) | reused GraphSage s | total s | eval s | epochs |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.label} | {r.variant} | {r.train_seconds:.1f} | {r.shared_seconds:.1f} | {r.total_seconds:.1f} "
              f"| {r.eval_seconds:.1f} | {r.epochs_run:.0f} |" for r in t.itertuples()]
    lines.append("\nGraphSage, LSH and HashGNN_sp share one GraphSage per dataset and seed: the run that trains it "
                 "counts it in its own train s, the others list it as reused GraphSage s; total = own + reused is "
                 "what the method costs trained alone. The experiment's true wall time is in `wall_time.txt`.")
    return t, "\n".join(lines) + "\n"


def _curves(summary: pd.DataFrame, plan: Plan, mode: str, title: str, path_name: str, protocol: str) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(plan.datasets), figsize=(5.5 * len(plan.datasets), 4), squeeze=False)
    for ax, (dataset, label) in zip(axes[0], plan.datasets, strict=True):
        sub = summary[(summary["dataset"] == dataset) & (summary["mode"] == mode) & (summary["protocol"] == protocol)
                      & summary["metric"].str.startswith("recall@")]
        for variant in dict.fromkeys(sub["variant"]):
            r = sub[sub["variant"] == variant].copy()
            r["n_"] = r["metric"].str.split("@").str[1].astype(int)
            r = r.sort_values("n_")
            ax.errorbar(r["n_"], r["mean"], yerr=r["std"].fillna(0), marker="o", capsize=2, label=variant)
        ax.set(title=f"{label}", xlabel="n (top-n)", ylabel=f"Recall@n ({mode}, {protocol})")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    savefig(fig, plan.out / path_name)


def _bars_vs_paper(summary: pd.DataFrame, plan: Plan, reference, path_name: str, title: str) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(plan.datasets), figsize=(6 * len(plan.datasets), 4), squeeze=False)
    for ax, (dataset, label) in zip(axes[0], plan.datasets, strict=True):
        sub = summary[(summary["dataset"] == dataset) & (summary["metric"] == "recall@50")
                      & (summary["protocol"] == "standard")]
        variants = list(dict.fromkeys(sub["variant"]))
        x = np.arange(len(variants))
        ours = [sub[sub["variant"] == v]["mean"].iloc[0] for v in variants]
        err = [np.nan_to_num(sub[sub["variant"] == v]["std"].iloc[0]) for v in variants]
        paper = [(reference(dataset, v) or {}).get("recall@50", np.nan) for v in variants]
        ax.bar(x - 0.2, ours, 0.4, yerr=err, label="ours (standard protocol)")
        ax.bar(x + 0.2, paper, 0.4, label="paper")
        ax.set_xticks(x, variants, rotation=45, ha="right", fontsize=8)
        ax.set(title=label, ylabel="HR(Recall)@50")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    savefig(fig, plan.out / path_name)


def _loop(plan: Plan, store: ResultStore, after_run: Callable[[], object] | None = None, **kw) -> None:
    """Every (dataset, seed, method) of the plan (:func:`~hashgnn.experiments.status.planned_runs`); ``after_run``
    is called after each run trained here (not after the ones skipped as already stored), so that a long
    experiment's tables show the runs finished so far. With ``--jobs N`` > 1 the runs not yet stored are trained
    by N worker processes (:mod:`hashgnn.experiments.parallel`)."""
    if plan.options.jobs > 1:
        from hashgnn.experiments.parallel import run_parallel

        todo = [s for s in planned_runs(plan) if not store.done(s.dataset, s.variant, s.seed)]
        run_parallel(plan, todo, plan.options.jobs, after_run, **kw)
        return
    for spec in planned_runs(plan):
        before = store.added
        train_and_evaluate(plan, store, spec.dataset, spec.label, spec.seed, spec.method, variant=spec.variant,
                           extra=list(spec.extra), **kw)
        if after_run is not None and store.added > before:
            after_run()


def run_table2(plan: Plan, reference=None, ref_name: str = "Table 2 of the paper") -> str:
    """All methods × datasets × seeds; Table 2 (hierarchical column: continuous search for methods without
    codes), timing per method, Figure 3-style Hamming curves as a by-product. The table and plots are rewritten
    after every run, so an experiment stopped part-way leaves them up to date with its stored runs."""
    store = ResultStore(plan.out, plan.options.fresh)
    reference = reference or table2_reference
    _loop(plan, store, after_run=lambda: _write_table2(plan, store, reference, ref_name))
    return _write_table2(plan, store, reference, ref_name)


def _write_table2(plan: Plan, store: ResultStore, reference, ref_name: str) -> str:
    summary = summarize(store.results)
    atomic_write_text(plan.out / "summary.csv", summary.to_csv(index=False))
    head = summarize(headline(store.results, CONTINUOUS))
    md = [_heading(plan, plan.name) + "\n"]
    for protocol in plan.config["protocols"]:
        md.append(_method_table(head, plan, protocol, reference, ref_name))
    md.append("\nHieS = hierarchical search (Hamming top-M, re-ranked by z); CeS = continuous search, used for the "
              "methods without codes (MF, PTE, BiNE, GraphSage, LightGCN_eq7, LightGCN).\n")
    _, timing = _timing_table(store)
    md.append("\n## Training time per method\n\n" + timing)
    text = "\n".join(md)
    atomic_write_text(plan.out / "table.md", text)
    _bars_vs_paper(head, plan, reference, "recall50_vs_paper.png", f"{plan.name}: HR@50, ours vs paper")
    if (store.results["mode"] == "hamming").any():
        _curves(summary, plan, "hamming", "Hamming-space retrieval (HamR)", "hamming_recall_at_n.png",
                plan.config["protocols"][0])
    return text


def _heading(plan: Plan, name: str) -> str:
    """The table's title: the experiment's description, and the datasets actually run when ``--datasets`` chose
    others than the description's defaults (so a Figure 4/6 run on MovieLens-1M does not read as Gowalla's)."""
    text = f"# {name}: {plan.config['description']}"
    chosen = plan.options.datasets
    if chosen and list(chosen) != list(plan.config["datasets"]):
        text += f"\n\nThis run: {', '.join(label for _, label in plan.datasets)} (chosen with --datasets)."
    return text


def run_table3(plan: Plan) -> str:
    """Table 3's method list on the substitute set (a given train/test split); paper's Alibaba numbers beside."""
    return run_table2(plan, lambda dataset, method: table3_reference(method),
                      "Table 3 of the paper (Alibaba, a different dataset: compare orderings, not values)")


def run_figure3(plan: Plan) -> str:
    """Hamming-space Recall@n (n = 10..100) of the hashing methods, one panel per dataset; with ``--from-results``
    the hamming rows of a table2 experiment's runs instead of training again (see :func:`_figure3_from_source`)."""
    if plan.options.source is not None:
        results, note = _figure3_from_source(plan)
    else:
        store = ResultStore(plan.out, plan.options.fresh)
        _loop(plan, store, modes=("hamming",))
        results, note = store.results, ""
    summary = summarize(results)
    atomic_write_text(plan.out / "summary.csv", summary.to_csv(index=False))
    for protocol in plan.config["protocols"]:
        _curves(summary, plan, "hamming", f"Figure 3: Hamming-space retrieval ({protocol} protocol)",
                f"figure3_{protocol}.png", protocol)
    piv = summary[summary["metric"].str.startswith("recall@")].copy()
    piv["cell"] = [fmt(m, s, n) for m, s, n in zip(piv["mean"], piv["std"], piv["n"], strict=True)]
    table = piv.pivot_table(index=["label", "protocol", "variant"], columns="metric", values="cell", aggfunc="first",
                            sort=False)
    table = table[sorted(table.columns, key=lambda c: int(c.split("@")[1]))]
    text = f"{_heading(plan, 'figure3')}\n\n{note}" + md_table(table) + "\n"
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
        return RunConfig.from_dict(json.loads(text))
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


def _stored_curve(log: pd.DataFrame, dataset: str, method: str, seed: int) -> pd.DataFrame:
    if log.empty:
        return log
    return log[(log["dataset"] == dataset) & (log["method"] == method) & (log["seed"] == seed)]


def run_figure4_6(plan: Plan) -> str:
    """Training loss (Figure 4) and held-out AUC (Figure 6) along iterations, guided STE vs STE."""
    store = ResultStore(plan.out, plan.options.fresh)
    log_path = plan.out / "training_log.csv"
    # the curves are the product here: a stored run is reused only together with its logged curve
    old = pd.read_csv(log_path) if log_path.exists() and not plan.options.fresh else pd.DataFrame()
    logs = []
    for spec in planned_runs(plan):
        dataset, label, method, seed = spec.dataset, spec.label, spec.method, spec.seed
        kept = _stored_curve(old, dataset, method, seed)
        if len(kept) and store.done(dataset, method, seed):
            print(f"[{plan.name}] skip {dataset} {method} seed {seed}: run and curve already in {plan.out}")
            logs.extend(kept.to_dict("records"))
            continue
        model = train_and_evaluate(plan, store, dataset, label, seed, method, keep_model=True)
        for row in model.log:
            logs.append({"dataset": dataset, "label": label, "method": method, "seed": seed, **row})
    log = pd.DataFrame(logs)
    atomic_write_text(log_path, log.to_csv(index=False))
    plt = pyplot()
    names = {"HashGNN_nr": "guided STE (HashGNN_nr)", "Hash_ste": "STE (Hash_ste)"}
    for fig_name, cols, ylabel in (("figure4_loss.png", ["loss"], "training loss (eq. 7)"),
                                   ("figure6_auc.png", ["auc_h", "auc_z"], "held-out AUC")):
        fig, axes = plt.subplots(1, len(plan.datasets), figsize=(6 * len(plan.datasets), 4), squeeze=False)
        for ax, (dataset, label) in zip(axes[0], plan.datasets, strict=True):
            for (method, seed), g in log[log["dataset"] == dataset].groupby(["method", "seed"], sort=False):
                for col in cols:
                    if col in g:
                        kind = "" if col == "loss" else f" [{'codes h' if col == 'auc_h' else 'z'}]"
                        ax.plot(g["iteration"], g[col], label=f"{names.get(method, method)}{kind} s{seed}")
            ax.set(title=label, xlabel="iteration", ylabel=ylabel)
            ax.legend(fontsize=7)
        fig.suptitle(("Figure 4: " if "loss" in cols else "Figure 6: ") + "guided STE vs STE")
        savefig(fig, plan.out / fig_name)
    last = log.groupby(["label", "method", "seed"], sort=False).tail(1)
    text = (f"{_heading(plan, 'figure4_6')}\n\nLast logged values:\n\n"
            + md_table(last[[c for c in LOG_COLS if c in last]], index=False) + "\n")
    atomic_write_text(plan.out / "table.md", text)
    return text


def _sweep_table(plan: Plan, store: ResultStore) -> pd.DataFrame:
    """The stored points' hierarchical-search summary, each tagged with its swept ``param`` and ``value_``."""
    key_of = {spec.variant: spec.param for spec in planned_runs(plan)}
    res = store.results
    summary = summarize(res[res["mode"] == "hierarchical"])
    summary["param"] = [key_of.get(v, ("?", None))[0] for v in summary["variant"]]
    summary["value_"] = [key_of.get(v, ("?", None))[1] for v in summary["variant"]]
    atomic_write_text(plan.out / "summary.csv", summary.to_csv(index=False))
    return summary


def run_figure7(plan: Plan) -> str:
    """HashGNN with fixed p (``model.fixed_p``) vs the dynamic schedule; hierarchical search. Table and plot are
    rewritten after every run, so a sweep stopped part-way shows the points stored so far."""
    store = ResultStore(plan.out, plan.options.fresh)
    _loop(plan, store, after_run=lambda: _write_figure7(plan, store))
    return _write_figure7(plan, store)


def _write_figure7(plan: Plan, store: ResultStore) -> str:
    summary = _sweep_table(plan, store)
    plt = pyplot()
    protocol = plan.config["protocols"][0]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("recall@50", "recall@100"), strict=True):
        for dataset, label in plan.datasets:
            s = summary[(summary["dataset"] == dataset) & (summary["metric"] == metric)
                        & (summary["protocol"] == protocol)]
            fixed = s[s["variant"] != "dynamic"].sort_values("value_", key=lambda c: c.astype(float))
            line = ax.errorbar(fixed["value_"].astype(float), fixed["mean"], yerr=fixed["std"].fillna(0), marker="o",
                               capsize=2, label=f"{label}: fixed p")
            dyn = s[s["variant"] == "dynamic"]["mean"]
            if len(dyn):
                ax.axhline(float(dyn.iloc[0]), linestyle="--", color=line[0].get_color(), label=f"{label}: dynamic p")
        ax.set(xlabel="fixed p", ylabel=f"{HEADERS[metric]} (HieS, {protocol})", title=f"Figure 7: {HEADERS[metric]}")
        ax.invert_xaxis()
        ax.legend(fontsize=8)
    savefig(fig, plan.out / "figure7.png")
    return _sweep_markdown(plan, summary, "figure7")


def run_figure5(plan: Plan) -> str:
    """Sensitivity of HashGNN to λ, the number of triplets per node and K (paper 5.6); table and plot rewritten
    after every run, as Figure 7's."""
    store = ResultStore(plan.out, plan.options.fresh)
    _loop(plan, store, after_run=lambda: _write_figure5(plan, store))
    return _write_figure5(plan, store)


def _write_figure5(plan: Plan, store: ResultStore) -> str:
    sweeps: dict[str, list] = plan.config["sweeps"]
    summary = _sweep_table(plan, store)
    plt = pyplot()
    protocol = plan.config["protocols"][0]
    fig, axes = plt.subplots(1, len(sweeps), figsize=(5 * len(sweeps), 4), squeeze=False)
    titles = {"train.lam": "trade-off λ", "train.triplets": "triplets per node", "model.n_bits": "code length K"}
    for ax, key in zip(axes[0], sweeps, strict=True):
        for dataset, label in plan.datasets:
            for metric in ("recall@50", "ndcg@50"):
                s = summary[(summary["dataset"] == dataset) & (summary["param"] == key) & (summary["metric"] == metric)
                            & (summary["protocol"] == protocol)].sort_values("value_", key=lambda c: c.astype(float))
                ax.errorbar(s["value_"].astype(float), s["mean"], yerr=s["std"].fillna(0), marker="o", capsize=2,
                            label=f"{label} {HEADERS[metric]}")
        ax.set(title=f"Sensitivity to {titles.get(key, key)}", xlabel=key, ylabel=f"HieS metric ({protocol})")
        if key == "model.n_bits":
            ax.set_xscale("log", base=2)
        ax.legend(fontsize=8)
    savefig(fig, plan.out / "figure5.png")
    return _sweep_markdown(plan, summary, "figure5")


def _sweep_markdown(plan: Plan, summary: pd.DataFrame, name: str) -> str:
    s = summary[summary["metric"].isin(METRICS)].copy()
    s["cell"] = [fmt(m, sd, n) for m, sd, n in zip(s["mean"], s["std"], s["n"], strict=True)]
    table = s.pivot_table(index=["label", "protocol", "variant"], columns="metric", values="cell", aggfunc="first",
                          sort=False)
    text = (f"{_heading(plan, name)}\n\nHierarchical search; the paper gives these only as plots.\n\n"
            + md_table(table[[m for m in METRICS if m in table.columns]]) + "\n")
    atomic_write_text(plan.out / "table.md", text)
    return text


TABLE4_MODES = {"continuous": "CeS", "hierarchical": "HieS", "hamming": "HamR"}


def run_table4(plan: Plan) -> str:
    """All-user top-100 search time of CeS / HieS / HamR on HashGNN embeddings; ratios CeS / mode."""
    from hashgnn.evaluation.search import build_index, search_users

    store = ResultStore(plan.out, plan.options.fresh)
    rows = []
    repeats = int(plan.config.get("repeats", 3))
    machine = describe_cpu(cpu_info())
    for spec in planned_runs(plan):
        dataset, label = spec.dataset, spec.label
        model = train_and_evaluate(plan, store, dataset, label, spec.seed, spec.method, keep_model=True)
        emb = model.embeddings()
        cfg = model.config
        users = np.arange(model.split.interactions.n_users)
        for mode in TABLE4_MODES:
            build_index(emb, mode, cfg.eval.n_candidates, cfg.eval.tie_seed)  # built once, outside the timing
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                search_users(emb, users, 100, mode, None, cfg.eval.n_candidates, cfg.eval.tie_seed)
                times.append(time.perf_counter() - t0)
            rows.append({"dataset": dataset, "label": label, "mode": mode, "n_candidates": cfg.eval.n_candidates,
                         "seconds": float(np.min(times)), "seconds_mean": float(np.mean(times)),
                         "users": len(users), "items": emb.item_z.shape[0], "repeats": repeats,
                         "cpu": machine, "threads": torch.get_num_threads()})
    df = pd.DataFrame(rows)
    if df.empty:
        raise ConfigError("table4: no dataset was run")
    ces = df[df["mode"] == "continuous"].set_index("dataset")["seconds"]
    df["speedup_vs_CeS"] = [ces[d] / s for d, s in zip(df["dataset"], df["seconds"], strict=True)]
    atomic_write_text(plan.out / "table4.csv", df.to_csv(index=False))
    return write_table4(plan, store, df)


def write_table4(plan: Plan, store: ResultStore, df: pd.DataFrame) -> str:
    """``table.md`` and ``table4.png`` from the timings ``df`` (``table4.csv``) and the recall rows in ``store``."""
    lines = [_heading(plan, "table4") + "\n",
             "| search | " + " | ".join(f"{lab} ours s (×) | paper s (×)" for _, lab in plan.datasets) + " |",
             "|---|" + "---|---|" * len(plan.datasets)]
    for mode, name in TABLE4_MODES.items():
        cells = []
        for dataset, _ in plan.datasets:
            r = df[(df["dataset"] == dataset) & (df["mode"] == mode)].iloc[0]
            ref = TABLE4_SECONDS.get(dataset)
            paper = (f"{ref[mode]:.1f} (×{ref['continuous'] / ref[mode]:.1f})" if ref else "–")
            cells.append(f"{r.seconds:.3f} (×{r.speedup_vs_CeS:.1f}) | {paper}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(f"\nOurs: best of the repeats, top-100 for every user, no exclusion, index built beforehand, "
                 f"HieS re-ranking M = {_table4_values(df, 'n_candidates')} Hamming candidates; measured on "
                 f"{_table4_values(df, 'cpu')}, {_table4_values(df, 'threads')} threads. The paper's: linear scans "
                 "in Python 3.6 on a laptop. Compare the ratios, not the seconds: they depend on the CPU's vector "
                 "extensions (the Hamming scan most).\n")
    lines += _table4_quality(plan, store, TABLE4_MODES)
    text = "\n".join(lines)
    atomic_write_text(plan.out / "table.md", text)
    _plot_table4(plan, df)
    return text


def _plot_table4(plan: Plan, df: pd.DataFrame) -> None:
    # log scale: MovieLens-1M's bars are 40x shorter than the others' on a linear one
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    x = np.arange(len(plan.datasets))
    for k, (mode, name) in enumerate(TABLE4_MODES.items()):
        rows = [df[(df["dataset"] == d) & (df["mode"] == mode)].iloc[0] for d, _ in plan.datasets]
        bars = ax.bar(x + (k - 1) * 0.27, [r.seconds for r in rows], 0.27, label=name)
        if mode != "continuous":
            ax.bar_label(bars, [f"×{r.speedup_vs_CeS:.1f}" for r in rows], fontsize=7, padding=2)
    ax.set_yscale("log")
    ax.set_xticks(x, [lab for _, lab in plan.datasets], fontsize=8)
    ax.set(ylabel="seconds, all users, top-100 (log scale)",
           title="Table 4: search time by mode (bar labels: speed-up over CeS)")
    ax.legend(loc="upper left")  # the smallest dataset comes first: its corner is free
    savefig(fig, plan.out / "table4.png")


def _table4_values(times: pd.DataFrame, column: str) -> str:
    """A column of the timings, one value or each dataset's (older table4.csv files lack cpu / threads)."""
    if column not in times:
        return "an unrecorded CPU" if column == "cpu" else "unrecorded"
    per = times.drop_duplicates("dataset")
    values = sorted(set(per[column].astype(str)))
    if len(values) == 1:
        return values[0]
    return ", ".join(f"{getattr(r, column)} ({r.label})" for r in per.itertuples())


def _table4_quality(plan: Plan, store: ResultStore, names: dict[str, str]) -> list[str]:
    """Recall@50 of each search mode on the test set and its ratio to CeS's (what HieS gives up for speed)."""
    res = store.results
    lines = ["Test Recall@50 of the same HashGNN model by search mode (ratio to CeS):\n",
             "| search | " + " | ".join(f"{lab} ({p})" for _, lab in plan.datasets for p in plan.config["protocols"])
             + " |", "|---|" + "---|" * len(plan.datasets) * len(plan.config["protocols"])]
    for mode in names:
        cells = []
        for dataset, _ in plan.datasets:
            for protocol in plan.config["protocols"]:
                pick = res[(res["dataset"] == dataset) & (res["metric"] == "recall@50") & (res["protocol"] == protocol)]
                by_mode = pick.groupby("mode")["value"].last()
                value, ces = by_mode.get(mode, np.nan), by_mode.get("continuous", np.nan)
                cells.append(f"{value:.4f} ({value / ces:.0%})")
        lines.append(f"| {names[mode]} | " + " | ".join(cells) + " |")
    return lines


RUNNERS = {"table2": run_table2, "table3": run_table3, "figure3": run_figure3, "figure4_6": run_figure4_6,
           "figure5": run_figure5, "figure7": run_figure7, "table4": run_table4}
