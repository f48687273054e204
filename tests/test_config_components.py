"""A setting that no component of the run reads is an error (issue 31.2): each of them named with the run's choice
and what would read it; a stored config that has one (written before it was an error) still loads, without it;
a preset's or an experiment's shared settings apply only to the runs that have their component."""

from __future__ import annotations

import inspect
import json
import logging
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from hashgnn.components import COMPONENTS, component
from hashgnn.config import OBJECTIVES, PRESETS, READERS, RunConfig, migrate_config
from hashgnn.defaults import ENCODERS, METHODS
from hashgnn.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

#: (the run's components, a setting none of them reads, what reads it) for every setting of
#: :data:`hashgnn.config.READERS`; every component choice that leaves a setting unread appears at least once
IGNORED = [
    (["model.method=ste"], "model.p0=0.5", "model.method=guided"),
    (["model.method=hashnet"], "model.p_decay=0.9", "model.method=guided"),
    (["model.method=gumbel"], "model.p_every=8", "model.method=guided"),
    (["model.method=continuous"], "model.p_min=0.1", "model.method=guided"),
    (["model.method=ste"], "model.fixed_p=0.5", "model.method=guided"),
    (["model.method=hashnet"], "model.guide=node", "model.method=guided"),
    (["model.method=hashnet"], "model.ste_grad=a", "model.method=ste"),
    (["model.method=continuous"], "model.schedule_unit=step", "model.method=hashnet"),
    (["model.method=ste"], "model.schedule_unit=step", "model.method=gumbel"),
    (["model.method=hashnet"], "train.end_schedule_on_plateau=true", "model.method=gumbel"),
    (["model.method=guided"], "model.hashnet_gamma=0.01", "model.method=hashnet"),
    (["model.method=gumbel"], "model.hashnet_every=3", "model.method=hashnet"),
    (["model.method=guided"], "model.gumbel_tau_min=0.2", "model.method=gumbel"),
    (["model.method=hashnet"], "model.gumbel_rate=0.1", "model.method=gumbel"),
    (["model.method=ste"], "model.gumbel_every=2", "model.method=gumbel"),
    (["model.encoder=lightgcn"], "model.dims=[64,32]", "model.encoder=sage"),
    (["model.encoder=gcn"], "model.activation=tanh", "model.encoder=sage"),
    (["model.encoder=lightgcn"], "model.activation=leaky_relu", "model.encoder=sage"),
    (["model.encoder=sage"], "model.num_layers=3", "model.encoder=lightgcn"),
    (["model.encoder=gat"], "model.num_layers=1", "model.encoder=lightgcn"),
    (["model.head=none", "model.method=continuous"], "model.n_bits=64", "model.head=hash"),
    (["model.head=none", "model.method=continuous"], "model.typed_hash=true", "model.head=hash"),
    (["model.head=none", "model.method=continuous"], "model.rerank=encoder", "model.head=hash"),
    (["model.head=none", "model.method=continuous", "train.objective=bpr"], "train.lam=0.1", "eq. 7"),
    (["model.method=continuous", "train.objective=softmax"], "train.rank_loss=bpr", "eq. 7"),
    (["model.method=continuous", "train.objective=bpr"], "train.z_weight=1.0", "eq. 7"),
    (["model.method=continuous", "train.objective=bpr"], "train.quant_weight=0.1", "eq. 7"),
    (["model.method=continuous", "train.objective=bpr"], "train.balance_weight=0.1", "eq. 7"),
    (["model.method=continuous", "train.objective=bpr"], "train.distill_weight=0.1", "eq. 7"),
    (["model.method=continuous", "train.objective=bpr"], "model.score_scale=0.25", "eq. 7"),
    (["model.method=continuous", "train.objective=bpr"], "model.link_bias=true", "eq. 7"),
    (["train.rank_loss=bpr"], "train.margin=0.3", "train.rank_loss=hinge"),
    (["train.rank_loss=softmax"], "train.margin=0.1", "train.rank_loss=hinge"),
    ([], "train.z_scale=0.5", "train.z_weight > 0"),
    ([], "train.quant_start=5", "train.quant_weight > 0"),
    ([], "train.code_weight=2", "a bpr/softmax objective with a hash layer's codes"),
    (["model.method=continuous", "train.objective=softmax"], "train.code_weight=0.5", "hash layer's codes"),
    ([], "train.reg=0.001", "train.objective=bpr or train.objective=softmax"),
    (["train.objective=bpr", "model.method=continuous"], "train.temperature=0.2", "train.objective=softmax"),
    ([], "train.temperature=0.2", "train.objective=softmax"),
]


@pytest.mark.parametrize("components,setting,reader", IGNORED, ids=[f"{c}-{s}" for c, s, _ in IGNORED])
def test_a_setting_no_component_reads_is_an_error_naming_it_the_choice_and_its_reader(components, setting,
                                                                                      reader):
    key = setting.split("=")[0]
    with pytest.raises(ConfigError) as info:
        RunConfig().override([*components, setting]).validate()
    message = str(info.value)
    assert message.startswith(f"{key}=") and "has no effect with" in message and reader in message, message
    for choice in components:  # the run's choice of each component that decides it
        if choice.split("=")[0] in message:
            assert choice in message, message


def test_every_setting_of_the_reader_table_has_an_error_case_and_its_default_is_accepted():
    keys = {key for reader in READERS for key in reader.keys}
    assert keys == {setting.split("=")[0] for _, setting, _ in IGNORED}
    for components, _, _ in IGNORED:  # the components alone, every setting at its default
        RunConfig().override(components).validate()


@pytest.mark.parametrize("kind,name", [(k, n) for k, (_, choices) in COMPONENTS.items() for n in choices])
def test_each_components_schema_is_its_targets_signature(kind: str, name: str):
    entry = component(kind, name)
    params = set(inspect.signature(entry.load()).parameters)
    assert params == {*entry.settings, *entry.bound, *entry.runtime, *entry.fixed}, (kind, name)
    assert not set(entry.settings) & {*entry.bound, *entry.runtime, *entry.fixed}


def test_the_registry_holds_every_valid_choice_and_builds_what_its_schema_says():
    from hashgnn.models.encoders import build_encoder
    from hashgnn.models.hashing import build_binarizer

    assert [tuple(COMPONENTS[k][1]) for k in ("binarizer", "encoder", "objective")] == [METHODS, ENCODERS, OBJECTIVES]
    cfg = RunConfig().override(["model.method=gumbel", "model.gumbel_tau_min=0.3", "model.gumbel_every=2"])
    gumbel = build_binarizer("gumbel", **cfg.model.binarizer_kwargs())
    assert (gumbel.tau_min, gumbel.tau_every, gumbel.rate, gumbel.unit) == (0.3, 2.0, 0.077, "epoch")
    assert build_encoder("lightgcn", 8, (4, 2), num_layers=3, activation="tanh").num_layers == 3
    assert [layer.out_features for layer in build_encoder("sage", 8, (4, 2)).layers] == [4, 2]
    with pytest.raises(ConfigError, match="unknown encoder 'gin'"):
        build_encoder("gin", 8, (4,))


@pytest.mark.parametrize("components,setting", [
    (["model.method=hashnet"], "model.hashnet_gamma=0.01"),
    (["model.method=ste"], "model.ste_grad=a"),
    (["model.method=gumbel"], "model.schedule_unit=step"),
    (["model.method=gumbel"], "train.end_schedule_on_plateau=true"),
    (["model.encoder=lightgcn"], "model.num_layers=3"),
    (["model.encoder=gcn"], "model.dims=[64,32]"),
    (["model.head=none", "model.method=continuous", "model.score_scale=sqrt"], "model.n_bits=64"),
    (["model.encoder=lightgcn", "train.objective=bpr"], "train.lam=0.1"),  # codes under a bpr objective: eq. 7
    (["train.objective=softmax", "model.method=continuous"], "train.temperature=0.2"),
    (["train.z_weight=1.0"], "train.z_scale=0.5"),
    (["train.distill_weight=1.0"], "train.z_scale=0.5"),
    (["train.quant_weight=0.1"], "train.quant_start=5"),
])
def test_the_same_setting_is_accepted_where_its_component_reads_it(components, setting):
    RunConfig().override([*components, setting]).validate()


def _committed(pattern: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", pattern], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / line for line in out.split()]


def _stored_configs(value: object) -> list[dict]:
    """Every RunConfig dict inside a JSON document (a run's config, a record's ``config``)."""
    if isinstance(value, list):
        return [c for v in value for c in _stored_configs(v)]
    if not isinstance(value, dict):
        return []
    own = [value] if isinstance(value.get("model"), dict) and isinstance(value.get("train"), dict) else []
    return own + [c for v in value.values() for c in _stored_configs(v)]


def test_every_committed_run_config_and_results_config_column_loads():
    loaded = 0
    for path in _committed("*.json"):
        for data in _stored_configs(json.loads(path.read_text())):
            RunConfig.from_stored(data).validate()
            loaded += 1
    for path in _committed("results/*runs.csv"):
        runs = pd.read_csv(path)
        for column in ("config", "resolved_config"):
            for text in runs.get(column, pd.Series(dtype=object)).dropna():
                RunConfig.from_stored(json.loads(text)).validate()
                loaded += 1
    assert loaded > 500  # 51 converged records and a run's config.json, ~30 results folders' runs


def _method_configs(overrides: list[str], methods: list[str], settings: dict) -> list[RunConfig]:
    """The config each method of an experiment trains with, built as the experiment builds it."""
    from hashgnn.models.baselines import BASELINES, canonical_name
    from hashgnn.models.baselines.embedding import EmbeddingBaseline

    base = RunConfig().override(overrides).validate()
    configs = [base]
    for method in methods:
        name = canonical_name(method)
        cfg = base.override(list(settings.get(name, {}).get("overrides", [])))
        factory = BASELINES[name]
        if isinstance(factory, type) and not issubclass(factory, EmbeddingBaseline) and name != "LSH":
            configs.append(factory(config=cfg).config)
    return configs


def test_every_experiment_folder_and_plan_builds_each_methods_config():
    from hashgnn.experiments.plan import CONFIG_DIR, EXPERIMENTS, load_experiment_config

    built = 0
    for path in _committed("results/*experiment.json"):
        meta = json.loads(path.read_text())
        settings = meta.get("config", {}).get("method_settings", {})
        built += len(_method_configs(list(meta["overrides"]), list(meta["methods"]), settings))
    for name in EXPERIMENTS:
        plan = load_experiment_config(name)
        assert (Path(CONFIG_DIR) / f"{name}.json").is_file()
        for quick in (False, True):
            extra = plan.get("quick", {}) if quick else {}
            overrides = [*{**plan, **extra}.get("split", []), *plan.get("overrides", []),
                         *extra.get("overrides", [])]
            built += len(_method_configs(overrides, extra.get("methods", plan["methods"]),
                                         plan.get("method_settings", {})))
    assert built > 100


def test_every_preset_and_every_converged_variant_builds(tmp_path: Path):
    from hashgnn.experiments.converged.plan import make_converged_plan, run_config

    for overrides in PRESETS.values():
        RunConfig().override(list(overrides)).validate()
    variants = list(json.loads((ROOT / "src/hashgnn/experiments/configs/converged.json").read_text())["variants"])
    plan = make_converged_plan(None, variants, 1, tmp_path, [])
    assert set(variants) <= set(plan.variants) | set(plan.cascades)
    # the plus-softmax preset's leaky ReLU configures the SAGE encoder, which a LightGCN variant does not have
    cfg = run_config(plan, "movielens-1m", "HashGNN-LightGCN", 0)
    assert cfg.model.encoder == "lightgcn" and cfg.model.activation == "relu" and cfg.model.guide == "element"
    # converged's common settings (model.schedule_unit=step) configure the binarizer LightGCN does not have
    lightgcn = run_config(plan, "movielens-1m", "LightGCN-fast", 0)
    assert lightgcn.model.schedule_unit == "epoch" and run_config(plan, "movielens-1m", "HashGNN", 0
                                                                   ).model.schedule_unit == "step"


def _stored(**model: object) -> dict:
    data = json.loads(json.dumps(RunConfig().to_dict()))
    data["model"].update(model)
    return data


def test_a_stored_run_with_a_setting_no_component_reads_loads_without_it(tmp_path: Path, caplog):
    from hashgnn.training.rundir import RunDir

    stored = _stored(method="hashnet", guide="node", hashnet_every=3.0)  # an experiment's HashNet run, 2026-12
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_json("config.json", stored)  # as a trainer wrote it, checksum and all
    with caplog.at_level(logging.INFO, logger="hashgnn.config"):
        cfg = run.read_config().validate()
    assert (cfg.model.method, cfg.model.guide, cfg.model.hashnet_every) == ("hashnet", "element", 3.0)
    assert "model.guide" in caplog.text and "model.method=hashnet" in caplog.text
    assert cfg == RunConfig().override(["model.method=hashnet", "model.hashnet_every=3"])  # the same run
    # a fresh --set of the same is an error; so is the stored dict read as a fresh config
    with pytest.raises(ConfigError, match="model.guide='node' has no effect with model.method=hashnet"):
        RunConfig().override(["model.method=hashnet", "model.guide=node"]).validate()
    with pytest.raises(ConfigError, match="model.guide"):
        RunConfig.from_dict(stored).validate()


def test_migrating_a_step_era_config_keeps_its_unit_and_leaves_a_clean_config_alone():
    old = _stored(method="guided", p_every=250, hashnet_gamma=0.01)  # before schedule units: counted steps
    del old["model"]["schedule_unit"]
    cfg = RunConfig.from_stored(old).validate()
    assert (cfg.model.schedule_unit, cfg.model.p_every, cfg.model.hashnet_gamma) == ("step", None, None)
    assert cfg == RunConfig().override(["model.schedule_unit=step"])
    clean = _stored(method="ste", ste_grad="a")
    assert migrate_config(clean) is clean
    assert migrate_config({"model": {"nonsense": 1}}) == {"model": {"nonsense": 1}}  # left for from_dict to reject


def test_a_method_leaves_out_its_callers_settings_for_a_component_it_does_not_have():
    from hashgnn.experiments.reuse import _normalized, resolved_json
    from hashgnn.models.baselines.core import HashNet, LightGCN

    base = RunConfig().override(["model.guide=node", "model.activation=leaky_relu", "train.rank_loss=bpr"])
    hashnet = HashNet(config=base)
    assert (hashnet.config.model.guide, hashnet.config.model.activation) == ("element", "leaky_relu")
    lightgcn = LightGCN(config=base).config
    assert (lightgcn.model.activation, lightgcn.train.rank_loss) == ("relu", "hinge")
    # a run stored with the base's settings (before they were dropped) is recognised as the same run
    stored = RunConfig.from_dict(_stored(method="hashnet", guide="node", activation="leaky_relu"))
    stored = json.loads(stored.override(["train.rank_loss=bpr"]).to_json())
    assert _normalized(json.dumps(stored)) == _normalized(resolved_json(hashnet, base))
    # so are the caller's overrides, which are for every method too (one list for all the baselines)
    assert HashNet(overrides=["model.guide=node", "model.hashnet_every=3"]).config == hashnet.config.override(
        ["train.rank_loss=hinge", "model.activation=relu", "model.hashnet_every=3"])


def test_the_cli_leaves_out_a_presets_setting_for_another_component_but_rejects_a_set():
    from hashgnn.cli.train import build_config

    def build(method: str, sets: list[str], preset: str = "plus") -> RunConfig:
        return build_config(None, "movielens-1m", method, None, None, None, None, None, sets, preset)

    assert build("hashnet", []).model.guide == "element" and build("guided", []).model.guide == "node"
    with pytest.raises(ConfigError, match="model.guide='node' has no effect with model.method=hashnet"):
        build("hashnet", ["model.guide=node"], preset="paper")
    with pytest.raises(ConfigError, match="model.n_bits"):
        build_config(None, "movielens-1m", None, 64, None, None, None, None, [], "lightgcn")


def test_every_committed_converged_run_is_still_recognised_as_its_variants_run():
    """The converged experiment trains a run again when its stored config is not the variant's (same_model):
    records stored with a setting their components ignore (model.schedule_unit=step on LightGCN, the preset's
    leaky ReLU on a LightGCN encoder) must still count as trained, so results/converged is not trained again."""
    from hashgnn.experiments.converged.plan import make_converged_plan, run_config
    from hashgnn.experiments.converged.runs import refit_overrides, same_model

    known = json.loads((ROOT / "src/hashgnn/experiments/configs/converged.json").read_text())["variants"]
    checked = migrated = 0
    for path in sorted((ROOT / "results/converged/runs").glob("*/*/converged.json")):
        record, dataset = json.loads(path.read_text()), path.parts[-3]
        variant = record["method"].removesuffix("+refit")
        if "cascade" in known.get(variant, {"cascade": None}):
            continue  # a cascade trains nothing: its record is checked against its sources'
        plan = make_converged_plan([dataset], [variant], 1, ROOT / "results/converged", [])
        cfg = run_config(plan, dataset, variant, record["seed"], refit=variant != record["method"])
        if variant != record["method"]:
            source = json.loads((path.parent.parent / f"{variant}-seed{record['seed']}" / "converged.json"
                                 ).read_text())
            cfg = cfg.override(refit_overrides(source)).validate()
        assert same_model(RunConfig.from_stored(record["config"]), cfg), path
        checked += 1
        migrated += RunConfig.from_dict(record["config"]) != RunConfig.from_stored(record["config"])
    assert checked >= 40 and migrated >= 30, (checked, migrated)


def test_every_committed_experiment_folders_core_runs_are_still_recognised():
    """--reuse and resuming an experiment recognise a stored run by its resolved config (hashgnn.experiments.reuse):
    each core run of the committed results folders, rebuilt from its stored base config, must resolve to what it
    stored (HashNet's model.guide=node from Table 2's overrides is now left out on both sides). LightGCN's rows
    of Table 2 were stored when that name was the eq. 7 variant (LightGCN_eq7 since 2026-12-07)."""
    from hashgnn.experiments.reuse import _normalized, resolved_json
    from hashgnn.models.baselines import BASELINES, HASHING
    from hashgnn.models.baselines.core import CoreBaseline

    same, other = 0, set()
    for path in _committed("results/*runs.csv"):
        runs, meta = pd.read_csv(path), path.with_name("experiment.json")
        settings = json.loads(meta.read_text())["config"].get("method_settings", {}) if meta.is_file() else {}
        if "resolved_config" not in runs:  # written before that column existed: nothing to recognise by
            continue
        for _, row in runs.dropna(subset=["resolved_config"]).iterrows():
            factory = BASELINES.get(row["method"])
            if not (isinstance(factory, type) and (issubclass(factory, CoreBaseline) or row["method"] in HASHING)):
                continue
            base = RunConfig.from_stored(json.loads(row["config"])).override(
                list(settings.get(row["method"], {}).get("overrides", [])))
            model = factory(config=base)
            if _normalized(resolved_json(model, base)) == _normalized(row["resolved_config"]):
                same += 1
            else:
                other.add(row["method"])
    assert same >= 200 and other <= {"LightGCN"}, (same, other)
