"""The colour-pick probe (benchmarks/pick_probe.py): its flatness and colour counts, the snap to
fitted colours, and the usage-weighted palette pick."""

from __future__ import annotations

import numpy as np
import torch
from helpers import load_benchmark


def _probe():
    return load_benchmark("pick_probe")


def _two_colour_sprite() -> np.ndarray:
    img = np.zeros((1, 8, 8, 4), np.uint8)
    img[:, 2:6, 1:4] = (200, 60, 30, 255)
    img[:, 2:6, 4:7] = (40, 120, 220, 255)
    return img


def test_flat_share_and_colour_count():
    probe = _probe()
    img = _two_colour_sprite()
    # per opaque row: 5 pairs, one across the colour edge
    assert probe.flat_share(img) == 4 / 5
    assert probe.colours_per_sprite(img) == 2
    noisy = img.copy()
    noisy[0, 2, 2, 0] += 1
    assert probe.flat_share(noisy) < 4 / 5 and probe.colours_per_sprite(noisy) == 3


def test_snap_keeps_palette_colours_and_alpha_and_moves_others_to_the_nearest():
    probe = _probe()
    img = _two_colour_sprite()
    palette = np.zeros((3, 4), np.float32)
    palette[1] = (200 / 255, 60 / 255, 30 / 255, 1)
    palette[2] = (40 / 255, 120 / 255, 220 / 255, 1)
    assert np.array_equal(probe.snap(img, palette), img)
    grainy = img.copy()
    grainy[0, 3, 2, :3] = (190, 70, 35)  # a grain off the red
    out = probe.snap(grainy, palette)
    assert np.array_equal(out, img)
    assert np.array_equal(out[..., 3], img[..., 3])
    # the blur first: a one-pixel speck inside a flat area is averaged away before the snap
    speck = img.copy()
    speck[0, 3, 2, :3] = (40, 120, 220)
    assert np.array_equal(probe.snap(speck, palette, blur=True)[0, 3, 2], img[0, 3, 2])


# transparent, red, blue: the picks' palette
PICK_PALETTE = torch.tensor([[0, 0, 0, 0], [1, 0, 0, 1], [0, 0, 1, 1]], dtype=torch.float32)


def _red_with_a_hesitant_pixel(h: int, w: int, y: int, x: int) -> torch.Tensor:
    """Bounded logits over PICK_PALETTE: red everywhere, but pixel (y, x) leans blue."""
    bounded = torch.full((1, 3, h, w), -5.0)
    bounded[:, 1] = 5.0
    bounded[0, 2, y, x], bounded[0, 1, y, x] = 5.2, 5.0
    return bounded


def test_usage_pick_is_the_bundles_pick_at_gain_zero_and_favours_used_colours():
    probe = _probe()
    palette = PICK_PALETTE
    bounded = _red_with_a_hesitant_pixel(4, 4, 0, 0)
    plain = probe.usage_pick(bounded, palette, 0.0)
    assert plain[0, 2, 0, 0] > 0.99 and plain[0, 0, 1, 1] > 0.99  # blue there, red elsewhere
    raised = probe.usage_pick(bounded, palette, 1.0)
    assert raised[0, 0, 0, 0] > 0.99  # the sprite is red: the hesitant pixel goes red too


def test_local_pick_is_the_bundles_pick_at_weight_zero_and_mends_a_hesitant_speck():
    probe = _probe()
    palette = PICK_PALETTE
    bounded = _red_with_a_hesitant_pixel(5, 7, 2, 1)
    bounded[0, 2, :, 4], bounded[0, 1, :, 4] = 9.0, -9.0  # and a sure blue line in red
    plain = probe.local_pick(bounded, palette, 0.0)
    assert torch.equal(plain, probe.usage_pick(bounded, palette, 0.0))
    assert plain[0, 2, 2, 1] > 0.99  # the speck
    mended = probe.local_pick(bounded, palette, 0.5)
    assert mended[0, 0, 2, 1] > 0.99  # its neighbours are red: so is it now
    assert (mended[0, 2, :, 4] > 0.99).all()  # a sure one-pixel line keeps its colour
    assert (mended[0, 0, :, 3] > 0.99).all()  # and does not spread
