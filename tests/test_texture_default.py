"""Painted art gets the texture levers by default, decided from the data and recorded."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from helpers import decide

from assetvae.cli import main
from assetvae.config import (
    PAINTED_ADV,
    PAINTED_FAKES,
    PAINTED_NOISE,
    PAINTED_SWD,
    ModelConfig,
    RunConfig,
    TrainConfig,
)
from assetvae.train import resolve_texture


def _resolved(model: ModelConfig, train: TrainConfig) -> tuple[RunConfig, list[str]]:
    return decide(resolve_texture, model, train)


def _levers(cfg: RunConfig) -> tuple:
    tc = cfg.train
    return tc.weight("swd"), tc.adv_weight, cfg.model.texture_noise, tc.sampled_fakes


def test_painted_art_at_64_px_gets_all_three_levers_and_is_told():
    cfg, lines = _resolved(ModelConfig(image_size=64), TrainConfig(native_grid=False))
    assert _levers(cfg) == (PAINTED_SWD, PAINTED_ADV, PAINTED_NOISE, PAINTED_FAKES)
    assert len(lines) == 1 and lines[0].startswith("texture: painted art at 64 px gets")
    assert "--sampled-fakes 0" in lines[0]  # says how to turn them off


@pytest.mark.parametrize(
    "model, train",
    [
        (ModelConfig(image_size=64), TrainConfig(native_grid=True)),  # pixel art on its grid
        (ModelConfig(image_size=64), TrainConfig(native_grid=False, palette=16)),  # a palette
        (ModelConfig(image_size=32), TrainConfig(native_grid=False)),  # below where it measured
        (ModelConfig(image_size=64, arch="res"), TrainConfig(native_grid=False)),  # no noise there
    ],
)
def test_everything_else_gets_none_of_them_silently(model, train):
    cfg, lines = _resolved(model, train)
    assert _levers(cfg) == (0.0, 0.0, 0, 0.0) and lines == []
    cfg.validate()


def test_what_the_user_set_is_kept_and_the_rest_decided():
    cfg, lines = _resolved(
        ModelConfig(image_size=64, texture_noise=1),
        TrainConfig(native_grid=False, adv_weight=0.0, loss_weights={"grad": 2.0}),
    )
    assert _levers(cfg) == (PAINTED_SWD, 0.0, 1, 0.0)  # no critic: nothing to show fakes to
    assert cfg.train.weight("grad") == 2.0
    assert "patch-SWD 0.15" in lines[0] and "critic" not in lines[0]
    cfg, lines = _resolved(
        ModelConfig(image_size=64, texture_noise=0),
        TrainConfig(native_grid=False, adv_weight=0.0, loss_weights={"swd": 0.0}),
    )
    assert _levers(cfg) == (0.0, 0.0, 0, 0.0) and lines == []  # the smooth recipe, asked for


def test_configs_saved_before_the_decision_existed_load_with_the_levers_off():
    old = RunConfig().to_dict()
    del old["model"]["texture_noise"], old["train"]["adv_weight"], old["train"]["sampled_fakes"]
    cfg = RunConfig.from_dict(old)
    assert (cfg.model.texture_noise, cfg.train.adv_weight, cfg.train.sampled_fakes) == (0, 0.0, 0.0)
    fresh = RunConfig.from_dict(RunConfig().to_dict())  # undecided stays undecided
    assert (fresh.model.texture_noise, fresh.train.adv_weight, fresh.train.sampled_fakes) == (
        None,
        None,
        None,
    )


def test_cli_run_on_painted_art_records_the_decision_and_resumes_with_it(tmp_path):
    from assetvae.datasets.demo import demo_images
    from assetvae.rundir import load_checkpoint

    data = tmp_path / "plants"
    for cls, images in demo_images(per_class=4, seed=1, size=64).items():
        if cls in ("pine", "mushroom"):
            (data / cls).mkdir(parents=True)
            for i, im in enumerate(images):
                im.save(data / cls / f"{i}.png")
    run = tmp_path / "run"
    args = ["--size", "64", "--latent", "8", "--width", "8", "--batch", "8", "--adv-start", "0"]
    r = CliRunner().invoke(main, ["train", str(data), "--out", str(run), "--epochs", "1", *args])
    assert r.exit_code == 0, r.output
    assert "texture: painted art at 64 px gets patch-SWD 0.15, critic 0.25" in r.output
    cfg = load_checkpoint(run)["config"]
    assert _levers(cfg) == (PAINTED_SWD, PAINTED_ADV, PAINTED_NOISE, PAINTED_FAKES)
    r = CliRunner().invoke(main, ["train", "--resume", str(run), "--epochs", "2", "-q"])
    assert r.exit_code == 0, r.output
    assert "texture:" not in r.output  # decided once
    assert _levers(load_checkpoint(run)["config"]) == (
        PAINTED_SWD,
        PAINTED_ADV,
        PAINTED_NOISE,
        PAINTED_FAKES,
    )
    r = CliRunner().invoke(
        main,
        ["train", str(data), "--out", str(tmp_path / "smooth"), "--epochs", "1", *args]
        + ["--swd-weight", "0", "--adv-weight", "0", "--texture-noise", "0", "-q"],
    )
    assert r.exit_code == 0 and "texture:" not in r.output
    assert _levers(load_checkpoint(tmp_path / "smooth")["config"]) == (0.0, 0.0, 0, 0.0)


def test_patch_swd_joins_with_the_critic_and_ramps_in():
    from types import SimpleNamespace

    from assetvae.adversarial import RAMP
    from assetvae.train import Trainer

    def weights(progress, **train):
        cfg = RunConfig(train=TrainConfig(adv_start=0.3, **train))
        trainer = SimpleNamespace(cfg=cfg, weights={"grad": 1.0, "swd": 0.2})
        return Trainer.weights_at(trainer, progress)

    assert weights(0.1) == {"grad": 1.0, "swd": 0.0}  # skipped (and not paid for) at first
    assert weights(0.3 + RAMP / 2)["swd"] == pytest.approx(0.1)
    assert weights(0.9) == {"grad": 1.0, "swd": 0.2}
    assert weights(0.1, swd_start=0.0)["swd"] == 0.2  # from the first step, as before
    assert weights(0.1, swd_start=0.05)["swd"] == pytest.approx(0.2 * 0.05 / RAMP)
    old = RunConfig().to_dict()
    del old["train"]["swd_start"]
    assert RunConfig.from_dict(old).train.swd_start == 0.0  # saved runs keep their schedule
    with pytest.raises(Exception, match="swd-start"):
        TrainConfig(swd_start=1.0).validate()
