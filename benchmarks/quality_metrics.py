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
  divided by the same distance between two halves of the real set.
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
        self.l2 = max(l2 for l2, a in self.cv_accuracy.items() if a >= best - 1e-12)  # ties: stronger L2
        self.mean = x.mean(axis=0)
        self.w, self.b = fit_softmax(x - self.mean, y, self.n_classes, self.l2)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax((np.asarray(x, np.float64) - self.mean) @ self.w + self.b, axis=1)


def colour_histogram(images: np.ndarray, levels: int = 4) -> np.ndarray:
    """Alpha-weighted RGB histogram (levels^3 bins), normalised to sum 1, square-rooted. [N, levels^3]

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
    out = np.stack([(mag * (b == k)).reshape(n, cells, h // cells, cells, w // cells).sum(axis=(2, 4))
                    for k in range(bins)], axis=-1).reshape(n, -1)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def judge_blocks(images: np.ndarray) -> list[np.ndarray]:
    """The class judge's features: coarse layout (8x8 RGB over grey), colour histogram, and
    orientation histogram (shape)."""
    g = over_grey(images)
    return [downsample(g, 8).reshape(len(g), -1), colour_histogram(images), orientation_histogram(images)]


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
        self.scales = [max(float(np.linalg.norm(b - b.mean(axis=0), axis=1).mean()), 1e-12) for b in blocks]
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


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, n_dirs: int = 512, seed: int = 0,
                       chunk: int = 128) -> float:
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

    def __init__(self, real_a: np.ndarray, real_b: np.ndarray, per_image: int = 128,
                 n_dirs: int = 512, seed: int = 0, min_size: int = 16):
        self.per_image, self.n_dirs, self.seed, self.min_size = per_image, n_dirs, seed, min_size
        pa = laplacian_pyramid(over_grey(real_a), min_size)
        pb = laplacian_pyramid(over_grey(real_b), min_size)
        self.sizes = [lv.shape[1] for lv in pa]
        self.norm = []
        for la, lb in zip(pa, pb):
            both = np.concatenate([la, lb]).reshape(-1, la.shape[-1])
            self.norm.append((both.mean(axis=0), np.maximum(both.std(axis=0), 1e-8)))
        self.desc_b = [self._desc(lv, k) for k, lv in enumerate(pb)]
        self.real_vs_real = [sliced_wasserstein(self._desc(lv, k), db, n_dirs, seed)
                             for k, (lv, db) in enumerate(zip(pa, self.desc_b))]

    def _desc(self, level: np.ndarray, k: int) -> np.ndarray:
        mean, std = self.norm[k]
        return patch_descriptors((level - mean) / std, self.per_image, self.seed + k)

    def distances(self, images: np.ndarray) -> list[float]:
        levels = laplacian_pyramid(over_grey(images), self.min_size)
        return [sliced_wasserstein(self._desc(lv, k), db, self.n_dirs, self.seed)
                for k, (lv, db) in enumerate(zip(levels, self.desc_b))]

    def ratio(self, images: np.ndarray) -> list[float]:
        return [d / max(r, 1e-12) for d, r in zip(self.distances(images), self.real_vs_real)]
