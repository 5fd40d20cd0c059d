"""Pixel art on its native grid: detected from the data, trained small, exported crisp."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import write_rgba

from assetvae.cli import main
from assetvae.config import AUTO_PALETTE
from assetvae.datasets.grid import block_factor, place_native, scan_grid


def _sprite(rng, palette, n=12):
    """A hard-alpha n x n blob in a few colours, with a 1-px dark outline."""
    yy, xx = np.mgrid[:n, :n]
    r = (n / 2 - 1) * rng.uniform(0.7, 1.0)
    inside = (yy - n / 2 + 0.5) ** 2 / rng.uniform(0.6, 1.0) + (xx - n / 2 + 0.5) ** 2 <= r * r
    a = np.zeros((n, n, 4), np.uint8)
    a[inside] = [*palette[0], 255]
    a[inside & (yy < n / 2)] = [*palette[1], 255]
    edge = inside & ~np.roll(inside, 1, 0) | inside & ~np.roll(inside, -1, 1)
    a[edge] = [20, 20, 30, 255]
    return a


@pytest.fixture(scope="module")
def pixel_folder(tmp_path_factory):
    """Two classes of 12 px sprites saved upscaled x4 (as pixel art is often shipped)."""
    root = tmp_path_factory.mktemp("pixel") / "items"
    rng = np.random.default_rng(0)
    palettes = {"gem": [(200, 30, 40), (250, 120, 120)], "slime": [(40, 160, 60), (120, 230, 120)]}
    for cls, pal in palettes.items():
        for i in range(8):
            a = _sprite(rng, pal)
            write_rgba(root / cls / f"{cls}_{i}.png", np.repeat(np.repeat(a, 4, 0), 4, 1))
    return root


def test_block_factor_and_native_placement():
    rng = np.random.default_rng(1)
    a = _sprite(rng, [(1, 2, 3), (4, 5, 6)])
    big = np.repeat(np.repeat(a, 4, 0), 4, 1)
    assert block_factor(big) == 4 and block_factor(a) == 1
    placed = place_native(big, 16)
    assert placed.shape == (16, 16, 4) and (placed[2:14, 2:14] == a).all()
    big[0, 0, 0] ^= 1  # one stray pixel breaks the grid
    assert block_factor(big) < 4


def test_scan_tells_pixel_art_from_smooth_art():
    rng = np.random.default_rng(2)
    sprites = [
        np.repeat(np.repeat(_sprite(rng, [(9, 9, 9), (99, 9, 9)]), 4, 0), 4, 1) for _ in range(6)
    ]
    report = scan_grid(sprites, 64)
    assert report.native_size == 16 and report.extent == 12 and report.pixel_art
    smooth = [s.copy() for s in sprites]
    for s in smooth:
        s[..., 3] = np.where(s[..., 3] > 0, 200, 0)  # soft alpha: painted, not pixel art
    assert scan_grid(smooth, 64).native_size is None
    assert scan_grid(sprites, 16).native_size is None  # nothing smaller to train at


def test_pixel_art_trains_on_its_grid_and_exports_crisp(pixel_folder, tmp_path):
    from assetvae.plugin_api import Generator
    from assetvae.rundir import load_checkpoint

    run, out = tmp_path / "run", tmp_path / "items.avae.onnx"
    r = CliRunner().invoke(
        main,
        [
            "train",
            str(pixel_folder),
            "--out",
            str(run),
            "--size",
            "64",
            "--epochs",
            "2",
            "--latent",
            "8",
            "--width",
            "8",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "native grid: pixel art drawn at up to" in r.output and "training at 16 px" in r.output
    cfg = load_checkpoint(run)["config"]
    assert (cfg.model.image_size, cfg.model.output_scale, cfg.train.native_grid) == (16, 4, True)
    # pixel art picks from a palette fitted to it by default (the set has 5 colours)
    assert f"palette: {AUTO_PALETTE} colours fitted to the training images (pixel art" in r.output
    assert cfg.train.palette == AUTO_PALETTE and len(cfg.model.palette) == AUTO_PALETTE
    # and keeps its crisp grid: none of painted art's texture levers
    assert (cfg.model.texture_noise, cfg.train.adv_weight, cfg.train.weight("swd")) == (0, 0, 0)
    assert "texture:" not in r.output
    r = CliRunner().invoke(main, ["export", str(run), "-o", str(out), "--encoder"])
    assert r.exit_code == 0, r.output
    with Generator.load(out) as gen:
        assert gen.image_size == 64
        img = gen.sample("gem", 3, seed=1)
        assert img.shape == (3, 64, 64, 4)
        blocks = img.reshape(3, 16, 4, 16, 4, 4)
        assert (blocks == blocks[:, :, :1, :, :1]).all(), "every art pixel is a 4x4 block"
        assert gen.reconstruct(img).shape == (3, 64, 64, 4)
    # resumed, the run keeps its decision without scanning again
    r = CliRunner().invoke(main, ["train", "--resume", str(run), "-q"])
    assert r.exit_code == 0 and "native grid" not in r.output


def test_no_native_grid_trains_at_the_size_asked(pixel_folder, tmp_path):
    from assetvae.rundir import load_checkpoint

    run = tmp_path / "run"
    r = CliRunner().invoke(
        main,
        [
            "train",
            str(pixel_folder),
            "--out",
            str(run),
            "--size",
            "32",
            "--epochs",
            "1",
            "--latent",
            "8",
            "--width",
            "8",
            "-q",
            "--no-native-grid",
        ],
    )
    assert r.exit_code == 0, r.output
    cfg = load_checkpoint(run)["config"]
    assert cfg.model.palette is None and cfg.train.palette == 0  # RGBA off the native grid
    assert (cfg.model.image_size, cfg.model.output_scale, cfg.train.native_grid) == (32, 1, False)
