"""Training under torchrun: 2 CPU processes (gloo) against one process with the same global batch.

Tolerance: every logged value of every epoch (training loss terms and validation metrics) within
0.1% of one process's; the patch critic's own three (adv, its adaptive weight adv_lambda, d_loss)
within 10%. Only float summation order differs (DDP sums the two halves' gradients; each process
convolves half the batch): measured differences are near 1e-5 relative for the VAE's terms. The
critic, trained from scratch by Adam, amplifies such differences: in one process alone, judging
real and fake images in one batch instead of two moves adv by 0.8% after 3 epochs; two processes,
by 4%.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from assetvae.config import ModelConfig, RunConfig, TrainConfig
from assetvae.distributed import Dist
from assetvae.rundir import RunDir, load_model
from assetvae.train import train

RTOL = 1e-3
RTOL_CRITIC = 0.1  # adv, d_loss
EPOCHS = 3
# A global batch of 7 over 2 processes: 4 + 3 rows, and the epoch's last batch is smaller.
# The patch critic joins after 30% of the run: its DDP copy is checked too.
ARGS = [
    "--size",
    "32",
    "--latent",
    "8",
    "--width",
    "8",
    "--batch",
    "7",
    "--warmup",
    "1",
    "--epochs",
    str(EPOCHS),
    "--seed",
    "5",
    "--adv-weight",
    "0.1",
    "--device",
    "cpu",
    "--amp",  # fp32: bf16's rounding depends on how the batch is split, the comparison must not
    "off",
    "-q",
]


def _config(data: Path) -> RunConfig:
    # As the command line below builds it (config.json is compared too).
    return RunConfig(
        data=str(data),
        model=ModelConfig(image_size=32, latent_dim=8, width=8, max_width=128),
        train=TrainConfig(
            epochs=EPOCHS,
            batch_size=7,
            warmup_epochs=1,
            seed=5,
            adv_weight=0.1,
            device="cpu",
            amp="off",
        ),
    )


def _torchrun(args: list[str], cache: Path) -> subprocess.CompletedProcess:
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "ASSETVAE_CACHE": str(cache), "PYTHONWARNINGS": "ignore"}
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "assetvae", "train", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def _config_of(run: Path) -> dict:
    cfg = json.loads((run / "config.json").read_text())
    del cfg["train"]["loss_weights"]  # the command line spells out the default weights
    return cfg


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _same_curve(got: list[dict], want: list[dict]) -> None:
    assert [r["epoch"] for r in got] == [r["epoch"] for r in want]
    for g, w in zip(got, want):
        keys = set(w) - {"images_per_s", "elapsed_s"}
        assert keys == set(g) - {"images_per_s", "elapsed_s"}
        for k in keys:
            rtol = RTOL_CRITIC if k in ("adv", "adv_lambda", "d_loss") else RTOL
            assert g[k] == pytest.approx(w[k], rel=rtol), (g["epoch"], k, g[k], w[k])


@pytest.fixture(scope="module")
def one_process(tiny_plants, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("ddp") / "one"
    train(_config(tiny_plants), run, progress=False, log=lambda s: None)
    return run


def test_two_processes_train_as_one_and_rank_0_alone_writes(tiny_plants, one_process, tmp_path):
    run = tmp_path / "two"
    r = _torchrun([str(tiny_plants), "--out", str(run), *ARGS], tmp_path / "cold-cache")
    out = r.stdout
    assert "device=cpu, 2 processes" in out
    # Rank 0 alone logs: each line once.
    assert out.count("epoch=1 ") == 1 and out.count("done: 3 epochs") == 1, out
    assert _config_of(run) == _config_of(one_process)
    assert "d_loss" in _rows(run)[-1]
    _same_curve(_rows(run), _rows(one_process))
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in one_process.iterdir())
    # One process loads the checkpoint (plain weight names) and its weights are one process's.
    model, cfg = load_model(run)
    ref, _ = load_model(one_process)
    # Adam's step is about lr for any gradient far above its eps, so the last bits of tiny
    # gradients move single weights by up to lr; the weights as a whole agree.
    a, b = (torch.cat([t.flatten() for t in m.state_dict().values()]) for m in (model, ref))
    assert float((a - b).norm() / b.norm()) < 1e-2  # measured: 2e-3 after 3 epochs
    # The class model was fitted once, over every training image of every class.
    classes = RunDir(run).read_class_model(cfg.model.latent_dim)
    want = RunDir(one_process).read_class_model(cfg.model.latent_dim)
    assert [(c.name, c.count) for c in classes] == [(c.name, c.count) for c in want]


def test_resume_with_another_number_of_processes(tiny_plants, one_process, tmp_path):
    run = tmp_path / "split"

    def stop_after_epoch_1(line: str) -> None:
        if line.startswith("epoch=1 "):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_config(tiny_plants), run, progress=False, log=stop_after_epoch_1)
    r = _torchrun(["--resume", str(run), "-q"], tmp_path / "cache")
    assert "resuming after epoch 1 of 3" in r.stdout
    _same_curve(_rows(run), _rows(one_process))
    # And back to one process: the two-process checkpoint resumes here (nothing left to train,
    # so the class model is fitted again from its weights).
    (run / "class_model.json").unlink()
    result = train(_config(tiny_plants), run, resume=True, progress=False, log=lambda s: None)
    assert result.epochs == EPOCHS and (run / "class_model.json").is_file()


def test_two_processes_with_sampled_fakes_and_a_moving_average(tiny_plants, tmp_path):
    """Each process draws its critic's sampled fakes from its own rows (pairs within them), so
    this is not one process's run bit for bit; it must train, and ship the average."""
    run = tmp_path / "fakes"
    more = ["--sampled-fakes", "0.5", "--adv-start", "0", "--ema", "0.9", "--epochs", "2"]
    r = _torchrun([str(tiny_plants), "--out", str(run), *ARGS, *more], tmp_path / "cache")
    assert r.stdout.count("done: 2 epochs") == 1, r.stdout
    cfg = json.loads((run / "config.json").read_text())["train"]
    assert cfg["sampled_fakes"] == 0.5 and cfg["ema"] == 0.9
    rows = _rows(run)
    assert all(math.isfinite(rows[-1][k]) for k in ("loss", "adv", "d_loss", "val_loss"))
    state = RunDir(run).load_checkpoint()
    assert state["ema_steps"] > 0 and state["model"].keys() == state["live_model"].keys()


@pytest.mark.parametrize("n, world", [(7, 2), (8, 2), (1, 2), (5, 3), (2, 3)])
def test_the_processes_rows_and_shares_make_the_global_batch(n, world):
    seen, total = [], 0.0
    for rank in range(world):
        d = Dist(rank, world)
        rows = d.rows(n).tolist()
        share = d.share(n)
        if share:
            seen += rows
            assert share == pytest.approx(len(rows) * world / n)
        else:  # no rows of its own: it joins the step with row 0, weighted 0
            assert rows == [0]
        total += share / world
    assert sorted(seen) == list(range(n)) and total == pytest.approx(1.0)
    one = Dist()
    assert one.rows(n) == slice(None) and one.share(n) == 1.0
