"""The sharpening probe (benchmarks/sharpen_probe.py): its unsharp mask leaves flat colour and
k = 0 alone, steepens an edge, and keeps hidden colour under transparency out of the result."""

from __future__ import annotations

import numpy as np
from helpers import load_benchmark


def _probe():
    return load_benchmark("sharpen_probe")


def test_unsharp_steepens_edges_and_leaves_flat_colour_alone():
    usm = _probe().unsharp
    img = np.zeros((1, 8, 8, 4), np.uint8)
    img[..., :3] = (200, 60, 30)
    img[..., 3] = 255
    img[:, :, 4:, :3] = (40, 120, 220)  # a vertical colour edge, opaque everywhere
    out = usm(img, 1.0)
    assert np.array_equal(usm(img, 0.0), img)
    assert np.array_equal(out[:, :, :2], img[:, :, :2])  # far from the edge: flat, unchanged
    # at the edge the step overshoots on both sides: a steeper edge
    assert out[0, 0, 3, 0] > img[0, 0, 3, 0] and out[0, 0, 4, 0] < img[0, 0, 4, 0]


def test_unsharp_ignores_colour_hidden_under_transparency():
    usm = _probe().unsharp
    img = np.zeros((1, 8, 8, 4), np.uint8)
    img[:, :, :4] = (255, 0, 0, 255)  # an opaque red half
    img[:, :, 4:] = (0, 255, 0, 0)  # transparent, with green hidden under it
    out = usm(img, 1.0, alpha=False)
    assert out[0, 0, 3, 1] == 0  # no green bleeds into the red edge


def test_alpha_stretch_hardens_edges_and_keeps_colour():
    img = np.zeros((1, 1, 4, 4), np.uint8)
    img[0, 0, :, :3] = (10, 200, 30)
    img[0, 0, :, 3] = (60, 128, 192, 255)
    out = _probe().alpha_stretch(img, 2.0)
    a = out[0, 0, :, 3].tolist()
    assert a[0] == 0 and 128 <= a[1] <= 129 and a[2:] == [255, 255]  # about one half, clipped
    assert out[0, 0, 0, :3].tolist() == [0, 0, 0]  # none left under full transparency
    assert np.array_equal(out[0, 0, 1:, :3], img[0, 0, 1:, :3])
    assert np.array_equal(_probe().alpha_stretch(img, 1.0), img)
