"""The quality benchmark's metrics are pure numpy functions: test them on tiny synthetic arrays."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "quality_metrics.py"
_spec = importlib.util.spec_from_file_location("quality_metrics", _PATH)
qm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qm)


def _rgba(rgb, a, n=1, size=16):
    x = np.zeros((n, size, size, 4), np.float64)
    x[..., :3] = rgb
    x[..., 3] = a
    return x


def test_over_grey_composites_straight_alpha_and_reads_uint8():
    assert np.allclose(qm.over_grey(_rgba((1, 0, 0), 0.0)), 0.5)  # hidden colour does not show
    assert np.allclose(qm.over_grey(_rgba((1, 0, 0), 1.0))[..., 0], 1.0)
    assert np.allclose(qm.over_grey(_rgba((1, 0, 0), 0.5))[0, 0, 0], [0.75, 0.25, 0.25])
    u8 = np.full((1, 2, 2, 4), 255, np.uint8)
    assert np.allclose(qm.over_grey(u8), 1.0)


def test_downsample_box_averages_and_features_are_flat():
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1)
    d = qm.downsample(x, 2)
    assert d.shape == (1, 2, 2, 1)
    assert d[0, 0, 0, 0] == np.mean([0, 1, 4, 5])
    assert qm.tiny_features(_rgba((1, 1, 1), 1.0, n=3, size=32)).shape == (3, 16 * 16 * 3)
    with pytest.raises(ValueError):
        qm.downsample(np.zeros((1, 6, 6, 1)), 4)


def test_psnr_pools_the_squared_error_over_the_set():
    a = np.zeros((2, 4, 4, 3))
    assert qm.psnr(a, a + 0.1) == pytest.approx(20.0)
    assert qm.psnr(a, a) == pytest.approx(100.0)  # floored, not infinite


def test_distances():
    f = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])
    assert qm.mean_pairwise_distance(f) == pytest.approx((5 + 4 + 3) / 3)
    assert np.isnan(qm.mean_pairwise_distance(f[:1]))
    assert qm.mean_pairwise_distance(np.repeat(f[:1], 5, axis=0)) == pytest.approx(0.0, abs=1e-6)
    assert np.allclose(qm.nearest_distances(f[1:], f[:1]), [5.0, 4.0])


def test_gradient_magnitude_is_zero_on_flat_images_and_counts_an_edge():
    flat = _rgba((0.2, 0.7, 0.1), 1.0)
    assert qm.gradient_magnitude(flat)[0] == pytest.approx(0.0)
    edge = _rgba((0, 0, 0), 1.0, size=8)
    edge[:, :, 4:, :3] = 1.0  # black | white, a vertical edge
    # one column of the 7x7 forward-difference grid has |dx| = sqrt(3) (three channels)
    assert qm.gradient_magnitude(edge)[0] == pytest.approx(np.sqrt(3) * 7 / 49)
    # a ramp over two steps keeps the mean |grad| (its blind spot) but halves the energy
    soft = edge.copy()
    soft[:, :, 4, :3] = 0.5
    assert qm.gradient_magnitude(soft)[0] == pytest.approx(qm.gradient_magnitude(edge)[0])
    assert qm.gradient_rms(soft)[0] == pytest.approx(qm.gradient_rms(edge)[0] / np.sqrt(2))
    # blurring a thin line (opposite-signed steps) lowers both
    line = _rgba((0, 0, 0), 1.0, size=8)
    line[:, :, 4, :3] = 1.0
    smeared = _rgba((0, 0, 0), 1.0, size=8)
    smeared[:, :, 3:6, :3] = 1 / 3
    for f in (qm.gradient_magnitude, qm.gradient_rms):
        assert f(smeared)[0] < f(line)[0]


def test_softmax_classifier_separates_blobs_and_picks_l2_by_cross_validation():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 10)) * 3
    y = np.repeat(np.arange(3), 12)
    x = centres[y] + rng.normal(size=(36, 10))
    clf = qm.SoftmaxClassifier(3).fit(x, y)
    assert clf.l2 in qm.SoftmaxClassifier.L2_GRID
    assert set(clf.cv_accuracy) == set(qm.SoftmaxClassifier.L2_GRID)
    y_test = np.repeat(np.arange(3), 5)
    assert (clf.predict(centres[y_test] + rng.normal(size=(15, 10)) * 0.5) == y_test).all()
    assert qm.balanced_accuracy(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])) == pytest.approx(0.75 * 0 + (1 + 2 / 3) / 2)


def test_stratified_folds_spread_every_class():
    y = np.array([0] * 8 + [1] * 4)
    fold = qm.stratified_folds(y, 4)
    for f in range(4):
        assert (y[fold == f] == 0).sum() == 2 and (y[fold == f] == 1).sum() == 1


def test_laplacian_pyramid_levels_and_exact_collapse():
    rng = np.random.default_rng(1)
    x = rng.random((2, 64, 64, 3))
    levels = qm.laplacian_pyramid(x, min_size=16)
    assert [lv.shape[1] for lv in levels] == [64, 32, 16]
    rebuilt = levels[-1]
    for lv in reversed(levels[:-1]):
        rebuilt = qm.pyr_up(rebuilt) + lv
    assert np.allclose(rebuilt, x)
    flat = qm.laplacian_pyramid(np.full((1, 32, 32, 3), 0.3))
    assert np.allclose(flat[0], 0.0) and np.allclose(flat[-1], 0.3)


def test_patch_descriptors_shape_and_fixed_positions():
    level = np.random.default_rng(2).random((3, 16, 16, 3))
    d = qm.patch_descriptors(level, per_image=5, seed=4)
    assert d.shape == (15, 7 * 7 * 3)
    assert np.array_equal(d, qm.patch_descriptors(level, per_image=5, seed=4))
    # every descriptor is a real 7x7 window of its image
    win = np.lib.stride_tricks.sliding_window_view(level[0], (7, 7), axis=(0, 1)).reshape(-1, 147)
    assert any(np.array_equal(d[0], w) for w in win)


def test_sliced_wasserstein_is_zero_for_the_same_set_and_linear_in_a_shift():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(200, 6))
    assert qm.sliced_wasserstein(a, a[rng.permutation(200)], n_dirs=64) == pytest.approx(0.0, abs=1e-12)
    shift = np.zeros(6)
    shift[0] = 1.0
    d1 = qm.sliced_wasserstein(a, a + shift, n_dirs=64)
    assert d1 > 0
    assert qm.sliced_wasserstein(a, a + 2 * shift, n_dirs=64) == pytest.approx(2 * d1)
    assert qm.sliced_wasserstein(a, rng.normal(size=(300, 6)), n_dirs=64) < d1  # unequal sizes work


def _sprites(n, seed, size=32):
    """Random rectangles of random colours on transparency: crisp edges."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, size, size, 4), np.uint8)
    for i in range(n):
        for _ in range(4):
            y0, x0 = rng.integers(0, size - 8, 2)
            h, w = rng.integers(4, 12, 2)
            x[i, y0 : y0 + h, x0 : x0 + w] = [*rng.integers(0, 256, 3), 255]
    return x


def test_swd_reference_scores_real_as_one_and_blur_as_worse():
    a, b = _sprites(12, 0), _sprites(12, 1)
    ref = qm.SWDReference(a, b, per_image=32, n_dirs=64)
    assert ref.sizes == [32, 16]
    assert ref.ratio(a) == pytest.approx([1.0, 1.0])
    assert ref.ratio(b) == pytest.approx([0.0, 0.0], abs=1e-9)
    blurred = a.astype(np.float64) / 255
    for _ in range(3):
        blurred = qm._blur(blurred)
    r = ref.ratio(blurred)
    assert r[0] > 1.0  # the band-pass level sees the lost detail


def test_colour_histogram_counts_visible_colour_only():
    x = np.zeros((1, 4, 4, 4), np.uint8)
    x[0, :2] = [255, 0, 0, 255]  # half the pixels opaque red
    x[0, 2:] = [0, 0, 255, 0]  # hidden blue under transparency
    h = qm.colour_histogram(x, levels=2)
    assert h.shape == (1, 8)
    assert h[0, 4] == pytest.approx(1.0) and h.sum() == pytest.approx(1.0)  # red bin (1, 0, 0)


def test_orientation_histogram_tells_vertical_from_horizontal_edges():
    v = _rgba((0, 0, 0), 1.0, size=16)
    v[:, :, 8:, :3] = 1.0
    h = np.transpose(v, (0, 2, 1, 3))
    fv, fh = qm.orientation_histogram(v, cells=2, bins=4), qm.orientation_histogram(h, cells=2, bins=4)
    assert fv.shape == (1, 16)
    assert np.linalg.norm(fv) == pytest.approx(1.0)
    assert fv.reshape(2, 2, 4).sum((0, 1))[0] == pytest.approx(fv.sum())  # all at angle 0
    assert fh.reshape(2, 2, 4).sum((0, 1))[2] == pytest.approx(fh.sum())  # all at angle pi/2


def test_class_judge_learns_colour_classes_from_images():
    colours = np.array([[220, 40, 40], [40, 200, 60], [40, 60, 220]])
    y = np.repeat(np.arange(3), 8)
    imgs = _sprites(24, 7)
    imgs[..., :3] = np.where(imgs[..., 3:] > 0, colours[y][:, None, None], 0)
    judge = qm.ClassJudge(3).fit(imgs, y)
    test = _sprites(6, 8)
    yt = np.array([0, 1, 2, 0, 1, 2])
    test[..., :3] = np.where(test[..., 3:] > 0, colours[yt][:, None, None], 0)
    assert (judge.predict(test) == yt).all()
