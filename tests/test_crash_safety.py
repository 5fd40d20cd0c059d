"""Crash safety: SIGKILL during training and export, Ctrl-C during training, disk errors.

A killed process must leave the run directory usable (every checkpoint, metrics file and
preview ever observed is complete; `--resume` finishes the run) and the bundle either the old
one or absent, never half a file. Only temporary files named `.*.tmp` may survive a SIGKILL,
and normal errors must not leave even those.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from assetvae.cli import main
from assetvae.plugin_api import Generator
from assetvae.rundir import load_checkpoint

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

EPOCHS = 8
TRAIN_ARGS = [
    "--size",
    "32",
    "--latent",
    "8",
    "--width",
    "8",
    "--batch",
    "8",
    "--warmup",
    "1",
    "--epochs",
    str(EPOCHS),
    "-q",
]
CTRL_C_EPOCHS = 2000
DEADLINE_S = 240  # generous: CI machines with 2 busy cores are slow, never fast


@pytest.fixture(scope="module")
def crash_data(tmp_path_factory) -> Path:
    """4 classes x 10 demo sprites at 32 px: each epoch takes a noticeable fraction of a second."""
    from assetvae.datasets.demo import demo_images

    root = tmp_path_factory.mktemp("crash") / "plants"
    images = demo_images(per_class=10, seed=5, size=32)
    for cls in list(images)[:4]:
        (root / cls).mkdir(parents=True)
        for i, im in enumerate(images[cls]):
            im.save(root / cls / f"{cls}_{i:02d}.png")
    return root


def _env(tmp_path: Path) -> dict:
    return {
        **os.environ,
        "ASSETVAE_CACHE": str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
    }


def _start_training(
    data: Path, run: Path, tmp_path: Path, epochs: int = EPOCHS
) -> subprocess.Popen:
    args = [*TRAIN_ARGS[:-2], str(epochs), "-q"]  # TRAIN_ARGS ends with --epochs EPOCHS -q
    return subprocess.Popen(
        [sys.executable, "-m", "assetvae.cli", "train", str(data), "--out", str(run), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )


def _snapshot_checkpoint(run: Path, snap: Path) -> int | None:
    """Copy checkpoint.pt (if any) and load the copy: a torn file would fail here."""
    try:
        shutil.copyfile(run / "checkpoint.pt", snap / "checkpoint.pt")
    except FileNotFoundError:
        return None
    return load_checkpoint(snap)["epoch"]


def _check_run_files(run: Path) -> list[dict]:
    """Every metrics line parses and every preview decodes fully, whenever we look."""
    rows = (
        [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        if (run / "metrics.jsonl").exists()
        else []
    )
    assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))
    for png in (run / "previews").glob("*.png") if (run / "previews").exists() else []:
        try:
            with Image.open(png) as im:
                im.load()
        except FileNotFoundError:
            continue  # replaced between glob and open: fine
    return rows


def _only_tmp_leftovers(folder: Path, keep: set[str]) -> list[str]:
    strays = [p.name for p in folder.iterdir() if p.name not in keep]
    assert all(n.startswith(".") and n.endswith(".tmp") for n in strays), strays
    return strays


def test_sigkill_during_training_then_resume_completes(crash_data, tmp_path):
    run, snap = tmp_path / "run", tmp_path / "snap"
    snap.mkdir()
    proc = _start_training(crash_data, run, tmp_path)
    seen: dict[int, float] = {}  # epoch -> when its checkpoint was first loaded
    loads = 0
    t0 = time.monotonic()
    try:
        # Poll, loading a copy of every checkpoint we can catch, until epoch 2 is saved.
        while not any(e >= 2 for e in seen):
            assert proc.poll() is None, (
                f"training ended before it could be killed: {proc.communicate()}"
            )
            assert time.monotonic() - t0 < DEADLINE_S, "no checkpoint in time"
            epoch = _snapshot_checkpoint(run, snap)
            if epoch is not None:
                seen.setdefault(epoch, time.monotonic())
                loads += 1
                _check_run_files(run)
            time.sleep(0.01)
        # Keep loading copies for a random part of the next epoch, then kill without warning.
        epoch_s = (max(seen.values()) - min(seen.values())) / max(1, max(seen) - min(seen))
        stop = time.monotonic() + random.Random(0).uniform(0.2, 0.8) * epoch_s
        while time.monotonic() < stop and proc.poll() is None:
            seen.setdefault(_snapshot_checkpoint(run, snap), time.monotonic())
            loads += 1
        assert proc.poll() is None, "training ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert loads >= 2 and min(seen) >= 1
    print(
        f"checkpoint copies loaded while training: {loads}, epochs seen: {sorted(seen)}, "
        f"epoch ~{epoch_s:.2f} s"
    )

    # What the kill left behind is usable: a whole checkpoint, clean metrics and previews.
    state = load_checkpoint(run)
    killed_at = state["epoch"]
    print(f"killed after epoch {killed_at} of {EPOCHS}")
    assert 2 <= killed_at < EPOCHS
    rows = _check_run_files(run)
    assert len(rows) in (killed_at, killed_at + 1)  # metrics are written just before the checkpoint
    assert not (run / "class_model.json").exists()  # the run had not finished
    _only_tmp_leftovers(run, {"checkpoint.pt", "metrics.jsonl", "config.json", "previews"})

    r = CliRunner().invoke(main, ["train", "--resume", str(run), "-q"])
    assert r.exit_code == 0, r.output
    assert f"resuming after epoch {killed_at} of {EPOCHS}" in r.output
    assert [row["epoch"] for row in _check_run_files(run)] == list(range(1, EPOCHS + 1))
    assert load_checkpoint(run)["epoch"] == EPOCHS
    assert (run / "class_model.json").is_file()
    assert (run / "previews" / f"epoch_{EPOCHS:03d}_samples.png").is_file()


def test_ctrl_c_during_training_keeps_the_checkpoint_and_exits_130(crash_data, tmp_path):
    run, snap = tmp_path / "run", tmp_path / "snap"
    snap.mkdir()
    # Far more epochs than it will reach: an epoch here takes a tenth of a second, so with 8 the
    # run could end between our look at its first checkpoint and the Ctrl-C (seen on a busy
    # machine: exit 0).
    proc = _start_training(crash_data, run, tmp_path, epochs=CTRL_C_EPOCHS)
    t0 = time.monotonic()
    try:
        while _snapshot_checkpoint(run, snap) is None:
            assert proc.poll() is None, f"training ended early: {proc.communicate()}"
            assert time.monotonic() - t0 < DEADLINE_S, "no checkpoint in time"
            time.sleep(0.02)
        time.sleep(random.Random(1).uniform(0.0, 0.05))  # some way into the next epoch
        assert proc.poll() is None, "training ended before Ctrl-C"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in out + err
    saved = load_checkpoint(run)["epoch"]
    assert 1 <= saved < CTRL_C_EPOCHS
    assert (
        f"interrupted: the checkpoint after epoch {saved} is saved in {run}; "
        f"continue with: assetvae train --resume {run}"
    ) in out
    assert err.strip().splitlines()[-1] == "interrupted"
    # Ctrl-C runs the clean-up: not even a temporary file is left.
    assert not list(run.rglob(".*.tmp"))
    names = {p.name for p in run.iterdir()}
    assert {"checkpoint.pt", "metrics.jsonl", "config.json"} <= names
    assert names <= {"checkpoint.pt", "metrics.jsonl", "config.json", "previews"}


_EXPORT_LOOP = """
import os, sys, time
from assetvae.export.bundle import export_bundle
run, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "hold":  # stop inside atomic_path: the new bundle is fully written but not yet renamed
    real_fsync = os.fsync
    def fsync(fd):
        real_fsync(fd)
        print("written", flush=True)
        time.sleep(600)
    os.fsync = fsync
print("ready", flush=True)
while True:
    export_bundle(run, out)
    print("wrote", flush=True)
"""


def _export_child(run: Path, out: Path, mode: str, tmp_path: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", _EXPORT_LOOP, str(run), str(out), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def _assert_old_or_none(out: Path, old: bytes | None) -> None:
    if out.exists():
        assert old is None or out.read_bytes() == old, (
            "not the old bundle"
        )  # export is deterministic
        Generator.load(out)  # a whole, valid bundle
    _only_tmp_leftovers(out.parent, {out.name})


def test_sigkill_during_export_leaves_the_old_bundle_or_none(trained_run, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "plants.avae.onnx"
    rnd = random.Random(2)

    # 1. No bundle yet: kill at a random moment during the first exports.
    proc = _export_child(trained_run, out, "loop", tmp_path)
    time.sleep(rnd.uniform(0.0, 1.5))
    proc.kill()
    proc.communicate()
    _assert_old_or_none(out, None)

    # 2. The worst moment: the new file is complete beside the old one, not yet renamed.
    if not out.exists():
        assert CliRunner().invoke(main, ["export", str(trained_run), "-o", str(out)]).exit_code == 0
    old = out.read_bytes()
    proc = _export_child(trained_run, out, "hold", tmp_path)
    assert proc.stdout.readline().strip() == "written"
    assert any(
        p.name.endswith(".tmp") for p in out_dir.iterdir()
    )  # the new bundle, under its temp name
    proc.kill()
    proc.communicate()
    assert out.read_bytes() == old
    _assert_old_or_none(out, old)

    # 3. Export in a loop over an existing bundle, killed after a few rewrites at a random moment.
    proc = _export_child(trained_run, out, "loop", tmp_path)
    for _ in range(2):
        assert proc.stdout.readline().strip() == "wrote", proc.stderr.read()
    time.sleep(rnd.uniform(0.0, 0.5))
    proc.kill()
    proc.communicate()
    _assert_old_or_none(out, old)


def test_disk_full_during_export_keeps_the_old_bundle_and_no_temp_file(
    trained_run, tmp_path, monkeypatch
):
    out = tmp_path / "plants.avae.onnx"
    assert CliRunner().invoke(main, ["export", str(trained_run), "-o", str(out)]).exit_code == 0
    old = out.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    r = CliRunner().invoke(main, ["export", str(trained_run), "-o", str(out)])
    assert (
        r.exit_code == 2 and "No space left on device" in r.output and "Traceback" not in r.output
    )
    assert out.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    r = CliRunner().invoke(main, ["export", str(trained_run), "-o", str(out)])
    assert r.exit_code == 130 and "interrupted" in r.output
    assert out.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
