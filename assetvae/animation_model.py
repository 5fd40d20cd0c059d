"""Per-animation latent offsets: the class stage's model of how a class's props move.

Every frame of every training animation (datasets/sheets.py gives each its FrameRef) is
encoded once. Per class and animation name, each *instance* (the same animation drawn for one
prop: "walk" of droid 123, of droid 139, ...) becomes its mean latent, which is its identity,
and per frame the offset of that frame's latent from the mean, which is its motion. The
runtime (plugin_api/sampling.py, animation_latents) picks an instance, draws one identity
around it as the exemplar rule does, and adds the instance's offsets frame by frame, so a
variant keeps its look while it moves.

Instances of one animation with different frame counts are brought to the most common count
by nearest-frame resampling (a 10-frame walk shown as 8 drops two frames).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets.sheets import FrameRef
from .plugin_api.manifest import AnimationLatent, ClassLatent
from .plugin_api.sampling import animation_latents, mahalanobis_sq, normals

DEFAULT_SCALE = 0.3  # identity noise as a fraction of the class factor, without --exemplars
PREVIEW_VARIANTS = 4
PREVIEW_ANIMATIONS = 3  # per class


@dataclass
class FrameLatents:
    """Posterior means (float64 [n, d]) of animation frames, their class labels and refs."""

    means: np.ndarray
    labels: np.ndarray
    refs: list[FrameRef]


def resample(n: int, frames: int) -> np.ndarray:
    """Indices of `frames` frames spread over a sequence of n (nearest, in order)."""
    return (np.arange(frames) * n) // frames


def fit_animations(
    frames: FrameLatents, classes: list[ClassLatent], scale: float | None = None
) -> None:
    """Set each class's .animations from its frames' latents (labels index into classes)."""
    scale = DEFAULT_SCALE if scale is None else float(scale)
    for ci, c in enumerate(classes):
        rows: dict[str, dict[str, list[tuple[int, int]]]] = {}
        for i in np.flatnonzero(frames.labels == ci):
            r = frames.refs[i]
            rows.setdefault(r.animation, {}).setdefault(r.instance, []).append((r.index, int(i)))
        c.animations = [
            a
            for name in sorted(rows)
            if (a := fit_animation(name, rows[name], frames, c, scale)) is not None
        ]


def fit_animation(
    name: str,
    instances: dict[str, list[tuple[int, int]]],
    frames: FrameLatents,
    c: ClassLatent,
    scale: float,
) -> AnimationLatent | None:
    """One animation from its instances' frames ((index, row) pairs); None under 2 frames."""
    counts = Counter(len(v) for v in instances.values())
    n_frames = max(counts, key=lambda k: (counts[k], k))  # the most common length, then longest
    if n_frames < 2:
        return None
    means, offsets, sources, refs = [], [], [], []
    for inst in sorted(instances):
        order = [i for _, i in sorted(instances[inst])]
        z = np.asarray(frames.means[order], np.float64)
        m = z.mean(axis=0)
        pick = resample(len(order), n_frames)
        means.append(m)
        offsets.append(z[pick] - m)
        sources.append(inst)
        refs.append([frames.refs[order[k]] for k in pick])
    means = np.asarray(means)
    # The prototype: the instance nearest the middle of them all (Mahalanobis, class factor).
    proto = int(np.argmin(mahalanobis_sq(means.mean(axis=0), c.chol, means)))
    durations = [int(r.duration_ms) for r in refs[proto]]
    return AnimationLatent(
        name=name,
        means=means,
        offsets=np.asarray(offsets),
        prototype=proto,
        scale=scale,
        durations=durations,
        direction=refs[proto][0].direction,
        sources=sources,
    )


def preview_rows(
    classes: list[ClassLatent],
    decode: Callable[[np.ndarray], np.ndarray],
    n: int = PREVIEW_VARIANTS,
) -> list[tuple[str, np.ndarray]]:
    """Per class, up to PREVIEW_ANIMATIONS animations: the prototype then n - 1 variants
    (seed 0), one row per variant, its frames left to right."""
    rows = []
    for c in classes:
        for a in c.animations[:PREVIEW_ANIMATIONS]:
            keys = list(range(n))
            noise = normals(0, keys, len(c.centroid))
            z = animation_latents(c, a, 0, keys, noise, 1.0)
            z[0] = animation_latents(c, a, 0, [0], noise[:1], 0.0)[0]  # spread 0: the prototype
            flat = decode(z.reshape(-1, z.shape[-1]))
            images = flat.reshape(n, a.frames, *flat.shape[1:])
            for k in range(n):
                tag = "prototype" if k == 0 else f"variant {k}"
                rows.append((f"{c.name}/{a.name} {tag}", images[k]))
    return rows


def write_animation_preview(classes: list[ClassLatent], decode, out_dir: Path) -> Path | None:
    """previews/animations.png: frame strips of each class's first animations."""
    from .plugin_api.images import labelled_grid, save_png

    rows = preview_rows(classes, decode)
    if not rows:
        return None
    path = Path(out_dir) / "animations.png"
    width = max(len(images) for _, images in rows)
    save_png(labelled_grid(rows, columns=min(width, 16)), path)
    return path
