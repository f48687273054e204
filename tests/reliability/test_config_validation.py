"""Impossible settings fail before any work starts, listing what is valid: through the CLI (exit status 2 and
one ``error:`` line, no run directory written) and through the Python API (ConfigError)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashgnn.cli import main
from hashgnn.config import RunConfig
from hashgnn.errors import ConfigError, HashGNNError

# (CLI arguments, Python override or None, words the message must contain)
BAD = [
    (["--bits", "12"], {"model.n_bits": 12}, ["multiple of 8", "12"]),
    (["--bits", "-8"], {"model.n_bits": -8}, ["multiple of 8"]),
    (["--set", "train.lam=-0.1"], {"train.lam": -0.1}, ["train.lam", ">= 0"]),
    (["--set", "train.lam=NaN"], {"train.lam": float("nan")}, ["train.lam", "finite"]),
    (["--set", "train.lam=abc"], {"train.lam": "abc"}, ["train.lam", "number"]),
    (["--set", "model.p0=1.5"], {"model.p0": 1.5}, ["model.p0", "[0, 1]"]),
    (["--set", "model.fixed_p=-0.2"], {"model.fixed_p": -0.2}, ["model.fixed_p", "[0, 1]"]),
    (["--set", "model.p_min=2"], {"model.p_min": 2}, ["model.p_min", "[0, 1]"]),
    (["--set", "eval.ns=[0,50]"], {"eval.ns": [0, 50]}, ["cut-offs", "> 0"]),
    (["--set", "eval.valid_n=-1"], {"eval.valid_n": -1}, ["> 0"]),
    (["--set", "eval.n_candidates=0"], {"eval.n_candidates": 0}, ["> 0"]),
    (["--set", "train.triplets=0"], {"train.triplets": 0}, ["train.triplets", "> 0"]),
    (["--epochs", "0"], {"train.epochs": 0}, ["train.epochs", "> 0"]),
    (["--batch-size", "-5"], {"train.batch_size": -5}, ["train.batch_size", "> 0"]),
    (["--set", "train.threads=-1"], {"train.threads": -1}, ["train.threads", "> 0"]),
    (["--set", "train.patience=0"], {"train.patience": 0}, ["train.patience", "> 0"]),
    (["--set", "train.quant_start=0"], {"train.quant_start": 0}, ["train.quant_start", "> 0"]),
    (["--set", "model.n_bits=\"32\""], {"model.n_bits": "32"}, ["model.n_bits", "integer"]),
    (["--set", "model.dims=[16,0]"], {"model.dims": [16, 0]}, ["model.dims", "positive"]),
    (["--method", "bogus"], None, ["unknown method", "guided", "ste", "hashnet", "gumbel", "continuous"]),
    (["--set", "model.encoder=gin"], {"model.encoder": "gin"}, ["unknown encoder", "sage", "gcn"]),
    (["--set", "model.activation=gelu"], {"model.activation": "gelu"}, ["activation", "relu", "tanh"]),
    (["--set", "model.guide=bit"], {"model.guide": "bit"}, ["model.guide", "element", "node"]),
    (["--set", "train.rank_loss=ce"], {"train.rank_loss": "ce"}, ["train.rank_loss", "hinge", "bpr"]),
    (["--set", "train.shared_negatives=64"], {"train.shared_negatives": 64},
     ["train.shared_negatives", "softmax"]),
    (["--set", "train.distill_weight=-1"], {"train.distill_weight": -1}, ["train.distill_weight", ">= 0"]),
    (["--set", "train.shared_negatives=-1"], {"train.shared_negatives": -1}, ["train.shared_negatives", ">= 0"]),
    (["--set", "train.lr_schedule=step"], {"train.lr_schedule": "step"}, ["train.lr_schedule", "cosine"]),
    (["--set", "train.lr_min=1"], {"train.lr_min": 1}, ["train.lr_min", "train.lr"]),
    (["--set", "split.kind=weird"], {"split.kind": "weird"}, ["split kind", "random"]),
    (["--set", "split.test_ratio=1.5"], {"split.test_ratio": 1.5}, ["split.test_ratio"]),
    (["--set", "eval.valid_mode=fast"], {"eval.valid_mode": "fast"}, ["eval.valid_mode", "hamming"]),
    (["--set", "data.format=xml"], {"data.format": "xml"}, ["data.format", "table", "adjacency"]),
    (["--set", "train.device=tpu"], {"train.device": "tpu"}, ["train.device", "cpu", "cuda"]),
    (["--set", "train.nonsense=1"], {"train.nonsense": 1}, ["unknown config key", "lam", "epochs"]),
    (["--set", "bogus.key=1"], {"bogus.key": 1}, ["unknown config section", "model", "train"]),
    (["--set", "train.lam"], None, ["section.key=value"]),
    (["--set", "train.quant_weight=-1"], {"train.quant_weight": -1}, ["train.quant_weight", ">= 0"]),
    (["--preset", "best"], None, ["unknown preset", "paper", "paper-literal", "official-options", "plus",
                                  "plus-softmax"]),
    (["--preset", "official"], None, ["renamed", "official-options"]),
]


def _cli_error(args: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2, capsys.readouterr()
    captured = capsys.readouterr()
    lines = [line for line in captured.err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


@pytest.mark.parametrize("args,overrides,words", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_cli_rejects_impossible_settings(args, overrides, words, tiny_csv_path: Path, tmp_path: Path, capsys,
                                         monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # one error line, not wrapped
    out = tmp_path / "run"
    line = _cli_error(["train", "--dataset", str(tiny_csv_path), "--out", str(out), "--no-progress", *args], capsys)
    for word in words:
        assert word in line, (word, line)
    assert not out.exists()  # failed before any work


@pytest.mark.parametrize("args,overrides,words", [b for b in BAD if b[1] is not None],
                         ids=[" ".join(b[0]) for b in BAD if b[1] is not None])
def test_python_api_rejects_impossible_settings(args, overrides, words):
    from hashgnn.recommender import HashGNN

    with pytest.raises(ConfigError) as info:
        HashGNN(overrides=overrides)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_python_api_keyword_arguments_are_validated():
    from hashgnn.recommender import HashGNN

    for kwargs, word in (({"n_bits": 20}, "multiple of 8"), ({"method": "nope"}, "guided"),
                         ({"encoder": "nope"}, "sage"), ({"lam": -1.0}, "train.lam"), ({"epochs": 0}, "epochs"),
                         ({"lr": 0.0}, "train.lr"), ({"device": "gpu"}, "cpu")):
        with pytest.raises(ConfigError, match=word):
            HashGNN(**kwargs)


def test_unknown_dataset_lists_choices(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    out = tmp_path / "run"
    line = _cli_error(["train", "--dataset", "movielens-2m", "--out", str(out), "--no-progress"], capsys)
    assert "unknown dataset 'movielens-2m'" in line and "movielens-1m" in line and "gowalla" in line
    assert not out.exists()
    from hashgnn.recommender import HashGNN

    with pytest.raises(HashGNNError, match="movielens-1m"):
        HashGNN(epochs=1).fit("movielens-2m", run_dir=tmp_path / "run2")
    assert not (tmp_path / "run2").exists()


def test_missing_file_dataset_is_named(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    line = _cli_error(["train", "--dataset", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "r")], capsys)
    assert "nope.csv" in line and "not found" in line


def test_recommend_rejects_k_le_0(trained_run: Path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    for k in ("0", "-3"):
        line = _cli_error(["recommend", str(trained_run), "--user", "u1", "--k", k], capsys)
        assert "k must be between 1 and" in line and f"got {k}" in line


def test_config_json_with_bad_types_is_rejected(tmp_path: Path):
    path = tmp_path / "config.json"
    data = RunConfig().to_dict()
    data["model"]["n_bits"] = "thirty-two"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="model.n_bits must be an integer"):
        RunConfig.from_json(path).validate()


def plan_run_configs(plan: dict, quick: bool) -> list[RunConfig]:
    """Every RunConfig an experiment plan (``hashgnn/experiments/configs/*.json``) implies: its split and
    overrides (with ``quick``'s appended, as :func:`hashgnn.experiments.plan.make_plan` merges them), each
    method's own settings and each sweep point; raises ConfigError at the first impossible one."""
    from hashgnn.models.baselines import BASELINES, canonical_name

    extra = plan.get("quick", {}) if quick else {}
    merged = {**plan, **{k: v for k, v in extra.items() if k not in ("overrides", "params")}}
    base = RunConfig().override([*merged.get("split", []), *plan.get("overrides", []), *extra.get("overrides", [])])
    points = [[f"{key}={json.dumps(v)}" for v in values] for key, values in merged.get("sweeps", {}).items()]
    points.append([f"model.fixed_p={json.dumps(p)}" for p in merged.get("fixed_p", [])])
    configs = [base.validate(), *(base.override([o]).validate() for group in points for o in group)]
    for method in merged["methods"]:
        settings = plan.get("method_settings", {}).get(canonical_name(method), {})
        configs.append(base.override(list(settings.get("overrides", []))).validate())
    for method in merged["methods"]:
        assert canonical_name(method) in BASELINES, method
    return configs


def test_every_default_and_experiment_plan_is_valid():
    RunConfig().validate()
    from hashgnn.experiments.plan import CONFIG_DIR, EXPERIMENTS, load_experiment_config

    # every experiment of the runner has its plan file (other JSON files there have their own loaders and tests)
    paths = [Path(CONFIG_DIR) / f"{name}.json" for name in EXPERIMENTS]
    assert all(p.is_file() for p in paths) and len(paths) >= 7
    for path in paths:
        plan = load_experiment_config(path.stem)
        with pytest.raises(ConfigError):  # a plan is not a run config: loading it as one must fail loudly
            RunConfig.from_json(path)
        for quick in (False, True):
            configs = plan_run_configs(plan, quick)
            assert len(configs) >= 1 + len(plan["methods"]), (path.name, quick)
    figure5 = plan_run_configs(load_experiment_config("figure5"), quick=False)
    assert {c.train.lam for c in figure5} >= {0.0, 0.5, 1.0} and {c.model.n_bits for c in figure5} >= {8, 64}
    figure7 = plan_run_configs(load_experiment_config("figure7"), quick=False)
    assert {c.model.fixed_p for c in figure7} == {None, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4}


@pytest.mark.parametrize("broken", [{"overrides": ["train.nonsense=1"]}, {"sweeps": {"train.lam": [-1.0]}},
                                    {"fixed_p": [1.5]}, {"quick": {"overrides": ["model.n_bits=12"]}},
                                    {"method_settings": {"HashGNN": {"overrides": ["train.triplets=0"]}}}])
def test_an_impossible_experiment_plan_is_caught(broken: dict):
    from hashgnn.experiments.plan import load_experiment_config

    plan = {**load_experiment_config("figure5"), **broken}
    with pytest.raises(ConfigError):
        plan_run_configs(plan, quick="quick" in broken)


def test_presets_are_valid_and_resolve_in_order():
    from hashgnn.cli.train import build_config
    from hashgnn.config import PRESETS

    for name in PRESETS:
        RunConfig().override(list(PRESETS[name])).validate()
    cfg = build_config(None, "movielens-100k", None, None, None, None, None, None, ["train.quant_weight=0.5"],
                       "plus")
    assert (cfg.model.guide, cfg.train.rank_loss, cfg.model.activation) == ("node", "bpr", "leaky_relu")
    assert (cfg.train.z_weight, cfg.model.score_scale) == (1.0, 0.25)
    assert cfg.train.quant_weight == 0.5  # --set wins over the preset
    best = build_config(None, "movielens-100k", None, None, None, None, None, None, [], "plus-softmax")
    assert (best.model.guide, best.train.rank_loss, best.train.triplets) == ("element", "softmax", 20)
    assert (best.train.z_weight, best.model.score_scale, best.model.activation) == (1.0, 0.25, "leaky_relu")
    assert build_config(None, "movielens-100k", None, None, None, None, None, None, [], "paper") == \
        RunConfig().override(["data.dataset=movielens-100k"]).validate()
    literal = build_config(None, "movielens-100k", None, None, None, None, None, None, [], "paper-literal")
    assert (literal.train.batch_size, literal.train.lr) == (256, 1e-3)  # the paper's 5.2.3, not the CPU defaults
    assert literal.model.schedule_unit == "step"  # and its iteration-counted p schedule
    # what `paper` deviates in: a batch that adapts to the data (8192 on the paper's sets), and epochs
    assert (RunConfig().train.batch_size, RunConfig().train.lr, RunConfig().model.schedule_unit) == (None, 1e-2,
                                                                                                     "epoch")
    options = build_config(None, "movielens-100k", None, None, None, None, None, None, [], "official-options")
    # three options of the released code, and its objective's weights and negatives deliberately not taken
    assert (options.model.activation, options.model.guide, options.train.rank_loss) == ("leaky_relu", "node", "bpr")
    assert (options.train.lam, options.train.triplets) == (0.5, 5)


def test_one_setting_has_one_config_json_however_it_is_spelt():
    # stored runs are recognised by their config JSON: λ written 0 and 0.0 is one setting
    assert RunConfig().override(["train.lam=0"]).to_json() == RunConfig().override(["train.lam=0.0"]).to_json()
    cfg = RunConfig().override(["train.lam=1", "model.fixed_p=1", "train.triplets=5"])
    assert (type(cfg.train.lam), type(cfg.model.fixed_p), type(cfg.train.triplets)) == (float, float, int)
    assert RunConfig().override(["train.debias=true"]).train.debias is True  # a bool is not a number here
