"""A palette output for pixel art: the decoder picks one of K colours per pixel.

Pixel art is drawn from a small palette with hard alpha; a decoder that regresses RGBA puts
soft in-between colours inside outlines, which no artist would. With a palette, the decoder's
last layer gives K logits per pixel, training is cross-entropy against the palette entry
nearest each target pixel, and the image is a soft pick ``softmax(T * tanh(logits)) @ palette``.
T * tanh bounds the logits; training uses T = 10 (every entry gets gradient), images use
T = 1000, which is argmax unless two entries tie to within about 0.01, and the graph still
needs only operators every engine runtime loads (Unreal's GPU runtime has neither ArgMax nor
Equal; shared/DESIGN.md).

The palette is fitted to the training images: entry 0 is fully transparent, the others are
the set's own colours (a set with few enough colours keeps every one of them exactly; more
are clustered by k-means and each centre snapped to the nearest colour the art uses).
"""

from __future__ import annotations

import numpy as np
import torch

TEMPERATURE = 10.0  # T in softmax(T * tanh(logits)) in training: gradients reach every entry
# ... and when making images (previews, samples, the bundle): a pick as hard as argmax unless
# two entries' logits tie to within about 0.01.
SHARP_TEMPERATURE = 1000.0
MAX_PIXELS = 200_000  # pixels the k-means sees (a random subset of a large set)
KMEANS_ITERS = 25


def soft_pick(
    logits: torch.Tensor, palette: torch.Tensor, temperature: float = TEMPERATURE
) -> torch.Tensor:
    """Palette logits [N, K, H, W] -> RGBA in [0, 1], [N, 4, H, W]."""
    return pick(temperature * torch.tanh(logits), palette)


def pick(bounded: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Bounded logits (T * tanh(logits)) [N, K, H, W] -> RGBA in [0, 1], [N, 4, H, W]."""
    p = torch.softmax(bounded, dim=1)
    # a 1x1 convolution: no layout copies, unlike an einsum over the K axis
    return torch.nn.functional.conv2d(p, palette.to(p.dtype).T[:, :, None, None])


def bounded_logits(logits: torch.Tensor) -> torch.Tensor:
    """What the softmax of soft_pick sees; cross-entropy is taken on these."""
    return TEMPERATURE * torch.tanh(logits)


def _premultiply(rgba: np.ndarray) -> np.ndarray:
    """RGBA [..., 4] with colour times alpha (numpy twin of losses.premultiplied): fully
    transparent pixels all become (0, 0, 0, 0), whatever colour they hide."""
    return np.concatenate([rgba[..., :3] * rgba[..., 3:4], rgba[..., 3:4]], axis=-1)


def nearest_index(target: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Per pixel of RGBA [N, 4, H, W] in [0, 1], the index of the nearest palette entry
    (compared premultiplied, so hidden colour does not matter); [N, H, W]."""
    from .losses import premultiplied

    t = premultiplied(target).permute(0, 2, 3, 1)  # [N, H, W, 4]
    p = premultiplied(palette.to(t.dtype)[:, :, None, None])[:, :, 0, 0]  # [K, 4]
    # |t - p|^2 less the |t|^2 every entry shares, as one matmul: a tenth of the time of the
    # [N, H, W, K, 4] difference at K = 256, where that was a third of a training step.
    # Equal entries score equally, so a repeated colour still gives the first index.
    return ((p * p).sum(-1) - 2 * t @ p.T).argmin(dim=-1)


def fit_palette(images: np.ndarray, colours: int, seed: int = 0) -> np.ndarray:
    """A palette of `colours` RGBA entries in [0, 1] for uint8 images [N, S, S, 4]: entry 0
    transparent, the rest the set's colours (exact when it has few enough)."""
    px = np.asarray(images, np.uint8).reshape(-1, 4)
    px = px[px[:, 3] > 0]
    used, counts = np.unique(px, axis=0, return_counts=True)
    k = colours - 1
    if len(used) <= k:
        chosen = used
    else:
        rng = np.random.default_rng(seed)
        sample = used.astype(np.float64) / 255.0
        weight = counts.astype(np.float64)
        if weight.sum() > MAX_PIXELS:  # expected counts of a random subset of the pixels
            weight = weight * (MAX_PIXELS / weight.sum())
        points = _premultiply(sample)
        centres = _kmeans_pp(points, weight, k, rng)
        for _ in range(KMEANS_ITERS):
            owner = _nearest(points, centres)
            for j in range(k):
                w = weight[owner == j]
                if w.sum() > 0:
                    centres[j] = (points[owner == j] * w[:, None]).sum(0) / w.sum()
        # Snap each centre to the colour of the art nearest it: the palette holds only
        # colours an artist used.
        chosen = used[np.unique(_nearest(centres, points))]
    palette = np.zeros((colours, 4), np.float32)
    palette[1 : 1 + len(chosen)] = chosen / 255.0
    if len(chosen) < k:  # fewer distinct colours than entries: repeat the last (never picked
        palette[1 + len(chosen) :] = palette[len(chosen)]  # twice in effect; K stays fixed)
    return palette


def _nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    d = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    return d.argmin(axis=1)


def _kmeans_pp(points: np.ndarray, weight: np.ndarray, k: int, rng) -> np.ndarray:
    centres = [points[rng.choice(len(points), p=weight / weight.sum())]]
    d = ((points - centres[0]) ** 2).sum(-1)  # each point's distance to its nearest centre
    for _ in range(k - 1):
        p = d * weight
        centres.append(points[rng.choice(len(points), p=p / p.sum())] if p.sum() > 0 else points[0])
        d = np.minimum(d, ((points - centres[-1]) ** 2).sum(-1))
    return np.asarray(centres, np.float64)
