"""The class latent model: per class, a Gaussian fitted to the encoded training images.

Covariance = covariance of the posterior means + mean posterior variance (the law of total
variance for a mixture of the per-image posteriors), shrunk toward its diagonal so the
factor exists even for a class of one to three images.
"""

from __future__ import annotations

import numpy as np

from .plugin_api.manifest import ClassLatent, Component
from .plugin_api.sampling import mahalanobis_sq

VAR_FLOOR = 1e-6


def shrinkage(n: int, dim: int) -> float:
    """Weight of the diagonal target: 1 for a single image, falling as images outnumber dims."""
    return float(min(1.0, dim / (n + dim))) if n > 1 else 1.0


def fit_gaussian(means: np.ndarray, variances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroid and lower Cholesky factor for one group of posteriors. means, variances: [n, d]."""
    means = np.asarray(means, dtype=np.float64)
    variances = np.asarray(variances, dtype=np.float64)
    n, d = means.shape
    centroid = means.mean(axis=0)
    spread = np.cov(means, rowvar=False, bias=True).reshape(d, d) if n > 1 else np.zeros((d, d))
    cov = spread + np.diag(variances.mean(axis=0))
    lam = shrinkage(n, d)
    cov = (1.0 - lam) * cov + lam * np.diag(np.diag(cov))
    cov += VAR_FLOOR * np.eye(d)
    return centroid, np.linalg.cholesky(cov)


def fit_class_model(
    means: np.ndarray,
    variances: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    components: int | None = 1,
    exemplar_scale: float | None = None,
) -> list[ClassLatent]:
    """One ClassLatent per class name; labels index into classes.

    components: 1 (default) fits one Gaussian per class; None chooses sub-clusters per class
    automatically; K > 1 fits K sub-clusters where the class has enough images.
    exemplar_scale: if set, each class keeps its images' posterior means as exemplars instead,
    and variants vary around one of them by exemplar_scale times the class factor.
    """
    out = []
    for i, name in enumerate(classes):
        sel = labels == i
        if not sel.any():
            raise ValueError(f"class {name!r} has no encoded images")
        centroid, chol = fit_gaussian(means[sel], variances[sel])
        if exemplar_scale is not None:  # sample around the class's own images' latents
            ex = np.asarray(means[sel], np.float64)
            # The prototype is the real image nearest the mean (Mahalanobis): on a class of
            # several looks the mean itself decodes to a ghost between them.
            dist = mahalanobis_sq(centroid, chol, ex)
            out.append(
                ClassLatent(
                    name=name,
                    count=int(sel.sum()),
                    centroid=centroid,
                    chol=chol,
                    exemplars=ex,
                    exemplar_scale=float(exemplar_scale),
                    prototype=int(np.argmin(dist)),
                )
            )
            continue
        comps = fit_components(means[sel], variances[sel], components) if components != 1 else []
        out.append(
            ClassLatent(
                name=name, count=int(sel.sum()), centroid=centroid, chol=chol, components=comps
            )
        )
    return out


def kmeans(x: np.ndarray, k: int, seed: int = 0, iters: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Plain k-means with k-means++ seeding. Returns (centres [k, d], labels [n])."""
    rng = np.random.default_rng(seed)
    n = len(x)
    centres = [x[rng.integers(n)]]
    for _ in range(1, k):
        d2 = np.min(((x[:, None] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)
        centres.append(x[rng.choice(n, p=d2 / d2.sum())] if d2.sum() > 0 else x[rng.integers(n)])
    centres = np.asarray(centres, dtype=np.float64)
    labels = np.zeros(n, dtype=np.int64)
    for it in range(iters):
        new = np.argmin(((x[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        if it and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            if (labels == j).any():
                centres[j] = x[labels == j].mean(axis=0)
    return centres, labels


def silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette coefficient (Euclidean); 0 for a single cluster."""
    ks = np.unique(labels)
    if len(ks) < 2:
        return 0.0
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    scores = []
    for i in range(len(x)):
        own = labels == labels[i]
        if own.sum() < 2:
            scores.append(0.0)
            continue
        a = d[i, own].sum() / (own.sum() - 1)
        b = min(d[i, labels == k].mean() for k in ks if k != labels[i])
        scores.append((b - a) / max(a, b) if max(a, b) > 0 else 0.0)
    return float(np.mean(scores))


MIN_PER_COMPONENT = 6  # fewer images than this cannot describe a look of their own
NULL_DRAWS = 8  # parametric-bootstrap draws from a single Gaussian, per candidate K
NULL_MARGIN = 0.05


def choose_components(means: np.ndarray, max_k: int = 4, seed: int = 0) -> np.ndarray:
    """Labels [n] of the sub-clusters of one class, K chosen by a bootstrap silhouette test.

    k-means always finds "clusters", and an elongated single Gaussian splits with a decent
    silhouette. So a K is kept only if its silhouette beats every one of NULL_DRAWS data sets
    drawn from one Gaussian fitted to the same points (same n, same covariance) by a margin:
    sub-clusters must be more separate than one look can produce by chance.
    """
    n, d = means.shape
    labels_1 = np.zeros(n, dtype=np.int64)
    ks = range(2, min(max_k, n // MIN_PER_COMPONENT) + 1)
    if not ks:
        return labels_1
    rng = np.random.default_rng(seed)
    centre = means.mean(axis=0)
    cov = np.cov(means, rowvar=False).reshape(d, d) + 1e-9 * np.eye(d)
    best_labels, best_gain = labels_1, 0.0
    for k in ks:
        _, labels = kmeans(means, k, seed)
        if np.bincount(labels, minlength=k).min() < MIN_PER_COMPONENT // 2:
            continue
        score = silhouette(means, labels)
        null = max(
            silhouette(x, kmeans(x, k, seed)[1])
            for x in rng.multivariate_normal(centre, cov, size=(NULL_DRAWS, n))
        )
        gain = score - null - NULL_MARGIN
        if gain > best_gain:
            best_labels, best_gain = labels, gain
    return best_labels


def fit_components(
    means: np.ndarray, variances: np.ndarray, components: int | None = None, seed: int = 0
) -> list[Component]:
    """Sub-cluster Gaussians of one class: components=None chooses K, 1 means none."""
    n = len(means)
    if components is None:
        labels = choose_components(means, seed=seed)
    elif components <= 1 or n < 2 * components:
        return []
    else:
        labels = kmeans(means, components, seed)[1]
    ks = np.unique(labels)
    if len(ks) < 2:
        return []
    out = []
    for k in ks:
        sel = labels == k
        c, chol = fit_gaussian(means[sel], variances[sel])
        out.append(Component(weight=float(sel.sum()) / n, centroid=c, chol=chol))
    return out


def discover_styles(means: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Cluster unlabelled images into k styles: labels [n] and names style_0.. (largest first)."""
    if not 2 <= k <= len(means):
        raise ValueError(f"cannot find {k} styles in {len(means)} images")
    _, labels = kmeans(means, k, seed)
    sizes = np.bincount(labels, minlength=k)
    order = np.argsort(-sizes, kind="stable")  # style_0 is the largest
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    labels = rank[labels]
    used = sorted(set(labels.tolist()))
    return np.searchsorted(used, labels), [f"style_{i}" for i in range(len(used))]
