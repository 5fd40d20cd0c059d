"""Probe: can a colour pick at the end of the graph make a bundle's variants pass for the art?

    python benchmarks/pick_probe.py --set plants --bundle B.avae.onnx [--seed 5] [--json J]
    python benchmarks/pick_probe.py --set pixel --bundle B.avae.onnx --run RUN_DIR [--json J]

Post-processes a bundle's graph could do with its allowed operators (convolutions,
Softmax, MatMul), tried on the variants before anyone builds them into the product:

- ``snapK`` (RGBA bundles: plants, tuxpaint): each pixel's colour snapped to the nearest of K
  colours fitted to the set's art (``assetvae.palette.fit_palette``), K = 64, 256, 1024; alpha
  is kept. ``blur+snapK`` averages each 3x3 neighbourhood first, to take the grain away before
  the snap. The demo plants are flat-shaded, so the question is whether exact flats are what
  gives their variants away.
- ``usageG`` (palette bundles; ``--run`` gives the decoder's logits): the palette pick with each
  entry's bounded logit raised by G times the log of its mean probability over the sprite, so
  colours the sprite already uses win where the decoder hesitates between several (the pixel
  shields' mottled emblems); G = 1, 2, 4, and ``usage0`` the bundle's own pick.
- ``localW`` (palette bundles, ``--run``): the palette pick with each entry's bounded logit
  raised by W times its mean over the pixel's 8 neighbours (a depthwise 3x3 convolution), so a
  hesitant pixel takes its neighbours' colour and a patch does not break into specks, while a
  sure one-pixel outline keeps its own; W = 0.25, 0.5, 1.

Each row is what ``sharpen_probe.py`` reports (realism, the two-sample test and its blocks,
sharpness), plus ``flat``, the share of horizontally neighbouring opaque pixels of exactly equal
colour, and ``colours``, the distinct RGBA values per sprite; the real art's come first.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import quality as Q  # noqa: E402
from common import write_json  # noqa: E402

SNAP_COLOURS = (64, 256, 1024)
USAGE_GAINS = (0.0, 1.0, 2.0, 4.0)
LOCAL_WEIGHTS = (0.0, 0.25, 0.5, 1.0)


def flat_share(images: np.ndarray) -> float:
    """Share of horizontally neighbouring pairs of opaque pixels with exactly equal colour."""
    solid = images[..., 3] == 255
    both = solid[:, :, 1:] & solid[:, :, :-1]
    same = (images[:, :, 1:, :3] == images[:, :, :-1, :3]).all(-1)
    return float((same & both).sum() / max(int(both.sum()), 1))


def colours_per_sprite(images: np.ndarray) -> float:
    """Mean count of distinct RGBA values among each sprite's visible pixels."""
    counts = []
    for im in images:
        px = im.reshape(-1, 4)
        counts.append(len(np.unique(px[px[:, 3] > 0], axis=0)))
    return float(np.mean(counts))


def box3(x: np.ndarray) -> np.ndarray:
    """3x3 mean of [N, H, W, C], edges repeated."""
    h, w = x.shape[1:3]
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    return sum(p[:, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)) / 9


def snap(images: np.ndarray, palette: np.ndarray, blur: bool = False) -> np.ndarray:
    """uint8 RGBA with each visible pixel's colour replaced by the nearest palette colour (RGB
    distance; palette entry 0, transparent, left out); alpha as it was."""
    x = images.astype(np.float32) / 255
    rgb = (box3(x) if blur else x)[..., :3].reshape(-1, 3)
    colours = palette[1:, :3].astype(np.float32)
    nearest = ((colours * colours).sum(1)[None] - 2 * rgb @ colours.T).argmin(1)
    out = x.copy()
    visible = x[..., 3] > 0  # hidden colour under full transparency stays as it was
    out[visible, :3] = colours[nearest].reshape(x.shape[:-1] + (3,))[visible]
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)


def usage_pick(bounded, palette, gain: float):
    """Palette pick from bounded logits [N, K, H, W] (T * tanh(logits)) with each entry
    raised by gain * log(its mean probability over the sprite); RGBA [N, 4, H, W]."""
    import torch

    from assetvae.palette import SHARP_TEMPERATURE, TEMPERATURE, pick

    p = torch.softmax(bounded, dim=1)
    usage = p.mean(dim=(2, 3), keepdim=True)
    raised = bounded + gain * torch.log(usage + 1e-6)
    # as hard as the bundle's pick, whose logits are SHARP_TEMPERATURE * tanh
    return pick(raised * (SHARP_TEMPERATURE / TEMPERATURE), palette)


def local_pick(bounded, palette, weight: float):
    """Palette pick from bounded logits [N, K, H, W] with each entry raised by weight times
    its mean bounded logit over the pixel's 8 neighbours (a depthwise 3x3 convolution, which
    a graph can do): where the decoder hesitates, a pixel takes its neighbours' colour, so a
    patch does not break into specks; RGBA [N, 4, H, W]."""
    import torch

    from assetvae.palette import SHARP_TEMPERATURE, TEMPERATURE, pick

    k = bounded.shape[1]
    ring = torch.ones(k, 1, 3, 3, dtype=bounded.dtype) / 8
    ring[:, :, 1, 1] = 0
    # neighbours past the border count as the pixel itself
    padded = torch.nn.functional.pad(bounded, (1, 1, 1, 1), mode="replicate")
    around = torch.nn.functional.conv2d(padded, ring, groups=k)
    return pick((bounded + weight * around) * (SHARP_TEMPERATURE / TEMPERATURE), palette)


def picked_variants(gen, run: str, classes: list[str], n: int, seed: int, size: int) -> dict:
    """{pick name: [uint8 RGBA per class]} from the run's torch decoder on the bundle's
    latents: the usage pick at each gain (usageG) and the neighbourhood pick at each weight
    (localW)."""
    import torch

    from assetvae.palette import bounded_logits

    model = Q.torch_model(Path(run))[0]
    dec = model.decoder
    if dec.palette is None:
        raise SystemExit("--run: that run's decoder has no palette; the picks need one")
    picks = {f"usage{g:g}": lambda b, p, g=g: usage_pick(b, p, g) for g in USAGE_GAINS}
    picks |= {f"local{w:g}": lambda b, p, w=w: local_pick(b, p, w) for w in LOCAL_WEIGHTS}
    out: dict[str, list[np.ndarray]] = {name: [] for name in picks}
    for c in classes:
        z = torch.from_numpy(gen.latents(c, range(n), seed=seed, spread=1.0))
        with torch.no_grad():
            bounded = bounded_logits(dec(z).float())
            for name, fn in picks.items():
                rgba = fn(bounded, dec.palette)
                if dec.scale > 1:
                    rgba = torch.nn.functional.interpolate(
                        rgba, scale_factor=dec.scale, mode="nearest"
                    )
                x = (rgba.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
                out[name].append(Q.resize_rgba(x, size, nearest=True))
    return out


def main() -> None:
    from assetvae.palette import fit_palette
    from assetvae.plugin_api import Generator

    ap = Q.probe_parser(__doc__, seed=5)
    ap.add_argument("--run", help="the bundle's run folder: try the usage pick (palette models)")
    args = ap.parse_args()
    real = Q.probe_reference(args.set, args.data_dir, args.tuxpaint, args.seed)
    classes, size = real.data.classes, real.images.shape[1]
    gen = Generator.load(args.bundle, device="cpu")
    n = max([32] + real.counts)
    made = [
        Q.resize_rgba(gen.sample(c, n, spread=1.0, seed=args.seed), size, args.set == "pixel")
        for c in classes
    ]
    art = {"flat": round(flat_share(real.images), 3)}
    art["colours"] = round(colours_per_sprite(real.images), 2)
    print(f"the art: {art}", flush=True)

    rows = {}

    def row(name: str, per: list[np.ndarray]) -> None:
        t0 = time.perf_counter()
        rows[name] = Q.probe_scores(real, per)
        both = np.concatenate(per)
        rows[name]["flat"] = round(flat_share(both), 3)
        rows[name]["colours"] = round(colours_per_sprite(both), 2)
        print(f"{name:12s} {rows[name]} ({time.perf_counter() - t0:.0f} s)", flush=True)

    row("none", made)
    if args.run:
        picked = picked_variants(gen, args.run, classes, n, args.seed, size)
        diff = max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(picked["usage0"], made))
        print(f"usage0 against the bundle's own variants: max pixel difference {diff}")
        for name, per in picked.items():
            if name not in ("usage0", "local0"):  # both are the bundle's own pick
                row(name, per)
    else:
        train = real.images[real.train_idx]
        for k in SNAP_COLOURS:
            palette = fit_palette(train, k, seed=args.seed)
            row(f"snap{k}", [snap(x, palette) for x in made])
            row(f"blur+snap{k}", [snap(x, palette, blur=True) for x in made])
    write_json(
        args.json,
        {
            "benchmark": "pick_probe",
            "set": args.set,
            "bundle": args.bundle,
            "run": args.run,
            "seed": args.seed,
            "art": art,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
