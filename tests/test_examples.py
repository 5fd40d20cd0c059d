"""examples/pygame_forest.py renders a deterministic forest headless."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pygame")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "pygame_forest.py"


def render(bundle: Path, out: Path, *args: str) -> np.ndarray:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    r = subprocess.run(
        [sys.executable, str(SCRIPT), "--bundle", str(bundle), "--screenshot", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=out.parent,
    )
    assert r.returncode == 0, r.stderr
    return np.asarray(Image.open(out).convert("RGB"))


def test_forest_screenshot_is_a_rich_scene_and_reproducible(bundle, tmp_path):
    a = render(bundle, tmp_path / "a.png", "--seed", "7", "--count", "200")
    render(bundle, tmp_path / "b.png", "--seed", "7", "--count", "200")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert a.shape == (540, 960, 3)
    colours = len(np.unique(a.reshape(-1, 3), axis=0))
    assert colours > 2000, colours
    empty = render(bundle, tmp_path / "empty.png", "--seed", "7", "--count", "0")
    changed = (np.abs(a.astype(int) - empty.astype(int)).sum(axis=2) > 12).mean()
    assert changed > 0.25, changed  # props cover much of the meadow, not just a few pixels
    other = render(bundle, tmp_path / "c.png", "--seed", "8", "--count", "200")
    assert not np.array_equal(a, other)


def test_missing_bundle_is_one_line(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--bundle",
            str(tmp_path / "none.onnx"),
            "--screenshot",
            str(tmp_path / "x.png"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "make demo" in r.stderr
