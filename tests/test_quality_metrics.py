"""The quality benchmark's metrics are pure numpy functions: test them on tiny synthetic arrays."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load_benchmark

qm = load_benchmark("quality_metrics")


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
    assert qm.balanced_accuracy(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])) == pytest.approx(
        0.75 * 0 + (1 + 2 / 3) / 2
    )


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
    assert qm.sliced_wasserstein(a, a[rng.permutation(200)], n_dirs=64) == pytest.approx(
        0.0, abs=1e-12
    )
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
    fv, fh = (
        qm.orientation_histogram(v, cells=2, bins=4),
        qm.orientation_histogram(h, cells=2, bins=4),
    )
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


# --------------------------------------------------------------------------- realism


def test_realism_is_the_ratio_of_summed_level_distances():
    a, b = _sprites(12, 0), _sprites(12, 1)
    ref = qm.SWDReference(a, b, per_image=32, n_dirs=64)
    same = ref.realism(a)
    assert same["realism"] == pytest.approx(1.0) and same["ratio"] == pytest.approx([1.0, 1.0])
    blurred = qm._blur(qm._blur(a.astype(np.float64) / 255))
    r = ref.realism(blurred)
    assert r["realism"] > 1.2
    assert r["realism"] == pytest.approx(sum(r["distance"]) / sum(ref.real_vs_real))
    assert r["ratio"] == pytest.approx(ref.ratio(blurred))
    # a sum, not a mean of ratios: between the smallest and largest level ratio
    assert min(r["ratio"]) <= r["realism"] <= max(r["ratio"])


# --------------------------------------------------------------------------- two-sample test


def test_fit_logistic_reaches_the_regularised_optimum():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] - 0.5 * x[:, 2] + 0.3 * rng.normal(size=60) > 0).astype(np.int64)
    w, b = qm.fit_logistic(x, y, l2=0.1)
    p = 1 / (1 + np.exp(-(x @ w + b)))
    assert np.allclose(x.T @ (p - y) / 60 + 0.1 * w, 0, atol=1e-8)  # gradient zero
    assert abs((p - y).mean()) < 1e-8  # unpenalised bias
    assert w[0] > 0 > w[2]


def test_two_sample_test_on_known_answers():
    real, other = _sprites(40, 0), _sprites(40, 1)
    same = qm.two_sample_test(real, other, repeats=2, per_block=False)
    assert abs(same["accuracy"] - 0.5) <= 0.12, same  # two draws of one distribution
    blurred = qm._blur(other.astype(np.float64) / 255)
    assert qm.two_sample_test(real, blurred, repeats=1, per_block=False)["accuracy"] >= 0.9
    noise = np.random.default_rng(0).random(other.shape)
    found = qm.two_sample_test(real, noise, repeats=1)
    assert found["accuracy"] >= 0.95
    assert set(found["blocks"]) == {"laplacian", "orientation", "colour", "alpha", "random_filters"}
    assert found["n_per_side"] == 40 and sum(found["features"].values()) > 100


def test_two_sample_test_ignores_changes_no_one_sees_and_still_sees_light_blur():
    real, other = _sprites(60, 0), _sprites(60, 1)
    for levels in (1, 2):  # bank 2 told these apart at 1.00: the flats' features were exact
        wobbled = qm.invisible_wobble(other, levels, seed=levels)
        r = qm.two_sample_test(real, wobbled, repeats=2, per_block=False)
        assert r["accuracy"] <= 0.65, (levels, r)
        assert r["feature_bank"] == qm.FEATURE_BANK == 3
    light = qm._blur(other.astype(np.float64) / 255)  # one 5-tap pass, the lightest we keep
    assert qm.two_sample_test(real, light, repeats=1, per_block=False)["accuracy"] >= 0.9


def test_invisible_wobble_stays_on_the_art_grid_and_off_transparency():
    small = _sprites(3, 5, size=12)
    big = small.repeat(4, 1).repeat(4, 2)  # pixel art shipped at 4x
    w = qm.invisible_wobble(big, 2, seed=0).astype(np.int16)
    assert np.abs(w - big).max() == 2
    assert (w[big[..., 3] == 0] == 0).all()  # transparent pixels untouched
    blocks = w.reshape(3, 12, 4, 12, 4, 4)
    assert (blocks == blocks[:, :, :1, :, :1]).all()  # one wobble per art pixel
    assert qm.invisible_wobble(big, 2, seed=0).tolist() == w.tolist()  # seeded


def test_orientation_votes_do_not_jump_at_a_bin_edge():
    edge = np.zeros((2, 16, 16), np.float64)
    edge[:, :, 8:] = 0.8  # a vertical edge: the gradient points along x, angle 0
    edge[1, ::2, 8:] += 1 / 255  # a one-level wobble tilts it either way
    h = qm._orientation_global(edge)[:, :8]
    assert h[0, 0] == pytest.approx(1.0) and np.abs(h[0] - h[1]).max() < 0.05


def test_two_sample_test_balances_the_sides_and_flags_copies():
    real = _sprites(30, 2)
    r = qm.two_sample_test(real, _sprites(50, 3), repeats=1, per_block=False)
    assert r["n_per_side"] == 30
    # exact copies sit beside their twins across folds, with the other label: far below 0.5
    assert qm.two_sample_test(real, real.copy(), repeats=1, per_block=False)["accuracy"] < 0.3
    with pytest.raises(ValueError, match="at least 5 images"):
        qm.two_sample_test(real[:3], real[:3])


def test_alpha_histogram_tells_hard_from_soft_edges():
    hard = _sprites(2, 4)
    h = qm.alpha_histogram(hard)
    assert h[:, 1:5].sum() == 0 and np.allclose(h.sum(1), 1)
    soft = qm._blur(hard.astype(np.float64) / 255)
    assert qm.alpha_histogram(soft)[:, 1:5].sum() > 0.05
    near = _rgba(0.5, np.array([0, 2, 3, 250, 253, 255]).repeat(16)[:, None] / 255, size=96)
    h = qm.alpha_histogram(near[:, :96, :16])[0] * 6  # sixths: one per alpha level
    assert h.round(6).tolist() == [2, 1, 0, 0, 1, 2]  # 2 and 253 are 0 and 255 to any eye


# --------------------------------------------------------------------------- colour truth


def test_colour_conversions():
    import colorsys

    rgb = np.random.default_rng(5).random((50, 3))
    h, s, v = qm.rgb_to_hsv(rgb)
    ref = np.array([colorsys.rgb_to_hsv(*p) for p in rgb])
    assert np.allclose(h, ref[:, 0]) and np.allclose(s, ref[:, 1]) and np.allclose(v, ref[:, 2])
    assert qm.srgb_to_lab(np.array([1.0, 1.0, 1.0])) == pytest.approx([100, 0, 0], abs=0.01)
    assert qm.srgb_to_lab(np.array([1.0, 0.0, 0.0])) == pytest.approx(
        [53.24, 80.09, 67.20], abs=0.05
    )


def _disc(rgb, size=16, rgb2=None):
    """An opaque disc of one colour (the right half in rgb2 if given) with a black outline."""
    y, x = np.mgrid[0:size, 0:size] + 0.5
    d = np.hypot(x - size / 2, y - size / 2)
    im = np.zeros((size, size, 4), np.uint8)
    im[d < size * 0.45] = [0, 0, 0, 255]
    im[d < size * 0.38] = [*rgb, 255]
    if rgb2 is not None:
        im[(d < size * 0.38) & (x > size / 2)] = [*rgb2, 255]
    return im


def test_key_colours():
    red = qm.key_colours(_disc((220, 30, 30)))
    assert len(red) == 1 and (red[0]["hue"] < 10 or red[0]["hue"] > 350)  # outline left out
    two = qm.key_colours(_disc((220, 30, 30), rgb2=(40, 60, 220)))
    assert len(two) == 2 and {round(k["hue"] / 30) % 12 for k in two} == {0, 8}
    grey = qm.key_colours(_disc((128, 128, 128)))
    assert len(grey) == 1 and grey[0]["hue"] is None
    assert qm.key_colours(np.zeros((8, 8, 4), np.uint8)) == []


def test_colour_truth_sees_a_collapse_to_the_majority_colour():
    colours = [(220, 30, 30), (120, 70, 35), (140, 60, 200), (50, 90, 210)]  # red brown purple blue
    real = np.stack([_disc(colours[i % 4]) for i in range(12)])
    assert qm.colour_truth(real, real) == 1.0
    assert qm.colour_truth(real, real[::4]) == pytest.approx(0.25)  # only red samples
    # brown is not red: 15-25 degrees of hue apart, but far apart in value (Delta E > 25)
    lab = qm.srgb_to_lab(np.array([colours[0], colours[1]]) / 255)
    assert np.linalg.norm(lab[0] - lab[1]) > qm.MATCH_DELTA_E
    # an image with two key colours needs both among the samples, though not in one
    both = _disc((220, 30, 30), rgb2=(230, 210, 40))[None]
    assert qm.colour_truth(both, real) == 0.0
    assert qm.colour_truth(both, np.stack([_disc((230, 210, 40)), _disc((220, 30, 30))])) == 1.0
    # the reference leaves each image out of its own pool: a colour worn once is lost
    assert qm.colour_truth_reference(real) == 1.0
    assert qm.colour_truth_reference(np.concatenate([real, both])) == pytest.approx(12 / 13)


def _demo_mushroom_kind(seed: int, i: int) -> str:
    """The cap colour the demo generator chose for mushroom i (replays its first draws:
    draw_plant's height, lean, margin and centre, then the mushroom's kind)."""
    from assetvae.datasets import demo

    rng = demo._image_rng(seed, "mushroom", i)
    for _ in range(4):
        rng.uniform(0, 1)
    return rng.choices(demo.MUSHROOM_KINDS, weights=(3, 2, 2, 2, 1))[0]


def test_mushroom_colour_ranges_fit_the_real_demo_mushrooms():
    from assetvae.datasets.demo import demo_images

    imgs = [np.asarray(im) for im in demo_images(per_class=64, seed=0)["mushroom"]]
    named = [qm.cap_colour(im) for im in imgs]
    truth = [_demo_mushroom_kind(0, i) for i in range(64)]
    assert named == truth
    assert qm.mushroom_check(np.stack(imgs[:48]))["pass"]
    no_blue = np.stack([im for im, k in zip(imgs, truth) if k != "blue"])
    check = qm.mushroom_check(no_blue)
    assert not check["pass"] and "blue" not in check["counts"] and check["counts"]["red"] > 0


# --------------------------------------------------------------------------- the benchmark script


def _benchmark():
    return load_benchmark("quality", "quality_benchmark")


class _RowArgs:
    """The command-line arguments row_config reads: a 10-minute row, no --device."""

    epochs, minutes, seed, device, smoke = None, 10.0, 0, None, False


def test_benchmark_rows_and_recipes_are_config_overrides():
    pytest.importorskip("torch")
    bench = _benchmark()
    assert bench.parse_assignments('train.beta=0.5,train.loss_weights={"a": 1, "b": 2}') == {
        "train.beta": 0.5,
        "train.loss_weights": {"a": 1, "b": 2},
    }
    name, rec = bench.parse_recipe("lowkl:base=plain,train.beta=0.1", bench.RECIPES)
    assert name == "lowkl" and rec["model.arch"] == "plain" and rec["train.beta"] == 0.1
    with pytest.raises(SystemExit, match="unknown recipe"):
        bench.parse_recipe("nosuch", bench.RECIPES)

    class Args:
        sets, recipes, long, row = ["plants", "pixel"], ["default"], True, []
        epochs, minutes, seed, device, smoke = None, 10.0, 3, "cpu", False

    rows = bench.plan_rows(Args, bench.RECIPES)
    assert [r.name for r in rows] == [
        "plants:default@10",
        "pixel:default@10",
        "plants:default@40",
        "pixel:default@40",
    ]
    Args.row = ["tuxpaint:classic@2.5"]
    assert [(r.set, r.recipe, r.minutes) for r in bench.plan_rows(Args, bench.RECIPES)] == [
        ("tuxpaint", "classic", 2.5)
    ]
    classic = bench.row_config(
        bench.Row("pixel", "classic", 10.0), bench.SETS["pixel"], bench.RECIPES["classic"], [], Args
    )
    assert classic.train.recon == "bce" and classic.train.time_budget_s == 600.0
    assert classic.train.beta == pytest.approx(5e-4 * 64 * 64 * 4)  # follows the image size
    assert classic.train.seed == 3 and classic.train.device == "cpu"
    sets = bench.parse_sets(["train.lr=0.01", "classic.train.beta=1"], bench.RECIPES)
    cfg = bench.row_config(
        bench.Row("plants", "classic", 10.0),
        bench.SETS["plants"],
        bench.RECIPES["classic"],
        sets,
        Args,
    )
    assert cfg.train.lr == 0.01 and cfg.train.beta == 1 and cfg.train.crop is True
    with pytest.raises(bench.RecipeUnavailable, match="no field 'no_such_lever'"):
        bench.row_config(
            bench.Row("plants", "x", 10.0),
            bench.SETS["plants"],
            {"train.no_such_lever": 1},
            [],
            Args,
        )


def test_resize_rgba_keeps_pixel_grids_and_premultiplies_when_shrinking():
    bench = _benchmark()
    x = _sprites(2, 9, size=16)
    up = bench.resize_rgba(x, 64, nearest=True)
    assert np.array_equal(up, x.repeat(4, 1).repeat(4, 2))
    down = bench.resize_rgba(up, 16, nearest=False)
    assert np.array_equal(down, x)
    half = np.zeros((1, 2, 2, 4), np.uint8)
    half[0, 0, 0] = [255, 0, 0, 255]  # one red pixel beside transparent green ones
    half[0, 0, 1] = [0, 255, 0, 0]
    assert bench.resize_rgba(half, 1, nearest=False)[0, 0, 0, 1] == 0  # no hidden green


def test_benchmark_smoke_mode_runs_end_to_end(tmp_path):
    pytest.importorskip("torch")
    bench = _benchmark()
    out = tmp_path / "out"
    result = bench.main(
        [
            "--smoke",
            "--sets",
            "plants",
            "--recipes",
            "default",
            "--minutes",
            "0.02",
            "--out",
            str(out),
            "--data-dir",
            str(tmp_path / "data"),
        ]
    )
    assert [r["name"] for r in result["rows"]] == ["plants:default@0.02"]
    row = result["rows"][0]
    for key in (
        "realism",
        "swd",
        "two_sample",
        "colour_truth",
        "mushrooms",
        "consistency",
        "diversity",
        "novelty",
        "sharpness",
        "heldout",
        "targets",
        "images_per_s",
    ):
        assert key in row, key
    assert 0 <= row["two_sample"]["accuracy"] <= 1 and row["realism"]["1"] > 0
    # the decoder's share: reconstructions of real half A against real half B
    assert 0 <= row["heldout"]["two_sample_recon"]["accuracy"] <= 1
    assert row["targets"]["conditions_met"] is False
    real = result["sets"]["plants"]["real"]
    assert {"two_sample", "realism"} <= set(real["calibration"]["blur_5tap"])
    assert real["mushrooms"]["n"] == 5 and "copier" in real
    assert (out / "quality.json").exists() and (out / "sheet_plants.png").exists()


def test_every_benchmark_recipe_builds_a_valid_config_on_every_set():
    """A lever recipe that names a renamed field, or a value the config refuses, would only
    show up an hour into a benchmark run; here it fails at once."""
    pytest.importorskip("torch")
    bench = _benchmark()

    for name, recipe in bench.RECIPES.items():
        for set_name, spec in bench.SETS.items():
            cfg = bench.row_config(bench.Row(set_name, name, 10.0), spec, recipe, [], _RowArgs)
            for key, value in recipe.items():
                if not callable(value):
                    section, field = key.split(".")
                    assert getattr(getattr(cfg, section), field) == value, (name, key)


def test_a_rows_config_does_not_share_the_recipes_dicts():
    """The trainer completes a row's loss_weights (painted art gets its swd weight); on a
    shared dict that weight leaked into the recipe, and every later row of it started with
    the first row's decision."""
    pytest.importorskip("torch")
    bench = _benchmark()

    recipe = bench.RECIPES["alpha-levels"]
    before = dict(recipe["train.loss_weights"])
    cfg = bench.row_config(
        bench.Row("plants", "alpha-levels", 10.0), bench.SETS["plants"], recipe, [], _RowArgs
    )
    cfg.train.loss_weights["swd"] = 0.15
    assert recipe["train.loss_weights"] == before


def test_benchmark_machine_record_names_the_cpu_and_its_widest_vector_extension():
    """Benchmark rows are only comparable on one machine (an AVX2-only CPU trains ~5x fewer
    epochs in 10 minutes than one with AMX), so every JSON says which CPU it ran on."""
    common = load_benchmark("common", "bench_common")
    two_cpus = (
        "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n\n"
        "processor\t: 1\nmodel name\t: other\nflags\t\t: fpu avx512f\n"
    )
    assert common.cpu_info(two_cpus) == {"cpu": "AMD EPYC", "vector": "avx2"}
    amx = "model name : Xeon\nflags : avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
    assert common.cpu_info(amx) == {"cpu": "Xeon", "vector": "amx_bf16"}
    assert common.cpu_info("flags : sse2\n") == {"cpu": None, "vector": None}
    assert common.cpu_info("") == {"cpu": None, "vector": None}
    here = common.machine()
    assert {"cpu", "vector", "cpu_count"} <= set(here)


def test_palette_ceiling_snaps_each_pixel_to_its_nearest_entry():
    snap = load_benchmark("palette_ceiling").snap
    palette = np.array([[0, 0, 0, 0], [1, 0, 0, 1], [0, 0, 1, 1]], np.float32)
    images = np.array([[[[200, 30, 20, 255], [10, 0, 250, 255], [90, 90, 90, 0]]]], np.uint8)
    out = snap(images, palette)
    assert out.tolist() == [[[[255, 0, 0, 255], [0, 0, 255, 255], [0, 0, 0, 0]]]]
