"""Turning uint8 RGBA batches into PIL images and labelled contact sheets."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .fileio import atomic_path

BACKGROUND = (128, 128, 128, 255)  # mid-grey: shows both dark and light sprites and the alpha edge
LABEL_WIDTH = 96


def to_pil(images: np.ndarray) -> list[Image.Image]:
    """uint8 [N, H, W, 4] straight-alpha RGBA -> list of RGBA PIL images."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 4 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 [N, H, W, 4], got {images.dtype} {images.shape}")
    return [Image.fromarray(np.ascontiguousarray(a), "RGBA") for a in images]


def labelled_grid(
    rows: Sequence[tuple[str, np.ndarray]],
    scale: int = 2,
    background: tuple[int, int, int, int] = BACKGROUND,
    columns: int | None = None,
    gap: int = 2,
) -> Image.Image:
    """One labelled row (wrapped every ``columns`` images) per (label, images [n, H, W, 4]).

    Sprites are composited over a flat background so transparency reads as in a game.
    """
    rows = [(label, np.asarray(imgs)) for label, imgs in rows]
    h, w = rows[0][1].shape[1:3]
    cell_w, cell_h = w * scale + gap, h * scale + gap
    n_cols = columns or max(len(imgs) for _, imgs in rows)
    n_cols = max(1, n_cols)
    lines = [(label, imgs[i : i + n_cols]) for label, imgs in rows for i in range(0, max(1, len(imgs)), n_cols)]
    sheet = Image.new("RGBA", (LABEL_WIDTH + n_cols * cell_w + gap, len(lines) * cell_h + gap), background)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    last = None
    for r, (label, imgs) in enumerate(lines):
        y = gap + r * cell_h
        if label != last:
            draw.text((4, y + cell_h // 2 - 6), label[:14], fill=(255, 255, 255, 255), font=font)
            last = label
        for c, im in enumerate(to_pil(imgs) if len(imgs) else []):
            if scale != 1:
                im = im.resize((w * scale, h * scale), Image.Resampling.NEAREST)
            sheet.alpha_composite(im, (LABEL_WIDTH + gap + c * cell_w, y))
    return sheet.convert("RGB")


def save_png(image: Image.Image, path: str | os.PathLike) -> None:
    """Save atomically: the old file or the new one, never half of one."""
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
