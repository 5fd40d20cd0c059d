"""The run directory, the load seam, and class fitting as a stage of its own."""

from __future__ import annotations

import json

import numpy as np
import torch
from click.testing import CliRunner

from assetvae.cli import main
from assetvae.rundir import RunDir, load_model


def test_load_model_needs_the_weights_alone(trained_run, tmp_path):
    run = RunDir(trained_run)
    state = run.load_checkpoint()
    copy = RunDir(tmp_path / "weights_only")
    copy.path.mkdir()
    copy.save_checkpoint(
        {
            k: v
            for k, v in state.items()
            if k not in ("optimizer", "format", "version") and k != "config"
        }
        | {"config": state["config"].to_dict()}
    )
    model, cfg = load_model(copy)
    assert cfg.model.image_size == 32 and not model.training
    ref, _ = load_model(run)
    z = torch.randn(3, cfg.model.latent_dim)
    with torch.no_grad():
        assert torch.equal(model.decode(z), ref.decode(z))
    # a resume needs the optimiser state, and says so
    import pytest

    from assetvae.errors import CheckpointError

    with pytest.raises(CheckpointError, match="optimiser state"):
        copy.load_checkpoint()


def test_run_dir_names_every_file(trained_run):
    run = RunDir(trained_run)
    for path in (
        run.checkpoint,
        run.config_file,
        run.metrics_file,
        run.class_model_file,
        run.latents_file,
        run.previews,
    ):
        assert path.exists(), path
    means, variances, labels, names = run.read_latents()
    assert means.shape == variances.shape and len(labels) == len(means)
    assert names == ["cactus", "mushroom", "pine"]


def test_fit_classes_refits_without_retraining(trained_run, tmp_path):
    import shutil

    run = RunDir(shutil.copytree(trained_run, tmp_path / "run"))
    weights_before = run.checkpoint.read_bytes()
    r = CliRunner().invoke(
        main, ["fit-classes", str(run.path), "--exemplars", "0.5", "--components", "1"]
    )
    assert r.exit_code == 0, r.output
    assert "fitted 3 classes" in r.output
    rows = json.loads(run.class_model_file.read_text())
    assert all(
        row["exemplars"]["scale"] == 0.5 and len(row["exemplars"]["centroids"]) >= 1 for row in rows
    )
    state = run.load_checkpoint()
    assert state["config"].train.exemplar_scale == 0.5
    assert json.loads(run.config_file.read_text())["train"]["exemplar_scale"] == 0.5
    # the weights are untouched
    before = torch.load(__import__("io").BytesIO(weights_before), weights_only=True)["model"]
    assert all(torch.equal(before[k], state["model"][k]) for k in before)
    # back to the class Gaussian
    r = CliRunner().invoke(
        main, ["fit-classes", str(run.path), "--exemplars", "off", "--components", "1"]
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(run.class_model_file.read_text())
    assert all("exemplars" not in row for row in rows)
    out = tmp_path / "b.avae.onnx"
    assert CliRunner().invoke(main, ["export", str(run.path), "-o", str(out)]).exit_code == 0


def test_fit_classes_on_an_unfinished_run_is_a_one_line_error(tmp_path):
    r = CliRunner().invoke(main, ["fit-classes", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and r.output.startswith("error: ") and len(r.output.splitlines()) == 1


def test_latents_file_is_plain_arrays(trained_run):
    with np.load(RunDir(trained_run).latents_file, allow_pickle=False) as z:
        assert set(z.files) == {"means", "variances", "labels", "names"}
