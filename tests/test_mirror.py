"""Mirroring in augmentation: a class drawn one way round is not flipped, every other is, and
the decision is the data's unless the user made it."""

from __future__ import annotations

import numpy as np
import torch

from assetvae.config import RunConfig, TrainConfig
from assetvae.mirror import HANDED, handedness, orientation_histograms
from assetvae.train import TrainData, augment, resolve_flip


def _stroke(lean: int, n: int = 6, size: int = 16) -> np.ndarray:
    """n sprites of a 2-px diagonal stroke leaning right (lean 1) or left (-1), each a little
    longer than the last, so the class is not one image repeated."""
    out = np.zeros((n, size, size, 4), np.uint8)
    for i in range(n):
        for t in range(2, 10 + i):
            out[i, size - 1 - t, t : t + 2] = (220, 220, 230, 255)
    return out if lean > 0 else out[:, :, ::-1].copy()


def _disc(n: int = 6, size: int = 16) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    img = np.zeros((size, size, 4), np.uint8)
    img[np.hypot(yy - 7.5, xx - 7.5) < 5] = (200, 60, 40, 255)
    return np.repeat(img[None], n, axis=0)


def test_a_class_leaning_one_way_is_handed_and_one_drawn_both_ways_is_not():
    right, left = _stroke(1), _stroke(-1)
    images = np.concatenate([right, np.concatenate([right[:3], left[3:]]), _disc()])
    labels = np.repeat([0, 1, 2], 6)
    score = handedness(images, labels, 4)
    assert score[0] > HANDED  # every stroke leans right
    assert score[1] < 0.1 and score[2] < 0.05  # half each way; a disc
    assert score[3] == 0.0  # a class with no images
    # A mirror of the whole class scores the same: the measure has no favourite side.
    assert abs(handedness(left, np.zeros(6, int), 1)[0] - score[0]) < 1e-6


def test_orientation_histograms_see_the_mirror_as_the_mirrored_bins():
    h = orientation_histograms(_stroke(1))
    m = orientation_histograms(_stroke(-1))
    assert np.allclose(h.sum(1), 1)
    assert np.allclose(h[:, (-np.arange(h.shape[1])) % h.shape[1]], m, atol=1e-6)
    assert orientation_histograms(np.zeros((1, 8, 8, 4), np.uint8)).sum() == 0  # flat


def _data(images: np.ndarray, labels: np.ndarray, classes: list[str], aug: bool = True):
    n = len(images)
    return TrainData(images, labels, classes, np.arange(n), np.arange(0), aug, "x")


def test_the_flip_left_open_is_decided_per_class_said_and_recorded():
    images = np.concatenate([_stroke(1), _disc()])
    data = _data(images, np.repeat([0, 1], 6), ["sword", "gem"])
    cfg, lines = RunConfig(), []
    resolve_flip(cfg, data, lines.append)
    assert cfg.train.flip is True and cfg.train.handed == ["sword"]
    assert len(lines) == 1 and lines[0].startswith("flip:") and "sword" in lines[0]
    assert "gem" not in lines[0]
    # Nothing handed: recorded, nothing said. A flip the user set, or no augmentation: kept.
    cfg, lines = RunConfig(), []
    resolve_flip(cfg, _data(_disc(), np.zeros(6, int), ["gem"]), lines.append)
    assert (cfg.train.flip, cfg.train.handed, lines) == (True, [], [])
    for flip in (True, False):
        cfg = RunConfig(train=TrainConfig(flip=flip))
        resolve_flip(cfg, data, lines.append)
        assert (cfg.train.flip, cfg.train.handed, lines) == (flip, [], [])
    cfg = RunConfig()
    resolve_flip(cfg, _data(images, np.repeat([0, 1], 6), ["sword", "gem"], aug=False), print)
    assert cfg.train.flip is None


def test_augment_flips_only_the_rows_it_may_and_shifts_them_alike():
    x = torch.rand(64, 4, 16, 16)
    mirror = torch.arange(64) % 2 == 0
    free = augment(x, torch.Generator().manual_seed(3))
    held = augment(x, torch.Generator().manual_seed(3), mirror=mirror)
    assert torch.equal(free[mirror], held[mirror])  # the same draws: flips and shifts alike
    # An odd row is never flipped: it is its source, shifted, in both orientations' place.
    unflipped = augment(x, torch.Generator().manual_seed(3), mirror=torch.zeros(64, dtype=bool))
    assert torch.equal(held[~mirror], unflipped[~mirror])
    flipped_somewhere = ~torch.isclose(free, unflipped).all(dim=(1, 2, 3))
    assert flipped_somewhere[~mirror].any()  # ... where the free draw would have flipped some


def test_old_configs_flipped_every_class():
    d = RunConfig().to_dict()
    del d["train"]["flip"], d["train"]["handed"]
    cfg = RunConfig.from_dict(d)
    assert cfg.train.flip is True and cfg.train.handed == []
