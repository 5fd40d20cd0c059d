"""The palette output for pixel art: fitted to the set, picked per pixel, exported with only
the operators every engine loads, and exact colours in the bundle's pixels."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner
from helpers import write_rgba

from assetvae.cli import main
from assetvae.export.graph import ALLOWED_OPS
from assetvae.losses import RECON, Batch
from assetvae.palette import TEMPERATURE, fit_palette, nearest_index, soft_pick

COLOURS = [(200, 30, 40), (250, 120, 120), (40, 160, 60), (120, 230, 120), (20, 20, 30)]


def _sprite(rng, pal, n=12):
    yy, xx = np.mgrid[:n, :n]
    inside = (yy - n / 2 + 0.5) ** 2 + (xx - n / 2 + 0.5) ** 2 <= (n / 2 - 1) ** 2 * rng.uniform(
        0.5, 1.0
    )
    a = np.zeros((n, n, 4), np.uint8)
    a[inside] = [*pal[0], 255]
    a[inside & (yy < n / 2)] = [*pal[1], 255]
    a[inside & ~np.roll(inside, 1, 0)] = [*COLOURS[4], 255]  # a dark outline on top
    return a


def test_a_set_with_few_colours_keeps_each_exactly_and_transparent_comes_first():
    rng = np.random.default_rng(0)
    images = np.stack([_sprite(rng, COLOURS[:2]), _sprite(rng, COLOURS[2:4])])
    pal = fit_palette(images, 8)
    assert pal.shape == (8, 4) and (pal[0] == 0).all()
    got = {tuple(np.round(c[:3] * 255).astype(int)) for c in pal[1:] if c[3] > 0}
    assert got == set(COLOURS)


def test_a_set_with_many_colours_gets_only_colours_the_art_uses():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (4, 8, 8, 4), dtype=np.uint8)
    images[..., 3] = 255
    pal = fit_palette(images, 6, seed=3)
    used = {tuple(c) for c in images.reshape(-1, 4)}
    assert all(tuple(np.round(c * 255).astype(int)) in used for c in pal[1:])
    assert len({tuple(c) for c in pal[1:]}) == 5  # distinct entries


def test_hidden_colour_picks_transparent_and_a_sure_decoder_picks_exactly():
    pal = torch.tensor([[0, 0, 0, 0], [1.0, 0, 0, 1], [0, 0, 1.0, 1]])
    target = torch.tensor([[0.9, 0.9, 0.9, 0.0], [0.9, 0.1, 0.1, 1.0], [0, 0, 0.8, 1.0]])
    target = target.T.reshape(1, 4, 1, 3)
    idx = nearest_index(target, pal)
    assert idx.tolist() == [[[0, 1, 2]]]
    logits = torch.full((1, 3, 1, 3), -5.0)
    logits[0, idx[0, 0], 0, torch.arange(3)] = 5.0
    pick = soft_pick(logits, pal)
    assert torch.allclose(pick, pal[idx[0, 0]].T.reshape(1, 4, 1, 3), atol=1e-6)
    # the loss is near 0 for a sure, right decoder and large for a sure, wrong one
    loss = RECON["palette"]
    assert float(loss(Batch(logits, target, palette=pal))) < 1e-6
    assert float(loss(Batch(-logits, target, palette=pal))) > TEMPERATURE


def test_nearest_index_is_the_nearest_premultiplied_entry_and_the_first_of_equal_ones():
    g = torch.Generator().manual_seed(0)
    pal = torch.rand(40, 4, generator=g)
    pal[0] = 0
    pal[30:] = pal[5]  # fit_palette repeats its last colour when the art has fewer
    target = torch.rand(3, 4, 9, 7, generator=g)
    target[0, :, 0, 0] = pal[5]  # exactly a repeated entry
    pm = lambda c: torch.cat([c[..., :3] * c[..., 3:], c[..., 3:]], -1)  # noqa: E731
    brute = (pm(target.permute(0, 2, 3, 1))[..., None, :] - pm(pal)).pow(2).sum(-1)
    idx = nearest_index(target, pal)
    assert torch.equal(idx, brute.argmin(-1))
    assert int(idx[0, 0, 0]) == 5 and int(idx.max()) < 30  # repeats never win


@pytest.fixture(scope="module")
def palette_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("palette")
    rng = np.random.default_rng(2)
    for cls, pal in {"gem": COLOURS[:2], "slime": COLOURS[2:4]}.items():
        for i in range(8):
            a = _sprite(rng, pal)
            write_rgba(root / "items" / cls / f"{i}.png", np.repeat(np.repeat(a, 4, 0), 4, 1))
    run, out = root / "run", root / "items.avae.onnx"
    args = ["--size", "64", "--epochs", "2", "--latent", "8", "--width", "8", "-q"]
    r = CliRunner().invoke(
        main, ["train", str(root / "items"), "--out", str(run), "--palette", "8", *args]
    )
    assert r.exit_code == 0, r.output
    assert "palette: 8 colours" in r.output
    r = CliRunner().invoke(main, ["export", str(run), "-o", str(out)])
    assert r.exit_code == 0, r.output
    return run, out


def test_palette_bundle_outputs_only_palette_colours_with_allowed_ops(palette_bundle):
    from assetvae.plugin_api import Generator
    from assetvae.rundir import load_checkpoint

    run, out = palette_bundle
    pal = np.asarray(load_checkpoint(run)["config"].model.palette)
    allowed = {tuple(np.round(c * 255).astype(int)) for c in pal}
    ops = {n.op_type for n in onnx.load(out).graph.node}
    assert {"Softmax", "Tanh", "MatMul"} <= ops and ops <= ALLOWED_OPS
    with Generator.load(out) as gen:
        img = gen.sample("gem", 6, seed=4, spread=1.5)
    px = img.reshape(-1, 4).astype(int)
    pal255 = np.asarray(sorted(allowed))
    off = np.abs(px[:, None, :] - pal255[None]).max(axis=2).min(axis=1)
    # Two epochs in, the decoder is unsure in places, and where two entries' logits tie to
    # within ~0.001 the pick mixes them; elsewhere every pixel is exactly a palette colour.
    assert (off <= 1).mean() >= 0.95, np.quantile(off, [0.5, 0.9, 0.99])


def test_palette_run_resumes_with_its_own_palette(palette_bundle, tmp_path):
    from assetvae.rundir import load_checkpoint

    run, _ = palette_bundle
    before = load_checkpoint(run)["config"].model.palette
    r = CliRunner().invoke(main, ["train", "--resume", str(run), "--epochs", "3", "-q"])
    assert r.exit_code == 0, r.output
    assert "palette:" not in r.output
    assert load_checkpoint(run)["config"].model.palette == before
