"""Every sampling rule, pure numpy: how (class, seed, key, spread) becomes a latent vector z.

The rules, each a function of its inputs alone:

- class Gaussian: ``z = centroid + spread * L @ n`` (:func:`gaussian_latents`);
- sub-cluster components: pick a component on stream 1, then its Gaussian
  (:func:`component_latents`);
- exemplars: pick one of the class's own images' latents on stream 1, vary around it
  (:func:`exemplar_latents`);
- :func:`class_latents` chooses among those three by what the class holds;
- blends of two classes: interpolate prototypes and factors (:func:`blend_latents`);
- like a given sprite: centred on its latent, varied as its nearest class varies
  (:func:`like_latents`, with :func:`nearest_class` by :func:`mahalanobis_sq`);
- animations: one identity per variant, as the exemplar rule draws it around one of the
  animation's training instances, plus that instance's per-frame offsets
  (:func:`animation_latents`).

``n`` is the variant's row of the portable seed stream (:func:`normals`). The Generator and
the trainer's previews both sample through this module, so a new rule is a change here.

The matrix product is written as a fixed-order accumulation of elementwise operations, not
a BLAS call: BLAS may sum in a different order for different batch shapes, and a variant must
come out bit-identical whether it is decoded alone or inside any batch, on any host.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from . import rng
from .errors import SamplingError
from .manifest import AnimationLatent, ClassLatent, Component

MAX_SPREAD = 10.0


# --- checks and the noise --------------------------------------------------------------------
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


def check_blend(t: float) -> float:
    t = _number(t, "blend amount")
    if not np.isfinite(t) or not 0.0 <= t <= 1.0:
        raise SamplingError(f"blend amount {t!r} is out of range: use 0 to 1")
    return t


def normals(
    seed: int, keys: Sequence[rng.Key], dim: int, truncation: float | None = None
) -> np.ndarray:
    """The seed stream's normals [len(keys), dim] of variants (seed, key); SamplingError on a bad
    seed, key or truncation."""
    try:
        return rng.normals_batch(seed, keys, dim, truncation)
    except UnicodeEncodeError as e:  # a str key holding a lone surrogate (a mis-decoded file name)
        msg = (
            f"key {e.object!r} is not valid Unicode text (lone surrogate at position "
            f"{e.start}); string keys must be encodable as UTF-8"
        )
        raise SamplingError(msg) from None
    except (ValueError, TypeError, OverflowError) as e:
        raise SamplingError(str(e)) from None


def _picks(seed: int, keys: Sequence[rng.Key], weights) -> np.ndarray:
    """Which of len(weights) choices each variant takes: stream 1, index 0."""
    if not len(keys):
        return np.zeros(0, np.int64)
    return rng.choice_batch(seed, keys, weights)


# --- the rules -------------------------------------------------------------------------------
def _chol_times(chol: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """L @ n for each row n, float64, summed over k = 0, 1, ... in that order (portable)."""
    noise = np.asarray(noise, dtype=np.float64)
    chol = np.asarray(chol, dtype=np.float64)
    acc = np.zeros_like(noise)
    for k in range(noise.shape[1]):
        acc += noise[:, k : k + 1] * chol[:, k][None, :]
    return acc


def gaussian_latents(
    centroid: np.ndarray, chol: np.ndarray, noise: np.ndarray, spread: float
) -> np.ndarray:
    """z = centroid + spread * (L @ n) for each row n of noise [N, d]. Returns float32 [N, d].

    Computed in float64, column by column of L in index order, then rounded to float32.
    """
    z = np.asarray(centroid, dtype=np.float64)[None, :] + spread * _chol_times(chol, noise)
    return z.astype(np.float32)


def exemplar_latents(
    prototype: np.ndarray,
    exemplars: np.ndarray,
    chol: np.ndarray,
    noise: np.ndarray,
    spread: float,
    scale: float,
) -> np.ndarray:
    """z = p + spread * ((e - p) + scale * (L @ n)) per row: e the row's chosen exemplar, p the
    class prototype (the prototype exemplar, or the class mean).

    spread 0 is the prototype, 1 a small variation (scale * L) around a real image's latent,
    above 1 beyond it. Same fixed-order arithmetic as gaussian_latents.
    """
    p = np.asarray(prototype, dtype=np.float64)[None, :]
    e = np.asarray(exemplars, dtype=np.float64)
    z = p + spread * ((e - p) + scale * _chol_times(chol, noise))
    return z.astype(np.float32)


def component_latents(
    components: Sequence[Component], pick: np.ndarray, noise: np.ndarray, spread: float
) -> np.ndarray:
    """Row i from the Gaussian of components[pick[i]]. Returns float32 [N, d]."""
    z = np.empty(np.shape(noise), np.float32)
    for j, comp in enumerate(components):
        sel = pick == j
        if sel.any():
            z[sel] = gaussian_latents(comp.centroid, comp.chol, noise[sel], spread)
    return z


def class_latents(
    c: ClassLatent, seed: int, keys: list, noise: np.ndarray, spread: float
) -> np.ndarray:
    """The latents of variants `keys` of class c (noise: their normals [len(keys), latent]).

    Exemplars, if the class has them, else sub-cluster components, else the class Gaussian.
    Discrete picks come from the seed stream's choice sub-stream (stream 1, index 0).
    """
    if c.exemplars is not None:
        pick = _picks(seed, keys, np.ones(len(c.exemplars)))
        return exemplar_latents(
            c.anchor(), c.exemplars[pick], c.chol, noise, spread, c.exemplar_scale
        )
    if c.components:
        pick = _picks(seed, keys, [k.weight for k in c.components])
        return component_latents(c.components, pick, noise, spread)
    return gaussian_latents(c.centroid, c.chol, noise, spread)


def sample_class(
    c: ClassLatent, seed: int, keys: list, *, spread: float = 1.0, truncation: float | None = None
) -> np.ndarray:
    """class_latents with the noise drawn here: float32 [len(keys), latent]."""
    noise = normals(seed, keys, len(c.centroid), truncation)
    return class_latents(c, seed, keys, noise, check_spread(spread))


def blend_latents(
    a: ClassLatent, b: ClassLatent, t: float, noise: np.ndarray, spread: float
) -> np.ndarray:
    """Hybrids of two classes: the Gaussian between a's and b's prototypes and factors.

    t=0 gives a, t=1 gives b. Interpolating the Cholesky factors keeps the result lower
    triangular with a positive diagonal (a convex mix of positive diagonals): a valid factor.
    """
    t = check_blend(t)
    centroid = (1 - t) * a.anchor() + t * b.anchor()
    chol = (1 - t) * a.chol + t * b.chol
    return gaussian_latents(centroid, chol, noise, spread)


def like_latents(z0: np.ndarray, c: ClassLatent, noise: np.ndarray, spread: float) -> np.ndarray:
    """Variants of one given sprite's latent z0, varied as class c (its nearest) varies."""
    return gaussian_latents(z0, c.chol, noise, spread)


def animation_latents(
    c: ClassLatent, a: AnimationLatent, seed: int, keys: list, noise: np.ndarray, spread: float
) -> np.ndarray:
    """The frames' latents of animated variants `keys`: float32 [len(keys), frames, latent].

    The exemplar rule, frame by frame, with one noise row for all frames. Per variant: pick
    instance i of the animation on stream 1 (index 0), over equal weights; with e_f = m_i +
    o_i,f (that instance's frame f: its mean latent plus its offset) and p_f the prototype
    instance's, frame f is ``z_f = p_f + spread * ((e_f - p_f) + scale * (L @ n))``, L the class
    factor. So spread 0 plays the prototype animation, 1 a training animation's motion with
    its identity varied by the same amount in every frame: the variant keeps its look while
    it moves. Float64 in this order (e_f and p_f first), then float32.
    """
    pick = _picks(seed, keys, np.ones(len(a.means)))
    means = np.asarray(a.means, dtype=np.float64)
    offsets = np.asarray(a.offsets, dtype=np.float64)
    p = (means[a.prototype][None, :] + offsets[a.prototype])[None]  # [1, F, d]
    e = means[pick][:, None, :] + offsets[pick]  # [N, F, d]
    ident = a.scale * _chol_times(c.chol, noise)  # [N, d]
    z = p + spread * ((e - p) + ident[:, None, :])
    return z.astype(np.float32)


def find_animation(c: ClassLatent, name: str) -> AnimationLatent:
    """Class c's animation `name`; SamplingError naming the ones it has."""
    for a in c.animations:
        if a.name == name:
            return a
    import difflib

    names = [a.name for a in c.animations]
    if not names:
        raise SamplingError(
            f"class {c.name!r} has no animations (it was trained on stills); "
            "train on sprite sheets to animate it"
        )
    close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.5)
    hint = (
        f"did you mean {', '.join(map(repr, close))}?"
        if close
        else f"its animations are: {', '.join(names[:20])}" + (" ..." if len(names) > 20 else "")
    )
    raise SamplingError(f"class {c.name!r} has no animation {name!r}; {hint}")


def sample_animation(
    c: ClassLatent,
    name: str,
    seed: int,
    keys: list,
    *,
    spread: float = 1.0,
    truncation: float | None = None,
) -> np.ndarray:
    """animation_latents with the noise drawn here: float32 [len(keys), frames, latent]."""
    a = find_animation(c, name)
    noise = normals(seed, keys, len(c.centroid), truncation)
    return animation_latents(c, a, seed, keys, noise, check_spread(spread))


# --- distances -------------------------------------------------------------------------------
def mahalanobis_sq(centroid: np.ndarray, chol: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each row of z [N, d] (or one z [d]) from a Gaussian
    given by its centroid [d] and lower Cholesky factor L [d, d]: |L^-1 (z - centroid)|^2.

    float64 [N] (a float64 scalar for one z).
    """
    z = np.asarray(z, dtype=np.float64)
    diff = np.atleast_2d(z) - np.asarray(centroid, dtype=np.float64)
    d2 = (np.linalg.solve(np.asarray(chol, dtype=np.float64), diff.T) ** 2).sum(axis=0)
    return d2 if z.ndim == 2 else d2[0]


def nearest_class(classes: Sequence[ClassLatent], z: np.ndarray) -> int:
    """Index of the class whose Gaussian is nearest (Mahalanobis) to one latent z [d]."""
    return int(np.argmin([mahalanobis_sq(c.centroid, c.chol, z) for c in classes]))
