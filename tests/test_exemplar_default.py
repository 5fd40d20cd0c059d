"""Pixel art on its native grid samples its variants nearer their exemplars by default,
decided from the data, printed and recorded; what the user set is kept."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from helpers import decide

from assetvae.cli import main
from assetvae.config import (
    AUTO,
    DEFAULT_EXEMPLAR_SCALE,
    PIXEL_EXEMPLAR_SCALE,
    ModelConfig,
    RunConfig,
    TrainConfig,
)
from assetvae.errors import ConfigError
from assetvae.train import resolve_exemplars


def _resolved(scale, native_grid: bool) -> tuple[TrainConfig, list[str]]:
    train = TrainConfig(native_grid=native_grid, exemplar_scale=scale)
    cfg, lines = decide(resolve_exemplars, ModelConfig(image_size=16), train)
    return cfg.train, lines


def test_pixel_art_on_its_grid_samples_nearer_its_exemplars_and_is_told():
    t, lines = _resolved(AUTO, native_grid=True)
    assert t.exemplar_scale == PIXEL_EXEMPLAR_SCALE < DEFAULT_EXEMPLAR_SCALE
    assert len(lines) == 1 and lines[0].startswith("exemplars: pixel art's variants")
    assert f"by {PIXEL_EXEMPLAR_SCALE:g} of" in lines[0]
    assert f"--exemplars {DEFAULT_EXEMPLAR_SCALE:g}" in lines[0]  # says how to get the other
    t.validate()


def test_other_art_gets_the_default_scale_silently():
    t, lines = _resolved(AUTO, native_grid=False)
    assert t.exemplar_scale == DEFAULT_EXEMPLAR_SCALE and lines == []


@pytest.mark.parametrize("scale", [None, 0.0, 0.5, 1.5])
def test_what_the_user_set_is_kept(scale):
    t, lines = _resolved(scale, native_grid=True)
    assert t.exemplar_scale == scale and lines == []


def test_an_undecided_config_samples_with_what_its_data_would_get():
    assert TrainConfig().exemplar_scale == AUTO
    assert TrainConfig().exemplars() == DEFAULT_EXEMPLAR_SCALE
    assert TrainConfig(native_grid=True).exemplars() == PIXEL_EXEMPLAR_SCALE
    assert TrainConfig(native_grid=True, exemplar_scale=None).exemplars() is None
    TrainConfig().validate()  # undecided is valid
    for bad in (3.0, -0.1, "lots"):
        with pytest.raises(ConfigError, match="--exemplars .* is out of range: use 0 to 2"):
            TrainConfig(exemplar_scale=bad).validate()


def test_saved_configs_keep_their_scale():
    for scale in (None, 0.5):  # saved runs hold a decision: off, or a number
        old = RunConfig(train=TrainConfig(exemplar_scale=scale)).to_dict()
        assert RunConfig.from_dict(json.loads(json.dumps(old))).train.exemplar_scale == scale
    assert RunConfig.from_dict(RunConfig().to_dict()).train.exemplar_scale == AUTO


def test_a_wrong_exemplars_flag_is_a_one_line_error(tmp_path):
    r = CliRunner().invoke(
        main, ["train", str(tmp_path), "--out", str(tmp_path / "run"), "--exemplars", "near"]
    )
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "'near' is not a number, 'off' or 'auto'" in r.output


def test_cli_on_pixel_art_records_the_decision_and_fit_classes_decides_it_again(tmp_path):
    from assetvae.datasets.demo import write_demo_folder
    from assetvae.rundir import RunDir, load_checkpoint

    data = tmp_path / "pixel"
    write_demo_folder(data, per_class=3, seed=1, style="pixel")
    args = ["--epochs", "1", "--batch", "16", "--palette", "8", "--no-flip", "-q"]
    args += ["--latent", "8", "--width", "8"]  # small and quick: the size is not under test
    run = tmp_path / "run"
    r = CliRunner().invoke(main, ["train", str(data), "--out", str(run), *args])
    assert r.exit_code == 0, r.output
    assert (
        f"exemplars: pixel art's variants vary a training sprite by {PIXEL_EXEMPLAR_SCALE:g}"
        in (r.output)
    )
    assert load_checkpoint(run)["config"].train.exemplar_scale == PIXEL_EXEMPLAR_SCALE
    rows = json.loads(RunDir(run).class_model_file.read_text())
    assert {row["exemplars"]["scale"] for row in rows} == {PIXEL_EXEMPLAR_SCALE}

    off = tmp_path / "off"  # the user's 'off' is kept: the class Gaussian, nothing printed
    r = CliRunner().invoke(
        main, ["train", str(data), "--out", str(off), *args, "--exemplars", "off"]
    )
    assert r.exit_code == 0 and "exemplars:" not in r.output, r.output
    assert load_checkpoint(off)["config"].train.exemplar_scale is None
    assert all(
        "exemplars" not in row for row in json.loads(RunDir(off).class_model_file.read_text())
    )
    # fit-classes' default is what the run's data gets: pixel art on its grid, 0.25
    r = CliRunner().invoke(main, ["fit-classes", str(off), "--components", "1"])
    assert r.exit_code == 0, r.output
    assert load_checkpoint(off)["config"].train.exemplar_scale == PIXEL_EXEMPLAR_SCALE
    rows = json.loads(RunDir(off).class_model_file.read_text())
    assert {row["exemplars"]["scale"] for row in rows} == {PIXEL_EXEMPLAR_SCALE}
