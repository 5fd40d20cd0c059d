"""Small helpers shared by tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_rgba(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array).astype(np.uint8), "RGBA").save(path)
    return path
