"""The class latent model: per class, a Gaussian fitted to the encoded training images.

Covariance = covariance of the posterior means + mean posterior variance (the law of total
variance for a mixture of the per-image posteriors), shrunk toward its diagonal so the
factor exists even for a class of one to three images.
"""

from __future__ import annotations

import numpy as np

from .plugin_api.manifest import ClassLatent

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
    means: np.ndarray, variances: np.ndarray, labels: np.ndarray, classes: list[str]
) -> list[ClassLatent]:
    """One ClassLatent per class name; labels index into classes."""
    out = []
    for i, name in enumerate(classes):
        sel = labels == i
        if not sel.any():
            raise ValueError(f"class {name!r} has no encoded images")
        centroid, chol = fit_gaussian(means[sel], variances[sel])
        out.append(ClassLatent(name=name, count=int(sel.sum()), centroid=centroid, chol=chol))
    return out
