"""Preview sheets written while training: reconstructions beside originals, and samples per
class drawn by the runtime's own sampling rules (so a preview shows what a game will get)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .plugin_api.images import labelled_grid, save_png
from .plugin_api.manifest import ClassLatent
from .plugin_api.sampling import sample_class

PREVIEW_SAMPLES = 8
Decode = Callable[[np.ndarray], np.ndarray]  # float32 latents [N, d] -> uint8 [N, S, S, 4]


def upscale(images: np.ndarray, k: int) -> np.ndarray:
    """uint8 [N, S, S, 4] -> [N, kS, kS, 4] by nearest (a native-grid run's training images,
    shown at the size its bundle outputs)."""
    return images if k == 1 else np.repeat(np.repeat(images, k, axis=1), k, axis=2)


def sample_rows(
    class_model: list[ClassLatent], decode: Decode, n: int = PREVIEW_SAMPLES, spread: float = 1.0
) -> list[tuple[str, np.ndarray]]:
    """Per class: the prototype (what spread 0 gives), then n - 1 variants (seed 0, keys
    0..n-2), by the runtime's own sampling rules."""
    keys = list(range(n - 1))
    rows = []
    for c in class_model:
        z = np.concatenate(
            [sample_class(c, 0, [0], spread=0.0), sample_class(c, 0, keys, spread=spread)]
        )
        rows.append((c.name, decode(z)))
    return rows


def write_epoch_previews(
    out_dir: Path,
    epoch: int,
    originals: np.ndarray,
    recon: np.ndarray,
    class_model: list[ClassLatent],
    decode: Decode,
) -> None:
    """previews/epoch_NNN_recon.png and previews/epoch_NNN_samples.png."""
    pairs = np.stack([originals, recon], axis=1).reshape(-1, *originals.shape[1:])
    save_png(
        labelled_grid([("orig|recon", pairs)], columns=8), out_dir / f"epoch_{epoch:03d}_recon.png"
    )
    save_png(
        labelled_grid(sample_rows(class_model, decode)), out_dir / f"epoch_{epoch:03d}_samples.png"
    )


def write_style_sheets(
    images: np.ndarray,
    labels: np.ndarray,
    class_model: list[ClassLatent],
    decode: Decode,
    out_dir: Path,
) -> None:
    """previews/style_K.png per discovered style: its members, then samples around it."""
    for i, (c, (_, samples)) in enumerate(
        zip(class_model, sample_rows(class_model, decode, PREVIEW_SAMPLES + 1))
    ):
        members = images[labels == i][:16]
        save_png(
            labelled_grid(
                [(f"{c.name} ({c.count})", members), ("samples", samples[1:])], columns=8
            ),
            out_dir / f"{c.name}.png",
        )
