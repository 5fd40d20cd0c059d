"""Sampling math, pure numpy: z = centroid + spread * L @ n, and blends between classes.

The matrix product is written as a fixed-order accumulation of elementwise operations, not
a BLAS call: BLAS may sum in a different order for different batch shapes, and a variant must
come out bit-identical whether it is decoded alone or inside any batch, on any host.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import rng
from .errors import SamplingError
from .manifest import ClassLatent

MAX_SPREAD = 10.0


def _number(x, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise SamplingError(f"{what} must be a number, got {type(x).__name__} {x!r}")
    try:
        return float(x)
    except OverflowError:  # an int beyond float range is out of range, not a crash
        return float("inf")


def check_spread(spread: float) -> float:
    s = _number(spread, "spread")
    if not np.isfinite(s) or s < 0 or s > MAX_SPREAD:
        raise SamplingError(
            f"spread {spread!r} is out of range: use 0 (the class prototype) to {MAX_SPREAD:g}; "
            "1 is the class's own variety"
        )
    return s


def _chol_times(chol: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """L @ n for each row n, float64, summed over k = 0, 1, ... in that order (portable)."""
    noise = np.asarray(noise, dtype=np.float64)
    chol = np.asarray(chol, dtype=np.float64)
    acc = np.zeros_like(noise)
    for k in range(noise.shape[1]):
        acc += noise[:, k : k + 1] * chol[:, k][None, :]
    return acc


def latent_samples(
    centroid: np.ndarray, chol: np.ndarray, noise: np.ndarray, spread: float
) -> np.ndarray:
    """z = centroid + spread * (L @ n) for each row n of noise [N, d]. Returns float32 [N, d].

    Computed in float64, column by column of L in index order, then rounded to float32.
    """
    z = np.asarray(centroid, dtype=np.float64)[None, :] + spread * _chol_times(chol, noise)
    return z.astype(np.float32)


def blend_gaussians(
    c_a: np.ndarray, l_a: np.ndarray, c_b: np.ndarray, l_b: np.ndarray, t: float
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate two classes: t=0 gives a, t=1 gives b.

    Interpolating the Cholesky factors keeps the result lower triangular with a positive
    diagonal (a convex mix of positive diagonals), so it is always a valid factor.
    """
    t = _number(t, "blend amount")
    if not np.isfinite(t) or not 0.0 <= t <= 1.0:
        raise SamplingError(f"blend amount {t!r} is out of range: use 0 to 1")
    return (1 - t) * c_a + t * c_b, (1 - t) * l_a + t * l_b


def exemplar_samples(
    prototype: np.ndarray, exemplars: np.ndarray, chol: np.ndarray, noise: np.ndarray, spread: float, scale: float
) -> np.ndarray:
    """z = p + spread * ((e - p) + scale * (L @ n)) per row: e the row's chosen exemplar, p the
    class prototype (the prototype exemplar, or the class mean).

    spread 0 is the prototype, 1 a small variation (scale * L) around a real image's latent,
    above 1 beyond it. Same fixed-order arithmetic as latent_samples.
    """
    p = np.asarray(prototype, dtype=np.float64)[None, :]
    z = p + spread * ((np.asarray(exemplars, dtype=np.float64) - p) + scale * _chol_times(chol, noise))
    return z.astype(np.float32)


def class_latents(c: ClassLatent, seed: int, keys: list, noise: np.ndarray, spread: float) -> np.ndarray:
    """The latents of variants `keys` of class c (noise: their normals [len(keys), latent]).

    Exemplars, if the class has them, else sub-cluster components, else the class Gaussian.
    Discrete picks come from the seed stream's choice sub-stream (stream 1, index 0).
    """
    if c.exemplars is not None:
        pick = rng.choice_batch(seed, keys, np.ones(len(c.exemplars))) if keys else np.zeros(0, np.int64)
        return exemplar_samples(c.anchor(), c.exemplars[pick], c.chol, noise, spread, c.exemplar_scale)
    if not c.components:
        return latent_samples(c.centroid, c.chol, noise, spread)
    pick = rng.choice_batch(seed, keys, [k.weight for k in c.components]) if keys else np.zeros(0, np.int64)
    z = np.empty(noise.shape, np.float32)
    for j, comp in enumerate(c.components):
        sel = pick == j
        if sel.any():
            z[sel] = latent_samples(comp.centroid, comp.chol, noise[sel], spread)
    return z
