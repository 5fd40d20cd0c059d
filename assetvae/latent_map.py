"""The classic autoencoder figures: a latent map coloured by class, and a decoded manifold grid.

The map projects the training images' posterior means onto their first two principal
components; the grid decodes the plane those two components span around the mean.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .plugin_api.images import labelled_grid, save_png
from .plugin_api.manifest import ClassLatent

PALETTE = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (220, 190, 255),
    (170, 110, 40),
    (255, 250, 200),
    (128, 0, 0),
    (170, 255, 195),
    (128, 128, 0),
    (255, 215, 180),
]


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean [d], axes [2, d] with unit rows, scales [2] = std along each axis)."""
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    axes = vt[:2] if len(vt) >= 2 else np.vstack([vt, np.zeros_like(vt)])
    scales = (s[:2] / np.sqrt(max(1, len(x) - 1))) if len(s) >= 2 else np.array([1.0, 1.0])
    # A fixed sign convention, so the same run always draws the same way round.
    axes = axes * np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])[:, None]
    return mean, axes, np.maximum(scales, 1e-6)


def latent_map(
    means: np.ndarray, labels: np.ndarray, classes: list[ClassLatent], size: int = 640
) -> Image.Image:
    """Scatter of posterior means on the first two principal axes, centroids marked and named."""
    mean, axes, _ = pca_2d(means)
    pts = (means - mean) @ axes.T
    cents = np.stack([(c.centroid - mean) @ axes.T for c in classes])
    allp = np.concatenate([pts, cents])
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    margin, legend_w = 24, 150
    span = np.maximum(hi - lo, 1e-9)

    def xy(p):
        q = (p - lo) / span
        return margin + q[0] * (size - 2 * margin), size - margin - q[1] * (size - 2 * margin)

    img = Image.new("RGB", (size + legend_w, size), (250, 250, 250))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    for p, lab in zip(pts, labels):
        x, y = xy(p)
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=PALETTE[lab % len(PALETTE)])
    for i, (c, p) in enumerate(zip(classes, cents)):
        x, y = xy(p)
        col = PALETTE[i % len(PALETTE)]
        draw.line([x - 8, y - 8, x + 8, y + 8], fill=(0, 0, 0), width=4)
        draw.line([x - 8, y + 8, x + 8, y - 8], fill=(0, 0, 0), width=4)
        draw.line([x - 7, y - 7, x + 7, y + 7], fill=col, width=2)
        draw.line([x - 7, y + 7, x + 7, y - 7], fill=col, width=2)
        draw.rectangle([size + 10, 14 + 18 * i, size + 22, 26 + 18 * i], fill=col)
        draw.text((size + 28, 13 + 18 * i), c.name[:18], fill=(0, 0, 0), font=font)
    draw.text(
        (margin, 4),
        "latent map: posterior means on principal axes 1-2; X = class centroid",
        fill=(60, 60, 60),
        font=font,
    )
    return img


def manifold_latents(means: np.ndarray, n: int = 10, extent: float = 2.0) -> np.ndarray:
    """Latents on an n x n grid over the first two principal axes, +-extent std around the mean."""
    mean, axes, scales = pca_2d(means)
    ticks = np.linspace(-extent, extent, n)
    grid = [
        mean + b * scales[1] * axes[1] + a * scales[0] * axes[0] for b in ticks[::-1] for a in ticks
    ]
    return np.asarray(grid, dtype=np.float32)


def write_latent_figures(
    means: np.ndarray,
    labels: np.ndarray,
    classes: list[ClassLatent],
    decode,
    out_dir: Path,
    n: int = 10,
) -> tuple[Path, Path]:
    """latent_map.png and manifold.png into out_dir.

    decode: float32 [N, d] -> uint8 [N, H, W, 4].
    """
    map_path, grid_path = out_dir / "latent_map.png", out_dir / "manifold.png"
    save_png(latent_map(means, labels, classes), map_path)
    images = decode(manifold_latents(means, n))
    rows = [
        (
            f"pc2 {'+' if i < n // 2 else '-'}" if i in (0, n - 1) else "",
            images[i * n : (i + 1) * n],
        )
        for i in range(n)
    ]
    save_png(labelled_grid(rows, scale=1 if images.shape[1] >= 64 else 2, columns=n), grid_path)
    return map_path, grid_path
