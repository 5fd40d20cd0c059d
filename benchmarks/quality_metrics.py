"""Sample-quality metrics for benchmarks/quality.py: pure numpy functions, no torch, no I/O.

Images come in as the product hands them out: uint8 (or float in [0, 1]) straight-alpha RGBA,
NHWC. Every metric looks at them as a player would, composited over mid-grey (``over_grey``).

- ``psnr``: reconstruction PSNR in dB from the mean squared error over a whole set.
- ``tiny_features``: the fixed feature space of diversity and novelty: the
  over-grey image box-averaged to 16x16 RGB and flattened (768 numbers in [0, 1]). It has no
  parameters and no randomness, so it is the same for every run and seed.
- ``ClassJudge``: the independent class judge: L2-regularised multinomial logistic
  regression (``SoftmaxClassifier``, accelerated gradient descent, L2 weight picked by
  stratified 4-fold cross-validation on the training images only) on three fixed feature
  blocks (``judge_blocks``): 8x8 over-grey RGB, an alpha-weighted colour histogram and a
  HOG-like orientation histogram. (16x16 pixels alone judged tuxpaint's held-out stamps at
  about 21 % balanced accuracy, chance 12.5 %; these blocks at about 57 %.)
- ``mean_pairwise_distance`` / ``nearest_distances``: Euclidean distances in a feature space.
- ``gradient_magnitude``: per image, the mean over pixels of |forward-difference gradient| of
  the over-grey RGB image (the norm over x, y and the three channels).
- ``laplacian_pyramid`` / ``sliced_wasserstein`` / ``SWDReference``: the patch-distribution
  distance of DESIGN.md ("Measure blur honestly"), after Karras et al. (progressive GANs):
  7x7 neighbourhoods of Laplacian-pyramid levels, compared by sliced Wasserstein distance,
  divided by the same distance between two halves of the real set. ``SWDReference.realism``
  is the headline: the distances summed over levels, over the same sum for the real halves.
- ``two_sample_test``: can a classifier tell samples from real images? Held-out accuracy of an
  L2 logistic regression (``fit_logistic``, Newton) on a fixed feature bank
  (``two_sample_blocks``), k-fold cross-validated; 0.5 = indistinguishable.
- ``key_colours`` / ``colour_truth`` / ``mushroom_check``: does a class keep its colour
  variety? Key colours are compared in CIELAB (``srgb_to_lab``).
"""

from __future__ import annotations

import numpy as np

GREY = 0.5
FEATURE_SIZE = 16


# --------------------------------------------------------------------------- pixels


def over_grey(images: np.ndarray, grey: float = GREY) -> np.ndarray:
    """Straight-alpha RGBA [N, H, W, 4] (uint8, or float in [0, 1]) -> float64 RGB over grey."""
    x = np.asarray(images)
    x = x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
    a = x[..., 3:4]
    return x[..., :3] * a + grey * (1.0 - a)


def opaque(rgb: np.ndarray) -> np.ndarray:
    """Float RGB [N, H, W, 3] -> RGBA with alpha 1 (so over_grey gives the RGB back)."""
    rgb = np.asarray(rgb, np.float64)
    return np.concatenate([rgb, np.ones(rgb.shape[:-1] + (1,))], axis=-1)


def downsample(x: np.ndarray, size: int) -> np.ndarray:
    """Box-average [N, H, W, C] to [N, size, size, C]; H and W must be multiples of size."""
    n, h, w, c = x.shape
    if h % size or w % size:
        raise ValueError(f"cannot box-average {h}x{w} to {size}x{size}")
    return x.reshape(n, size, h // size, size, w // size, c).mean(axis=(2, 4))


def tiny_features(images: np.ndarray, size: int = FEATURE_SIZE) -> np.ndarray:
    """The fixed feature vector of each image: over grey, box-averaged to size x size, flat."""
    g = over_grey(images)
    return downsample(g, size).reshape(len(g), -1)


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB (peak 1) of two RGB float sets, from the MSE pooled over the whole set."""
    mse = float(np.mean((np.asarray(pred, np.float64) - np.asarray(target, np.float64)) ** 2))
    return float(10.0 * np.log10(1.0 / max(mse, 1e-10)))


# --------------------------------------------------------------------------- distances


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances [len(a), len(b)] between rows."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def mean_pairwise_distance(f: np.ndarray) -> float:
    """Mean Euclidean distance over all unordered pairs of rows; NaN for fewer than two rows."""
    n = len(f)
    if n < 2:
        return float("nan")
    d = pairwise_distances(f, f)
    return float(d[np.triu_indices(n, 1)].mean())


def nearest_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each row of a, the distance to its nearest row of b. [len(a)]"""
    return pairwise_distances(a, b).min(axis=1)


def _gradient_norm(images: np.ndarray) -> np.ndarray:
    """|grad| per pixel, sqrt(sum over RGB of dx^2 + dy^2), over grey; forward differences on
    the (H-1) x (W-1) grid where both exist. [N, H-1, W-1]"""
    g = over_grey(images)
    dx = g[:, :-1, 1:] - g[:, :-1, :-1]
    dy = g[:, 1:, :-1] - g[:, :-1, :-1]
    return np.sqrt((dx * dx + dy * dy).sum(-1))


def gradient_magnitude(images: np.ndarray) -> np.ndarray:
    """Per image: the mean over pixels of |grad| of the over-grey RGB image. [N]

    This is total variation per pixel, and it has a blind spot: spreading one straight edge
    over several pixels (a monotone ramp) keeps it unchanged. It drops when blur merges thin
    lines and texture (opposite-signed steps), which is most of what a VAE's blur does.
    """
    return _gradient_norm(images).mean(axis=(1, 2))


def gradient_rms(images: np.ndarray) -> np.ndarray:
    """Per image: the root mean square of |grad| (root gradient energy). [N]

    Sees soft edges too (a step spread over two pixels halves its energy), but rewards
    noise and checkerboards more than gradient_magnitude does.
    """
    return np.sqrt((_gradient_norm(images) ** 2).mean(axis=(1, 2)))


# --------------------------------------------------------------------------- classifier


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def fit_softmax(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float, iters: int = 500):
    """Minimise mean cross-entropy + l2/2 * |W|^2 (bias unpenalised) by Nesterov descent.

    x should be centred. Step 1/L with L = |x|_2^2 / (2n) + l2, a bound on the curvature
    (the softmax cross-entropy Hessian in the logits is at most 1/2). Returns (W, b).
    """
    x = np.asarray(x, np.float64)
    n, d = x.shape
    onehot = np.eye(n_classes)[y]
    lip = np.linalg.norm(x, 2) ** 2 / (2 * n) + 0.5 + l2  # +0.5 bounds the bias direction
    step = 1.0 / lip
    w, b = np.zeros((d, n_classes)), np.zeros(n_classes)
    vw, vb = w.copy(), b.copy()
    for t in range(1, iters + 1):
        p = _softmax(x @ vw + vb)
        gw = x.T @ (p - onehot) / n + l2 * vw
        gb = (p - onehot).mean(axis=0)
        w_new, b_new = vw - step * gw, vb - step * gb
        mom = (t - 1) / (t + 2)
        vw, vb = w_new + mom * (w_new - w), b_new + mom * (b_new - b)
        w, b = w_new, b_new
    return w, b


def stratified_folds(y: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Fold number of each sample: each class dealt round-robin over the k folds after a shuffle."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), np.int64)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % k
    return fold


def balanced_accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    """Mean over the classes present in y of the fraction of that class predicted right."""
    return float(np.mean([(pred[y == c] == c).mean() for c in np.unique(y)]))


class SoftmaxClassifier:
    """L2 multinomial logistic regression on fixed features; L2 weight picked by k-fold CV."""

    L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)

    def __init__(self, n_classes: int):
        self.n_classes = n_classes
        self.l2: float | None = None
        self.cv_accuracy: dict[float, float] = {}

    def fit(self, x: np.ndarray, y: np.ndarray, folds: int = 4, seed: int = 0) -> SoftmaxClassifier:
        x, y = np.asarray(x, np.float64), np.asarray(y, np.int64)
        fold = stratified_folds(y, folds, seed)
        for l2 in self.L2_GRID:
            accs = []
            for f in range(folds):
                tr, te = fold != f, fold == f
                if not te.any():
                    continue
                mu = x[tr].mean(axis=0)
                w, b = fit_softmax(x[tr] - mu, y[tr], self.n_classes, l2)
                accs.append(balanced_accuracy(np.argmax((x[te] - mu) @ w + b, axis=1), y[te]))
            self.cv_accuracy[l2] = float(np.mean(accs))
        best = max(self.cv_accuracy.values())
        self.l2 = max(
            l2 for l2, a in self.cv_accuracy.items() if a >= best - 1e-12
        )  # ties: stronger L2
        self.mean = x.mean(axis=0)
        self.w, self.b = fit_softmax(x - self.mean, y, self.n_classes, self.l2)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax((np.asarray(x, np.float64) - self.mean) @ self.w + self.b, axis=1)


def colour_histogram(images: np.ndarray, levels: int = 4) -> np.ndarray:
    """Alpha-weighted RGB histogram (levels^3 bins), normalised to sum 1, square-rooted.

    [N, levels^3]

    Where the colour is, not where it sits: blind to position and little moved by blur.
    """
    x = np.asarray(images)
    x = x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
    q = np.minimum((x[..., :3] * levels).astype(np.int64), levels - 1)
    idx = (q[..., 0] * levels + q[..., 1]) * levels + q[..., 2]
    n, bins = len(x), levels**3
    idx = idx.reshape(n, -1) + bins * np.arange(n)[:, None]
    h = np.bincount(idx.ravel(), weights=x[..., 3].ravel(), minlength=n * bins).reshape(n, bins)
    return np.sqrt(h / np.maximum(h.sum(axis=1, keepdims=True), 1e-12))


def orientation_histogram(images: np.ndarray, cells: int = 4, bins: int = 8) -> np.ndarray:
    """HOG-like shape descriptor: over a cells x cells grid, magnitude-weighted histograms of
    unsigned gradient orientation (central differences of the over-grey luminance), the whole
    vector L2-normalised per image. [N, cells*cells*bins]"""
    g = over_grey(images).mean(axis=-1)
    n, h, w = g.shape
    dx, dy = np.zeros_like(g), np.zeros_like(g)
    dx[:, :, 1:-1] = g[:, :, 2:] - g[:, :, :-2]
    dy[:, 1:-1] = g[:, 2:] - g[:, :-2]
    mag = np.hypot(dx, dy)
    b = np.minimum(((np.arctan2(dy, dx) % np.pi) / np.pi * bins).astype(np.int64), bins - 1)
    out = np.stack(
        [
            (mag * (b == k)).reshape(n, cells, h // cells, cells, w // cells).sum(axis=(2, 4))
            for k in range(bins)
        ],
        axis=-1,
    ).reshape(n, -1)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def judge_blocks(images: np.ndarray) -> list[np.ndarray]:
    """The class judge's features: coarse layout (8x8 RGB over grey), colour histogram, and
    orientation histogram (shape)."""
    g = over_grey(images)
    return [
        downsample(g, 8).reshape(len(g), -1),
        colour_histogram(images),
        orientation_histogram(images),
    ]


class ClassJudge:
    """An independent classifier of real images, to ask whether samples look like their class.

    judge_blocks features, each block divided by the mean norm of its centred training rows
    (so the three weigh alike), then SoftmaxClassifier.
    """

    def __init__(self, n_classes: int):
        self.clf = SoftmaxClassifier(n_classes)

    def _features(self, images: np.ndarray) -> np.ndarray:
        return np.concatenate([b / s for b, s in zip(judge_blocks(images), self.scales)], axis=1)

    def fit(self, images: np.ndarray, labels: np.ndarray) -> ClassJudge:
        blocks = judge_blocks(images)
        self.scales = [
            max(float(np.linalg.norm(b - b.mean(axis=0), axis=1).mean()), 1e-12) for b in blocks
        ]
        self.clf.fit(self._features(images), labels)
        return self

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.clf.predict(self._features(images))


# --------------------------------------------------------------------------- patch distribution

_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur(x: np.ndarray) -> np.ndarray:
    """Separable 5-tap binomial blur of [N, H, W, C], reflecting at the borders."""
    h, w = x.shape[1:3]
    p = np.pad(x, ((0, 0), (2, 2), (0, 0), (0, 0)), mode="reflect")
    x = sum(k * p[:, i : i + h] for i, k in enumerate(_BINOMIAL))
    p = np.pad(x, ((0, 0), (0, 0), (2, 2), (0, 0)), mode="reflect")
    return sum(k * p[:, :, i : i + w] for i, k in enumerate(_BINOMIAL))


def pyr_down(x: np.ndarray) -> np.ndarray:
    return _blur(x)[:, ::2, ::2]


def pyr_up(x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    up = np.zeros((n, 2 * h, 2 * w, c), x.dtype)
    up[:, ::2, ::2] = 4.0 * x  # a quarter of the taps are non-zero: keep the DC gain at 1
    return _blur(up)


def laplacian_pyramid(x: np.ndarray, min_size: int = 16) -> list[np.ndarray]:
    """Band-pass levels from full size down, then the low-pass residual at min_size.

    ``x == sum of pyr_up^k(level k)``, so nothing is lost. A 64 px image gives levels at 64,
    32 (band-pass: fine and middle detail) and 16 (low-pass: coarse shape and colour).
    """
    levels, cur = [], np.asarray(x, np.float64)
    while cur.shape[1] > min_size and cur.shape[1] % 2 == 0:
        down = pyr_down(cur)
        levels.append(cur - pyr_up(down))
        cur = down
    levels.append(cur)
    return levels


def patch_descriptors(level: np.ndarray, per_image: int, seed: int, patch: int = 7) -> np.ndarray:
    """per_image random patch x patch neighbourhoods of each image, flattened. [N*per_image, p*p*C]

    The positions depend only on (seed, N, level size), so the same images give the same
    descriptors.
    """
    n, h, w, c = level.shape
    rng = np.random.default_rng([seed, h, n])
    ys = rng.integers(0, h - patch + 1, size=(n, per_image))
    xs = rng.integers(0, w - patch + 1, size=(n, per_image))
    win = np.lib.stride_tricks.sliding_window_view(level, (patch, patch), axis=(1, 2))
    # win: [N, H-p+1, W-p+1, C, p, p]
    img = np.repeat(np.arange(n), per_image)
    return win[img, ys.ravel(), xs.ravel()].reshape(n * per_image, -1)


def sliced_wasserstein(
    a: np.ndarray, b: np.ndarray, n_dirs: int = 512, seed: int = 0, chunk: int = 128
) -> float:
    """Mean over n_dirs random unit directions of the 1-D Wasserstein-1 distance between the
    projections of the rows of a and of b. The larger set is subsampled (fixed seed) to the
    size of the smaller, so sorted projections pair up one to one.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) != len(b):
        rng = np.random.default_rng([seed, 1])
        m = min(len(a), len(b))
        a = a[np.sort(rng.choice(len(a), m, replace=False))] if len(a) > m else a
        b = b[np.sort(rng.choice(len(b), m, replace=False))] if len(b) > m else b
    dirs = np.random.default_rng([seed, 0]).standard_normal((a.shape[1], n_dirs))
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    total = 0.0
    for i in range(0, n_dirs, chunk):
        d = dirs[:, i : i + chunk]
        total += np.abs(np.sort(a @ d, axis=0) - np.sort(b @ d, axis=0)).mean(axis=0).sum()
    return float(total / n_dirs)


class SWDReference:
    """The real set split in two halves A and B, ready to score sample sets against B.

    Each pyramid level's descriptors are normalised per colour channel by the mean and standard
    deviation of the whole real set at that level, and the same constants are applied to the
    samples. (Progressive GAN's code normalises each set by its own statistics, which hides a
    uniform loss of contrast -- exactly what blur is.) ``ratio(samples)[k]`` is
    SWD(samples, B) / SWD(A, B) at level k: 1 means as close to B as other real art is.
    Give it as many samples as A has images (and in A's class proportions), so both
    distances carry the same finite-sample floor.
    """

    def __init__(
        self,
        real_a: np.ndarray,
        real_b: np.ndarray,
        per_image: int = 128,
        n_dirs: int = 512,
        seed: int = 0,
        min_size: int = 16,
    ):
        self.per_image, self.n_dirs, self.seed, self.min_size = per_image, n_dirs, seed, min_size
        pa = laplacian_pyramid(over_grey(real_a), min_size)
        pb = laplacian_pyramid(over_grey(real_b), min_size)
        self.sizes = [lv.shape[1] for lv in pa]
        self.norm = []
        for la, lb in zip(pa, pb):
            both = np.concatenate([la, lb]).reshape(-1, la.shape[-1])
            self.norm.append((both.mean(axis=0), np.maximum(both.std(axis=0), 1e-8)))
        self.desc_b = [self._desc(lv, k) for k, lv in enumerate(pb)]
        self.real_vs_real = [
            sliced_wasserstein(self._desc(lv, k), db, n_dirs, seed)
            for k, (lv, db) in enumerate(zip(pa, self.desc_b))
        ]

    def _desc(self, level: np.ndarray, k: int) -> np.ndarray:
        mean, std = self.norm[k]
        return patch_descriptors((level - mean) / std, self.per_image, self.seed + k)

    def distances(self, images: np.ndarray) -> list[float]:
        levels = laplacian_pyramid(over_grey(images), self.min_size)
        return [
            sliced_wasserstein(self._desc(lv, k), db, self.n_dirs, self.seed)
            for k, (lv, db) in enumerate(zip(levels, self.desc_b))
        ]

    def ratio(self, images: np.ndarray) -> list[float]:
        return [d / max(r, 1e-12) for d, r in zip(self.distances(images), self.real_vs_real)]

    def realism(self, images: np.ndarray) -> dict:
        """The headline realism figure and its per-level ratios.

        ``realism`` is sum over levels of SWD(samples, B) divided by sum over levels of
        SWD(A, B): 1 means as real as the real art, and no level can hide behind the others'
        average (a sum of distances, not a mean of ratios, so the level that is far off
        dominates). ``ratio`` holds the per-level ratios (finest level first).
        """
        d = self.distances(images)
        return {
            "realism": sum(d) / max(sum(self.real_vs_real), 1e-12),
            "ratio": [v / max(r, 1e-12) for v, r in zip(d, self.real_vs_real)],
            "distance": d,
        }


# --------------------------------------------------------------------------- two-sample test
#
# Can a classifier tell generated images from real ones? Held-out accuracy of an L2 logistic
# regression, k-fold cross-validated: 0.5 means indistinguishable, 1 means every image gives
# itself away. The features are a fixed bank that no training loss sees directly: quantiles of
# Laplacian band energy per level and channel (blur lowers them, noise and checkerboards raise
# them), gradient-orientation histograms at three scales (edge structure), the alpha-weighted
# colour histogram, the alpha-level histogram (soft versus hard edges) and the energy of 16
# fixed random 5x5 filters on RGB+alpha at three scales (random shallow filters are a
# known-good texture descriptor, and nothing can be tuned against filters drawn here). The
# whole image is one sample, so every feature sees the sprite as a player does.
#
# A change no player can see must not give an image away. Art with exact flat colours and
# exact 0/255 alpha makes some features exactly constant across the real images, and a
# standardised constant separates any steady deviation, however small: feature bank 2 told
# the demo plants from themselves with +-1 level of colour noise at 0.78, and with +-1 level
# of alpha noise at 0.94 (README, issue 14). So bank 3 ignores what is within INVISIBLE of
# the art: Laplacian and gradient magnitudes pass a dead zone of that size, the alpha
# histogram counts alpha that near 0 or 1 as 0 or 1, and the orientation histogram votes
# into its two nearest bins on the circle (a hard bin edge at 0 sent a vertical edge to
# bin 0 or bin 7 by the sign of a one-level wobble). Blur still shows: 0.3 px of it scores
# 0.97 on the plants, as before.

TWO_SAMPLE_QUANTILES = (0.5, 0.8, 0.95, 0.99)
RANDOM_FILTERS = 16
_LOG_EPS = 1e-3
FEATURE_BANK = 3  # recorded with every two-sample result; 2 had none of the invisibility rules
INVISIBLE = 2 / 255  # per channel: below a just-noticeable difference on any background


def _dead_zone(v: np.ndarray, gain: float) -> np.ndarray:
    """A filter's response shrunk toward 0 by the most a wobble within INVISIBLE can make it
    (``gain``: the filter's L1 norm), sign kept: a wobble no one sees counts as none."""
    return np.sign(v) * np.maximum(np.abs(v) - gain * INVISIBLE, 0.0)


def _rgba_float(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    return x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)


def _scales(x: np.ndarray, n: int = 3, min_size: int = 8) -> list[np.ndarray]:
    """x and its Gaussian-pyramid reductions, down to min_size, at most n in all."""
    out = [x]
    while len(out) < n and out[-1].shape[1] // 2 >= min_size and out[-1].shape[1] % 2 == 0:
        out.append(pyr_down(out[-1]))
    return out


def _random_filters(channels: int, size: int = 5, n: int = RANDOM_FILTERS) -> np.ndarray:
    """Fixed zero-mean, unit-norm random filters [size, size, channels, n] (seeded, constant)."""
    w = np.random.default_rng(20240514).standard_normal((size, size, channels, n))
    w -= w.mean(axis=(0, 1, 2), keepdims=True)
    return w / np.linalg.norm(w.reshape(-1, n), axis=0)


def _filter_energy(x: np.ndarray, w: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Per image and filter: log mean |x * w| and log mean (x * w)^2 ('valid' correlation)."""
    k = w.shape[0]
    n, h, wd, _ = x.shape
    out = []
    for i in range(0, n, chunk):
        xs = x[i : i + chunk]
        r = np.zeros((len(xs), h - k + 1, wd - k + 1, w.shape[-1]))
        for dy in range(k):
            for dx in range(k):
                r += xs[:, dy : dy + h - k + 1, dx : dx + wd - k + 1] @ w[dy, dx]
        out.append(np.concatenate([np.abs(r).mean(axis=(1, 2)), (r * r).mean(axis=(1, 2))], 1))
    return np.log(_LOG_EPS + np.concatenate(out))


def _orientation_global(lum: np.ndarray, bins: int = 8) -> np.ndarray:
    """Magnitude-weighted unsigned orientation histogram (normalised, soft-binned) + log mean
    and log 95th percentile of the gradient magnitude (dead-zoned), per image. [N, bins + 2]"""
    # each central difference less what a wobble can make it, so a wobble neither adds
    # magnitude to a flat nor tilts an edge
    dx = _dead_zone(lum[:, 1:-1, 2:] - lum[:, 1:-1, :-2], 2)
    dy = _dead_zone(lum[:, 2:, 1:-1] - lum[:, :-2, 1:-1], 2)
    mag = np.hypot(dx, dy).reshape(len(lum), -1)
    # bin centres at j * pi / bins; each gradient votes into its two nearest, circularly
    pos = ((np.arctan2(dy, dx) % np.pi) / np.pi * bins).reshape(len(lum), -1)
    lo = np.floor(pos)
    frac, lo = pos - lo, lo.astype(np.int64) % bins
    hi = (lo + 1) % bins
    hist = np.stack(
        [(mag * ((lo == j) * (1 - frac) + (hi == j) * frac)).sum(1) for j in range(bins)], axis=1
    )
    hist /= np.maximum(hist.sum(1, keepdims=True), 1e-12)
    stats = np.log(_LOG_EPS + np.stack([mag.mean(1), np.quantile(mag, 0.95, axis=1)], 1))
    return np.concatenate([hist, stats], axis=1)


def alpha_histogram(images: np.ndarray) -> np.ndarray:
    """Share of pixels with alpha 0, in (0, .25], (.25, .5], (.5, .75], (.75, 1), and 1, where
    0 and 1 take alpha within INVISIBLE of them. [N, 6]

    Hard-edged pixel art puts everything in the first and last bins; a soft decoder does not.
    """
    a = _rgba_float(images)[..., 3].reshape(len(images), -1)
    tol = INVISIBLE + 0.5 / 255  # 2 levels off still reads as 0 or 255
    zero, one = a <= tol, a >= 1 - tol
    mid = ~(zero | one)
    parts = [zero]
    for lo, hi in ((0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)):
        parts.append(mid & (a > lo) & (a <= hi))
    parts.append(one)
    return np.stack([p.mean(1) for p in parts], axis=1)


def two_sample_blocks(images: np.ndarray) -> dict[str, np.ndarray]:
    """The two-sample test's fixed feature bank, block by block. Each value is [N, d]."""
    x = _rgba_float(images)
    rgb = over_grey(x)
    rgba = np.concatenate([rgb, x[..., 3:4]], axis=-1)  # colour as seen, and the alpha itself
    bands = laplacian_pyramid(rgba, min_size=8)[:-1][:3]  # band-pass levels only, finest first
    band_feats = []
    for lv in bands:
        mag = _dead_zone(np.abs(lv), 2).reshape(len(lv), -1, 4)  # |1 - blur| <= 2
        band_feats.append(
            np.log(_LOG_EPS + np.quantile(mag, TWO_SAMPLE_QUANTILES, axis=1))
            .transpose(1, 0, 2)
            .reshape(len(lv), -1)
        )
    grey_scales = _scales(rgb.mean(axis=-1, keepdims=True))
    w = _random_filters(4)
    centred = [s - 0.5 for s in _scales(rgba)]
    return {
        "laplacian": np.concatenate(band_feats, axis=1),
        "orientation": np.concatenate([_orientation_global(g[..., 0]) for g in grey_scales], 1),
        "colour": colour_histogram(x),
        "alpha": alpha_histogram(x),
        "random_filters": np.concatenate([_filter_energy(s, w) for s in centred], axis=1),
    }


def invisible_wobble(images: np.ndarray, levels: int = 1, seed: int = 0) -> np.ndarray:
    """uint8 RGBA with every visible pixel's colour and alpha moved by up to +-``levels``
    (uniform integers, clipped), one draw per art pixel of each image's block grid: the
    calibration of what the two-sample test must not see."""
    from assetvae.datasets.grid import block_factor

    rng = np.random.default_rng(seed)
    out = np.asarray(images).astype(np.int16)
    for img in out:
        b = block_factor(img.astype(np.uint8))
        h, w = img.shape[0] // b, img.shape[1] // b
        wobble = rng.integers(-levels, levels + 1, size=(h, w, 4)).repeat(b, 0).repeat(b, 1)
        img += np.where(img[..., 3:4] > 0, wobble, 0).astype(np.int16)
    return np.clip(out, 0, 255).astype(np.uint8)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float, iters: int = 25
) -> tuple[np.ndarray, float]:
    """Binary logistic regression, mean log-loss + l2/2 |w|^2 (bias unpenalised), by Newton's
    method (exact Hessian; a step-halving line search keeps every step a descent).
    Returns (w, b)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n, d = x.shape
    xb = np.concatenate([x, np.ones((n, 1))], axis=1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    theta = np.zeros(d + 1)

    def loss(t):
        z = xb @ t
        return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * t[:-1] @ t[:-1])

    cur = loss(theta)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(xb @ theta)))
        g = xb.T @ (p - y) / n + reg * theta
        hess = (xb * (p * (1 - p))[:, None]).T @ xb / n + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, g)
        t = 1.0
        while t > 1e-4:
            new = loss(theta - t * step)
            if new <= cur:
                break
            t *= 0.5
        theta, prev, cur = theta - t * step, cur, min(new, cur)
        if prev - cur < 1e-10:
            break
    return theta[:-1], float(theta[-1])


def _cv_accuracy(
    x: np.ndarray, y: np.ndarray, folds: int, repeats: int, l2: float, seed: int
) -> tuple[float, float]:
    """Mean held-out accuracy over repeats x folds (features standardised on the training
    folds), and its standard error over the repeats."""
    per_repeat = []
    for r in range(repeats):
        fold = stratified_folds(y, folds, seed + r)
        right = 0
        for f in range(folds):
            tr, te = fold != f, fold == f
            mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-6
            w, b = fit_logistic((x[tr] - mu) / sd, y[tr], l2)
            right += int((((x[te] - mu) / sd @ w + b > 0) == (y[te] == 1)).sum())
        per_repeat.append(right / len(y))
    se = float(np.std(per_repeat) / np.sqrt(repeats)) if repeats > 1 else float("nan")
    return float(np.mean(per_repeat)), se


def two_sample_test(
    real: np.ndarray,
    fake: np.ndarray,
    folds: int = 5,
    repeats: int = 3,
    l2: float = 0.1,
    seed: int = 0,
    per_block: bool = True,
) -> dict:
    """How well a classifier tells ``fake`` images from ``real`` ones (RGBA, NHWC).

    The larger set is subsampled (fixed seed) to the size of the smaller, so chance is 0.5.
    ``accuracy`` is the mean held-out accuracy over ``repeats`` shuffles of stratified
    ``folds``-fold cross-validation of an L2 logistic regression (``fit_logistic``; weight
    ``l2`` on standardised features: fixed, not tuned on these data, so choosing it cannot
    bias the answer upwards) on all feature blocks; ``blocks`` gives each block alone, which
    tells what gives the fakes away. Accuracy well below 0.5 is possible too: fakes that are
    copies of real images land beside their twins, across folds, with the other label.
    """
    real, fake = np.asarray(real), np.asarray(fake)
    m = min(len(real), len(fake))
    if m < folds:
        raise ValueError(f"two_sample_test needs at least {folds} images per side, got {m}")
    rng = np.random.default_rng([seed, 7])
    real = real[np.sort(rng.choice(len(real), m, replace=False))] if len(real) > m else real
    fake = fake[np.sort(rng.choice(len(fake), m, replace=False))] if len(fake) > m else fake
    br, bf = two_sample_blocks(real), two_sample_blocks(fake)
    y = np.concatenate([np.zeros(m, np.int64), np.ones(m, np.int64)])
    blocks = {k: np.concatenate([br[k], bf[k]]) for k in br}
    acc, se = _cv_accuracy(
        np.concatenate(list(blocks.values()), axis=1), y, folds, repeats, l2, seed
    )
    out = {
        "accuracy": acc,
        "stderr": se,
        "feature_bank": FEATURE_BANK,
        "n_per_side": m,
        "folds": folds,
        "repeats": repeats,
        "l2": l2,
        "features": {k: v.shape[1] for k, v in blocks.items()},
    }
    if per_block:
        out["blocks"] = {
            k: _cv_accuracy(v, y, folds, repeats, l2, seed)[0] for k, v in blocks.items()
        }
    return out


# --------------------------------------------------------------------------- colour truth
#
# Does a model keep a class's colour variety, or collapse it to the majority (every mushroom
# red)? Each image is summarised by its key colours: the hue windows (45 degrees wide) that
# hold at least a fifth of its visible pixels, found greedily, plus "neutral" (saturation
# under 0.2: greys, whites, pale stems) when that holds a fifth. A key colour is the mean
# CIELAB colour of its pixels, so hue, value and chroma all count: brown is dark orange, far
# from both red and orange in CIELAB (Delta E 40 or more) though only 15-25 degrees of hue
# away. Two key colours match when Delta E76 <= 25: a just noticeable difference is about
# 2.3, and 25 keeps shades of one colour name together (a red cap's variants differ by up to
# about 20) while red, brown, orange, purple and blue stay apart (40-50). Near-black pixels
# (value < 0.25: outlines, deep shadow) carry no colour identity and are left out.

HUE_WINDOW_BINS = 3  # of 24 bins of 15 degrees: a 45-degree window
KEY_MIN_SHARE = 0.2
NEUTRAL_SAT = 0.2
DARK_VALUE = 0.25
MATCH_DELTA_E = 25.0


def rgb_to_hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float RGB [..., 3] in [0, 1] -> hue in [0, 1), saturation, value (as colorsys)."""
    rgb = np.asarray(rgb, np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = rgb.max(-1)
    c = v - rgb.min(-1)
    s = np.where(v > 0, c / np.maximum(v, 1e-12), 0.0)
    cz = np.maximum(c, 1e-12)
    h = np.where(
        v == r, ((g - b) / cz) % 6.0, np.where(v == g, (b - r) / cz + 2.0, (r - g) / cz + 4.0)
    )
    h = np.where(c > 0, h / 6.0, 0.0) % 1.0
    return h, s, v


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB [..., 3] in [0, 1] -> CIELAB (D65 white). [..., 3]"""
    rgb = np.asarray(rgb, np.float64)
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    )
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )


def key_colours(image: np.ndarray, min_share: float = KEY_MIN_SHARE) -> list[dict]:
    """The key colours of one straight-alpha RGBA image [H, W, 4] (see the section comment).

    Each is ``{"lab": [3], "hue": degrees or None (neutral), "sat", "value", "share"}``,
    largest share first. Pixels count when alpha >= 0.5 and value >= DARK_VALUE. When no
    window reaches ``min_share``, the largest one is returned alone, so an image with any
    colour has at least one key colour.
    """
    x = _rgba_float(image[None])[0]
    rgb = x[..., :3][x[..., 3] >= 0.5]
    h, s, v = rgb_to_hsv(rgb)
    keep = v >= DARK_VALUE
    rgb, h, s, v = rgb[keep], h[keep], s[keep], v[keep]
    n = len(rgb)
    if n == 0:
        return []
    lab = srgb_to_lab(rgb)

    def describe(sel: np.ndarray, neutral: bool) -> dict:
        ang = h[sel] * 2 * np.pi
        hue = (
            None
            if neutral
            else float(np.degrees(np.arctan2(np.sin(ang).mean(), np.cos(ang).mean())) % 360)
        )
        return {
            "lab": lab[sel].mean(0),
            "hue": hue,
            "sat": float(s[sel].mean()),
            "value": float(v[sel].mean()),
            "share": float(sel.sum() / n),
        }

    neutral = s < NEUTRAL_SAT
    bins = np.floor(h * 24).astype(np.int64) % 24
    left = ~neutral
    keys, fallback = [], None
    while left.any():
        counts = np.bincount(bins[left], minlength=24)
        window = sum(np.roll(counts, -j) for j in range(HUE_WINDOW_BINS))  # bins i .. i+2
        start = int(np.argmax(window))
        sel = left & (((bins - start) % 24) < HUE_WINDOW_BINS)
        if sel.sum() < min_share * n:
            fallback = fallback or describe(sel, False)
            break
        keys.append(describe(sel, False))
        left &= ~sel
    if neutral.any() and neutral.sum() >= min_share * n:
        keys.append(describe(neutral, True))
    if not keys:
        keys = [fallback if fallback is not None else describe(neutral, True)]
    return sorted(keys, key=lambda k: -k["share"])


def colours_covered(
    real_keys: list[dict], pool: np.ndarray, max_delta_e: float = MATCH_DELTA_E
) -> bool:
    """True when every key colour of the real image is within Delta E of a colour in
    ``pool`` ([M, 3] CIELAB: the key colours of a set of samples)."""
    if not real_keys:
        return True
    if len(pool) == 0:
        return False
    return all(np.linalg.norm(pool - k["lab"], axis=1).min() <= max_delta_e for k in real_keys)


def _key_pool(keys: list[list[dict]]) -> np.ndarray:
    labs = [k["lab"] for ks in keys for k in ks]
    return np.stack(labs) if labs else np.zeros((0, 3))


def colour_truth(
    real: np.ndarray, samples: np.ndarray, max_delta_e: float = MATCH_DELTA_E
) -> float:
    """Share of the real images (one class) whose every key colour appears among the key
    colours of the samples: 1 keeps every colour the class shows; about 1/k when k equally
    common colour looks collapse to one. Colours need not appear together in one sample
    (a shield's field, rim and emblem colours are counted apart): whether the combinations
    are right is for realism and the two-sample test to judge."""
    pool = _key_pool([key_colours(im) for im in samples])
    return float(np.mean([colours_covered(key_colours(im), pool, max_delta_e) for im in real]))


def colour_truth_reference(real: np.ndarray, max_delta_e: float = MATCH_DELTA_E) -> float:
    """colour_truth of the real images against each other, leaving each image out of its own
    pool: what a model that draws new real art would score (a colour worn by one image only
    is lost)."""
    keys = [key_colours(im) for im in real]
    return float(
        np.mean(
            [
                colours_covered(k, _key_pool(keys[:i] + keys[i + 1 :]), max_delta_e)
                for i, k in enumerate(keys)
            ]
        )
    )


# The demo mushrooms' cap colours, as (hue range in degrees, value range) of the cap's key
# colour (the largest chromatic one), checked in this order. Measured on the 64 mushrooms of
# ``demo_images(64, seed=0)``, whose generator draws five kinds (datasets/demo.py
# MUSHROOM_KINDS): red caps at hue 1-21 with value 0.68-0.80, brown at 21-32 with value
# 0.40-0.62, tan at 37-42 with value 0.59-0.76, blue at 199-219, purple at 273-288. The
# boundaries sit in the gaps (tests/test_quality_metrics.py checks every kind lands in its own).
MUSHROOM_COLOURS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "red": ((335.0, 26.0), (0.64, 1.01)),
    "brown": ((10.0, 35.0), (0.0, 0.64)),
    "tan": ((26.0, 60.0), (0.5, 1.01)),
    "blue": ((170.0, 250.0), (0.0, 1.01)),
    "purple": ((250.0, 320.0), (0.0, 1.01)),
}
MUSHROOM_REQUIRED = ("purple", "brown", "blue", "red")


def _in_hue_range(hue: float, lo: float, hi: float) -> bool:
    return lo <= hue < hi if lo <= hi else (hue >= lo or hue < hi)


def cap_colour(image: np.ndarray, names=MUSHROOM_COLOURS) -> str | None:
    """The named colour of an image's largest chromatic key colour, or None."""
    chrom = [k for k in key_colours(image, min_share=0.0) if k["hue"] is not None]
    if not chrom:
        return None
    k = max(chrom, key=lambda k: k["share"])
    for name, ((h0, h1), (v0, v1)) in names.items():
        if _in_hue_range(k["hue"], h0, h1) and v0 <= k["value"] < v1:
            return name
    return None


def mushroom_check(samples: np.ndarray, required=MUSHROOM_REQUIRED) -> dict:
    """Which named cap colours appear among ``samples``; ``pass`` when all ``required`` do."""
    found: dict[str, int] = {}
    for im in samples:
        name = cap_colour(im)
        found[name or "other"] = found.get(name or "other", 0) + 1
    return {
        "pass": all(found.get(c, 0) > 0 for c in required),
        "counts": found,
        "required": list(required),
        "n": len(samples),
    }
