"""Probe: can a fixed sharpening filter on a bundle's variants pass for detail?

    python benchmarks/sharpen_probe.py --set plants --bundle B.avae.onnx [--seed 4]
        [--json benchmarks/results/sharpen_probe_plants.json]

Samples the bundle at spread 1 as benchmarks/quality.py does (the set's real reference, the
same counts and seed), then scores the variants as made and after an unsharp mask
``x + k (x - blur3x3(x))`` at k = 0.5, 1 and 2, in premultiplied RGBA (``usmK``) or on the
colour alone (``usmK-rgb``), and after the alpha alone is stretched k = 1.2, 1.4 and 2 times
about one half (``alphaK``: harder silhouette edges). Reports realism (patch-SWD ratio), the
two-sample test with its blocks, and sharpness against the real art. Post-filters the runtime
could apply in the graph for the price of one convolution or less; the question is whether
the two figures that no training loss sees are fooled by them, or see through them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import quality as Q  # noqa: E402
from common import write_json  # noqa: E402

_K3 = np.array([1.0, 2.0, 1.0]) / 4


def blur3(x: np.ndarray) -> np.ndarray:
    """Separable 3x3 binomial blur of [N, H, W, C], edges repeated."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    y = _K3[0] * p[:, :, :-2] + _K3[1] * p[:, :, 1:-1] + _K3[2] * p[:, :, 2:]
    return _K3[0] * y[:, :-2] + _K3[1] * y[:, 1:-1] + _K3[2] * y[:, 2:]


def unsharp(images: np.ndarray, k: float, alpha: bool = True) -> np.ndarray:
    """Unsharp mask in premultiplied RGBA (alpha=False: the alpha is left as it was)."""
    x = images.astype(np.float64) / 255
    a = x[..., 3:4]
    prem = np.concatenate([x[..., :3] * a, a], -1)
    s = prem + k * (prem - blur3(prem))
    if not alpha:
        s[..., 3:] = prem[..., 3:]
    s = np.clip(s, 0, 1)
    a2 = s[..., 3:4]
    rgb = np.where(a2 > 1e-6, s[..., :3] / np.maximum(a2, 1e-6), 0)
    return np.round(np.concatenate([np.clip(rgb, 0, 1), a2], -1) * 255).astype(np.uint8)


def alpha_stretch(images: np.ndarray, k: float) -> np.ndarray:
    """Alpha stretched k times about one half and clipped (what a larger open-alpha margin
    does to a finished sprite's edges); colour as it was, none where alpha reaches 0."""
    out = images.copy()
    a = np.clip(k * (images[..., 3].astype(np.float64) / 255 - 0.5) + 0.5, 0, 1)
    out[..., 3] = np.rint(a * 255).astype(np.uint8)
    out[out[..., 3] == 0, :3] = 0
    return out


def main() -> None:
    from assetvae.plugin_api import Generator

    ap = Q.probe_parser(__doc__, seed=4)
    args = ap.parse_args()
    real = Q.probe_reference(args.set, args.data_dir, args.tuxpaint, args.seed)
    gen = Generator.load(args.bundle, device="cpu")
    made = Q.probe_variants(gen, real, args.seed)

    filters = {"none": lambda x: x}
    for k in (0.5, 1.0, 2.0):
        filters[f"usm{k:g}"] = lambda x, k=k: unsharp(x, k)
        filters[f"usm{k:g}-rgb"] = lambda x, k=k: unsharp(x, k, alpha=False)
    for k in (1.2, 1.4, 2.0):
        filters[f"alpha{k:g}"] = lambda x, k=k: alpha_stretch(x, k)
    rows = {}
    for name, f in filters.items():
        t0 = time.perf_counter()
        per = [f(x) for x in made]
        rows[name] = Q.probe_scores(real, per)
        print(f"{name:10s} {rows[name]} ({time.perf_counter() - t0:.0f} s)", flush=True)
    write_json(
        args.json,
        {
            "benchmark": "sharpen_probe",
            "set": args.set,
            "bundle": args.bundle,
            "seed": args.seed,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
