"""Pixel art on its native grid gets a larger latent and width by default, decided from the
data, printed and recorded; what the user set is kept."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from helpers import decide

from assetvae.cli import main
from assetvae.config import (
    DEFAULT_LATENT,
    DEFAULT_WIDTH,
    PIXEL_LATENT,
    PIXEL_WIDTH,
    ModelConfig,
    RunConfig,
    TrainConfig,
)
from assetvae.errors import ConfigError
from assetvae.model import VAE
from assetvae.train import resolve_size


def _resolved(model: ModelConfig, native_grid: bool) -> tuple[ModelConfig, list[str]]:
    cfg, lines = decide(resolve_size, model, TrainConfig(native_grid=native_grid))
    return cfg.model, lines


def test_pixel_art_on_its_grid_gets_the_larger_size_and_is_told():
    m, lines = _resolved(ModelConfig(image_size=16, output_scale=4), native_grid=True)
    assert (m.latent_dim, m.width) == (PIXEL_LATENT, PIXEL_WIDTH) != (DEFAULT_LATENT, DEFAULT_WIDTH)
    assert len(lines) == 1 and lines[0].startswith("size: pixel art on its grid gets a 64-d")
    assert "--latent 32 --width 32" in lines[0]  # says how to keep the other size
    m.validate()


def test_other_art_gets_the_defaults_silently():
    m, lines = _resolved(ModelConfig(image_size=64), native_grid=False)
    assert (m.latent_dim, m.width) == (DEFAULT_LATENT, DEFAULT_WIDTH) and lines == []


def test_what_the_user_set_is_kept_and_only_the_rest_is_decided():
    m, lines = _resolved(ModelConfig(image_size=16, latent_dim=16), native_grid=True)
    assert (m.latent_dim, m.width) == (16, PIXEL_WIDTH)
    assert "width 64" in lines[0] and "latent" not in lines[0].split("(")[0]
    m, lines = _resolved(ModelConfig(image_size=16, latent_dim=32, width=32), native_grid=True)
    assert (m.latent_dim, m.width) == (32, 32) and lines == []


def test_an_undecided_config_builds_and_trains_at_the_defaults_and_records_them():
    from assetvae.train import Trainer

    vae = VAE(ModelConfig(image_size=16, width=8))
    assert vae.cfg.latent_dim == DEFAULT_LATENT and vae.encoder.latent_dim == DEFAULT_LATENT
    cfg = RunConfig(model=ModelConfig(image_size=16), train=TrainConfig(device="cpu"))
    trainer = Trainer(cfg, torch.device("cpu"))
    assert (cfg.model.latent_dim, cfg.model.width) == (DEFAULT_LATENT, DEFAULT_WIDTH)
    assert trainer.model.cfg.latent_dim == DEFAULT_LATENT
    with pytest.raises(ConfigError, match="latent size 1 is out of range"):
        ModelConfig(latent_dim=1).validate()
    with pytest.raises(ConfigError, match="width 2"):
        ModelConfig(width=2).validate()


def test_saved_configs_keep_their_size():
    old = RunConfig(model=ModelConfig(latent_dim=32, width=32)).to_dict()
    cfg = RunConfig.from_dict(old)
    assert (cfg.model.latent_dim, cfg.model.width) == (32, 32)
    fresh = RunConfig.from_dict(RunConfig().to_dict())  # undecided stays undecided
    assert (fresh.model.latent_dim, fresh.model.width) == (None, None)


def test_cli_run_on_pixel_art_records_the_decision_and_resumes_with_it(tmp_path):
    from assetvae.datasets.demo import write_demo_folder
    from assetvae.rundir import load_checkpoint

    data = tmp_path / "pixel"
    write_demo_folder(data, per_class=4, seed=1, style="pixel")
    run = tmp_path / "run"
    args = ["--size", "64", "--batch", "16", "--palette", "8", "--no-flip"]
    r = CliRunner().invoke(main, ["train", str(data), "--out", str(run), "--epochs", "1", *args])
    assert r.exit_code == 0, r.output
    assert "size: pixel art on its grid gets a 64-d latent and width 64" in r.output
    m = load_checkpoint(run)["config"].model
    assert (m.latent_dim, m.width) == (PIXEL_LATENT, PIXEL_WIDTH)
    r = CliRunner().invoke(main, ["train", "--resume", str(run), "--epochs", "2", "-q"])
    assert r.exit_code == 0, r.output
    assert "size:" not in r.output  # decided once
    assert load_checkpoint(run)["config"].model.latent_dim == PIXEL_LATENT
    small = tmp_path / "small"
    r = CliRunner().invoke(
        main,
        ["train", str(data), "--out", str(small), "--epochs", "1", *args, "--latent", "32"]
        + ["--width", "32"],
    )
    assert r.exit_code == 0 and "size:" not in r.output
    m = load_checkpoint(small)["config"].model
    assert (m.latent_dim, m.width) == (32, 32)
