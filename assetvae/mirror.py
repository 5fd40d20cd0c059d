"""Which classes may be mirrored when augmenting: those whose art does not lean one way.

A class is handed when its images, taken together, change under a left-right mirror: every
sword drawn leaning right, say. Flipping such a class teaches the decoder a mirrored twin the
art never had, and variants drawn between the two. A class whose images each lean either way
(birds facing left and right) is not handed: mirroring is then just more data.

The measure is the class's mean gradient-orientation histogram against its own mirror image:
half the L1 distance between the two, 0 for a class as often drawn one way as the other, 1
when every edge turns into one the class never has.
"""

from __future__ import annotations

import numpy as np

BINS = 8  # unsigned orientations, centred on the axes so that a mirror maps bin j to -j
HANDED = 0.25  # the pixel demo's swords score 0.51; every other demo and tuxpaint class < 0.11


def orientation_histograms(images: np.ndarray) -> np.ndarray:
    """Magnitude-weighted unsigned gradient-orientation histograms of straight-alpha uint8
    RGBA images [N, H, W, 4], each normalised to sum 1 (0 for a flat image). [N, BINS]"""
    x = np.asarray(images, np.float32) / 255.0
    a = x[..., 3]
    lum = x[..., :3].mean(-1) * a + 0.5 * (1 - a)  # over grey: the silhouette is an edge too
    dx = lum[:, 1:-1, 2:] - lum[:, 1:-1, :-2]
    dy = lum[:, 2:, 1:-1] - lum[:, :-2, 1:-1]
    mag = np.hypot(dx, dy).reshape(len(x), -1)
    theta = np.arctan2(dy, dx) % np.pi
    b = (np.floor(theta / np.pi * BINS + 0.5).astype(np.int64) % BINS).reshape(len(x), -1)
    hist = np.stack([(mag * (b == j)).sum(1) for j in range(BINS)], axis=1)
    return hist / np.maximum(hist.sum(1, keepdims=True), 1e-12)


def handedness(images: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per class, how much its mean orientation histogram changes under a mirror, in [0, 1].
    A class with no images scores 0. [n_classes]"""
    hist = orientation_histograms(images)
    labels = np.asarray(labels)
    out = np.zeros(n_classes)
    for c in range(n_classes):
        rows = hist[labels == c]
        if len(rows):
            mean = rows.mean(0)
            out[c] = np.abs(mean - mean[(-np.arange(BINS)) % BINS]).sum() / 2
    return out
