"""Training through the CLI (CliRunner and a real subprocess), resume, and the run directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from assetvae.cli import main
from assetvae.rundir import load_checkpoint

SMALL = ["--size", "32", "--latent", "8", "--width", "8", "--batch", "8", "--warmup", "1", "-q"]


def test_cli_train_writes_checkpoint_metrics_previews_and_class_model(tiny_plants, tmp_path):
    run = tmp_path / "run"
    r = CliRunner().invoke(
        main, ["train", str(tiny_plants), "--out", str(run), "--epochs", "2", *SMALL]
    )
    assert r.exit_code == 0, r.output
    assert "done: 2 epochs" in r.output
    state = load_checkpoint(run)
    assert state["epoch"] == 2 and state["config"].model.image_size == 32
    assert state["classes"] == ["cactus", "mushroom", "pine"]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(np.isfinite(r["loss"]) and r["val_loss"] > 0 for r in rows)
    for kind in ("recon", "samples"):
        sheet = Image.open(run / "previews" / f"epoch_002_{kind}.png")
        assert sheet.size[0] > 100 and len(set(sheet.getdata())) > 20  # not a blank sheet
    cm = json.loads((run / "class_model.json").read_text())
    assert [c["name"] for c in cm] == ["cactus", "mushroom", "pine"]
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["train"]["epochs"] == 2 and cfg["model"]["latent_dim"] == 8
    assert not [p for p in run.rglob("*.tmp")]  # no temporary file left behind


@pytest.mark.parametrize("adv_weight, ema", [(0.0, 0.0), (0.1, 0.0), (0.0, 0.9)])
def test_resume_continues_exactly_where_the_checkpoint_left_off(
    tiny_plants, tmp_path, adv_weight, ema
):
    from assetvae.config import ModelConfig, RunConfig, TrainConfig
    from assetvae.train import train

    cfg = RunConfig(
        data=str(tiny_plants),
        model=ModelConfig(image_size=32, latent_dim=8, width=8, max_width=32),
        train=TrainConfig(
            epochs=3,
            batch_size=8,
            warmup_epochs=1,
            adv_weight=adv_weight,
            adv_start=0.0,
            ema=ema,
        ),
    )
    train(cfg, tmp_path / "straight", progress=False, log=lambda s: None)

    def interrupt_after_epoch_2(line: str) -> None:
        if line.startswith("epoch=2 "):
            raise KeyboardInterrupt  # as Ctrl-C right after the epoch-2 checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "split", progress=False, log=interrupt_after_epoch_2)
    assert load_checkpoint(tmp_path / "split")["epoch"] == 2
    torn = tmp_path / "split" / ".checkpoint.pt.x1y2.tmp"  # as a SIGKILL mid-write leaves it
    torn.write_bytes(b"half a checkpoint")
    r = CliRunner().invoke(main, ["train", "--resume", str(tmp_path / "split"), "-q"])
    assert not torn.exists()
    assert r.exit_code == 0, r.output
    assert "resuming after epoch 2 of 3" in r.output
    straight, split = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "split")
    for key in ("model", "live_model") if ema else ("model",):  # the average and the live
        a, b = straight[key], split[key]
        assert all(torch.equal(a[k], b[k]) for k in a), (
            f"resumed {key} weights differ from an uninterrupted run"
        )
    rows = [json.loads(x) for x in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]


def test_existing_run_is_not_overwritten(tiny_plants, trained_run):
    before = (trained_run / "checkpoint.pt").read_bytes()
    r = CliRunner().invoke(
        main, ["train", str(tiny_plants), "--out", str(trained_run), "--epochs", "1", *SMALL]
    )
    assert r.exit_code == 2 and "already holds a run" in r.output
    assert (trained_run / "checkpoint.pt").read_bytes() == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--size", "48"], "image size 48 is not supported"),
        (["--latent", "0"], "latent size 0 is out of range"),
        (["--epochs", "0"], "epochs must be at least 1"),
        (["--val-fraction", "0.95"], "validation fraction"),
        (["--ema", "1"], "--ema 1.0 is out of range"),
        (["--sampled-fakes", "2"], "--sampled-fakes 2.0 is out of range"),
        (["--lecam-weight", "-1"], "--lecam-weight -1.0 is out of range"),
        (["--feature-match", "-2"], "--feature-match -2.0 is out of range"),
        (["--weight-decay", "2"], "--weight-decay 2.0 is out of range"),
    ],
)
def test_bad_options_give_one_line_errors(tiny_plants, tmp_path, args, message):
    r = CliRunner().invoke(
        main, ["train", str(tiny_plants), "--out", str(tmp_path / "r"), "-q", *args]
    )
    assert r.exit_code == 2
    assert message in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_missing_data_and_resume_of_nothing(tmp_path):
    r = CliRunner().invoke(
        main, ["train", str(tmp_path / "nope"), "--out", str(tmp_path / "r"), "-q"]
    )
    assert r.exit_code == 2 and "no such folder" in r.output
    r = CliRunner().invoke(main, ["train", "--resume", str(tmp_path / "r2")])
    assert r.exit_code == 2 and "no such run directory" in r.output
    r = CliRunner().invoke(main, ["train"])
    assert r.exit_code == 2 and "--resume" in r.output


def test_real_subprocess_train_and_import_is_light(tiny_plants, tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "assetvae.cli",
            "train",
            str(tiny_plants),
            "--out",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            *SMALL,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    code = (
        "import sys, assetvae, assetvae.plugin_api, assetvae.cli; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0
    )


def test_corrupt_checkpoint_is_a_clear_error(trained_run, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "checkpoint.pt").write_bytes(b"PK\x03\x04 not really a zip")
    r = CliRunner().invoke(main, ["export", str(bad), "-o", str(tmp_path / "x.avae.onnx")])
    assert r.exit_code == 2 and "damaged or not an assetvae checkpoint" in r.output
    assert not (tmp_path / "x.avae.onnx").exists()
