"""Is a trained model any good? A most-popular reference ranking and a health report on its hash codes.

Recall figures alone do not say whether a model learned anything: on a user's own log there is no paper row to
compare with. Two references make a table readable:

* **popularity** — every user gets the items most often seen in training, ranked by that count, under the
  ``standard`` protocol (the user's train and validation items excluded, ties broken by the evaluation's tie
  rule). A model that does not beat it learned nothing a count could not.
* **code health** — distinct user and item codes, constant bits, bit balance, and the share of items that ever
  appear in some user's top-k. Codes that collapse to a handful of patterns make Hamming search rank by chance;
  the usual cause is a run too short for the binarizer's schedule (guided STE trains on the continuous z until p
  has decayed), and the warning says so with the setting to change, in the schedule's own unit
  (``model.schedule_unit``: epochs by default, steps for the paper's iteration count).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from hashgnn.data.splits import Split
from hashgnn.defaults import DEFAULT_CANDIDATES
from hashgnn.models.base import Embeddings

if TYPE_CHECKING:
    from hashgnn.config import RunConfig

POPULARITY = "popularity"
#: below this share of distinct item (or user) codes, or with more than half the bits constant, codes collapsed
MIN_DISTINCT_SHARE = 0.5
#: guided STE's p at which most of a code's elements train in the binary regime; the schedule suggested for
#: collapsed codes is the slowest that reaches it within the run
TARGET_P = 0.5
PAPER_BATCH = 256


def seen_rows(split: Split, part: str) -> np.ndarray:
    """Rows a model may know before ranking ``part``: train for ``valid``; train and validation for ``test``."""
    return split.train_idx if part == "valid" else np.concatenate([split.train_idx, split.valid_idx])


def popularity_embeddings(split: Split, part: str = "test") -> Embeddings:
    """A one-dimensional model whose inner product is an item's count in :func:`seen_rows`: ranking by it is
    the most-popular baseline, so evaluation, exclusion and tie rule are the models' own."""
    inter = split.interactions
    counts = np.bincount(inter.items[seen_rows(split, part)], minlength=inter.n_items)
    return Embeddings(np.ones((inter.n_users, 1), dtype=np.float32), counts.astype(np.float32)[:, None])


def evaluate_popularity(split: Split, part: str = "test", ns: tuple[int, ...] = (20, 50, 100),
                        tie_seed: int | None = 0, max_users: int | None = None) -> dict[str, dict[str, float]]:
    """``{"standard": {"recall@50": ...}}`` of the most-popular ranking on ``part`` of ``split``."""
    from hashgnn.evaluation.protocol import evaluate_part

    results = evaluate_part(popularity_embeddings(split, part), split, part, modes=("continuous",), ns=ns,
                            protocols=("standard",), tie_seed=tie_seed, max_users=max_users)
    return results["continuous"]


def code_stats(packed: np.ndarray, n_bits: int) -> dict[str, float | int]:
    """Distinct codes, constant bits and bit balance (1 = every bit set for half the nodes, 0 = all constant)."""
    from hashgnn.index import unpack_codes

    ones = (unpack_codes(packed, n_bits) > 0).mean(axis=0) if len(packed) else np.zeros(n_bits)
    distinct = len(np.unique(packed, axis=0))
    return {"count": int(len(packed)), "distinct_codes": int(distinct),
            "distinct_share": distinct / max(1, len(packed)),
            "constant_bits": int(((ones == 0) | (ones == 1)).sum()),
            "bit_balance": float(1.0 - np.abs(2.0 * ones - 1.0).mean())}


def _part_users(split: Split, part: str, max_users: int | None) -> np.ndarray:
    """The users :func:`hashgnn.evaluation.protocol.evaluate_part` scores, by the same sampling rule."""
    truth_rows = split.test_idx if part == "test" else split.valid_idx
    users = np.unique(split.interactions.users[truth_rows])
    if max_users is not None and len(users) > max_users:
        users = np.sort(np.random.default_rng(0).choice(users, max_users, replace=False))
    return users


def items_in_top_k(emb: Embeddings, split: Split, part: str = "test", k: int = 50, mode: str = "hamming",
                   n_candidates: int = DEFAULT_CANDIDATES, tie_seed: int | None = 0,
                   max_users: int | None = None, batch_users: int = 8192) -> float:
    """Share of items in at least one evaluated user's top-``k`` (``standard`` protocol exclusions)."""
    from hashgnn.evaluation.search import search_users

    inter = split.interactions
    seen = inter.select(seen_rows(split, part)).to_csr()
    users = _part_users(split, part, max_users)
    k = min(k, inter.n_items)
    hit = np.zeros(inter.n_items, dtype=bool)
    for start in range(0, len(users), batch_users):
        b = users[start:start + batch_users]
        ids, _ = search_users(emb, b, k, mode, seen[b], n_candidates, tie_seed)
        hit[ids[ids >= 0]] = True
    return float(hit.mean()) if inter.n_items else 0.0


def schedule_end(config: RunConfig, steps: int | None, n_train: int,
                 ended_at: int | None = None) -> dict[str, float]:
    """The binarizer's schedule values (p, β or τ) after ``steps`` optimiser steps on ``n_train`` train edges
    (which, with the batch, give the steps per epoch of a schedule in epochs); ``ended_at``: the iteration a
    validation plateau ended the schedule at (``train.end_schedule_on_plateau``), if it did."""
    from hashgnn.models.hashing import build_binarizer

    if steps is None:
        return {}
    binarizer = build_binarizer(config.model.method, **config.model.binarizer_kwargs())
    binarizer.steps_per_epoch = config.train.steps_per_epoch(n_train)
    binarizer.ended_at = ended_at
    binarizer.step(int(steps))
    return {k: float(v) for k, v in binarizer.state().items()}


def health_report(emb: Embeddings, split: Split, config: RunConfig, results: dict, popularity: dict,
                  part: str = "test", steps: int | None = None, k: int | None = None,
                  schedule_ended_at: int | None = None) -> dict[str, Any]:
    """Code statistics, top-k coverage, the schedule's end state and the warnings they call for.

    Args:
        emb: The trained embeddings (with codes or continuous-only).
        split: The split evaluated.
        config: The run's :class:`~hashgnn.config.RunConfig`.
        results: ``{mode: {protocol: metrics}}`` of the model on ``part``.
        popularity: :func:`evaluate_popularity` on the same part.
        steps: Optimiser steps the model trained for (``training.json``'s ``iterations``), if known.
        k: Cut-off of the coverage and of the popularity comparison (default ``eval.valid_n``).
        schedule_ended_at: The iteration a validation plateau ended the binarizer's schedule at
            (``training.json``; ``train.end_schedule_on_plateau``), None if the schedule ran on.
    """
    k = k or config.eval.valid_n
    mode = "hamming" if emb.has_codes else "continuous"
    report: dict[str, Any] = {"n_bits": emb.n_bits, "steps": steps, "schedule_ended_at": schedule_ended_at,
                              "schedule_end": schedule_end(config, steps, len(split.train_idx), schedule_ended_at)}
    if emb.has_codes:
        report["users"] = code_stats(emb.user_codes, emb.n_bits)
        report["items"] = code_stats(emb.item_codes, emb.n_bits)
    report["items_in_top_k"] = {"k": k, "mode": mode, "share": items_in_top_k(
        emb, split, part, k, mode, config.eval.n_candidates, config.eval.tie_seed, config.eval.max_test_users)}
    report["warnings"] = health_warnings(report, split, config, results, popularity, k)
    return report


def health_warnings(report: dict[str, Any], split: Split, config: RunConfig, results: dict, popularity: dict,
                    k: int) -> list[str]:
    """Each warning names what looks wrong, its likely cause and the setting that fixes it."""
    warnings = []
    collapsed = _collapse_warning(report, split, config)
    if collapsed:
        warnings.append(collapsed)
    weak = _popularity_warning(results, popularity, k, config, len(split.train_idx))
    if weak:
        warnings.append(weak)
    return warnings


def _collapse_warning(report: dict[str, Any], split: Split, config: RunConfig) -> str | None:
    if "items" not in report:
        return None
    sides = [(side, report[side]) for side in ("items", "users")]
    bad = [(side, s) for side, s in sides if s["distinct_share"] < MIN_DISTINCT_SHARE
           or s["constant_bits"] > report["n_bits"] / 2]
    if not bad:
        return None
    what = "; ".join(f"{side[:-1]} codes: {s['distinct_codes']:,} distinct for {s['count']:,} {side}, "
                     f"{s['constant_bits']} of {report['n_bits']} bits constant" for side, s in bad)
    return (f"codes collapsed ({what}): Hamming search sees the items of one code as ties, broken at random. "
            f"{_steps_advice(report, split, config)}")


def _steps_advice(report: dict[str, Any], split: Split, config: RunConfig) -> str:
    """Why codes collapse (a run too short for the schedule) and the schedule, batch or epochs that fit it."""
    steps, m = report.get("steps"), config.model
    n_train = len(split.train_idx)
    batch = config.train.batch_for(n_train)
    per_epoch = config.train.steps_per_epoch(n_train)
    if m.method != "guided" or m.fixed_p is not None or steps is None:
        return ("Likely cause: too little training. Fix: more --epochs, or a smaller --batch-size "
                f"(now {batch:,} edges: {per_epoch:,} steps per epoch).")
    p_end = report["schedule_end"].get("p", 0.0)
    if report.get("schedule_ended_at") is not None:  # the codes did train binary: the schedule is not the cause
        return (f"Likely cause: too little training with binary codes (guided STE's p set to {p_end:.2f} at "
                f"iteration {report['schedule_ended_at']:,} of {steps:,}, when validation stopped improving). "
                "Fix: more --epochs, a smaller --batch-size or another train.lr.")
    decays = math.ceil(math.log(TARGET_P / m.p0) / math.log(m.p_decay)) if m.p0 > TARGET_P and m.p_decay < 1 else 0
    every, unit = m.schedule("p_every"), m.schedule_unit
    ran = steps if unit == "step" else steps / per_epoch  # the run's length in the schedule's unit
    if every * decays <= ran:
        return (f"Likely cause: training too short for this data ({steps:,} steps, guided STE's p at {p_end:.2f}). "
                "Fix: more --epochs, a smaller --batch-size or another train.lr.")
    cause = (f"Likely cause: a run too short for the p schedule — {steps:,} steps ({per_epoch:,} per epoch at "
             f"--batch-size {batch:,}) leave guided STE's p at {p_end:.2f} (×{m.p_decay} every {every:g} {unit}s, "
             f"model.schedule_unit={unit}), so the codes were hardly trained; p reaches {TARGET_P} after "
             f"{every * decays:g} {unit}s.")
    if unit == "epoch":  # more steps an epoch first: on issue 33's logs it gave more codes, a faster p fewer
        return (f"{cause} Fix: a smaller --batch-size (more steps an epoch; now {batch:,}), "
                f"{_activation_advice(m)}--set model.p_every={_round_down(ran / decays):g} (the slowest p that "
                f"reaches {TARGET_P} within the run, in epochs between decays), or more --epochs.")
    epochs = ran / per_epoch
    fixes = [f"--set model.p_every={max(1, int(ran // decays))} (steps between decays)",
             "or count the schedule in epochs, which no batch or data size changes: --set model.schedule_unit=epoch "
             f"--set model.p_every={_round_down(epochs / decays):g}"]
    batch_fit = _power_of_two_below(n_train * epochs / (every * decays))
    if batch_fit >= PAPER_BATCH:
        fixes.insert(0, f"--batch-size {batch_fit:,}")
    return f"{cause} Fix: {', '.join(fixes)}."


def _activation_advice(m: Any) -> str:
    """Leaky ReLU for a ReLU SAGE encoder: on issue 33's three generated logs it was the one change measured to
    raise the distinct item codes on all three, where a faster p lowered them (results/own-data/summary.json)."""
    if m.encoder != "sage" or m.activation != "relu":
        return ""
    return ("--set model.activation=leaky_relu (ReLU units that never fire leave bits constant; on issue 33's "
            "generated logs it gave more distinct codes, a faster p fewer), ")


def _round_down(x: float) -> float:
    """``x`` rounded down to two significant digits: a setting to type that still does what ``x`` does."""
    if x <= 0:
        return x
    unit = 10.0 ** (math.floor(math.log10(x)) - 1)
    return math.floor(x / unit + 1e-9) * unit


def _power_of_two_below(x: float) -> int:
    return 2 ** int(math.floor(math.log2(x))) if x >= 1 else 1


def _popularity_warning(results: dict, popularity: dict, k: int, config: RunConfig, n_train: int) -> str | None:
    key = f"recall@{k}"
    pop = popularity.get("standard", {}).get(key)
    best = {mode: r["standard"][key] for mode, r in results.items() if key in r.get("standard", {})}
    if pop is None or not best:
        return None
    mode, value = max(best.items(), key=lambda kv: kv[1])
    if value > pop:
        return None
    return (f"no search mode beats the most-popular ranking (best {mode} Recall@{k} {value:.4f} vs popularity "
            f"{pop:.4f}): the model learned nothing a count could not. Likely cause: too little training for this "
            f"data. Fix: more --epochs (now {config.train.epochs}), a smaller --batch-size (now "
            f"{config.train.batch_for(n_train):,}) or another train.lr (now {config.train.lr:g}).")


def describe(report: dict[str, Any]) -> list[str]:
    """The report as short lines for a terminal or a log."""
    lines = []
    for side in ("users", "items"):
        s = report.get(side)
        if s:
            lines.append(f"{side}: {s['distinct_codes']:,} distinct codes for {s['count']:,} "
                         f"({s['distinct_share']:.1%}), {s['constant_bits']} of {report['n_bits']} bits constant, "
                         f"bit balance {s['bit_balance']:.2f}")
    cov = report["items_in_top_k"]
    lines.append(f"items in some user's {cov['mode']} top-{cov['k']}: {cov['share']:.1%}")
    if report.get("steps") is not None:
        sched = ", ".join(f"{k} {v:.3g}" for k, v in report["schedule_end"].items())
        lines.append(f"training steps: {report['steps']:,}" + (f" (at the end: {sched})" if sched else ""))
    return lines
