"""Native pixel grids: find out whether a folder is pixel art, and at what size it was drawn.

Pixel art is often shipped upscaled (a 16 px sword saved at 64 px, every art pixel a 4x4
block). A model trained on the upscaled images spends 16x the compute per image relearning
the blocks and then draws soft ones; trained on the native grid and upscaled by nearest at
the end of the exported graph, it is crisp by construction and far cheaper.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HARD_ALPHA_SHARE = 0.99  # pixel art: nearly every pixel fully opaque or fully transparent
MAX_NATIVE = 64  # native extents above this are not treated as a small-grid set
COVERAGE = 0.95  # the native size holds this share of the sprites without shrinking them
TRAIN_SIZES = (16, 32, 64, 128)
FACTORS = (8, 6, 5, 4, 3, 2)


def block_factor(a: np.ndarray) -> int:
    """The largest b such that the cropped RGBA [h, w, 4] is made of b x b constant blocks."""
    h, w = a.shape[:2]
    for b in FACTORS:
        if h % b or w % b:
            continue
        blocks = a.reshape(h // b, b, w // b, b, a.shape[2])
        if (blocks == blocks[:, :1, :, :1]).all():
            return b
    return 1


def to_native(a: np.ndarray) -> np.ndarray:
    """One pixel per art pixel: the cropped image reduced by its block factor."""
    b = block_factor(a)
    return a[::b, ::b] if b > 1 else a


@dataclass
class GridReport:
    """What the scan found: the native size to train at, or None for a smooth set."""

    native_size: int | None
    pixel_art: bool
    extent: int  # the COVERAGE quantile of the sprites' native extents (longest side), px
    hard_alpha: float  # share of pixels with alpha 0 or 255
    images: int

    def message(self, size: int) -> str:
        if self.native_size is None:
            kind = "pixel art" if self.pixel_art else "not pixel art"
            return (
                f"native grid: off ({kind}; {COVERAGE:.0%} of sprites are up to {self.extent} px "
                f"on their own grid, hard alpha {self.hard_alpha:.0%}); training at {size} px"
            )
        return (
            f"native grid: pixel art drawn at up to {self.extent} px ({COVERAGE:.0%} of "
            f"{self.images} sprites, hard alpha {self.hard_alpha:.0%}): training at "
            f"{self.native_size} px, exported upscaled x{size // self.native_size} by nearest "
            f"to {size} px (--no-native-grid trains at {size} px)"
        )


def scan_grid(arrays: list[np.ndarray], size: int) -> GridReport:
    """Decide from cropped straight-alpha RGBA sprites whether to train at a native size
    below `size`: a hard-alpha set whose sprites, on their own pixel grid, fit a smaller
    training size."""
    if not arrays:
        return GridReport(None, False, 0, 0.0, 0)
    extents, hard, total = [], 0, 0
    for a in arrays:
        n = to_native(a)
        extents.append(max(n.shape[:2]))
        alpha = a[..., 3]
        hard += int(np.count_nonzero((alpha == 0) | (alpha == 255)))
        total += alpha.size
    extent = int(np.ceil(np.quantile(extents, COVERAGE)))
    share = hard / max(1, total)
    pixel_art = share >= HARD_ALPHA_SHARE
    native = next((s for s in TRAIN_SIZES if s >= extent), None)
    use = pixel_art and extent <= MAX_NATIVE and native is not None and native < size
    return GridReport(native if use else None, pixel_art, extent, share, len(arrays))


def place_native(a: np.ndarray, size: int, factor: int | None = None) -> np.ndarray:
    """A cropped sprite on its native grid, centred on a size x size transparent canvas
    without resampling; one larger than the canvas is shrunk by nearest to fit.
    factor: the block size to reduce by (the frames of one animation share one), else its own."""
    from ..plugin_api.images import fit_square

    b = block_factor(a) if factor is None else factor
    n = a[::b, ::b] if b > 1 else a
    h, w = n.shape[:2]
    if max(h, w) > size:
        return fit_square(n, size, pixel_art=True)
    out = np.zeros((size, size, 4), np.uint8)
    y, x = (size - h) // 2, (size - w) // 2
    out[y : y + h, x : x + w] = n
    return out


def scan_folder_grid(
    paths: list[Path | str | os.PathLike], size: int, limit: int = 400
) -> GridReport:
    """scan_grid over (up to `limit`, evenly spaced) image files; unreadable ones are skipped
    here (the loader reports them)."""
    from ..errors import ImageLoadError
    from .folder import read_rgba

    picks = (
        paths
        if len(paths) <= limit
        else [paths[i] for i in np.linspace(0, len(paths) - 1, limit).astype(int)]
    )
    arrays = []
    for p in picks:
        try:
            arrays.append(read_rgba(p))
        except ImageLoadError:
            continue
    return scan_grid(arrays, size)
