"""What a palette of K colours costs before any training: the two-sample test (quality.py's)
of the real pixel art against the same art snapped to K colours fitted to it.

    python benchmarks/palette_ceiling.py [--colours 16,32,64,128,256] [--json out.json]

The pixel demo set (``assetvae demo-data --style pixel``, 32 per class, seed 0) at 64 px,
split per class into quality.py's halves A and B. Half A is snapped, pixel by pixel, to the
nearest entry (premultiplied) of ``fit_palette(A, K)``, as a palette decoder's training
target is, and told from half B; ``raw`` is A itself against B. A decoder that picks from K
colours cannot score better than its row, whatever else it learns.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import quality_metrics as qm  # noqa: E402
from common import machine, write_json  # noqa: E402
from quality import HOLDOUT_SEED, swd_halves  # noqa: E402

from assetvae.datasets.demo import write_demo_folder  # noqa: E402
from assetvae.datasets.folder import LoadOptions, load_folder  # noqa: E402
from assetvae.palette import fit_palette, nearest_index  # noqa: E402


def snap(images: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """uint8 RGBA [N, H, W, 4] -> each pixel the palette entry a palette decoder is trained to
    pick for it (``assetvae.palette.nearest_index``)."""
    target = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    idx = nearest_index(target, torch.from_numpy(palette)).numpy()
    return np.round(palette * 255.0).astype(np.uint8)[idx]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--colours", default="16,32,64,128,256")
    ap.add_argument("--json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_demo_folder(Path(tmp) / "pixel", per_class=32, seed=0, style="pixel")
        data = load_folder(Path(tmp) / "pixel", LoadOptions(64, True, False))
    a, b = swd_halves(data.labels, HOLDOUT_SEED)
    x = data.images
    native = x[a][:, ::4, ::4]  # the 16-px art the palette is fitted to
    distinct = len(np.unique(native.reshape(-1, 4)[native.reshape(-1, 4)[:, 3] > 0], axis=0))
    result = {"machine": machine(), "distinct_colours_half_a": distinct, "rows": {}}
    cases = {"raw": x[a]} | {
        f"{k} colours": snap(x[a], fit_palette(native, k))
        for k in map(int, args.colours.split(","))
    }
    print(f"half A: {len(a)} sprites, {distinct} distinct colours; half B: {len(b)}")
    for name, fake in cases.items():
        ts = qm.two_sample_test(x[b], fake)
        result["rows"][name] = {"two_sample": ts["accuracy"], "blocks": ts["blocks"]}
        print(
            f"{name:12s} two-sample {ts['accuracy']:.3f}  colour block {ts['blocks']['colour']:.3f}"
        )
    write_json(args.json, result)


if __name__ == "__main__":
    main()
