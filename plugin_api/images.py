"""Turning uint8 RGBA batches into PIL images and labelled contact sheets."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import SamplingError
from .fileio import atomic_path
from .manifest import MAX_IMAGE_SIDE

BACKGROUND = (128, 128, 128, 255)  # mid-grey: shows both dark and light sprites and the alpha edge
LABEL_WIDTH = 96
MAX_LABEL = 40  # characters of a row label that are drawn
MAX_SCALE = 32


def clear_hidden_colour(a: np.ndarray) -> np.ndarray:
    """RGB = 0 where alpha = 0: hidden colour must not leak into resampling or losses."""
    return np.where(a[..., 3:4] == 0, 0, a).astype(np.uint8)


def crop_to_alpha(a: np.ndarray) -> np.ndarray | None:
    """The bounding box of the non-transparent pixels of [h, w, 4]; None if there are none."""
    ys, xs = np.nonzero(a[..., 3])
    if len(ys) == 0:
        return None
    return a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def fit_square(a: np.ndarray, size: int, pixel_art: bool | None = None) -> np.ndarray:
    """Fit uint8 RGBA [h, w, 4] into [size, size, 4], aspect kept, centred on transparency.

    Nearest-neighbour when pixel_art, or (pixel_art None) when the source is no larger than
    the target; Lanczos otherwise. Pillow resamples RGBA in premultiplied alpha: no fringes.
    """
    h, w = a.shape[:2]
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    nearest = pixel_art if pixel_art is not None else max(w, h) <= size
    im = Image.fromarray(np.ascontiguousarray(a, dtype=np.uint8), "RGBA")
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.Resampling.NEAREST if nearest else Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    canvas.paste(im, ((size - nw) // 2, (size - nh) // 2))
    return clear_hidden_colour(np.asarray(canvas))


def prepare_sprite(image: Image.Image | np.ndarray, size: int, crop: bool = True) -> np.ndarray:
    """Any PIL image or uint8 RGBA array -> uint8 [size, size, 4] as the trainer saw its images."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGBA"))
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[-1] != 4 or a.dtype != np.uint8:
        raise ValueError(f"expected a PIL image or uint8 [H, W, 4], got {a.dtype} {a.shape}")
    a = clear_hidden_colour(a)
    if crop:
        cropped = crop_to_alpha(a)
        if cropped is None:
            raise ValueError("the sprite is fully transparent")
        a = cropped
    return fit_square(a, size)


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
    if (
        isinstance(scale, bool)
        or not isinstance(scale, (int, np.integer))
        or not 1 <= scale <= MAX_SCALE
    ):
        raise SamplingError(f"scale {scale!r} is out of range: use 1 to {MAX_SCALE}")
    rows = [(label, np.asarray(imgs)) for label, imgs in rows]
    h, w = rows[0][1].shape[1:3]
    cell_w, cell_h = w * scale + gap, h * scale + gap
    n_cols = columns or max(len(imgs) for _, imgs in rows)
    n_cols = max(1, n_cols)
    lines = [
        (label, imgs[i : i + n_cols])
        for label, imgs in rows
        for i in range(0, max(1, len(imgs)), n_cols)
    ]
    font = ImageFont.load_default()
    labels = [label[:MAX_LABEL] for label, _ in rows]
    # Wider than LABEL_WIDTH only when a label needs it (e.g. a blend row "broadleaf~mushroom 0.5").
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    label_w = max([LABEL_WIDTH] + [int(measure.textlength(t, font=font)) + 8 for t in labels])
    sheet_w, sheet_h = label_w + n_cols * cell_w + gap, len(lines) * cell_h + gap
    if max(sheet_w, sheet_h) > MAX_IMAGE_SIDE:
        raise SamplingError(
            f"the sheet would be {sheet_w}x{sheet_h} px (limit {MAX_IMAGE_SIDE} px "
            "a side); ask for fewer variants or a smaller scale"
        )
    sheet = Image.new("RGBA", (sheet_w, sheet_h), background)
    draw = ImageDraw.Draw(sheet)
    last = None
    for r, (label, imgs) in enumerate(lines):
        y = gap + r * cell_h
        if label != last:
            draw.text(
                (4, y + cell_h // 2 - 6), label[:MAX_LABEL], fill=(255, 255, 255, 255), font=font
            )
            last = label
        for c, im in enumerate(to_pil(imgs) if len(imgs) else []):
            if scale != 1:
                im = im.resize((w * scale, h * scale), Image.Resampling.NEAREST)
            sheet.alpha_composite(im, (label_w + gap + c * cell_w, y))
    return sheet.convert("RGB")


def save_png(image: Image.Image, path: str | os.PathLike) -> None:
    """Save atomically: the old file or the new one, never half of one."""
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
