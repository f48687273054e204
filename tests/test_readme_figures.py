"""README figures against the committed machine-written files they come from (issue 29).

Hand-typed numbers drift from their files (Table 3's paper column, a Figure 7 sentence did); every check here
recomputes a README figure from a committed CSV / JSON and fails when the two disagree. Tables are found by an
anchor line above them and compared cell by cell, rounded as the README prints them. Figures not covered here
are listed in results/README.md ("Which figures are checked").
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
README = ROOT / "README.md"
RESULTS_README = RESULTS / "README.md"


def md_table(text: str, anchor: str) -> list[list[str]]:
    """Rows (cells stripped of ``**`` and spaces) of the first markdown table after the first line containing
    ``anchor``; the header row first, the ``|---|`` row dropped."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if anchor in line), None)
    assert start is not None, f"anchor {anchor!r} not found"
    i = next(j for j in range(start, len(lines)) if lines[j].startswith("|"))  # the anchor may be the header
    rows = []
    while i < len(lines) and lines[i].startswith("|"):
        cells = [c.strip().replace("**", "") for c in lines[i].strip().strip("|").split("|")]
        if not all(re.fullmatch(r":?-+:?", c) for c in cells):
            rows.append(cells)
        i += 1
    return rows


def metric(folder: str, variant: str, metric_name: str = "recall@50", mode: str = "hierarchical",
           protocol: str = "standard", seed: int | None = 0) -> float | list[float]:
    """One stored value of ``results/<folder>/results.csv``, or every seed's (sorted by seed) if ``seed`` is None."""
    r = pd.read_csv(RESULTS / folder / "results.csv")
    r = r[(r["variant"] == variant) & (r["mode"] == mode) & (r["protocol"] == protocol)
          & (r["metric"] == metric_name)]
    if seed is None:
        return r.sort_values("seed")["value"].tolist()
    values = r[r["seed"] == seed]["value"].tolist()
    assert len(values) == 1, (folder, variant, metric_name, mode, protocol, seed, values)
    return float(values[0])


def num(cell: str) -> float:
    """The first number of a cell (``0.271``, ``0.331 ± 0.001``, ``5.17 %``, ``0.313 (×1.0)``)."""
    found = re.search(r"-?\d+(?:,\d{3})*(?:\.\d+)?", cell)
    assert found, cell
    return float(found.group(0).replace(",", ""))


def decimals(cell: str) -> int:
    found = re.search(r"\d+\.(\d+)", cell)
    return len(found.group(1)) if found else 0


def same(cell: str, value: float) -> bool:
    """The cell shows ``value`` rounded to the cell's own number of decimals (half-way either way)."""
    d = decimals(cell)
    return abs(num(cell) - value) <= 0.5 * 10 ** -d + 1e-12


# --- README.md: the `make run` table and its provenance --------------------------------------------------------

MAKE_RUN = RESULTS / "make-run" / "make-run.json"
SEARCH = {"HamR": "hamming", "HieS": "hierarchical", "CeS": "continuous"}


def make_run() -> dict:
    return json.loads(MAKE_RUN.read_text())


def test_make_run_file_records_its_provenance():
    run = make_run()
    assert run["command"].startswith("hashgnn train --dataset movielens-1m --preset plus-softmax")
    assert re.fullmatch(r"[0-9a-f]{40}", run["git_commit"]) and isinstance(run["git_dirty"], bool)
    assert run["started"] < run["finished"] and run["cpu_model"] and isinstance(run["simd"], list)
    config = json.loads((RESULTS / "make-run" / "config.json").read_text())
    # the file is a run of the preset `make run` trains, with `make run`'s patience
    makefile = (ROOT / "Makefile").read_text()
    preset = re.search(r"hashgnn train --dataset movielens-1m --preset (\S+)", makefile).group(1)
    assert f"--preset {preset} " in run["command"]
    from hashgnn.config import RunConfig, preset_overrides

    expected = RunConfig().override(["data.dataset=movielens-1m", *preset_overrides(preset), "train.patience=40",
                                     "train.threads=1"])
    assert RunConfig.from_dict(config) == expected


def test_readme_make_run_table_is_the_file():
    run, text = make_run(), README.read_text()
    rows = md_table(text, "### What `make run` does and prints")
    assert rows[0] == ["search", "protocol", "Recall@50", "Recall@100", "NDCG@50", "NDCG@100"]
    assert len(rows) == 5
    for search, protocol, *cells in rows[1:]:
        stored = run["test"][SEARCH[search]][protocol]
        for cell, key in zip(cells, ("recall@50", "recall@100", "ndcg@50", "ndcg@100"), strict=True):
            assert cell == f"{stored[key]:.4f}", (search, protocol, key, cell, stored[key])


def test_readme_make_run_provenance_sentence_is_the_file():
    run, text = make_run(), " ".join(README.read_text().split())
    minutes, seconds = divmod(round(run["wall_seconds"]), 60)
    valid = run["valid"]["by_mode"]
    for phrase in (f"commit {run['git_commit'][:7]}", f"**{minutes} min {seconds} s**",
                   f"training {run['train_seconds']:,.0f} s", f"peak RSS {run['peak_rss_bytes'] / 1e9:.1f} GB",
                   f"on {run['started'][:10]}", run["cpu"],
                   f"best validation epoch {run['best_epoch']} of {run['epochs_run']}",
                   f"validation Recall@50 HieS {valid['hierarchical']['standard']['recall@50']:.4f}, "
                   f"HamR {valid['hamming']['standard']['recall@50']:.4f}"):
        assert phrase in text, phrase
    assert ("a dirty tree" in text) == run["git_dirty"]


def _plus_softmax_means() -> dict[str, list[float]]:
    runs = pd.read_csv(RESULTS / "core-ml1m-plus-softmax" / "runs.csv")
    runs = runs[runs["protocol"] == "standard"].sort_values("seed")
    pick = {"gs": ("GraphSage", "CeS"), "hies": ("HashGNN", "HieS (M = 200)"), "hamr": ("HashGNN", "HamR")}
    return {k: runs[(runs["method"] == m) & (runs["search"] == s)]["recall@50"].tolist() for k, (m, s) in pick.items()}


def test_readme_three_seed_sentence_is_the_file():
    v, text = _plus_softmax_means(), " ".join(README.read_text().split())
    gs, hies, hamr = (np.mean(v[k]) for k in ("gs", "hies", "hamr"))
    per_seed = " / ".join(f"{100 * a / b:.0f}" for a, b in zip(v["hamr"], v["gs"], strict=True))
    for phrase in (f"{100 * hies / gs:.1f} % of its continuous GraphSage counterpart's Recall@50 ({hies:.4f} vs "
                   f"{gs:.4f}", f"Hamming ranking {100 * hamr / gs:.1f} % ({hamr:.4f}; per seed {per_seed} %)"):
        assert phrase in text, phrase


# --- results/README.md --------------------------------------------------------------------------------------------


def test_results_readme_plus_softmax_table_is_the_file():
    v = _plus_softmax_means()
    rows = md_table(RESULTS_README.read_text(), "## `core-ml1m-plus-softmax/`")
    body = rows[1:]
    for seed, row in enumerate(body[:3]):
        assert row[0] == str(seed)
        expected = [v["gs"][seed], v["hies"][seed], 100 * v["hies"][seed] / v["gs"][seed], v["hamr"][seed],
                    100 * v["hamr"][seed] / v["gs"][seed]]
        assert all(same(c, e) for c, e in zip(row[1:], expected, strict=True)), (row, expected)
    mean = body[3]
    gs, hies, hamr = (np.mean(v[k]) for k in ("gs", "hies", "hamr"))
    expected = [gs, hies, 100 * hies / gs, hamr, 100 * hamr / gs]
    assert mean[0] == "mean" and all(same(c, e) for c, e in zip(mean[1:], expected, strict=True)), (mean, expected)


def test_table3_paper_column_is_the_papers_table():
    from hashgnn.experiments.paper import TABLE3_PERCENT

    rows = md_table(RESULTS_README.read_text(), "## `table3/`")
    header = rows[0]
    col = {name: header.index(name) for name in ("Recall@50", "NDCG@50", "HamR Recall@50",
                                                 "paper (Alibaba) HR@50")}
    checked = 0
    for row in rows[1:]:
        method = row[0].split(" (")[0]
        paper = row[col["paper (Alibaba) HR@50"]]
        if method in TABLE3_PERCENT:
            assert paper == f"{TABLE3_PERCENT[method][0]:.2f} %", (method, paper)
            checked += 1
        else:
            assert paper == "", (method, paper)  # beyond the paper: no paper value to show
        mode = "hierarchical" if metric("table3", method, mode="hamming", seed=None) else "continuous"
        assert same(row[col["Recall@50"]], metric("table3", method, mode=mode)), method
        assert same(row[col["NDCG@50"]], metric("table3", method, "ndcg@50", mode=mode)), method
        if row[col["HamR Recall@50"]]:
            assert same(row[col["HamR Recall@50"]], metric("table3", method, mode="hamming")), method
    assert checked == len(TABLE3_PERCENT)


FIGURE7 = {"ml1m": "figure7-ml1m/` — Figure 7", "gowalla": "figure7-gowalla/` — Figure 7",
           "amazon-cds": "figure7-amazon-cds/` — Figure 7"}
ROW_METRIC = {"HieS Recall@50": "recall@50", "HieS NDCG@50": "ndcg@50", "HieS Recall@100": "recall@100"}


@pytest.mark.parametrize("dataset", list(FIGURE7))
def test_figure7_tables_are_the_files(dataset: str):
    rows = md_table(RESULTS_README.read_text(), FIGURE7[dataset])
    variants = ["dynamic" if h.startswith("dynamic") else f"p={h}" for h in rows[0][1:]]
    checked = 0
    for row in rows[1:]:
        if row[0] not in ROW_METRIC:
            continue  # training seconds: prose about sessions, not a stored metric
        for cell, variant in zip(row[1:], variants, strict=True):
            assert same(cell, metric(f"figure7-{dataset}", variant, ROW_METRIC[row[0]])), (row[0], variant, cell)
            checked += 1
    assert checked >= 8


def test_figure7_ml1m_sentence_says_where_dynamic_falls():
    """Which fixed p the dynamic schedule is below, as the file says (the README once said "every p ≥ 0.6")."""
    fixed = {float(v[2:]): metric("figure7-ml1m", v) for v in
             ("p=1.0", "p=0.9", "p=0.8", "p=0.7", "p=0.6", "p=0.5", "p=0.4")}
    dynamic = metric("figure7-ml1m", "dynamic")
    above = sorted(p for p, v in fixed.items() if v > dynamic)
    assert above == sorted(p for p in fixed if p >= above[0])  # one threshold describes it
    text = " ".join(RESULTS_README.read_text().split())
    assert f"below every fixed p ≥ {above[0]:.1f}" in text
    assert text.count("below every fixed p ≥") == text.count(f"below every fixed p ≥ {above[0]:.1f}")


FIGURE5 = {"ml1m": "figure5-ml1m/` — parameter sensitivity", "gowalla": "figure5-gowalla/` — parameter sensitivity",
           "amazon-cds": "figure5-amazon-cds/` — parameter sensitivity"}
SWEEP = {"λ": "train.lam={:.1f}", "triplets per node": "train.triplets={}", "K (bits)": "model.n_bits={}"}


@pytest.mark.parametrize("dataset", list(FIGURE5))
def test_figure5_tables_are_the_files(dataset: str):
    text = RESULTS_README.read_text()
    section = text[text.index(FIGURE5[dataset]):]
    runs = pd.read_csv(RESULTS / f"figure5-{dataset}" / "runs.csv")
    for anchor, pattern in SWEEP.items():
        rows = md_table(section, f"| {anchor} |")
        for header, cell in zip(rows[0][1:], rows[1][1:], strict=True):
            value = float(header) if anchor == "λ" else int(header)
            variant = pattern.format(value)
            if variant not in set(runs["variant"]):  # the default point may be stored once, under the K variant
                variant = "model.n_bits=32"
            assert same(cell, metric(f"figure5-{dataset}", variant)), (dataset, variant, cell)


def test_table2_ml1m_table_is_the_file():
    rows = md_table(RESULTS_README.read_text(), "## `table2-ml1m/`")
    assert rows[0][:5] == ["method", "search", "Recall@50", "Recall@100", "NDCG@50"]
    for row in rows[1:]:
        method = row[0].split(" (")[0]
        mode = {"HieS": "hierarchical", "CeS": "continuous"}[row[1]]
        for cell, name in zip(row[2:5], ("recall@50", "recall@100", "ndcg@50"), strict=True):
            values = metric("table2-ml1m", method, name, mode=mode, seed=None)
            assert len(values) == 3
            mean, std = cell.split(" ± ")
            assert same(mean, float(np.mean(values))) and same(std, float(np.std(values, ddof=1))), (method, name)
        if row[5]:
            values = metric("table2-ml1m", method, mode="hamming", seed=None)
            mean, std = row[5].split(" ± ")
            assert same(mean, float(np.mean(values))) and same(std, float(np.std(values, ddof=1))), method


def test_table4_seconds_are_the_file():
    rows = md_table(RESULTS_README.read_text(), "| search | MovieLens-1M s (× vs CeS)")
    table = pd.read_csv(RESULTS / "table4" / "table4.csv")
    columns = {1: "movielens-1m", 3: "gowalla", 5: "amazon-cds"}
    for row in rows[1:]:
        mode = SEARCH[row[0].split(" ")[0]]
        for col, dataset in columns.items():
            stored = table[(table["dataset"] == dataset) & (table["mode"] == mode)].iloc[0]
            seconds, ratio = re.findall(r"[\d.]+", row[col].replace(",", ""))
            assert same(seconds, float(stored["seconds"])) and same(ratio, float(stored["speedup_vs_CeS"])), \
                (mode, dataset, row[col])


# --- how the defaults were chosen: the README states the criterion of each --------------------------------------


def test_results_readme_states_how_each_default_was_chosen():
    rows = md_table(RESULTS_README.read_text(), "## How each default was chosen")
    assert rows[0][:3] == ["default", "chosen on", "validation"]
    criteria = {row[1] for row in rows[1:]}
    assert criteria <= {"test (flagged)", "validation", "not measured (the paper's text)", "no comparison"}
    chosen = {row[0] for row in rows[1:]}
    from hashgnn.config import PRESETS

    makefile = (ROOT / "Makefile").read_text()
    preset = re.search(r"--preset (\S+)", makefile).group(1)
    assert f"`make run` preset (`{preset}`)" in chosen and preset in PRESETS
    run = make_run()
    valid = run["valid"]["by_mode"]
    row = next(r for r in rows[1:] if r[0] == f"`make run` preset (`{preset}`)")
    assert (f"HieS {valid['hierarchical']['standard']['recall@50']:.4f}, "
            f"HamR {valid['hamming']['standard']['recall@50']:.4f}") in row[2]
    assert math.isclose(valid["hierarchical"]["standard"]["recall@50"], run["valid"]["best"])  # the kept epoch's
    section = " ".join(RESULTS_README.read_text().split("## `make-run/`")[1].split("\n## ")[0].split())
    assert f"commit ({run['git_commit'][:7]}, {'dirty' if run['git_dirty'] else 'clean'})" in section
    assert f"({run['valid']['best']:.4f} at epoch {run['best_epoch']})" in section


def test_number_helpers():
    assert same("0.2839", 0.28393) and not same("0.2839", 0.2845)
    assert same("**0.315**", 0.31468) and num("1,405 (39)") == 1405.0 and math.isclose(num("5.17 %"), 5.17)
    rows = md_table("x\nanchor\n\n| a | b |\n|---|---|\n| 1 | **2** |\nafter", "anchor")
    assert rows == [["a", "b"], ["1", "2"]]


# --- what future result folders record ---------------------------------------------------------------------------


def test_experiment_folders_record_command_commit_and_cpu(tmp_path: Path):
    from hashgnn.experiments.runner import Options, make_plan, provenance, write_meta

    plan = make_plan(Options("table2", quick=True, out=tmp_path / "t2", command="hashgnn experiment table2 --quick"))
    write_meta(plan)
    meta = json.loads((tmp_path / "t2" / "experiment.json").read_text())
    assert meta["command"] == "hashgnn experiment table2 --quick" and meta["started"]
    assert meta["git_commit"] == meta["environment"]["git_commit"] and "SIMD" in meta["cpu"]
    assert meta["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", meta["git_commit"])
    row = provenance()  # the per-run columns of runs.csv
    assert set(row) == {"git_commit", "git_dirty", "cpu"} and row["cpu"] == meta["cpu"]


def test_runs_record_validation_numbers_for_model_selection():
    from hashgnn.data.interactions import Interactions
    from hashgnn.data.splits import random_split
    from hashgnn.experiments.runner import validation_columns
    from hashgnn.models.baselines import BASELINES

    rng = np.random.default_rng(0)
    users = rng.integers(0, 30, 500)
    items = (users * 3 + rng.integers(0, 12, 500)) % 60
    split = random_split(Interactions.from_raw(users.astype(np.int64), items.astype(np.int64), name="v"))
    model = BASELINES["MF"](overrides=["eval.valid_n=5", "train.log_every=5"], epochs=3, batch_size=64).fit(split)
    cols = validation_columns(model, split, model.config, ("continuous",))
    assert cols["valid_metric"] == "valid_recall@5" and 1 <= cols["best_epoch"] <= 3
    best = max(h["valid_recall@5"] for h in model.history)
    assert cols["best_valid"] == best
    assert 0.0 <= cols["valid_continuous_recall@50"] <= 1.0 and "valid_continuous_ndcg@50" in cols
    assert not any(k.startswith("test") for k in cols)
