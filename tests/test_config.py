"""Schedule units and the adapted batch of hashgnn.config (issue 33): a run of any size goes through the same
schedule, the batch fits the data when it is not set, and configs written before either still mean what they
meant."""

from __future__ import annotations

import json

import pytest

from hashgnn.config import (
    MAX_AUTO_BATCH,
    MIN_AUTO_BATCH,
    MIN_STEPS_PER_EPOCH,
    SCHEDULE_DEFAULTS,
    RunConfig,
    auto_batch_size,
    config_differences,
    preset_overrides,
)
from hashgnn.errors import ConfigError


def _old_config_dict() -> dict:
    """A config.json as written before model.schedule_unit and the adapted batch: every key spelt out, the
    schedule in steps, no gumbel_every (τ's 100-step interval was fixed in the code)."""
    data = RunConfig().to_dict()
    for key in ("schedule_unit", "gumbel_every"):
        del data["model"][key]
    data["model"].update(p_every=250, hashnet_every=200, hashnet_gamma=0.005, gumbel_rate=0.001)
    data["train"]["batch_size"] = 8192
    return json.loads(json.dumps(data))  # as read back from the file


def test_an_old_config_keeps_its_step_schedule_and_batch():
    old = RunConfig.from_dict(_old_config_dict()).validate()
    assert old.model.schedule_unit == "step" and old.train.batch_size == 8192
    kwargs = old.model.binarizer_kwargs()
    assert (kwargs["p_every"], kwargs["p_decay"], kwargs["unit"]) == (250, 0.95, "step")
    for method, expected in (("hashnet", {"gamma": 0.005, "beta_every": 200, "unit": "step"}),
                             ("gumbel", {"tau_min": 0.1, "rate": 0.001, "tau_every": 100, "unit": "step"})):
        other = RunConfig.from_dict({**_old_config_dict(), "model": {**_old_config_dict()["model"],
                                                                      "method": method}})
        assert other.model.binarizer_kwargs() == expected
    # the same settings as asking for the paper's schedule today, so a stored run is recognised as that
    assert config_differences(RunConfig().override(["model.schedule_unit=step", "train.batch_size=8192"]),
                              old) == []


def test_an_old_config_with_its_own_schedule_keeps_it_in_steps():
    data = _old_config_dict()
    data["model"]["p_every"] = 13  # e.g. "one Gowalla epoch" of an experiment plan, in steps
    cfg = RunConfig.from_dict(data)
    assert (cfg.model.schedule_unit, cfg.model.binarizer_kwargs()["p_every"]) == ("step", 13)


def test_a_config_without_schedule_settings_takes_todays_defaults():
    cfg = RunConfig.from_dict({"model": {"n_bits": 64}})  # a hand-written partial config
    assert cfg.model.schedule_unit == "epoch" and cfg.model.binarizer_kwargs()["p_every"] == 3.25
    assert cfg.train.batch_size is None
    assert RunConfig.from_dict(RunConfig().to_dict()) == RunConfig()  # a new config.json reads back as written


def test_each_unit_has_its_defaults_and_a_set_value_wins():
    cfg = RunConfig()
    assert {k: cfg.model.schedule(k) for k in SCHEDULE_DEFAULTS["epoch"]} == SCHEDULE_DEFAULTS["epoch"]
    paper = RunConfig().override(["model.schedule_unit=step"])
    assert paper.model.binarizer_kwargs()["p_every"] == 250  # the unit alone is the paper's schedule
    assert RunConfig().override(["model.p_every=2"]).model.binarizer_kwargs()["p_every"] == 2.0  # epochs
    assert RunConfig().override(preset_overrides("paper-literal")).model.schedule_unit == "step"


@pytest.mark.parametrize(("sets", "words"), [
    (["model.schedule_unit=step", "model.p_every=3.25"], ["model.p_every=3.25", "whole number", "250"]),
    (["model.schedule_unit=iteration"], ["model.schedule_unit", "epoch", "step"]),
    (["model.p_every=0"], ["model.p_every", "> 0"]),
    (["model.hashnet_gamma=-1"], ["model.hashnet_gamma", ">= 0"]),
    (["train.batch_size=0"], ["train.batch_size", "> 0"]),
])
def test_impossible_schedules_are_named(sets, words):
    with pytest.raises(ConfigError) as exc:
        RunConfig().override(sets).validate()
    assert all(w in str(exc.value) for w in words), str(exc.value)


def test_the_batch_adapts_to_the_data_when_not_set():
    # the project's sets keep the batch every result was measured with
    for n_train in (629_540, 644_031, 810_128, 28_000_000):  # ML-1M, Gowalla (2 splits), Alibaba
        assert auto_batch_size(n_train) == MAX_AUTO_BATCH == 8192
    assert auto_batch_size(483_037) == 4096  # Amazon-CDs: 59 steps at 8192, 118 at 4096
    assert auto_batch_size(31_300) == 256  # the 50,000-row log of issue 33: 123 steps an epoch, was 4
    assert auto_batch_size(62_907) == 512  # MovieLens-100K
    assert auto_batch_size(10) == auto_batch_size(4_000) == MIN_AUTO_BATCH == 64  # a tiny log: the floor
    for n_train in range(1, 700_000, 997):
        batch = auto_batch_size(n_train)
        assert batch & (batch - 1) == 0 and MIN_AUTO_BATCH <= batch <= MAX_AUTO_BATCH
        enough = -(-n_train // batch) >= MIN_STEPS_PER_EPOCH
        assert enough or batch == MIN_AUTO_BATCH, n_train
        assert batch == MAX_AUTO_BATCH or -(-n_train // (2 * batch)) < MIN_STEPS_PER_EPOCH  # the largest


def test_a_set_batch_is_kept_and_an_unset_one_is_resolved():
    assert RunConfig().with_batch_for(31_300).train.batch_size == 256
    assert RunConfig().override(["train.batch_size=8192"]).with_batch_for(31_300).train.batch_size == 8192
    lightgcn = RunConfig().override(preset_overrides("lightgcn"))  # a preset that names its batch
    assert lightgcn.with_batch_for(31_300).train.batch_size == 2048
    assert RunConfig().train.batch_for(629_540) == 8192
